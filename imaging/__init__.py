"""Reading, rendering, geometry, de-identification and handles for DICOM; see docs/imaging.md."""

from imaging.errors import ImagingError, ImagingErrorCode
from imaging.encode import encode_jpeg, encode_png
from imaging.frames import Frame, decode_frame, frame_count
from imaging.handles import HandleKey, HandleKind, handle_kind
from imaging.limits import DEFAULT_LIMITS, Limits
from imaging.reading import read_dataset
from imaging.render import render
from imaging.voi import VoiFunction, Window

__all__ = [
    "DEFAULT_LIMITS",
    "Frame",
    "HandleKey",
    "HandleKind",
    "ImagingError",
    "ImagingErrorCode",
    "Limits",
    "VoiFunction",
    "Window",
    "decode_frame",
    "encode_jpeg",
    "encode_png",
    "frame_count",
    "handle_kind",
    "read_dataset",
    "render",
]
