"""The site's handle ↔ UID map (SQLite): the only place a handle turns back into a DICOM UID.

Handles come from ``imaging.handles.HandleKey`` (keyed HMAC of the UID). The map only answers
for handles it issued: a well-formed handle of an unknown object is refused like any other id,
so a peer cannot probe for UIDs by guessing.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import threading
from dataclasses import dataclass

from imaging.handles import HandleKey, HandleKind, handle_kind
from site_gateway.pacs.base import is_valid_uid

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handles (
    handle TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    study_handle TEXT,
    series_handle TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS handles_series ON handles (series_handle, seq);
CREATE INDEX IF NOT EXISTS handles_study ON handles (study_handle, seq);
"""


class HandleErrorCode(enum.StrEnum):
    NOT_A_HANDLE = "not_a_handle"
    UNKNOWN_HANDLE = "unknown_handle"
    WRONG_KIND = "wrong_kind"
    BAD_UID = "bad_uid"


class HandleError(ValueError):
    def __init__(self, code: HandleErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class HandleEntry:
    handle: str
    kind: HandleKind
    uid: str
    study_handle: str | None
    series_handle: str | None


class HandleMap:
    """handle → (kind, UID, parent handles). Thread-safe; ``path`` may be ``":memory:"``."""

    def __init__(self, path: str | os.PathLike[str], key: HandleKey) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def _add(
        self, kind: HandleKind, uid: str, study_handle: str | None, series_handle: str | None
    ) -> str:
        if not is_valid_uid(uid):
            raise HandleError(HandleErrorCode.BAD_UID, f"not a DICOM UID (PS3.5 9.1): {uid!r}")
        handle = self._key.handle(kind, uid)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO handles VALUES "
                "(?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM handles))",
                (handle, kind.value, uid, study_handle, series_handle),
            )
        return handle

    def add_study(self, study_uid: str) -> str:
        return self._add(HandleKind.STUDY, study_uid, None, None)

    def add_series(self, study_uid: str, series_uid: str) -> str:
        return self._add(HandleKind.SERIES, series_uid, self.add_study(study_uid), None)

    def add_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> str:
        series_handle = self.add_series(study_uid, series_uid)
        return self._add(
            HandleKind.INSTANCE,
            sop_uid,
            self._key.handle(HandleKind.STUDY, study_uid),
            series_handle,
        )

    def resolve(self, handle: object, kind: HandleKind | None = None) -> HandleEntry:
        """The entry of a handle this map issued; ``HandleError`` for anything else."""
        if not isinstance(handle, str):
            raise HandleError(HandleErrorCode.NOT_A_HANDLE, "a handle is a string")
        try:
            actual = handle_kind(handle)
        except ValueError:
            raise HandleError(HandleErrorCode.NOT_A_HANDLE, "not a handle") from None
        if kind is not None and actual is not kind:
            raise HandleError(HandleErrorCode.WRONG_KIND, f"expected a {kind.name.lower()} handle")
        with self._lock:
            row = self._db.execute(
                "SELECT kind, uid, study_handle, series_handle FROM handles WHERE handle = ?",
                (handle,),
            ).fetchone()
        if row is None:
            raise HandleError(HandleErrorCode.UNKNOWN_HANDLE, "no such object at this site")
        return HandleEntry(handle, HandleKind(row[0]), row[1], row[2], row[3])

    def uid(self, handle: object, kind: HandleKind) -> str:
        return self.resolve(handle, kind).uid

    def children(self, handle: str) -> list[HandleEntry]:
        """Series of a study or instances of a series, in the order they were added."""
        parent = self.resolve(handle)
        column = {HandleKind.STUDY: "study_handle", HandleKind.SERIES: "series_handle"}.get(
            parent.kind
        )
        if column is None:
            return []
        child_kind = HandleKind.SERIES if parent.kind is HandleKind.STUDY else HandleKind.INSTANCE
        with self._lock:
            rows = self._db.execute(
                f"SELECT handle, uid, study_handle, series_handle FROM handles "  # noqa: S608
                f"WHERE {column} = ? AND kind = ? ORDER BY seq",
                (handle, child_kind.value),
            ).fetchall()
        return [HandleEntry(r[0], child_kind, r[1], r[2], r[3]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
