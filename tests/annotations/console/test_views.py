"""The audit console's pages: who sees what, filters, keyset paging, and that reading is audited
(one audit.read per page view, refused reads as failures)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, SecureAccessSession, User
from annotations.services.audit import audit_record
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]


def page_events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content[:500]
    return list(response.context["events"])


def test_auditor_page_view_records_exactly_one_audit_read_with_the_filter(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    before = last_seq()
    response = client.get("/console/audit/", {"actor": "lead", "outcome": "success", "q": "task"})
    assert response.status_code == 200
    [event] = events_after(before)
    assert event.action == AuditAction.AUDIT_READ
    assert (event.actor_id, event.actor_name) == (world.auditor.pk, "auditor")
    assert event.outcome == AuditOutcome.SUCCESS
    assert event.detail["view"] == "audit"
    assert event.detail["actor"] == "lead" and event.detail["outcome"] == "success"
    assert event.detail["q"] == ["task"]
    assert event.detail["rows"] == len(page_events(response))

    client.get("/console/audit/")
    client.get("/console/alerts/")
    assert [e.action for e in events_after(before)] == [AuditAction.AUDIT_READ] * 3


def test_auditor_sees_every_event_and_filters_narrow(world: World, client_for: ClientFor) -> None:
    client = client_for(world.auditor)
    all_rows = page_events(client.get("/console/audit/", {"limit": 200}))
    assert {r["seq"] for r in all_rows} >= set(
        AuditEvent.objects.exclude(action="audit.read").values_list("seq", flat=True)
    )
    cases: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ({"actor": "lead"}, lambda r: r["actor_name"] == "lead"),
        ({"action": "task.assign"}, lambda r: r["action"] == "task.assign"),
        ({"project": world.project.pk}, lambda r: r["project_id"] == world.project.pk),
        ({"site": world.other_site.pk}, lambda r: r["site_id"] == world.other_site.pk),
        ({"object": f"task:{world.task.pk}"}, lambda r: (r["object_type"], r["object_id"]) == ("task", str(world.task.pk))),
        ({"object": "project"}, lambda r: r["object_type"] == "project"),
        ({"q": "schema"}, lambda r: "schema" in r["action"]),
    ]  # fmt: skip
    for params, predicate in cases:
        rows = page_events(client.get("/console/audit/", {**params, "limit": 200}))
        assert rows, params
        assert all(predicate(r) for r in rows), params
        assert len(rows) < len(all_rows), params


def test_outcome_and_time_range_filters(world: World, client_for: ClientFor) -> None:
    failed = audit_record(
        actor=world.annotator,
        action=AuditAction.ACCESS_DENIED,
        outcome=AuditOutcome.MINOR_FAILURE,
        detail={"attempted": "task.assign", "reason": "no"},
    )
    client = client_for(world.auditor)
    rows = page_events(client.get("/console/audit/", {"outcome": "failure"}))
    assert [r["seq"] for r in rows] == [failed.seq]
    assert page_events(client.get("/console/audit/", {"outcome": "8"})) == []
    moment = failed.occurred_at
    since = (moment - dt.timedelta(microseconds=1)).isoformat()
    until = (
        (moment + dt.timedelta(microseconds=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    rows = page_events(client.get("/console/audit/", {"since": since, "until": until}))
    assert [r["seq"] for r in rows] == [failed.seq]
    future = (timezone.now() + dt.timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert page_events(client.get("/console/audit/", {"since": future})) == []


def test_search_matches_parts_of_actions_users_and_detail(
    world: World, client_for: ClientFor
) -> None:
    audit_record(
        actor=world.lead,
        action=AuditAction.TASK_STATUS_CHANGE,
        obj=world.task,
        detail={"from": "pending", "to": "in_progress"},
    )
    client = client_for(world.auditor)
    rows = page_events(client.get("/console/audit/", {"q": "progress"}))
    assert rows and all("in_progress" in str(r["detail"]) for r in rows)
    rows = page_events(client.get("/console/audit/", {"q": "assign lead"}))
    assert rows and all(r["action"] == "task.assign" and r["actor_name"] == "lead" for r in rows)
    assert page_events(client.get("/console/audit/", {"q": "zzzznothing"})) == []
    rows = page_events(client.get("/console/audit/", {"q": "assi"}))  # a prefix
    # (the earlier reads match too: their detail holds the search terms they used)
    assert {r["action"] for r in rows} == {"task.assign", "audit.read"}


def test_keyset_paging_walks_every_event_once_both_ways(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.admin)
    start = last_seq()
    # the whole log as it was: page through it 4 at a time (each view appends a newer audit.read)
    expected = list(
        AuditEvent.objects.filter(seq__lte=start).order_by("-seq").values_list("seq", flat=True)
    )
    seen: list[int] = []
    url = f"/console/audit/?limit=4&before={start + 1}"
    pages = []
    while url:
        response = client.get(url)
        rows = page_events(response)
        pages.append(url)
        seen += [r["seq"] for r in rows]
        older = response.context["older_url"]
        url = f"/console/audit/{older}" if older else ""
    assert seen == expected
    assert len(pages) == -(-len(expected) // 4)
    # and back towards the newest from the last page
    back: list[int] = []
    url = pages[-1]
    while url:
        response = client.get(url)
        back = [r["seq"] for r in page_events(response)] + back
        newer = response.context["newer_url"]
        url = f"/console/audit/{newer}" if newer else ""
    assert len(back) == len(set(back)) and back == sorted(back, reverse=True)
    assert set(expected) <= set(back)


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"since": "yesterday"}, "invalid", "since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid", "until"),
        ({"outcome": "7"}, "invalid", "outcome"),
        ({"action": "no.such_action"}, "invalid", "action"),
        ({"project": "abc"}, "invalid", "project"),
        ({"object": "Task:<script>"}, "invalid", "object"),
        ({"limit": "100000"}, "invalid", "limit"),
        ({"before": "5", "after": "3"}, "invalid", "after"),
        ({"patient": "x"}, "unknown_field", "patient"),
    ],
)
def test_bad_filter_is_a_coded_400_and_one_failure_event(
    world: World, client_for: ClientFor, params: dict[str, str], code: str, field: str
) -> None:
    client = client_for(world.auditor)
    before = last_seq()
    response = client.get("/console/audit/", params)
    assert response.status_code == 400
    error = response.context["error"]
    assert error["code"] == code and field in error["fields"]
    assert f'data-code="{code}"' in response.content.decode()
    [event] = events_after(before)
    assert (event.action, event.outcome) == (AuditAction.AUDIT_READ, AuditOutcome.MINOR_FAILURE)
    assert event.detail == {"view": "audit", "error": code, "fields": [field]}


def test_a_view_refuses_actions_outside_its_slice(world: World, client_for: ClientFor) -> None:
    response = client_for(world.auditor).get("/console/alerts/", {"action": "task.assign"})
    assert response.status_code == 400
    assert "action" in response.context["error"]["fields"]


def test_grants_and_alerts_are_filtered_views(world: World, client_for: ClientFor) -> None:
    audit_record(
        actor=None, action=AuditAction.USER_LOGIN_FAILED, outcome=AuditOutcome.MINOR_FAILURE
    )
    audit_record(
        actor=world.outsider,
        action=AuditAction.ACCESS_DENIED,
        outcome=AuditOutcome.MINOR_FAILURE,
        detail={"attempted": "task.assign", "reason": "no"},
    )
    audit_record(
        actor=None, action=AuditAction.GATEWAY_AUTH_FAILED, outcome=AuditOutcome.MINOR_FAILURE
    )
    audit_record(
        actor=world.lead, action=AuditAction.SESSION_DENIED, outcome=AuditOutcome.MINOR_FAILURE
    )
    # A site's digest is routine; refused or with its chain gone backwards it is an alert.
    audit_record(actor=None, action=AuditAction.SITE_AUDIT_DIGEST, site_id=world.site.pk)
    audit_record(
        actor=None, action=AuditAction.SITE_AUDIT_DIGEST, outcome=AuditOutcome.MAJOR_FAILURE,
        site_id=world.site.pk, detail={"alert": "chain head went back from #9 to #2"},
    )  # fmt: skip
    client = client_for(world.auditor)
    grants = page_events(client.get("/console/grants/", {"limit": 200}))
    assert {r["action"] for r in grants} == {
        "site.permission_grant", "project.lead_add", "project.member_add", "task.assign",
    }  # fmt: skip
    alerts = page_events(client.get("/console/alerts/"))
    assert sorted((r["action"], r["outcome"]) for r in alerts) == [
        ("access.denied", 4), ("gateway.auth_failed", 4), ("session.denied", 4),
        ("site.audit_digest", 12), ("user.login_failed", 4),
    ]  # fmt: skip
    digests = page_events(client.get("/console/alerts/", {"action": "site.audit_digest"}))
    assert [r["detail"] for r in digests] == [{"alert": "chain head went back from #9 to #2"}]
    assert page_events(client.get("/console/alerts/", {"actor": "outsider"}))[0]["action"] == (
        "access.denied"
    )


def test_custodian_sees_only_their_sites_and_lead_only_their_projects(
    world: World, client_for: ClientFor
) -> None:
    rows = page_events(client_for(world.custodian).get("/console/audit/", {"limit": 200}))
    assert rows and all(r["site_id"] == world.site.pk for r in rows)
    assert not page_events(
        client_for(world.custodian).get("/console/audit/", {"site": world.other_site.pk})
    )
    rows = page_events(client_for(world.lead).get("/console/audit/", {"limit": 200}))
    assert rows and all(r["project_id"] == world.project.pk for r in rows)


def test_no_console_rights_is_404_and_audited_as_access_denied(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.annotator)
    before = last_seq()
    for url in ("/console/audit/", "/console/audit/export.csv", "/console/sessions/"):
        assert client.get(url).status_code == 404
    events = events_after(before)
    assert [(e.action, e.outcome, e.actor_id) for e in events] == [
        (AuditAction.ACCESS_DENIED, AuditOutcome.MINOR_FAILURE, world.annotator.pk)
    ] * 3
    assert [e.detail["attempted"] for e in events] == [
        "audit.read",
        "audit.export",
        "console.sessions",
    ]


def test_anonymous_is_sent_to_sign_in(db: None) -> None:
    before = last_seq()
    response = Client(HTTP_HOST="localhost").get("/console/audit/?actor=x")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert events_after(before) == []


def test_chain_status_for_auditor_verify_button_and_broken_chain(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    response = client.get("/console/audit/")
    chain = response.context["chain"]
    assert chain["ok"] and chain["verified_up_to"] == last_seq()
    assert "Verified up to event #" in response.content.decode()
    # the next view extends the checkpoint over the events since (its own audit.read included)
    response = client.get("/console/audit/")
    assert response.context["chain"]["verified_up_to"] == last_seq()

    response = client.post("/console/audit/verify/", {"next": "/console/audit/?actor=lead"})
    assert response.status_code == 302 and response["Location"] == "/console/audit/?actor=lead"
    response = client.post("/console/audit/verify/", {"next": "https://evil.example/"})
    assert response["Location"] == "/console/audit/"

    from tests.annotations.test_audit_chain import _raw

    _raw("UPDATE annotations_auditevent SET actor_name = %s WHERE seq = %s", ["mallory", 3])
    client.post("/console/audit/verify/")
    response = client.get("/console/audit/")
    chain = response.context["chain"]
    assert not chain["ok"] and chain["first_bad_seq"] == 3
    assert "Broken at event #3" in response.content.decode()


def test_custodian_gets_no_chain_status_and_may_not_verify(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.custodian)
    assert client.get("/console/audit/").context["chain"] is None
    before = last_seq()
    assert client.post("/console/audit/verify/").status_code == 403
    [event] = events_after(before)
    assert (event.action, event.detail["attempted"]) == (AuditAction.ACCESS_DENIED, "audit.verify")


def _session(user: User, task: Any, **fields: Any) -> SecureAccessSession:
    fields = {"expires_at": timezone.now() + dt.timedelta(hours=1), **fields}
    return SecureAccessSession.objects.create(
        user=user, task=task, scope={"actions": ["view"]}, **fields
    )


def test_sessions_page_lists_live_sessions_by_role(world: World, client_for: ClientFor) -> None:
    live = _session(world.annotator, world.task)
    other = _session(world.admin, world.other_task)
    _session(world.annotator, world.task, expires_at=timezone.now() - dt.timedelta(seconds=1))
    _session(
        world.annotator, world.task, closed_at=timezone.now(), close_reason="closed",
    )  # fmt: skip

    def listed(user: User) -> dict[str, bool]:
        response = client_for(user).get("/console/sessions/")
        assert response.status_code == 200
        return {s["id"]: s["can_revoke"] for s in response.context["sessions"]}

    assert listed(world.admin) == {str(live.id): True, str(other.id): True}
    assert listed(world.auditor) == {str(live.id): False, str(other.id): False}
    assert listed(world.custodian) == {str(live.id): True}
    content = client_for(world.admin).get("/console/sessions/").content.decode()
    assert 'data-revoke-url="/api/sessions/{id}/revoke/"' in content
