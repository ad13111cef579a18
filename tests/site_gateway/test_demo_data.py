"""The demo CT is a plausible, deterministic phantom; two demo sites never share a study."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from site_gateway.__main__ import main
from site_gateway.demo_data import write_demo_site, write_demo_sites


@pytest.fixture(scope="module")
def ct_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = write_demo_site(tmp_path_factory.mktemp("demo"), slices=40, seed=5)
    return site.folder / "ct"


def _hu(path: Path) -> np.ndarray:
    ds = dcmread(path)
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_ct_slices_have_consistent_geometry(ct_dir: Path) -> None:
    slices = [dcmread(p) for p in sorted(ct_dir.glob("*.dcm"))]
    assert len(slices) == 40
    first = slices[0]
    assert (first.Rows, first.Columns, first.BitsAllocated, first.PixelRepresentation) == (
        512, 512, 16, 1,
    )  # fmt: skip
    assert first.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert (float(first.RescaleSlope), float(first.RescaleIntercept)) == (1.0, -1024.0)
    assert list(first.WindowCenter) == [40, -600]
    assert list(first.WindowWidth) == [400, 1500]
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    z = [float(s.ImagePositionPatient[2]) for s in slices]
    steps = np.diff(z)
    assert np.allclose(steps, -float(first.SpacingBetweenSlices))
    assert float(first.SliceThickness) == float(first.SpacingBetweenSlices)
    assert len({s.FrameOfReferenceUID for s in slices}) == 1
    assert len({s.SOPInstanceUID for s in slices}) == 40
    assert [s.InstanceNumber for s in slices] == list(range(1, 41))
    assert str(first.PatientName) == "DEMO^PHANTOM5"
    assert first.PatientID.startswith("DEMO-")


def test_ct_phantom_has_tissue_lungs_and_bone(ct_dir: Path) -> None:
    hu = _hu(sorted(ct_dir.glob("*.dcm"))[12])  # chest level: lungs present
    centre = hu[240:272, 240:272].mean()
    assert 0 < centre < 80  # soft tissue ~40 HU
    assert hu[0:20, 0:20].mean() < -950  # air outside the body
    assert (hu < -700).sum() > 10_000  # lungs
    assert (hu > 600).sum() > 200  # cortical bone of the spine


def test_output_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(folder.rglob("*.dcm")):
            h.update(path.read_bytes())
        return h.hexdigest()

    a = write_demo_site(tmp_path / "a", slices=3, seed=9, rows=64)
    b = write_demo_site(tmp_path / "b", slices=3, seed=9, rows=64)
    assert digest(a.folder) == digest(b.folder)


def test_two_sites_hold_different_patients_and_studies(tmp_path: Path) -> None:
    one, two = write_demo_sites(tmp_path, count=2, slices=2, rows=64)
    assert one.patient_id != two.patient_id
    assert one.study_uid != two.study_uid

    def uids(folder: Path) -> set[str]:
        return {dcmread(p).StudyInstanceUID for p in folder.rglob("*.dcm")}

    assert not uids(one.folder) & uids(two.folder)
    modalities = {dcmread(p).Modality for p in one.folder.rglob("*.dcm")}
    assert {"CT", "MR", "US"} <= modalities


def test_the_command_writes_a_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", str(tmp_path / "out"), "--slices", "3"]) == 0
    assert len(list((tmp_path / "out" / "ct").glob("*.dcm"))) == 3
    assert "3 slices" in capsys.readouterr().out
