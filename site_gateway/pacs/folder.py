"""``folder:PATH``: a directory of DICOM files as a PACS, indexed into SQLite.

The embedded default of ``make run``. The index is incremental (a file is re-read only when its
mtime or size changed), junk files are remembered as junk so they are not re-read, and ``store``
writes new objects under ``stored/`` with names the gateway makes up: a UID never becomes a path.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread, dcmwrite
from pydicom.errors import InvalidDicomError

from site_gateway.pacs.base import (
    InstanceRecord,
    Pacs,
    RetrievalFailure,
    RetrievalItem,
    RetrievedInstance,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    check_instance,
    is_valid_uid,
    require_storable,
    require_uid,
    with_file_meta,
)
from site_gateway.pacs.errors import PacsError, PacsErrorCode

INDEX_NAME = ".rhino-index.sqlite"
STORED_DIR = "stored"
# Only these attributes are read while indexing; pixel data is never touched.
_INDEX_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientID",
    "PatientName", "StudyDate", "StudyTime", "AccessionNumber", "StudyDescription", "Modality",
    "SeriesNumber", "SeriesDescription", "BodyPartExamined", "InstanceNumber", "NumberOfFrames",
]  # fmt: skip
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, ok INTEGER NOT NULL,
    sop_uid TEXT, sop_class_uid TEXT, study_uid TEXT, series_uid TEXT, patient_id TEXT,
    patient_name TEXT, study_date TEXT, study_time TEXT, accession TEXT, study_description TEXT,
    modality TEXT, series_number INTEGER, series_description TEXT, body_part TEXT,
    instance_number INTEGER, frames INTEGER
);
CREATE INDEX IF NOT EXISTS files_series ON files (series_uid) WHERE ok;
CREATE INDEX IF NOT EXISTS files_study ON files (study_uid) WHERE ok;
CREATE INDEX IF NOT EXISTS files_sop ON files (sop_uid) WHERE ok;
"""
_INSERT = "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_STUDY_SELECT = (
    "SELECT study_uid, max(patient_id), max(patient_name), max(study_date), max(study_time), "
    "max(accession), max(study_description), group_concat(DISTINCT modality), "
    "count(DISTINCT series_uid), count(*) FROM files"
)
_STUDY_GROUP = "GROUP BY study_uid ORDER BY max(study_date), study_uid"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _row_from_dataset(ds: Dataset) -> tuple[Any, ...] | None:
    """The index columns of a dataset, or None when it lacks the identifiers a PACS needs."""
    uids = [ds.get(k) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")]
    if not all(is_valid_uid(str(u)) for u in uids if u is not None) or None in uids:
        return None
    return (
        str(ds.SOPInstanceUID), str(ds.get("SOPClassUID", "")), str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID), str(ds.get("PatientID", "")), str(ds.get("PatientName", "")),
        str(ds.get("StudyDate", "")), str(ds.get("StudyTime", "")),
        str(ds.get("AccessionNumber", "")), str(ds.get("StudyDescription", "")),
        str(ds.get("Modality", "")), _int_or_none(ds.get("SeriesNumber")),
        str(ds.get("SeriesDescription", "")), str(ds.get("BodyPartExamined", "")),
        _int_or_none(ds.get("InstanceNumber")), _int_or_none(ds.get("NumberOfFrames")),
    )  # fmt: skip


class FolderPacs(Pacs):
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        index_path: str | os.PathLike[str] | None = None,
        rescan_interval: float = 2.0,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise PacsError(PacsErrorCode.UNREACHABLE, f"folder {self.root} does not exist")
        self._rescan_interval = rescan_interval
        self._last_scan = -float("inf")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            index_path or self.root / INDEX_NAME, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # -- indexing ------------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue  # our index, its WAL, and half-written files
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):  # symlinks could point anywhere: skipped
                    yield os.path.relpath(path, self.root), st

    def rescan(self) -> int:
        """Bring the index up to date; returns how many files were (re)read."""
        with self._lock:
            known = {
                row[0]: (row[1], row[2])
                for row in self._db.execute("SELECT path, mtime_ns, size FROM files")
            }
            seen: set[str] = set()
            changed: list[tuple[Any, ...]] = []
            for rel, st in self._walk():
                seen.add(rel)
                if known.get(rel) == (st.st_mtime_ns, st.st_size):
                    continue
                row = self._read_header(self.root / rel)
                ok = row is not None
                changed.append((rel, st.st_mtime_ns, st.st_size, int(ok), *(row or (None,) * 16)))
            gone = [(p,) for p in known if p not in seen]
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT, changed)
            self._db.executemany("DELETE FROM files WHERE path = ?", gone)
            self._db.execute("COMMIT")
            self._last_scan = time.monotonic()
            return len(changed)

    @staticmethod
    def _read_header(path: Path) -> tuple[Any, ...] | None:
        try:
            ds = dcmread(path, stop_before_pixels=True, specific_tags=_INDEX_TAGS)
            return _row_from_dataset(ds)
        except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, AttributeError):
            return None  # junk, truncated or unreadable: remembered as not ok

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if time.monotonic() - self._last_scan >= self._rescan_interval:
            self.rescan()
        with self._lock:
            return list(self._db.execute(sql, params))

    # -- Pacs ----------------------------------------------------------------------------------

    async def echo(self) -> None:
        await asyncio.to_thread(self._query, "SELECT 1")

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        query = query or StudyQuery()
        where, params = ["ok"], []
        for column, value in (
            ("study_uid", query.study_uid),
            ("patient_id", query.patient_id),
            ("accession", query.accession_number),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.modality is not None:
            where.append("study_uid IN (SELECT study_uid FROM files WHERE ok AND modality = ?)")
            params.append(query.modality)
        # Only the fixed column names above are interpolated; every value is a bound parameter.
        sql = f"{_STUDY_SELECT} WHERE {' AND '.join(where)} {_STUDY_GROUP}"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        rows = await asyncio.to_thread(self._query, sql, tuple(params))
        return [
            StudyRecord(
                study_uid=r[0],
                patient_id=r[1],
                patient_name=r[2],
                study_date=r[3],
                study_time=r[4],
                accession_number=r[5],
                study_description=r[6],
                modalities=tuple(sorted(m for m in (r[7] or "").split(",") if m)),
                number_of_series=r[8],
                number_of_instances=r[9],
            )
            for r in rows
        ]

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        require_uid(study_uid, "study")
        rows = await asyncio.to_thread(
            self._query,
            "SELECT series_uid, max(modality), max(series_number), max(series_description), "
            "max(body_part), count(*) FROM files WHERE ok AND study_uid = ? "
            "GROUP BY series_uid ORDER BY max(series_number), series_uid",
            (study_uid,),
        )
        return [
            SeriesRecord(
                study_uid=study_uid,
                series_uid=r[0],
                modality=r[1],
                series_number=r[2],
                series_description=r[3],
                body_part=r[4],
                number_of_instances=r[5],
            )
            for r in rows
        ]

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        require_uid(study_uid, "study")
        require_uid(series_uid, "series")
        rows = await asyncio.to_thread(
            self._query,
            "SELECT sop_uid, sop_class_uid, instance_number, frames FROM files "
            "WHERE ok AND study_uid = ? AND series_uid = ? GROUP BY sop_uid "
            "ORDER BY instance_number IS NULL, instance_number, sop_uid",
            (study_uid, series_uid),
        )
        return [InstanceRecord(study_uid, series_uid, r[0], r[1], r[2], r[3]) for r in rows]

    async def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        require_uid(study_uid, "study")
        require_uid(series_uid, "series")
        rows = await asyncio.to_thread(
            self._query,
            "SELECT sop_uid, min(path) FROM files WHERE ok AND study_uid = ? AND series_uid = ? "
            "GROUP BY sop_uid ORDER BY instance_number IS NULL, instance_number, sop_uid",
            (study_uid, series_uid),
        )
        if not rows:
            raise PacsError(PacsErrorCode.NOT_FOUND, "no such series in the folder")
        rows.sort(key=lambda r: r[0] != first_sop_uid)  # stable: the requested one first
        for sop_uid, rel in rows:
            try:
                data = await asyncio.to_thread((self.root / rel).read_bytes)
                checked_uid, _, data = check_instance(data, series_uid)
                if checked_uid != sop_uid:
                    raise PacsError(PacsErrorCode.MALFORMED_OBJECT, "file changed since indexed")
            except OSError as exc:
                yield RetrievalFailure(PacsError(PacsErrorCode.NOT_FOUND, str(exc)), sop_uid)
            except PacsError as exc:
                yield RetrievalFailure(exc, sop_uid)
            else:
                yield RetrievedInstance(sop_uid, data)

    async def store(self, dataset: Dataset) -> None:
        await asyncio.to_thread(self._store, dataset)

    def _store(self, dataset: Dataset) -> None:
        require_storable(dataset)
        row = _row_from_dataset(dataset)
        if row is None:
            raise PacsError(PacsErrorCode.MALFORMED_OBJECT, "object identifiers are not valid")
        existing = self._query("SELECT 1 FROM files WHERE ok AND sop_uid = ?", (row[0],))
        if existing:
            return  # idempotent on SOP Instance UID, like a PACS that keeps the first copy
        data = _encode(dataset)
        directory = self.root / STORED_DIR / time.strftime("%Y%m%d")
        directory.mkdir(parents=True, exist_ok=True)
        # A symlinked stored/ would send our writes elsewhere: refuse rather than follow.
        if not directory.resolve().is_relative_to(self.root):
            raise PacsError(PacsErrorCode.FAILURE_STATUS, "stored/ leaves the PACS folder")
        name = secrets.token_hex(16) + ".dcm"  # never derived from anything the sender chose
        tmp = directory / f".{name}.part"
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / name)
        st = os.stat(directory / name)
        rel = os.path.relpath(directory / name, self.root)
        with self._lock:
            self._db.execute(
                _INSERT,
                (rel, st.st_mtime_ns, st.st_size, 1, *row),
            )

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()


def _encode(dataset: Dataset) -> bytes:
    """The Part 10 bytes of ``dataset``."""
    buffer = io.BytesIO()
    try:
        dcmwrite(buffer, with_file_meta(dataset), enforce_file_format=True)
    except Exception as exc:  # pydicom cannot encode it: the object is at fault
        raise PacsError(PacsErrorCode.MALFORMED_OBJECT, f"object does not encode: {exc}") from exc
    return buffer.getvalue()
