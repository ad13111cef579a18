"""The demo seed is idempotent; its users can sign in; the pages and API docs are served;
sign-in, failed sign-in and sign-out are audited."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.demo import DEMO_USERS, seed_demo
from annotations.models import AuditEvent, AuditOutcome, LabelSchema, Project, Site, Task, User
from annotations.services.audit import audit_verify_chain
from tests.annotations.conftest import series_handle


@pytest.fixture
def seeded(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    handles = [series_handle(), series_handle()]
    first = seed_demo(password="demo-password-123", series_handles=handles)
    return first, handles


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (User, Site, Project, LabelSchema, Task))


def test_reseeding_does_not_duplicate_the_demo(seeded) -> None:
    first, handles = seeded
    # The main series is read by both annotators (blinded), the second by one: three tasks.
    assert first.tasks == 3 and set(first.created_users) == set(DEMO_USERS)
    before, events = _counts(), AuditEvent.objects.count()
    again = seed_demo(password=None, series_handles=handles)
    assert _counts() == before and again.created_users == []
    assert AuditEvent.objects.count() == events  # nothing changed, so nothing to audit
    assert audit_verify_chain().ok


def test_random_password_is_printed_once_and_kept(db, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    first = seed_demo(password=None, series_handles=[])
    assert first.password and len(first.password) >= 12
    assert seed_demo(password=None, series_handles=[]).password == first.password
    assert Client().login(username="lead", password=first.password)


def test_seeded_users_sign_in_and_see_their_tasks(seeded) -> None:
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "annotator", "password": "demo-password-123"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b'id="tasks-data"' in home.content
    login = AuditEvent.objects.filter(action=AuditAction.USER_LOGIN).latest("seq")
    assert login.actor_name == "annotator" and login.outcome == AuditOutcome.SUCCESS


def test_failed_sign_in_is_a_failure_event_without_the_password(seeded) -> None:
    response = Client().post("/login/", {"username": "annotator", "password": "wrong-guess-42"})
    assert response.status_code == 200 and b"didn't match" in response.content
    event = AuditEvent.objects.filter(action=AuditAction.USER_LOGIN_FAILED).latest("seq")
    assert event.outcome == AuditOutcome.MINOR_FAILURE and event.actor_id is None
    assert "wrong-guess-42" not in str(event.detail)


def test_sign_out_is_audited(seeded) -> None:
    client = Client()
    client.login(username="lead", password="demo-password-123")
    client.post("/logout/")
    assert AuditEvent.objects.filter(action=AuditAction.USER_LOGOUT, actor_name="lead").exists()


def test_pages_need_sign_in_and_api_docs_are_served(seeded) -> None:
    assert Client().get("/").status_code == 302
    client = Client()
    client.login(username="lead", password="demo-password-123")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/tasks/" in schema.content
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_healthz_sites_counts_enrolled_gateways_only(seeded, settings) -> None:
    """What the demo launcher and the browser tests wait on: "offline": 0 once every gateway that
    can connect has; a site without a key (it cannot connect) does not hold that up forever."""
    settings.DEBUG = True
    Site.objects.update(gateway_public_key="A" * 43 + "=")  # what `demo prepare` registers
    enrolled = Site.objects.exclude(gateway_public_key="")
    assert enrolled.exists()
    enrolled.update(is_online=False)
    Site.objects.create(name="Not yet", slug="not-yet")
    counts = Client().get("/healthz/sites").json()
    assert counts == {"online": 0, "offline": enrolled.count(), "not_enrolled": 1}
    enrolled.update(is_online=True)
    counts = Client().get("/healthz/sites").json()
    assert counts == {"online": enrolled.count(), "offline": 0, "not_enrolled": 1}
    settings.DEBUG = False
    assert Client().get("/healthz/sites").status_code == 404
