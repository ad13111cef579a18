"""The one error type of ``imaging/``: a stable code for machines, a message naming the attribute."""

from __future__ import annotations

import enum


class ImagingErrorCode(enum.StrEnum):
    """Stable codes; the gateway forwards them on the wire, so never rename a value."""

    NOT_DICOM = "not_dicom"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FRAMES = "too_many_frames"
    TOO_LARGE = "too_large"
    INFLATE_LIMIT = "inflate_limit"
    TRUNCATED_PIXEL_DATA = "truncated_pixel_data"
    INCONSISTENT_ATTRIBUTES = "inconsistent_attributes"
    MISSING_ATTRIBUTE = "missing_attribute"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    UNSUPPORTED_PHOTOMETRIC = "unsupported_photometric"
    DECODE_FAILED = "decode_failed"
    FRAME_OUT_OF_RANGE = "frame_out_of_range"
    NO_PIXEL_DATA = "no_pixel_data"
    GEOMETRY = "geometry"
    BAD_ARGUMENT = "bad_argument"


class ImagingError(Exception):
    """A foreseen failure: ``code`` is stable, ``message`` says which attribute and why."""

    def __init__(self, code: ImagingErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
