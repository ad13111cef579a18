"""Refused documents: a coded error (label_invalid + detail) and nothing written, not even in part."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from site_gateway.grants import Grant
from site_gateway.labels.document import LabelInvalidError, LabelLimits, encode_mask
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelConflictError
from site_gateway.protocol import ErrorCode
from tests.imaging.dicom_out.sources import COLUMNS, ROWS
from tests.site_gateway.labels.helpers import (
    KEY,
    document,
    every_kind,
    frame,
    make_grant,
    point_document,
)


def _counts(tmp_path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(tmp_path / "labels.sqlite")
    try:
        return tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("revisions", "outbox", "sources")
        )
    finally:
        db.close()


def _with(annotation: dict[str, Any], handle: str) -> dict[str, Any]:
    return document([*every_kind(handle)[:2], annotation])


def _mask(rows: int, columns: int) -> dict[str, Any]:
    pixels = np.zeros((rows, columns), dtype=bool)
    pixels[0, 0] = True
    return {"rows": rows, "columns": columns, "rle": encode_mask(pixels)}


def _bad_documents(handle: str) -> list[tuple[str, Any]]:
    other = KEY.handle(__import__("imaging").HandleKind.SERIES, "1.2.3.4.5")
    point = every_kind(handle)[4]
    cases: list[tuple[str, Any]] = [
        ("malformed", "not a document"),
        ("malformed", {**document([]), "annotations": "none"}),
        ("bad_version", {**document([]), "version": 2}),
        ("wrong_task", document([], task=99)),
        ("schema_mismatch", {**document([]), "schema_version": 2}),
        ("unknown_label", _with({**point, "label": "kidney"}, handle)),
        ("wrong_kind", _with({**point, "label": "nodule"}, handle)),
        ("unknown_tool", _with({**point, "tool": "arrow"}, handle)),
        ("out_of_bounds", _with({**point, "geometry": {"points": [[COLUMNS + 0.5, 1.0]]}}, handle)),
        ("out_of_bounds", _with({**point, "geometry": {"points": [[-1.0, 1.0]]}}, handle)),
        ("malformed", _with({**point, "geometry": {"points": [[1.0, "x"]]}}, handle)),
        ("bad_geometry", _with({**point, "geometry": {"points": [[1.0, 1.0], [2.0, 2.0]]}}, handle)),
        ("out_of_scope", _with({**point, "frame": frame(other, 0)}, handle)),
        ("frame_out_of_range", _with({**point, "frame": frame(handle, 3)}, handle)),
        ("mpr_not_supported", _with({**point, "frame": {**frame(handle, 0), "plane": "coronal"}}, handle)),
        ("frame_mismatch", _with({**point, "frame": {**frame(handle, 0), "instance": "in_x"}}, handle)),
        ("duplicate", document([point, point])),
        ("mask_shape", _with({"uid": "b", "tool": "brush", "label": "tumour", "frame": frame(handle, 0),
                              "mask": _mask(ROWS + 1, COLUMNS)}, handle)),
        ("too_large", _with({"uid": "b", "tool": "brush", "label": "tumour", "frame": frame(handle, 0),
                             "mask": _mask(5000, 5000)}, handle)),
        ("empty_mask", _with({"uid": "b", "tool": "brush", "label": "tumour", "frame": frame(handle, 0),
                              "mask": {"rows": ROWS, "columns": COLUMNS, "rle": [ROWS * COLUMNS]}}, handle)),
        ("mask_shape", _with({"uid": "b", "tool": "brush", "label": "tumour", "frame": frame(handle, 0),
                              "mask": {"rows": ROWS, "columns": COLUMNS, "rle": [5, 5]}}, handle)),
        ("degenerate_geometry", _with({**every_kind(handle)[0], "uid": "r9", "geometry": {"points": [[1.0, 1.0], [1.0, 9.0]]}}, handle)),
    ]  # fmt: skip
    return cases


async def test_bad_documents_are_refused_with_a_detail_and_leave_nothing(
    service: LabelService, grant: Grant, handle: str, tmp_path: Path
) -> None:
    for detail, bad in _bad_documents(handle):
        with pytest.raises(LabelInvalidError) as caught:
            await service.save(grant, copy.deepcopy(bad))
        assert caught.value.detail == detail, (detail, caught.value)
        assert caught.value.code is ErrorCode.LABEL_INVALID
    assert _counts(tmp_path) == (0, 0, 0)


async def test_a_refusal_in_the_last_annotation_writes_none_of_the_others(
    service: LabelService, grant: Grant, handle: str, tmp_path: Path
) -> None:
    annotations = every_kind(handle)
    annotations[-1] = {**annotations[4], "uid": "late", "geometry": {"points": [[1e6, 1.0]]}}
    with pytest.raises(LabelInvalidError):
        await service.save(grant, document(annotations))
    assert _counts(tmp_path) == (0, 0, 0)


async def test_too_many_annotations_is_refused(
    service: LabelService, grant: Grant, handle: str
) -> None:
    service.limits = LabelLimits(max_annotations=3)
    with pytest.raises(LabelInvalidError) as caught:
        await service.save(grant, document(every_kind(handle)))
    assert caught.value.detail == "too_large"


async def test_a_save_on_a_stale_revision_is_a_conflict(
    service: LabelService, grant: Grant, handle: str, tmp_path: Path
) -> None:
    first = await service.save(grant, point_document(handle, 1, None))
    await service.save(grant, point_document(handle, 2, first.revision))
    with pytest.raises(LabelConflictError):
        await service.save(grant, point_document(handle, 3, first.revision))
    with pytest.raises(LabelConflictError):
        await service.save(grant, point_document(handle, 3, None))
    assert _counts(tmp_path)[0] == 2


async def test_a_length_on_an_image_without_pixel_spacing_is_refused(
    service: LabelService, ct: list[Any], handle: str
) -> None:
    del ct[0].PixelSpacing
    with pytest.raises(LabelInvalidError) as caught:
        await service.save(make_grant([handle]), document([every_kind(handle)[5]]))
    assert caught.value.detail == "no_pixel_spacing"
