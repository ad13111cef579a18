"""Known-value checks of the display pipeline (PS3.3 C.11) and of the encoders."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import simplejpeg
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID

from imaging import (
    ImagingError,
    ImagingErrorCode,
    VoiFunction,
    Window,
    decode_frame,
    effective_window,
    encode_jpeg,
    encode_png,
    encode_webp,
    read_dataset,
    render,
)
from imaging.frames import Frame, _shift
from imaging.native import native_grey_frame
from imaging.voi import Lut, ModalityTransform
from tests.imaging.builders import TEST_FILES, ct_dataset, to_bytes


def ramp_frame(**kwargs: object) -> Frame:
    """Stored values 0…4095 in one row: every level of a 12-bit image once."""
    pixels = np.arange(4096, dtype=np.uint16).reshape(1, 4096)
    fields: dict[str, object] = {
        "rows": 1,
        "columns": 4096,
        "photometric": "MONOCHROME2",
        "pixels": pixels,
        "stored_max": 4095,
    }
    fields.update(kwargs)
    return Frame(**fields)  # type: ignore[arg-type]


def test_linear_window_follows_c11_2_1_2() -> None:
    img = render(ramp_frame(), window=Window(2048, 1024))[0]
    # x ≤ c − 0.5 − (w−1)/2 → 0; x > c − 0.5 + (w−1)/2 → 255.
    assert img[1535] == 0
    assert img[1536] == 0
    assert img[2558] == 254
    assert img[2559] == 255
    assert img[2560] == 255
    assert img[2048] == 127  # ((2048 − 2047.5)/1023 + 0.5) × 255 = 127.62, truncated as dcmtk
    assert np.all(np.diff(img.astype(int)) >= 0)


def test_linear_exact_and_sigmoid_centre_values() -> None:
    exact = render(ramp_frame(), window=Window(2048, 1000), voi_function=VoiFunction.LINEAR_EXACT)
    # x ≤ c − w/2 → 0, x > c + w/2 → 255, else ((x − c)/w + 0.5) × 255 (C.11.2.1.3.2).
    assert exact[0, 1548] == 0
    assert exact[0, 1549] == 0
    assert exact[0, 2547] == 254
    assert exact[0, 2548] == 255
    assert exact[0, 2048] == 127
    sigmoid = render(ramp_frame(), window=Window(2048, 1000), voi_function=VoiFunction.SIGMOID)
    assert sigmoid[0, 2048] == 127  # 255 / (1 + e^0) = 127.5
    assert sigmoid[0, 0] == 0
    assert sigmoid[0, 4095] == 254


def test_rescale_applies_before_window() -> None:
    frame = ramp_frame(modality=ModalityTransform(slope=2.0, intercept=-1024.0))
    img = render(frame, window=Window(0, 2))[0]
    # Stored 511 → −2, 512 → 0, 513 → +2: a 2-wide window about 0 splits exactly there.
    assert img[511] == 0
    assert img[513] == 255


def test_modality_lut_sequence_maps_and_clamps() -> None:
    lut = Lut(first_mapped=100, bits=16, data=np.array([0, 1000, 2000], dtype=np.int64))
    frame = ramp_frame(modality=ModalityTransform(lut=lut))
    img = render(frame, window=Window(1000.5, 2000))[0]
    assert img[0] == img[100]  # below the first mapped value: first entry
    assert img[4095] == img[102]  # above the last: last entry
    assert img[100] < img[101] < img[102]


def test_voi_lut_used_when_no_window() -> None:
    voi = Lut(first_mapped=0, bits=8, data=np.arange(4096, dtype=np.int64)[::-1] // 16)
    img = render(ramp_frame(voi_luts=(voi,)))[0]
    assert img[0] == 255
    assert img[4095] == 0


def test_minmax_window_spans_the_frame() -> None:
    img = render(ramp_frame())[0]
    assert img[0] == 0
    assert img[4095] == 255


def test_monochrome1_and_presentation_inverse_and_invert_flag() -> None:
    plain = render(ramp_frame(), window=Window(2048, 4096))
    mono1 = render(ramp_frame(photometric="MONOCHROME1"), window=Window(2048, 4096))
    inverse = render(ramp_frame(presentation_inverse=True), window=Window(2048, 4096))
    # Inversion happens before quantisation (as dcmtk), so it differs from 255 − plain by ≤ 1.
    assert np.abs(mono1.astype(int) - (255 - plain.astype(int))).max() <= 1
    assert mono1[0, 0] == 255
    assert mono1[0, 4095] == 0
    np.testing.assert_array_equal(inverse, mono1)
    flag = render(ramp_frame(), window=Window(2048, 4096), invert=True)
    np.testing.assert_array_equal(flag, mono1)


def test_caller_window_beats_file_window_and_width_is_checked() -> None:
    frame = decode_frame(read_dataset(to_bytes(ct_dataset(32, 32, window=(40, 400)))), 0)
    assert frame.default_window == Window(40, 400)
    assert not np.array_equal(render(frame), render(frame, window=Window(500, 3000)))
    with pytest.raises(ImagingError) as err:
        render(frame, window=Window(40, 0))
    assert err.value.code is ImagingErrorCode.BAD_ARGUMENT


def test_ct_known_hounsfield_values() -> None:
    pixels = np.full((4, 4), 1024, dtype=np.uint16)  # 0 HU
    pixels[0, 0] = 24  # −1000 HU (air)
    pixels[0, 1] = 1224  # +200 HU
    frame = decode_frame(read_dataset(to_bytes(ct_dataset(4, 4, pixels=pixels))), 0)
    img = render(frame, window=Window(0, 400))
    assert img[0, 0] == 0
    assert img[0, 1] == 255
    assert img[1, 1] == 127


def test_ct_small_spot_values() -> None:
    # CT_small.dcm: stored (0,0) = 175 (pydicom's pixel reference), the rest as pydicom decodes.
    ds = read_dataset(TEST_FILES / "CT_small.dcm")
    frame = decode_frame(ds, 0)
    assert frame.pixels.shape == (128, 128)
    assert int(frame.pixels[0, 0]) + frame.offset == 175
    np.testing.assert_array_equal(frame.pixels.astype(int) + frame.offset, ds.pixel_array)
    assert frame.modality.intercept == -1024.0


def test_palette_and_ybr_become_rgb() -> None:
    palette = decode_frame(read_dataset(TEST_FILES / "examples_palette.dcm"), 0)
    assert palette.is_color
    assert palette.pixels.dtype == np.uint8
    assert palette.pixels.shape[2] == 3
    ybr = decode_frame(read_dataset(TEST_FILES / "SC_ybr_full_422_uncompressed.dcm"), 0)
    rgb = decode_frame(read_dataset(TEST_FILES / "SC_rgb_dcmtk_+eb+cr.dcm"), 0)
    # The same test pattern stored as YBR_FULL_422 and as RGB: the red stripe stays red.
    assert tuple(rgb.pixels[5, 50]) == (255, 0, 0)
    assert np.abs(ybr.pixels[5, 50].astype(int) - [255, 0, 0]).max() <= 2


def test_lossless_codecs_render_identically_to_uncompressed() -> None:
    original = render(decode_frame(read_dataset(TEST_FILES / "MR_small.dcm"), 0))
    for name in ("MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm"):
        np.testing.assert_array_equal(
            render(decode_frame(read_dataset(TEST_FILES / name), 0)), original
        )


def test_resize_fits_keeps_aspect_and_never_enlarges() -> None:
    frame = decode_frame(read_dataset(TEST_FILES / "JPEG2000.dcm"), 0)  # 1024 rows × 256 columns
    assert render(frame, size=(128, 128)).shape == (128, 32)
    assert render(frame, size=(4096, 4096)).shape == (1024, 256)
    colour = decode_frame(read_dataset(TEST_FILES / "examples_rgb_color.dcm"), 0)
    assert render(colour, size=(160, 160)).shape == (120, 160, 3)


def test_aspect_stretches_non_square_pixels() -> None:
    frame = ramp_frame(pixel_spacing=(2.0, 1.0))
    small = Frame(
        rows=10,
        columns=10,
        photometric="MONOCHROME2",
        pixels=np.zeros((10, 10), np.uint16),
        pixel_spacing=(2.0, 1.0),
    )
    assert render(small, aspect=True).shape == (20, 10)
    assert render(frame).shape == (1, 4096)


def test_overlay_burn_in_is_optional() -> None:
    frame = decode_frame(read_dataset(TEST_FILES / "examples_overlay.dcm"), 0)
    assert frame.overlays
    plain, burned = render(frame), render(frame, overlays=True)
    mask = frame.overlays[0].mask
    assert np.all(burned[mask] == 255)
    assert np.array_equal(plain[~mask], burned[~mask])


def test_jpeg_and_png_round_trip() -> None:
    img = render(decode_frame(read_dataset(to_bytes(ct_dataset(64, 48))), 0))
    png = encode_png(img)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), img)
    jpeg = encode_jpeg(img, quality=95)
    decoded = simplejpeg.decode_jpeg(jpeg, colorspace="GRAY")[:, :, 0]
    assert decoded.shape == img.shape
    assert np.abs(decoded.astype(int) - img.astype(int)).mean() < 2
    rgb = np.dstack([img, img // 2, 255 - img])
    assert np.asarray(Image.open(io.BytesIO(encode_png(rgb)))).shape == rgb.shape
    assert Image.open(io.BytesIO(encode_jpeg(rgb))).size == (48, 64)
    webp = Image.open(io.BytesIO(encode_webp(img)))
    assert webp.format == "WEBP"
    assert webp.size == (48, 64)
    with pytest.raises(ImagingError):
        encode_jpeg(img, quality=0)
    with pytest.raises(ImagingError):
        encode_png(img.astype(np.uint16))


def test_enhanced_per_frame_groups_give_rescale_window_and_position() -> None:
    ds = ct_dataset(8, 8, window=None)
    del ds.RescaleIntercept, ds.RescaleSlope, ds.ImagePositionPatient
    ds.NumberOfFrames = 2
    ds.PixelData = np.full((2, 8, 8), 1000, dtype="<u2").tobytes()
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.25]
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    items = []
    for n in range(2):
        item = Dataset()
        transform, voi, position = Dataset(), Dataset(), Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = 1, -1000 * n
        voi.WindowCenter, voi.WindowWidth = 100 * (n + 1), 50
        position.ImagePositionPatient = [0, 0, 5 * n]
        item.PixelValueTransformationSequence = [transform]
        item.FrameVOILUTSequence = [voi]
        item.PlanePositionSequence = [position]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    first, second = (decode_frame(read_dataset(to_bytes(ds)), i) for i in (0, 1))
    assert first.modality.intercept == 0
    assert second.modality.intercept == -1000
    assert first.default_window == Window(100, 50)
    assert second.default_window == Window(200, 50)
    assert first.image_position == (0, 0, 0)
    assert second.image_position == (0, 0, 5)
    assert first.pixel_spacing == (0.5, 0.25)


@pytest.mark.parametrize(
    ("syntax", "photometric", "tolerance"),
    [("1.2.840.10008.1.2.4.90", "YBR_RCT", 0.0), ("1.2.840.10008.1.2.4.91", "YBR_ICT", 3.0)],
)
def test_jpeg2000_component_transforms_come_back_as_rgb(
    syntax: str, photometric: str, tolerance: float
) -> None:
    original = pydicom.dcmread(TEST_FILES / "examples_rgb_color.dcm")
    expected = render(decode_frame(read_dataset(TEST_FILES / "examples_rgb_color.dcm"), 0))
    if photometric == "YBR_ICT":
        original.compress(UID(syntax), use_mct=True, j2k_psnr=[45.0])
    else:
        original.compress(UID(syntax), use_mct=True)
    # pydicom leaves RGB; PS3.5 8.2.4 requires YBR_RCT/YBR_ICT when the MCT is used.
    original.PhotometricInterpretation = photometric
    fp = io.BytesIO()
    original.save_as(fp, enforce_file_format=True)
    ours = render(decode_frame(read_dataset(fp.getvalue()), 0))
    assert np.abs(ours.astype(float) - expected.astype(float)).mean() <= tolerance


def test_ybr_rct_shipped_file_matches_pillows_openjpeg() -> None:
    ds = pydicom.dcmread(TEST_FILES / "examples_jpeg2k.dcm")
    codestream = next(generate_frames(ds.PixelData, number_of_frames=1))
    independent = np.asarray(Image.open(io.BytesIO(codestream)).convert("RGB"))
    ours = render(decode_frame(read_dataset(TEST_FILES / "examples_jpeg2k.dcm"), 0))
    assert np.abs(ours.astype(int) - independent.astype(int)).max() <= 1


@pytest.mark.parametrize(("signed", "stored"), [(False, 12), (True, 12), (True, 16), (False, 10)])
def test_native_fast_path_equals_pydicoms_decoder(signed: bool, stored: int) -> None:
    rng = np.random.default_rng(stored)
    raw = rng.integers(0, 1 << 16, size=(2, 24, 16), dtype=np.uint16)  # garbage in unused bits
    ds = ct_dataset(24, 16)
    ds.NumberOfFrames = 2
    ds.PixelRepresentation = int(signed)
    ds.BitsStored, ds.HighBit = stored, stored - 1
    ds.PixelData = raw.astype("<u2").tobytes()
    read = read_dataset(to_bytes(ds))
    for index in (0, 1):
        fast = native_grey_frame(read, UID(read.file_meta.TransferSyntaxUID), index)
        assert fast is not None
        reference = pixel_array(read, index=index)
        np.testing.assert_array_equal(fast, reference)
        frame = decode_frame(read, index)
        np.testing.assert_array_equal(frame.pixels.astype(np.int64) + frame.offset, reference)


def test_concurrent_decode_and_render_from_threads() -> None:
    # The gateway renders in a thread pool: no shared mutable state in imaging/.
    from concurrent.futures import ThreadPoolExecutor

    data = to_bytes(ct_dataset(128, 128))
    expected = render(decode_frame(read_dataset(data), 0), window=Window(40, 400))

    def job(_: int) -> np.ndarray:
        return render(decode_frame(read_dataset(data), 0), window=Window(40, 400))

    with ThreadPoolExecutor(max_workers=4) as pool:
        for img in pool.map(job, range(32)):
            np.testing.assert_array_equal(img, expected)


def test_effective_window_reports_what_render_applies() -> None:
    frame = ramp_frame()
    assert effective_window(frame) == Window(2048.0, 4096.0)  # min–max as dcmtk: (0+4095+1)/2
    np.testing.assert_array_equal(render(frame), render(frame, window=effective_window(frame)))
    assert effective_window(frame, Window(1, 2)) == Window(1, 2)
    assert effective_window(ramp_frame(windows=(Window(5, 6),))) == Window(5, 6)
    voi = Lut(first_mapped=0, bits=8, data=np.zeros(4096, dtype=np.int64))
    assert effective_window(ramp_frame(voi_luts=(voi,))) is None


@pytest.mark.parametrize(
    ("dtype", "lo", "hi"),
    [("<i2", -2000, 3000), ("<i2", -32768, 32767), (">i2", -2000, 3000), ("<u2", 100, 4000),
     ("i1", -128, 127), ("u1", 3, 200), ("<i4", -5, 70000), (">u2", 0, 65535)],
)  # fmt: skip
def test_frame_storage_shift_is_exact(dtype: str, lo: int, hi: int) -> None:
    arr = np.random.default_rng(1).integers(lo, hi + 1, size=(16, 16)).astype(dtype)
    arr[0, 0], arr[0, 1] = lo, hi
    span = hi - lo
    target = np.uint8 if span < 1 << 8 else np.uint16 if span < 1 << 16 else np.uint32
    shifted = _shift(arr, lo, target)
    assert shifted.dtype == target
    np.testing.assert_array_equal(shifted.astype(np.int64), arr.astype(np.int64) - lo)
