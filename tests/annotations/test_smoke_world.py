from __future__ import annotations

from annotations.models import AuditEvent
from annotations.services.audit import audit_verify_chain


def test_world_builds_and_its_audit_chain_verifies(world):
    assert AuditEvent.objects.count() > 10
    report = audit_verify_chain()
    assert report.ok, report.problem
