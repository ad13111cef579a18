"""Input contract of the write-back builders: frozen dataclasses, validated when constructed.

Everything here is already resolved by the gateway: real DICOM UIDs, the source instances as pydicom
Datasets, the task's coded label schema. Checks that need the source image (bounds, frame numbers,
mask shapes) run in the builders, before anything is built (see ``imaging.dicom_out.checks``).
Coordinates are image pixel coordinates in the SCOORD convention of PS3.3 C.18.6.1.1: column x,
row y, the top-left corner of the image is (0, 0) and the centre of the first pixel is (0.5, 0.5).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.uids import check_uid

E = WritebackErrorCode
_E = TypeVar("_E", bound=enum.Enum)
Point2D = tuple[float, float]

# PS3.5 6.2: SH (code value) ≤ 16, CS-like designator, LO meaning ≤ 64; no backslash in any of them.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _text(value: object, what: str, limit: int, *, code: E = E.BAD_TEXT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\\" in value:
        raise WritebackError(
            code,
            f"{what} must be a non-empty string of ≤ {limit} characters "
            f"without a backslash, got {value!r}",
        )
    return value


class LabelKind(enum.StrEnum):
    """What a schema label may be drawn as; fixes which annotation types may carry it."""

    REGION = "region"
    MASK = "mask"
    POINT = "point"
    MEASUREMENT = "measurement"
    CLASSIFICATION = "classification"


class ClassificationLevel(enum.StrEnum):
    IMAGE = "image"
    SERIES = "series"
    STUDY = "study"


@dataclass(frozen=True)
class Concept:
    """A coded concept (PS3.3 8.8 Code Sequence Macro): value, scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str

    def __post_init__(self) -> None:
        # Code Value is SH (≤ 16); longer codes (e.g. some SCT ids are fine, URNs are not) belong in
        # Long Code Value, which this product does not need: its schemas use SCT, RADLEX and DCM.
        _text(self.value, "code value", 16, code=E.BAD_CODE)
        _text(self.scheme, "coding scheme designator", 16, code=E.BAD_CODE)
        _text(self.meaning, "code meaning", 64, code=E.BAD_CODE)


@dataclass(frozen=True)
class CodedLabel:
    """One label of the task's schema: ``key`` is the schema's stable name, ``colour`` "#rrggbb"."""

    key: str
    kind: LabelKind
    value: str
    scheme: str
    meaning: str
    colour: str = "#ffff00"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise WritebackError(
                E.BAD_KEY, f"label key must match [A-Za-z0-9_.-]{{1,64}}, got {self.key!r}"
            )
        try:
            object.__setattr__(self, "kind", LabelKind(self.kind))
        except ValueError:
            valid = ", ".join(k.value for k in LabelKind)
            raise WritebackError(
                E.UNKNOWN_LABEL_KIND,
                f"label {self.key!r} has kind {self.kind!r}; valid kinds: {valid}",
            ) from None
        Concept(self.value, self.scheme, self.meaning)
        if not isinstance(self.colour, str) or not _COLOUR.match(self.colour):
            raise WritebackError(
                E.BAD_COLOUR, f"label {self.key!r} colour must be '#rrggbb', got {self.colour!r}"
            )

    @property
    def concept(self) -> Concept:
        return Concept(self.value, self.scheme, self.meaning)

    @property
    def rgb(self) -> tuple[int, int, int]:
        return (int(self.colour[1:3], 16), int(self.colour[3:5], 16), int(self.colour[5:7], 16))


@dataclass(frozen=True)
class Provenance:
    """Who and what made the labels. ``observer`` is the annotator's pseudonym (never a real name);
    ``observer_role`` a coded role (CID 7452 Organizational Roles, e.g. SCT 66862007 Radiologist)."""

    observer: str
    task_id: str
    project: str
    schema_version: str
    software_version: str
    device_observer_uid: str
    timestamp: datetime
    observer_role: Concept = Concept("66862007", "SCT", "Radiologist")
    software_name: str = "Rhino Secure Access"

    def __post_init__(self) -> None:
        # Person Name (PN) components are ≤ 64 characters (PS3.5 6.2); "^" and "=" would split it.
        _text(self.observer, "observer pseudonym", 64)
        if any(c in self.observer for c in "^="):
            raise WritebackError(E.BAD_TEXT, "observer pseudonym must not contain '^' or '='")
        _text(self.task_id, "task id", 64)
        _text(self.project, "project", 64)
        _text(self.schema_version, "schema version", 16)
        _text(self.software_version, "software version", 64)
        _text(self.software_name, "software name", 64)
        check_uid(self.device_observer_uid, "device observer UID")
        if not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None:
            raise WritebackError(E.BAD_TEXT, "timestamp must be a timezone-aware datetime")

    @property
    def session_text(self) -> str:
        """Written in every measurement group's Session item (TID 1501, DCM C67447)."""
        return f"task={self.task_id};project={self.project};schema={self.schema_version}"


@dataclass(frozen=True, eq=False)
class SourceImage:
    """A referenced source instance. Only its header is used; pixel data need not be loaded."""

    dataset: Dataset

    def __post_init__(self) -> None:
        ds = self.dataset
        if not isinstance(ds, Dataset):
            raise WritebackError(E.MISSING_ATTRIBUTE, "SourceImage needs a pydicom Dataset")
        for keyword in (
            "SOPClassUID",
            "SOPInstanceUID",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "Rows",
            "Columns",
        ):
            if ds.get(keyword) in (None, ""):
                raise WritebackError(E.MISSING_ATTRIBUTE, f"source instance lacks {keyword}")
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            check_uid(str(ds.get(keyword)), f"source {keyword}")

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.SOPClassUID)

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)

    @property
    def study_instance_uid(self) -> str:
        return str(self.dataset.StudyInstanceUID)

    @property
    def series_instance_uid(self) -> str:
        return str(self.dataset.SeriesInstanceUID)

    @property
    def frame_of_reference_uid(self) -> str | None:
        value = self.dataset.get("FrameOfReferenceUID")
        return None if value in (None, "") else str(value)

    @property
    def rows(self) -> int:
        return int(self.dataset.Rows)

    @property
    def columns(self) -> int:
        return int(self.dataset.Columns)

    @property
    def number_of_frames(self) -> int:
        return int(self.dataset.get("NumberOfFrames") or 1)

    @property
    def is_multiframe(self) -> bool:
        return "NumberOfFrames" in self.dataset

    def pixel_spacing(self, frame_number: int | None) -> tuple[float, float] | None:
        """(row spacing, column spacing) in mm (PS3.3 10.7.1.3), per frame for enhanced objects
        (C.7.6.16.2.1 Pixel Measures), or None when the image does not say."""
        ds = self.dataset
        groups: list[Any] = []
        if frame_number is not None and "PerFrameFunctionalGroupsSequence" in ds:
            groups.append(ds.PerFrameFunctionalGroupsSequence[frame_number - 1])
        if "SharedFunctionalGroupsSequence" in ds:
            groups.append(ds.SharedFunctionalGroupsSequence[0])
        for group in groups:
            if (
                "PixelMeasuresSequence" in group
                and "PixelSpacing" in group.PixelMeasuresSequence[0]
            ):
                row, column = group.PixelMeasuresSequence[0].PixelSpacing
                return float(row), float(column)
        if "PixelSpacing" in ds:
            row, column = ds.PixelSpacing
            return float(row), float(column)
        return None


@dataclass(frozen=True)
class ImageRef:
    """One image: a source SOP Instance UID and, for multi-frame sources, a 1-based frame number."""

    sop_instance_uid: str
    frame_number: int | None = None

    def __post_init__(self) -> None:
        check_uid(self.sop_instance_uid, "referenced SOP Instance UID")
        if self.frame_number is not None and (
            not isinstance(self.frame_number, int) or self.frame_number < 1
        ):
            raise WritebackError(
                E.FRAME_OUT_OF_RANGE, f"frame numbers start at 1, got {self.frame_number!r}"
            )


def _enum(cls: type[_E], value: object, what: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        valid = ", ".join(str(v.value) for v in cls)
        raise WritebackError(E.BAD_VALUE, f"{what} {value!r} is not one of: {valid}") from None


def _point(value: Any, what: str) -> Point2D:
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        raise WritebackError(
            E.EMPTY_GEOMETRY, f"{what} must be an (x, y) pair, got {value!r}"
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise WritebackError(E.OUT_OF_BOUNDS, f"{what} must be finite, got ({x}, {y})")
    return (x, y)


def _points(values: Any, what: str, minimum: int) -> tuple[Point2D, ...]:
    points = tuple(_point(p, f"{what} point") for p in (values or ()))
    if len(points) < minimum:
        raise WritebackError(
            E.EMPTY_GEOMETRY, f"{what} needs at least {minimum} points, got {len(points)}"
        )
    return points


@dataclass(frozen=True)
class _Annotation:
    """Common fields: ``uid`` is the client's id of the annotation (becomes the tracking ids)."""

    uid: str
    label: CodedLabel
    image: ImageRef

    # The label kinds each annotation type may carry.
    kinds: tuple[LabelKind, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.uid, str) or not _KEY.match(self.uid):
            raise WritebackError(
                E.BAD_KEY, f"annotation uid must match [A-Za-z0-9_.-]{{1,64}}, got {self.uid!r}"
            )
        if not isinstance(self.label, CodedLabel):
            raise WritebackError(E.BAD_CODE, "annotation label must be a CodedLabel")
        if self.label.kind not in self.kinds:
            raise WritebackError(
                E.WRONG_LABEL_KIND,
                f"{type(self).__name__} cannot carry label "
                f"{self.label.key!r} of kind {self.label.kind.value!r}; allowed: "
                f"{', '.join(k.value for k in self.kinds)}",
            )

    @property
    def tool(self) -> str:
        return type(self).__name__.lower()

    def points(self) -> tuple[Point2D, ...]:
        """Every point that must lie inside the image."""
        raise NotImplementedError


_REGION = (LabelKind.REGION,)


@dataclass(frozen=True)
class Rectangle(_Annotation):
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    kinds: tuple[LabelKind, ...] = field(init=False, repr=False, compare=False, default=_REGION)

    def __post_init__(self) -> None:
        super().__post_init__()
        x0, y0 = _point((self.x0, self.y0), "rectangle corner")
        x1, y1 = _point((self.x1, self.y1), "rectangle corner")
        if x0 == x1 or y0 == y1:
            raise WritebackError(E.DEGENERATE_GEOMETRY, "rectangle has zero width or height")
        # Normalised to top-left (x0, y0) and bottom-right (x1, y1), as read back from the SR.
        object.__setattr__(self, "x0", min(x0, x1))
        object.__setattr__(self, "x1", max(x0, x1))
        object.__setattr__(self, "y0", min(y0, y1))
        object.__setattr__(self, "y1", max(y0, y1))

    def points(self) -> tuple[Point2D, ...]:
        return ((self.x0, self.y0), (self.x1, self.y1))


@dataclass(frozen=True)
class Ellipse(_Annotation):
    """Axis-aligned: centre (cx, cy), semi-axes rx (along x) and ry (along y)."""

    cx: float = 0.0
    cy: float = 0.0
    rx: float = 0.0
    ry: float = 0.0
    kinds: tuple[LabelKind, ...] = field(init=False, repr=False, compare=False, default=_REGION)

    def __post_init__(self) -> None:
        super().__post_init__()
        cx, cy = _point((self.cx, self.cy), "ellipse centre")
        object.__setattr__(self, "cx", cx)
        object.__setattr__(self, "cy", cy)
        if not (self.rx > 0 and self.ry > 0):
            raise WritebackError(E.DEGENERATE_GEOMETRY, "ellipse semi-axes must be > 0")

    def points(self) -> tuple[Point2D, ...]:
        return ((self.cx - self.rx, self.cy - self.ry), (self.cx + self.rx, self.cy + self.ry))


@dataclass(frozen=True)
class Polygon(_Annotation):
    """A closed polygon given by its vertices (do not repeat the first one)."""

    vertices: tuple[Point2D, ...] = ()
    kinds: tuple[LabelKind, ...] = field(init=False, repr=False, compare=False, default=_REGION)

    def __post_init__(self) -> None:
        super().__post_init__()
        vertices = _points(self.vertices, self.tool, 3)
        if len(vertices) > 3 and vertices[0] == vertices[-1]:
            vertices = vertices[:-1]
        if len(set(vertices)) < 3:
            raise WritebackError(E.DEGENERATE_GEOMETRY, f"{self.tool} needs 3 distinct vertices")
        object.__setattr__(self, "vertices", vertices)

    def points(self) -> tuple[Point2D, ...]:
        return self.vertices


@dataclass(frozen=True)
class Freehand(Polygon):
    """A closed freehand contour: the same geometry as a polygon, usually many vertices."""


@dataclass(frozen=True)
class Point(_Annotation):
    x: float = 0.0
    y: float = 0.0
    kinds: tuple[LabelKind, ...] = field(
        init=False, repr=False, compare=False, default=(LabelKind.POINT,)
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        x, y = _point((self.x, self.y), "point")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def points(self) -> tuple[Point2D, ...]:
        return ((self.x, self.y),)


@dataclass(frozen=True)
class Length(_Annotation):
    """A distance between two points; the value (mm) is computed from Pixel Spacing."""

    start: Point2D = (0.0, 0.0)
    end: Point2D = (0.0, 0.0)
    kinds: tuple[LabelKind, ...] = field(
        init=False, repr=False, compare=False, default=(LabelKind.MEASUREMENT,)
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "start", _point(self.start, "length start"))
        object.__setattr__(self, "end", _point(self.end, "length end"))
        if self.start == self.end:
            raise WritebackError(E.DEGENERATE_GEOMETRY, "length end points coincide")

    def points(self) -> tuple[Point2D, ...]:
        return (self.start, self.end)

    def millimetres(self, spacing: tuple[float, float]) -> float:
        row_spacing, column_spacing = spacing
        return math.hypot(
            (self.end[0] - self.start[0]) * column_spacing,
            (self.end[1] - self.start[1]) * row_spacing,
        )


@dataclass(frozen=True)
class Angle(_Annotation):
    """The angle at ``vertex`` between the rays to ``first`` and ``second``, in degrees."""

    first: Point2D = (0.0, 0.0)
    vertex: Point2D = (0.0, 0.0)
    second: Point2D = (0.0, 0.0)
    kinds: tuple[LabelKind, ...] = field(
        init=False, repr=False, compare=False, default=(LabelKind.MEASUREMENT,)
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("first", "vertex", "second"):
            object.__setattr__(self, name, _point(getattr(self, name), f"angle {name}"))
        if self.first == self.vertex or self.second == self.vertex:
            raise WritebackError(E.DEGENERATE_GEOMETRY, "an angle arm has zero length")

    def points(self) -> tuple[Point2D, ...]:
        return (self.first, self.vertex, self.second)

    def degrees(self, spacing: tuple[float, float] | None) -> float:
        """Measured in the patient plane when Pixel Spacing is known (anisotropic pixels)."""
        row_spacing, column_spacing = spacing or (1.0, 1.0)
        ax = (self.first[0] - self.vertex[0]) * column_spacing
        ay = (self.first[1] - self.vertex[1]) * row_spacing
        bx = (self.second[0] - self.vertex[0]) * column_spacing
        by = (self.second[1] - self.vertex[1]) * row_spacing
        return abs(math.degrees(math.atan2(ax * by - ay * bx, ax * bx + ay * by)))


@dataclass(frozen=True)
class Classification:
    """A qualitative label of an image, a series or the study.

    ``image`` is required at image level and names the series at series level (any image of it);
    it must be None at study level.
    """

    uid: str
    label: CodedLabel
    level: ClassificationLevel
    image: ImageRef | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _enum(ClassificationLevel, self.level, "level"))
        _Annotation.__post_init__(self)  # type: ignore[arg-type]
        if (self.image is None) != (self.level is ClassificationLevel.STUDY):
            raise WritebackError(
                E.EMPTY_GEOMETRY,
                "a classification names an image at image and "
                "series level, and none at study level",
            )

    kinds = (LabelKind.CLASSIFICATION,)

    @property
    def tool(self) -> str:
        # The level is part of the tool name so that it survives the SR round trip exactly.
        return f"classification-{self.level.value}"


Annotation = Rectangle | Ellipse | Polygon | Freehand | Point | Length | Angle | Classification
ANNOTATION_TYPES: tuple[type, ...] = (
    Rectangle,
    Ellipse,
    Polygon,
    Freehand,
    Point,
    Length,
    Angle,
    Classification,
)


@dataclass(frozen=True, eq=False)
class MaskPlane:
    """One source frame of a brush mask: a boolean array of the source's Rows × Columns."""

    image: ImageRef
    pixels: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        if not isinstance(self.pixels, np.ndarray) or self.pixels.ndim != 2:
            raise WritebackError(
                E.MASK_SHAPE, "a mask plane must be a 2-D numpy array (Rows × Columns)"
            )
        if self.pixels.dtype != np.bool_:
            raise WritebackError(
                E.MASK_SHAPE, f"a mask plane must have dtype bool, got {self.pixels.dtype}"
            )


@dataclass(frozen=True, eq=False)
class SegmentMask:
    """All planes of one label (one SEG segment); ``uid`` becomes the segment's Tracking UID."""

    uid: str
    label: CodedLabel
    planes: tuple[MaskPlane, ...]

    def __post_init__(self) -> None:
        _Annotation.__post_init__(self)  # type: ignore[arg-type]
        object.__setattr__(self, "planes", tuple(self.planes))
        if not self.planes:
            raise WritebackError(E.EMPTY_MASK, f"mask {self.uid!r} has no planes")

    kinds = (LabelKind.MASK,)

    @property
    def tool(self) -> str:
        return "mask"


@dataclass(frozen=True)
class InstanceRef:
    """A SOP instance (in a KOS, in a supersession reference)."""

    sop_class_uid: str
    sop_instance_uid: str

    def __post_init__(self) -> None:
        check_uid(self.sop_class_uid, "SOP Class UID")
        check_uid(self.sop_instance_uid, "SOP Instance UID")


@dataclass(frozen=True)
class SelectedSeries:
    series_instance_uid: str
    instances: tuple[InstanceRef, ...]

    def __post_init__(self) -> None:
        check_uid(self.series_instance_uid, "selected Series Instance UID")
        object.__setattr__(self, "instances", tuple(self.instances))
        if not self.instances:
            raise WritebackError(
                E.EMPTY_GEOMETRY, f"selected series {self.series_instance_uid} lists no instances"
            )


class SelectionDecision(enum.StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True)
class SelectionReason:
    """The lead's reason: a decision, free text (Key Object Description) and an optional code."""

    decision: SelectionDecision
    text: str
    code: Concept | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", _enum(SelectionDecision, self.decision, "decision"))
        # Key Object Description is a TEXT item (UT) but PACS viewers show one line: keep it short.
        _text(self.text, "selection reason", 1024)


@dataclass(frozen=True)
class Superseded:
    """The instance a new revision replaces (edits never overwrite)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    sop_instance_uid: str

    def __post_init__(self) -> None:
        for name in (
            "study_instance_uid",
            "series_instance_uid",
            "sop_class_uid",
            "sop_instance_uid",
        ):
            check_uid(getattr(self, name), name)


def ensure_sequence(values: Sequence[Any] | None, what: str) -> tuple[Any, ...]:
    if values is None or isinstance(values, str | bytes):
        raise WritebackError(E.NOTHING_TO_WRITE, f"{what} must be a sequence")
    return tuple(values)
