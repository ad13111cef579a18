"""The lead's series selection as a Key Object Selection Document (PS3.3 A.35.4, TID 2010)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID

from imaging.dicom_out import concepts
from imaging.dicom_out.checks import (
    character_set,
    check_document,
    check_unique,
    provenance_texts,
    set_timezone,
)
from imaging.dicom_out.errors import WritebackError, WritebackErrorCode
from imaging.dicom_out.model import (
    Provenance,
    SelectedSeries,
    SelectionDecision,
    SelectionReason,
    SourceImage,
    Superseded,
)

E = WritebackErrorCode
KOS_SERIES_NUMBER = 9703
SUPERSEDES_PREFIX = "supersedes "

# Patient and General Study attributes copied from the study's source image into the KOS (C.7.1.1,
# C.7.2.1): the document files under the same patient and study as the images it selects.
_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyID",
    "AccessionNumber",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "SpecificCharacterSet",
)


def document_title(decision: SelectionDecision) -> hd.sr.CodedConcept:
    """CID 7010 title. Exclusion is "Quality Issue", never a CID 7011 rejection title (113001…):
    under IHE IOCM a PACS hides or deletes the instances a rejection note references."""
    code = concepts.OF_INTEREST if decision is SelectionDecision.INCLUDE else concepts.QUALITY_ISSUE
    return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)


def description_text(reason: SelectionReason, supersedes: Superseded | None) -> str:
    """Key Object Description (DCM 113012): the reason, its code, and the superseded UID."""
    parts = [reason.text]
    if reason.code is not None:
        parts.append(f'({reason.code.scheme}, {reason.code.value}, "{reason.code.meaning}")')
    if supersedes is not None:
        parts.append(f"{SUPERSEDES_PREFIX}{supersedes.sop_instance_uid}")
    return "; ".join(parts)


def build_key_object_selection(
    selection: Sequence[SelectedSeries],
    *,
    study: SourceImage,
    reason: SelectionReason,
    lead: str,
    provenance: Provenance,
    sop_instance_uid: str,
    series_instance_uid: str,
    instance_number: int = 1,
    series_number: int = KOS_SERIES_NUMBER,
    supersedes: Superseded | None = None,
) -> hd.ko.KeyObjectSelectionDocument:
    """A KOS listing exactly the selected series' instances, filed in ``study``'s study.

    ``lead`` is the lead's pseudonym (person observer); ``provenance`` gives the device observer
    (the gateway), software and timestamp. Raises ``WritebackError`` before anything is built.
    """
    if not isinstance(study, SourceImage):
        raise WritebackError(E.UNKNOWN_SOURCE, "study must be a SourceImage of the study")
    if not isinstance(reason, SelectionReason):
        raise WritebackError(E.BAD_TEXT, "reason must be a SelectionReason")
    check_document(
        sop_instance_uid=sop_instance_uid,
        series_instance_uid=series_instance_uid,
        instance_number=instance_number,
        series_number=series_number,
        provenance=provenance,
        supersedes=supersedes,
    )
    if not isinstance(lead, str) or not lead or len(lead) > 64 or any(c in lead for c in "^=\\"):
        raise WritebackError(
            E.BAD_TEXT, "lead must be a pseudonym of ≤ 64 characters without '^', '=' or '\\'"
        )
    chosen = tuple(selection)
    if not chosen or not all(isinstance(s, SelectedSeries) for s in chosen):
        raise WritebackError(E.NOTHING_TO_WRITE, "selection must list at least one SelectedSeries")
    check_unique((s.series_instance_uid for s in chosen), "selected series")
    check_unique((i.sop_instance_uid for s in chosen for i in s.instances), "selected instance")

    evidence = [
        _reference(
            study.dataset,
            series.series_instance_uid,
            instance.sop_class_uid,
            instance.sop_instance_uid,
        )
        for series in chosen
        for instance in series.instances
    ]
    content = hd.ko.KeyObjectSelection(
        document_title=document_title(reason.decision),
        referenced_objects=evidence,
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=f"{lead}^", login_name=lead
            ),
        ),
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=provenance.device_observer_uid,
                name=provenance.software_name,
                model_name=provenance.software_version,
            ),
        ),
        description=description_text(reason, supersedes),
    )
    when = provenance.timestamp
    # Only when needed: without the keyword highdicom inherits the source's character set.
    texts = [*provenance_texts(provenance), lead, description_text(reason, None)]
    charset: dict[str, Any] = (
        {"specific_character_set": name} if (name := character_set(texts)) else {}
    )
    document = hd.ko.KeyObjectSelectionDocument(
        evidence=evidence,
        content=content,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=provenance.software_name,
        series_description=f"Rhino selection {provenance.project}"[:64],
        content_date=when.date(),
        content_time=when.time().replace(tzinfo=None),
        **charset,
    )
    set_timezone(document, when)
    return document


def build_rejection_note(
    rejected: Sequence[Superseded],
    *,
    study: SourceImage,
    explanation: str,
    provenance: Provenance,
    sop_instance_uid: str,
    series_instance_uid: str,
    instance_number: int = 1,
    series_number: int = KOS_SERIES_NUMBER,
    series_description: str | None = None,
) -> hd.ko.KeyObjectSelectionDocument:
    """An IHE IOCM rejection note: a KOS titled (113001, DCM, "Rejected for Quality Reasons")
    listing write-back objects that are no longer right: SR/SEG that no longer hold the reader's
    labels (every label of that kind was deleted), so the PACS hides them and a read-back does not
    resurrect them, or selection KOS whose series the lead withdrew or re-decided.

    Only for the gateway's own write-back objects: the lead's exclusions are never rejection notes
    (see ``document_title``). ``rejected`` must all belong to ``study``. ``series_description``
    defaults to "Rhino withdrawn labels <project>".
    """
    if not isinstance(study, SourceImage):
        raise WritebackError(E.UNKNOWN_SOURCE, "study must be a SourceImage of the study")
    check_document(
        sop_instance_uid=sop_instance_uid,
        series_instance_uid=series_instance_uid,
        instance_number=instance_number,
        series_number=series_number,
        provenance=provenance,
        supersedes=None,
    )
    items = tuple(rejected)
    if not items or not all(isinstance(r, Superseded) for r in items):
        raise WritebackError(E.NOTHING_TO_WRITE, "rejected must list at least one Superseded")
    check_unique((r.sop_instance_uid for r in items), "rejected instance")
    if any(r.study_instance_uid != study.dataset.StudyInstanceUID for r in items):
        raise WritebackError(E.BAD_VALUE, "a rejection note lists one study's instances")
    if not isinstance(explanation, str) or not explanation or len(explanation) > 1024:
        raise WritebackError(E.BAD_TEXT, "explanation must be 1..1024 characters")
    evidence = [
        _reference(study.dataset, r.series_instance_uid, r.sop_class_uid, r.sop_instance_uid)
        for r in items
    ]
    title = concepts.REJECTED_FOR_QUALITY
    content = hd.ko.KeyObjectSelection(
        document_title=hd.sr.CodedConcept(title.value, title.scheme_designator, title.meaning),
        referenced_objects=evidence,
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=provenance.device_observer_uid,
                name=provenance.software_name,
                model_name=provenance.software_version,
            ),
        ),
        description=explanation,
    )
    when = provenance.timestamp
    texts = [*provenance_texts(provenance), explanation]
    charset: dict[str, Any] = (
        {"specific_character_set": name} if (name := character_set(texts)) else {}
    )
    document = hd.ko.KeyObjectSelectionDocument(
        evidence=evidence,
        content=content,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=provenance.software_name,
        series_description=(series_description or f"Rhino withdrawn labels {provenance.project}")[
            :64
        ],
        content_date=when.date(),
        content_time=when.time().replace(tzinfo=None),
        **charset,
    )
    set_timezone(document, when)
    return document


def is_image_class(sop_class_uid: str) -> bool:
    """IMAGE content items for image storage SOP classes, COMPOSITE for the rest (C.17.3.2.1)."""
    name = UID(sop_class_uid).name
    return "Image Storage" in name or name == "Segmentation Storage"


def _reference(
    study: Dataset, series_uid: str, sop_class_uid: str, sop_instance_uid: str
) -> Dataset:
    ds = Dataset()
    for keyword in _PATIENT_STUDY:
        setattr(ds, keyword, study.get(keyword, ""))
    if not ds.SpecificCharacterSet:
        del ds.SpecificCharacterSet
    ds.StudyInstanceUID = study.StudyInstanceUID
    ds.SeriesInstanceUID = series_uid
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    if is_image_class(sop_class_uid):
        # highdicom writes an IMAGE item when Rows and Columns are present, else COMPOSITE.
        ds.Rows = ds.Columns = 1
    return ds
