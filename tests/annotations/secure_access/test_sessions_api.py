"""Secure Access sessions over the REST API: who may open, renew, close and revoke; grants."""

from __future__ import annotations

import time

import pytest

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, SecureAccessSession
from annotations.services.sessions import session_grant
from annotations.signing import signing_key
from site_gateway.grants import ReplayGuard, verify_grant


def _open(api, user, task):
    return api(user).post(f"/api/tasks/{task.pk}/sessions/", format="json")


@pytest.fixture
def enrolled(world, gateway_key):
    return world


def test_assignee_opens_an_annotating_session(enrolled, api) -> None:
    w = enrolled
    response = _open(api, w.annotator, w.task)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["actions"] == ["annotate", "view"]
    assert body["series"] == [w.task.series_handle]
    assert body["websocket"] == f"/ws/sessions/{body['id']}/"
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.actor_id, event.object_id) == (
        AuditAction.SESSION_OPEN,
        w.annotator.pk,
        body["id"],
    )


def test_lead_opens_a_reviewing_session(enrolled, api) -> None:
    body = _open(api, enrolled.lead, enrolled.task).json()
    assert body["actions"] == ["review", "view"]


def test_auditor_sees_the_task_but_is_refused_and_audited(enrolled, api) -> None:
    response = _open(api, enrolled.auditor, enrolled.task)
    assert response.status_code == 403
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.outcome, event.actor_id) == (
        AuditAction.SESSION_DENIED, AuditOutcome.MINOR_FAILURE, enrolled.auditor.pk,
    )  # fmt: skip
    assert not SecureAccessSession.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "other_annotator", "custodian"])
def test_users_who_cannot_see_the_task_get_404(enrolled, api, who: str) -> None:
    assert _open(api, getattr(enrolled, who), enrolled.task).status_code == 404


def test_site_without_an_enrolled_gateway_is_503(world, api) -> None:
    response = _open(api, world.annotator, world.task)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "site_offline"


def test_renew_close_and_revoke_each_write_one_event(enrolled, api) -> None:
    w = enrolled
    sid = _open(api, w.annotator, w.task).json()["id"]
    before = AuditEvent.objects.count()
    renewed = api(w.annotator).post(f"/api/sessions/{sid}/renew/")
    assert renewed.status_code == 200
    assert api(w.lead).post(f"/api/sessions/{sid}/renew/").status_code == 403
    closed = api(w.annotator).post(f"/api/sessions/{sid}/close/")
    assert closed.json()["close_reason"] == "closed"
    assert (
        api(w.annotator).post(f"/api/sessions/{sid}/renew/").json()["error"]["code"]
        == "session_closed"
    )
    actions = list(AuditEvent.objects.order_by("seq")[before:].values_list("action", flat=True))
    assert actions == [
        AuditAction.SESSION_RENEW,
        AuditAction.SESSION_DENIED,
        AuditAction.SESSION_CLOSE,
    ]


@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", 200), ("admin", 200), ("custodian", 200), ("annotator", 403), ("auditor", 403)],
)
def test_who_may_revoke(enrolled, api, who: str, status: int) -> None:
    sid = _open(api, enrolled.annotator, enrolled.task).json()["id"]
    response = api(getattr(enrolled, who)).post(
        f"/api/sessions/{sid}/revoke/", {"reason": "test"}, format="json"
    )
    assert response.status_code == status, response.content
    session = SecureAccessSession.objects.get(pk=sid)
    assert (session.close_reason == "revoked") is (status == 200)


def test_session_lists_follow_visibility(enrolled, api) -> None:
    w = enrolled
    sid = _open(api, w.annotator, w.task).json()["id"]
    for user, sees in [(w.annotator, True), (w.lead, True), (w.custodian, True), (w.admin, True),
                       (w.auditor, True), (w.outsider, False), (w.other_annotator, False)]:  # fmt: skip
        ids = [s["id"] for s in api(user).get("/api/sessions/").json()]
        assert (sid in ids) is sees, user.username
        assert (api(user).get(f"/api/sessions/{sid}/").status_code == 200) is sees


def test_grant_is_signed_scoped_pseudonymous_and_single_use(enrolled, api) -> None:
    w = enrolled
    sid = _open(api, w.annotator, w.task).json()["id"]
    session = SecureAccessSession.objects.get(pk=sid)
    token = session_grant(session=session)
    guard = ReplayGuard()
    grant = verify_grant(
        token, central_key=signing_key().public_key(), site=w.site.slug, replay=guard
    )
    assert grant.session == sid and grant.user == w.annotator.pseudonym
    assert w.annotator.username not in token
    assert grant.series == (w.task.series_handle,)
    assert {e["key"] for e in grant.schema["entries"]} == {"nodule", "lesion"}
    assert grant.expires_at - time.time() > 60
    from site_gateway.grants import GrantError

    with pytest.raises(GrantError, match="already used"):
        verify_grant(token, central_key=signing_key().public_key(), site=w.site.slug, replay=guard)
    second = session_grant(session=session)
    assert (
        verify_grant(
            second, central_key=signing_key().public_key(), site=w.site.slug, replay=guard
        ).nonce
        != grant.nonce
    )
