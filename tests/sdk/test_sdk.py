"""The SDK gets the same answers as the REST API, and the same refusals as coded errors."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from annotations.services.tasks import task_change_status
from rhino_sdk import RhinoClient, RhinoError
from tests.annotations.conftest import World, series_handle
from tests.annotations.lead.conftest import record_selection, study_handle
from tests.sdk.conftest import _session

pytestmark = pytest.mark.django_db(transaction=True)


def _results(body: Any) -> list[dict[str, Any]]:
    return body["results"] if isinstance(body, dict) else body


def test_lead_reads_the_same_as_the_api_and_only_their_projects(world: World, api, sdk) -> None:
    client = sdk("lead")
    rest = api(world.lead)
    assert [s.raw for s in client.sites()] == rest.get("/api/sites/").json()
    assert {s.id for s in client.sites()} == {world.site.pk}  # not the other project's site
    assert [p.raw for p in client.projects()] == rest.get("/api/projects/").json()
    assert [p.id for p in client.projects()] == [world.project.pk]
    tasks = client.tasks(project=world.project)
    assert [t.raw for t in tasks] == _results(
        rest.get(f"/api/tasks/?project={world.project.pk}").json()
    )
    assert {t.id for t in client.tasks()} == {world.task.pk}
    with pytest.raises(RhinoError) as hidden:
        client.task(world.other_task.pk)
    assert (hidden.value.code, hidden.value.status) == ("not_found", 404)


def test_a_lead_scripts_selection_tasks_assignment_and_progress(world: World, api, sdk) -> None:
    client = sdk("lead")
    rest = api(world.lead)
    reasons = {r.key: r for r in client.selection_reasons()}
    assert reasons["motion"].code_value == "111210"
    chosen = [
        client.select_series(world.project, world.site, study_handle(), series_handle())
        for _ in range(2)
    ]
    client.select_series(
        world.project, world.site, study_handle(), series_handle(), "exclude", "artefact"
    )
    path = f"/api/projects/{world.project.pk}/selections/"
    assert [s.raw for s in client.selections(world.project)] == _results(rest.get(path).json())
    assert {s.id for s in client.selections(world.project, "include")} == {c.id for c in chosen}
    result = client.create_tasks(
        world.project, [world.annotator.pk, world.other_annotator.pk], world.schema,
        due_date=datetime.date(2027, 2, 1),
    )  # fmt: skip
    assert len(result.created) == 4 and result.skipped == []
    assert {t.due_date for t in result.created} == {datetime.date(2027, 2, 1)}
    moved = client.assign(result.created[0], world.other_annotator.pk)
    assert moved.assignee is not None and moved.assignee.id == world.other_annotator.pk
    progress = client.progress(world.project)
    assert progress.raw == rest.get(f"/api/projects/{world.project.pk}/progress/").json()
    assert progress.totals["pending"] == 5
    client.withdraw_selection(world.project, chosen[0])
    assert chosen[0].id not in {s.id for s in client.selections(world.project)}


def test_review_through_the_sdk_and_its_coded_errors(world: World, sdk) -> None:
    task_change_status(actor=world.annotator, task=world.task, status="in_progress")
    task_change_status(actor=world.annotator, task=world.task, status="submitted")
    lead = sdk("lead")
    with pytest.raises(RhinoError) as no_comment:
        lead.reject(world.task, "")
    assert no_comment.value.code == "invalid" and "comment" in no_comment.value.fields
    rejected = lead.reject(world.task, "Outline the whole nodule.")
    assert (rejected.status, rejected.review_comment) == ("rejected", "Outline the whole nodule.")
    annotator = sdk("annotator")
    assert annotator.task(world.task).review_comment == "Outline the whole nodule."
    with pytest.raises(RhinoError) as forbidden:
        annotator.progress(world.project)
    assert (forbidden.value.code, forbidden.value.status) == ("permission_denied", 403)


def test_blinded_readers_through_the_sdk(world: World, sdk) -> None:
    selection = record_selection(world)
    lead = sdk("lead")
    created = lead.create_tasks(
        world.project, [world.annotator.pk, world.other_annotator.pk], world.schema,
        selections=[selection.id],
    ).created  # fmt: skip
    theirs = next(t for t in created if t.assignee and t.assignee.id == world.other_annotator.pk)
    annotator = sdk("annotator")
    assert theirs.id not in {t.id for t in annotator.tasks()}
    with pytest.raises(RhinoError) as hidden:
        annotator.task(theirs)
    assert hidden.value.status == 404


def test_follow_progress_yields_on_change(world: World, sdk) -> None:
    lead = sdk("lead")
    steps = iter(["in_progress", "submitted"])

    def work_then_wait(seconds: float) -> None:  # stands in for time.sleep between polls
        status = next(steps, None)
        if status is not None:
            task_change_status(actor=world.annotator, task=world.task, status=status)

    seen = []
    for progress in lead.follow_progress(world.project, interval=0, sleep=work_then_wait):
        seen.append({k: v for k, v in progress.totals.items() if v and k != "total"})
        if len(seen) == 3:
            break
    assert seen == [{"pending": 1}, {"in_progress": 1}, {"submitted": 1}]


def test_bad_credentials_and_bad_urls(world: World, live_server) -> None:
    with pytest.raises(RhinoError) as wrong:
        RhinoClient.login(live_server.url, "lead", "wrong", session=_session())
    assert (wrong.value.code, wrong.value.status) == ("not_authenticated", 400)
    with (
        RhinoClient(live_server.url, "0" * 40, session=_session()) as stranger,
        pytest.raises(RhinoError) as bad_token,
    ):
        stranger.sites()
    assert (bad_token.value.code, bad_token.value.status) == ("not_authenticated", 401)
    with pytest.raises(ValueError, match="base_url"):
        RhinoClient("ftp://example", "t")


def test_an_admin_scripts_accounts_and_others_are_refused(world: World, api, sdk) -> None:
    client = sdk("admin")
    created = client.create_user(
        "reader5", "a long enough passphrase 7", ["annotator"], first_name="Ada"
    )
    assert (created["username"], created["roles"], created["is_active"]) == (
        "reader5", ["annotator"], True,
    )  # fmt: skip
    assert "password" not in created
    assert client.users() == api(world.admin).get("/api/users/").json()
    assert client.deactivate_user(created["id"], "left")["is_active"] is False
    with pytest.raises(RhinoError) as inactive:
        RhinoClient.login(
            client.base_url, "reader5", "a long enough passphrase 7", session=_session()
        )
    assert inactive.value.code == "not_authenticated"
    assert client.reactivate_user(created["id"])["is_active"] is True
    with pytest.raises(RhinoError) as weak:
        client.create_user("reader6", "123")
    assert (weak.value.code, weak.value.status) == ("invalid", 400)

    auditor = sdk("auditor")
    assert {u["username"] for u in auditor.users()} >= {"admin", "reader5"}
    with pytest.raises(RhinoError) as refused:
        auditor.create_user("reader7", "a long enough passphrase 7")
    assert (refused.value.code, refused.value.status) == ("permission_denied", 403)
    with pytest.raises(RhinoError) as lead:
        sdk("lead").users()
    assert lead.value.status == 403
