"""The site audit's hash chain: written in batches, verified, and every kind of tampering found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from site_gateway.site_audit import AuditKind, SiteAudit, verify

KEY = b"k" * 32


def write_entries(path: Path, count: int = 5) -> None:
    audit = SiteAudit(path, KEY, clock=iter(range(1000, 2000)).__next__)
    audit.record(AuditKind.SESSION_OPENED, session="s1", user="u_1", grant="n" * 24)
    for index in range(count - 1):
        audit.record(AuditKind.FRAME_SERVED, session="s1", series="se_x", index=index)
    assert audit.flush() == count
    assert audit.frames_per_session["s1"] == count - 1
    audit.record(AuditKind.SESSION_CLOSED, session="s1")
    audit.flush()
    audit._db.close()


def tamper(path: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
    db.execute(sql, args)
    db.commit()
    db.close()


def test_an_untouched_log_verifies_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    write_entries(path)
    write_entries(path)  # a restart continues the same chain
    result = verify(path, KEY)
    assert result.ok and result.entries == 12


def test_the_database_refuses_edits(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    write_entries(path)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET kind = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")


@pytest.mark.parametrize(
    ("sql", "bad_id"),
    [
        ("UPDATE audit SET entry = replace(entry, 'se_x', 'se_y') WHERE id = 3", 3),
        ("UPDATE audit SET at = at + 1 WHERE id = 2", 2),
        ("DELETE FROM audit WHERE id = 4", 5),
        ("DELETE FROM audit WHERE id = 1", 2),
        ("UPDATE audit SET kind = 'label.written' WHERE id = 6", 6),
    ],
    ids=["edited-entry", "edited-time", "deleted-middle", "deleted-first", "edited-kind"],
)
def test_tampering_names_the_first_bad_entry(tmp_path: Path, sql: str, bad_id: int) -> None:
    path = tmp_path / "audit.sqlite"
    write_entries(path)
    tamper(path, sql)
    result = verify(path, KEY)
    assert not result.ok and result.first_bad == bad_id, result


def test_a_rewritten_chain_without_the_key_does_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    write_entries(path)
    assert not verify(path, b"x" * 32).ok


async def test_the_background_task_flushes_and_closing_flushes_the_rest(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "audit.sqlite"
    audit = SiteAudit(path, KEY, flush_seconds=0.02)
    audit.start()
    audit.record(AuditKind.FRAME_SERVED, session="s", index=1)
    await asyncio.sleep(0.2)
    assert verify(path, KEY).entries == 1
    audit.record(AuditKind.FRAME_SERVED, session="s", index=2)
    await audit.record_now(AuditKind.SESSION_CLOSED, session="s")
    audit.record(AuditKind.FRAME_SERVED, session="s", index=3)
    await audit.aclose()
    assert verify(path, KEY).entries == 4
