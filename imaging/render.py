"""The grayscale and colour display pipeline to 8-bit (PS3.3 C.11, Figure C.11-1)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from imaging.errors import ImagingError, ImagingErrorCode
from imaging.frames import Frame
from imaging.voi import (
    U8Array,
    VoiFunction,
    Window,
    minmax_window,
    unit_to_u8,
    window_to_unit,
)

# Stored-value spans up to this size use one lookup table; wider (32-bit) data is mapped directly.
_MAX_LUT_ENTRIES = 1 << 20


def _values_to_u8(
    frame: Frame,
    stored: npt.NDArray[np.float64],
    window: Window | None,
    function: VoiFunction | None,
    invert: bool,
) -> U8Array:
    """Modality LUT → VOI → presentation on stored values (shifted by ``frame.offset``)."""
    values = frame.modality.apply(stored + frame.offset)
    chosen = effective_window(frame, window)
    if chosen is not None:
        # The min–max window is always LINEAR (as dcmj2pnm +Wm); file windows use the file's
        # VOI LUT Function unless the caller names one.
        minmax = window is None and frame.default_window is None
        default = VoiFunction.LINEAR if minmax else frame.voi_function
        unit = window_to_unit(values, chosen, function or default)
    else:
        lut = frame.voi_luts[0]
        unit = lut.apply(values) / lut.output_max
    # MONOCHROME1 shows low values bright (C.7.6.3.1.2); Presentation LUT Shape INVERSE likewise
    # (C.11.6); a caller's invert flips the result once more.
    inverse = (frame.photometric == "MONOCHROME1") != frame.presentation_inverse
    return unit_to_u8(np.clip(unit, 0.0, 1.0), invert=inverse != invert)


def effective_window(frame: Frame, window: Window | None = None) -> Window | None:
    """The window ``render`` applies: the caller's, the frame's first, else min–max.

    ``None`` for colour frames and when the frame's VOI LUT Sequence is used instead.
    """
    if frame.is_color:
        return None
    if window is not None:
        return window
    if frame.default_window is not None:
        return frame.default_window
    if frame.voi_luts:
        return None
    ends = frame.modality.apply(np.array([frame.offset, frame.offset + frame.stored_max], float))
    return minmax_window(float(min(ends)), float(max(ends)))


def grey_lut(
    frame: Frame,
    *,
    window: Window | None = None,
    voi_function: VoiFunction | None = None,
    invert: bool = False,
) -> U8Array:
    """The 8-bit table indexed by ``frame.pixels`` (0 … stored_max)."""
    stored = np.arange(frame.stored_max + 1, dtype=np.float64)
    return _values_to_u8(frame, stored, window, voi_function, invert)


def fit_size(columns: int, rows: int, size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) fitting within ``size`` keeping the aspect ratio; never enlarges."""
    max_w, max_h = size
    if max_w <= 0 or max_h <= 0:
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"size {max_w}×{max_h} must be positive")
    scale = min(max_w / columns, max_h / rows, 1.0)
    return max(1, round(columns * scale)), max(1, round(rows * scale))


def resize(img: U8Array, size: tuple[int, int]) -> U8Array:
    rows, columns = img.shape[0], img.shape[1]
    width, height = fit_size(columns, rows, size)
    if (width, height) == (columns, rows):
        return img
    image = Image.fromarray(img)
    # Box-reduce by the integer part of the factor first (area averaging: alias-free and ~10×
    # cheaper than a full Lanczos), then bilinear for the remaining factor below 2.
    factor = min(columns // width, rows // height)
    if factor >= 2:
        image = image.reduce(factor)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def render(
    frame: Frame,
    *,
    window: Window | None = None,
    voi_function: VoiFunction | None = None,
    size: tuple[int, int] | None = None,
    invert: bool = False,
    overlays: bool = False,
    aspect: bool = False,
) -> U8Array:
    """An 8-bit display image: H×W for grey frames, H×W×3 for colour ones.

    ``aspect`` stretches non-square pixels (Pixel Spacing, e.g. of a reslice) to square ones.
    """
    if window is not None and window.width <= 0:
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"window width {window.width} ≤ 0")
    if frame.is_color:
        img: U8Array = frame.pixels.astype(np.uint8, copy=False)
        if invert:
            img = 255 - img
    elif frame.stored_max < min(_MAX_LUT_ENTRIES, frame.pixels.size):
        # A table only pays when it is smaller than the image (not for a 10×10 32-bit dose grid).
        lut = grey_lut(frame, window=window, voi_function=voi_function, invert=invert)
        img = np.take(lut, frame.pixels)
    else:
        img = _values_to_u8(frame, frame.pixels.astype(np.float64), window, voi_function, invert)
    if overlays and frame.overlays:
        img = img.copy() if img.base is not None or img is frame.pixels else img
        for overlay in frame.overlays:
            # Burned-in graphics take the brightest value (PS3.3 C.9.2: overlay bit set = shown).
            img[overlay.mask] = 255
    if aspect and frame.pixel_spacing is not None:
        img = square_pixels(img, frame.pixel_spacing)
    if size is not None:
        img = resize(img, size)
    return img


def square_pixels(img: U8Array, spacing: tuple[float, float]) -> U8Array:
    """Stretch the axis with the coarser spacing so each pixel covers a square (C.7.6.2.1.1)."""
    row_mm, col_mm = spacing
    if row_mm <= 0 or col_mm <= 0 or abs(row_mm - col_mm) <= 1e-3 * max(row_mm, col_mm):
        return img
    rows, columns = img.shape[0], img.shape[1]
    if row_mm > col_mm:
        rows = max(1, round(rows * row_mm / col_mm))
    else:
        columns = max(1, round(columns * col_mm / row_mm))
    stretched = Image.fromarray(img).resize((columns, rows), Image.Resampling.BILINEAR)
    return np.asarray(stretched, dtype=np.uint8)
