"""Write-back DICOM objects: SR (TID 1500), SEG and KOS built at the site, and read back.

Pure library (pydicom, highdicom, numpy). See docs/writeback-objects.md.
"""

from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.ko import build_key_object_selection, build_rejection_note
from imaging.dicom_out.model import (
    ClassificationLevel,
    CodedLabel,
    Concept,
    ImageRef,
    InstanceRef,
    LabelKind,
    Provenance,
    SegmentCategory,
    SelectedSeries,
    SelectionDecision,
    SelectionReason,
    SourceImage,
    Superseded,
)
from imaging.dicom_out.reader import ReadBack, read_back
from imaging.dicom_out.seg import build_segmentation
from imaging.dicom_out.shapes import (
    Angle,
    Annotation,
    Classification,
    Ellipse,
    Freehand,
    Length,
    MaskPlane,
    Point,
    Polygon,
    Rectangle,
    SegmentMask,
)
from imaging.dicom_out.sr import build_measurement_report
from imaging.dicom_out.uids import derive_uid, tracking_uid_for

__all__ = [
    "Angle",
    "Annotation",
    "Classification",
    "ClassificationLevel",
    "CodedLabel",
    "Concept",
    "Ellipse",
    "Freehand",
    "ImageRef",
    "InstanceRef",
    "LabelKind",
    "Length",
    "MaskPlane",
    "Point",
    "Polygon",
    "Provenance",
    "ReadBack",
    "Rectangle",
    "SegmentCategory",
    "SegmentMask",
    "SelectedSeries",
    "SelectionDecision",
    "SelectionReason",
    "SourceImage",
    "Superseded",
    "WritebackError",
    "WritebackErrorCode",
    "build_key_object_selection",
    "build_measurement_report",
    "build_rejection_note",
    "build_segmentation",
    "derive_uid",
    "read_back",
    "tracking_uid_for",
]
