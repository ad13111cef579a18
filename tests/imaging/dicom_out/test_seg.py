"""Binary SEG: file → dcmread → hd.seg.segread → read_back, and dciodvfy."""

from __future__ import annotations

from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from imaging.dicom_out import (
    ImageRef,
    MaskPlane,
    SegmentCategory,
    SegmentMask,
    Superseded,
    build_segmentation,
    derive_uid,
    tracking_uid_for,
)
from imaging.dicom_out.reader import read_back
from tests.imaging.dicom_out import sources as src
from tests.imaging.dicom_out.conftest import dciodvfy, save_and_read

SCHEMA = {label.key: label for label in (src.LIVER, src.TUMOUR)}


def box(shape: tuple[int, int], rows: slice, columns: slice) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows, columns] = True
    return mask


def build(masks: list[SegmentMask], datasets: list[Dataset], **kwargs: Any) -> hd.seg.Segmentation:
    defaults: dict[str, Any] = {
        "sources": src.sources(datasets),
        "provenance": src.provenance(),
        "sop_instance_uid": derive_uid(f"seg/{id(masks)}"),
        "series_instance_uid": derive_uid("T-17/seg"),
    }
    return build_segmentation(masks, **(defaults | kwargs))


def planes_by_image(mask: SegmentMask) -> dict[tuple[str, int | None], np.ndarray]:
    return {(p.image.sop_instance_uid, p.image.frame_number): p.pixels for p in mask.planes}


def assert_same_masks(read: tuple[SegmentMask, ...], written: list[SegmentMask]) -> None:
    assert [(m.uid, m.label) for m in read] == [(m.uid, m.label) for m in written]
    for got, want in zip(read, written, strict=True):
        expected = {k: v for k, v in planes_by_image(want).items() if v.any()}  # empty: omitted
        actual = planes_by_image(got)
        assert actual.keys() == expected.keys()
        for key, pixels in expected.items():
            np.testing.assert_array_equal(actual[key], pixels)


def test_single_frame_series_round_trips_and_validates(ct, tmp_path):
    shape = (src.ROWS, src.COLUMNS)
    liver = SegmentMask(
        "m-liver",
        src.LIVER,
        (
            MaskPlane(ImageRef(ct[0].SOPInstanceUID), box(shape, slice(2, 20), slice(3, 30))),
            MaskPlane(ImageRef(ct[1].SOPInstanceUID), np.zeros(shape, dtype=bool)),
            MaskPlane(ImageRef(ct[3].SOPInstanceUID), box(shape, slice(40, 48), slice(60, 64))),
        ),
    )
    tumour = SegmentMask(
        "m-tumour",
        src.TUMOUR,
        (MaskPlane(ImageRef(ct[0].SOPInstanceUID), box(shape, slice(5, 8), slice(5, 8))),),
    )
    ds = save_and_read(build([liver, tumour], ct), tmp_path / "seg.dcm")

    assert dciodvfy(tmp_path / "seg.dcm") == []
    assert ds.SegmentationType == "BINARY" and ds.NumberOfFrames == 3
    assert_same_masks(read_back(ds, SCHEMA).masks, [liver, tumour])

    seg = hd.seg.segread(tmp_path / "seg.dcm")
    assert seg.get_segment_numbers(segment_label="liver") == [1]
    description = seg.get_segment_description(2)
    assert description.segmented_property_type == hd.sr.CodedConcept("108369006", "SCT", "Neoplasm")
    assert description.segmented_property_category == codes.SCT.MorphologicallyAbnormalStructure
    assert description.algorithm_type is hd.seg.SegmentAlgorithmTypeValues.MANUAL
    assert description.tracking_uid == tracking_uid_for("m-tumour")
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[ct[0].SOPInstanceUID, ct[3].SOPInstanceUID],
        segment_numbers=[1, 2],
    )
    np.testing.assert_array_equal(pixels[0, ..., 0], liver.planes[0].pixels)
    np.testing.assert_array_equal(pixels[1, ..., 1], np.zeros(shape, dtype=bool))
    assert {uid for _, _, uid in seg.get_source_image_uids()} == {
        ct[0].SOPInstanceUID,
        ct[1].SOPInstanceUID,
        ct[3].SOPInstanceUID,
    }
    # Colours come back from the CIELab value even without the schema.
    assert [m.label.colour for m in read_back(ds).masks] == ["#00ff00", "#0000ff"]


def test_multiframe_source_round_trips(enhanced, tmp_path):
    shape = (src.ROWS, src.COLUMNS)
    mask = SegmentMask(
        "m",
        src.LIVER,
        (
            MaskPlane(ImageRef(enhanced.SOPInstanceUID, 3), box(shape, slice(0, 4), slice(0, 64))),
            MaskPlane(ImageRef(enhanced.SOPInstanceUID, 1), box(shape, slice(1, 2), slice(1, 2))),
        ),
        category=SegmentCategory.ANATOMY,
    )
    ds = save_and_read(build([mask], [enhanced]), tmp_path / "s.dcm")
    assert dciodvfy(tmp_path / "s.dcm") == []
    assert_same_masks(read_back(ds, SCHEMA).masks, [mask])
    seg = hd.seg.segread(tmp_path / "s.dcm")
    assert seg.get_segment_description(1).segmented_property_category == (
        codes.SCT.AnatomicalStructure
    )
    by_frame = seg.get_pixels_by_source_frame(
        source_sop_instance_uid=enhanced.SOPInstanceUID, source_frame_numbers=[1, 2, 3]
    )
    np.testing.assert_array_equal(by_frame[2, ..., 0], mask.planes[0].pixels)
    assert not by_frame[1].any()


def test_pydicom_ct_small_as_source(small, tmp_path):
    mask = SegmentMask(
        "m",
        src.TUMOUR,
        (MaskPlane(ImageRef(small.SOPInstanceUID), box((128, 128), slice(60, 70), slice(0, 128))),),
    )
    ds = save_and_read(build([mask], [small]), tmp_path / "seg.dcm")
    assert dciodvfy(tmp_path / "seg.dcm") == []
    assert ds.PatientID == small.PatientID and ds.StudyInstanceUID == small.StudyInstanceUID
    assert_same_masks(read_back(ds, SCHEMA).masks, [mask])


def test_revision_names_what_it_supersedes(ct, tmp_path):
    mask = SegmentMask(
        "m",
        src.LIVER,
        (
            MaskPlane(
                ImageRef(ct[0].SOPInstanceUID),
                box((src.ROWS, src.COLUMNS), slice(0, 2), slice(0, 2)),
            ),
        ),
    )
    first = build([mask], ct, sop_instance_uid=derive_uid("site/T-17/seg/1"))
    second = build(
        [mask],
        ct,
        sop_instance_uid=derive_uid("site/T-17/seg/2"),
        instance_number=2,
        supersedes=Superseded(
            first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPClassUID, first.SOPInstanceUID
        ),
    )
    ds = save_and_read(second, tmp_path / "seg2.dcm")
    assert dciodvfy(tmp_path / "seg2.dcm") == []
    back = read_back(ds, SCHEMA)
    assert (back.supersedes, back.instance_number) == (first.SOPInstanceUID, 2)
    assert back.session == "task=T-17;project=liver-lesions;schema=3"
    assert back.series_instance_uid == first.SeriesInstanceUID
    assert ds.ContentCreatorName == "u_1a2b3c4d^"
