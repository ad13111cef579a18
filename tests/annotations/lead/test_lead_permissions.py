"""A lead sees only their own projects: their sites, tasks, selections, progress, series browser,
agreement, pages and the project socket. Another project's objects are 404 (no oracle), exactly
like objects that do not exist; and nothing is asked of a site or changed on the way."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, Role, SeriesSelection, Task, User
from annotations.services.projects import project_lead_add
from rhino_web.asgi import application
from tests.annotations.conftest import World, series_handle
from tests.annotations.lead.conftest import study_handle
from tests.annotations.secure_access.conftest import expect_close, session_cookie

PASSWORD = "correct horse battery staple"


@pytest.fixture
def other_lead(world: World, make_user: Callable[..., User]) -> User:
    """A project lead too — of the other project only."""
    user = make_user("otherlead", Role.PROJECT_LEAD)
    project_lead_add(actor=world.admin, project=world.other_project, user=user)
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ids(body: object) -> set[int]:
    items = body["results"] if isinstance(body, dict) else body
    assert isinstance(items, list)
    return {int(item["id"]) for item in items}


def test_each_lead_lists_only_their_projects_sites_and_tasks(
    world: World, other_lead: User
) -> None:
    mine, theirs = _client(world.lead), _client(other_lead)
    assert _ids(mine.get("/api/sites/").json()) == {world.site.pk}
    assert _ids(theirs.get("/api/sites/").json()) == {world.other_site.pk}
    assert _ids(mine.get("/api/projects/").json()) == {world.project.pk}
    assert _ids(theirs.get("/api/projects/").json()) == {world.other_project.pk}
    assert _ids(mine.get("/api/tasks/").json()) == {world.task.pk}
    assert _ids(theirs.get("/api/tasks/").json()) == {world.other_task.pk}
    # filtering by the other project does not widen the list
    assert _ids(mine.get(f"/api/tasks/?project={world.other_project.pk}").json()) == set()
    # the lead's index page names their projects only
    index = mine.get("/lead/").content.decode()
    assert world.project.name in index and world.other_project.name not in index


def _endpoints(w: World, handle: str) -> list[tuple[str, str, dict[str, object] | None]]:
    """(method, path, body) of every lead endpoint, aimed at ``w.other_project``."""
    p, s, t = w.other_project.pk, w.other_site.pk, w.other_task.pk
    select = {"site": s, "study_handle": study_handle(), "series_handle": handle,
              "decision": "include", "reason": "for_annotation"}  # fmt: skip
    return [
        ("get", f"/api/projects/{p}/", None),
        ("get", f"/api/projects/{p}/progress/", None),
        ("get", f"/api/projects/{p}/progress/labels/", None),
        ("get", f"/api/projects/{p}/selections/", None),
        ("post", f"/api/projects/{p}/selections/", select),
        (
            "post",
            f"/api/projects/{p}/tasks/bulk/",
            {"readers": [w.annotator.pk], "label_schema": 1},
        ),
        ("get", f"/api/projects/{p}/sites/{s}/series/", None),
        ("get", f"/api/projects/{p}/sites/{s}/series/{handle}/thumbnail", None),
        ("post", f"/api/projects/{p}/agreement/", {"tasks": [t, w.task.pk]}),
        ("get", f"/api/tasks/{t}/", None),
        ("post", f"/api/tasks/{t}/status/", {"status": "rejected", "comment": "no"}),
        ("post", f"/api/tasks/{t}/assign/", {"assignee": w.annotator.pk}),
        ("get", f"/lead/projects/{p}/", None),
    ]


def test_another_projects_objects_are_404_for_a_lead_and_change_nothing(world: World) -> None:
    lead = _client(world.lead)
    handle = series_handle()
    before = (
        AuditEvent.objects.filter(
            action__in=[AuditAction.SERIES_BROWSE, AuditAction.SERIES_THUMBNAIL,
                        AuditAction.AGREEMENT_READ, AuditAction.LABELS_COUNT]
        ).count(),
        SeriesSelection.objects.count(),
        Task.objects.count(),
        list(Task.objects.filter(pk=world.other_task.pk).values_list("status", "assignee_id")),
    )  # fmt: skip
    for method, path, body in _endpoints(world, handle):
        call = getattr(lead, method)
        response = (
            call(path)
            if body is None
            else call(path, json.dumps(body), content_type="application/json")
        )
        assert response.status_code == 404, (
            method,
            path,
            response.status_code,
            response.content[:200],
        )
        if path.startswith("/api/"):
            assert response.json()["error"]["code"] == "not_found", path
    after = (
        AuditEvent.objects.filter(
            action__in=[AuditAction.SERIES_BROWSE, AuditAction.SERIES_THUMBNAIL,
                        AuditAction.AGREEMENT_READ, AuditAction.LABELS_COUNT]
        ).count(),
        SeriesSelection.objects.count(),
        Task.objects.count(),
        list(Task.objects.filter(pk=world.other_task.pk).values_list("status", "assignee_id")),
    )  # fmt: skip
    assert after == before  # nothing asked of a site, nothing recorded or changed


def test_the_same_endpoints_answer_the_other_lead_for_their_project(
    world: World, other_lead: User
) -> None:
    """The 404s above are about who asks, not broken paths: the other project's own lead gets
    through (the site is offline here, which is a result, not an error)."""
    theirs = _client(other_lead)
    p, s = world.other_project.pk, world.other_site.pk
    assert theirs.get(f"/api/projects/{p}/progress/").status_code == 200
    assert theirs.get(f"/api/projects/{p}/selections/").status_code == 200
    browse = theirs.get(f"/api/projects/{p}/sites/{s}/series/")
    assert browse.status_code == 200 and browse.json()["status"] == "offline"
    assert theirs.get(f"/api/tasks/{world.other_task.pk}/").status_code == 200
    assert theirs.get(f"/lead/projects/{p}/").status_code == 200
    page = theirs.get(f"/lead/projects/{p}/").content.decode()
    data = json.loads(re.search(r'id="lead-data"[^>]*>(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert [site["id"] for site in data["sites"]] == [s]  # the page lists its own sites only


@pytest.mark.django_db(transaction=True)
async def test_a_lead_cannot_follow_another_projects_socket(world: World, other_lead: User) -> None:
    from asgiref.sync import sync_to_async

    for user, project, code in (
        ("lead", world.other_project.pk, 4404),
        ("otherlead", world.project.pk, 4404),
    ):
        headers = [(b"origin", b"http://127.0.0.1"), await sync_to_async(session_cookie)(user)]
        comm = WebsocketCommunicator(application, f"/ws/projects/{project}/", headers=headers)
        connected, _ = await comm.connect()
        assert connected  # accepted, then closed with the code the browser can read
        await expect_close(comm, code)
    # and their own project's socket is open to each
    headers = [(b"origin", b"http://127.0.0.1"), await sync_to_async(session_cookie)("otherlead")]
    comm = WebsocketCommunicator(
        application, f"/ws/projects/{world.other_project.pk}/", headers=headers
    )
    assert (await comm.connect())[0]
    assert json.loads(await comm.receive_from(timeout=7))["type"] == "project.ready"
    await comm.disconnect()
