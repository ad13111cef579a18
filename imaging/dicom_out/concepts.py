"""Coded concepts the write-back objects use, with the PS3.16 context group each comes from."""

from __future__ import annotations

from pydicom.sr.coding import Code

from imaging.dicom_out.model import Concept, SegmentCategory

# TID 1500 row 3 "Procedure Reported", CID 100: the labels are about imaging, no specific protocol.
PROCEDURE_REPORTED = Code("363679005", "SCT", "Imaging procedure")
# TID 300 Measurement concept names, CID 7470 "Linear Measurement" / CID 7472 "Angle Measurement".
LENGTH = Code("410668003", "SCT", "Length")
ANGLE = Code("1483009", "SCT", "Angle")
# CID 7181 / UCUM units; meanings as PS3.16 spells them (dciodvfy compares meanings).
MILLIMETRE = Code("mm", "UCUM", "mm")
DEGREE = Code("deg", "UCUM", "Degree")
# CID 7010 Key Object Selection Document Title.
OF_INTEREST = Code("113000", "DCM", "Of Interest")
QUALITY_ISSUE = Code("113010", "DCM", "Quality Issue")
# CID 7011 / IHE IOCM: the title of a rejection note (the PACS hides the instances it lists).
REJECTED_FOR_QUALITY = Code("113001", "DCM", "Rejected for Quality Reasons")
# CID 7150 Segmentation Property Categories.
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")
ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
SEGMENT_CATEGORIES = {
    SegmentCategory.ABNORMAL: MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
    SegmentCategory.ANATOMY: ANATOMICAL_STRUCTURE,
}


def to_code(concept: Concept) -> Code:
    return Code(concept.value, concept.scheme, concept.meaning)
