"""Per-frame attributes: rescale, VOI, plane position (PS3.3 C.7.6.16 functional groups).

Enhanced objects put these in the Per-Frame Functional Groups Sequence (5200,9230) item of the
frame, else in the Shared Functional Groups Sequence (5200,9229); classic objects at top level.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from imaging.attrs import float_list, get_value, int_value
from imaging.voi import Lut, ModalityTransform, VoiFunction, Window


@dataclass(frozen=True, slots=True)
class FrameAttributes:
    modality: ModalityTransform
    windows: tuple[Window, ...]
    voi_function: VoiFunction
    voi_luts: tuple[Lut, ...]
    presentation_inverse: bool
    pixel_spacing: tuple[float, float] | None
    image_position: tuple[float, float, float] | None
    image_orientation: tuple[float, ...] | None
    slice_thickness: float | None


_PER_FRAME = 0x52009230  # Per-Frame Functional Groups Sequence
_SHARED = 0x52009229  # Shared Functional Groups Sequence


def _items(ds: Dataset, keyword: str) -> list[Dataset]:
    value = get_value(ds, keyword)
    try:
        return [item for item in value] if value is not None else []
    except TypeError:
        return []


def _sources(ds: Dataset, index: int, macro: str) -> Iterator[Dataset]:
    """Where ``macro`` may live for frame ``index``: per-frame, shared, then the top level."""
    if _PER_FRAME not in ds and _SHARED not in ds:
        yield ds  # a classic object: skip the sequence look-ups (the cold path's hot spot)
        return
    per_frame = _items(ds, "PerFrameFunctionalGroupsSequence")
    if index < len(per_frame):
        yield from _items(per_frame[index], macro)[:1]
    shared = _items(ds, "SharedFunctionalGroupsSequence")
    if shared:
        yield from _items(shared[0], macro)[:1]
    yield ds


def _first_floats(ds: Dataset, index: int, macro: str, keyword: str) -> list[float] | None:
    for source in _sources(ds, index, macro):
        values = float_list(source, keyword)
        if values:
            return values
    return None


def _lut(item: Dataset, signed_first: bool) -> Lut | None:
    descriptor = get_value(item, "LUTDescriptor")
    data = get_value(item, "LUTData")
    if descriptor is None or data is None or len(descriptor) != 3:
        return None
    entries, first, bits = (int(v) for v in descriptor)
    if signed_first and first >= 1 << 15:
        first -= 1 << 16  # PS3.3 C.11.1.1: first mapped value is SS when pixels are signed
    if isinstance(data, bytes):
        table = np.frombuffer(data, dtype="<u2" if bits > 8 else "u1").astype(np.int64)
    else:
        table = np.asarray(list(data) if not isinstance(data, int) else [data], dtype=np.int64)
    entries = entries or 65536
    if len(table) == 0 or bits <= 0:
        return None
    return Lut(first_mapped=first, bits=bits, data=table[: max(entries, 1)])


def _modality(ds: Dataset, index: int, signed: bool) -> ModalityTransform:
    for item in _items(ds, "ModalityLUTSequence")[:1]:
        lut = _lut(item, signed)
        if lut is not None:
            return ModalityTransform(lut=lut)
    slope = _first_floats(ds, index, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _first_floats(ds, index, "PixelValueTransformationSequence", "RescaleIntercept")
    return ModalityTransform(
        slope=slope[0] if slope and slope[0] != 0 else 1.0,
        intercept=intercept[0] if intercept else 0.0,
    )


def _windows(ds: Dataset, index: int) -> tuple[tuple[Window, ...], VoiFunction]:
    for source in _sources(ds, index, "FrameVOILUTSequence"):
        centers = float_list(source, "WindowCenter")
        widths = float_list(source, "WindowWidth")
        if centers and widths:
            raw = str(get_value(source, "VOILUTFunction") or "LINEAR").strip().upper()
            function = VoiFunction(raw) if raw in VoiFunction.__members__ else VoiFunction.LINEAR
            windows = tuple(Window(c, w) for c, w in zip(centers, widths, strict=False) if w > 0)
            if windows:
                return windows, function
    return (), VoiFunction.LINEAR


def frame_attributes(ds: Dataset, index: int) -> FrameAttributes:
    signed = int_value(ds, "PixelRepresentation") == 1
    voi_luts = tuple(
        lut for item in _items(ds, "VOILUTSequence") if (lut := _lut(item, signed)) is not None
    )
    windows, function = _windows(ds, index)
    spacing = _first_floats(ds, index, "PixelMeasuresSequence", "PixelSpacing")
    if spacing is None:
        spacing = float_list(ds, "ImagerPixelSpacing")
    position = _first_floats(ds, index, "PlanePositionSequence", "ImagePositionPatient")
    orientation = _first_floats(ds, index, "PlaneOrientationSequence", "ImageOrientationPatient")
    thickness = _first_floats(ds, index, "PixelMeasuresSequence", "SliceThickness")
    shape = str(get_value(ds, "PresentationLUTShape") or "").strip().upper()
    return FrameAttributes(
        modality=_modality(ds, index, signed),
        windows=windows,
        voi_function=function,
        voi_luts=voi_luts,
        presentation_inverse=shape == "INVERSE",
        pixel_spacing=(spacing[0], spacing[1]) if spacing and len(spacing) >= 2 else None,
        image_position=(
            (position[0], position[1], position[2]) if position and len(position) >= 3 else None
        ),
        image_orientation=tuple(orientation[:6]) if orientation and len(orientation) >= 6 else None,
        slice_thickness=thickness[0] if thickness else None,
    )
