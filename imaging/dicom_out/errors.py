"""The one error type of the write-back builders: a stable code and a message saying what is valid."""

from __future__ import annotations

import enum


class WritebackErrorCode(enum.StrEnum):
    """Stable codes; the gateway records them with the outbox entry, so never rename a value."""

    BAD_CODE = "bad_code"
    UNKNOWN_LABEL_KIND = "unknown_label_kind"
    WRONG_LABEL_KIND = "wrong_label_kind"
    BAD_COLOUR = "bad_colour"
    BAD_UID = "bad_uid"
    BAD_KEY = "bad_key"
    BAD_TEXT = "bad_text"
    MISSING_ATTRIBUTE = "missing_attribute"
    UNKNOWN_SOURCE = "unknown_source"
    MIXED_SOURCES = "mixed_sources"
    FRAME_OUT_OF_RANGE = "frame_out_of_range"
    OUT_OF_BOUNDS = "out_of_bounds"
    EMPTY_GEOMETRY = "empty_geometry"
    DEGENERATE_GEOMETRY = "degenerate_geometry"
    NO_PIXEL_SPACING = "no_pixel_spacing"
    MASK_SHAPE = "mask_shape"
    EMPTY_MASK = "empty_mask"
    DUPLICATE = "duplicate"
    NOTHING_TO_WRITE = "nothing_to_write"
    NOT_SUPPORTED = "not_supported"
    BAD_VALUE = "bad_value"


class WritebackError(ValueError):
    """Bad input to a builder, raised before anything is built."""

    def __init__(self, code: WritebackErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
