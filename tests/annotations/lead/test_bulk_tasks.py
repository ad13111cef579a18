"""Bulk tasks from selections: one task per (series, reader), assigned, blinded, all or nothing."""

from __future__ import annotations

import datetime

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, Task
from annotations.services.sites import site_register_gateway_key
from tests.annotations.conftest import World
from tests.annotations.lead.conftest import record_selection


def _bulk(world: World, api, **body: object):
    payload = {
        "readers": [world.annotator.pk, world.other_annotator.pk],
        "label_schema": world.schema.pk, **body,
    }  # fmt: skip
    return api(world.lead).post(
        f"/api/projects/{world.project.pk}/tasks/bulk/", payload, format="json"
    )


def test_one_task_per_series_and_reader_each_assigned_with_its_events(
    world: World, api, picked
) -> None:
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = _bulk(world, api, due_date="2027-01-31")  # every included selection
    assert response.status_code == 201, response.content
    created = response.json()["created"]
    included = {picked[0].series_handle, picked[1].series_handle}
    pairs = {(t["series_handle"], t["assignee"]["id"]) for t in created}
    assert pairs == {(h, r.pk) for h in included for r in (world.annotator, world.other_annotator)}
    assert {t["due_date"] for t in created} == {"2027-01-31"}
    for task in Task.objects.filter(pk__in=[t["id"] for t in created]):
        assert task.assignee is not None
        assert task.assignee.has_perm("annotations.annotate_task", task)
        assert task.due_date == datetime.date(2027, 1, 31)
    # exactly the events of each change: one task.create and one task.assign per task
    actions = list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert sorted(actions) == sorted([AuditAction.TASK_CREATE, AuditAction.TASK_ASSIGN] * 4)
    # again: nothing new, every pair reported as skipped
    again = _bulk(world, api).json()
    assert again["created"] == [] and len(again["skipped"]) == 4


def test_excluded_selection_or_non_member_reader_creates_nothing(world: World, api, picked) -> None:
    count = Task.objects.count()
    excluded = _bulk(world, api, selections=[picked[0].pk, picked[2].pk])
    assert excluded.status_code == 400 and "selections" in excluded.json()["error"]["fields"]
    outsider = _bulk(world, api, readers=[world.annotator.pk, world.outsider.pk])
    assert outsider.status_code == 400 and "readers" in outsider.json()["error"]["fields"]
    unknown = _bulk(world, api, selections=[987654])
    assert unknown.status_code == 404
    assert Task.objects.count() == count


def test_only_leads_create_in_bulk(world: World, api, picked) -> None:
    body = {"readers": [world.annotator.pk], "label_schema": world.schema.pk}
    path = f"/api/projects/{world.project.pk}/tasks/bulk/"
    assert api(world.annotator).post(path, body, format="json").status_code == 403
    assert api(world.auditor).post(path, body, format="json").status_code == 403
    assert api(world.outsider).post(path, body, format="json").status_code == 404


def test_readers_of_one_series_are_blinded_from_each_other(world: World, api) -> None:
    """Three readers of the same series: each sees and opens only their own task."""
    from annotations.services.projects import project_member_add

    project_member_add(actor=world.lead, project=world.project, user=world.outsider)
    site_register_gateway_key(actor=world.admin, site=world.site, public_key="B" * 43 + "=")
    selection = record_selection(world)
    readers = [world.annotator, world.other_annotator, world.outsider]
    response = _bulk(world, api, selections=[selection.pk], readers=[r.pk for r in readers]).json()
    mine = {t["assignee"]["id"]: t["id"] for t in response["created"]}
    assert len(mine) == 3
    for reader in readers:
        client = api(reader)
        listed = {
            t["id"] for t in client.get(f"/api/tasks/?project={world.project.pk}").json()["results"]
        }
        assert mine[reader.pk] in listed
        for other in readers:
            if other is reader:
                continue
            theirs = mine[other.pk]
            assert theirs not in listed
            assert client.get(f"/api/tasks/{theirs}/").status_code == 404
            assert client.post(f"/api/tasks/{theirs}/sessions/", format="json").status_code == 404
        assert (
            client.post(f"/api/tasks/{mine[reader.pk]}/sessions/", format="json").status_code == 201
        )
    lead_sees = {
        t["id"]
        for t in api(world.lead).get(f"/api/tasks/?project={world.project.pk}").json()["results"]
    }
    assert set(mine.values()) <= lead_sees


def test_reassign_moves_the_object_permissions(world: World, api, picked) -> None:
    created = _bulk(world, api, readers=[world.annotator.pk]).json()["created"]
    task_id = created[0]["id"]
    moved = api(world.lead).post(
        f"/api/tasks/{task_id}/assign/", {"assignee": world.other_annotator.pk}, format="json"
    )
    assert moved.status_code == 200
    assert api(world.annotator).get(f"/api/tasks/{task_id}/").status_code == 404
    assert api(world.other_annotator).get(f"/api/tasks/{task_id}/").status_code == 200
