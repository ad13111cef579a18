"""The progress board (counts per site, annotator and label state) and the review decisions."""

from __future__ import annotations

from annotations.models import Task
from annotations.services.gateways import gateway_task_labels
from annotations.services.tasks import task_change_status
from tests.annotations.conftest import World


def _submit(world: World, task: Task) -> None:
    task_change_status(actor=world.annotator, task=task, status="in_progress")
    task_change_status(actor=world.annotator, task=task, status="submitted")


def test_progress_counts_by_status_site_annotator_and_labels(world: World, api) -> None:
    _submit(world, world.task)
    assert gateway_task_labels(
        site_id=world.site.pk, task_id=world.task.pk, revision=2, state="stored_in_pacs", count=5,
        content_hash="a" * 64,
    )  # fmt: skip
    body = api(world.lead).get(f"/api/projects/{world.project.pk}/progress/").json()
    assert body["totals"]["submitted"] == 1 and body["totals"]["total"] == 1
    [site] = body["by_site"]
    assert site["site"] == world.site.pk and site["counts"]["submitted"] == 1
    assert site["label_count"] == 5
    [person] = body["by_annotator"]
    assert person["annotator"]["id"] == world.annotator.pk and person["label_count"] == 5
    assert body["labels"] == {"total": 5, "tasks_by_label_state": {"stored_in_pacs": 1}}
    assert body["notes"]  # the per-label limit is said, not hidden
    # the other project's task is not counted; the board is for leads, admins and auditors
    assert (
        api(world.admin)
        .get(f"/api/projects/{world.other_project.pk}/progress/")
        .json()["totals"]["total"]
        == 1
    )
    path = f"/api/projects/{world.project.pk}/progress/"
    assert api(world.auditor).get(path).status_code == 200
    assert api(world.annotator).get(path).status_code == 403
    assert api(world.outsider).get(path).status_code == 404
    assert (
        api(world.lead).get(f"/api/projects/{world.other_project.pk}/progress/").status_code == 404
    )


def test_reject_needs_a_comment_which_the_annotator_then_reads(world: World, api) -> None:
    _submit(world, world.task)
    lead = api(world.lead)
    path = f"/api/tasks/{world.task.pk}/status/"
    bare = lead.post(path, {"status": "rejected"}, format="json")
    assert bare.status_code == 400
    assert bare.json()["error"]["code"] == "invalid" and "comment" in bare.json()["error"]["fields"]
    blank = lead.post(path, {"status": "rejected", "comment": "   "}, format="json")
    assert blank.status_code == 400
    rejected = lead.post(path, {"status": "rejected", "comment": "Missed the apex."}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    seen = api(world.annotator).get(f"/api/tasks/{world.task.pk}/").json()
    assert seen["review_comment"] == "Missed the apex."
    # back to work, resubmit, approve without a comment (optional): the old comment stays readable
    _submit(world, Task.objects.get(pk=world.task.pk))
    approved = lead.post(path, {"status": "approved"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["review_comment"] == "Missed the apex."


def test_the_annotator_cannot_decide_their_own_task(world: World, api) -> None:
    _submit(world, world.task)
    response = api(world.annotator).post(
        f"/api/tasks/{world.task.pk}/status/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 403
