"""Colour frames to 8-bit RGB (PS3.3 C.7.6.3.1.2 photometric interpretations, C.7.6.3.1.5 palettes)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, convert_color_space

from imaging.attrs import int_value
from imaging.errors import ImagingError, ImagingErrorCode

_YBR = frozenset({"YBR_FULL", "YBR_FULL_422"})
# JPEG 2000 decoders undo the component transform themselves (PS3.5 8.2.4): RCT/ICT come out RGB.
_ALREADY_RGB = frozenset({"RGB", "YBR_RCT", "YBR_ICT"})


def _to_u8(arr: np.ndarray, bits: int) -> npt.NDArray[np.uint8]:
    if arr.dtype == np.uint8 and bits <= 8:
        return arr
    # Keep the most significant 8 of the stored bits, as dcmtk does for colour output.
    shift = max(bits - 8, 0)
    return (arr.astype(np.uint64) >> shift).clip(0, 255).astype(np.uint8)


def to_rgb8(ds: Dataset, arr: np.ndarray, photometric: str, decoded: str) -> npt.NDArray[np.uint8]:
    bits = int_value(ds, "BitsStored") or int(arr.dtype.itemsize * 8)
    if photometric == "PALETTE COLOR":
        if arr.ndim != 2:
            raise ImagingError(
                ImagingErrorCode.INCONSISTENT_ATTRIBUTES,
                "PALETTE COLOR needs Samples per Pixel 1",
            )
        try:
            rgb = apply_color_lut(arr, ds)
        except Exception as exc:  # malformed palette descriptors raise ValueError/IndexError
            raise ImagingError(
                ImagingErrorCode.INCONSISTENT_ATTRIBUTES,
                f"Red/Green/Blue Palette Color Lookup Table Descriptor/Data: {exc}",
            ) from exc
        lut_bits = 16 if rgb.dtype.itemsize > 1 else 8
        return _to_u8(rgb, lut_bits)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImagingError(
            ImagingErrorCode.UNSUPPORTED_PHOTOMETRIC,
            f"Photometric Interpretation {photometric} with array shape {arr.shape}",
        )
    if decoded in _YBR:
        arr = convert_color_space(arr, "YBR_FULL", "RGB")
    elif decoded not in _ALREADY_RGB and photometric not in _ALREADY_RGB | _YBR:
        raise ImagingError(
            ImagingErrorCode.UNSUPPORTED_PHOTOMETRIC,
            f"Photometric Interpretation {photometric} is not rendered",
        )
    return np.ascontiguousarray(_to_u8(arr, bits))
