"""Save → store → SR/SEG in the folder PACS → dciodvfy clean → read back to the same labels."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from imaging.dicom_out import Ellipse, Length, Point, Rectangle, read_back
from site_gateway.grants import Grant
from site_gateway.labels.document import decode_mask
from site_gateway.labels.outbox import Outbox
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from site_gateway.protocol import LabelState, MessageType
from tests.site_gateway.labels.conftest import FAST, Reports
from tests.site_gateway.labels.helpers import SITE, dciodvfy_clean, document, every_kind, read


def _stored(folder: Path) -> list[Dataset]:
    return [read(p.read_bytes()) for p in sorted((folder / "stored").rglob("*.dcm"))]


def _by_class(objects: list[Dataset], sop_class: str) -> list[Dataset]:
    return sorted(
        (ds for ds in objects if ds.SOPClassUID == sop_class), key=lambda d: d.InstanceNumber
    )


SR, SEG = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.66.4"
KOS = "1.2.840.10008.5.1.4.1.1.88.59"


async def test_every_kind_of_label_becomes_valid_sr_and_seg_referencing_the_sources(
    service: LabelService, grant: Grant, handle: str, ct: list[Dataset], folder: Path,
    tmp_path: Path, reports: Reports,
) -> None:  # fmt: skip
    revision = await service.save(grant, document(every_kind(handle)))
    assert revision.revision == 1
    assert revision.state is LabelState.SAVED_AT_SITE
    await service.worker.run_until_idle()
    stored = _stored(folder)
    assert len(stored) == 2
    for n, ds in enumerate(stored):
        buffer = (folder / "x").with_suffix(".dcm")
        ds.save_as(buffer, enforce_file_format=True)
        assert dciodvfy_clean(buffer.read_bytes(), tmp_path, f"object{n}") == []
    sr = _by_class(stored, SR)[0]
    seg = _by_class(stored, SEG)[0]
    # highdicom reads both, and the content is what was drawn, on the right source images.
    hd.sr.Comprehensive3DSR.from_dataset(sr)
    hd.seg.Segmentation.from_dataset(seg)
    content = read_back(sr)
    by_uid = {a.uid: a for a in content.annotations}
    assert set(by_uid) == {"r1", "e1", "p1", "f1", "pt1", "l1", "a1", "c1", "c2", "c3"}
    rect = by_uid["r1"]
    assert isinstance(rect, Rectangle)
    assert (rect.x0, rect.y0, rect.x1, rect.y1) == (4.5, 5.25, 20.0, 30.125)
    assert rect.image.sop_instance_uid == ct[0].SOPInstanceUID
    assert by_uid["r1"].label.value == "27925004"
    ellipse = by_uid["e1"]
    assert isinstance(ellipse, Ellipse)
    assert (ellipse.cx, ellipse.cy, ellipse.rx, ellipse.ry) == (20.0, 15.0, 10.0, 5.0)
    assert ellipse.image.sop_instance_uid == ct[1].SOPInstanceUID
    point, length = by_uid["pt1"], by_uid["l1"]
    assert isinstance(point, Point)
    assert (point.x, point.y) == (32.0, 24.0)
    assert isinstance(length, Length)
    assert (length.start, length.end) == ((2.0, 3.0), (40.0, 30.0))
    assert content.session == "task=12;project=lungs;schema=3"
    assert str(sr.StudyInstanceUID) == str(ct[0].StudyInstanceUID)
    masks = read_back(seg).masks
    assert [m.label.key for m in masks] == ["tumour"]
    plane = masks[0].planes[0]
    assert plane.image.sop_instance_uid == ct[1].SOPInstanceUID
    expected = decode_mask(every_kind(handle)[-1]["mask"])
    assert np.array_equal(plane.pixels, expected)
    # Central heard the state and the hash, and never the content.
    await service.report_pending()
    assert reports.messages[-1] == {
        "type": MessageType.TASK_LABELS, "task": 12, "revision": 1,
        "state": "stored_in_pacs", "count": 11, "content_hash": revision.content_hash,
    }  # fmt: skip
    assert "nodule" not in repr(reports.messages)


async def test_an_edit_is_a_new_instance_that_supersedes_and_unchanged_streams_are_not_rewritten(
    service: LabelService, grant: Grant, handle: str, folder: Path, tmp_path: Path
) -> None:
    annotations = every_kind(handle)
    first = await service.save(grant, document(annotations))
    await service.worker.run_until_idle()
    annotations[0]["geometry"]["points"][1] = [22.0, 31.0]  # move a rectangle corner
    second = await service.save(grant, document(annotations, base=first.revision))
    await service.worker.run_until_idle()
    stored = _stored(folder)
    srs, segs = _by_class(stored, SR), _by_class(stored, SEG)
    assert [int(d.InstanceNumber) for d in srs] == [1, 2]
    assert len(segs) == 1  # the mask did not change: no second SEG
    assert srs[0].SeriesInstanceUID == srs[1].SeriesInstanceUID
    assert read_back(srs[1]).supersedes == srs[0].SOPInstanceUID
    srs[1].save_as(tmp_path / "sr2.dcm", enforce_file_format=True)
    dciodvfy_clean((tmp_path / "sr2.dcm").read_bytes(), tmp_path, "sr2")
    latest = service.store.revision("task/12", second.revision)
    assert latest.state is LabelState.STORED_IN_PACS


async def test_deleting_every_mask_rejects_the_seg_and_read_back_does_not_resurrect_it(
    service: LabelService, grant: Grant, handle: str, folder: Path, tmp_path: Path,
    lookup: Any,
) -> None:  # fmt: skip
    annotations = every_kind(handle)
    first = await service.save(grant, document(annotations))
    await service.worker.run_until_idle()
    (seg,) = _by_class(_stored(folder), SEG)
    # The reader deletes the only mask and keeps the rest: the SR stream is unchanged, and the
    # SEG stream gets an IOCM rejection note listing the SEG, in a series of its own.
    second = await service.save(grant, document(annotations[:-1], base=first.revision))
    assert second.state is LabelState.SAVED_AT_SITE
    await service.worker.run_until_idle()
    assert service.store.revision("task/12", 2).state is LabelState.STORED_IN_PACS
    stored = _stored(folder)
    assert len(_by_class(stored, SR)) == 1 and len(_by_class(stored, SEG)) == 1
    (note,) = _by_class(stored, KOS)
    assert note.ConceptNameCodeSequence[0].CodeValue == "113001"  # Rejected for Quality Reasons
    listed = [
        item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        for item in note.ContentSequence
        if item.ValueType in ("IMAGE", "COMPOSITE")
    ]
    assert listed == [seg.SOPInstanceUID]
    assert note.SeriesInstanceUID not in (seg.SeriesInstanceUID,)
    assert note.StudyInstanceUID == seg.StudyInstanceUID and note.PatientID == seg.PatientID
    note.save_as(tmp_path / "note.dcm", enforce_file_format=True)
    assert dciodvfy_clean((tmp_path / "note.dcm").read_bytes(), tmp_path, "note") == []
    # Saving again without the mask rejects nothing twice.
    third = await service.save(grant, document(annotations[:-1], base=second.revision))
    assert third.state is LabelState.STORED_IN_PACS
    # A gateway with an empty store reads back the labels without the deleted mask.
    pacs = open_pacs(f"folder:{folder}")
    fresh = LabelService(LabelStore(tmp_path / "fresh.sqlite", site=SITE), pacs, lookup)
    try:
        found = await fresh.load(grant)
        assert found is not None
        from_pacs, revision = found
        assert revision == 2
        assert sorted(a["uid"] for a in from_pacs["annotations"]) == sorted(
            a["uid"] for a in annotations[:-1]
        )
    finally:
        await fresh.aclose()
        await pacs.aclose()
    # Drawing the same mask again is a new SEG (the rejected one cannot be reused).
    await service.save(grant, document(annotations, base=third.revision))
    await service.worker.run_until_idle()
    segs = _by_class(_stored(folder), SEG)
    assert [int(d.InstanceNumber) for d in segs] == [1, 4]


async def test_load_returns_the_latest_document_from_the_store_and_from_the_pacs(
    service: LabelService, grant: Grant, handle: str, folder: Path, tmp_path: Path,
    lookup: Any,
) -> None:  # fmt: skip
    annotations = every_kind(handle)
    await service.save(grant, document(annotations))
    await service.worker.run_until_idle()
    found = await service.load(grant)
    assert found is not None
    from_store, revision = found
    assert revision == 1
    sent = sorted(annotations, key=lambda a: a["uid"])
    assert from_store["annotations"] == sent
    # A gateway with an empty store reads the same labels back from the PACS objects.
    pacs = open_pacs(f"folder:{folder}")
    fresh = LabelService(LabelStore(tmp_path / "fresh.sqlite", site=SITE), pacs, lookup)
    try:
        again = await fresh.load(grant)
        assert again is not None
        from_pacs, pacs_revision = again
        assert pacs_revision == 1
        got = {a["uid"]: a for a in from_pacs["annotations"]}
        for a in sent:
            if a["tool"] == "brush":
                (mask,) = [g for g in got.values() if g["tool"] == "brush"]
                assert mask["mask"] == a["mask"] and mask["frame"] == a["frame"]
                continue
            expected = {k: v for k, v in a.items() if k != "measurement"}
            if a.get("level") == "series":
                # A series classification references the series' images, not the slice shown.
                assert got[a["uid"]]["frame"]["series"] == a["frame"]["series"]
                expected["frame"] = got[a["uid"]]["frame"]
            assert got[a["uid"]] == expected
        # Saving on top of what the PACS held continues its revisions.
        saved = await fresh.save(grant, document(annotations, base=pacs_revision))
        assert saved.revision == 2
    finally:
        await fresh.aclose()
        await pacs.aclose()


async def test_the_worker_reports_states_to_sessions_that_asked(
    service: LabelService, grant: Grant, handle: str
) -> None:
    seen: list[tuple[str, int, LabelState]] = []

    async def listener(subject: str, revision: int, state: LabelState, reason: str | None) -> None:
        seen.append((subject, revision, state))

    service.worker.on_state = listener
    await service.save(grant, document(every_kind(handle)[:3]))
    await asyncio.wait_for(service.worker.run_until_idle(), 30)
    assert seen == [("task/12", 1, LabelState.STORED_IN_PACS)]
    outbox = Outbox(service.store.db, service.store.lock)
    assert outbox.summary(0)["stored"] == 1
    assert outbox.dead_letters() == []


def test_fast_policy_is_fast() -> None:
    assert FAST.cap < 1


async def test_reports_wait_for_the_link_and_are_repeated_after_a_reconnect(
    service: LabelService, grant: Grant, handle: str, reports: Reports
) -> None:
    generation = [1]
    service._link_generation = lambda: generation[0]
    reports.up = False
    saved = await service.save(grant, document(every_kind(handle)[:2]))
    assert await service.report_pending() == 0
    reports.up = True
    assert await service.report_pending() == 1
    assert reports.messages[-1]["state"] == "saved_at_site"
    assert await service.report_pending() == 0  # nothing new
    await service.worker.run_until_idle()
    assert await service.report_pending() == 1
    assert reports.messages[-1]["state"] == "stored_in_pacs"
    generation[0] += 1  # the control link reconnected
    assert await service.report_pending() == 1
    assert reports.messages[-1] == {
        "type": "task.labels", "task": 12, "revision": saved.revision,
        "state": "stored_in_pacs", "count": 2, "content_hash": saved.content_hash,
    }  # fmt: skip


async def test_an_object_that_cannot_be_built_is_a_dead_letter_with_its_reason(
    service: LabelService, grant: Grant, handle: str
) -> None:
    saved = await service.save(grant, document(every_kind(handle)[:2]))
    with service.store.lock:
        service.store.db.execute("DELETE FROM sources")  # the headers it needs are gone
    await service.worker.run_until_idle()
    (dead,) = Outbox(service.store.db, service.store.lock).dead_letters()
    assert dead["reason"].startswith("build_failed:KeyError")
    revision = service.store.revision("task/12", saved.revision)
    assert revision.state is LabelState.FAILED
    assert revision.reason == dead["reason"]


async def test_labels_on_a_multiframe_source_reference_its_frames(
    tmp_path: Path, folder: Path, reports: Reports
) -> None:
    from tests.imaging.dicom_out.sources import enhanced_ct
    from tests.site_gateway.labels.helpers import StaticLookup, make_grant, series_handle

    enhanced = enhanced_ct(3)
    handle = series_handle([enhanced])
    grant = make_grant([handle])
    pacs = open_pacs(f"folder:{folder}")
    labels = LabelService(
        LabelStore(tmp_path / "mf.sqlite", site=SITE), pacs, StaticLookup([enhanced]), policy=FAST,
        run_worker=False,
    )  # fmt: skip
    try:
        annotations = [a for a in every_kind(handle) if a["uid"] in ("r1", "e1", "b1")]
        annotations[1]["frame"] = {**annotations[1]["frame"], "index": 2}
        await labels.save(grant, document(annotations))
        await labels.worker.run_until_idle()
        stored = _stored(folder)
        for n, ds in enumerate(stored):
            ds.save_as(tmp_path / f"mf{n}.dcm", enforce_file_format=True)
            dciodvfy_clean((tmp_path / f"mf{n}.dcm").read_bytes(), tmp_path, f"mf{n}")
        content = read_back(_by_class(stored, SR)[0])
        frames = {a.uid: a.image.frame_number for a in content.annotations if a.image}
        assert frames == {"r1": 1, "e1": 3}
        (mask,) = read_back(_by_class(stored, SEG)[0]).masks
        assert [p.image.frame_number for p in mask.planes] == [2]
    finally:
        await labels.aclose()
        await pacs.aclose()


async def test_an_excluding_selection_is_a_quality_issue_kos_and_a_bad_reason_is_refused(
    service: LabelService, handle: str, ct: list[Dataset], folder: Path
) -> None:
    import pytest

    from site_gateway.labels.document import LabelInvalidError

    with pytest.raises(LabelInvalidError) as caught:
        await service.select_series(
            project="lungs", lead="u_lead01", series=[handle], decision="maybe", text="?"
        )
    assert caught.value.detail == "bad_reason"
    await service.select_series(
        project="lungs", lead="u_lead01", series=[handle], decision="exclude", text="motion"
    )
    await service.worker.run_until_idle()
    (kos,) = _stored(folder)
    content = read_back(kos)
    assert content.document_title is not None
    assert content.document_title[0] == "113010"  # Quality Issue, not a rejection note
    assert [i.sop_instance_uid for i in content.selected] == [str(d.SOPInstanceUID) for d in ct]
