"""``GET /api/audit/events/`` (issue 9): token auth, the console's rights and filters, keyset
paging by seq, every read audited as audit.read."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, User
from annotations.services.audit import audit_record
from annotations.services.tokens import token_issue
from tests.annotations.conftest import World

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # tests/annotations/conftest.py make_user


def token_client(user: User) -> APIClient:
    client = APIClient()
    token = token_issue(username=user.get_username(), password=PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def get(client: APIClient, **params: Any) -> Any:
    return client.get("/api/audit/events/", params)


def reads_by(user: User) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(actor_id=user.pk, action=AuditAction.AUDIT_READ).order_by("seq")
    )


def test_an_auditor_filters_and_pages_by_seq_and_each_read_is_audited(world: World) -> None:
    client = token_client(world.auditor)
    first = get(client, limit=5)
    assert first.status_code == 200, first.content
    body = first.json()
    seqs = [e["seq"] for e in body["events"]]
    assert len(seqs) == 5 and seqs == sorted(seqs, reverse=True)
    assert body["newer"] is None and body["older"] == seqs[-1]
    second = get(client, limit=5, before=body["older"]).json()
    assert max(e["seq"] for e in second["events"]) < seqs[-1]
    back = get(client, limit=5, after=second["events"][0]["seq"]).json()
    assert [e["seq"] for e in back["events"]] == seqs

    assigned = get(client, action="task.assign", actor="lead").json()["events"]
    assert assigned and {(e["action"], e["actor_name"]) for e in assigned} == {
        ("task.assign", "lead")
    }
    expected = AuditEvent.objects.filter(action="task.assign", actor_name="lead").count()
    assert len(assigned) == expected

    reads = reads_by(world.auditor)
    assert len(reads) == 4
    assert reads[-1].detail == {
        "view": "audit", "actor": "lead", "action": ["task.assign"], "api": True,
        "rows": expected,
    }  # fmt: skip
    assert reads[1].detail["before"] == body["older"]


def test_a_custodian_sees_only_their_sites_events(world: World) -> None:
    audit_record(actor=world.lead, action=AuditAction.ACCESS_DENIED, site_id=world.other_site.pk)
    audit_record(actor=world.lead, action=AuditAction.ACCESS_DENIED, site_id=world.site.pk)
    events = get(token_client(world.custodian), limit=200).json()["events"]
    assert events and {e["site_id"] for e in events} == {world.site.pk}
    everything = get(token_client(world.auditor), limit=200).json()["events"]
    assert world.other_site.pk in {e["site_id"] for e in everything}


def test_bad_filters_are_coded_errors_and_recorded_as_failed_reads(world: World) -> None:
    client = token_client(world.auditor)
    answer = get(client, since="yesterday", colour="red")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_field"
    answer = get(client, since="yesterday")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and "since" in error["fields"]
    failed = [e for e in reads_by(world.auditor) if e.outcome == AuditOutcome.MINOR_FAILURE]
    assert [e.detail["fields"] for e in failed] == [["colour"], ["since"]]


def test_no_token_is_401_and_no_rights_is_a_404_recorded_as_denied(world: World) -> None:
    assert APIClient().get("/api/audit/events/").status_code == 401
    answer = get(token_client(world.annotator))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    denied = AuditEvent.objects.filter(
        actor_id=world.annotator.pk, action=AuditAction.ACCESS_DENIED
    )
    assert [e.detail["attempted"] for e in denied] == [AuditAction.AUDIT_READ]
    assert reads_by(world.annotator) == []
