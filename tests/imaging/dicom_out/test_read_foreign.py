"""read_back on objects this product did not write: map what fits, refuse what is not SR/SEG/KOS."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from imaging.dicom_out import (
    Ellipse,
    LabelKind,
    Polygon,
    Rectangle,
    WritebackError,
    WritebackErrorCode,
    derive_uid,
    read_back,
)
from tests.imaging.dicom_out.conftest import save_and_read


def foreign_report(ct: list[Dataset]) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 report as another tool might write it: free-text tracking ids, a CIRCLE."""
    source = hd.sr.SourceImageForRegion(ct[0].SOPClassUID, ct[0].SOPInstanceUID)

    def group(
        text: str, graphic: str, data: list[list[float]]
    ) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=derive_uid(text), identifier=text),
            referenced_region=hd.sr.ImageRegion(graphic, np.array(data), source),
            finding_type=codes.SCT.Neoplasm,
        )

    groups = [
        group("Lesion #1 (circle)", "CIRCLE", [[10, 10], [13, 14]]),
        group("box", "POLYLINE", [[1, 1], [5, 1], [5, 4], [1, 4], [1, 1]]),
        group("tri", "POLYLINE", [[1, 1], [5, 1], [3, 4], [1, 1]]),
    ]
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Person,
                observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                    name="Other^Tool"
                ),
            )
        ),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=ct,
        content=report,
        series_instance_uid=derive_uid("f/series"),
        series_number=1,
        sop_instance_uid=derive_uid("f/sr"),
        instance_number=1,
        manufacturer="other",
    )


def test_foreign_report_maps_circles_and_polylines(ct, tmp_path):
    back = read_back(save_and_read(foreign_report(ct), tmp_path / "sr.dcm"))
    circle, box, triangle = back.annotations
    assert isinstance(circle, Ellipse) and (circle.cx, circle.cy, circle.rx) == (10, 10, 5)
    assert circle.uid == derive_uid("Lesion #1 (circle)")
    assert circle.label.key == "Lesion__1__circle_" and circle.label.kind is LabelKind.REGION
    assert circle.label.meaning == "Neoplasm"
    assert isinstance(box, Rectangle) and (box.x0, box.y0, box.x1, box.y1) == (1, 1, 5, 4)
    assert isinstance(triangle, Polygon) and len(triangle.vertices) == 3
    assert back.supersedes is None


def test_other_sop_classes_are_refused(ct):
    with pytest.raises(WritebackError) as caught:
        read_back(ct[0])
    assert caught.value.code is WritebackErrorCode.NOT_SUPPORTED
    assert "CT Image Storage" in caught.value.message


def test_sr_that_is_not_a_measurement_report_is_refused(ct):
    ds = Dataset()
    ds.update(foreign_report(ct))
    ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    ds.ContentSequence = ds.ContentSequence[:1]
    with pytest.raises(WritebackError) as caught:
        read_back(ds)
    assert caught.value.code is WritebackErrorCode.NOT_SUPPORTED
