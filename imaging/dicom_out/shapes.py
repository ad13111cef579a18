"""Annotation shapes and brush masks in image pixel coordinates (SCOORD convention, C.18.6.1.1).

Column x, row y; the top-left corner of the image is (0, 0), the centre of the first pixel is
(0.5, 0.5). Checks that need the source image (bounds, frames, shapes) are in ``checks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import (
    _KEY,
    ClassificationLevel,
    CodedLabel,
    ImageRef,
    LabelKind,
    SegmentCategory,
    _enum,
)

E = WritebackErrorCode
Point2D = tuple[float, float]


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


def check_identity(owner: str, uid: object, label: object, kinds: tuple[LabelKind, ...]) -> None:
    """The client uid's syntax, and that ``label`` is of a kind ``owner`` may carry."""
    if not isinstance(uid, str) or not _KEY.match(uid):
        raise WritebackError(
            E.BAD_KEY, f"{owner} uid must match [A-Za-z0-9_.-]{{1,64}}, got {uid!r}"
        )
    if not isinstance(label, CodedLabel):
        raise WritebackError(E.BAD_CODE, f"{owner} label must be a CodedLabel")
    if label.kind not in kinds:
        raise WritebackError(
            E.WRONG_LABEL_KIND,
            f"{owner} cannot carry label {label.key!r} of kind {label.kind.value!r}; allowed: "
            f"{', '.join(k.value for k in kinds)}",
        )


def check_image(image: object) -> None:
    if not isinstance(image, ImageRef):
        raise WritebackError(E.UNKNOWN_SOURCE, f"image must be an ImageRef, got {image!r}")


@dataclass(frozen=True)
class _Annotation:
    """Common fields: ``uid`` is the client's id of the annotation (becomes the tracking ids)."""

    uid: str
    label: CodedLabel
    image: ImageRef

    # The label kinds each annotation type may carry.
    kinds: tuple[LabelKind, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        check_identity(type(self).__name__, self.uid, self.label, self.kinds)
        check_image(self.image)

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
        check_identity("Classification", self.uid, self.label, self.kinds)
        if self.image is not None:
            check_image(self.image)
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
        check_image(self.image)
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
    category: SegmentCategory = SegmentCategory.ABNORMAL

    def __post_init__(self) -> None:
        check_identity("SegmentMask", self.uid, self.label, self.kinds)
        object.__setattr__(self, "category", _enum(SegmentCategory, self.category, "category"))
        object.__setattr__(self, "planes", tuple(self.planes))
        if not self.planes:
            raise WritebackError(E.EMPTY_MASK, f"mask {self.uid!r} has no planes")

    kinds = (LabelKind.MASK,)

    @property
    def tool(self) -> str:
        return "mask"
