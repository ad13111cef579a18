"""POST /api/auth/token/ for the SDK, and the lead's pages."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome
from tests.annotations.conftest import World

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    cache.clear()


def test_token_for_good_credentials_works_and_is_audited(world: World) -> None:
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": "lead", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == AuditAction.USER_TOKEN_ISSUE
    assert event.actor_id == world.lead.pk and token not in json.dumps(event.detail)
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert authed.get("/api/me/").json()["username"] == "lead"
    # the same token again (one per user)
    again = client.post(
        "/api/auth/token/", {"username": "lead", "password": PASSWORD}, format="json"
    )
    assert again.json()["token"] == token


def test_wrong_password_is_a_coded_error_and_a_failed_login_event(world: World) -> None:
    response = APIClient().post(
        "/api/auth/token/", {"username": "lead", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_authenticated"
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == AuditAction.USER_LOGIN_FAILED
    assert event.outcome == AuditOutcome.MINOR_FAILURE
    unknown = APIClient().post(
        "/api/auth/token/", {"username": "nobody", "password": "x"}, format="json"
    )
    assert unknown.json() == response.json()  # no account oracle


def test_token_endpoint_is_throttled(world: World) -> None:
    client = APIClient()
    codes = [
        client.post(
            "/api/auth/token/", {"username": "x", "password": "y"}, format="json"
        ).status_code
        for _ in range(21)
    ]
    assert codes[:20] == [400] * 20 and codes[20] == 429


def _login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_lead_pages_by_role(world: World) -> None:
    path = f"/lead/projects/{world.project.pk}/"
    page = _login("lead").get(path)
    assert page.status_code == 200
    html = page.content.decode()
    data = json.loads(re.search(r'id="lead-data"[^>]*>(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["project"]["id"] == world.project.pk
    assert {m["username"] for m in data["members"]} == {"annotator", "annotator2"}
    # no inline script: only the module and the json_script block
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in s or 'type="application/json"' in s for s in scripts), scripts
    assert world.project.name in _login("lead").get("/lead/").content.decode()
    assert _login("annotator").get(path).status_code == 403
    assert _login("outsider").get(path).status_code == 404
    assert _login("auditor").get(path).status_code == 200
    assert Client().get(path).status_code == 302  # to the sign-in page
