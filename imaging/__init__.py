"""Reading, rendering, geometry, de-identification and handles for DICOM; see docs/imaging.md."""

from imaging.deid import deidentify, keyed_uid_map, series_summary
from imaging.encode import encode_jpeg, encode_png, encode_webp
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.fastread import fast_frame, read_frame
from imaging.frames import Frame, decode_frame, frame_count
from imaging.geometry import (
    Plane,
    SeriesGeometry,
    SliceGeometry,
    assemble_volume,
    frame_geometries,
    group_series,
    plane_frame,
    reslice,
    series_geometry,
    slice_geometry,
)
from imaging.handles import HandleKey, HandleKind, handle_kind
from imaging.limits import DEFAULT_LIMITS, Limits
from imaging.reading import read_dataset
from imaging.render import effective_window, render
from imaging.voi import VoiFunction, Window

__all__ = [
    "DEFAULT_LIMITS",
    "Frame",
    "HandleKey",
    "HandleKind",
    "ImagingError",
    "ImagingErrorCode",
    "Limits",
    "Plane",
    "SeriesGeometry",
    "SliceGeometry",
    "VoiFunction",
    "Window",
    "assemble_volume",
    "decode_frame",
    "deidentify",
    "effective_window",
    "encode_jpeg",
    "encode_png",
    "encode_webp",
    "fast_frame",
    "frame_count",
    "frame_geometries",
    "group_series",
    "handle_kind",
    "keyed_uid_map",
    "plane_frame",
    "read_dataset",
    "read_frame",
    "render",
    "reslice",
    "series_geometry",
    "series_summary",
    "slice_geometry",
]
