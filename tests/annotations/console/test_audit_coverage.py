"""Coverage of the console's own auditable actions: each done once yields exactly one event with
the right actor, action and outcome (no object: the object is the log itself); refusals are
recorded as failures. The services' events are covered by tests/annotations/test_services_audit.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from annotations.models import AuditOutcome, User
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

pytestmark = pytest.mark.django_db

OK, FAILED = AuditOutcome.SUCCESS, AuditOutcome.MINOR_FAILURE

# (case, user, method, url, params, expected (action, outcome, detail subset) or None)
CASES: list[tuple[str, str, str, str, dict[str, Any], tuple[str, int, dict[str, Any]] | None]] = [
    ("read the log", "auditor", "get", "/console/audit/", {"actor": "lead"},
     ("audit.read", OK, {"view": "audit", "actor": "lead"})),
    ("read an older page", "admin", "get", "/console/audit/", {"before": "5"},
     ("audit.read", OK, {"view": "audit", "before": 5})),
    ("read grants", "admin", "get", "/console/grants/", {}, ("audit.read", OK, {"view": "grants"})),
    ("read alerts", "custodian", "get", "/console/alerts/", {"q": "denied"},
     ("audit.read", OK, {"view": "alerts", "q": ["denied"]})),
    ("export CSV", "auditor", "get", "/console/audit/export.csv", {"outcome": "failure"},
     ("audit.export", OK, {"view": "audit", "outcome": "failure", "format": "csv"})),
    ("export DICOM", "lead", "get", "/console/grants/export.xml", {},
     ("audit.export", OK, {"view": "grants", "format": "dicom"})),
    ("re-verify the chain", "auditor", "post", "/console/audit/verify/", {},
     ("audit.read", OK, {"view": "chain", "ok": True})),
    ("bad filter on a page", "auditor", "get", "/console/audit/", {"site": "x"},
     ("audit.read", FAILED, {"error": "invalid", "fields": ["site"]})),
    ("bad filter on an export", "auditor", "get", "/console/alerts/export.csv", {"limit": "3"},
     ("audit.export", FAILED, {"error": "unknown_field", "fields": ["limit"]})),
    ("no console rights: page", "annotator", "get", "/console/audit/", {},
     ("access.denied", FAILED, {"attempted": "audit.read"})),
    ("no console rights: export", "outsider", "get", "/console/audit/export.xml", {},
     ("access.denied", FAILED, {"attempted": "audit.export"})),
    ("custodian may not re-verify", "custodian", "post", "/console/audit/verify/", {},
     ("access.denied", FAILED, {"attempted": "audit.verify"})),
    ("list sessions reads no events", "admin", "get", "/console/sessions/", {}, None),
    ("read gateway health", "custodian", "get", "/console/gateways/", {},
     ("audit.read", OK, {"view": "gateways", "rows": 1})),
    ("read site access", "auditor", "get", "/console/site-access/", {},
     ("audit.read", OK, {"view": "site_access", "flagged": 0})),
    ("no console rights: site access", "annotator", "get", "/console/site-access/", {},
     ("access.denied", FAILED, {"attempted": "console.site_access"})),
    ("read the log through the API", "auditor", "get", "/api/audit/events/", {"actor": "lead"},
     ("audit.read", OK, {"view": "audit", "actor": "lead", "api": True})),
    ("bad filter through the API", "lead", "get", "/api/audit/events/", {"outcome": "often"},
     ("audit.read", FAILED, {"api": True, "error": "invalid", "fields": ["outcome"]})),
    ("no audit rights through the API", "annotator", "get", "/api/audit/events/", {},
     ("access.denied", FAILED, {"attempted": "audit.read"})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("user_name", "method", "url", "params", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_console_action_once_is_one_event(
    world: World,
    client_for: Callable[[User], Client],
    user_name: str,
    method: str,
    url: str,
    params: dict[str, Any],
    expected: tuple[str, int, dict[str, Any]] | None,
) -> None:
    user: User = getattr(world, user_name)
    client = client_for(user)
    before = last_seq()
    response = getattr(client, method)(url, params)
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # the whole export: still one event
    events = events_after(before)
    if expected is None:
        assert events == []
        return
    action, outcome, detail = expected
    [event] = events
    assert (event.action, event.outcome) == (action, outcome)
    assert (event.actor_id, event.actor_name) == (user.pk, user.get_username())
    assert (event.object_type, event.object_id) == ("", "")
    assert detail.items() <= event.detail.items(), event.detail
