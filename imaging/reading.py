"""Tolerant, bounded reading of DICOM objects (PS3.10 files and bare PS3.5 datasets).

Archives hold imperfect objects: no preamble, no file meta, wrong VRs, odd lengths. We read what
dcmtk and Orthanc read, and refuse clearly (``ImagingError``) what we cannot, before allocating.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from imaging.attrs import check_pixel_limits
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.limits import DEFAULT_LIMITS, Limits
from imaging.sniff import sniff_encapsulated_syntax

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

# Explicit VR with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1).
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})  # fmt: skip
_VRS = _LONG_VRS | frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS",
                              b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                              b"US"})  # fmt: skip
_HEADER = struct.Struct("<HH2sH")
_U32 = struct.Struct("<I")
_INFLATE_CHUNK = 1 << 20


def _read_source(source: Source, limits: Limits) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                raise ImagingError(
                    ImagingErrorCode.TOO_LARGE, f"file is {size} bytes, over {limits.max_bytes}"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise ImagingError(
                ImagingErrorCode.NOT_DICOM, f"cannot read {path.name}: {exc}"
            ) from exc
    else:
        data = source.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise ImagingError(
            ImagingErrorCode.TOO_LARGE, f"object is over the {limits.max_bytes}-byte limit"
        )
    return data


def _meta_bounds(data: bytes) -> tuple[int, int] | None:
    """Start and end offsets of the File Meta group (0002,eeee) if there is one (PS3.10 7.1)."""
    if data[128:132] == b"DICM":
        start = 132
    elif data[:4] == b"DICM":
        start = 4
    elif data[:2] == b"\x02\x00" and data[4:6].isalpha():
        start = 0  # meta group without preamble: explicit VR little endian by definition
    else:
        return None
    pos = start
    # Walk group 0002 element by element: the group length may be absent or wrong.
    while pos + 8 <= len(data):
        group, _elem = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(data):
                break
            (length,) = struct.unpack_from("<I", data, pos + 8)
            pos += 12 + length
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            pos += 8 + length
    return start, min(pos, len(data))


def _inflate(body: bytes, limits: Limits) -> bytes:
    """Inflate a Deflated Explicit VR body (PS3.5 A.5) chunk by chunk, refusing a bomb."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    pending = body
    try:
        while pending:
            out += inflater.decompress(pending, _INFLATE_CHUNK)
            if len(out) > limits.max_inflated_bytes:
                raise ImagingError(
                    ImagingErrorCode.INFLATE_LIMIT,
                    f"deflated data set inflates past {limits.max_inflated_bytes} bytes",
                )
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        out += inflater.flush()
    except zlib.error as exc:
        raise ImagingError(
            ImagingErrorCode.NOT_DICOM, f"deflated data set is corrupt: {exc}"
        ) from exc
    if len(out) > limits.max_inflated_bytes:
        raise ImagingError(
            ImagingErrorCode.INFLATE_LIMIT,
            f"deflated data set inflates past {limits.max_inflated_bytes} bytes",
        )
    return bytes(out)


def _undeflate(data: bytes, meta_end: int, limits: Limits) -> bytes:
    """Rewrite a deflated file as an explicit VR little endian one, inflated under our cap."""
    meta_ds = pydicom.dcmread(io.BytesIO(data[:meta_end]), force=True)
    file_meta = FileMetaDataset(meta_ds.file_meta if meta_ds.file_meta else meta_ds)
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    fp = DicomBytesIO()
    fp.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(fp, file_meta, enforce_standard=False)
    fp.write(_inflate(data[meta_end:], limits))
    return bytes(fp.getvalue())


def _syntax_of(data: bytes) -> UID | None:
    bounds = _meta_bounds(data)
    if bounds is None:
        return None
    marker = b"\x02\x00\x10\x00UI"
    at = data.find(marker, bounds[0], bounds[1])
    if at < 0:
        return None
    (length,) = struct.unpack_from("<H", data, at + 6)
    raw = data[at + 8 : at + 8 + length]
    return UID(raw.decode("ascii", "replace").strip("\x00 "))


def read_dataset(source: Source, *, limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """Parse one DICOM object, tolerant of missing preamble/meta, bounded by ``limits``."""
    data = _read_source(source, limits)
    if len(data) < 8:
        raise ImagingError(ImagingErrorCode.NOT_DICOM, f"only {len(data)} bytes")
    bounds = _meta_bounds(data)
    if bounds is not None and bounds[0] != 132:
        # A meta group without the 128-byte preamble (with or without "DICM"): restore the
        # PS3.10 header so the parser sees a normal file.
        data = b"\x00" * 128 + (b"" if bounds[0] == 4 else b"DICM") + data
    original_syntax = _syntax_of(data)
    if original_syntax == DeflatedExplicitVRLittleEndian:
        bounds = _meta_bounds(data)
        assert bounds is not None  # _syntax_of found the syntax inside the meta group
        data = _undeflate(data, bounds[1], limits)
    _check_element_count(data, original_syntax, limits)
    ds = _parse(data)
    _ensure_transfer_syntax(ds, original_syntax)
    check_pixel_limits(ds, limits, declared_only=True)
    return ds


def _check_element_count(data: bytes, syntax: UID | None, limits: Limits) -> None:
    """Refuse an object with more data elements than ``limits.max_elements`` before parsing it.

    A flat scan of element headers (entering sequences and items, skipping values and the
    fragments of encapsulated Pixel Data); it stops where the structure stops making sense and
    leaves judging the rest to the parser. Big endian objects are not scanned (retired, rare).
    """
    bounds = _meta_bounds(data)
    pos = bounds[1] if bounds is not None else 0
    if syntax == ExplicitVRBigEndian or pos + 8 > len(data):
        return
    if syntax is None or syntax == DeflatedExplicitVRLittleEndian:
        # (Deflated data is inflated by now: the meta still names the deflated syntax.)
        explicit = syntax is not None or data[pos + 4 : pos + 6] in _VRS
    else:
        explicit = syntax != ImplicitVRLittleEndian
    count = _count_elements(data, pos, explicit, limits.max_elements)
    if count > limits.max_elements:
        raise ImagingError(
            ImagingErrorCode.TOO_LARGE,
            f"more than {limits.max_elements} data elements (Limits.max_elements)",
        )


def _count_elements(data: bytes, pos: int, explicit: bool, cap: int) -> int:
    """Element headers from ``pos`` (nested included), counting stops just past ``cap``."""
    size = len(data)
    count = 0
    sequence = b"SQ"
    while pos + 8 <= size and count <= cap:
        group, element, vr, short = _HEADER.unpack_from(data, pos)
        count += 1
        if group == 0xFFFE:
            pos += 8  # item or delimiter: its content (if any) follows and is counted
            continue
        if explicit:
            if vr in _LONG_VRS:
                if pos + 12 > size:
                    break
                (length,) = _U32.unpack_from(data, pos + 8)
                value_at = pos + 12
            elif vr in _VRS:
                length, value_at = short, pos + 8
            else:
                break  # not what we understand (implicit items in an explicit file, garbage)
        else:
            (length,) = _U32.unpack_from(data, pos + 4)
            value_at = pos + 8
            vr = sequence if length == 0xFFFFFFFF else b""
        if group == 0x7FE0 and element == 0x0010 and length == 0xFFFFFFFF:
            pos = _skip_fragments(data, value_at)
        elif vr == sequence or length == 0xFFFFFFFF:
            pos = value_at  # enter the sequence
        else:
            pos = value_at + length
    return count


def _skip_fragments(data: bytes, pos: int) -> int:
    """Past the items of encapsulated Pixel Data and its Sequence Delimitation Item."""
    while pos + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if group != 0xFFFE or element != 0xE000:
            break
        pos += length
    return pos


def _parse(data: bytes) -> Dataset:
    try:
        # Odd lengths and bad VRs are expected in the wild; pydicom reports them as warnings,
        # which we let through (catch_warnings is process-wide and not thread-safe).
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        # Force parsing of every element now so a broken element fails here, not later.
        _ = [elem.tag for elem in ds]
    except ImagingError:
        raise
    except Exception as exc:  # pydicom raises many types for garbage; all mean "not DICOM"
        raise ImagingError(ImagingErrorCode.NOT_DICOM, f"cannot parse: {exc}") from exc
    if len(ds) == 0:
        raise ImagingError(ImagingErrorCode.NOT_DICOM, "no data elements found")
    if not _looks_like_dicom(ds):
        raise ImagingError(ImagingErrorCode.NOT_DICOM, "no plausible DICOM data elements")
    return ds


def _looks_like_dicom(ds: Dataset) -> bool:
    # force=True parses anything; real objects carry at least one well-known identifying element.
    known = (0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00280010, 0x7FE00010, 0x00080060)
    return any(tag in ds for tag in known) or bool(getattr(ds, "file_meta", None))


def _ensure_transfer_syntax(ds: Dataset, original: UID | None) -> None:
    """Give every dataset a Transfer Syntax UID, inferring one for bare datasets."""
    if not hasattr(ds, "file_meta") or ds.file_meta is None:
        ds.file_meta = FileMetaDataset()
    if original == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        return
    if "TransferSyntaxUID" in ds.file_meta and ds.file_meta.TransferSyntaxUID:
        return
    implicit, little = ds.original_encoding
    # The element (for its undefined length), not its value.
    pixel = ds.data_element("PixelData") if "PixelData" in ds else None
    if pixel is not None and getattr(pixel, "is_undefined_length", False):
        sniffed = sniff_encapsulated_syntax(bytes(pixel.value))
        if sniffed is None:
            raise ImagingError(
                ImagingErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                "Pixel Data is encapsulated but there is no Transfer Syntax UID (0002,0010) "
                "and the codestream is not recognised",
            )
        ds.file_meta.TransferSyntaxUID = sniffed
    elif implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif little is False:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
