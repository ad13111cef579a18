"""Turn one outbox row into its DICOM object with ``imaging.dicom_out`` (SR, SEG or KOS).

Everything needed is in the label store: the revision's records (already resolved to source
SOP Instance UIDs when saved), the task's schema, the provenance, and the source headers that were
read from the instance cache at save time. So a row can be built after a restart with the PACS
and the cache unavailable, and the built bytes are kept in the row (highdicom stamps a few values
at build time, so rebuilding would not give the same bytes; one SOP Instance UID must only ever
name one object).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydicom.dataset import Dataset

from imaging.dicom_out import (
    Concept,
    InstanceRef,
    Provenance,
    SelectedSeries,
    SelectionReason,
    SourceImage,
    Superseded,
    WritebackError,
    WritebackErrorCode,
    build_key_object_selection,
    build_measurement_report,
    build_rejection_note,
    build_segmentation,
    derive_uid,
)
from site_gateway.labels.document import schema_labels, to_shapes
from site_gateway.labels.outbox import SOP_CLASSES, Outbox, OutboxRow
from site_gateway.labels.selections import item_reason
from site_gateway.labels.store import LabelStore, Revision
from site_gateway.link import GATEWAY_VERSION

# highdicom logs every module it copies at INFO (≈ 15 lines per object, with source UIDs); the
# gateway logs at INFO, so only its warnings are let through.
logging.getLogger("highdicom").setLevel(logging.WARNING)


@dataclass(frozen=True)
class BuildContext:
    site: str
    software_version: str = GATEWAY_VERSION

    @property
    def device_uid(self) -> str:
        """The gateway as Device Observer (TID 1004): stable per site."""
        return derive_uid(f"{self.site}/device")


def provenance_for(revision: Revision, context: BuildContext) -> Provenance:
    task = str(revision.task) if revision.task is not None else revision.subject
    return Provenance(
        observer=revision.user,
        task_id=task[:64],
        project=revision.project,
        schema_version=revision.schema_version,
        software_version=context.software_version,
        device_observer_uid=context.device_uid,
        timestamp=datetime.fromtimestamp(revision.saved_at, UTC),
    )


def _superseded(row: OutboxRow) -> Superseded | None:
    if row.supersedes is None:
        return None
    # The predecessor is the previous instance of the same stream: same study, same series.
    return Superseded(row.study_uid, row.series_uid, SOP_CLASSES[row.kind], row.supersedes)


def build_row(row: OutboxRow, store: LabelStore, context: BuildContext) -> Dataset:
    """The object of ``row``; raises ``WritebackError`` (a permanent failure) on bad content."""
    revision = store.revision(row.subject, row.revision)
    provenance = provenance_for(revision, context)
    common: dict[str, Any] = {
        "provenance": provenance,
        "sop_instance_uid": row.sop_uid,
        "series_instance_uid": row.series_uid,
        "instance_number": row.revision,
        "supersedes": _superseded(row),
    }
    if row.kind == "kos":
        return _build_kos(row, revision, store, common)
    if row.kind == "retire":
        return _build_rejection(row, revision, store, common)
    members = set(row.members)
    records = [r for r in revision.records if r.uid in members]
    _, labels = schema_labels(revision.schema)
    annotations, masks = to_shapes(records, labels)
    headers = store.headers(sorted({r.sop_uid for r in records}))
    sources = [SourceImage(ds) for _, ds in sorted(headers.items())]
    if row.kind == "sr":
        return build_measurement_report(annotations, sources=sources, **common)
    series_uid = records[0].series_uid
    return build_segmentation(masks[series_uid], sources=sources, **common)


def _build_kos(
    row: OutboxRow, revision: Revision, store: LabelStore, common: dict[str, Any]
) -> Dataset:
    payload = json.loads(revision.payload)
    members = set(row.members)
    chosen = [s for s in payload["series"] if s["handle"] in members]
    selection = [
        SelectedSeries(s["series_uid"], tuple(InstanceRef(c, i) for c, i in s["instances"]))
        for s in chosen
    ]
    study = store.headers([chosen[0]["study_sop"]])[chosen[0]["study_sop"]]
    raw = item_reason(chosen[0], payload)  # one reason per KOS (its stream's)
    code = raw.get("code")
    reason = SelectionReason(
        raw["decision"],
        raw["text"],
        None if code is None else Concept(code["value"], code["scheme"], code["meaning"]),
    )
    return build_key_object_selection(
        selection, study=SourceImage(study), reason=reason, lead=payload["lead"], **common
    )


def _build_rejection(
    row: OutboxRow, revision: Revision, store: LabelStore, common: dict[str, Any]
) -> Dataset:
    """The rejection note of a stream whose labels were all deleted (it lists the stream's
    earlier objects), or of selection KOS that a withdrawal or a new decision made wrong
    (``selections.py``); the study's patient and study modules come from their source images."""
    outbox = Outbox(store.db, store.lock)
    rejected = [r for uid in row.members if (r := outbox.get(uid)) is not None]
    sources: list[str] = []
    for old in rejected:
        members = set(old.members)
        earlier = store.revision(old.subject, old.revision)
        if old.kind == "kos":
            sources += [s["study_sop"] for s in json.loads(earlier.payload)["series"]
                        if s["handle"] in members]  # fmt: skip
        else:
            sources += [r.sop_uid for r in earlier.records if r.uid in members]
    headers = store.headers(sorted(set(sources)))
    if not rejected or not headers:
        raise WritebackError(
            WritebackErrorCode.UNKNOWN_SOURCE, "the objects to reject are not in the label store"
        )
    common.pop("supersedes")
    if all(r.kind == "kos" for r in rejected):
        explanation = (
            f"Superseded: revision {revision.revision} of the series selection withdrew or "
            "re-decided a series these selections list"
        )
        description = f"Rhino withdrawn selection {revision.project}"
    else:
        explanation = f"Withdrawn: revision {revision.revision} of the labels no longer has them"
        description = f"Rhino withdrawn labels {revision.project}"
    return build_rejection_note(
        [Superseded(r.study_uid, r.series_uid, SOP_CLASSES[r.kind], r.sop_uid) for r in rejected],
        study=SourceImage(headers[min(headers)]),
        explanation=explanation,
        series_description=description,
        **common,
    )


def encode(dataset: Dataset) -> bytes:
    """Part 10 bytes (PS3.10 7.1), the form kept in the outbox and sent on every attempt."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
