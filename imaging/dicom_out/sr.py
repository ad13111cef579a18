"""Regions, points, measurements and classifications as a TID 1500 Measurement Report.

SOP class Comprehensive 3D SR (PS3.3 A.35.13): the 2-D SCOORD items of TID 1410/320 are allowed, and
highdicom's reader (``hd.sr.srread``) returns typed measurement groups for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from imaging.dicom_out import concepts
from imaging.dicom_out.checks import (
    character_set,
    check_document,
    check_inside,
    check_unique,
    index_sources,
    provenance_texts,
    resolve,
    set_timezone,
)
from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import (
    ClassificationLevel,
    ImageRef,
    Provenance,
    SourceImage,
    Superseded,
)
from imaging.dicom_out.shapes import (
    ANNOTATION_TYPES,
    Angle,
    Annotation,
    Classification,
    Ellipse,
    Freehand,
    Length,
    Point,
    Polygon,
    Rectangle,
)
from imaging.dicom_out.uids import tracking_uid_for

E = WritebackErrorCode
SR_SERIES_NUMBER = 9701
Group = (
    hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    | hd.sr.MeasurementsAndQualitativeEvaluations
)


def tracking_text(annotation: Annotation) -> str:
    """Tracking Identifier (TID 4108, DCM 112039) text: ``<label key>/<tool>/<client uid>``."""
    return f"{annotation.label.key}/{annotation.tool}/{annotation.uid}"


def build_measurement_report(
    annotations: Sequence[Annotation],
    *,
    sources: Sequence[SourceImage],
    provenance: Provenance,
    sop_instance_uid: str,
    series_instance_uid: str,
    instance_number: int = 1,
    series_number: int = SR_SERIES_NUMBER,
    supersedes: Superseded | None = None,
) -> hd.sr.Comprehensive3DSR:
    """One revision of a task's non-mask labels as a Comprehensive 3D SR (TID 1500).

    Raises ``WritebackError`` for any bad input before anything is built.
    """
    index = index_sources(sources)
    check_document(
        sop_instance_uid=sop_instance_uid,
        series_instance_uid=series_instance_uid,
        instance_number=instance_number,
        series_number=series_number,
        provenance=provenance,
        supersedes=supersedes,
    )
    items = tuple(annotations)
    if not items:
        raise WritebackError(
            E.NOTHING_TO_WRITE,
            "a measurement report needs at least one "
            "annotation (TID 1500 requires one measurement group)",
        )
    for item in items:
        if not isinstance(item, ANNOTATION_TYPES):
            raise WritebackError(
                E.NOT_SUPPORTED,
                f"{type(item).__name__} is not an annotation "
                f"type; use one of {', '.join(t.__name__ for t in ANNOTATION_TYPES)}",
            )
    check_unique((item.uid for item in items), "annotation")
    for item in items:
        _check_against_source(item, index)

    groups = [_group(item, index, provenance) for item in items]
    report = hd.sr.MeasurementReport(
        observation_context=observation_context(provenance),
        procedure_reported=concepts.PROCEDURE_REPORTED,
        imaging_measurements=groups,
    )
    when = provenance.timestamp
    # Only when needed: without the keyword highdicom inherits the source's character set.
    texts = [*provenance_texts(provenance), *(t for i in items for t in _texts(i))]
    charset: dict[str, Any] = (
        {"specific_character_set": name} if (name := character_set(texts)) else {}
    )
    document = hd.sr.Comprehensive3DSR(
        evidence=[s.dataset for s in index.values()],
        content=report,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=provenance.software_name,
        manufacturer_model_name=provenance.software_name,
        software_versions=provenance.software_version,
        series_description=f"Rhino labels {provenance.project}"[:64],
        content_date=when.date(),
        content_time=when.time().replace(tzinfo=None),
        previous_versions=[superseded_dataset(supersedes)] if supersedes else None,
        is_complete=False,
        is_final=False,
        is_verified=False,
        **charset,
    )
    set_timezone(document, when)
    return document


def _texts(item: Annotation) -> list[str]:
    return [item.uid, item.label.key, item.label.meaning, item.label.value, item.label.scheme]


def observation_context(provenance: Provenance) -> hd.sr.ObservationContext:
    """TID 1002 Observer Context: the annotator (pseudonym) and the gateway as device observer."""
    person = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            # PN with the pseudonym as family name; the trailing "^" marks it as one component
            # (PS3.5 6.2.1.2), else dicom3tools flags the retired single-string form.
            name=f"{provenance.observer}^",
            login_name=provenance.observer,
            role_in_organization=concepts.to_code(provenance.observer_role),
        ),
    )
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=provenance.device_observer_uid,
            name=provenance.software_name,
            model_name=provenance.software_version,
        ),
    )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def superseded_dataset(superseded: Superseded) -> Dataset:
    """The four UIDs highdicom needs to fill the Predecessor Documents Sequence (C.17.2.1)."""
    ds = Dataset()
    ds.StudyInstanceUID = superseded.study_instance_uid
    ds.SeriesInstanceUID = superseded.series_instance_uid
    ds.SOPClassUID = superseded.sop_class_uid
    ds.SOPInstanceUID = superseded.sop_instance_uid
    return ds


def _check_against_source(item: Annotation, index: dict[str, SourceImage]) -> None:
    if isinstance(item, Classification):
        if item.image is not None:
            resolve(item.image, index)
        return
    source = resolve(item.image, index)
    check_inside(item.points(), source, f"{item.tool} {item.uid!r}")
    if isinstance(item, Length) and source.pixel_spacing(item.image.frame_number) is None:
        raise WritebackError(
            E.NO_PIXEL_SPACING,
            f"length {item.uid!r}: image "
            f"{source.sop_instance_uid} has no Pixel Spacing, so no length in mm",
        )


def _region_source(image: ImageRef, source: SourceImage) -> hd.sr.SourceImageForRegion:
    frames = [image.frame_number] if source.is_multiframe and image.frame_number else None
    return hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=source.sop_class_uid,
        referenced_sop_instance_uid=source.sop_instance_uid,
        referenced_frame_numbers=frames,
    )


def _group_source(image: ImageRef, source: SourceImage) -> hd.sr.SourceImageForMeasurementGroup:
    frames = [image.frame_number] if source.is_multiframe and image.frame_number else None
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=source.sop_class_uid,
        referenced_sop_instance_uid=source.sop_instance_uid,
        referenced_frame_numbers=frames,
    )


def scoord(item: Annotation) -> tuple[hd.sr.GraphicTypeValues, np.ndarray[Any, Any]]:
    """Graphic Type and Graphic Data of an annotation (PS3.3 C.18.6.1.2)."""
    g = hd.sr.GraphicTypeValues
    if isinstance(item, Rectangle):
        # A rectangle is a closed POLYLINE: first point repeated as the last (C.18.6.1.2).
        x0, x1 = sorted((item.x0, item.x1))
        y0, y1 = sorted((item.y0, item.y1))
        points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        return g.POLYLINE, np.array(points, dtype=float)
    if isinstance(item, Ellipse):
        # ELLIPSE: the major axis end points first, then the minor axis end points.
        horizontal = [(item.cx - item.rx, item.cy), (item.cx + item.rx, item.cy)]
        vertical = [(item.cx, item.cy - item.ry), (item.cx, item.cy + item.ry)]
        axes = horizontal + vertical if item.rx >= item.ry else vertical + horizontal
        return g.ELLIPSE, np.array(axes, dtype=float)
    if isinstance(item, Polygon | Freehand):
        # 2-D SCOORD has no POLYGON graphic type (only SCOORD3D has): a closed POLYLINE.
        return g.POLYLINE, np.array([*item.vertices, item.vertices[0]], dtype=float)
    if isinstance(item, Point):
        return g.POINT, np.array([(item.x, item.y)], dtype=float)
    if isinstance(item, Length | Angle):
        return g.POLYLINE, np.array(item.points(), dtype=float)
    raise WritebackError(E.NOT_SUPPORTED, f"{type(item).__name__} has no spatial coordinates")


def _group(item: Annotation, index: dict[str, SourceImage], provenance: Provenance) -> Group:
    tracking = hd.sr.TrackingIdentifier(
        uid=tracking_uid_for(item.uid), identifier=tracking_text(item)
    )
    finding = concepts.to_code(item.label.concept)
    if isinstance(item, Classification):
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            finding_type=finding,
            session=provenance.session_text,
            source_images=_classification_sources(item, index) or None,
        )
    source = index[item.image.sop_instance_uid]
    graphic_type, graphic_data = scoord(item)
    if isinstance(item, Length | Angle):
        spacing = source.pixel_spacing(item.image.frame_number)
        if isinstance(item, Length):
            assert spacing is not None  # checked in _check_against_source
            name, value, unit = concepts.LENGTH, item.millimetres(spacing), concepts.MILLIMETRE
        else:
            name, value, unit = concepts.ANGLE, item.degrees(spacing), concepts.DEGREE
        measurement = hd.sr.Measurement(
            name=name,
            value=round(value, 6),
            unit=unit,
            referenced_coordinates=[
                # TID 300 row "INFERRED FROM" SCOORD (TID 320): where the value was measured.
                hd.sr.CoordinatesForMeasurement(
                    graphic_type=graphic_type,
                    graphic_data=graphic_data,
                    source_image=_region_source(item.image, source),
                )
            ],
        )
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            finding_type=finding,
            session=provenance.session_text,
            measurements=[measurement],
            source_images=[_group_source(item.image, source)],
        )
    region = hd.sr.ImageRegion(
        graphic_type=graphic_type,
        graphic_data=graphic_data,
        source_image=_region_source(item.image, source),
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        referenced_region=region,
        finding_type=finding,
        session=provenance.session_text,
    )


def _classification_sources(
    item: Classification, index: dict[str, SourceImage]
) -> list[hd.sr.SourceImageForMeasurementGroup]:
    if item.level is ClassificationLevel.STUDY or item.image is None:
        return []
    if item.level is ClassificationLevel.IMAGE:
        return [_group_source(item.image, index[item.image.sop_instance_uid])]
    series = index[item.image.sop_instance_uid].series_instance_uid
    return [
        _group_source(ImageRef(s.sop_instance_uid), s)
        for s in index.values()
        if s.series_instance_uid == series
    ]
