"""The site's label store: every saved revision of every task, durably, before it is acknowledged.

One SQLite database (``labels.sqlite`` under the state directory) in WAL mode with
``synchronous=FULL``: a commit has reached the disk when ``save`` returns, so "saved at site" is a
promise that survives a crash or ``kill -9`` (SQLite's WAL docs: with FULL, the WAL is synced at
every commit). The same transaction writes the revision, the source headers it needs and its
outbox rows (``outbox.py``), so a revision never exists without its delivery work, nor the other
way round.

Revisions are append-only; ``base_revision`` gives optimistic concurrency: a save made on top of
anything but the latest revision is refused with ``label_conflict``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from site_gateway.labels.document import (
    LabelRecord,
    ValidatedDocument,
    content_hash,
    records_payload,
)
from site_gateway.labels.outbox import enqueue, plan_task, retire_dropped
from site_gateway.labels.selections import plan_selection, supersede
from site_gateway.labels.sources import header_bytes, header_from_bytes
from site_gateway.protocol import LabelState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    subject TEXT NOT NULL,           -- "task/<id>" or "selection/<project>"
    revision INTEGER NOT NULL,
    task INTEGER,
    payload TEXT NOT NULL,           -- records (JSON), site-only UIDs included
    content_hash TEXT NOT NULL,
    count INTEGER NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    project TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    saved_at REAL NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    reported TEXT,                   -- the state last reported to central
    PRIMARY KEY (subject, revision)
);
CREATE TABLE IF NOT EXISTS sources (
    sop_uid TEXT PRIMARY KEY,
    header BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    sop_uid TEXT PRIMARY KEY,        -- derived, so a retry can never make a second object
    subject TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,              -- sr, seg, kos
    stream TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    supersedes TEXT,
    group_hash TEXT NOT NULL,
    members TEXT NOT NULL,
    state TEXT NOT NULL,             -- pending, stored, dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    reason TEXT,
    data BLOB,                       -- the built object, kept so every retry sends the same bytes
    created_at REAL NOT NULL,
    stored_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream, revision);
CREATE TABLE IF NOT EXISTS revision_objects (
    subject TEXT NOT NULL,
    revision INTEGER NOT NULL,
    sop_uid TEXT NOT NULL,
    PRIMARY KEY (subject, revision, sop_uid)
);
CREATE INDEX IF NOT EXISTS revision_objects_sop ON revision_objects (sop_uid);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class LabelConflictError(Exception):
    """A save on top of a revision that is no longer the latest."""

    def __init__(self, latest: int | None, base: int | None) -> None:
        super().__init__(f"the latest revision is {latest}, the save was based on {base}")
        self.latest = latest
        self.base = base


def task_subject(task: int) -> str:
    return f"task/{task}"


def selection_subject(project: str) -> str:
    return f"selection/{project}"


@dataclass(frozen=True)
class Revision:
    subject: str
    revision: int
    task: int | None
    payload: str
    content_hash: str
    count: int
    user: str
    role: str
    project: str
    schema_version: str
    schema: dict[str, Any]
    saved_at: float
    state: LabelState
    reason: str | None

    @property
    def records(self) -> tuple[LabelRecord, ...]:
        return tuple(LabelRecord.from_json(item) for item in json.loads(self.payload))


_REVISION_COLUMNS = (
    "subject, revision, task, payload, content_hash, count, user, role, project, "
    "schema_version, schema_json, saved_at, state, reason"
)


def _revision(row: Sequence[Any]) -> Revision:
    return Revision(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        json.loads(row[10]), row[11], LabelState(row[12]), row[13],
    )  # fmt: skip


class LabelStore:
    """Thread-safe; every method is short and synchronous (call it through ``asyncio.to_thread``)."""

    def __init__(self, path: str | os.PathLike[str], *, site: str) -> None:
        self.site = site
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged save survives power loss.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(_SCHEMA)
        # A random epoch per store goes into every derived SOP Instance UID: a gateway rebuilt with
        # an empty store starts again at revision 1 and must not reuse a UID already in the PACS.
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (secrets.token_hex(8),))
        self.epoch: str = self.db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[
            0
        ]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: all or nothing, one writer at a time."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- writes --------------------------------------------------------------------------------

    def save_task_labels(
        self,
        document: ValidatedDocument,
        *,
        user: str,
        role: str,
        project: str,
        schema: Mapping[str, Any],
        saved_at: float | None = None,
    ) -> Revision:
        """Append a revision with its outbox rows; ``LabelConflictError`` on a stale base."""
        subject = task_subject(document.task)
        saved_at = time.time() if saved_at is None else saved_at
        with self.transaction() as db:
            latest = self._latest_number(db, subject)
            base = document.base_revision
            # An empty store accepts a base read back from the PACS (readback.load_from_pacs).
            if base != latest and not (latest is None and base is not None):
                raise LabelConflictError(latest, base)
            revision = max(latest or 0, base or 0) + 1
            self._insert_revision(
                db, subject, revision, document.task, records_payload(document.records),
                document.content_hash, document.count, user, role, project,
                document.schema_version, schema, saved_at,
            )  # fmt: skip
            self._insert_sources(db, document.headers)
            planned = plan_task(self.site, self.epoch, document.task, revision, document.records)
            enqueue(db, subject, revision, planned, saved_at)
            retire_dropped(db, subject, revision, planned, epoch=self.epoch, now=saved_at)
        return self.revision(subject, revision)

    def save_selection(
        self,
        *,
        project: str,
        lead: str,
        series: Sequence[Mapping[str, Any]] = (),
        withdrawn: Sequence[str] = (),
        headers: Mapping[str, Dataset] | None = None,
        saved_at: float | None = None,
    ) -> Revision:
        """Append a selection revision: select ``series`` (items with their ``reason``) and/or
        withdraw the ``withdrawn`` handles, retiring and re-issuing earlier KOS as
        ``selections.supersede`` says, with its KOS rows, all in one transaction. A series a valid
        KOS already lists with the same reason gets no new KOS (a retried ``selection.write``):
        the revision links to that KOS and names the series under ``current``."""
        subject = selection_subject(project)
        saved_at = time.time() if saved_at is None else saved_at
        with self.transaction() as db:
            revision = (self._latest_number(db, subject) or 0) + 1
            reissued, current = supersede(
                db, subject, revision, selected=series, withdrawn=withdrawn, epoch=self.epoch,
                now=saved_at,
            )  # fmt: skip
            items = [*(i for i in series if i["handle"] not in current), *reissued]
            payload: dict[str, Any] = {"series": items, "withdrawn": list(withdrawn), "lead": lead}
            if current:
                payload["current"] = sorted(current)
            count = sum(len(i["instances"]) for i in [*series, *reissued])
            self._insert_revision(
                db, subject, revision, None, json.dumps(payload, separators=(",", ":")),
                content_hash([payload]), count, lead, "lead", project, "-", {}, saved_at,
            )  # fmt: skip
            self._insert_sources(db, headers or {})
            planned = plan_selection(
                site=self.site, epoch=self.epoch, project=project, revision=revision,
                items=items, lead=lead,
            )  # fmt: skip
            enqueue(db, subject, revision, planned, saved_at)
        return self.revision(subject, revision)

    def _latest_number(self, db: sqlite3.Connection, subject: str) -> int | None:
        row = db.execute(
            "SELECT max(revision) FROM revisions WHERE subject = ?", (subject,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _insert_revision(
        self, db: sqlite3.Connection, subject: str, revision: int, task: int | None,
        payload: str, content_hash: str, count: int, user: str, role: str, project: str,
        schema_version: str, schema: Mapping[str, Any], saved_at: float,
    ) -> None:  # fmt: skip
        db.execute(
            f"INSERT INTO revisions ({_REVISION_COLUMNS}) "  # noqa: S608 — a constant
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                subject, revision, task, payload, content_hash, count, user, role, project,
                schema_version, json.dumps(dict(schema), separators=(",", ":")), saved_at,
                LabelState.SAVED_AT_SITE.value,
            ),
        )  # fmt: skip

    def _insert_sources(self, db: sqlite3.Connection, headers: Mapping[str, Dataset]) -> None:
        for sop_uid, header in headers.items():
            exists = db.execute("SELECT 1 FROM sources WHERE sop_uid = ?", (sop_uid,)).fetchone()
            if not exists:
                db.execute("INSERT INTO sources VALUES (?, ?)", (sop_uid, header_bytes(header)))

    def set_state(self, subject: str, revision: int, state: LabelState, reason: str | None) -> bool:
        """Record a revision's state; True when it changed."""
        with self.lock:
            cursor = self.db.execute(
                "UPDATE revisions SET state = ?, reason = ? WHERE subject = ? AND revision = ? "
                "AND (state != ? OR coalesce(reason, '') != coalesce(?, ''))",
                (state.value, reason, subject, revision, state.value, reason),
            )
            return cursor.rowcount > 0

    def mark_reported(self, subject: str, revision: int, state: LabelState) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE revisions SET reported = ? WHERE subject = ? AND revision = ?",
                (state.value, subject, revision),
            )

    def forget_reports(self) -> None:
        """Report every task's latest state again (central ignores what it already has)."""
        with self.lock:
            self.db.execute("UPDATE revisions SET reported = NULL WHERE reported IS NOT NULL")

    # -- reads ---------------------------------------------------------------------------------

    def revision(self, subject: str, revision: int) -> Revision:
        with self.lock:
            row = self.db.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions "  # noqa: S608 — a constant
                "WHERE subject = ? AND revision = ?",
                (subject, revision),
            ).fetchone()
        if row is None:
            raise KeyError(f"{subject} has no revision {revision}")
        return _revision(row)

    def latest(self, subject: str) -> Revision | None:
        with self.lock:
            row = self.db.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions "  # noqa: S608 — a constant
                "WHERE subject = ? ORDER BY revision DESC LIMIT 1",
                (subject,),
            ).fetchone()
        return None if row is None else _revision(row)

    def unreported(self) -> list[Revision]:
        """The latest revision of each task whose state central has not been told yet."""
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions r "  # noqa: S608 — a constant
                "WHERE task IS NOT NULL AND coalesce(reported, '') != state AND revision = "
                "(SELECT max(revision) FROM revisions WHERE subject = r.subject)"
            ).fetchall()
        return [_revision(row) for row in rows]

    def headers(self, sop_uids: Sequence[str]) -> dict[str, Dataset]:
        with self.lock:
            rows = [
                self.db.execute(
                    "SELECT sop_uid, header FROM sources WHERE sop_uid = ?", (uid,)
                ).fetchone()
                for uid in sop_uids
            ]
        missing = [uid for uid, row in zip(sop_uids, rows, strict=True) if row is None]
        if missing:
            raise KeyError(f"{len(missing)} source headers missing from the label store")
        return {row[0]: header_from_bytes(row[1]) for row in rows if row is not None}
