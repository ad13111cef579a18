"""Withdrawing (or re-deciding) a lead's selection at the site, over the real control link, the real
gateway service and a folder PACS: the KOS that listed the series are rejected by an IHE IOCM
rejection note, the other series they listed are re-issued, and what stays valid in the PACS is
exactly the current selection. Every object passes dciodvfy; a repeated withdrawal adds nothing;
bad requests are coded refusals that write nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from site_gateway.protocol import SiteAct
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.gateway_env import GatewayEnv, gateway_env
from tests.site_gateway.labels.helpers import dciodvfy_errors
from tests.site_gateway.test_site_requests import ask

pytestmark = pytest.mark.asyncio

REJECTED = "113001"  # Rejected for Quality Reasons: an IOCM rejection note
INCLUDE = {
    "decision": "include",
    "reason": {
        "text": "Of Interest",
        "code": {"value": "113000", "scheme": "DCM", "meaning": "Of Interest"},
    },
}
EXCLUDE = {
    "decision": "exclude",
    "reason": {
        "text": "Motion blur",
        "code": {"value": "111210", "scheme": "DCM", "meaning": "Motion blur"},
    },
}


def pacs_with_two_series(tmp_path: Path, demo: DemoData) -> Path:
    """The demo folder PACS plus a second series in the CT study (three of its slices, new UIDs)."""
    folder = tmp_path / "pacs"
    shutil.copytree(demo.site.folder, folder)
    series_uid = generate_uid()
    slices = sorted((folder / "ct").glob("*.dcm"))[:3]
    for number, path in enumerate(slices, start=1):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = number
        ds.save_as(folder / "ct" / f"second-{number}.dcm", enforce_file_format=True)
    return folder


async def ct_series(env: GatewayEnv) -> list[str]:
    """The handles of the CT study's two series."""
    listing = await ask(env, {"type": "browse.query", "query": {}})
    (study,) = [st for st in listing["studies"] if len(st["series"]) == 2]
    return [s["series"] for s in study["series"]]


def new_files(folder: Path, seen: set[Path]) -> list[Dataset]:
    """The objects stored since ``seen`` (updated), each checked with dciodvfy."""
    found: list[Dataset] = []
    for path in sorted((folder / "stored").rglob("*")):
        if path.is_file() and path not in seen:
            seen.add(path)
            errors, _ = dciodvfy_errors(path)
            assert not errors, (path.name, errors)
            found.append(pydicom.dcmread(path))
    return found


def title(ds: Dataset) -> str:
    return str(ds.ConceptNameCodeSequence[0].CodeValue)


def listed(ds: Dataset) -> dict[str, set[str]]:
    """series UID → the SOP Instance UIDs a KOS lists (its evidence)."""
    out: dict[str, set[str]] = {}
    for study in ds.CurrentRequestedProcedureEvidenceSequence:
        for series in study.ReferencedSeriesSequence:
            out.setdefault(series.SeriesInstanceUID, set()).update(
                item.ReferencedSOPInstanceUID for item in series.ReferencedSOPSequence
            )
    return out


def valid_selection(objects: Sequence[Dataset]) -> dict[str, str]:
    """series UID → title of every KOS no rejection note lists: what the PACS still says."""
    rejected = {
        uid
        for ds in objects
        if title(ds) == REJECTED
        for uids in listed(ds).values()
        for uid in uids
    }
    valid: dict[str, str] = {}
    for ds in objects:
        if title(ds) != REJECTED and ds.SOPInstanceUID not in rejected:
            for series in listed(ds):
                assert series not in valid, "a series listed by two valid KOS"
                valid[series] = title(ds)
    return valid


def series_uids(env: GatewayEnv, handles: list[str]) -> list[str]:
    return [env.gateway.handles.resolve(h).uid for h in handles]


async def test_withdrawing_a_series_rejects_its_kos_and_reissues_the_rest(
    tmp_path: Path, demo: DemoData
) -> None:
    folder = pacs_with_two_series(tmp_path, demo)
    async with gateway_env(tmp_path / "gw", f"folder:{folder}") as env:
        seen = {p for p in (folder / "stored").rglob("*") if p.is_file()}
        first, second = await ct_series(env)
        uid_first, uid_second = series_uids(env, [first, second])
        written = await ask(env, {"type": "selection.write", "series": [first, second], **INCLUDE})
        assert written["state"] == "stored_in_pacs", written
        (kos,) = new_files(folder, seen)
        assert set(listed(kos)) == {uid_first, uid_second}

        reply = await ask(env, {"type": "selection.withdraw", "series": [second]})
        assert reply["type"] == "selection.withdrawn", reply
        assert (reply["state"], reply["series"]) == ("stored_in_pacs", [second])
        stored = new_files(folder, seen)
        (note,) = [ds for ds in stored if title(ds) == REJECTED]
        (reissued,) = [ds for ds in stored if title(ds) != REJECTED]
        assert listed(note) == {kos.SeriesInstanceUID: {kos.SOPInstanceUID}}
        assert set(listed(reissued)) == {uid_first}
        assert listed(reissued)[uid_first] == listed(kos)[uid_first]
        assert title(reissued) == "113000" and reissued.SOPInstanceUID != kos.SOPInstanceUID
        assert valid_selection([kos, *stored]) == {uid_first: "113000"}

        # again: nothing new is queued or stored, and the answer says where it stands
        rows = env.gateway.labels.store.db.execute("SELECT count(*) FROM outbox").fetchone()
        again = await ask(env, {"type": "selection.withdraw", "series": [second]})
        assert (again["type"], again["state"]) == ("selection.withdrawn", "stored_in_pacs")
        assert env.gateway.labels.store.db.execute("SELECT count(*) FROM outbox").fetchone() == rows
        assert new_files(folder, seen) == []

        # the last series: its re-issued KOS is rejected, and nothing stays selected
        last = await ask(env, {"type": "selection.withdraw", "series": [first]})
        assert last["state"] == "stored_in_pacs", last
        (final,) = new_files(folder, seen)
        assert title(final) == REJECTED
        assert listed(final) == {reissued.SeriesInstanceUID: {reissued.SOPInstanceUID}}
        assert valid_selection([kos, *stored, final]) == {}

        # selected again: a fresh KOS, valid beside the rejected ones
        back = await ask(env, {"type": "selection.write", "series": [second], **EXCLUDE})
        assert back["state"] == "stored_in_pacs", back
        (fresh,) = new_files(folder, seen)
        assert title(fresh) == "113010" and set(listed(fresh)) == {uid_second}
        assert valid_selection([kos, *stored, final, fresh]) == {uid_second: "113010"}


async def test_a_new_decision_retires_the_include_kos_and_keeps_the_other_series(
    tmp_path: Path, demo: DemoData
) -> None:
    folder = pacs_with_two_series(tmp_path, demo)
    async with gateway_env(tmp_path / "gw", f"folder:{folder}") as env:
        seen = {p for p in (folder / "stored").rglob("*") if p.is_file()}
        first, second = await ct_series(env)
        uid_first, uid_second = series_uids(env, [first, second])
        await ask(env, {"type": "selection.write", "series": [first, second], **INCLUDE})
        (kos,) = new_files(folder, seen)
        # the same decision again (central re-sending a write whose answer it missed) is in
        # effect already: no second KOS, and the answer is that KOS's state
        rows = env.gateway.labels.store.db.execute("SELECT count(*) FROM outbox").fetchone()
        same = await ask(env, {"type": "selection.write", "series": [first], **INCLUDE})
        assert same["state"] == "stored_in_pacs", same
        assert new_files(folder, seen) == []
        assert env.gateway.labels.store.db.execute("SELECT count(*) FROM outbox").fetchone() == rows

        redecided = await ask(env, {"type": "selection.write", "series": [first], **EXCLUDE})
        assert redecided["state"] == "stored_in_pacs", redecided
        stored = new_files(folder, seen)
        notes = [ds for ds in stored if title(ds) == REJECTED]
        # the include KOS listing the series, in one note (one stream, one study)
        assert [listed(n) for n in notes] == [{kos.SeriesInstanceUID: {kos.SOPInstanceUID}}]
        by_title = {title(ds): ds for ds in stored if title(ds) != REJECTED}
        assert set(by_title) == {"113000", "113010"}  # re-issued include, new Quality Issue
        assert set(listed(by_title["113000"])) == {uid_second}
        assert set(listed(by_title["113010"])) == {uid_first}
        objects = [
            pydicom.dcmread(p)
            for p in (folder / "stored").rglob("*")
            if p.is_file() and pydicom.dcmread(p, stop_before_pixels=True).Modality == "KO"
        ]
        assert valid_selection(objects) == {uid_first: "113010", uid_second: "113000"}


async def test_a_repeated_write_adds_no_kos_even_after_other_series_of_the_stream(
    tmp_path: Path, demo: DemoData
) -> None:
    """Central re-sends a pending selection when the site's link comes up; the site may have
    written it already (its answer lost with the link), and another series of the same study and
    reason may have been selected since, so the stream's newest KOS is not this one."""
    folder = pacs_with_two_series(tmp_path, demo)
    async with gateway_env(tmp_path / "gw", f"folder:{folder}") as env:
        seen = {p for p in (folder / "stored").rglob("*") if p.is_file()}
        first, second = await ct_series(env)
        uid_first, uid_second = series_uids(env, [first, second])
        await ask(env, {"type": "selection.write", "series": [first], **INCLUDE})
        await ask(env, {"type": "selection.write", "series": [second], **INCLUDE})
        kos = new_files(folder, seen)
        assert len(kos) == 2
        for _ in range(2):
            retry = await ask(env, {"type": "selection.write", "series": [first], **INCLUDE})
            assert (retry["type"], retry["state"]) == ("selection.written", "stored_in_pacs")
            assert new_files(folder, seen) == []
        assert valid_selection(kos) == {uid_first: "113000", uid_second: "113000"}
        # a retry of a decision that changed since is not "in effect": it re-decides
        redecided = await ask(env, {"type": "selection.write", "series": [first], **EXCLUDE})
        assert redecided["state"] == "stored_in_pacs", redecided
        stored = new_files(folder, seen)
        assert valid_selection([*kos, *stored]) == {uid_first: "113010", uid_second: "113000"}


async def test_a_bad_withdrawal_is_a_coded_failure_that_writes_nothing(
    tmp_path: Path, demo: DemoData
) -> None:
    folder = pacs_with_two_series(tmp_path, demo)
    async with gateway_env(tmp_path / "gw", f"folder:{folder}") as env:
        first, second = await ct_series(env)
        await ask(env, {"type": "selection.write", "series": [first], **INCLUDE})
        listing = await ask(env, {"type": "browse.query", "query": {}})
        store = env.gateway.labels.store

        def counts() -> list[Any]:
            return [
                store.db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                for table in ("revisions", "outbox", "revision_objects")
            ]

        before = counts()
        cases: list[tuple[Any, str]] = [
            (None, "bad_message"),
            ([], "bad_message"),
            (first, "bad_message"),  # a handle, not a list of them
            (["not-a-handle"], "bad_message"),
            ([listing["studies"][0]["study"]], "bad_message"),  # a study handle
            ([first, first], "label_invalid"),
            ([second], "not_found"),  # a series of this site no selection of the project listed
            ([first, second], "not_found"),  # all or nothing
        ]
        for series, code in cases:
            message: dict[str, Any] = {"type": "selection.withdraw"}
            if series is not None:
                message["series"] = series
            reply = await ask(env, message)
            assert reply["type"] == "selection.withdrawn", (series, reply)
            assert (reply["state"], reply["code"]) == ("failed", code), (series, reply)
        # a grant without the select act is refused before anything
        refused = await ask(
            env, {"type": "selection.withdraw", "series": [first]}, acts=frozenset({SiteAct.BROWSE})
        )
        assert (refused["type"], refused["code"]) == ("error", "not_allowed")
        assert counts() == before
