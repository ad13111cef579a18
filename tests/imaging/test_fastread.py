"""The fast reader gives exactly what the pydicom path gives, or steps aside (returns None)."""

from __future__ import annotations

import contextlib
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from imaging import ImagingError, ImagingErrorCode, Limits, decode_frame, read_dataset, render
from imaging.fastread import fast_frame, read_frame
from imaging.frames import Frame
from tests.imaging.builders import TEST_FILES, ct_dataset, phantom, to_bare_bytes, to_bytes

ALL_FILES = sorted(p.name for p in TEST_FILES.iterdir() if p.is_file())
# Native little endian MONOCHROME 8/16-bit classic objects among pydicom's files: the fast path
# must take them (not merely fall back), or this test suite proves nothing.
FAST_FILES = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_padded.dcm")

Outcome = Frame | ImagingErrorCode


def _full(data: bytes, index: int, limits: Limits | None = None) -> Outcome:
    lim = limits or Limits()
    try:
        return decode_frame(read_dataset(data, limits=lim), index, limits=lim)
    except ImagingError as exc:
        return exc.code


def _fast(data: bytes, index: int, limits: Limits | None = None) -> Outcome | None:
    try:
        return fast_frame(data, index, limits=limits or Limits())
    except ImagingError as exc:
        return exc.code


def _assert_same_frame(fast: Frame, full: Frame) -> None:
    assert fast.pixels.dtype == full.pixels.dtype
    np.testing.assert_array_equal(fast.pixels, full.pixels)
    for name in ("rows", "columns", "photometric", "offset", "stored_max", "windows",
                 "voi_function", "presentation_inverse", "pixel_spacing", "image_position",
                 "image_orientation", "slice_thickness"):  # fmt: skip
        assert getattr(fast, name) == getattr(full, name), name
    assert (fast.modality.slope, fast.modality.intercept) == (
        full.modality.slope,
        full.modality.intercept,
    )
    assert fast.modality.lut is None and full.modality.lut is None
    assert fast.voi_luts == () == full.voi_luts and fast.overlays == () == full.overlays
    np.testing.assert_array_equal(render(fast), render(full))


def _assert_agrees(data: bytes, index: int = 0, limits: Limits | None = None) -> bool:
    """Fast and full outcomes agree; True when the fast path answered (did not step aside)."""
    fast = _fast(data, index, limits)
    if fast is None:
        return False
    full = _full(data, index, limits)
    if isinstance(fast, Frame):
        assert isinstance(full, Frame), f"fast path rendered, full path said {full}"
        _assert_same_frame(fast, full)
    else:
        assert fast == full
    return True


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_shipped_file_agrees_or_falls_back(name: str) -> None:
    data = (TEST_FILES / name).read_bytes()
    took = [_assert_agrees(data, index) for index in range(3)]
    if name in FAST_FILES:
        assert took[0], f"{name} should take the fast path"


@pytest.mark.parametrize("name", FAST_FILES)
def test_truncated_copies_of_shipped_files_agree_or_fall_back(name: str) -> None:
    data = (TEST_FILES / name).read_bytes()
    pixel_at = data.rfind(b"\xe0\x7f\x10\x00")
    cuts = {0, 7, 131, 133, 200, len(data) // 3, len(data) // 2, len(data) - 1, pixel_at,
            pixel_at + 6, pixel_at + 12, pixel_at + 13}  # fmt: skip
    for cut in sorted(c for c in cuts if 0 <= c < len(data)):
        _assert_agrees(data[:cut])
        with contextlib.suppress(ImagingError):  # an image or an ImagingError, nothing else
            read_frame(data[:cut])


def _mr_like() -> Dataset:
    ds = ct_dataset(64, 48, window=(600.0, 1200.0))
    ds.Modality = "MR"
    del ds.RescaleIntercept, ds.RescaleSlope
    return ds


def _eight_bit() -> Dataset:
    ds = ct_dataset(32, 40, window=None)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = (phantom(32, 40) >> 4).astype(np.uint8).tobytes()
    return ds


def _signed_unused_bits() -> Dataset:
    ds = ct_dataset(32, 32)
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 1, 12, 11
    values = phantom(32, 32).astype(np.int16) - 2048
    # Garbage above Bits Stored (PS3.5 8.1.1): the reader must mask it, sign-extending bit 11.
    raw = (values.astype(np.uint16) & 0x0FFF) | 0xA000
    ds.PixelData = raw.astype("<u2").tobytes()
    return ds


def _unsigned_unused_bits() -> Dataset:
    ds = ct_dataset(32, 32)
    ds.PixelData = (phantom(32, 32) | 0xF000).astype("<u2").tobytes()
    return ds


def _multi_frame() -> Dataset:
    ds = ct_dataset(24, 24)
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(phantom(24, 24, seed=s).astype("<u2").tobytes() for s in range(3))
    return ds


def _monochrome1_sigmoid() -> Dataset:
    ds = ct_dataset(32, 32)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.VOILUTFunction = "SIGMOID"
    ds.WindowCenter, ds.WindowWidth = [40.0, -600.0], [400.0, 1500.0]
    ds.PresentationLUTShape = "INVERSE"
    return ds


def _odd_values() -> Dataset:
    ds = ct_dataset(32, 32, window=None)
    ds.RescaleSlope, ds.RescaleIntercept = "0", "-1.024E3"
    ds.WindowCenter, ds.WindowWidth = "+40", "0"  # no usable window: min–max
    ds.ImagerPixelSpacing = [0.5, 0.25]
    del ds.PixelSpacing
    ds.NumberOfFrames = " 1"
    return ds


def _with_sequences() -> Dataset:
    """Sequences (defined and undefined length, nested) and private elements before the pixels."""
    ds = ct_dataset(32, 32)
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "T-1", "SRT", "x"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.PurposeOfReferenceCodeSequence = Sequence([inner])
    ds.SourceImageSequence = Sequence([item, item])
    ds.add_new(0x00091010, "LO", "PRIVATE CREATOR")
    ds.add_new(0x00091011, "OB", b"\x01\x02")
    ds.add_new(0x00091012, "SQ", Sequence([inner]))
    ds.SourceImageSequence.is_undefined_length = True
    for element in ds.SourceImageSequence:
        element.is_undefined_length_sequence_item = True
    return ds


BUILT: dict[str, Callable[[], Dataset]] = {
    "ct": lambda: ct_dataset(64, 64),
    "mr": _mr_like,
    "eight_bit": _eight_bit,
    "signed_unused_bits": _signed_unused_bits,
    "unsigned_unused_bits": _unsigned_unused_bits,
    "multi_frame": _multi_frame,
    "monochrome1_sigmoid": _monochrome1_sigmoid,
    "odd_values": _odd_values,
    "sequences": _with_sequences,
}


def _encodings(ds: Dataset) -> dict[str, bytes]:
    explicit = to_bytes(ds)
    implicit_ds = Dataset(ds)
    implicit_ds.file_meta = FileMetaDataset(ds.file_meta)
    implicit_ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return {
        "explicit": explicit,
        "implicit": to_bytes(implicit_ds),
        "no_preamble": explicit[128:],
        "meta_only": explicit[132:],
        "bare_explicit": to_bare_bytes(ds),
        "bare_implicit": to_bare_bytes(ds, implicit=True),
    }


@pytest.mark.parametrize("case", sorted(BUILT))
def test_built_objects_take_the_fast_path_and_equal_the_full_path(case: str) -> None:
    ds = BUILT[case]()
    frames = int(ds.get("NumberOfFrames", 1))
    for encoding, data in _encodings(ds).items():
        for index in range(frames):
            assert _assert_agrees(data, index), f"{case}/{encoding} fell back"
        assert _assert_agrees(data, frames), f"{case}/{encoding}: out of range"


def test_read_frame_is_the_full_path_for_everything_else() -> None:
    for name in ("SC_rgb_small_odd.dcm", "examples_overlay.dcm", "MR_small_RLE.dcm"):
        data = (TEST_FILES / name).read_bytes()
        assert fast_frame(data, 0) is None
        expected = decode_frame(read_dataset(data), 0)
        np.testing.assert_array_equal(render(read_frame(data)), render(expected))
    path = TEST_FILES / "CT_small.dcm"
    np.testing.assert_array_equal(
        render(read_frame(path)), render(decode_frame(read_dataset(path), 0))
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Rows": 65535, "Columns": 65535}, ImagingErrorCode.TOO_MANY_PIXELS),
        ({"NumberOfFrames": 20000}, ImagingErrorCode.TOO_MANY_FRAMES),
        ({"Rows": 4096, "Columns": 4096, "NumberOfFrames": 5000}, ImagingErrorCode.TOO_MANY_PIXELS),
        ({"BitsStored": 17}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"Rows": 0}, ImagingErrorCode.INCONSISTENT_ATTRIBUTES),
        ({"NumberOfFrames": 2}, ImagingErrorCode.TRUNCATED_PIXEL_DATA),
    ],
)
def test_fast_path_refuses_bombs_itself_before_allocating(
    change: dict[str, int], code: ImagingErrorCode
) -> None:
    ds = ct_dataset(8, 8)
    for keyword, value in change.items():
        setattr(ds, keyword, value)
    data = to_bytes(ds)
    tracemalloc.start()
    try:
        with pytest.raises(ImagingError) as err:
            fast_frame(data, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.code is code
    assert peak < 1 << 20
    assert _full(data, 0) is code


def test_limits_apply_to_the_fast_path() -> None:
    data = to_bytes(ct_dataset(64, 64))
    assert _fast(data, 0, Limits(max_pixels=64 * 63)) is ImagingErrorCode.TOO_MANY_PIXELS
    with pytest.raises(ImagingError) as err:
        read_frame(data, limits=Limits(max_bytes=1000))
    assert err.value.code is ImagingErrorCode.TOO_LARGE


def test_truncated_copies_agree_or_fall_back() -> None:
    answered = 0
    for case in ("ct", "sequences", "multi_frame"):
        for data in _encodings(BUILT[case]()).values():
            for cut in range(0, len(data), max(1, len(data) // 97)):
                answered += _assert_agrees(data[:cut])
    # Cuts inside the pixels leave a well-formed header with a short element: refused by the
    # walker (the element runs past the end), so the full path names the truncation.
    assert _fast(to_bytes(ct_dataset(64, 64))[:-100], 0) is None
    assert answered == 0


def test_mutated_headers_agree_or_fall_back() -> None:
    """Random byte changes, insertions and deletions in the header, every encoding."""
    rng = np.random.default_rng(11)
    answered = 0
    for case in ("ct", "sequences", "signed_unused_bits"):
        for base in _encodings(BUILT[case]()).values():
            header = base.find(b"\xe0\x7f\x10\x00") + 12
            for _ in range(60):
                data = bytearray(base)
                for at in rng.integers(0, header, size=int(rng.integers(1, 4))):
                    data[int(at)] = int(rng.integers(0, 256))
                at = int(rng.integers(0, header))
                if rng.random() < 0.2:
                    data[at:at] = bytes([int(b) for b in rng.integers(0, 256, size=2)])
                elif rng.random() < 0.2:
                    del data[at : at + 2]
                answered += _assert_agrees(bytes(data))
    assert answered > 100  # many changes land in values the fast path reads or skips alike


def test_deep_nesting_steps_aside() -> None:
    opening = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    opening += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    data = struct.pack("<HH2sH", 0x0008, 0x0060, b"CS", 2) + b"CT" + opening * 20000
    assert fast_frame(data, 0) is None
    with pytest.raises(ImagingError) as err:
        read_frame(data)
    assert err.value.code is ImagingErrorCode.NOT_DICOM


def test_pixels_are_viewed_not_copied() -> None:
    pixels = phantom(64, 64)
    pixels[0, 0] = 0  # stored values from 0, all 16 bits stored: the frame is the file's bytes
    ds = ct_dataset(64, 64, pixels=pixels)
    ds.BitsStored, ds.HighBit = 16, 15
    data = to_bytes(ds)
    frame = fast_frame(data, 0)
    assert frame is not None and frame.offset == 0
    assert np.shares_memory(frame.pixels, np.frombuffer(data, np.uint8))


def test_read_frame_from_a_path(tmp_path: Path) -> None:
    data = to_bytes(_multi_frame())
    path = tmp_path / "mf.dcm"
    path.write_bytes(data)
    frame = fast_frame(data, 2)
    assert frame is not None
    _assert_same_frame(read_frame(path, 2), frame)


def test_element_cap_applies_to_the_fast_path() -> None:
    data = to_bytes(ct_dataset(8, 8))
    at = data.find(b"\x10\x00\x10\x00PN")
    bomb = data[:at] + b"".join(struct.pack("<HH2sH", 0x0009, n, b"LO", 0) for n in range(3000))
    bomb += data[at:]
    tight = Limits(max_elements=2000)
    assert fast_frame(bomb, 0, limits=tight) is None  # over the cap: the full path judges
    with pytest.raises(ImagingError) as err:
        read_frame(bomb, limits=tight)
    assert err.value.code is ImagingErrorCode.TOO_LARGE
    assert _assert_agrees(bomb, 0, Limits(max_elements=4000))


def test_a_frame_of_a_multi_frame_file_does_not_keep_the_file_alive() -> None:
    pixels = phantom(24, 24)
    pixels[0, 0] = 0
    ds = _multi_frame()
    ds.BitsStored, ds.HighBit = 16, 15
    ds.PixelData = pixels.astype("<u2").tobytes() * 3
    data = to_bytes(ds)
    for frame in (fast_frame(data, 1), decode_frame(read_dataset(data), 1)):
        assert frame is not None and frame.offset == 0
        assert not np.shares_memory(frame.pixels, np.frombuffer(data, np.uint8))
        assert frame.pixels.base is None or frame.pixels.base.nbytes <= 2 * frame.nbytes
