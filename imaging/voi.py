"""VOI and modality transforms as lookup tables (PS3.3 C.11.1, C.11.2).

The warm path indexes one ``uint8`` table by stored value; tables are built in float64 over the
frame's stored-value range only, which is small (≤ 65 536 entries for ≤ 16-bit data).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging.errors import ImagingError, ImagingErrorCode

FloatArray = npt.NDArray[np.float64]
U8Array = npt.NDArray[np.uint8]


class VoiFunction(enum.StrEnum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True, slots=True)
class Window:
    center: float
    width: float

    def to_json(self) -> dict[str, float]:
        return {"center": self.center, "width": self.width}


@dataclass(frozen=True, slots=True, eq=False)
class Lut:
    """A Modality or VOI LUT: descriptor (entries, first mapped value, bits) and data."""

    first_mapped: int
    bits: int
    data: npt.NDArray[np.int64]

    def apply(self, values: FloatArray) -> FloatArray:
        # Values below the first mapped value take the first entry, above the last the last
        # entry (PS3.3 C.11.1.1.1 and C.11.2.1.1).
        index = np.clip(np.floor(values) - self.first_mapped, 0, len(self.data) - 1)
        mapped: FloatArray = self.data[index.astype(np.intp)].astype(np.float64)
        return mapped

    @property
    def output_max(self) -> float:
        # The descriptor's third value fixes the output range 0 … 2^bits − 1 (PS3.3 C.11.2.1.1);
        # dcmtk trusts it too, even when the data never reach the top (checked in the tests).
        return float((1 << min(self.bits, 32)) - 1)


@dataclass(frozen=True, slots=True, eq=False)
class ModalityTransform:
    """Rescale Slope/Intercept (C.11.1.1.2) or a Modality LUT Sequence (C.11.1.1.1)."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: Lut | None = None

    def apply(self, stored: FloatArray) -> FloatArray:
        if self.lut is not None:
            return self.lut.apply(stored)
        if self.slope == 1.0 and self.intercept == 0.0:
            return stored
        return stored * self.slope + self.intercept


def window_to_unit(values: FloatArray, window: Window, function: VoiFunction) -> FloatArray:
    """Map modality values to 0…1 by a window (PS3.3 C.11.2.1.2, with y range 0…1)."""
    c, w = window.center, window.width
    if function is VoiFunction.SIGMOID:
        if w <= 0:
            raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"Window Width {w} must be > 0")
        sigmoid: FloatArray = 1.0 / (1.0 + np.exp(-4.0 * (values - c) / w))
        return sigmoid
    if function is VoiFunction.LINEAR_EXACT:
        if w <= 0:
            raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"Window Width {w} must be > 0")
        exact: FloatArray = np.clip((values - c) / w + 0.5, 0.0, 1.0)
        return exact
    if w < 1:
        # C.11.2.1.2.1: for LINEAR the width shall be ≥ 1.
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"Window Width {w} must be ≥ 1")
    if w == 1:
        return np.where(values <= c - 0.5, 0.0, 1.0)
    return np.clip((values - (c - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)


def unit_to_u8(unit: FloatArray, *, invert: bool) -> U8Array:
    """Quantise 0…1 to 0…255, optionally inverted (C.11.6 INVERSE).

    PS3.3 leaves the rounding open; we truncate as dcmtk does, so our output matches the reference
    renderer exactly. The 1e-6 absorbs float error at exact level boundaries.
    """
    if invert:
        unit = 1.0 - unit
    return np.floor(unit * 255.0 + 1e-6).astype(np.uint8)


def minmax_window(lo: float, hi: float) -> Window:
    """A window spanning lo…hi exactly, as dcmtk's +Wm computes it (width = range + 1)."""
    return Window(center=(lo + hi + 1.0) / 2.0, width=hi - lo + 1.0)
