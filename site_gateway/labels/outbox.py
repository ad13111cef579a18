"""The outbox: one row per DICOM object to deliver, keyed by its derived SOP Instance UID.

A revision is planned into objects when it is saved (same transaction as the revision):

- SR (TID 1500) per (task, study) for regions, points, lengths, angles and classifications;
- SEG per (task, source series) for brush masks (one SEG derives from one series, PS3.3 C.8.20);
- KOS per (project selection, study, reason) for the lead's series selections
  (``selections.py``).

Each of these is a *stream*: one write-back series (UID derived from the stream key) in which each
revision is a new instance (``InstanceNumber`` = revision) that references the instance it
supersedes; nothing is ever overwritten. A stream whose content did not change in a revision gets
no new object: the revision links to the row that already carries that content.

UIDs are ``derive_uid(key)`` (PS3.5 B.2, ``2.25.<uuid5>``), so the same revision always maps to
the same SOP Instance UID: retries, restarts and a replayed ``kill -9`` cannot make a second object.
The store's random epoch is part of the key, so a gateway rebuilt with an empty store (starting
again at revision 1) cannot reuse a UID that names another object already in the PACS.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from imaging.dicom_out import derive_uid
from site_gateway.labels.document import LabelRecord, content_hash
from site_gateway.protocol import LabelState

SOP_CLASSES = {
    "sr": "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR Storage
    "seg": "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
    "kos": "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection Document Storage
    "retire": "1.2.840.10008.5.1.4.1.1.88.59",  # a KOS rejection note (IHE IOCM)
}
# A stream's rejection notes live in a series of their own (a series holds one modality): the
# stream's key with this suffix.
RETIRED_SUFFIX = "/retired"
PENDING, STORED, DEAD = "pending", "stored", "dead"


@dataclass(frozen=True)
class PlannedObject:
    kind: str
    stream: str
    study_uid: str
    group_hash: str
    members: tuple[str, ...]  # annotation uids (SR, SEG) or selected series handles (KOS)
    epoch: str
    revision: int = 0

    @property
    def series_uid(self) -> str:
        return derive_uid(self.stream)

    @property
    def sop_uid(self) -> str:
        return derive_uid(f"{self.stream}/{self.epoch}/{self.revision}")

    def for_revision(self, revision: int) -> PlannedObject:
        return replace(self, revision=revision)


@dataclass(frozen=True)
class OutboxRow:
    sop_uid: str
    subject: str
    revision: int
    kind: str
    stream: str
    study_uid: str
    series_uid: str
    supersedes: str | None
    members: tuple[str, ...]
    state: str
    attempts: int
    next_at: float
    reason: str | None
    data: bytes | None

    @property
    def sop_class_uid(self) -> str:
        return SOP_CLASSES[self.kind]


_ROW_COLUMNS = (
    "sop_uid, subject, revision, kind, stream, study_uid, series_uid, supersedes, members, "
    "state, attempts, next_at, reason, data"
)


def _row(row: Sequence[Any]) -> OutboxRow:
    return OutboxRow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
        tuple(json.loads(row[8])), row[9], row[10], row[11], row[12], row[13],
    )  # fmt: skip


def plan_task(
    site: str, epoch: str, task: int, revision: int, records: Sequence[LabelRecord]
) -> list[PlannedObject]:
    """The objects of one task revision: SR per study, SEG per source series."""
    groups: dict[tuple[str, str, str], list[LabelRecord]] = {}
    for record in records:
        if record.tool == "brush":
            key = ("seg", record.series_uid, record.study_uid)
        else:
            key = ("sr", record.study_uid, record.study_uid)
        groups.setdefault(key, []).append(record)
    planned = []
    for (kind, scope, study_uid), members in sorted(groups.items()):
        members.sort(key=lambda r: r.uid)
        planned.append(
            PlannedObject(
                kind=kind,
                stream=f"{site}/task/{task}/{kind}/{scope}",
                study_uid=study_uid,
                group_hash=content_hash([r.viewer_json() for r in members]),
                members=tuple(r.uid for r in members),
                epoch=epoch,
                revision=revision,
            )
        )
    return planned


def enqueue(
    db: sqlite3.Connection,
    subject: str,
    revision: int,
    planned: Sequence[PlannedObject],
    now: float,
) -> None:
    """Insert the revision's rows (inside the caller's transaction); reuse unchanged streams."""
    for item in planned:
        previous = db.execute(
            "SELECT sop_uid, group_hash FROM outbox WHERE stream = ? AND state != ? "
            "ORDER BY revision DESC LIMIT 1",
            (item.stream, DEAD),
        ).fetchone()
        retired = previous is not None and previous[0] in _rejected(db, item.stream)
        if previous is not None and previous[1] == item.group_hash and not retired:
            sop_uid = previous[0]  # same content already on its way: no new instance
        else:
            sop_uid = item.sop_uid
            # A selection adds to what earlier KOS of its stream list: a new KOS replaces the
            # previous one only when that one was rejected (selections.py re-issues it).
            supersedes = None if item.kind == "kos" and not retired else previous
            db.execute(
                "INSERT INTO outbox (sop_uid, subject, revision, kind, stream, study_uid, "
                "series_uid, supersedes, group_hash, members, state, attempts, next_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    sop_uid, subject, revision, item.kind, item.stream, item.study_uid,
                    item.series_uid, None if supersedes is None else supersedes[0],
                    item.group_hash,
                    json.dumps(list(item.members)), PENDING, now, now,
                ),
            )  # fmt: skip
        db.execute(
            "INSERT OR IGNORE INTO revision_objects VALUES (?, ?, ?)", (subject, revision, sop_uid)
        )


def _rejected(db: sqlite3.Connection, stream: str) -> set[str]:
    """The stream's objects that a rejection note already lists."""
    rows = db.execute(
        "SELECT members FROM outbox WHERE stream = ? AND state != ?",
        (stream + RETIRED_SUFFIX, DEAD),
    )
    return {uid for (members,) in rows for uid in json.loads(members)}


def retire_dropped(
    db: sqlite3.Connection,
    subject: str,
    revision: int,
    planned: Sequence[PlannedObject],
    *,
    epoch: str,
    now: float,
) -> None:
    """Queue a rejection note for each SR/SEG stream of ``subject`` that this revision no longer
    has (the reader deleted every label that stream carried): without it the stream's last
    object would stay the newest in the PACS, and a read-back would bring the labels back."""
    kept = {item.stream for item in planned}
    streams = db.execute(
        "SELECT DISTINCT stream, study_uid FROM outbox WHERE subject = ? AND kind IN ('sr', 'seg')",
        (subject,),
    ).fetchall()
    for stream, study_uid in sorted(streams):
        if stream in kept:
            continue
        objects = [
            uid
            for (uid,) in db.execute(
                "SELECT sop_uid FROM outbox WHERE stream = ? AND state != ? ORDER BY revision",
                (stream, DEAD),
            )
        ]
        already = _rejected(db, stream)
        to_reject = [uid for uid in objects if uid not in already]
        if to_reject:
            queue_rejection(
                db, subject, revision, stream, study_uid, to_reject, epoch=epoch, now=now
            )


def queue_rejection(
    db: sqlite3.Connection,
    subject: str,
    revision: int,
    stream: str,
    study_uid: str,
    to_reject: Sequence[str],
    *,
    epoch: str,
    now: float,
) -> str:
    """Insert the rejection note (kind ``retire``) of ``revision`` listing ``to_reject``, objects
    of ``stream`` (one study), in the stream's ``/retired`` series; returns its SOP Instance UID."""
    notes = stream + RETIRED_SUFFIX
    sop_uid = derive_uid(f"{notes}/{epoch}/{revision}")
    db.execute(
        "INSERT INTO outbox (sop_uid, subject, revision, kind, stream, study_uid, "
        "series_uid, supersedes, group_hash, members, state, attempts, next_at, "
        "created_at) VALUES (?, ?, ?, 'retire', ?, ?, ?, NULL, ?, ?, ?, 0, ?, ?)",
        (
            sop_uid, subject, revision, notes, study_uid, derive_uid(notes),
            content_hash([{"rejected": list(to_reject)}]), json.dumps(list(to_reject)), PENDING,
            now, now,
        ),
    )  # fmt: skip
    db.execute(
        "INSERT OR IGNORE INTO revision_objects VALUES (?, ?, ?)", (subject, revision, sop_uid)
    )
    return sop_uid


class Outbox:
    """Row operations of the delivery worker, over the label store's connection."""

    def __init__(self, db: sqlite3.Connection, lock: Any) -> None:
        self._db = db
        self._lock = lock

    def next_due(self, now: float) -> tuple[OutboxRow | None, float | None]:
        """The pending row due first: (row, None) if due now, else (None, when the next is due)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM outbox WHERE state = ? "  # noqa: S608 — a constant
                "ORDER BY next_at, rowid LIMIT 1",
                (PENDING,),
            ).fetchone()
        if row is None:
            return None, None
        item = _row(row)
        if item.next_at > now:
            return None, item.next_at
        return item, None

    def get(self, sop_uid: str) -> OutboxRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM outbox WHERE sop_uid = ?",  # noqa: S608
                (sop_uid,),
            ).fetchone()
        return None if row is None else _row(row)

    def set_data(self, sop_uid: str, data: bytes) -> None:
        """Keep the built object; only set once, so every later attempt sends these bytes."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET data = ? WHERE sop_uid = ? AND data IS NULL", (data, sop_uid)
            )

    def mark_stored(self, sop_uid: str, now: float, note: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, stored_at = ?, reason = ?, attempts = attempts + 1 "
                "WHERE sop_uid = ?",
                (STORED, now, note, sop_uid),
            )

    def mark_retry(self, sop_uid: str, next_at: float, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?, reason = ? "
                "WHERE sop_uid = ?",
                (next_at, reason, sop_uid),
            )

    def mark_dead(self, sop_uid: str, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, reason = ?, attempts = attempts + 1 "
                "WHERE sop_uid = ?",
                (DEAD, reason, sop_uid),
            )

    def requeue(self, sop_uid: str, now: float) -> bool:
        """An operator sends a dead letter again (after fixing the PACS side)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE outbox SET state = ?, next_at = ?, attempts = 0 "
                "WHERE sop_uid = ? AND state = ?",
                (PENDING, now, sop_uid, DEAD),
            )
            return cursor.rowcount > 0

    def revisions_of(self, sop_uid: str) -> list[tuple[str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT subject, revision FROM revision_objects WHERE sop_uid = ?", (sop_uid,)
            ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def revision_state(self, subject: str, revision: int) -> tuple[LabelState, str | None]:
        """Failed if any of its objects is dead, stored when all are, saved at site otherwise."""
        with self._lock:
            rows = self._db.execute(
                "SELECT o.state, o.reason FROM revision_objects r JOIN outbox o "
                "ON o.sop_uid = r.sop_uid WHERE r.subject = ? AND r.revision = ?",
                (subject, revision),
            ).fetchall()
        dead = [reason for state, reason in rows if state == DEAD]
        if dead:
            return LabelState.FAILED, dead[0]
        if all(state == STORED for state, _ in rows):
            return LabelState.STORED_IN_PACS, None
        return LabelState.SAVED_AT_SITE, None

    def dead_letters(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sop_uid, subject, revision, kind, attempts, reason, created_at "
                "FROM outbox WHERE state = ? ORDER BY created_at",
                (DEAD,),
            ).fetchall()
        keys = ("sop_uid", "subject", "revision", "kind", "attempts", "reason", "created_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def summary(self, now: float) -> dict[str, Any]:
        """For the heartbeat: counts only (no UIDs leave the site)."""
        with self._lock:
            counts = dict(
                self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
            )
            oldest = self._db.execute(
                "SELECT min(created_at) FROM outbox WHERE state = ?", (PENDING,)
            ).fetchone()[0]
        return {
            "pending": int(counts.get(PENDING, 0)),
            "stored": int(counts.get(STORED, 0)),
            "dead": int(counts.get(DEAD, 0)),
            "oldest_pending_seconds": None if oldest is None else round(now - oldest, 1),
        }
