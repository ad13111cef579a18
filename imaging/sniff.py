"""Recognise the codestream of encapsulated Pixel Data when the file meta is missing.

A bare dataset (no PS3.10 header) with encapsulated Pixel Data does not say how it was compressed;
dcmtk refuses such objects, Orthanc guesses. We look at the first fragment's markers (ITU T.81
SOFn, ITU T.87 SOF55, ISO 15444-1 SIZ, PS3.5 Annex G RLE header).
"""

from __future__ import annotations

import struct

from pydicom.uid import (
    JPEG2000,
    UID,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

_ITEM = b"\xfe\xff\x00\xe0"


def _first_fragment(data: bytes) -> bytes | None:
    """The first fragment after the Basic Offset Table item (PS3.5 A.4)."""
    pos = 0
    items = 0
    while pos + 8 <= len(data) and data[pos : pos + 4] == _ITEM:
        (length,) = struct.unpack_from("<I", data, pos + 4)
        if items == 1:
            return data[pos + 8 : pos + 8 + length]
        pos += 8 + length
        items += 1
    return None


def _jpeg_syntax(frag: bytes) -> UID | None:
    pos = 2
    while pos + 4 <= len(frag):
        if frag[pos] != 0xFF:
            return None
        marker = frag[pos + 1]
        (length,) = struct.unpack_from(">H", frag, pos + 2)
        if marker == 0xC0:
            return JPEGBaseline8Bit
        if marker == 0xC1:
            return JPEGExtended12Bit
        if marker == 0xF7:
            return _after_sos(frag, pos, JPEGLSLossless, JPEGLSNearLossless, near=True)
        if marker == 0xC3:
            return _after_sos(frag, pos, JPEGLosslessSV1, JPEGLossless, near=False)
        pos += 2 + length
    return None


def _after_sos(frag: bytes, pos: int, first: UID, other: UID, *, near: bool) -> UID:
    """Process 14 SV1 has predictor 1; JPEG-LS lossless has NEAR 0 (both in the SOS segment)."""
    sos = frag.find(b"\xff\xda", pos)
    if sos < 0 or sos + 5 > len(frag):
        return other
    components = frag[sos + 4]
    value_at = sos + 5 + 2 * components
    if value_at >= len(frag):
        return other
    value = frag[value_at]
    return first if (value == 0 if near else value == 1) else other


def sniff_encapsulated_syntax(pixel_data: bytes) -> UID | None:
    frag = _first_fragment(pixel_data)
    if not frag:
        return None
    if frag[:2] == b"\xff\xd8":
        return _jpeg_syntax(frag)
    if frag[:4] == b"\xff\x4f\xff\x51" or frag[4:8] == b"jP  ":
        # COD segment: transformation 1 is the reversible 5/3 wavelet (ISO 15444-1 A.6.1).
        cod = frag.find(b"\xff\x52")
        if cod >= 0 and cod + 13 < len(frag) and frag[cod + 13] == 1:
            return JPEG2000Lossless
        return JPEG2000
    if len(frag) >= 64:
        segments, first_offset = struct.unpack_from("<II", frag, 0)
        if 1 <= segments <= 15 and first_offset == 64:
            return RLELossless
    return None


def codestream_size(frame: bytes) -> tuple[int, int] | None:
    """(columns, rows) a JPEG, JPEG-LS or JPEG 2000 codestream declares, if it says."""
    if frame[:2] == b"\xff\xd8":
        pos = 2
        while pos + 9 <= len(frame) and frame[pos] == 0xFF:
            marker = frame[pos + 1]
            (length,) = struct.unpack_from(">H", frame, pos + 2)
            # SOF0…SOF15 except DHT (C4), JPG (C8), DAC (CC); SOF55 (F7) for JPEG-LS.
            if (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)) or marker == 0xF7:
                rows, columns = struct.unpack_from(">HH", frame, pos + 5)
                return columns, rows
            pos += 2 + length
        return None
    siz = frame.find(b"\xff\x4f\xff\x51")
    if siz >= 0 and siz + 24 <= len(frame):
        # ISO 15444-1 A.5.1: Xsiz, Ysiz, XOsiz, YOsiz after Lsiz and Rsiz.
        x, y, x0, y0 = struct.unpack_from(">IIII", frame, siz + 8)
        return max(x - x0, 0), max(y - y0, 0)
    return None
