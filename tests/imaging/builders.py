"""DICOM built in code for the imaging tests: no files, no patient data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


def phantom(rows: int = 512, columns: int = 512, seed: int = 0) -> np.ndarray:
    """A CT-like slice in stored values (HU + 1024): air, a body disc, bone ring, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns]
    r = np.hypot((y - rows / 2) / (rows / 2), (x - columns / 2) / (columns / 2))
    hu = np.where(r < 0.8, 40.0, -1000.0)
    hu = np.where((r > 0.7) & (r < 0.8), 900.0, hu)
    hu += rng.normal(0, 12, size=hu.shape)
    return np.clip(hu + 1024, 0, 4095).astype(np.uint16)


def ct_dataset(
    rows: int = 512,
    columns: int = 512,
    *,
    position: tuple[float, float, float] = (0.0, 0.0, 0.0),
    orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    spacing: tuple[float, float] = (0.7, 0.7),
    instance: int = 1,
    pixels: np.ndarray | None = None,
    series_uid: str | None = None,
    window: tuple[float, float] | None = (40.0, 400.0),
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "CT"
    ds.PatientName = "Test^Phantom"
    ds.PatientID = "PHANTOM-1"
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = list(position)
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(spacing)
    ds.SliceThickness = 1.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    arr = phantom(rows, columns) if pixels is None else pixels
    ds.PixelData = np.ascontiguousarray(arr.astype("<u2")).tobytes()
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def to_bare_bytes(ds: Dataset, *, implicit: bool = False) -> bytes:
    """The dataset alone: no preamble, no file meta (as some archives store objects)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return bytes(fp.getvalue())
