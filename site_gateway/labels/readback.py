"""``label.load``: the latest labels of a task, from the label store, else from the PACS.

The store holds every revision saved at this gateway, so it answers almost always. When it does
not (a gateway rebuilt with an empty state directory, labels written by another gateway of the
same site), the write-back objects are found in the PACS by their derived series UIDs (one
stream per task and study / source series, see ``outbox.py``), the newest instance of each is
read with ``imaging.dicom_out.read_back`` and mapped back from SOP Instance UIDs to the viewer's
(series handle, slice index).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pydicom

from imaging.dicom_out import (
    Angle,
    Annotation,
    Classification,
    ClassificationLevel,
    Ellipse,
    Freehand,
    ImageRef,
    Length,
    Point,
    Polygon,
    Rectangle,
    WritebackError,
    derive_uid,
    read_back,
)
from site_gateway.grants import Grant
from site_gateway.labels.document import DOCUMENT_VERSION, encode_mask, schema_labels
from site_gateway.labels.outbox import RETIRED_SUFFIX
from site_gateway.labels.sources import SourceError, SourceLookup
from site_gateway.labels.store import LabelStore, task_subject
from site_gateway.pacs import Pacs, PacsError, RetrievedInstance

log = logging.getLogger("site_gateway.labels.readback")


def document_for(
    task: int, schema_version: str, annotations: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "version": DOCUMENT_VERSION,
        "task": task,
        "schema_version": schema_version,
        "annotations": annotations,
    }


def load_from_store(store: LabelStore, grant: Grant) -> tuple[dict[str, Any], int] | None:
    revision = store.latest(task_subject(grant.task))
    if revision is None:
        return None
    annotations = [r.viewer_json() for r in revision.records]
    return document_for(grant.task, revision.schema_version, annotations), revision.revision


async def load_from_pacs(
    pacs: Pacs, lookup: SourceLookup, grant: Grant, *, site: str
) -> tuple[dict[str, Any], int] | None:
    """The newest write-back objects of the task in the PACS, as a document; None if none."""
    try:
        series = [await lookup.series_instances(handle) for handle in grant.series]
    except SourceError:
        return None
    schema_version, labels = schema_labels(grant.schema)
    where: dict[tuple[str, int | None], tuple[str, int]] = {}
    for item in series:
        for index, (sop, frame) in enumerate(item.frames):
            where.setdefault((sop, frame), (item.series, index))
    streams = {f"{site}/task/{grant.task}/sr/{s.study_uid}": s.study_uid for s in series}
    streams.update({f"{site}/task/{grant.task}/seg/{s.series_uid}": s.study_uid for s in series})
    annotations: list[dict[str, Any]] = []
    newest = 0
    for stream, study_uid in streams.items():
        found = await _newest(pacs, study_uid, derive_uid(stream))
        if found is None:
            continue
        revision, dataset = found
        withdrawn = await _newest_number(pacs, study_uid, derive_uid(stream + RETIRED_SUFFIX))
        if withdrawn is not None and withdrawn >= revision:
            # A rejection note came after the stream's last object: its labels were deleted.
            newest = max(newest, withdrawn)
            continue
        newest = max(newest, revision)
        try:
            content = read_back(dataset, labels)
        except WritebackError as exc:
            log.warning("a write-back object cannot be read back: %s", exc.code)
            continue
        for annotation in content.annotations:
            shape = _annotation_json(annotation, where)
            if shape is not None:
                annotations.append(shape)
        for segment in content.masks:
            for n, plane in enumerate(segment.planes):
                at = _frame(plane.image, where)
                if at is None:
                    continue
                rows, columns = plane.pixels.shape
                annotations.append(
                    {
                        "uid": f"{segment.uid}-{n}"[:64],
                        "tool": "brush",
                        "label": segment.label.key,
                        "frame": at,
                        "geometry": {"points": []},
                        "mask": {
                            "rows": rows,
                            "columns": columns,
                            "rle": encode_mask(plane.pixels),
                        },
                    }
                )
    if newest == 0:
        return None
    return document_for(grant.task, schema_version, annotations), newest


async def _newest_number(pacs: Pacs, study_uid: str, series_uid: str) -> int | None:
    try:
        records = await pacs.find_instances(study_uid, series_uid)
    except PacsError:
        return None
    return max((r.instance_number or 0 for r in records), default=None)


async def _newest(pacs: Pacs, study_uid: str, series_uid: str) -> tuple[int, Any] | None:
    try:
        records = await pacs.find_instances(study_uid, series_uid)
    except PacsError:
        return None
    if not records:
        return None
    record = max(records, key=lambda r: r.instance_number or 0)
    try:
        async for item in pacs.retrieve_series(study_uid, series_uid, first_sop_uid=record.sop_uid):
            if isinstance(item, RetrievedInstance) and item.sop_uid == record.sop_uid:
                dataset = await asyncio.to_thread(pydicom.dcmread, io.BytesIO(item.data))
                return int(record.instance_number or 0), dataset
    except PacsError:
        return None
    return None


def _frame(
    image: ImageRef, where: dict[tuple[str, int | None], tuple[str, int]]
) -> dict[str, Any] | None:
    at = where.get((image.sop_instance_uid, image.frame_number))
    if at is None and image.frame_number in (None, 1):
        at = where.get((image.sop_instance_uid, None)) or where.get((image.sop_instance_uid, 1))
    if at is None:
        return None  # an image outside this grant's series: not shown in this session
    return {"series": at[0], "index": at[1], "plane": "axial"}


def _annotation_json(
    annotation: Annotation,
    where: dict[tuple[str, int | None], tuple[str, int]],
) -> dict[str, Any] | None:
    out: dict[str, Any] = {"uid": annotation.uid, "label": annotation.label.key}
    if isinstance(annotation, Classification):
        out["tool"] = "classification"
        out["level"] = annotation.level.value
        if annotation.level is ClassificationLevel.STUDY or annotation.image is None:
            out["frame"] = None
        else:
            out["frame"] = _frame(annotation.image, where)
            if out["frame"] is None:
                return None
        out["geometry"] = {"points": []}
        return out
    frame = _frame(annotation.image, where)
    if frame is None:
        return None
    out["frame"] = frame
    points: list[tuple[float, float]]
    if isinstance(annotation, Rectangle):
        out["tool"] = "rectangle"
        points = [(annotation.x0, annotation.y0), (annotation.x1, annotation.y1)]
    elif isinstance(annotation, Ellipse):
        out["tool"] = "ellipse"
        a = annotation
        points = [(a.cx - a.rx, a.cy - a.ry), (a.cx + a.rx, a.cy + a.ry)]
    elif isinstance(annotation, Freehand | Polygon):
        out["tool"] = "freehand" if isinstance(annotation, Freehand) else "polygon"
        points = list(annotation.vertices)
    elif isinstance(annotation, Point):
        out["tool"] = "point"
        points = [(annotation.x, annotation.y)]
    elif isinstance(annotation, Length):
        out["tool"] = "length"
        points = [annotation.start, annotation.end]
    elif isinstance(annotation, Angle):
        out["tool"] = "angle"
        points = [annotation.first, annotation.vertex, annotation.second]
    else:
        return None
    out["geometry"] = {"points": [[float(x), float(y)] for x, y in points]}
    return out
