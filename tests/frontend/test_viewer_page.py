"""The viewer page (annotations/viewer_views.py) and the shortcut preferences API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, User
from tests.annotations.conftest import World

PASSWORD = "correct horse battery staple"


def _client(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _viewer_data(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="viewer-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match
    return json.loads(match.group(1))


def test_assignee_gets_the_viewer_with_schema_and_urls(world: World) -> None:
    response = _client(world.annotator).get(f"/tasks/{world.task.pk}/view/")
    assert response.status_code == 200
    html = response.content.decode()
    data = _viewer_data(html)
    assert data["task"]["id"] == world.task.pk
    assert data["task"]["series_handle"] == world.task.series_handle
    assert [e["key"] for e in data["schema"]["entries"]] == ["nodule", "lesion"]
    assert data["may_annotate"] is True
    assert data["urls"]["sessions"] == f"/api/tasks/{world.task.pk}/sessions/"
    assert data["urls"]["preferences"] == "/api/me/preferences/"
    # CSP-friendly: the only scripts are the JSON data and one module by URL.
    assert re.findall(r"<script(?![^>]*(?:type=\"module\" src=|application/json))", html) == []
    for name in ("Rectangle", "Ellipse", "Polygon", "Freehand", "Brush", "Eraser", "Point",
                 "Length", "Angle", "Classify", "Undo", "Redo", "Save", "Submit"):  # fmt: skip
        assert f'aria-label="{name}"' in html
    assert 'role="status"' in html


def test_task_of_another_project_is_404(world: World) -> None:
    assert _client(world.annotator).get(f"/tasks/{world.other_task.pk}/view/").status_code == 404
    assert _client(world.outsider).get(f"/tasks/{world.task.pk}/view/").status_code == 404


def test_signed_out_is_sent_to_sign_in(world: World) -> None:
    response = Client().get(f"/tasks/{world.task.pk}/view/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_lead_sees_the_task_read_only(world: World) -> None:
    data = _viewer_data(_client(world.lead).get(f"/tasks/{world.task.pk}/view/").content.decode())
    assert data["may_annotate"] is False


def test_user_changes_own_shortcuts(world: World, api: Callable[[User | None], APIClient]) -> None:
    response = api(world.annotator).put(
        "/api/me/preferences/", {"shortcuts": {"rectangle": "q", "undo": "Ctrl+u"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["preferences"] == {"shortcuts": {"rectangle": "q", "undo": "Ctrl+u"}}
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == AuditAction.USER_PREFERENCES_UPDATE
    data = _viewer_data(
        _client(world.annotator).get(f"/tasks/{world.task.pk}/view/").content.decode()
    )
    assert data["shortcuts"] == {"rectangle": "q", "undo": "Ctrl+u"}


def test_bad_shortcuts_are_refused_with_what_is_valid(
    world: World, api: Callable[[User | None], APIClient]
) -> None:
    client = api(world.annotator)
    for body in (
        {"shortcuts": {"launch-missiles": "m"}},
        {"shortcuts": {"rectangle": "<script>"}},
        {"shortcuts": {"rectangle": "q", "ellipse": "Q"}},
        {"shortcuts": {"rectangle": "q"}, "theme": "dark"},
        {"shortcuts": ["rectangle"]},
    ):
        response = client.put("/api/me/preferences/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert User.objects.get(pk=world.annotator.pk).preferences == {}


def test_preferences_need_sign_in(api: Callable[[User | None], APIClient], db: None) -> None:
    assert api(None).put("/api/me/preferences/", {"shortcuts": {}}, format="json").status_code in (
        401,
        403,
    )
