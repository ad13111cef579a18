"""Label test helpers: a source series built in code, grants, documents, a lookup, dciodvfy."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from imaging import HandleKey, HandleKind
from site_gateway.grants import Grant, new_nonce
from site_gateway.labels.document import encode_mask
from site_gateway.labels.sources import FrameSource, SeriesInstances, SourceError
from site_gateway.protocol import Action
from tests.imaging.dicom_out import sources as src
from tests.parts import require_binary

SITE = "site-a"
PROJECT = "lungs"
TASK = 12
KEY = HandleKey(b"labels-test-handle-key-32-bytes!")
SCHEMA: dict[str, Any] = {
    "version": 3,
    "entries": [
        {"key": "nodule", "code_value": "27925004", "coding_scheme": "SCT",
         "code_meaning": "Nodule", "kind": "region", "colour": "#ffb000"},
        {"key": "landmark", "code_value": "123037004", "coding_scheme": "SCT",
         "code_meaning": "Anatomical structure", "kind": "point", "colour": "#00ff00"},
        {"key": "diameter", "code_value": "103339001", "coding_scheme": "SCT",
         "code_meaning": "Long axis", "kind": "measurement", "colour": "#00ffff"},
        {"key": "tumour", "code_value": "108369006", "coding_scheme": "SCT",
         "code_meaning": "Neoplasm", "kind": "mask", "colour": "#ff0000"},
        {"key": "normal", "code_value": "17621005", "coding_scheme": "SCT",
         "code_meaning": "Normal", "kind": "classification", "colour": "#ffffff"},
    ],
}  # fmt: skip


def series_handle(series: Sequence[Dataset]) -> str:
    return KEY.handle(HandleKind.SERIES, str(series[0].SeriesInstanceUID))


def make_grant(series: Sequence[str], *, task: int = TASK, user: str = "u_1a2b3c") -> Grant:
    now = int(time.time())
    return Grant(
        session="00000000-0000-4000-8000-000000000001",
        user=user,
        role="annotator",
        task=task,
        project=PROJECT,
        site=SITE,
        series=tuple(series),
        actions=frozenset({Action.ANNOTATE, Action.VIEW}),
        issued_at=now,
        expires_at=now + 3600,
        nonce=new_nonce(),
        schema=SCHEMA,
    )


class StaticLookup:
    """A lookup over series held in memory (the production one reads the instance cache)."""

    def __init__(self, *series: Sequence[Dataset]) -> None:
        self.series = {series_handle(s): list(s) for s in series}

    async def frame(self, series: str, index: int) -> FrameSource:
        items = self.series.get(series)
        if items is None:
            raise SourceError("source_unavailable", "no such series")
        frames = _frames(items)
        if not 0 <= index < len(frames):
            raise SourceError("frame_out_of_range", f"index {index} outside the series")
        ds, number = frames[index]
        return FrameSource(
            series, index, KEY.handle(HandleKind.INSTANCE, str(ds.SOPInstanceUID)), ds, number
        )

    async def series_instances(self, series: str) -> SeriesInstances:
        items = self.series.get(series)
        if items is None:
            raise SourceError("source_unavailable", "no such series")
        return SeriesInstances(
            series=series,
            study_uid=str(items[0].StudyInstanceUID),
            series_uid=str(items[0].SeriesInstanceUID),
            instances=tuple((str(d.SOPClassUID), str(d.SOPInstanceUID)) for d in items),
            frames=tuple((str(d.SOPInstanceUID), n) for d, n in _frames(items)),
        )


def _frames(items: Sequence[Dataset]) -> list[tuple[Dataset, int | None]]:
    """The viewer's slices: every frame of a multi-frame instance, in order (as SeriesSource)."""
    out: list[tuple[Dataset, int | None]] = []
    for ds in items:
        if "NumberOfFrames" in ds:
            out += [(ds, n + 1) for n in range(int(ds.NumberOfFrames))]
        else:
            out.append((ds, None))
    return out


def ct_series(slices: int = 3) -> list[Dataset]:
    return src.ct_series(slices)


def frame(series: str, index: int) -> dict[str, Any]:
    return {"series": series, "index": index, "plane": "axial"}


def every_kind(
    series: str, rows: int = src.ROWS, columns: int = src.COLUMNS
) -> list[dict[str, Any]]:
    """One annotation of every tool the viewer has (coordinates in multiples of 1/8)."""
    import numpy as np

    mask = np.zeros((rows, columns), dtype=bool)
    mask[10:20, 12:30] = True
    f0, f1 = frame(series, 0), frame(series, 1)
    return [
        {"uid": "r1", "tool": "rectangle", "label": "nodule", "frame": f0,
         "geometry": {"points": [[4.5, 5.25], [20.0, 30.125]]}},
        {"uid": "e1", "tool": "ellipse", "label": "nodule", "frame": f1,
         "geometry": {"points": [[10.0, 10.0], [30.0, 20.0]]}},
        {"uid": "p1", "tool": "polygon", "label": "nodule", "frame": f0,
         "geometry": {"points": [[1.0, 1.0], [10.0, 1.0], [5.0, 8.0]]}},
        {"uid": "f1", "tool": "freehand", "label": "nodule", "frame": f1,
         "geometry": {"points": [[1.0, 1.0], [10.0, 1.0], [12.0, 4.0], [5.0, 8.0]]}},
        {"uid": "pt1", "tool": "point", "label": "landmark", "frame": f0,
         "geometry": {"points": [[32.0, 24.0]]}},
        {"uid": "l1", "tool": "length", "label": "diameter", "frame": f0,
         "geometry": {"points": [[2.0, 3.0], [40.0, 30.0]]},
         "measurement": {"value": 25.0, "unit": "mm"}},
        {"uid": "a1", "tool": "angle", "label": "diameter", "frame": f1,
         "geometry": {"points": [[2.0, 3.0], [20.0, 20.0], [40.0, 3.0]]},
         "measurement": {"value": 90.0, "unit": "deg"}},
        {"uid": "c1", "tool": "classification", "label": "normal", "level": "image",
         "frame": f0, "geometry": {"points": []}},
        {"uid": "c2", "tool": "classification", "label": "normal", "level": "series",
         "frame": f1, "geometry": {"points": []}},
        {"uid": "c3", "tool": "classification", "label": "normal", "level": "study",
         "frame": None, "geometry": {"points": []}},
        {"uid": "b1", "tool": "brush", "label": "tumour", "frame": f1, "geometry": {"points": []},
         "mask": {"rows": rows, "columns": columns, "rle": encode_mask(mask)}},
    ]  # fmt: skip


def document(
    annotations: list[dict[str, Any]], *, base: int | None = None, task: int = TASK
) -> dict[str, Any]:
    return {
        "version": 1,
        "task": task,
        "schema_version": SCHEMA["version"],
        "base_revision": base,
        "annotations": annotations,
    }


def point_document(series: str, n: int, base: int | None) -> dict[str, Any]:
    """A document of one point whose place depends on ``n`` (an edit per revision)."""
    x = 1.0 + (n % 60)
    point = {"uid": "pt", "tool": "point", "label": "landmark", "frame": frame(series, 0),
             "geometry": {"points": [[x, 2.0 + (n // 60)]]}}  # fmt: skip
    return document([point], base=base)


def dciodvfy_errors(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's (errors, warnings) for one file."""
    binary = require_binary("dciodvfy", "dicom3tools")
    result = subprocess.run(
        [binary, "-new", str(path)], capture_output=True, text=True, check=False
    )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    warnings = [line for line in lines if line.startswith("Warning")]
    return errors, warnings


def dciodvfy_clean(data: bytes, tmp_path: Path, name: str) -> list[str]:
    """Write ``data``, fail on any dciodvfy error, return its warnings."""
    path = tmp_path / f"{name}.dcm"
    path.write_bytes(data)
    errors, warnings = dciodvfy_errors(path)
    assert not errors, f"{name}:\n" + "\n".join(errors)
    return warnings


def dciodvfy_every_object(store_path: Path, tmp_path: Path) -> int:
    """Every object the outbox built must pass dciodvfy without errors; returns how many."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    db = sqlite3.connect(store_path)
    try:
        rows = db.execute("SELECT sop_uid, data FROM outbox WHERE data IS NOT NULL").fetchall()
    finally:
        db.close()
    folder = tmp_path / "dciodvfy"
    folder.mkdir(exist_ok=True)
    paths = []
    for sop_uid, data in rows:
        paths.append(folder / f"{sop_uid}.dcm")
        paths[-1].write_bytes(data)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(dciodvfy_errors, paths))
    errors = [f"{p.name}: {e}" for p, (found, _) in zip(paths, results, strict=True) for e in found]
    assert not errors, "\n".join(errors[:20])
    return len(rows)


def read(data: bytes) -> Dataset:
    import io

    return pydicom.dcmread(io.BytesIO(data))
