"""Series geometry: slice order, spacing checks, volumes and MPR (PS3.3 C.7.6.2 Image Plane).

Slices are ordered by their distance along the slice normal, d = IPP · (row cosines × column
cosines) (C.7.6.2.1.1), never by Instance Number, which scanners assign in acquisition order.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from imaging.attrs import frames_of
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.frame_attrs import frame_attributes
from imaging.frames import Frame
from imaging.voi import ModalityTransform

F32Array = npt.NDArray[np.float32]
# A step more than this times the median spacing is a gap (a missing slice or more).
GAP_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class SliceGeometry:
    """Where one slice lies. ``pixel_spacing`` is (between rows, between columns) in mm."""

    position: tuple[float, float, float]
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int

    @property
    def normal(self) -> npt.NDArray[np.float64]:
        row, col = np.array(self.orientation[:3]), np.array(self.orientation[3:6])
        return np.asarray(np.cross(row, col), dtype=np.float64)


def slice_geometry(item: Dataset | Frame | SliceGeometry, index: int = 0) -> SliceGeometry:
    """The plane of a classic instance, of frame ``index`` of an enhanced one, or of a Frame."""
    if isinstance(item, SliceGeometry):
        return item
    if isinstance(item, Frame):
        position, orientation = item.image_position, item.image_orientation
        spacing, rows, columns = item.pixel_spacing, item.rows, item.columns
    else:
        attrs = frame_attributes(item, index)
        position, orientation, spacing = (
            attrs.image_position,
            attrs.image_orientation,
            attrs.pixel_spacing,
        )
        rows, columns = int(item.get("Rows", 0) or 0), int(item.get("Columns", 0) or 0)
    if position is None or orientation is None:
        raise ImagingError(
            ImagingErrorCode.GEOMETRY,
            "Image Position (Patient) and Image Orientation (Patient) are required",
        )
    return SliceGeometry(
        position=position,
        orientation=tuple(orientation),
        pixel_spacing=spacing or (1.0, 1.0),
        rows=rows,
        columns=columns,
    )


def group_series(datasets: Iterable[Dataset]) -> dict[str, list[Dataset]]:
    """Instances by Series Instance UID (C.7.3.1), in input order; missing UID groups as ""."""
    groups: dict[str, list[Dataset]] = {}
    for ds in datasets:
        uid = str(ds.get("SeriesInstanceUID", "") or "")
        groups.setdefault(uid, []).append(ds)
    return groups


def frame_geometries(ds: Dataset) -> list[SliceGeometry]:
    """One SliceGeometry per frame of an (enhanced) multi-frame object (C.7.6.16.2.3)."""
    return [slice_geometry(ds, index) for index in range(frames_of(ds))]


@dataclass(frozen=True, slots=True)
class SeriesGeometry:
    order: tuple[int, ...]  # input indices, sorted along the normal
    positions: tuple[float, ...]  # distance along the normal of each sorted slice, mm
    normal: tuple[float, float, float]
    spacing: float  # median step between sorted slices, mm (0 for one slice)
    uneven_spacing: bool
    gaps: tuple[int, ...]  # i where sorted slice i → i+1 steps over GAP_FACTOR × spacing
    duplicates: tuple[int, ...]  # i where sorted slices i and i+1 share a position
    mixed_orientation: bool
    mixed_size: bool
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int

    def to_json(self) -> dict[str, object]:
        return {
            "slices": len(self.order),
            "spacing": self.spacing,
            "uneven_spacing": self.uneven_spacing,
            "gaps": list(self.gaps),
            "mixed_orientation": self.mixed_orientation,
            "pixel_spacing": list(self.pixel_spacing),
            "rows": self.rows,
            "columns": self.columns,
        }


def series_geometry(
    items: Iterable[Dataset | Frame | SliceGeometry], *, tolerance: float = 0.01
) -> SeriesGeometry:
    """Sort slices along their normal and describe the spacing; ``tolerance`` is relative."""
    slices = [slice_geometry(item) for item in items]
    if not slices:
        raise ImagingError(ImagingErrorCode.GEOMETRY, "a series needs at least one slice")
    normal = slices[0].normal
    norm = float(np.linalg.norm(normal))
    if norm < 0.5:
        raise ImagingError(
            ImagingErrorCode.GEOMETRY, "Image Orientation (Patient) cosines are not orthogonal"
        )
    normal = normal / norm
    first = np.array(slices[0].orientation)
    mixed_orientation = any(
        float(np.max(np.abs(np.array(s.orientation) - first))) > 1e-3 for s in slices
    )
    mixed_size = any((s.rows, s.columns) != (slices[0].rows, slices[0].columns) for s in slices)
    distances = np.array([float(np.dot(s.position, normal)) for s in slices])
    order = np.argsort(distances, kind="stable")
    positions = distances[order]
    steps = np.diff(positions)
    spacing = float(np.median(steps)) if len(steps) else 0.0
    allowed = max(tolerance * spacing, 1e-3)
    duplicates = tuple(int(i) for i in np.nonzero(steps < 1e-3)[0])
    gaps = tuple(int(i) for i in np.nonzero(steps > GAP_FACTOR * spacing)[0]) if spacing else ()
    uneven = bool(len(steps) and float(np.max(np.abs(steps - spacing))) > allowed)
    return SeriesGeometry(
        order=tuple(int(i) for i in order),
        positions=tuple(float(p) for p in positions),
        normal=(float(normal[0]), float(normal[1]), float(normal[2])),
        spacing=spacing,
        uneven_spacing=uneven,
        gaps=gaps,
        duplicates=duplicates,
        mixed_orientation=mixed_orientation,
        mixed_size=mixed_size,
        pixel_spacing=slices[0].pixel_spacing,
        rows=slices[0].rows,
        columns=slices[0].columns,
    )


def _modality_values(frame: Frame) -> F32Array:
    stored = frame.pixels.astype(np.float64) + frame.offset
    return frame.modality.apply(stored).astype(np.float32)


def assemble_volume(
    frames: Sequence[Frame], geometry: SeriesGeometry, *, uniform: bool = True
) -> F32Array:
    """A (slices, rows, columns) volume of modality values, sorted along the normal.

    With ``uniform`` and uneven spacing, slices are linearly interpolated onto a grid of the
    median spacing, so reslices keep the true aspect across gaps.
    """
    if geometry.mixed_orientation or geometry.mixed_size:
        raise ImagingError(
            ImagingErrorCode.GEOMETRY,
            "Image Orientation (Patient) or Rows/Columns differ between slices",
        )
    if any(f.is_color for f in frames):
        raise ImagingError(ImagingErrorCode.GEOMETRY, "volumes are built from grey frames only")
    if len(frames) != len(geometry.order):
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, "frames and geometry differ in length")
    volume = np.stack([_modality_values(frames[i]) for i in geometry.order])
    if not uniform or not geometry.uneven_spacing or geometry.spacing <= 0:
        return volume
    positions = np.array(geometry.positions)
    count = round(float(positions[-1] - positions[0]) / geometry.spacing) + 1
    targets = positions[0] + np.arange(count) * geometry.spacing
    upper = np.clip(np.searchsorted(positions, targets, side="left"), 1, len(positions) - 1)
    lower = upper - 1
    span = positions[upper] - positions[lower]
    weight = np.where(span > 0, (targets - positions[lower]) / np.where(span > 0, span, 1), 0.0)
    weight = np.clip(weight, 0.0, 1.0).astype(np.float32)[:, None, None]
    return np.asarray(volume[lower] * (1 - weight) + volume[upper] * weight, dtype=np.float32)


class Plane(enum.StrEnum):
    """Relative to the acquisition: AXIAL is the acquired plane, the others cut across it."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


def reslice(
    volume: F32Array, geometry: SeriesGeometry, plane: Plane, index: int
) -> tuple[F32Array, tuple[float, float]]:
    """One plane of ``volume`` and its (row, column) pixel spacing in mm."""
    n, rows, columns = volume.shape
    limit = {Plane.AXIAL: n, Plane.CORONAL: rows, Plane.SAGITTAL: columns}[plane]
    if not 0 <= index < limit:
        raise ImagingError(
            ImagingErrorCode.FRAME_OUT_OF_RANGE, f"{plane} index {index} not in 0…{limit - 1}"
        )
    row_mm, col_mm = geometry.pixel_spacing
    step = geometry.spacing or 1.0
    if plane is Plane.AXIAL:
        return volume[index], (row_mm, col_mm)
    # Sorted slices run along +normal (towards the head for axial acquisitions, PS3.3
    # C.7.6.2.1.1), so flip to put the last slice at the top of the reformatted plane.
    if plane is Plane.CORONAL:
        return np.ascontiguousarray(volume[::-1, index, :]), (step, col_mm)
    return np.ascontiguousarray(volume[::-1, :, index]), (step, row_mm)


def plane_frame(values: F32Array, spacing: tuple[float, float], like: Frame) -> Frame:
    """A renderable Frame from modality values (e.g. a reslice), keeping ``like``'s VOI."""
    lo, hi = float(values.min()), float(values.max())
    integral = bool(np.all(np.mod(values, 1) == 0)) and hi - lo < 65536
    # Integer CT numbers stay exact; other data is quantised to 16 bits over its range.
    step = 1.0 if integral else max((hi - lo) / 65535.0, 1e-12)
    stored = np.round((values - lo) / step).astype(np.uint16)
    return Frame(
        rows=int(values.shape[0]),
        columns=int(values.shape[1]),
        photometric=like.photometric,
        pixels=stored,
        offset=0,
        stored_max=int(stored.max()),
        modality=ModalityTransform(slope=step, intercept=lo),
        windows=like.windows,
        voi_function=like.voi_function,
        voi_luts=like.voi_luts,
        presentation_inverse=like.presentation_inverse,
        pixel_spacing=spacing,
    )
