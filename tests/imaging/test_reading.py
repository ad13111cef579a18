"""Tolerant reading and the safety limits: every input yields an image or an ImagingError."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from imaging import (
    ImagingError,
    ImagingErrorCode,
    Limits,
    decode_frame,
    frame_count,
    read_dataset,
    render,
)
from tests.imaging.builders import TEST_FILES, ct_dataset, to_bare_bytes, to_bytes

ALL_FILES = sorted(p.name for p in TEST_FILES.iterdir() if p.is_file())


def render_all_or_error(source: bytes | Path, limits: Limits | None = None) -> int:
    """Render every frame (at most 3) or raise ImagingError; any other exception fails the test."""
    try:
        ds = read_dataset(source, limits=limits) if limits else read_dataset(source)
        frames = frame_count(ds)
        images = [render(decode_frame(ds, index)) for index in range(min(frames, 3))]
    except ImagingError as exc:
        error: ImagingError | None = exc
    else:
        error = None
        assert all(img.dtype == np.uint8 for img in images)
    if error is not None:
        assert isinstance(error.code, ImagingErrorCode)
        assert error.message
        return -1
    return frames


def _code(source: bytes | Path, limits: Limits | None = None) -> ImagingErrorCode:
    def read_and_decode() -> None:
        ds = read_dataset(source, limits=limits) if limits else read_dataset(source)
        decode_frame(ds, 0)

    with pytest.raises(ImagingError) as err:
        read_and_decode()
    return err.value.code


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_shipped_file_renders_or_says_why(name: str) -> None:
    render_all_or_error(TEST_FILES / name)


@pytest.mark.parametrize("name", ALL_FILES)
def test_truncated_copies_render_or_say_why(name: str) -> None:
    data = (TEST_FILES / name).read_bytes() if (TEST_FILES / name).is_file() else b""
    for cut in sorted({0, 7, 131, 200, len(data) // 3, len(data) // 2, len(data) * 9 // 10,
                       len(data) - 1}):  # fmt: skip
        if 0 <= cut < len(data):
            render_all_or_error(data[:cut])


def test_truncated_pixel_data_is_named() -> None:
    assert _code(TEST_FILES / "MR_truncated.dcm") is ImagingErrorCode.TRUNCATED_PIXEL_DATA
    data = to_bytes(ct_dataset(64, 64))
    assert _code(data[:-100]) is ImagingErrorCode.TRUNCATED_PIXEL_DATA


@pytest.mark.parametrize("implicit", [False, True])
def test_reads_a_bare_dataset_and_infers_the_syntax(implicit: bool) -> None:
    ds = ct_dataset(32, 32)
    bare = to_bare_bytes(ds, implicit=implicit)
    assert b"DICM" not in bare[:200]
    read = read_dataset(bare)
    assert read.file_meta.TransferSyntaxUID == (
        "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    )
    expected = render(decode_frame(read_dataset(to_bytes(ds)), 0))
    np.testing.assert_array_equal(render(decode_frame(read, 0)), expected)


def test_reads_meta_without_preamble() -> None:
    data = to_bytes(ct_dataset(16, 16))
    for stripped in (data[128:], data[132:]):  # "DICM" + meta, or meta alone
        assert read_dataset(stripped).Rows == 16


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless),
        ("MR_small_RLE.dcm", RLELossless),
        ("MR_small_jp2klossless.dcm", JPEG2000Lossless),
        ("SC_rgb_jpeg_gdcm.dcm", JPEGLosslessSV1),
    ],
)
def test_encapsulated_bare_dataset_codestream_is_recognised(name: str, syntax: str) -> None:
    original = pydicom.dcmread(TEST_FILES / name)
    bare = Dataset(original)  # the elements only, no file meta
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, bare)
    read = read_dataset(bytes(fp.getvalue()))
    assert read.file_meta.TransferSyntaxUID == syntax
    expected = render(decode_frame(read_dataset(TEST_FILES / name), 0))
    np.testing.assert_array_equal(render(decode_frame(read, 0)), expected)


def test_deflated_file_reads() -> None:
    ds = read_dataset(TEST_FILES / "image_dfl.dcm")
    assert ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert render(decode_frame(ds, 0)).shape == (512, 512)


def _deflate_bomb(inflated_bytes: int) -> bytes:
    """A deflated file whose Pixel Data inflates to ``inflated_bytes`` of zeros (~1000:1)."""
    ds = ct_dataset(8, 8)
    meta = ds.file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    del ds.PixelData
    ds.Rows = ds.Columns = 1 << 14
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    write_dataset(head, ds)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunks = [compressor.compress(bytes(head.getvalue()))]
    chunks.append(
        compressor.compress(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, inflated_bytes))
    )
    zeros = bytes(1 << 20)
    for _ in range(inflated_bytes >> 20):
        chunks.append(compressor.compress(zeros))
    chunks.append(compressor.flush())
    out = DicomBytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    return bytes(out.getvalue()) + b"".join(chunks)


def test_deflate_bomb_is_refused_with_bounded_memory() -> None:
    bomb = _deflate_bomb(256 << 20)
    assert len(bomb) < 1 << 20
    limits = Limits(max_inflated_bytes=16 << 20)
    tracemalloc.start()
    try:
        assert _code(bomb, limits) is ImagingErrorCode.INFLATE_LIMIT
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak / 2**20:.0f} MiB while refusing a deflate bomb"


@pytest.mark.parametrize(
    ("rows", "columns", "frames", "code"),
    [
        (65535, 65535, 1, ImagingErrorCode.TOO_MANY_PIXELS),
        (4096, 4096, 5000, ImagingErrorCode.TOO_MANY_PIXELS),
        (8, 8, 20000, ImagingErrorCode.TOO_MANY_FRAMES),
    ],
)
def test_pixel_bombs_are_refused_before_allocating(
    rows: int, columns: int, frames: int, code: ImagingErrorCode
) -> None:
    ds = ct_dataset(8, 8)
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    tracemalloc.start()
    try:
        assert _code(to_bytes(ds)) is code
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_limits_are_configurable() -> None:
    data = to_bytes(ct_dataset(64, 64))
    assert _code(data, Limits(max_pixels=64 * 63)) is ImagingErrorCode.TOO_MANY_PIXELS
    assert _code(data, Limits(max_bytes=1000)) is ImagingErrorCode.TOO_LARGE


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"BitsStored": 17}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"BitsAllocated": 12}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"Rows": 0}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"SamplesPerPixel": 2}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"PhotometricInterpretation": "CMYK"}, ImagingErrorCode.UNSUPPORTED_PHOTOMETRIC),
        ({"PhotometricInterpretation": None}, ImagingErrorCode.MISSING_ATTRIBUTE),
        ({"Columns": None}, ImagingErrorCode.MISSING_ATTRIBUTE),
    ],
)
def test_inconsistent_attributes_name_the_attribute(
    change: dict[str, object], code: ImagingErrorCode
) -> None:
    ds = ct_dataset(16, 16)
    for keyword, value in change.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    with pytest.raises(ImagingError) as err:
        decode_frame(read_dataset(to_bytes(ds)), 0)
    assert err.value.code is code
    names = {"PhotometricInterpretation": "Photometric", "NumberOfFrames": "Number of Frames"}
    for keyword in change:
        assert (
            names.get(keyword, keyword.replace("PerPixel", " per Pixel")[:4]) in err.value.message
        )


def test_unreadable_number_of_frames_is_inconsistent() -> None:
    ds = ct_dataset(16, 16)
    ds.NumberOfFrames = 9
    data = to_bytes(ds)
    patched = data.replace(b"\x28\x00\x08\x00IS\x02\x009 ", b"\x28\x00\x08\x00IS\x02\x00x ")
    assert patched != data
    assert _code(patched) is ImagingErrorCode.INCONSISTENT_ATTRIBUTES


def test_frame_out_of_range_and_no_pixel_data() -> None:
    ds = read_dataset(to_bytes(ct_dataset(8, 8)))
    with pytest.raises(ImagingError) as err:
        decode_frame(ds, 1)
    assert err.value.code is ImagingErrorCode.FRAME_OUT_OF_RANGE
    assert _code(TEST_FILES / "rtplan.dcm") is ImagingErrorCode.NO_PIXEL_DATA


def test_unknown_transfer_syntax_is_unsupported() -> None:
    ds = pydicom.dcmread(TEST_FILES / "MR_small_RLE.dcm")
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2: no decoder here
    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    assert _code(bytes(fp.getvalue())) is ImagingErrorCode.UNSUPPORTED_TRANSFER_SYNTAX


@pytest.mark.parametrize(
    "data",
    [b"", b"DICM", b"\x00" * 300, b"not dicom at all" * 40, bytes(range(256)) * 10],
)
def test_garbage_is_not_dicom(data: bytes) -> None:
    with pytest.raises(ImagingError) as err:
        read_dataset(data)
    assert err.value.code is ImagingErrorCode.NOT_DICOM


def test_random_mutations_never_escape(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    base = bytearray(to_bytes(ct_dataset(32, 32)))
    for _ in range(150):
        data = bytearray(base)
        for at in rng.integers(0, 400, size=4):
            data[int(at)] = int(rng.integers(0, 256))
        render_all_or_error(bytes(data))
    assert ExplicitVRLittleEndian


def test_deeply_nested_sequences_are_refused_quickly() -> None:
    opening = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    opening += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    data = struct.pack("<HH2sH", 0x0008, 0x0060, b"CS", 2) + b"CT" + opening * 20000
    with pytest.raises(ImagingError) as err:
        read_dataset(data)
    assert err.value.code is ImagingErrorCode.NOT_DICOM


@pytest.mark.parametrize(
    ("name", "marker", "offset", "fmt"),
    [
        ("MR_small_jp2klossless.dcm", b"\xff\x51", 6, ">II"),  # J2K SIZ Xsiz, Ysiz
        ("SC_rgb_jpeg_dcmtk.dcm", b"\xff\xc0", 5, ">HH"),  # JPEG SOF0 Y, X
        ("MR_small_jpeg_ls_lossless.dcm", b"\xff\xf7", 5, ">HH"),  # JPEG-LS SOF55
    ],
)
def test_codestream_declaring_more_pixels_than_rows_columns_is_refused(
    name: str, marker: bytes, offset: int, fmt: str
) -> None:
    ds = pydicom.dcmread(TEST_FILES / name)
    frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
    at = frame.find(marker)
    struct.pack_into(fmt, frame, at + offset, 50000, 50000)
    ds.PixelData = encapsulate([bytes(frame)])
    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    tracemalloc.start()
    try:
        assert _code(bytes(fp.getvalue())) is ImagingErrorCode.INCONSISTENT_ATTRIBUTES
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_odd_value_lengths_are_read_like_dcmtk_does() -> None:
    data = to_bare_bytes(ct_dataset(16, 16))
    odd = data.replace(b"PN\x0c\x00Test^Phantom", b"PN\x0b\x00Test^Phanto", 1)
    odd = odd.replace(b"CS\x02\x00CT", b"CS\x03\x00CT ", 1)
    assert odd != data
    ds = read_dataset(odd)
    assert str(ds.PatientName) == "Test^Phanto"
    assert ds.Modality.strip() == "CT"
    assert render(decode_frame(ds, 0)).shape == (16, 16)


def _element_bomb(count: int) -> bytes:
    """A valid CT slice with ``count`` empty private elements before the Patient module."""
    data = to_bytes(ct_dataset(8, 8))
    at = data.find(b"\x10\x00\x10\x00PN")  # (0010,0010): every group 0009…000F sorts before
    groups = (0x0009, 0x000B, 0x000D, 0x000F)
    elements = b"".join(
        struct.pack("<HH2sH", groups[n >> 16], n & 0xFFFF, b"LO", 0) for n in range(count)
    )
    return data[:at] + elements + data[at:]


def test_element_bomb_is_refused_before_parsing() -> None:
    bomb = _element_bomb(200_000)
    limits = Limits(max_elements=50_000)
    tracemalloc.start()
    try:
        assert _code(bomb, limits) is ImagingErrorCode.TOO_LARGE
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while refusing an element bomb"
    # Nested elements count too: the same number inside a sequence's item.
    ds = ct_dataset(8, 8)
    item = Dataset()
    for n in range(60):
        item.add_new((0x0009, 0x1000 + n), "LO", "")
    item.add_new((0x0009, 0x0010), "LO", "ACME")
    ds.ReferencedImageSequence = [item]
    assert _code(to_bytes(ds), Limits(max_elements=60)) is ImagingErrorCode.TOO_LARGE
    assert render_all_or_error(to_bytes(ds), Limits(max_elements=200)) == 1
