"""``python -m imaging render|info``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imaging.cli import main
from tests.imaging.builders import TEST_FILES, ct_dataset, to_bytes


def test_render_png_with_window_and_size(tmp_path: Path) -> None:
    out = tmp_path / "ct.png"
    assert main(["render", str(TEST_FILES / "CT_small.dcm"), str(out), "--window", "40", "400",
                 "--size", "64x64"]) == 0  # fmt: skip
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64)
    assert img.dtype == np.uint8


def test_render_jpeg_frame_numbers_start_at_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dose.jpg"
    assert main(["render", str(TEST_FILES / "rtdose.dcm"), str(out), "--frame", "15"]) == 0
    assert Image.open(out).format == "JPEG"
    assert main(["render", str(TEST_FILES / "rtdose.dcm"), str(out), "--frame", "16"]) == 2
    assert "frame_out_of_range" in capsys.readouterr().err
    assert main(["render", str(TEST_FILES / "rtdose.dcm"), str(out), "--frame", "0"]) == 2


def test_info_prints_a_deidentified_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ct.dcm"
    path.write_bytes(to_bytes(ct_dataset(8, 8)))
    assert main(["info", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["modality"] == "CT"
    assert "Phantom" not in json.dumps(summary)


def test_errors_exit_2_with_the_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"nothing here" * 10)
    assert main(["render", str(bad), str(tmp_path / "x.png")]) == 2
    assert "not_dicom" in capsys.readouterr().err
    assert main(["render", str(TEST_FILES / "CT_small.dcm"), str(tmp_path / "x.gif")]) == 2


def test_module_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "mr.png"
    result = subprocess.run(
        [sys.executable, "-m", "imaging", "render", str(TEST_FILES / "MR_small.dcm"), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (64, 64)
