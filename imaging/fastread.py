"""A fast reader for the common case: native little endian greyscale, classic (not enhanced) objects.

The cold path (bytes → frame) used to spend most of its time in pydicom's per-element Python work
(building and converting every element). For an explicit or implicit VR little endian object with
8- or 16-bit MONOCHROME pixels, rendering needs a dozen attributes and the location of Pixel Data.
This module walks the element headers with ``struct`` (descending into sequences only to check
their structure), converts just those values, and views Pixel Data in the caller's bytes.

It is an optimisation, never a second opinion: it gives the same ``Frame`` as
``decode_frame(read_dataset(...))`` or raises the same ``ImagingError`` code, and for everything
else — compressed or big endian syntaxes, colour, LUT sequences, overlays, enhanced objects
(functional groups), odd structure, values it would have to interpret differently — it returns
``None`` so that the caller falls back to pydicom. tests/imaging/test_fastread.py holds it to
that on every native file pydicom ships, built cases and mutated/truncated copies.
"""

from __future__ import annotations

import re
import struct

from pydicom._dicom_dict import DicomDictionary
from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from imaging.attrs import check_declared_bits, check_declared_pixels
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.frame_attrs import FrameAttributes
from imaging.frames import Frame, _grey_frame, decode_frame
from imaging.limits import DEFAULT_LIMITS, Limits
from imaging.native import native_grey_array
from imaging.reading import (
    _LONG_VRS,
    Source,
    _meta_bounds,
    _read_source,
    read_dataset,
)
from imaging.voi import ModalityTransform, VoiFunction, Window

# Every VR of PS3.5 Table 6.2-1 (pydicom's explicit VR reader knows the same set).
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS",
                        b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                        b"US"})  # fmt: skip
_ALL_VRS = _SHORT_VRS | _LONG_VRS

# Binary VRs whose value length must be a multiple of the value size (pydicom refuses others).
_VALUE_SIZES = {b"AT": 4, b"FD": 8, b"FL": 4, b"SL": 4, b"SS": 2, b"SV": 8, b"UL": 4, b"US": 2,
                b"UV": 8, b"OD": 8, b"OF": 4, b"OL": 4, b"OV": 8, b"OW": 2}  # fmt: skip
_PIXEL_DATA = 0x7FE00010
# The attributes a classic greyscale frame needs (frame_attrs.frame_attributes, decode_frame),
# with the VR their values must have.
_WANTED: dict[int, bytes] = {
    0x00280002: b"US",  # Samples per Pixel
    0x00280004: b"CS",  # Photometric Interpretation
    0x00280008: b"IS",  # Number of Frames
    0x00280010: b"US",  # Rows
    0x00280011: b"US",  # Columns
    0x00280100: b"US",  # Bits Allocated
    0x00280101: b"US",  # Bits Stored
    0x00280103: b"US",  # Pixel Representation
    0x00280030: b"DS",  # Pixel Spacing
    0x00181164: b"DS",  # Imager Pixel Spacing
    0x00180050: b"DS",  # Slice Thickness
    0x00200032: b"DS",  # Image Position (Patient)
    0x00200037: b"DS",  # Image Orientation (Patient)
    0x00281050: b"DS",  # Window Center
    0x00281051: b"DS",  # Window Width
    0x00281052: b"DS",  # Rescale Intercept
    0x00281053: b"DS",  # Rescale Slope
    0x00281056: b"CS",  # VOI LUT Function
    0x20500020: b"CS",  # Presentation LUT Shape
}
# Present → the full path: LUT sequences, functional groups (enhanced objects), float pixels.
_FULL_PATH_TAGS = frozenset({0x00283000, 0x00283010, 0x52009229, 0x52009230, 0x7FE00008,
                             0x7FE00009})  # fmt: skip
# VR → (long form: reserved bytes and a 4-byte length, value size that lengths are a multiple of)
_VR_INFO: dict[bytes, tuple[bool, int]] = {
    vr: (vr in _LONG_VRS, _VALUE_SIZES.get(vr, 1)) for vr in _ALL_VRS
} | {b"US or SS": (False, 2), b"US or SS or OW": (False, 2)}
_NO_INFO = (False, 1)
_FULL: frozenset[bytes] = frozenset()  # marker: present → the full path
# Top-level tags the walker acts on: the VRs a wanted value may have, or _FULL.
_TOP_LEVEL: dict[int, frozenset[bytes]] = (
    {tag: frozenset({vr}) for tag, vr in _WANTED.items()}
    | {_PIXEL_DATA: frozenset({b"OB", b"OW"})}
    | dict.fromkeys(_FULL_PATH_TAGS, _FULL)
)
_SYNTAXES: dict[str, bool] = {ExplicitVRLittleEndian: True, ImplicitVRLittleEndian: False}
_MAX_DEPTH = 12
_UNDEFINED = 0xFFFFFFFF

_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")
_U32 = struct.Struct("<I")
_DS_VALUE = re.compile(rb" *[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? *")
_IS_VALUE = re.compile(rb" *\+?\d{1,12} *")
_CS_VALUE = re.compile(rb"[A-Z0-9_ ]*")
_GREY = frozenset({"MONOCHROME1", "MONOCHROME2"})

Found = dict[int, tuple[int, int]]  # tag → (value offset, value length)


class _UsePydicomError(Exception):
    """Not the common case: pydicom reads it."""


def _uppercase_vr(data: bytes, pos: int) -> bool:
    # pydicom's test for explicit VR (filereader._is_implicit_vr): two bytes in 'A'…'Z'.
    return 0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B


def _walk(
    data: bytes,
    pos: int,
    end: int,
    explicit: bool,
    depth: int,
    found: Found | None,
    budget: list[int],
) -> int:
    """Walk the elements of one dataset from ``pos`` and return where it ends.

    ``end`` < 0: an item of undefined length, closed by an Item Delimitation Item. ``found`` is
    given for the top level only, which must be in ascending tag order (no duplicates to resolve).
    ``budget[0]`` counts down every element, item and delimiter header (Limits.max_elements).
    The loop is the hot spot of the fast reader (≈ 1 µs per element): names are bound locally.
    """
    limit = len(data) if end < 0 else end
    top = found is not None
    values: Found = found if found is not None else {}
    last = -1
    creators: dict[int, bytes] = {}
    unpack_explicit, unpack_implicit = _EXPLICIT.unpack_from, _IMPLICIT.unpack_from
    unpack_u32, vr_info, special = _U32.unpack_from, _VR_INFO, _TOP_LEVEL
    while pos < limit:
        budget[0] -= 1
        if pos + 8 > limit or budget[0] < 0:
            raise _UsePydicomError
        if explicit:
            group, element, vr, length = unpack_explicit(data, pos)
            info = vr_info.get(vr)
            if info is None:
                if (
                    group == 0xFFFE
                    and element == 0xE00D
                    and end < 0
                    and not data[pos + 4 : pos + 8].strip(b"\0")
                ):
                    return pos + 8
                raise _UsePydicomError
            if info[0]:
                if pos + 12 > limit:
                    raise _UsePydicomError
                (length,) = unpack_u32(data, pos + 8)
                value_at = pos + 12
                if vr == b"UN" and _implied_vr(group << 16 | element, creators) != b"UN":
                    raise _UsePydicomError  # pydicom re-reads an explicit UN as the known VR
            else:
                value_at = pos + 8
        else:
            group, element, length = unpack_implicit(data, pos)
            value_at = pos + 8
            if group == 0xFFFE:
                if element == 0xE00D and end < 0 and length == 0:
                    return pos + 8
                raise _UsePydicomError
            vr = _implied_vr(group << 16 | element, creators)
            info = vr_info.get(vr, _NO_INFO)
        tag = group << 16 | element
        if top:
            if tag <= last or group == 0x0002 or 0x6000 <= group <= 0x60FF:
                raise _UsePydicomError  # unsorted, meta in the body, or overlays (60xx)
            last = tag
            if length != _UNDEFINED:
                if length % info[1]:
                    raise _UsePydicomError  # pydicom converts every top-level value on read
                if group & 1 and 0x0010 <= element <= 0x00FF:
                    creators[tag] = data[value_at : value_at + length]
            if b" or " in vr and vr != b"OB or OW" and 0x00280103 not in values:
                raise _UsePydicomError  # pydicom resolves US or SS by Pixel Representation
            kind = special.get(tag)
            if kind is not None:
                if kind is _FULL or length == _UNDEFINED:
                    raise _UsePydicomError  # LUTs, functional groups; encapsulated pixels
                if explicit and vr not in kind:
                    raise _UsePydicomError  # a VR the full path would interpret its own way
                values[tag] = (value_at, length)
        if length == _UNDEFINED:
            if explicit and vr != b"SQ":
                raise _UsePydicomError  # UN of undefined length
            pos = _sequence(data, value_at, -1, explicit, depth + 1, budget)
            continue
        after = value_at + length
        if after > limit:
            raise _UsePydicomError
        if vr == b"SQ" and length:
            _sequence(data, value_at, after, explicit, depth + 1, budget)
        pos = after
    if end < 0:
        raise _UsePydicomError  # an item of undefined length without its delimiter
    return pos


def _implied_vr(tag: int, creators: dict[int, bytes]) -> bytes:
    """The VR pydicom gives an implicit VR (or explicit UN) element: hooks.raw_element_vr."""
    entry = DicomDictionary.get(tag)
    if entry is not None:
        return entry[0].encode()
    group, element = tag >> 16, tag & 0xFFFF
    if group & 1:
        if 0x0010 <= element <= 0x00FF:
            return b"LO"  # a private creator
        creator = creators.get(group << 16 | element >> 8)
        if creator and element & 0xFF00:
            try:
                name = creator.decode("ascii").rstrip("\0 ")
                return private_dictionary_VR(tag, name).encode()
            except (KeyError, UnicodeDecodeError):
                return b"UN"
        return b"UN"
    try:
        return dictionary_VR(tag).encode()  # repeating groups (50xx, …)
    except KeyError:
        return b"UL" if element == 0 else b"UN"


def _sequence(
    data: bytes, pos: int, end: int, explicit: bool, depth: int, budget: list[int]
) -> int:
    """Walk the items of a sequence (PS3.5 7.5) and return where it ends."""
    if depth > _MAX_DEPTH:
        raise _UsePydicomError
    limit = len(data) if end < 0 else end
    while pos < limit:
        budget[0] -= 1
        if pos + 8 > limit or budget[0] < 0:
            raise _UsePydicomError
        group, element, length = _IMPLICIT.unpack_from(data, pos)
        if group != 0xFFFE:
            raise _UsePydicomError
        if element == 0xE0DD and end < 0 and length == 0:
            return pos + 8
        if element != 0xE000:
            raise _UsePydicomError
        if length == _UNDEFINED:
            pos = _walk(data, pos + 8, -1, explicit, depth, None, budget)
        else:
            after = pos + 8 + length
            if after > limit:
                raise _UsePydicomError
            _walk(data, pos + 8, after, explicit, depth, None, budget)
            pos = after
    if end < 0:
        raise _UsePydicomError  # a sequence of undefined length without its delimiter
    return pos


def _dataset_start(data: bytes) -> tuple[int, bool]:
    """Offset of the data set and whether it is explicit VR, as pydicom would read it."""
    bounds = _meta_bounds(data)
    if bounds is None:
        # A bare data set: pydicom takes explicit VR if the first "VR" is a known one, and big
        # endian if the group then reads ≥ 1024 (filereader.read_partial).
        if len(data) < 8:
            raise _UsePydicomError
        if data[4:6] in _ALL_VRS:
            if struct.unpack_from("<H", data, 0)[0] >= 1024:
                raise _UsePydicomError
            return 0, True
        if _uppercase_vr(data, 0):
            raise _UsePydicomError
        return 0, False
    start, end = bounds
    syntax = _meta_syntax(data, start, end)
    explicit = _SYNTAXES.get(syntax)
    if explicit is None or end + 8 > len(data):
        raise _UsePydicomError
    if _uppercase_vr(data, end) != explicit:
        raise _UsePydicomError  # the data set is not encoded as the meta says; pydicom switches
    return end, explicit


def _meta_syntax(data: bytes, pos: int, end: int) -> str:
    """Transfer Syntax UID from a File Meta group that pydicom reads without complaint."""
    last = -1
    syntax = None
    while pos < end:
        if pos + 8 > end:
            raise _UsePydicomError
        group, element, vr, length = _EXPLICIT.unpack_from(data, pos)
        value_at = pos + 8
        if vr in _LONG_VRS:
            if pos + 12 > end:
                raise _UsePydicomError
            (length,) = _U32.unpack_from(data, pos + 8)
            value_at = pos + 12
        elif vr not in _SHORT_VRS:
            raise _UsePydicomError
        tag = group << 16 | element
        if group != 0x0002 or tag <= last or length % _VALUE_SIZES.get(vr, 1):
            raise _UsePydicomError
        if element == 0 and (vr != b"UL" or length != 4):
            raise _UsePydicomError
        last = tag
        if tag == 0x00020010 and vr == b"UI":
            syntax = data[value_at : value_at + length].decode("ascii", "replace").strip("\0 ")
        pos = value_at + length
    if pos != end or syntax is None:
        raise _UsePydicomError  # no Transfer Syntax UID: the full path infers one
    return syntax


def _us(data: bytes, found: Found, tag: int) -> int | None:
    at = found.get(tag)
    if at is None:
        return None
    if at[1] != 2:
        raise _UsePydicomError
    return data[at[0]] | data[at[0] + 1] << 8


def _text(data: bytes, found: Found, tag: int) -> bytes | None:
    at = found.get(tag)
    return None if at is None else data[at[0] : at[0] + at[1]]


def _ds(data: bytes, found: Found, tag: int) -> list[float] | None:
    raw = _text(data, found, tag)
    if not raw:
        return None
    values = []
    for value in raw.split(b"\\"):
        # pydicom refuses > 16 characters when validating strictly; leave those to it.
        if len(value) > 16 or _DS_VALUE.fullmatch(value) is None:
            raise _UsePydicomError
        values.append(float(value))
    return values


def _cs(data: bytes, found: Found, tag: int) -> str:
    raw = _text(data, found, tag)
    if not raw:
        return ""
    if _CS_VALUE.fullmatch(raw) is None:
        raise _UsePydicomError
    return raw.decode("ascii").strip()


def _frames(data: bytes, found: Found) -> int:
    raw = _text(data, found, 0x00280008)
    if not raw:
        return 1
    if _IS_VALUE.fullmatch(raw) is None or int(raw) < 1:
        raise _UsePydicomError
    return int(raw)


def fast_frame(data: bytes, index: int, *, limits: Limits = DEFAULT_LIMITS) -> Frame | None:
    """Frame ``index`` of a native little endian greyscale object, or ``None``: use pydicom.

    Raises the ``ImagingError`` the full path would raise for the caps (elements, pixels,
    frames), an out-of-range frame and short Pixel Data.
    """
    try:
        start, explicit = _dataset_start(data)
        found: Found = {}
        # Counted as read_dataset counts (or more): past the cap the full path refuses the bomb.
        budget = [limits.max_elements]
        _walk(data, start, len(data), explicit, 0, found, budget)
        return _frame(data, found, index, limits)
    except _UsePydicomError:
        return None
    except (struct.error, IndexError, ValueError, OverflowError):
        return None  # anything the checks above missed is the full path's to judge


def _frame(data: bytes, found: Found, index: int, limits: Limits) -> Frame | None:
    rows, columns = _us(data, found, 0x00280010), _us(data, found, 0x00280011)
    allocated = _us(data, found, 0x00280100)
    pixels = found.get(_PIXEL_DATA)
    if rows is None or columns is None or allocated not in (8, 16) or pixels is None:
        raise _UsePydicomError
    if _us(data, found, 0x00280002) not in (None, 1):
        raise _UsePydicomError  # (0 too: native_grey_frame leaves it to pydicom's decoder)
    photometric = _cs(data, found, 0x00280004).upper()
    if photometric not in _GREY:
        raise _UsePydicomError
    stored = _us(data, found, 0x00280101) or allocated
    signed = _us(data, found, 0x00280103) == 1
    frames = _frames(data, found)
    attrs = _attributes(data, found)
    # The same checks, in the same order, as read_dataset + decode_frame.
    check_declared_pixels(rows, columns, 1, frames, limits)
    check_declared_bits(allocated, stored)
    if not 0 <= index < frames:
        raise ImagingError(
            ImagingErrorCode.FRAME_OUT_OF_RANGE,
            f"frame {index + 1} requested, Number of Frames is {frames}",
        )
    expected = (rows * columns * allocated + 7) // 8 * frames
    if pixels[1] < expected:
        raise ImagingError(
            ImagingErrorCode.TRUNCATED_PIXEL_DATA,
            f"Pixel Data has {pixels[1]} bytes, Rows/Columns/Bits Allocated/Number of Frames "
            f"need {expected}",
        )
    arr = native_grey_array(
        data, pixels[0], pixels[1], rows, columns, allocated, stored, signed, frames, index
    )
    if arr is None:
        raise _UsePydicomError
    return _grey_frame(arr, photometric, attrs, ())


def _attributes(data: bytes, found: Found) -> FrameAttributes:
    """frame_attrs.frame_attributes for a classic object without LUT sequences."""
    windows: tuple[Window, ...] = ()
    function = VoiFunction.LINEAR
    centers, widths = _ds(data, found, 0x00281050), _ds(data, found, 0x00281051)
    if centers and widths:
        windows = tuple(Window(c, w) for c, w in zip(centers, widths, strict=False) if w > 0)
        raw = _cs(data, found, 0x00281056) or "LINEAR"
        if windows and raw in VoiFunction.__members__:
            function = VoiFunction(raw)
    spacing = _ds(data, found, 0x00280030) or _ds(data, found, 0x00181164)
    position = _ds(data, found, 0x00200032)
    orientation = _ds(data, found, 0x00200037)
    thickness = _ds(data, found, 0x00180050)
    slope = _ds(data, found, 0x00281053)
    intercept = _ds(data, found, 0x00281052)
    return FrameAttributes(
        modality=ModalityTransform(
            slope=slope[0] if slope and slope[0] != 0 else 1.0,
            intercept=intercept[0] if intercept else 0.0,
        ),
        windows=windows,
        voi_function=function,
        voi_luts=(),
        presentation_inverse=_cs(data, found, 0x20500020) == "INVERSE",
        pixel_spacing=(spacing[0], spacing[1]) if spacing and len(spacing) >= 2 else None,
        image_position=(
            (position[0], position[1], position[2]) if position and len(position) >= 3 else None
        ),
        image_orientation=tuple(orientation[:6]) if orientation and len(orientation) >= 6 else None,
        slice_thickness=thickness[0] if thickness else None,
    )


def read_frame(source: Source, index: int = 0, *, limits: Limits = DEFAULT_LIMITS) -> Frame:
    """Frame ``index`` (from 0) of one object: the fast reader when it applies, else pydicom.

    The same result as ``decode_frame(read_dataset(source), index)``, in a fraction of the time
    for the common native greyscale case.
    """
    data = _read_source(source, limits)
    frame = fast_frame(data, index, limits=limits)
    if frame is not None:
        return frame
    return decode_frame(read_dataset(data, limits=limits), index, limits=limits)
