"""Read write-back objects (SR TID 1500, SEG, KOS) back into the input dataclasses.

Used when a task is reopened from the PACS. Objects written by ``imaging.dicom_out`` come back
exactly (geometry within float32, codes, tracking uids, references); objects from other software are
read as far as their content maps onto the dataclasses, the rest is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID

from imaging.dicom_out import concepts, seg
from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import (
    ClassificationLevel,
    CodedLabel,
    ImageRef,
    InstanceRef,
    LabelKind,
    SegmentCategory,
)
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

E = WritebackErrorCode
_TRACKING = re.compile(r"^([A-Za-z0-9_.-]{1,64})/([a-z-]+)/([A-Za-z0-9_.-]{1,64})$")
# The text both seg.py and ko.py write (their SUPERSEDES_PREFIX) followed by the UID.
_SUPERSEDES = re.compile(re.escape(seg.SUPERSEDES_PREFIX) + r"([0-9.]+)")
_SESSION_TEXT = re.compile(r"task=[^;]*;project=[^;]*;schema=[^;]*")
_SESSION = ("C67447", "NCIt")  # TID 1501 "Activity Session"
_COMPREHENSIVE_3D = "1.2.840.10008.5.1.4.1.1.88.34"
_COMPREHENSIVE = "1.2.840.10008.5.1.4.1.1.88.33"
_ENHANCED = "1.2.840.10008.5.1.4.1.1.88.22"
_SR_CLASSES = {_COMPREHENSIVE_3D, _COMPREHENSIVE, _ENHANCED}
_SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
_KINDS = {
    "rectangle": LabelKind.REGION,
    "ellipse": LabelKind.REGION,
    "polygon": LabelKind.REGION,
    "freehand": LabelKind.REGION,
    "point": LabelKind.POINT,
    "length": LabelKind.MEASUREMENT,
    "angle": LabelKind.MEASUREMENT,
    "mask": LabelKind.MASK,
}


@dataclass(frozen=True, eq=False)
class ReadBack:
    """What one write-back object holds, in the builders' input terms."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    instance_number: int
    supersedes: str | None
    annotations: tuple[Annotation, ...] = ()
    masks: tuple[SegmentMask, ...] = ()
    selected: tuple[InstanceRef, ...] = ()
    document_title: tuple[str, str, str] | None = None
    description: str | None = None
    session: str | None = None


def read_back(ds: Dataset, labels: Mapping[str, CodedLabel] | None = None) -> ReadBack:
    """Annotations of an SR, masks of a SEG or the selection of a KOS.

    ``labels`` (the task's schema by key) restores colours and exact label objects; without it the
    labels are rebuilt from the codes with a default colour (SR) or the segment colour (SEG).
    """
    sop_class = str(ds.get("SOPClassUID", ""))
    common: dict[str, Any] = {
        "sop_class_uid": sop_class,
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "series_instance_uid": str(ds.SeriesInstanceUID),
        "study_instance_uid": str(ds.StudyInstanceUID),
        "instance_number": int(ds.get("InstanceNumber") or 0),
    }
    schema = dict(labels or {})
    if sop_class in _SR_CLASSES:
        return _read_sr(ds, schema, common)
    if sop_class == _SEG_CLASS:
        return _read_seg(ds, schema, common)
    if sop_class == _KOS_CLASS:
        return _read_kos(ds, common)
    raise WritebackError(
        E.NOT_SUPPORTED,
        f"cannot read back SOP class {sop_class!r} "
        f"({UID(sop_class).name if sop_class else 'none'}); SR, SEG and KOS only",
    )


def _label(
    schema: dict[str, CodedLabel], key: str, kind: LabelKind, code: Any, colour: str = "#ffff00"
) -> CodedLabel:
    known = schema.get(key)
    if known is not None:
        return known
    return CodedLabel(
        key, kind, str(code.value), str(code.scheme_designator), str(code.meaning), colour
    )


def _identity(
    text: str | None, tracking_uid: str | None, fallback_tool: str
) -> tuple[str, str, str]:
    """(key, tool, client uid) from our tracking text, or a best effort for foreign objects."""
    match = _TRACKING.match(text or "")
    if match:
        return match.group(1), match.group(2), match.group(3)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", text or "")[:64] or (tracking_uid or "unnamed")[:64]
    return safe, fallback_tool, (tracking_uid or safe)[:64]


def _image_ref(item: Dataset) -> ImageRef:
    ref = item.ReferencedSOPSequence[0]
    frames = ref.get("ReferencedFrameNumber")
    frame = (
        None if frames in (None, "") else int(frames if not isinstance(frames, list) else frames[0])
    )
    return ImageRef(str(ref.ReferencedSOPInstanceUID), frame)


def _read_sr(ds: Dataset, schema: dict[str, CodedLabel], common: dict[str, Any]) -> ReadBack:
    sop_class: type[hd.sr.Comprehensive3DSR | hd.sr.ComprehensiveSR | hd.sr.EnhancedSR] = {
        _COMPREHENSIVE_3D: hd.sr.Comprehensive3DSR,
        _COMPREHENSIVE: hd.sr.ComprehensiveSR,
        _ENHANCED: hd.sr.EnhancedSR,
    }[str(ds.SOPClassUID)]
    try:
        document = sop_class.from_dataset(ds)
        report = hd.sr.MeasurementReport.from_sequence(document.content)
    except (ValueError, AttributeError, TypeError) as error:
        # highdicom's messages say which item is missing; this product reads TID 1500 only.
        raise WritebackError(
            E.NOT_SUPPORTED, f"not a TID 1500 measurement report: {error}"
        ) from error
    annotations: list[Annotation] = []
    session: str | None = None
    for group in report.get_planar_roi_measurement_groups():
        session = session or _session(group)
        region = group.roi
        if not isinstance(region, hd.sr.ImageRegion):
            continue  # 3-D regions and segment references are not drawn by this product
        key, tool, uid = _identity(group.tracking_identifier, group.tracking_uid, "")
        image = _image_ref(region.ContentSequence[0])
        points = np.asarray(region.value, dtype=float).reshape(-1, 2)
        shape = _region(tool, region.graphic_type, points)
        if shape is None:
            continue
        cls, fields = shape
        kind = LabelKind.POINT if cls is Point else LabelKind.REGION
        label = _label(schema, key, kind, group.finding_type)
        annotations.append(cls(uid=uid, label=label, image=image, **fields))
    for image_group in report.get_image_measurement_groups():
        session = session or _session(image_group)
        key, tool, uid = _identity(image_group.tracking_identifier, image_group.tracking_uid, "")
        annotation = _image_group(image_group, key, tool, uid, schema)
        if annotation is not None:
            annotations.append(annotation)
    predecessor = None
    if "PredecessorDocumentsSequence" in ds:
        series = ds.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
        predecessor = str(series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return ReadBack(
        **common, supersedes=predecessor, annotations=tuple(annotations), session=session
    )


def _session(group: Any) -> str | None:
    for item in group[0].ContentSequence:
        name = item.ConceptNameCodeSequence[0]
        if (name.CodeValue, name.CodingSchemeDesignator) == _SESSION:
            return str(item.TextValue)
    return None


def _region(tool: str, graphic_type: Any, points: np.ndarray) -> tuple[type, dict[str, Any]] | None:
    g = hd.sr.GraphicTypeValues
    if graphic_type == g.POINT:
        return Point, {"x": float(points[0, 0]), "y": float(points[0, 1])}
    if graphic_type == g.ELLIPSE:
        (a0, a1, b0, b1) = points[:4]
        cx, cy = (a0 + a1) / 2
        rx = max(abs(a1[0] - a0[0]), abs(b1[0] - b0[0])) / 2
        ry = max(abs(a1[1] - a0[1]), abs(b1[1] - b0[1])) / 2
        return Ellipse, {"cx": float(cx), "cy": float(cy), "rx": float(rx), "ry": float(ry)}
    if graphic_type == g.CIRCLE:
        centre, edge = points[:2]
        r = float(np.hypot(*(edge - centre)))
        return Ellipse, {"cx": float(centre[0]), "cy": float(centre[1]), "rx": r, "ry": r}
    if graphic_type == g.POLYLINE:
        vertices = [(float(x), float(y)) for x, y in points]
        if len(vertices) > 3 and vertices[0] == vertices[-1]:
            vertices = vertices[:-1]
        if tool == "rectangle" or (tool == "" and _is_rectangle(vertices)):
            xs, ys = [v[0] for v in vertices], [v[1] for v in vertices]
            return Rectangle, {"x0": min(xs), "y0": min(ys), "x1": max(xs), "y1": max(ys)}
        return (Freehand if tool == "freehand" else Polygon), {"vertices": tuple(vertices)}
    return None


def _is_rectangle(vertices: list[tuple[float, float]]) -> bool:
    if len(vertices) != 4:
        return False
    return all(
        a[0] == b[0] or a[1] == b[1]
        for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True)
    )


def _image_group(
    group: hd.sr.MeasurementsAndQualitativeEvaluations,
    key: str,
    tool: str,
    uid: str,
    schema: dict[str, CodedLabel],
) -> Annotation | None:
    measurements = group.get_measurements()
    finding = group.finding_type
    if finding is None:
        return None
    if not measurements:
        # A group without measurements is a classification (TID 1501 Finding only).
        sources = group.source_images
        level = {
            "classification-image": ClassificationLevel.IMAGE,
            "classification-series": ClassificationLevel.SERIES,
            "classification-study": ClassificationLevel.STUDY,
        }.get(tool)
        if level is None:
            level = (
                ClassificationLevel.STUDY
                if not sources
                else ClassificationLevel.IMAGE
                if len(sources) == 1
                else ClassificationLevel.SERIES
            )
        image = (
            None if level is ClassificationLevel.STUDY or not sources else _image_ref(sources[0])
        )
        label = _label(schema, key, LabelKind.CLASSIFICATION, finding)
        return Classification(uid=uid, label=label, level=level, image=image)
    measurement = measurements[0]
    coordinates = measurement.referenced_coordinates
    if not coordinates:
        return None
    points = [(float(x), float(y)) for x, y in np.asarray(coordinates[0].value).reshape(-1, 2)]
    image = _image_ref(coordinates[0].ContentSequence[0])
    label = _label(schema, key, LabelKind.MEASUREMENT, finding)
    if measurement.name == concepts.LENGTH and len(points) == 2:
        return Length(uid=uid, label=label, image=image, start=points[0], end=points[1])
    if measurement.name == concepts.ANGLE and len(points) == 3:
        return Angle(
            uid=uid, label=label, image=image, first=points[0], vertex=points[1], second=points[2]
        )
    return None


def _functional(ds: Dataset, index: int, keyword: str) -> Dataset:
    """A functional group macro of frame ``index``: per-frame, else shared (C.7.6.16)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and index < len(per_frame) and keyword in per_frame[index]:
        return per_frame[index][keyword].value[0]  # type: ignore[no-any-return]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and keyword in shared[0]:
        return shared[0][keyword].value[0]  # type: ignore[no-any-return]
    raise WritebackError(E.MISSING_ATTRIBUTE, f"frame {index + 1} has no {keyword}")


def _read_seg(ds: Dataset, schema: dict[str, CodedLabel], common: dict[str, Any]) -> ReadBack:
    segmentation = hd.seg.Segmentation.from_dataset(ds, copy=False)
    if segmentation.segmentation_type != hd.seg.SegmentationTypeValues.BINARY:
        raise WritebackError(E.NOT_SUPPORTED, "only BINARY segmentations are read back")
    frames = ds.pixel_array.reshape(-1, int(ds.Rows), int(ds.Columns)).astype(bool)
    planes: dict[int, list[MaskPlane]] = {}
    for index in range(frames.shape[0]):
        number = int(
            _functional(ds, index, "SegmentIdentificationSequence").ReferencedSegmentNumber
        )
        source = _functional(ds, index, "DerivationImageSequence").SourceImageSequence[0]
        frame = source.get("ReferencedFrameNumber")
        image = ImageRef(
            str(source.ReferencedSOPInstanceUID), None if frame is None else int(frame)
        )
        planes.setdefault(number, []).append(MaskPlane(image, frames[index]))
    masks = []
    for number in segmentation.segment_numbers:
        description = segmentation.get_segment_description(number)
        key, _, uid = _identity(description.tracking_id, description.tracking_uid, "mask")
        colour = "#ffff00"
        if "RecommendedDisplayCIELabValue" in description:
            rgb = hd.color.CIELabColor.from_dicom_value(
                description.RecommendedDisplayCIELabValue
            ).to_rgb()
            colour = "#{:02x}{:02x}{:02x}".format(*rgb)
        label = _label(schema, key, LabelKind.MASK, description.segmented_property_type, colour)
        category = next(
            (
                k
                for k, v in concepts.SEGMENT_CATEGORIES.items()
                if v == description.segmented_property_category
            ),
            SegmentCategory.ABNORMAL,
        )
        masks.append(
            SegmentMask(
                uid=uid, label=label, planes=tuple(planes.get(number, ())), category=category
            )
        )
    derivation = str(ds.get("DerivationDescription", ""))
    match = _SUPERSEDES.search(derivation)
    return ReadBack(
        **common,
        supersedes=match.group(1) if match else None,
        masks=tuple(masks),
        description=str(ds.get("ContentDescription", "")) or None,
        session=session.group(0) if (session := _SESSION_TEXT.search(derivation)) else None,
    )


def _is_code(item: Dataset, code: Any) -> bool:
    name = item.ConceptNameCodeSequence[0]
    return (name.CodeValue, name.CodingSchemeDesignator) == (code.value, code.scheme_designator)


def _read_kos(ds: Dataset, common: dict[str, Any]) -> ReadBack:
    root = ds.ContentSequence
    title = ds.ConceptNameCodeSequence[0]
    selected: list[InstanceRef] = []
    description = None
    for item in root:
        if item.ValueType in ("IMAGE", "COMPOSITE"):
            ref = item.ReferencedSOPSequence[0]
            selected.append(
                InstanceRef(str(ref.ReferencedSOPClassUID), str(ref.ReferencedSOPInstanceUID))
            )
        elif item.ValueType == "TEXT" and _is_code(item, codes.DCM.KeyObjectDescription):
            description = str(item.TextValue)
    match = _SUPERSEDES.search(description or "")
    return ReadBack(
        **common,
        supersedes=match.group(1) if match else None,
        selected=tuple(selected),
        document_title=(
            str(title.CodeValue),
            str(title.CodingSchemeDesignator),
            str(title.CodeMeaning),
        ),
        description=description,
    )
