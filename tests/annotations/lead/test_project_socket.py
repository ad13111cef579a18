"""The lead's live socket /ws/projects/<id>/ through the real ASGI application."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from annotations.services.gateways import gateway_task_labels
from annotations.services.tasks import task_assign, task_change_status
from rhino_web.asgi import application
from tests.annotations.conftest import World
from tests.annotations.secure_access.conftest import expect_close, receive_json, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def _socket(project_id: int, username: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1")]
    if username is not None:
        headers.append(await sync_to_async(session_cookie)(username))
    return WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)


@pytest.mark.parametrize(
    ("who", "code"), [(None, 4401), ("outsider", 4404), ("annotator", 4403), ("custodian", 4404)]
)
async def test_refused_after_accept_with_a_close_code(world: World, who, code) -> None:
    comm = await _socket(world.project.pk, who)
    connected, _ = await comm.connect()
    assert connected  # accept first, so the browser sees the code, not an HTTP 403
    await expect_close(comm, code)


async def test_lead_follows_task_changes_without_phi(world: World) -> None:
    comm = await _socket(world.project.pk, "lead")
    assert (await comm.connect())[0]
    assert (await receive_json(comm))["type"] == "project.ready"
    await sync_to_async(task_change_status)(
        actor=world.annotator, task=world.task, status="in_progress"
    )
    message = await receive_json(comm)
    assert message["type"] == "project.task"
    task = message["task"]
    assert (task["id"], task["status"], task["assignee"]) == (
        world.task.pk,
        "in_progress",
        world.annotator.pk,
    )
    assert set(task) == {
        "id",
        "project",
        "site",
        "assignee",
        "status",
        "due_date",
        "label_count",
        "label_state",
        "label_revision",
        "deleted",
    }  # fmt: skip  (ids and counts only: no handle, no name)
    await sync_to_async(gateway_task_labels)(
        site_id=world.site.pk, task_id=world.task.pk, revision=1, state="saved_at_site",
        count=3, content_hash="b" * 64,
    )  # fmt: skip
    assert (await receive_json(comm))["task"]["label_count"] == 3
    await sync_to_async(task_assign)(
        actor=world.lead, task=world.task, assignee=world.other_annotator
    )
    assert (await receive_json(comm))["task"]["assignee"] == world.other_annotator.pk
    # another project's changes do not reach this socket
    await sync_to_async(task_assign)(actor=world.admin, task=world.other_task, assignee=None)
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_a_large_bulk_creation_is_one_refresh_message(world: World, monkeypatch) -> None:
    from annotations.services import progress
    from annotations.services.selections import tasks_create_from_selections
    from tests.annotations.lead.conftest import record_selection

    monkeypatch.setattr(progress, "BATCH_LIMIT", 3)
    selections = [await sync_to_async(record_selection)(world) for _ in range(2)]
    comm = await _socket(world.project.pk, "lead")
    assert (await comm.connect())[0]
    assert (await receive_json(comm))["type"] == "project.ready"
    result = await sync_to_async(tasks_create_from_selections)(
        actor=world.lead, project=world.project, selections=selections,
        readers=[world.annotator, world.other_annotator], label_schema=world.schema,
    )  # fmt: skip
    assert len(result.created) == 4
    assert await receive_json(comm) == {"type": "project.tasks", "count": 4}
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()
