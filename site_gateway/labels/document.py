"""Label documents: parse what ``label.save`` carries, validate it against the grant, the task's
schema and the source images, and turn it into typed records.

The document is the viewer's (``frontend/static/viewer/document.js``)::

    {"version": 1, "task": 12, "schema_version": 1, "base_revision": 3 | null,
     "annotations": [{"uid", "tool", "label", "frame": {"series", "index", "plane"?,
                      "instance"?} | null, "level"?, "geometry": {"points": [[x, y], …]},
                      "measurement"?: {"value", "unit"}, "mask"?: {"rows", "columns", "rle"}}]}

Coordinates are image pixel coordinates of the frame (column x, row y, the top-left corner of the
image at (0, 0)), the SCOORD convention of PS3.3 C.18.6.1.1 that ``imaging.dicom_out`` takes.
Everything is checked before anything is stored; a refusal is ``LabelInvalidError`` with a stable
``detail`` code (docs/writeback.md lists them).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imaging.dicom_out import (
    Classification,
    CodedLabel,
    LabelKind,
    Length,
    SourceImage,
    WritebackError,
)
from imaging.dicom_out.checks import check_inside, resolve
from site_gateway.grants import Grant
from site_gateway.labels.records import (
    LabelInvalidError,
    LabelRecord,
    content_hash,
    decode_mask,
    encode_mask,
    records_payload,
    schema_labels,
    stored_records,
    to_shapes,
)
from site_gateway.labels.sources import FrameSource, SourceError, SourceLookup
from site_gateway.protocol import ErrorCode

DOCUMENT_VERSION = 1
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Which label kinds each viewer tool may carry (the viewer's tools/shapes.js, brush.js, classify.js).
TOOL_KINDS: dict[str, LabelKind] = {
    "rectangle": LabelKind.REGION,
    "ellipse": LabelKind.REGION,
    "polygon": LabelKind.REGION,
    "freehand": LabelKind.REGION,
    "point": LabelKind.POINT,
    "length": LabelKind.MEASUREMENT,
    "angle": LabelKind.MEASUREMENT,
    "brush": LabelKind.MASK,
    "classification": LabelKind.CLASSIFICATION,
}
_POINT_COUNTS: dict[str, tuple[int, int | None]] = {
    "rectangle": (2, 2),
    "ellipse": (2, 2),
    "point": (1, 1),
    "length": (2, 2),
    "angle": (3, 3),
    "polygon": (3, None),
    "freehand": (3, None),
    "brush": (0, 0),
    "classification": (0, 0),
}


@dataclass(frozen=True)
class LabelLimits:
    """Caps that keep one document from exhausting the gateway (memory, SQLite, build time)."""

    max_annotations: int = 5000
    max_points: int = 20_000  # per annotation
    max_mask_pixels: int = 4096 * 4096  # per mask (one frame)
    max_total_mask_pixels: int = 64 * 1024 * 1024  # decoded, per document
    max_runs: int = 4_000_000  # run lengths, per document


@dataclass(frozen=True, eq=False)
class ValidatedDocument:
    task: int
    schema_version: str
    base_revision: int | None
    records: tuple[LabelRecord, ...]
    headers: dict[str, Any] = field(default_factory=dict)  # SOP Instance UID → header Dataset

    @property
    def count(self) -> int:
        return len(self.records)

    def viewer_annotations(self) -> list[dict[str, Any]]:
        return [r.viewer_json() for r in sorted(self.records, key=lambda r: r.uid)]

    @property
    def content_hash(self) -> str:
        return content_hash(self.viewer_annotations())


# --- parsing (no I/O) ---


def _fail(detail: str, message: str) -> LabelInvalidError:
    return LabelInvalidError(detail, message)


def _int(value: object, what: str, low: int = 0, high: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail("malformed", f"{what} must be an integer {low}…{high}")
    return value


def _points(
    raw: object, tool: str, limits: LabelLimits, uid: str
) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, dict) or not isinstance(raw.get("points"), list):
        raise _fail("malformed", f"annotation {uid}: geometry is {{points: [[x, y], …]}}")
    low, high = _POINT_COUNTS[tool]
    values = raw["points"]
    if len(values) > limits.max_points:
        raise _fail("too_large", f"annotation {uid}: more than {limits.max_points} points")
    points = []
    for value in values:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not all(math.isfinite(v) for v in value)
        ):
            raise _fail("malformed", f"annotation {uid}: a point is [x, y], finite numbers")
        points.append((float(value[0]), float(value[1])))
    if len(points) < low or (high is not None and len(points) > high):
        wanted = f"{low}" if low == high else f"at least {low}"
        raise _fail("bad_geometry", f"annotation {uid}: a {tool} has {wanted} points")
    return tuple(points)


def _measurement(raw: object) -> dict[str, Any] | None:
    """The viewer's own figure, kept for display; the SR computes its value from Pixel Spacing."""
    if not isinstance(raw, dict):
        return None
    value, unit = raw.get("value"), raw.get("unit")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return {"value": float(value), "unit": unit if isinstance(unit, str) else ""}


def _mask(raw: object, uid: str, limits: LabelLimits) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail("malformed", f"annotation {uid}: a brush needs mask {{rows, columns, rle}}")
    rows = _int(raw.get("rows"), "mask rows", 1, 65535)
    columns = _int(raw.get("columns"), "mask columns", 1, 65535)
    if rows * columns > limits.max_mask_pixels:
        raise _fail("too_large", f"annotation {uid}: mask over {limits.max_mask_pixels} pixels")
    rle = raw.get("rle")
    if not isinstance(rle, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in rle
    ):
        raise _fail("malformed", f"annotation {uid}: mask rle is a list of run lengths ≥ 0")
    if sum(rle) != rows * columns:
        raise _fail("mask_shape", f"annotation {uid}: runs cover {sum(rle)} of {rows * columns}")
    if not any(rle[1::2]):
        raise _fail("empty_mask", f"annotation {uid}: the mask has no pixel set")
    return {"rows": rows, "columns": columns, "rle": rle}


@dataclass
class _Parsed:
    uid: str
    tool: str
    label: str
    level: str | None
    frame: dict[str, Any] | None
    points: tuple[tuple[float, float], ...]
    measurement: dict[str, Any] | None
    mask: dict[str, Any] | None
    instance: str | None


def _frame(raw: object, uid: str, grant: Grant) -> tuple[dict[str, Any], str | None]:
    if not isinstance(raw, dict):
        raise _fail("malformed", f"annotation {uid}: frame is {{series, index, plane}}")
    series = raw.get("series")
    if not isinstance(series, str) or not grant.covers_series(series):
        raise _fail("out_of_scope", f"annotation {uid}: its series is not in the session's grant")
    index = _int(raw.get("index"), "frame index", 0, 1_000_000)
    plane = raw.get("plane") or "axial"
    if plane != "axial":
        # MPR planes have no source image to reference in SCOORD (PS3.3 C.18.6.1.2); see
        # docs/writeback.md for why we refuse rather than convert to SCOORD3D.
        raise _fail(
            "mpr_not_supported",
            f"annotation {uid}: labels on {plane!r} reconstructions cannot be written back; "
            "draw on the acquired (axial) slices",
        )
    instance = raw.get("instance")
    if instance is not None and not isinstance(instance, str):
        raise _fail("malformed", f"annotation {uid}: frame instance is a handle")
    return {"series": series, "index": index, "plane": "axial"}, instance


def parse_document(
    document: object, grant: Grant, labels: Mapping[str, CodedLabel], schema_version: str,
    limits: LabelLimits,
) -> tuple[int | None, list[_Parsed]]:  # fmt: skip
    """Structure, scope and schema checks; returns (base revision, annotations)."""
    if not isinstance(document, dict):
        raise _fail("malformed", "document is a JSON object")
    if document.get("version") != DOCUMENT_VERSION:
        raise _fail("bad_version", f"document version must be {DOCUMENT_VERSION}")
    if document.get("task") != grant.task:
        raise _fail("wrong_task", "the document is for another task than the session's")
    if str(document.get("schema_version")) != schema_version:
        raise _fail(
            "schema_mismatch", f"the document uses schema {document.get('schema_version')!r}; "
            f"the task's schema is version {schema_version}"
        )  # fmt: skip
    base = document.get("base_revision")
    base_revision = None if base is None else _int(base, "base_revision", 0)
    raw_annotations = document.get("annotations")
    if not isinstance(raw_annotations, list):
        raise _fail("malformed", "annotations is a list")
    if len(raw_annotations) > limits.max_annotations:
        raise _fail("too_large", f"more than {limits.max_annotations} annotations")
    parsed: list[_Parsed] = []
    seen: set[str] = set()
    mask_pixels = runs = 0
    for raw in raw_annotations:
        if not isinstance(raw, dict):
            raise _fail("malformed", "every annotation is an object")
        uid = raw.get("uid")
        if not isinstance(uid, str) or not _KEY.match(uid):
            raise _fail("malformed", "annotation uid must match [A-Za-z0-9_.-]{1,64}")
        if uid in seen:
            raise _fail("duplicate", f"annotation uid {uid} occurs twice")
        seen.add(uid)
        tool = raw.get("tool")
        if tool not in TOOL_KINDS:
            raise _fail("unknown_tool", f"annotation {uid}: unknown tool {tool!r}")
        key = raw.get("label")
        label = labels.get(key) if isinstance(key, str) else None
        if label is None or not isinstance(key, str):
            raise _fail("unknown_label", f"annotation {uid}: label {key!r} is not in the schema")
        if label.kind is not TOOL_KINDS[tool]:
            raise _fail(
                "wrong_kind",
                f"annotation {uid}: label {key!r} is a {label.kind.value} label, "
                f"a {tool} needs a {TOOL_KINDS[tool].value} label",
            )
        level = None
        if tool == "classification":
            level = raw.get("level")
            if level not in ("image", "series", "study"):
                raise _fail("malformed", f"annotation {uid}: level is image, series or study")
        instance = None
        frame: dict[str, Any] | None = None
        if level == "study":
            if raw.get("frame") is not None:
                raise _fail("malformed", f"annotation {uid}: a study classification has no frame")
        else:
            frame, instance = _frame(raw.get("frame"), uid, grant)
        mask = None
        if tool == "brush":
            mask = _mask(raw.get("mask"), uid, limits)
            mask_pixels += mask["rows"] * mask["columns"]
            runs += len(mask["rle"])
            if mask_pixels > limits.max_total_mask_pixels or runs > limits.max_runs:
                raise _fail("too_large", "the masks of this document are too large")
        points = _points(raw.get("geometry", {"points": []}), tool, limits, uid)
        parsed.append(
            _Parsed(
                uid,
                tool,
                key,
                level,
                frame,
                points,
                _measurement(raw.get("measurement")),
                mask,
                instance,
            )
        )
    return base_revision, parsed


# --- resolving and checking against the sources ---


async def validate_document(
    document: object, *, grant: Grant, lookup: SourceLookup, limits: LabelLimits | None = None
) -> ValidatedDocument:
    """Everything ``label.save`` must pass before its document is stored."""
    limits = limits or LabelLimits()
    schema_version, labels = schema_labels(grant.schema)
    base_revision, parsed = parse_document(document, grant, labels, schema_version, limits)
    wanted = {(p.frame["series"], p.frame["index"]) for p in parsed if p.frame is not None}
    if any(p.level == "study" for p in parsed):
        wanted.add((grant.series[0], 0))  # study classifications file under the task's study
    keys = sorted(wanted)
    try:
        found = await asyncio.gather(*(lookup.frame(s, i) for s, i in keys))
    except SourceError as exc:
        code = ErrorCode.LABEL_INVALID if exc.detail == "frame_out_of_range" else (
            ErrorCode.PACS_UNAVAILABLE
        )  # fmt: skip
        raise LabelInvalidError(exc.detail, exc.message, code=code) from None
    frames = dict(zip(keys, found, strict=True))
    anchor = frames.get((grant.series[0], 0))
    records = []
    for p in parsed:
        source = anchor if p.frame is None else frames[(p.frame["series"], p.frame["index"])]
        assert source is not None
        if p.instance is not None and p.instance != source.instance_handle:
            raise _fail("frame_mismatch", f"annotation {p.uid}: instance and index disagree")
        records.append(
            LabelRecord(
                uid=p.uid,
                tool=p.tool,
                label=p.label,
                level=p.level,
                frame=p.frame,
                points=p.points,
                measurement=p.measurement,
                mask=p.mask,
                sop_uid=source.sop_uid,
                frame_number=source.frame_number,
                study_uid=source.study_uid,
                series_uid=source.series_uid,
            )
        )
    headers = {f.sop_uid: f.header for f in frames.values()}
    check_against_sources(records, labels, headers)
    return ValidatedDocument(grant.task, schema_version, base_revision, tuple(records), headers)


def check_against_sources(
    records: Sequence[LabelRecord], labels: Mapping[str, CodedLabel], headers: Mapping[str, Any]
) -> None:
    """The builders' own checks (bounds, frames, mask shapes, spacing), run now, not at delivery."""
    sources = {uid: SourceImage(ds) for uid, ds in headers.items()}
    try:
        annotations, masks = to_shapes(records, labels)
        for annotation in annotations:
            if annotation.image is None:
                continue
            source = resolve(annotation.image, sources)
            if not isinstance(annotation, Classification):
                check_inside(annotation.points(), source, f"annotation {annotation.uid}")
            if (
                isinstance(annotation, Length)
                and source.pixel_spacing(annotation.image.frame_number) is None
            ):
                raise _fail(
                    "no_pixel_spacing",
                    f"annotation {annotation.uid}: a length needs an image with Pixel Spacing",
                )
        for segment in (m for group in masks.values() for m in group):
            for plane in segment.planes:
                source = resolve(plane.image, sources)
                if plane.pixels.shape != (source.rows, source.columns):
                    raise _fail(
                        "mask_shape",
                        f"mask {segment.uid}: {plane.pixels.shape[0]}×{plane.pixels.shape[1]} "
                        f"on a {source.rows}×{source.columns} image",
                    )
    except WritebackError as exc:
        raise _fail(exc.code.value, exc.message) from None


__all__ = [
    "FrameSource",
    "LabelInvalidError",
    "LabelLimits",
    "LabelRecord",
    "ValidatedDocument",
    "content_hash",
    "decode_mask",
    "encode_mask",
    "records_payload",
    "schema_labels",
    "stored_records",
    "to_shapes",
    "validate_document",
]
