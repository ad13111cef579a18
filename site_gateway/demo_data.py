"""Synthetic demo sites: a multi-slice CT phantom plus a few of pydicom's shipped images.

No patient data: the CT is computed (a body ellipse of soft tissue, lungs, a spine, a few
lesions) and the shipped samples are pydicom's own test files, re-identified with UIDs derived
from the site seed so that two demo sites never share a study. Output is deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

SAMPLE_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_jpeg_ls_lossless.dcm",  # a compressed transfer syntax the PACS keeps as is
    "examples_rgb_color.dcm",  # ultrasound, RGB
    "examples_ybr_color.dcm",  # ultrasound multi-frame, JPEG baseline
)
HU_AIR, HU_LUNG, HU_FAT, HU_SOFT, HU_BONE, HU_CORTEX = -1000, -800, -90, 40, 300, 900
RESCALE_INTERCEPT = -1024


@dataclass(frozen=True, slots=True)
class DemoSite:
    """What a demo site folder holds (local identifiers: never for the outside world)."""

    folder: Path
    patient_name: str
    patient_id: str
    study_uid: str
    series_uid: str
    slices: int


def _uid(seed: int, *parts: object) -> UID:
    return generate_uid(entropy_srcs=["rhino-demo", str(seed), *map(str, parts)])


class _Grid:
    """Squared coordinate planes (mm²) computed once per series: slices reuse them."""

    def __init__(self, coords: np.ndarray) -> None:
        self.x, self.y = coords[np.newaxis, :], coords[:, np.newaxis]
        self.x2, self.y2 = self.x**2, self.y**2
        self.lung_x2 = {side: (self.x - side * 72.0) ** 2 for side in (-1.0, 1.0)}
        self.lung_y2 = (self.y + 5.0) ** 2
        spine_r2 = self.x2 + (self.y - 72.0) ** 2
        self.cortex, self.marrow = spine_r2 <= 20.0**2, spine_r2 <= 16.0**2


def _phantom_slice(grid: _Grid, z: float, length: float, lesions: np.ndarray) -> np.ndarray:
    """Hounsfield units of one axial slice; ``z`` runs from 0 (head end) to ``length``."""
    t = z / length
    hu = np.full((grid.y.shape[0], grid.x.shape[1]), HU_AIR, dtype=np.int16)
    # The body narrows a little towards both ends, like a trunk: fat, then soft tissue inside.
    a, b = 165.0 - 20.0 * (2 * t - 1) ** 2, 115.0 - 10.0 * (2 * t - 1) ** 2
    hu[grid.x2 / a**2 + grid.y2 / b**2 <= 1.0] = HU_FAT
    hu[grid.x2 / (a - 12) ** 2 + grid.y2 / (b - 12) ** 2 <= 1.0] = HU_SOFT
    # Lungs in the upper two thirds of the scan, largest in the middle of that range.
    lung_scale = float(np.sin(np.pi * (t - 0.05) / 0.6)) if 0.05 < t < 0.65 else 0.0
    if lung_scale > 0.05:
        la2, lb2 = 55.0**2 * lung_scale, 75.0**2 * lung_scale
        for side in (-1.0, 1.0):
            hu[grid.lung_x2[side] / la2 + grid.lung_y2 / lb2 <= 1.0] = HU_LUNG
    # Spine: a vertebral body (cancellous bone with a cortical rim) behind the centre.
    hu[grid.cortex] = HU_CORTEX
    hu[grid.marrow] = HU_BONE
    # Lesions: spheres (x, y, z, radius, HU); their cross-section shrinks away from the centre.
    for lx, ly, lz, radius, value in lesions:
        dz = z - lz
        if abs(dz) < radius:
            hu[(grid.x - lx) ** 2 + (grid.y - ly) ** 2 <= radius**2 - dz**2] = value
    return hu


def _ct_dataset(
    seed: int, index: int, slices: int, spacing: float, pixel: float, rows: int, site: DemoSite
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = f"2024{1 + seed % 12:02d}15"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "093000"
    ds.AccessionNumber = f"DEMO{seed:06d}"
    ds.Modality, ds.Manufacturer = "CT", "Rhino Demo Phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription, ds.SeriesDescription = "DEMO CT CHEST ABDOMEN", "Synthetic phantom 1.25mm"
    ds.PatientName, ds.PatientID = site.patient_name, site.patient_id
    ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19700101", "O", "054Y"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = f"{spacing:g}"
    ds.SpacingBetweenSlices = f"{spacing:g}"
    ds.KVP, ds.PatientPosition = "120", "HFS"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = site.study_uid, site.series_uid
    ds.StudyID, ds.SeriesNumber = "1", 2
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = _uid(seed, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = rows
    ds.PixelSpacing = [f"{pixel:g}", f"{pixel:g}"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.WindowCenter, ds.WindowWidth = [40, -600], [400, 1500]
    ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "LUNG"]
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = RESCALE_INTERCEPT, 1, "HU"
    _place_slice(ds, seed, index, spacing, (rows - 1) * pixel / 2)
    return ds


def _place_slice(ds: Dataset, seed: int, index: int, spacing: float, half: float) -> None:
    """What differs between slices: identity and position (PS3.3 C.7.6.2, C.7.6.1)."""
    sop_uid = _uid(seed, "ct", index)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = sop_uid
    ds.InstanceNumber = index + 1
    z = -index * spacing  # head-first supine, axial: z falls from head to feet
    ds.ImagePositionPatient = [f"{-half:.3f}", f"{-half:.3f}", f"{z:.3f}"]
    ds.SliceLocation = f"{z:.3f}"


def write_ct_series(
    folder: Path, site: DemoSite, *, seed: int, rows: int = 512, spacing: float = 1.25
) -> list[Path]:
    """Write the phantom CT of ``site`` into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    pixel = 360.0 / rows  # a 36 cm field of view, like an adult trunk
    coords = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2) * pixel
    grid = _Grid(coords)
    length = site.slices * spacing
    rng = np.random.default_rng(seed)
    lesions = np.array(
        [
            [rng.uniform(-90, -50), rng.uniform(-30, 20), length * rng.uniform(0.2, 0.5), 9, 30],
            [rng.uniform(50, 90), rng.uniform(-30, 20), length * rng.uniform(0.2, 0.5), 6, 20],
            [rng.uniform(-60, 60), rng.uniform(-60, 30), length * rng.uniform(0.7, 0.9), 15, 75],
        ]
    )
    # Quantum noise, ~12 HU: a few planes drawn once and flipped per slice (drawing 512² normals
    # per slice would triple the run time, and a demo needs texture, not statistics).
    planes = np.rint(12.0 * rng.standard_normal((8, rows, rows), dtype=np.float32)).astype(np.int16)
    ds = _ct_dataset(seed, 0, site.slices, spacing, pixel, rows, site)  # one header, re-placed
    paths = []
    for index in range(site.slices):
        hu = _phantom_slice(grid, index * spacing, length, lesions)
        noise = planes[index % 8]
        noise = noise[::-1] if (index // 8) % 2 else noise
        noise = noise[:, ::-1] if (index // 16) % 2 else noise
        hu += noise
        hu -= RESCALE_INTERCEPT  # within -2000…+2000 HU: int16 holds it without clipping
        _place_slice(ds, seed, index, spacing, (rows - 1) * pixel / 2)
        ds.PixelData = hu.astype("<i2", copy=False).tobytes()
        path = folder / f"ct-{index + 1:04d}.dcm"
        dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def _copy_sample(name: str, folder: Path, seed: int, site: DemoSite) -> Path:
    """Copy one of pydicom's test files, with UIDs and patient made the site's own."""
    source = get_testdata_file(name, download=False)
    if source is None:
        raise FileNotFoundError(f"pydicom's sample {name} is missing; reinstall pydicom")
    ds = dcmread(source)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        if keyword in ds:
            setattr(ds, keyword, _uid(seed, keyword, ds[keyword].value))
    ds.SOPInstanceUID = _uid(seed, "sample", name)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = f"{site.patient_name}^{Path(name).stem.upper()[:10]}"
    ds.PatientID = f"{site.patient_id}-S"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sample-{Path(name).stem}.dcm"
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def write_demo_site(
    out_dir: str | Path, *, slices: int = 120, seed: int = 1, rows: int = 512, samples: bool = True
) -> DemoSite:
    """One demo site: the phantom CT (``slices`` slices) and, if asked, the shipped samples."""
    folder = Path(out_dir)
    digest = hashlib.sha256(f"rhino-demo-patient-{seed}".encode()).hexdigest()
    site = DemoSite(
        folder=folder,
        patient_name="DEMO^PHANTOM" if seed == 1 else f"DEMO^PHANTOM{seed}",
        patient_id=f"DEMO-{digest[:8].upper()}",
        study_uid=_uid(seed, "study"),
        series_uid=_uid(seed, "series"),
        slices=slices,
    )
    write_ct_series(folder / "ct", site, seed=seed, rows=rows)
    if samples:
        for name in SAMPLE_FILES:
            _copy_sample(name, folder / "samples", seed, site)
    return site


def write_demo_sites(
    root: str | Path, *, count: int = 2, slices: int = 120, rows: int = 512
) -> list[DemoSite]:
    """``count`` distinct demo sites in ``root/site-1``, ``root/site-2``… (seeds 1, 2, …)."""
    root = Path(root)
    sites = []
    for seed in range(1, count + 1):
        folder = root / f"site-{seed}"
        if folder.exists():
            shutil.rmtree(folder)
        sites.append(write_demo_site(folder, slices=slices, seed=seed, rows=rows))
    return sites
