"""``RhinoClient.audit_events`` against a live server: the same events as ``GET
/api/audit/events/`` for the same user and filters, across pages, within the user's rights."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent
from annotations.services.audit import audit_record
from annotations.services.tokens import token_issue
from rhino_sdk import RhinoError
from tests.annotations.conftest import World
from tests.sdk.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def api_events(username: str, **params: Any) -> list[dict[str, Any]]:
    client = APIClient()
    token = token_issue(username=username, password=PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    answer = client.get("/api/audit/events/", {**params, "limit": 200})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["older"] is None  # one page holds them all here
    events: list[dict[str, Any]] = body["events"]
    return events


def test_the_sdk_gets_what_the_api_gets(world: World, sdk) -> None:
    for _ in range(3):
        audit_record(actor=world.lead, action=AuditAction.ACCESS_DENIED, site_id=world.site.pk)
        audit_record(
            actor=world.lead, action=AuditAction.ACCESS_DENIED, site_id=world.other_site.pk
        )
    auditor = sdk("auditor")
    # limit=2: the SDK follows the seq cursor over several pages
    paged = auditor.audit_events(action="access.denied", limit=2)
    assert paged == api_events("auditor", action="access.denied")
    assert len(paged) == 6
    assert [e["seq"] for e in paged] == sorted((e["seq"] for e in paged), reverse=True)
    several = auditor.audit_events(action=["task.assign", "access.denied"], actor="lead")
    assert several == api_events("auditor", action=["task.assign", "access.denied"], actor="lead")
    assert {e["action"] for e in several} == {"task.assign", "access.denied"}
    assert len(auditor.audit_events(max_events=3)) == 3
    newer = auditor.audit_events(action="access.denied", after=paged[-1]["seq"], limit=2)
    assert newer == paged[:-1]

    custodian = sdk("custodian")
    theirs = custodian.audit_events(action="access.denied")
    assert theirs == api_events("custodian", action="access.denied")
    assert len(theirs) == 3 and {e["site_id"] for e in theirs} == {world.site.pk}

    reads = AuditEvent.objects.filter(actor_id=world.auditor.pk, action=AuditAction.AUDIT_READ)
    assert reads.filter(detail__api=True).count() >= 5

    with pytest.raises(RhinoError) as bad:
        auditor.audit_events(outcome="sometimes")
    assert bad.value.code == "invalid" and "outcome" in bad.value.fields
    with pytest.raises(RhinoError) as hidden:
        sdk("annotator").audit_events()
    assert (hidden.value.code, hidden.value.status) == ("not_found", 404)
