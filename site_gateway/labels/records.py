"""Validated labels as the site keeps them, and their conversion to ``imaging.dicom_out`` inputs.

A ``LabelRecord`` is one annotation of a label document after validation: the viewer's fields
plus the source instance it was resolved to (SOP Instance UID, frame number, study and series —
site-only identifiers that never go back on the wire). ``to_shapes`` turns records into the
builders' dataclasses; both validation (``document.py``) and delivery (``builder.py``) use it, so
what was checked at save time is exactly what is built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.dicom_out import (
    Angle,
    Annotation,
    Classification,
    ClassificationLevel,
    CodedLabel,
    Ellipse,
    Freehand,
    ImageRef,
    Length,
    MaskPlane,
    Point,
    Polygon,
    Rectangle,
    SegmentMask,
    WritebackError,
    WritebackErrorCode,
)
from site_gateway.protocol import ErrorCode


class LabelInvalidError(Exception):
    """A refused document: ``code`` goes on the wire, ``detail`` says which check failed."""

    def __init__(
        self, detail: str, message: str, *, code: ErrorCode = ErrorCode.LABEL_INVALID
    ) -> None:
        super().__init__(f"{detail}: {message}")
        self.code = code
        self.detail = detail
        self.message = message


@dataclass(frozen=True, eq=False)
class LabelRecord:
    """One validated annotation, resolved to its source instance (site-only UIDs)."""

    uid: str
    tool: str
    label: str
    level: str | None
    frame: dict[str, Any] | None  # {"series", "index", "plane"} as the viewer sent it
    points: tuple[tuple[float, float], ...]
    measurement: dict[str, Any] | None
    mask: dict[str, Any] | None  # {"rows", "columns", "rle"}
    sop_uid: str
    frame_number: int | None
    study_uid: str
    series_uid: str

    def viewer_json(self) -> dict[str, Any]:
        """The annotation as the viewer sends and loads it (no UIDs: they never leave the site)."""
        out: dict[str, Any] = {
            "uid": self.uid,
            "tool": self.tool,
            "label": self.label,
            "frame": self.frame,
        }
        if self.level is not None:
            out["level"] = self.level
        out["geometry"] = {"points": [list(p) for p in self.points]}
        if self.measurement is not None:
            out["measurement"] = self.measurement
        if self.mask is not None:
            out["mask"] = self.mask
        return out

    def to_json(self) -> dict[str, Any]:
        out = self.viewer_json()
        out["_source"] = {
            "sop": self.sop_uid,
            "frame": self.frame_number,
            "study": self.study_uid,
            "series": self.series_uid,
        }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabelRecord:
        source = data["_source"]
        return cls(
            uid=data["uid"],
            tool=data["tool"],
            label=data["label"],
            level=data.get("level"),
            frame=data.get("frame"),
            points=tuple((float(x), float(y)) for x, y in data["geometry"]["points"]),
            measurement=data.get("measurement"),
            mask=data.get("mask"),
            sop_uid=source["sop"],
            frame_number=source["frame"],
            study_uid=source["study"],
            series_uid=source["series"],
        )


def content_hash(annotations: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of the annotations: what central may know of the content."""
    text = json.dumps(list(annotations), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- the schema ---


def schema_labels(schema: Mapping[str, Any]) -> tuple[str, dict[str, CodedLabel]]:
    """The grant's schema as (version, {key: CodedLabel}); ``LabelInvalidError`` if unusable."""
    try:
        version = schema["version"]
        if isinstance(version, bool) or not isinstance(version, int | str):
            raise TypeError("version")
        labels = {}
        for entry in schema["entries"]:
            label = CodedLabel(
                key=entry["key"],
                kind=entry["kind"],
                value=entry["code_value"],
                scheme=entry["coding_scheme"],
                meaning=entry["code_meaning"],
                colour=entry.get("colour") or "#ffff00",
            )
            labels[label.key] = label
    except (KeyError, TypeError) as exc:
        raise LabelInvalidError(
            "schema_invalid", f"the task's schema is unusable ({exc})"
        ) from None
    except WritebackError as exc:
        raise LabelInvalidError("schema_invalid", f"the task's schema: {exc.message}") from None
    return str(version), labels


def decode_mask(mask: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    """Runs alternate background, foreground, … starting with background (viewer's rle.js)."""
    rows, columns, runs = mask["rows"], mask["columns"], mask["rle"]
    values = np.zeros(len(runs), dtype=np.bool_)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    return flat.reshape(rows, columns)


def encode_mask(pixels: npt.NDArray[np.bool_]) -> list[int]:
    flat = pixels.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return [int(r) for r in runs]


def to_shapes(
    records: Sequence[LabelRecord], labels: Mapping[str, CodedLabel]
) -> tuple[list[Annotation], dict[str, list[SegmentMask]]]:
    """``imaging.dicom_out`` inputs: annotations, and masks as segments per source series."""
    annotations: list[Annotation] = []
    planes: dict[tuple[str, str], list[MaskPlane]] = {}
    for r in records:
        label = labels[r.label]
        image = ImageRef(r.sop_uid, r.frame_number)
        p = r.points
        if r.tool == "rectangle":
            annotations.append(
                Rectangle(
                    uid=r.uid,
                    label=label,
                    image=image,
                    x0=p[0][0],
                    y0=p[0][1],
                    x1=p[1][0],
                    y1=p[1][1],
                )
            )
        elif r.tool == "ellipse":
            (x0, y0), (x1, y1) = p
            annotations.append(
                Ellipse(
                    uid=r.uid,
                    label=label,
                    image=image,
                    cx=(x0 + x1) / 2,
                    cy=(y0 + y1) / 2,
                    rx=abs(x1 - x0) / 2,
                    ry=abs(y1 - y0) / 2,
                )
            )
        elif r.tool in ("polygon", "freehand"):
            cls = Polygon if r.tool == "polygon" else Freehand
            annotations.append(cls(uid=r.uid, label=label, image=image, vertices=p))
        elif r.tool == "point":
            annotations.append(Point(uid=r.uid, label=label, image=image, x=p[0][0], y=p[0][1]))
        elif r.tool == "length":
            annotations.append(Length(uid=r.uid, label=label, image=image, start=p[0], end=p[1]))
        elif r.tool == "angle":
            annotations.append(
                Angle(uid=r.uid, label=label, image=image, first=p[0], vertex=p[1], second=p[2])
            )
        elif r.tool == "classification":
            level = ClassificationLevel(r.level or "image")
            annotations.append(
                Classification(
                    uid=r.uid,
                    label=label,
                    level=level,
                    image=None if level is ClassificationLevel.STUDY else image,
                )
            )
        else:  # brush: one plane per annotation, one segment per (series, label)
            assert r.mask is not None
            same = planes.setdefault((r.series_uid, r.label), [])
            if any(plane.image == image for plane in same):
                raise WritebackError(
                    WritebackErrorCode.DUPLICATE,
                    f"two masks of label {r.label!r} on one frame (annotation {r.uid})",
                )
            same.append(MaskPlane(image, decode_mask(r.mask)))
    masks: dict[str, list[SegmentMask]] = {}
    for (series_uid, key), items in sorted(planes.items()):
        # One segment per label; its uid is stable across revisions (Tracking UID, TID 4108).
        masks.setdefault(series_uid, []).append(
            SegmentMask(uid=f"mask-{key}", label=labels[key], planes=tuple(items))
        )
    return annotations, masks


def stored_records(payload: str) -> tuple[LabelRecord, ...]:
    return tuple(LabelRecord.from_json(item) for item in json.loads(payload))


def records_payload(records: Sequence[LabelRecord]) -> str:
    items = [r.to_json() for r in sorted(records, key=lambda r: r.uid)]
    return json.dumps(items, separators=(",", ":"), allow_nan=False)
