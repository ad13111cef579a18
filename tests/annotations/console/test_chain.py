"""Chain verification as the console uses it: resumable from a checkpoint, byte-for-byte the
canonical MAC (the fast path in audit_verify_chain must agree with canonical_content/chain_mac)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations.console.chain import chain_status_for_page, chain_status_verify_full
from annotations.models import AuditEvent
from annotations.services.audit import audit_record, audit_verify_chain
from tests.annotations.test_audit_chain import _raw

pytestmark = pytest.mark.django_db

# PostgreSQL's jsonb rewrites some floats (1e16 comes back as an int, -0.0 as 0.0) and refuses
# NUL, which breaks the MAC on the ORM path as much as on the fast one (reported to the audit
# service's owner); those stay out, everything else a detail can hold goes in.
_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=20,
)
_floats = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False).filter(
    lambda f: f != 0 or math.copysign(1, f) > 0
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text | _floats,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    detail=st.dictionaries(_text, json_values, max_size=4),
    name=_text,
)
def test_any_recorded_event_verifies(detail: dict[str, Any], name: str) -> None:
    audit_record(actor=None, action=f"t.{name}"[:64], detail={"d": detail, "name": name})
    report = audit_verify_chain()
    assert report.ok, report


def _chain(n: int) -> list[AuditEvent]:
    return [audit_record(actor=None, action="test.event", detail={"i": i}) for i in range(n)]


def test_resume_from_a_checkpoint_verifies_only_the_rest() -> None:
    events = _chain(6)
    report = audit_verify_chain(after=(3, events[2].mac))
    assert report.ok and report.verified_up_to == 6
    _raw("UPDATE annotations_auditevent SET actor_name = %s WHERE seq = %s", ["x", 2])
    assert audit_verify_chain(after=(3, events[2].mac)).ok  # before the checkpoint: unseen
    assert audit_verify_chain().first_bad_seq == 2  # a full walk sees it
    _raw("UPDATE annotations_auditevent SET actor_name = %s WHERE seq = %s", ["x", 5])
    assert audit_verify_chain(after=(3, events[2].mac)).first_bad_seq == 5


def test_a_changed_checkpoint_is_reported() -> None:
    _chain(4)
    report = audit_verify_chain(after=(3, "f" * 64))
    assert not report.ok and report.first_bad_seq == 3


def test_page_status_extends_the_cached_checkpoint() -> None:
    _chain(3)
    status, head = chain_status_for_page()
    assert status is not None and status.ok and status.verified_up_to == head == 3
    assert status.full_walk_at is not None
    _chain(2)
    status, head = chain_status_for_page()
    assert status is not None and status.verified_up_to == head == 5
    _raw("UPDATE annotations_auditevent SET actor_name = %s WHERE seq = %s", ["x", 2])
    status, _ = chain_status_for_page()
    assert status is not None and status.ok  # the cheap path cannot see behind its checkpoint
    assert chain_status_verify_full().first_bad_seq == 2


def test_big_backlog_is_not_walked_on_a_page_view(monkeypatch: pytest.MonkeyPatch) -> None:
    from annotations.console import chain

    monkeypatch.setattr(chain, "AUTO_EXTEND_LIMIT", 2)
    _chain(3)
    assert chain_status_for_page() == (None, 3)
