"""Bad input is refused with a stable code before anything is built."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from imaging.dicom_out import (
    Angle,
    Classification,
    ClassificationLevel,
    CodedLabel,
    Ellipse,
    ImageRef,
    InstanceRef,
    LabelKind,
    Length,
    MaskPlane,
    Point,
    Polygon,
    Rectangle,
    SegmentMask,
    SelectedSeries,
    SelectionDecision,
    SelectionReason,
    SourceImage,
    Superseded,
    WritebackError,
    WritebackErrorCode,
    build_key_object_selection,
    build_measurement_report,
    build_segmentation,
    derive_uid,
)
from tests.imaging.dicom_out import sources as src

C = WritebackErrorCode


def refused(code: WritebackErrorCode):
    class Check:
        def __enter__(self):
            self.raises = pytest.raises(WritebackError)
            self.info = self.raises.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self.raises.__exit__(*exc)
            assert self.info.value.code is code, str(self.info.value)
            assert isinstance(self.info.value, ValueError)
            return result

    return Check()


def sr(annotations, datasets):
    return build_measurement_report(
        annotations,
        sources=src.sources(datasets),
        provenance=src.provenance(),
        sop_instance_uid=derive_uid("x"),
        series_instance_uid=derive_uid("y"),
    )


def seg(masks, datasets):
    return build_segmentation(
        masks,
        sources=src.sources(datasets),
        provenance=src.provenance(),
        sop_instance_uid=derive_uid("x"),
        series_instance_uid=derive_uid("y"),
    )


def test_unknown_label_kind():
    with refused(C.UNKNOWN_LABEL_KIND) as caught:
        CodedLabel("x", "scribble", "1", "SCT", "X")  # type: ignore[arg-type]
    assert "valid kinds: region, mask" in caught.value.message


def test_label_of_the_wrong_kind_for_the_tool(ct):
    with refused(C.WRONG_LABEL_KIND):
        Point("p", src.LESION, ImageRef(ct[0].SOPInstanceUID), x=1, y=1)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("colour", "red", C.BAD_COLOUR),
        ("key", "a b", C.BAD_KEY),
        ("value", "", C.BAD_CODE),
        ("meaning", "x" * 65, C.BAD_CODE),
        ("scheme", "A\\B", C.BAD_CODE),
    ],
)
def test_bad_label_fields(field, value, code):
    with refused(code):
        replace(src.LESION, **{field: value})


@pytest.mark.parametrize(
    "make",
    [
        lambda img: Rectangle("r", src.LESION, img, x0=1, y0=1, x1=65, y1=5),
        lambda img: Ellipse("e", src.LESION, img, cx=60, cy=10, rx=5, ry=2),
        lambda img: Polygon("p", src.LESION, img, vertices=((1, 1), (2, 49), (3, 1))),
        lambda img: Point("p", src.MARKER, img, x=-0.5, y=3),
        lambda img: Length("l", src.DIAMETER, img, start=(0, 0), end=(64.5, 0)),
        lambda img: Angle("a", src.DIAMETER, img, first=(1, 1), vertex=(0, 0), second=(1, 49)),
    ],
)
def test_geometry_outside_rows_and_columns(ct, make):
    with refused(C.OUT_OF_BOUNDS):
        sr([make(ImageRef(ct[0].SOPInstanceUID))], ct)


def test_the_image_edge_itself_is_inside(ct):
    image = ImageRef(ct[0].SOPInstanceUID)
    sr([Rectangle("r", src.LESION, image, x0=0, y0=0, x1=src.COLUMNS, y1=src.ROWS)], ct)


@pytest.mark.parametrize(
    "vertices", [(), ((1, 1), (2, 2)), ((1, 1), (1, 1), (1, 1), (1, 1)), None, ((1, "a"),)]
)
def test_empty_or_degenerate_polygons(ct, vertices):
    with pytest.raises(WritebackError) as caught:
        Polygon("p", src.LESION, ImageRef(ct[0].SOPInstanceUID), vertices=vertices)
    assert caught.value.code in (C.EMPTY_GEOMETRY, C.DEGENERATE_GEOMETRY)


def test_non_finite_coordinates(ct):
    with refused(C.OUT_OF_BOUNDS):
        Point("p", src.MARKER, ImageRef(ct[0].SOPInstanceUID), x=float("nan"), y=1)


def test_degenerate_shapes(ct):
    image = ImageRef(ct[0].SOPInstanceUID)
    with refused(C.DEGENERATE_GEOMETRY):
        Rectangle("r", src.LESION, image, x0=1, y0=1, x1=1, y1=5)
    with refused(C.DEGENERATE_GEOMETRY):
        Ellipse("e", src.LESION, image, cx=5, cy=5, rx=0, ry=2)
    with refused(C.DEGENERATE_GEOMETRY):
        Length("l", src.DIAMETER, image, start=(1, 1), end=(1, 1))


def test_frame_numbers(ct, enhanced):
    with refused(C.FRAME_OUT_OF_RANGE):
        ImageRef(enhanced.SOPInstanceUID, 0)
    with refused(C.FRAME_OUT_OF_RANGE):
        sr([Point("p", src.MARKER, ImageRef(enhanced.SOPInstanceUID, 4), x=1, y=1)], [enhanced])
    with refused(C.FRAME_OUT_OF_RANGE):  # a multi-frame source needs the frame
        sr([Point("p", src.MARKER, ImageRef(enhanced.SOPInstanceUID), x=1, y=1)], [enhanced])
    with refused(C.FRAME_OUT_OF_RANGE):
        sr([Point("p", src.MARKER, ImageRef(ct[0].SOPInstanceUID, 2), x=1, y=1)], ct)


def test_unknown_source_and_duplicates(ct):
    with refused(C.UNKNOWN_SOURCE):
        sr([Point("p", src.MARKER, ImageRef("1.2.3.4"), x=1, y=1)], ct)
    image = ImageRef(ct[0].SOPInstanceUID)
    with refused(C.DUPLICATE):
        sr([Point("p", src.MARKER, image, x=1, y=1), Point("p", src.MARKER, image, x=2, y=2)], ct)
    with refused(C.DUPLICATE):
        sr([Point("p", src.MARKER, image, x=1, y=1)], [ct[0], ct[0]])
    with refused(C.NOTHING_TO_WRITE):
        sr([], ct)


def test_sources_of_two_studies(ct):
    other = src.ct_series(1)
    with refused(C.MIXED_SOURCES):
        sr([Point("p", src.MARKER, ImageRef(ct[0].SOPInstanceUID), x=1, y=1)], ct + other)


def test_length_without_pixel_spacing(ct):
    bare = Dataset()
    bare.update(ct[0])
    del bare.PixelSpacing
    with refused(C.NO_PIXEL_SPACING):
        sr(
            [Length("l", src.DIAMETER, ImageRef(bare.SOPInstanceUID), start=(0, 0), end=(1, 1))],
            [bare],
        )


def test_source_without_required_attributes():
    with refused(C.MISSING_ATTRIBUTE):
        SourceImage(Dataset())


def test_classification_level_needs_matching_image(ct):
    with refused(C.BAD_VALUE):
        Classification("c", src.ARTEFACT, "patient")  # type: ignore[arg-type]
    with refused(C.EMPTY_GEOMETRY):
        Classification("c", src.ARTEFACT, ClassificationLevel.IMAGE)
    with refused(C.EMPTY_GEOMETRY):
        Classification("c", src.ARTEFACT, ClassificationLevel.STUDY, ImageRef(ct[0].SOPInstanceUID))


def test_masks_of_the_wrong_shape_dtype_or_empty(ct, enhanced):
    image = ImageRef(ct[0].SOPInstanceUID)
    with refused(C.MASK_SHAPE):
        seg([SegmentMask("m", src.LIVER, (MaskPlane(image, np.ones((10, 10), bool)),))], ct)
    with refused(C.MASK_SHAPE):
        MaskPlane(image, np.ones((src.ROWS, src.COLUMNS), np.uint8))
    with refused(C.MASK_SHAPE):
        MaskPlane(image, np.ones((1, src.ROWS, src.COLUMNS), bool))
    empty = np.zeros((src.ROWS, src.COLUMNS), bool)
    with refused(C.EMPTY_MASK):
        seg([SegmentMask("m", src.LIVER, (MaskPlane(image, empty),))], ct)
    with refused(C.EMPTY_MASK):
        SegmentMask("m", src.LIVER, ())
    with refused(C.FRAME_OUT_OF_RANGE):
        seg(
            [
                SegmentMask(
                    "m", src.LIVER, (MaskPlane(ImageRef(enhanced.SOPInstanceUID, 9), ~empty),)
                )
            ],
            [enhanced],
        )
    with refused(C.WRONG_LABEL_KIND):
        SegmentMask("m", src.LESION, (MaskPlane(image, ~empty),))


def test_masks_across_two_series(ct):
    other = src.ct_series(1)
    other[0].StudyInstanceUID = ct[0].StudyInstanceUID
    full = np.ones((src.ROWS, src.COLUMNS), bool)
    with refused(C.MIXED_SOURCES):
        seg(
            [
                SegmentMask(
                    "m",
                    src.LIVER,
                    (
                        MaskPlane(ImageRef(ct[0].SOPInstanceUID), full),
                        MaskPlane(ImageRef(other[0].SOPInstanceUID), full),
                    ),
                )
            ],
            ct + other,
        )


def test_key_object_selection_refusals(ct):
    series = SelectedSeries(
        ct[0].SeriesInstanceUID, (InstanceRef(ct[0].SOPClassUID, ct[0].SOPInstanceUID),)
    )
    reason = SelectionReason(SelectionDecision.INCLUDE, "for annotation")

    def kos(chosen: list[SelectedSeries], lead: str = "u_lead") -> object:
        return build_key_object_selection(
            chosen,
            study=SourceImage(ct[0]),
            reason=reason,
            lead=lead,
            provenance=src.provenance(),
            sop_instance_uid=derive_uid("k"),
            series_instance_uid=derive_uid("ks"),
        )

    with refused(C.NOTHING_TO_WRITE):
        kos([])
    with refused(C.DUPLICATE):
        kos([series, series])
    with refused(C.BAD_TEXT):
        kos([series], lead="Doe^John")
    with refused(C.EMPTY_GEOMETRY):
        SelectedSeries(ct[0].SeriesInstanceUID, ())
    with refused(C.BAD_UID):
        InstanceRef("1.2.840.10008.5.1.4.1.1.2", "not-a-uid")
    with refused(C.BAD_VALUE):
        SelectionReason("maybe", "x")  # type: ignore[arg-type]


def test_label_kinds_are_stable():
    assert [k.value for k in LabelKind] == [
        "region",
        "mask",
        "point",
        "measurement",
        "classification",
    ]


def test_document_identity_and_revision(ct):
    point = [Point("p", src.MARKER, ImageRef(ct[0].SOPInstanceUID), x=1, y=1)]

    def report(**kwargs: object) -> object:
        arguments: dict[str, Any] = {
            "sources": src.sources(ct),
            "provenance": src.provenance(),
            "sop_instance_uid": derive_uid("x"),
            "series_instance_uid": derive_uid("y"),
        }
        return build_measurement_report(point, **(arguments | kwargs))

    with refused(C.BAD_UID):
        report(sop_instance_uid="1.2.03")
    with refused(C.BAD_UID):
        report(series_instance_uid="")
    with refused(C.BAD_VALUE):
        report(instance_number=0)
    with refused(C.BAD_VALUE):
        report(series_number=True)
    with refused(C.BAD_VALUE):
        report(provenance="u_1")
    with refused(C.BAD_VALUE):
        report(supersedes=derive_uid("old"))
    with refused(C.DUPLICATE):
        report(
            supersedes=Superseded(
                ct[0].StudyInstanceUID,
                derive_uid("y"),
                "1.2.840.10008.5.1.4.1.1.88.34",
                derive_uid("x"),
            )
        )


def test_provenance_fields():
    good = src.provenance()
    with refused(C.BAD_TEXT):
        replace(good, observer="Doe^John")
    with refused(C.BAD_TEXT):
        replace(good, timestamp=good.timestamp.replace(tzinfo=None))
    with refused(C.BAD_UID):
        replace(good, device_observer_uid="gateway-1")
    with refused(C.BAD_TEXT):
        replace(good, project="")
