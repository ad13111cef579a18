"""Repair of a common defect in sequential JPEG codestreams, as IJG (dcmtk) tolerates it.

Some writers put Ss/Se/Ah/Al values meant for progressive mode into the SOS segment of a
sequential (SOF0/SOF1) image. ITU T.81 B.2.3 fixes them at Ss=0, Se=63, Ah=Al=0 for sequential
DCT; IJG warns ("Invalid SOS parameters") and decodes, libjpeg (pylibjpeg) refuses. We rewrite
those three bytes and decode again.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit

SEQUENTIAL = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})


def fix_sos(frame: bytes) -> bytes:
    data = bytearray(frame)
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker == 0xDA:
            components = data[pos + 4]
            at = pos + 5 + 2 * components
            if at + 3 <= len(data):
                data[at : at + 3] = b"\x00\x3f\x00"
            break
        pos += 2 + length
    return bytes(data)


def repaired_single_frame(work: Dataset, index: int, frames: int) -> Dataset:
    """A copy of the pixel module holding only frame ``index``, its SOS repaired."""
    for n, frame in enumerate(generate_frames(work.PixelData, number_of_frames=frames)):
        if n == index:
            fixed = Dataset({e.tag: e for e in work})
            fixed.file_meta = work.file_meta
            fixed.NumberOfFrames = 1
            fixed.PixelData = encapsulate([fix_sos(frame)])
            fixed["PixelData"].VR = "OB"
            return fixed
    raise ValueError(f"frame {index + 1} not found in the encapsulated Pixel Data")
