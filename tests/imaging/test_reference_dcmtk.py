"""Fidelity against an independent reference renderer: dcmtk's dcmj2pnm / dcml2pnm.

Every single-image file pydicom ships with Pixel Data is rendered by us and by dcmtk with the same
VOI choice; the images must agree within ±1 grey level on ≥ 99.9 % of pixels (±2 where a YBR
source is converted to RGB: correct decoders round the colour transform differently). Files that
dcmtk itself cannot render are listed with the reason, and the test proves dcmtk still fails on
them, so the list cannot silently grow stale.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSLossless, JPEGLSNearLossless

from imaging import VoiFunction, Window, decode_frame, read_dataset, render
from tests.imaging.builders import TEST_FILES, ct_dataset, to_bytes
from tests.parts import require_binary

pytestmark = pytest.mark.dcmtk

# dcmtk 3.6.7 (Debian) cannot render these; each entry is re-proved by running dcmtk.
DCMTK_CANNOT = {
    "693_J2KI.dcm": "JPEG 2000: Debian's dcmtk has no JPEG 2000 codec",
    "GDCMJ2K_TextGBR.dcm": "JPEG 2000: no codec in dcmtk",
    "J2K_pixelrep_mismatch.dcm": "JPEG 2000: no codec in dcmtk",
    "JPEG2000.dcm": "JPEG 2000: no codec in dcmtk",
    "JPEG2000-embedded-sequence-delimiter.dcm": "JPEG 2000: no codec in dcmtk",
    "MR_small_jp2klossless.dcm": "JPEG 2000: no codec in dcmtk",
    "SC_rgb_gdcm_KY.dcm": "JPEG 2000: no codec in dcmtk",
    "examples_jpeg2k.dcm": "JPEG 2000: no codec in dcmtk",
    "MR_truncated.dcm": "Pixel Data is truncated; dcmtk refuses it (we raise truncated_pixel_data)",
    "SC_rgb_jpeg.dcm": "non-standard VR bytes in (0008,0008): dcmtk stops parsing",
    "meta_missing_tsyntax.dcm": "no Transfer Syntax and an UN sequence: dcmtk cannot parse",
    "nested_priv_SQ.dcm": "no image: dcmtk finds no Photometric Interpretation",
    "no_meta.dcm": "misparsed by dcmtk (a length beyond the end of the file)",
}
# dcmtk renders these wrongly; each is compared with its little endian twin instead, and the
# test proves dcmtk's two renders differ while ours agree.
DCMTK_WRONG = {
    "rtdose_expb_1frame.dcm": "rtdose_1frame.dcm",  # 32-bit big endian words swapped by dcmtk
}
# Lossy JPEG decoders may differ by ±1 in stored value (ISO 10918-2 IDCT tolerance); after the
# YBR→RGB transform that becomes ±2. Only these get the ±2 tolerance.
JPEG_LS = {JPEGLSLossless, JPEGLSNearLossless}


def _single_image_files() -> list[str]:
    names = []
    for path in sorted(TEST_FILES.glob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=False)
            has_pixels = "PixelData" in ds
            frames = str(ds.get("NumberOfFrames", "1") or "1")
        except Exception:  # noqa: S112 (unparseable by pydicom: not an image to compare)
            continue
        leading = "".join(ch for ch in frames.strip() if ch.isdigit()) or "1"
        if has_pixels and int(leading[:6]) == 1:
            names.append(path.name)
    return names


SINGLE_IMAGE_FILES = _single_image_files()


def _voi_args(ds: pydicom.Dataset) -> list[str]:
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or "PALETTE" in str(
        ds.get("PhotometricInterpretation", "")
    ):
        return []
    if "WindowCenter" in ds:
        return ["+Wi", "1"]
    if "VOILUTSequence" in ds:
        return ["+Wl", "1"]
    return ["+Wm"]


def _dcmtk(path: Path, out: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    tool = ("dcml2pnm", "dcmtk") if syntax in JPEG_LS else ("dcmj2pnm", "dcmtk")
    binary = require_binary(*tool)
    return subprocess.run(
        [binary, "-O", "+op", *args, str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _reference(path: Path, tmp_path: Path, args: list[str]) -> np.ndarray:
    out = tmp_path / (path.stem + ".pnm")
    result = _dcmtk(path, out, args)
    assert result.returncode == 0, f"dcmtk failed on {path.name}: {result.stderr[-400:]}"
    return np.asarray(Image.open(out))


def _assert_close(ours: np.ndarray, ref: np.ndarray, tolerance: int) -> None:
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    within = float(np.mean(diff <= tolerance))
    assert within >= 0.999, f"only {within:.4%} within ±{tolerance}, max diff {diff.max()}"


@pytest.mark.parametrize("name", SINGLE_IMAGE_FILES)
def test_render_matches_dcmtk(name: str, tmp_path: Path) -> None:
    path = TEST_FILES / name
    raw = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    args = _voi_args(raw)
    if name in DCMTK_CANNOT:
        result = _dcmtk(path, tmp_path / "out.pnm", args)
        assert result.returncode != 0, f"dcmtk now renders {name}: remove it from DCMTK_CANNOT"
        return
    if name in DCMTK_WRONG:
        twin = TEST_FILES / DCMTK_WRONG[name]
        ours, ours_twin = (render(decode_frame(read_dataset(p), 0)) for p in (path, twin))
        np.testing.assert_array_equal(ours, ours_twin)
        ref, ref_twin = (_reference(p, tmp_path, args) for p in (path, twin))
        assert not np.array_equal(ref, ref_twin), f"dcmtk now renders {name} right: compare it"
        _assert_close(ours, ref_twin, 1)
        return
    ref = _reference(path, tmp_path, args)
    ours = render(decode_frame(read_dataset(path), 0))
    ybr = str(raw.get("PhotometricInterpretation", "")).startswith("YBR")
    _assert_close(ours, ref, 2 if ybr else 1)


@pytest.mark.parametrize(
    ("name", "frame"),
    [("rtdose.dcm", 5), ("SC_rgb_rle_2frame.dcm", 2), ("examples_ybr_color.dcm", 17)],
)
def test_multiframe_frame_matches_dcmtk(name: str, frame: int, tmp_path: Path) -> None:
    path = TEST_FILES / name
    raw = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    ref = _reference(path, tmp_path, ["+F", str(frame), *_voi_args(raw)])
    ours = render(decode_frame(read_dataset(path), frame - 1))
    ybr = str(raw.get("PhotometricInterpretation", "")).startswith("YBR")
    _assert_close(ours, ref, 2 if ybr else 1)


@pytest.mark.parametrize(
    ("name", "center", "width", "function"),
    [
        ("CT_small.dcm", 40.0, 400.0, VoiFunction.LINEAR),
        ("CT_small.dcm", -600.0, 1500.0, VoiFunction.LINEAR),
        ("MR_small.dcm", 600.0, 1200.0, VoiFunction.SIGMOID),
        ("liver_1frame.dcm", 60.0, 1.0, VoiFunction.LINEAR),
    ],
)
def test_explicit_window_matches_dcmtk(
    name: str, center: float, width: float, function: VoiFunction, tmp_path: Path
) -> None:
    path = TEST_FILES / name
    extra = ["+Wfs"] if function is VoiFunction.SIGMOID else []
    ref = _reference(path, tmp_path, ["+Ww", str(center), str(width), *extra])
    frame = decode_frame(read_dataset(path), 0)
    ours = render(frame, window=Window(center, width), voi_function=function)
    _assert_close(ours, ref, 1)


def test_overlay_burn_in_matches_dcmtk(tmp_path: Path) -> None:
    path = TEST_FILES / "examples_overlay.dcm"
    out = tmp_path / "overlay.pgm"
    binary = require_binary("dcmj2pnm", "dcmtk")
    cmd = [binary, "+op", "+Wi", "1", str(path), str(out)]  # overlays shown: dcmtk's default
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    ours = render(decode_frame(read_dataset(path), 0), overlays=True)
    _assert_close(ours, np.asarray(Image.open(out)), 1)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_built_ct_matches_dcmtk(photometric: str, tmp_path: Path) -> None:
    ds = ct_dataset(128, 96)
    ds.PhotometricInterpretation = photometric
    path = tmp_path / "built.dcm"
    path.write_bytes(to_bytes(ds))
    ref = _reference(path, tmp_path, ["+Wi", "1"])
    ours = render(decode_frame(read_dataset(path), 0))
    _assert_close(ours, ref, 1)


def _lut_item(entries: int, first: int, bits: int, top: int | None = None) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [entries, first & 0xFFFF, bits]
    curve = np.sqrt(np.linspace(0.0, 1.0, entries)) * (top or (1 << bits) - 1)
    item.LUTData = curve.astype(np.uint16).tolist()
    item["LUTDescriptor"].VR = "US"  # "US or SS" in the dictionary: say which (C.11.2.1.1)
    item["LUTData"].VR = "US"
    return item


@pytest.mark.parametrize(
    ("entries", "first", "bits", "signed"),
    [(4096, 0, 12, False), (2048, 1000, 16, False), (512, -200, 8, True), (4096, 0, 16, False)],
)
def test_voi_lut_sequence_matches_dcmtk(
    entries: int, first: int, bits: int, signed: bool, tmp_path: Path
) -> None:
    ds = ct_dataset(64, 64, window=None)
    ds.PixelRepresentation = 1 if signed else 0
    # The last case declares 16 bits but its data stop at 4095: the descriptor still rules.
    top = 4095 if (entries, bits) == (4096, 16) else None
    ds.VOILUTSequence = [_lut_item(entries, first, bits, top)]
    path = tmp_path / "voilut.dcm"
    path.write_bytes(to_bytes(ds))
    ref = _reference(path, tmp_path, ["+Wl", "1"])
    _assert_close(render(decode_frame(read_dataset(path), 0)), ref, 1)


def test_modality_lut_sequence_matches_dcmtk(tmp_path: Path) -> None:
    ds = ct_dataset(64, 64, window=(2000, 3000))
    del ds.RescaleIntercept, ds.RescaleSlope
    ds.ModalityLUTSequence = [_lut_item(3000, 500, 12)]
    ds.ModalityLUTSequence[0].ModalityLUTType = "US"
    path = tmp_path / "mlut.dcm"
    path.write_bytes(to_bytes(ds))
    ref = _reference(path, tmp_path, ["+Wi", "1"])
    _assert_close(render(decode_frame(read_dataset(path), 0)), ref, 1)


def _float_slope(ds: Dataset) -> None:
    ds.RescaleSlope, ds.RescaleIntercept = 0.37, 12.5


def _signed_16(ds: Dataset) -> None:
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit, ds.RescaleIntercept = 1, 16, 15, 0
    ds.PixelData = (
        np.random.default_rng(0).integers(-2000, 3000, (128, 128)).astype("<i2").tobytes()
    )


def _negative_slope(ds: Dataset) -> None:
    _signed_16(ds)
    ds.RescaleSlope = -1.5


def _voi_function(name: str) -> Callable[[Dataset], None]:
    def apply(ds: Dataset) -> None:
        ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 40.0, 400.0, name

    return apply


def _presentation_inverse(ds: Dataset) -> None:
    ds.WindowCenter, ds.WindowWidth, ds.PresentationLUTShape = 40.0, 400.0, "INVERSE"


def _two_windows(ds: Dataset) -> None:
    ds.WindowCenter, ds.WindowWidth = [300.0, 40.0], [1500.0, 400.0]


def _monochrome1(ds: Dataset) -> None:
    ds.PhotometricInterpretation = "MONOCHROME1"


@pytest.mark.parametrize(
    ("change", "args"),
    [
        (_float_slope, ["+Wm"]),
        (_signed_16, ["+Wm"]),
        (_negative_slope, ["+Wm"]),
        (_monochrome1, ["+Wm"]),
        (_voi_function("LINEAR_EXACT"), ["+Wi", "1"]),
        (_voi_function("SIGMOID"), ["+Wi", "1"]),
        (_presentation_inverse, ["+Wi", "1"]),
        (_two_windows, ["+Wi", "1"]),
    ],
    ids=lambda v: getattr(v, "__name__", None) or (" ".join(v) if isinstance(v, list) else str(v)),
)
def test_built_variants_match_dcmtk(
    change: Callable[[Dataset], None], args: list[str], tmp_path: Path
) -> None:
    ds = ct_dataset(128, 128, window=None)
    change(ds)
    path = tmp_path / "variant.dcm"
    path.write_bytes(to_bytes(ds))
    ref = _reference(path, tmp_path, args)
    _assert_close(render(decode_frame(read_dataset(path), 0)), ref, 1)
