"""TID 1500 Measurement Report: file → dcmread → highdicom → read_back, and dciodvfy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from imaging.dicom_out import (
    Angle,
    Annotation,
    Classification,
    ClassificationLevel,
    CodedLabel,
    Ellipse,
    Freehand,
    ImageRef,
    LabelKind,
    Length,
    Point,
    Polygon,
    Rectangle,
    SourceImage,
    Superseded,
    build_measurement_report,
    derive_uid,
)
from imaging.dicom_out.reader import read_back
from tests.imaging.dicom_out import sources as src
from tests.imaging.dicom_out.conftest import dciodvfy, save_and_read

SCHEMA = {label.key: label for label in (src.LESION, src.MARKER, src.DIAMETER, src.ARTEFACT)}
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def every_annotation(image: ImageRef, other: ImageRef) -> list[Annotation]:
    # Coordinates are exact in float32 (Graphic Data is FL), so the round trip compares with ==.
    return [
        Rectangle("r1", src.LESION, image, x0=10.5, y0=2.5, x1=1.5, y1=12.5),
        Ellipse("e1", src.LESION, image, cx=20.5, cy=20.5, rx=5.0, ry=3.0),
        Ellipse("e2", src.LESION, other, cx=20.5, cy=20.5, rx=2.0, ry=7.5),
        Polygon("p1", src.LESION, image, vertices=((1.0, 1.0), (5.0, 1.0), (3.0, 4.25))),
        Freehand("f1", src.LESION, other, vertices=((1, 1), (5, 1), (6, 3), (3, 4), (1.5, 2))),
        Point("pt1", src.MARKER, image, x=3.5, y=4.5),
        Length("l1", src.DIAMETER, image, start=(0.0, 0.0), end=(3.0, 4.0)),
        Angle("a1", src.DIAMETER, other, first=(10.0, 2.0), vertex=(2.0, 2.0), second=(2.0, 10.0)),
        Classification("c1", src.ARTEFACT, ClassificationLevel.IMAGE, image),
        Classification("c2", src.ARTEFACT, ClassificationLevel.SERIES, image),
        Classification("c3", src.ARTEFACT, ClassificationLevel.STUDY),
    ]


def build(
    annotations: Sequence[Annotation], datasets: list[Dataset], **kwargs: Any
) -> hd.sr.Comprehensive3DSR:
    defaults: dict[str, Any] = {
        "sources": src.sources(datasets),
        "provenance": src.provenance(),
        "sop_instance_uid": derive_uid(f"sr/{id(annotations)}"),
        "series_instance_uid": derive_uid("T-17/sr"),
    }
    return build_measurement_report(annotations, **(defaults | kwargs))


def report_of(path: Path) -> hd.sr.MeasurementReport:
    return cast(hd.sr.MeasurementReport, hd.sr.srread(path).content)


def test_every_annotation_type_round_trips_and_validates(ct, tmp_path):
    image, other = ImageRef(ct[0].SOPInstanceUID), ImageRef(ct[2].SOPInstanceUID)
    annotations = every_annotation(image, other)
    ds = save_and_read(build(annotations, ct), tmp_path / "sr.dcm")

    assert dciodvfy(tmp_path / "sr.dcm") == []
    assert ds.SOPClassUID == COMPREHENSIVE_3D_SR
    assert (ds.PatientID, ds.StudyInstanceUID) == (ct[0].PatientID, ct[0].StudyInstanceUID)
    back = read_back(ds, SCHEMA)
    assert sorted(back.annotations, key=lambda a: a.uid) == sorted(annotations, key=lambda a: a.uid)
    assert back.session == "task=T-17;project=liver-lesions;schema=3"


def test_highdicom_reader_sees_regions_measurements_and_codes(ct, tmp_path):
    image, other = ImageRef(ct[0].SOPInstanceUID), ImageRef(ct[2].SOPInstanceUID)
    save_and_read(build(every_annotation(image, other), ct), tmp_path / "sr.dcm")
    report = report_of(tmp_path / "sr.dcm")

    planar = {g.tracking_identifier: g for g in report.get_planar_roi_measurement_groups()}

    def roi(key: str) -> hd.sr.ImageRegion:
        region = planar[key].roi
        assert isinstance(region, hd.sr.ImageRegion)
        return region

    rectangle = roi("lesion/rectangle/r1")
    assert rectangle.graphic_type is hd.sr.GraphicTypeValues.POLYLINE
    np.testing.assert_array_equal(
        rectangle.value, [[1.5, 2.5], [10.5, 2.5], [10.5, 12.5], [1.5, 12.5], [1.5, 2.5]]
    )
    ellipse = roi("lesion/ellipse/e2")
    assert ellipse.graphic_type is hd.sr.GraphicTypeValues.ELLIPSE
    np.testing.assert_array_equal(ellipse.value[:2], [[20.5, 13.0], [20.5, 28.0]])  # major first
    assert roi("marker/point/pt1").graphic_type is hd.sr.GraphicTypeValues.POINT
    assert planar["marker/point/pt1"].finding_type == hd.sr.CodedConcept(
        "RID39054", "RADLEX", "Marker"
    )
    assert (
        roi("lesion/polygon/p1")
        .ContentSequence[0]
        .ReferencedSOPSequence[0]
        .ReferencedSOPInstanceUID
        == ct[0].SOPInstanceUID
    )

    groups = {g.tracking_identifier: g for g in report.get_image_measurement_groups()}
    (length,) = groups["diameter/length/l1"].get_measurements()
    assert length.name == codes.SCT.Length and length.unit == codes.UCUM.Millimeter
    # PixelSpacing is [row, column] = [0.8, 0.5]: dx 3 columns, dy 4 rows.
    assert length.value == pytest.approx(math.hypot(3 * 0.5, 4 * 0.8), abs=1e-6)
    (angle,) = groups["diameter/angle/a1"].get_measurements()
    assert angle.unit == codes.UCUM.Degree
    assert angle.value == pytest.approx(90.0)
    study_level = groups["motion/classification-study/c3"]
    assert study_level.source_images == []
    assert len(groups["motion/classification-series/c2"].source_images) == len(ct)

    person, device = report.get_observer_contexts()
    assert str(person.observer_identifying_attributes[0].value) == "u_1a2b3c4d^"
    assert device.observer_identifying_attributes[0].value == "2.25.1234567890"


def test_anisotropic_angle_uses_pixel_spacing(ct, tmp_path):
    # 45° in pixels becomes atan(0.8/0.5) in millimetres.
    angle = Angle(
        "a",
        src.DIAMETER,
        ImageRef(ct[0].SOPInstanceUID),
        first=(10, 0),
        vertex=(0, 0),
        second=(10, 10),
    )
    ds = save_and_read(build([angle], ct), tmp_path / "sr.dcm")
    (group,) = report_of(tmp_path / "sr.dcm").get_image_measurement_groups()
    assert group.get_measurements()[0].value == pytest.approx(math.degrees(math.atan(0.8 / 0.5)))
    assert read_back(ds, SCHEMA).annotations == (angle,)


def test_multiframe_source_references_the_frame(enhanced, tmp_path):
    frame2 = ImageRef(enhanced.SOPInstanceUID, 2)
    annotations: list[Annotation] = [
        Rectangle("r", src.LESION, frame2, x0=1, y0=1, x1=9, y1=9),
        Length("l", src.DIAMETER, ImageRef(enhanced.SOPInstanceUID, 3), start=(1, 1), end=(1, 11)),
        Classification("c", src.ARTEFACT, ClassificationLevel.IMAGE, frame2),
    ]
    ds = save_and_read(build(annotations, [enhanced]), tmp_path / "sr.dcm")
    assert dciodvfy(tmp_path / "sr.dcm") == []
    back = read_back(ds, SCHEMA)
    assert sorted(back.annotations, key=lambda a: a.uid) == sorted(annotations, key=lambda a: a.uid)
    (group,) = report_of(tmp_path / "sr.dcm").get_planar_roi_measurement_groups()
    assert isinstance(group.roi, hd.sr.ImageRegion)
    assert group.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedFrameNumber == 2
    # Pixel spacing of an enhanced object comes from the Pixel Measures functional group.
    length = next(a for a in back.annotations if isinstance(a, Length))
    assert length.millimetres(SourceImage(enhanced).pixel_spacing(3) or (0, 0)) == pytest.approx(8)


def test_pydicom_ct_small_as_source(small, tmp_path):
    image = ImageRef(small.SOPInstanceUID)
    annotations: list[Annotation] = [
        Polygon("p", src.LESION, image, vertices=((0, 0), (128, 0), (64, 128))),
        Point("pt", src.MARKER, image, x=128.0, y=128.0),
        Length("l", src.DIAMETER, image, start=(10, 10), end=(20, 10)),
    ]
    ds = save_and_read(build(annotations, [small]), tmp_path / "sr.dcm")
    assert dciodvfy(tmp_path / "sr.dcm") == []
    assert ds.PatientID == small.PatientID
    assert sorted(read_back(ds, SCHEMA).annotations, key=lambda a: a.uid) == sorted(
        annotations, key=lambda a: a.uid
    )


def test_revision_keeps_the_series_and_names_its_predecessor(ct, tmp_path):
    image = ImageRef(ct[0].SOPInstanceUID)
    series = derive_uid("site/T-17/sr")
    first = build(
        [Point("p", src.MARKER, image, x=1, y=1)],
        ct,
        series_instance_uid=series,
        sop_instance_uid=derive_uid("site/T-17/sr/1"),
    )
    second = build(
        [Point("p", src.MARKER, image, x=2, y=2)],
        ct,
        series_instance_uid=series,
        sop_instance_uid=derive_uid("site/T-17/sr/2"),
        instance_number=2,
        supersedes=Superseded(
            first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPClassUID, first.SOPInstanceUID
        ),
    )
    ds = save_and_read(second, tmp_path / "sr2.dcm")
    assert dciodvfy(tmp_path / "sr2.dcm") == []
    assert ds.SeriesInstanceUID == first.SeriesInstanceUID
    assert ds.SOPInstanceUID != first.SOPInstanceUID
    predecessor = ds.PredecessorDocumentsSequence[0]
    assert predecessor.StudyInstanceUID == first.StudyInstanceUID
    back = read_back(ds, SCHEMA)
    assert (back.supersedes, back.instance_number) == (first.SOPInstanceUID, 2)


def test_same_input_gives_the_same_identity(ct):
    image = ImageRef(ct[0].SOPInstanceUID)
    points: list[Annotation] = [Point("p", src.MARKER, image, x=1, y=1)]
    a = build(points, ct, sop_instance_uid=derive_uid("k"))
    b = build(points, ct, sop_instance_uid=derive_uid("k"))
    assert (a.SOPInstanceUID, a.SeriesInstanceUID) == (b.SOPInstanceUID, b.SeriesInstanceUID)
    assert uidrefs(a) == uidrefs(b)  # tracking UIDs and the device observer UID


def uidrefs(ds: Dataset) -> list[str]:
    return [str(e.value) for e in ds.iterall() if e.keyword == "UID"]


def test_non_latin_code_meaning_switches_to_utf8(small, tmp_path):
    # CT_small has no Specific Character Set (default repertoire): a Japanese meaning needs UTF-8.
    label = CodedLabel("lesion", LabelKind.REGION, "52988006", "SCT", "Läsion 病変", "#ff0000")
    image = ImageRef(small.SOPInstanceUID)
    ds = save_and_read(
        build(
            [
                Point("p", src.MARKER, image, x=1, y=1),
                Rectangle("r", label, image, x0=1, y0=1, x1=3, y1=3),
            ],
            [small],
        ),
        tmp_path / "sr.dcm",
    )
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert dciodvfy(tmp_path / "sr.dcm") == []
    rectangle = next(a for a in read_back(ds).annotations if isinstance(a, Rectangle))
    assert rectangle.label.meaning == "Läsion 病変"  # (the SR has no colours: default)


def test_ascii_labels_keep_the_source_character_set(ct):
    ds = build([Point("p", src.MARKER, ImageRef(ct[0].SOPInstanceUID), x=1, y=1)], ct)
    assert ds.SpecificCharacterSet == ct[0].SpecificCharacterSet == "ISO_IR 100"
