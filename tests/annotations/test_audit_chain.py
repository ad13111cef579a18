"""The audit chain detects edits, deletions, swaps and truncation, and names the first bad event."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from annotations.models import AuditChainHead, AuditEvent, AuditOutcome
from annotations.services.audit import audit_record, audit_verify_chain, read_published_head


@pytest.fixture
def chain(db, django_capture_on_commit_callbacks) -> list[AuditEvent]:
    """Ten committed events (on_commit runs, so the head file is published as in production)."""
    events = []
    for i in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            events.append(audit_record(actor=None, action="test.event", detail={"i": i}))
    return events


def _raw(sql: str, params: list[Any]) -> None:
    """Tamper as a database owner would: bypass the ORM and, on PostgreSQL, the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE annotations_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE annotations_auditevent ENABLE TRIGGER USER")


def test_untouched_chain_verifies(chain) -> None:
    report = audit_verify_chain()
    assert report.ok and report.events == 10 and report.verified_up_to == 10
    assert read_published_head() == (10, chain[-1].mac)


def test_edit_is_detected_at_the_edited_event(chain) -> None:
    _raw("UPDATE annotations_auditevent SET actor_name = %s WHERE seq = %s", ["mallory", 4])
    report = audit_verify_chain()
    assert report.first_bad_seq == 4 and report.verified_up_to == 3
    assert "altered" in report.problem


def test_detail_edit_is_detected(chain) -> None:
    _raw(
        "UPDATE annotations_auditevent SET outcome = %s WHERE seq = %s",
        [int(AuditOutcome.MINOR_FAILURE), 7],
    )
    assert audit_verify_chain().first_bad_seq == 7


def test_deletion_is_detected_at_the_gap(chain) -> None:
    _raw("DELETE FROM annotations_auditevent WHERE seq = %s", [5])
    report = audit_verify_chain()
    assert report.first_bad_seq == 5 and "missing" in report.problem


def test_swap_is_detected(chain) -> None:
    """Swapping two events' positions (seq values) breaks the links."""
    _raw("UPDATE annotations_auditevent SET seq = %s WHERE seq = %s", [1000, 3])
    _raw("UPDATE annotations_auditevent SET seq = %s WHERE seq = %s", [3, 6])
    _raw("UPDATE annotations_auditevent SET seq = %s WHERE seq = %s", [6, 1000])
    report = audit_verify_chain()
    assert report.first_bad_seq == 3


def test_truncation_is_detected_even_with_the_head_row_rewritten(chain) -> None:
    """Cut the last three events and fix the head row: the published head file still knows."""
    _raw("DELETE FROM annotations_auditevent WHERE seq > %s", [7])
    AuditChainHead.objects.filter(id=1).update(seq=7, mac=chain[6].mac)
    report = audit_verify_chain()
    assert report.first_bad_seq == 8 and "truncated" in report.problem


def test_truncation_without_touching_the_head_row_is_detected(chain) -> None:
    _raw("DELETE FROM annotations_auditevent WHERE seq > %s", [8])
    assert audit_verify_chain().first_bad_seq == 9


def test_audit_verify_command_exits_non_zero_and_names_the_event(chain, capsys) -> None:
    call_command("audit_verify")
    assert "audit chain OK: 10 events" in capsys.readouterr().out
    _raw("UPDATE annotations_auditevent SET action = %s WHERE seq = %s", ["forged", 2])
    with pytest.raises(CommandError, match="#2"):
        call_command("audit_verify")


def test_an_event_rolls_back_with_the_change_it_describes(db) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            audit_record(actor=None, action="test.event")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert not AuditEvent.objects.exists()
    assert audit_verify_chain().ok


def test_an_orm_update_is_refused_on_postgresql_and_caught_by_the_chain_everywhere(chain) -> None:
    """PostgreSQL has a second line (an append-only trigger); SQLite relies on the chain alone."""
    from django.db import DatabaseError

    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(seq=1).update(action="x")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(seq=1).delete()
        assert audit_verify_chain().ok
    else:
        AuditEvent.objects.filter(seq=1).update(action="x")
        assert audit_verify_chain().first_bad_seq == 1


def test_float_details_survive_the_database_round_trip(db) -> None:
    """jsonb turns 1e16 into an integer and -0.0 into 0; the chain must still verify."""
    audit_record(
        actor=None, action="test.event", detail={"big": 1e16, "neg": -0.0, "xs": [0.1, 2.5]}
    )
    report = audit_verify_chain()
    assert report.ok, report.problem
    assert AuditEvent.objects.get().detail == {"big": "1e+16", "neg": "-0.0", "xs": ["0.1", "2.5"]}
