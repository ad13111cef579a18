"""Source images for the write-back tests, built in code: no files, no patient data."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import highdicom as hd
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.dicom_out import CodedLabel, LabelKind, Provenance, SourceImage

ROWS, COLUMNS = 48, 64
SPACING = (0.8, 0.5)  # [row spacing, column spacing]: deliberately anisotropic


def ct_series(slices: int = 4, *, rows: int = ROWS, columns: int = COLUMNS) -> list[Dataset]:
    """A small axial CT series with consistent geometry (PS3.3 C.7.6.2 Image Plane)."""
    study, series, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    out = []
    for index in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PatientName, ds.PatientID = "Phantom^Writeback", "WB-PHANTOM"
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "A1", ""
        ds.StudyDate, ds.StudyTime = "20260101", "120000"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, index + 1
        ds.Manufacturer = "test"
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_of_reference, ""
        ds.ImagePositionPatient = [-16.0, -19.2, float(index) * 2.5]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = list(SPACING)
        ds.SliceThickness = 2.5
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.KVP = -1024, 1, 120
        ds.AcquisitionNumber = 1
        ds.PixelData = np.full((rows, columns), 1024 + index, dtype="<u2").tobytes()
        out.append(ds)
    return out


def enhanced_ct(frames: int = 3) -> Dataset:
    """A multi-frame Enhanced CT made from a single-frame series by highdicom's legacy converter."""
    series = ct_series(frames)
    converted = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy_datasets=series,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
    )
    return pydicom.dcmread(BytesIO(_roundtrip(converted)))


def ct_small() -> Dataset:
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def _roundtrip(ds: Dataset) -> bytes:
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def sources(datasets: list[Dataset]) -> list[SourceImage]:
    return [SourceImage(ds) for ds in datasets]


def provenance() -> Provenance:
    return Provenance(
        observer="u_1a2b3c4d",
        task_id="T-17",
        project="liver-lesions",
        schema_version="3",
        software_version="0.1.0",
        device_observer_uid="2.25.1234567890",
        timestamp=datetime(2026, 12, 3, 18, 0, 0, tzinfo=UTC),
    )


LESION = CodedLabel("lesion", LabelKind.REGION, "52988006", "SCT", "Lesion", "#ff0000")
LIVER = CodedLabel("liver", LabelKind.MASK, "10200004", "SCT", "Liver", "#00ff00")
TUMOUR = CodedLabel("tumour", LabelKind.MASK, "108369006", "SCT", "Neoplasm", "#0000ff")
MARKER = CodedLabel("marker", LabelKind.POINT, "RID39054", "RADLEX", "Marker", "#ffff00")
DIAMETER = CodedLabel("diameter", LabelKind.MEASUREMENT, "81827009", "SCT", "Diameter", "#00ffff")
ARTEFACT = CodedLabel(
    "motion", LabelKind.CLASSIFICATION, "RID5175", "RADLEX", "Motion artifact", "#ff00ff"
)
