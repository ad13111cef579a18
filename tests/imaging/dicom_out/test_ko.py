"""Key Object Selection: file → dcmread → highdicom KOS → read_back, and dciodvfy."""

from __future__ import annotations

from typing import Any

import highdicom as hd
import pytest
from pydicom.dataset import Dataset

from imaging.dicom_out import (
    Concept,
    InstanceRef,
    SelectedSeries,
    SelectionDecision,
    SelectionReason,
    SourceImage,
    Superseded,
    build_key_object_selection,
    build_rejection_note,
    derive_uid,
)
from imaging.dicom_out.reader import read_back
from tests.imaging.dicom_out import sources as src
from tests.imaging.dicom_out.conftest import dciodvfy, save_and_read


def selection(*series_lists: list[Dataset]) -> list[SelectedSeries]:
    return [
        SelectedSeries(
            datasets[0].SeriesInstanceUID,
            tuple(InstanceRef(d.SOPClassUID, d.SOPInstanceUID) for d in datasets),
        )
        for datasets in series_lists
    ]


def build(
    chosen: list[SelectedSeries], study: Dataset, reason: SelectionReason, **kwargs: Any
) -> hd.ko.KeyObjectSelectionDocument:
    defaults: dict[str, Any] = {
        "study": SourceImage(study),
        "reason": reason,
        "lead": "u_lead42",
        "provenance": src.provenance(),
        "sop_instance_uid": derive_uid(f"kos/{id(chosen)}"),
        "series_instance_uid": derive_uid("P-1/kos"),
    }
    return build_key_object_selection(chosen, **(defaults | kwargs))


@pytest.mark.parametrize(
    ("decision", "title"),
    [
        (SelectionDecision.INCLUDE, ("113000", "DCM", "Of Interest")),
        (SelectionDecision.EXCLUDE, ("113010", "DCM", "Quality Issue")),
    ],
)
def test_selection_lists_exactly_the_selected_instances(ct, decision, title, tmp_path):
    second_series = src.ct_series(2)
    for ds in second_series:  # same study, another series
        ds.StudyInstanceUID = ct[0].StudyInstanceUID
    chosen = selection(ct[:3], second_series)
    reason = SelectionReason(
        decision, "excluded: motion", Concept("RID5175", "RADLEX", "Motion artifact")
    )
    ds = save_and_read(build(chosen, ct[0], reason), tmp_path / "kos.dcm")

    assert dciodvfy(tmp_path / "kos.dcm") == []
    assert ds.PatientID == ct[0].PatientID and ds.StudyInstanceUID == ct[0].StudyInstanceUID
    expected = [i for s in chosen for i in s.instances]
    back = read_back(ds)
    assert list(back.selected) == expected
    assert back.document_title == title
    assert back.description == 'excluded: motion; (RADLEX, RID5175, "Motion artifact")'

    document = hd.ko.KeyObjectSelectionDocument.from_dataset(ds)
    references = document.content.get_references()
    assert [r.referenced_sop_instance_uid for r in references] == [
        i.sop_instance_uid for i in expected
    ]
    for series in chosen:
        for instance in series.instances:
            assert document.resolve_reference(instance.sop_instance_uid) == (
                ct[0].StudyInstanceUID,
                series.series_instance_uid,
                instance.sop_instance_uid,
            )
    person, _device = document.content.get_observer_contexts()
    assert str(person.observer_identifying_attributes[0].value) == "u_lead42^"
    evidence = {
        (series.SeriesInstanceUID, item.ReferencedSOPInstanceUID)
        for study in ds.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    }
    assert evidence == {
        (s.series_instance_uid, i.sop_instance_uid) for s in chosen for i in s.instances
    }


def test_revision_names_what_it_supersedes(ct, tmp_path):
    reason = SelectionReason(SelectionDecision.INCLUDE, "for annotation")
    first = build(selection(ct), ct[0], reason)
    second = build(
        selection(ct[:2]),
        ct[0],
        reason,
        instance_number=2,
        sop_instance_uid=derive_uid("P-1/kos/2"),
        supersedes=Superseded(
            first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPClassUID, first.SOPInstanceUID
        ),
    )
    ds = save_and_read(second, tmp_path / "kos2.dcm")
    assert dciodvfy(tmp_path / "kos2.dcm") == []
    back = read_back(ds)
    assert back.supersedes == first.SOPInstanceUID and back.instance_number == 2
    assert len(back.selected) == 2


def test_non_image_instances_are_composite_items(ct, tmp_path):
    sr_instance = InstanceRef("1.2.840.10008.5.1.4.1.1.88.34", derive_uid("some-sr"))
    chosen = [SelectedSeries(derive_uid("sr-series"), (sr_instance,)), *selection(ct[:1])]
    reason = SelectionReason(SelectionDecision.INCLUDE, "for annotation")
    ds = save_and_read(build(chosen, ct[0], reason), tmp_path / "kos.dcm")
    assert dciodvfy(tmp_path / "kos.dcm") == []
    assert [item.ValueType for item in ds.ContentSequence][-2:] == ["COMPOSITE", "IMAGE"]
    assert read_back(ds).selected == (sr_instance, chosen[1].instances[0])


def test_a_rejection_note_of_selections_lists_them_under_its_own_description(ct, tmp_path):
    reason = SelectionReason(SelectionDecision.INCLUDE, "for annotation")
    first = build(selection(ct), ct[0], reason)
    rejected = Superseded(
        first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPClassUID, first.SOPInstanceUID
    )
    common: dict[str, Any] = {
        "study": SourceImage(ct[0]),
        "explanation": "Superseded: the lead withdrew a series this selection lists",
        "provenance": src.provenance(),
        "sop_instance_uid": derive_uid("P-1/kos/retired/1"),
        "series_instance_uid": derive_uid("P-1/kos/retired"),
    }
    note = build_rejection_note(
        [rejected], series_description="Rhino withdrawn selection P-1", **common
    )
    ds = save_and_read(note, tmp_path / "note.dcm")
    assert dciodvfy(tmp_path / "note.dcm") == []
    assert ds.SeriesDescription == "Rhino withdrawn selection P-1"
    assert ds.ConceptNameCodeSequence[0].CodeValue == "113001"
    assert [i.sop_instance_uid for i in read_back(ds).selected] == [first.SOPInstanceUID]
    # without one, the description is the deleted labels' (the builder's first use)
    default = build_rejection_note([rejected], **common)
    assert default.SeriesDescription.startswith("Rhino withdrawn labels ")
