"""Defensive access to the Image Pixel attributes (PS3.3 C.7.6.3) and the safety caps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset

from imaging.errors import ImagingError, ImagingErrorCode
from imaging.limits import Limits

_LEADING_INT = re.compile(r"\s*\+?(\d{1,12})")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def get_value(ds: Dataset, keyword: str) -> Any:
    """The value of ``keyword`` or ``None``; a value pydicom cannot convert counts as absent."""
    try:
        elem = ds.get(keyword)
    except Exception:  # a wrong VR makes pydicom's lazy conversion raise anything
        return None
    if elem is None or elem == "":
        return None
    return elem


def int_value(ds: Dataset, keyword: str) -> int | None:
    value = get_value(ds, keyword)
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
        if value is None:
            return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES, f"{keyword} is not an integer: {value!r}"
        ) from exc


def require_int(ds: Dataset, keyword: str) -> int:
    value = int_value(ds, keyword)
    if value is None:
        raise ImagingError(ImagingErrorCode.MISSING_ATTRIBUTE, f"{keyword} is required")
    return value


def float_list(ds: Dataset, keyword: str) -> list[float] | None:
    value = get_value(ds, keyword)
    if value is None:
        return None
    items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return None


def has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in _PIXEL_KEYWORDS)


def frames_of(ds: Dataset) -> int:
    """Number of Frames (PS3.3 C.7.6.6); absent means one frame."""
    value = get_value(ds, "NumberOfFrames")
    if value is None:
        return 1
    # Read leading digits as dcmtk does: archives hold values like "1A" or "3 " (wrong VR/padding).
    match = _LEADING_INT.match(str(value))
    if match is None:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES, f"Number of Frames is {value!r}"
        )
    frames = int(match.group(1))
    if frames < 1:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES, f"Number of Frames is {frames}, must be ≥ 1"
        )
    return frames


def check_pixel_limits(ds: Dataset, limits: Limits, *, declared_only: bool = False) -> None:
    """Refuse, from the attributes alone, an object whose pixels would exceed the caps.

    With ``declared_only`` (on read) an object missing its Image Pixel attributes passes: its
    metadata is still useful, and decoding will name what is missing.
    """
    if not has_pixels(ds):
        return
    if declared_only and (int_value(ds, "Rows") is None or int_value(ds, "Columns") is None):
        return
    rows = require_int(ds, "Rows")
    columns = require_int(ds, "Columns")
    samples = int_value(ds, "SamplesPerPixel") or 1
    frames = frames_of(ds)
    check_declared_pixels(rows, columns, samples, frames, limits)
    if "PixelData" in ds:
        allocated = require_int(ds, "BitsAllocated")
        check_declared_bits(allocated, int_value(ds, "BitsStored") or allocated)


def check_declared_pixels(
    rows: int, columns: int, samples: int, frames: int, limits: Limits
) -> None:
    """The caps on declared values, shared by the pydicom reader and the fast reader."""
    if rows <= 0 or columns <= 0:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES, f"Rows × Columns is {rows} × {columns}"
        )
    if samples not in (1, 3, 4):
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES, f"Samples per Pixel is {samples}"
        )
    if frames > limits.max_frames:
        raise ImagingError(
            ImagingErrorCode.TOO_MANY_FRAMES,
            f"Number of Frames is {frames}, over the limit of {limits.max_frames}",
        )
    total = rows * columns * samples * frames
    if total > limits.max_pixels:
        raise ImagingError(
            ImagingErrorCode.TOO_MANY_PIXELS,
            f"Rows × Columns × Samples per Pixel × Number of Frames = {rows} × {columns} × "
            f"{samples} × {frames} = {total}, over the limit of {limits.max_pixels}",
        )


def check_declared_bits(allocated: int, stored: int) -> None:
    if allocated not in (1, 8, 16, 32, 64) or not 1 <= stored <= allocated:
        raise ImagingError(
            ImagingErrorCode.INCONSISTENT_ATTRIBUTES,
            f"Bits Allocated {allocated} with Bits Stored {stored}",
        )
