"""8-bit images to JPEG and PNG bytes.

Measured on the 2-core CI machine (bench/render.py): simplejpeg (libjpeg-turbo, no PIL image
object) is the fastest JPEG path; PNG goes through Pillow at compress level 1, where zlib's
level barely changes the size of noisy medical images but triples the time.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from imaging.errors import ImagingError, ImagingErrorCode
from imaging.voi import U8Array


def _check(img: U8Array) -> None:
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ImagingError(
            ImagingErrorCode.BAD_ARGUMENT, f"need uint8 H×W or H×W×3, got {img.dtype} {img.shape}"
        )


def encode_jpeg(img: U8Array, *, quality: int = 90) -> bytes:
    _check(img)
    if not 1 <= quality <= 100:
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, f"JPEG quality {quality} not in 1…100")
    arr = np.ascontiguousarray(img)
    if arr.ndim == 2:
        data: bytes = simplejpeg.encode_jpeg(arr[:, :, None], quality=quality, colorspace="GRAY")
    else:
        data = simplejpeg.encode_jpeg(
            arr, quality=quality, colorspace="RGB", colorsubsampling="444"
        )
    return data


def encode_png(img: U8Array, *, compress_level: int = 1) -> bytes:
    _check(img)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(
        out, format="PNG", compress_level=compress_level
    )
    return out.getvalue()


def encode_webp(img: U8Array, *, quality: int = 80) -> bytes:
    """Optional smaller previews; measured ~10× slower than JPEG here (bench/render.py)."""
    _check(img)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(out, format="WEBP", quality=quality, method=0)
    return out.getvalue()
