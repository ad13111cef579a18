"""The site audit: a hash-chained, append-only local log of what the gateway served and wrote.

Each entry's ``mac`` is HMAC-SHA-256 (site audit key) over the previous entry's mac and the
canonical JSON of the entry, so editing, deleting or reordering any entry breaks every mac after
it, and nobody without the site key can forge a consistent tail. ``verify`` names the first bad
entry. Frame entries are buffered and written by a background task every ``flush_seconds`` so
the frame path never waits for SQLite; session and label entries are written at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

GENESIS: Final = "0" * 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    entry TEXT NOT NULL,
    prev TEXT NOT NULL,
    mac TEXT NOT NULL
);
-- Append-only: the database refuses edits and deletes (a tamperer with the file can still
-- drop these triggers, which is what the mac chain is for).
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the site audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the site audit is append-only'); END;
"""


class AuditKind:
    SESSION_OPENED: Final = "session.opened"
    SESSION_CLOSED: Final = "session.closed"
    SESSION_REFUSED: Final = "session.refused"
    FRAME_SERVED: Final = "frame.served"
    LABEL_WRITTEN: Final = "label.written"


def canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_mac(key: bytes, prev: str, at: float, kind: str, entry_json: str) -> str:
    # Fixed-point time: SQLite hands back a REAL, so 1000 must read the same as 1000.0.
    message = "\n".join((prev, f"{float(at):.6f}", kind, entry_json)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None = None  # the id of the first entry that does not verify
    reason: str = ""


class SiteAudit:
    """Appends to ``path``. ``record`` is cheap and thread-safe; ``flush`` writes the buffer."""

    def __init__(
        self,
        path: str | Path,
        key: bytes,
        *,
        flush_seconds: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable on checkpoint
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT mac FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        self._last = row[0] if row else GENESIS
        self._buffer: list[tuple[float, str, str]] = []
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        # Frames served per session: a PHI-free count for the digest sent to central later.
        self.frames_per_session: Counter[str] = Counter()

    def record(self, kind: str, **fields: Any) -> None:
        """Buffer an entry; it is chained and written on the next flush."""
        entry = canonical(fields)
        with self._buffer_lock:
            self._buffer.append((float(self._clock()), kind, entry))
        if kind == AuditKind.FRAME_SERVED and isinstance(fields.get("session"), str):
            self.frames_per_session[fields["session"]] += 1

    def flush(self) -> int:
        """Chain and write everything buffered in one transaction; returns entries written."""
        with self._buffer_lock:
            pending, self._buffer = self._buffer, []
        if not pending:
            return 0
        with self._write_lock:
            prev = self._last
            rows = []
            for at, kind, entry in pending:
                mac = chain_mac(self._key, prev, at, kind, entry)
                rows.append((at, kind, entry, prev, mac))
                prev = mac
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO audit (at, kind, entry, prev, mac) VALUES (?, ?, ?, ?, ?)", rows
                )
            self._last = prev
        return len(pending)

    async def record_now(self, kind: str, **fields: Any) -> None:
        """Record and write at once (sessions, labels: rare, and must not be lost)."""
        self.record(kind, **fields)
        await asyncio.to_thread(self.flush)

    async def run(self) -> None:
        """Flush every ``flush_seconds`` until cancelled, then flush once more."""
        try:
            while True:
                await asyncio.sleep(self._flush_seconds)
                await asyncio.to_thread(self.flush)
        finally:
            self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="site-audit-flush")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.flush()
        with self._write_lock:
            self._db.close()


def verify(path: str | Path, key: bytes) -> VerifyResult:
    """Walk the chain from the start; the first entry whose link or mac is wrong is named."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        prev = GENESIS
        count = 0
        expected_id = None
        for row_id, at, kind, entry, stored_prev, mac in db.execute(
            "SELECT id, at, kind, entry, prev, mac FROM audit ORDER BY id"
        ):
            if expected_id is not None and row_id != expected_id:
                return VerifyResult(False, count, row_id, f"entries before id {row_id} are missing")
            expected_id = row_id + 1
            if stored_prev != prev:
                return VerifyResult(False, count, row_id, "does not follow the previous entry")
            if not hmac.compare_digest(chain_mac(key, prev, at, kind, entry), mac):
                return VerifyResult(False, count, row_id, "its content or mac was altered")
            prev = mac
            count += 1
        return VerifyResult(True, count)
    finally:
        db.close()
