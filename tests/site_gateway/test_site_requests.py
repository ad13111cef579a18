"""Site requests over the real control link: the real gateway service, a real ``websockets`` server
playing central, the demo folder PACS. Browse answers with handles and cleaned descriptors only;
a thumbnail is a real JPEG of the middle slice; the grant is checked before anything happens; a
selection lands in the PACS as a KOS that passes dciodvfy and lists exactly the selected series.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pydicom
import pytest
from PIL import Image

from site_gateway.grants import SiteRequestGrant, new_nonce, sign_site_request
from site_gateway.handle_map import HandleMap
from site_gateway.pacs import open_pacs
from site_gateway.protocol import SiteAct
from site_gateway.site_audit import verify
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.fake_central import PROJECT, SITE
from tests.site_gateway.gateway_env import GatewayEnv, gateway_env
from tests.site_gateway.labels.helpers import dciodvfy_errors

pytestmark = pytest.mark.asyncio


def site_grant(env: GatewayEnv, request: str, **overrides: Any) -> str:
    now = int(time.time())
    fields: dict[str, Any] = {
        "user": "u_lead01", "role": "lead", "project": PROJECT, "site": SITE,
        "acts": frozenset({SiteAct.BROWSE, SiteAct.SELECT}), "request": request,
        "issued_at": now, "expires_at": now + 60, "nonce": new_nonce(),
    }  # fmt: skip
    key = overrides.pop("key", env.central.key)
    fields.update(overrides)
    return sign_site_request(SiteRequestGrant(**fields), key)


async def ask(env: GatewayEnv, message: dict[str, Any], **grant: Any) -> dict[str, Any]:
    request = message.setdefault("request", uuid.uuid4().hex)
    message.setdefault("grant", site_grant(env, request, **grant))
    await asyncio.wait_for(env.central.control_ready.wait(), 20)
    assert env.central.control is not None
    await env.central.control.send(json.dumps(message))
    while True:
        reply = await env.central.control_reply(timeout=30)
        if reply.get("request") == request:
            return reply


def phi_of(demo: DemoData) -> list[str]:
    """Every identifying string and original UID in the source files."""
    values: set[str] = set()
    for path in demo.files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in (
            "PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID",
            "SeriesInstanceUID", "SOPInstanceUID", "StudyDate", "PatientBirthDate",
        ):  # fmt: skip
            value = str(ds.get(keyword, "") or "")
            if len(value) >= 4:
                values.add(value)
    return sorted(values)


async def test_browse_answers_with_handles_and_clean_descriptors_only(
    tmp_path: Path, demo: DemoData
) -> None:
    async with gateway_env(tmp_path, f"folder:{demo.site.folder}") as env:
        reply = await ask(env, {"type": "browse.query", "query": {}})
        assert reply["type"] == "browse.result", reply
        text = json.dumps(reply)
        for value in phi_of(demo):
            assert value not in text, f"{value!r} left the site"
        studies = reply["studies"]
        # the phantom CT study with its 12 slices is there, keyed by handles the map resolves
        series = [s for study in studies for s in study["series"]]
        ct = [s for s in series if s["images"] == 12]
        assert len(ct) == 1 and ct[0]["modality"] == "CT"
        entry = env.gateway.handles.resolve(ct[0]["series"])
        assert entry.uid == demo.site.series_uid
        for study in studies:
            assert study["study"].startswith("st_")
            assert study["year"] is None or (len(study["year"]) == 4 and study["year"].isdigit())
        # filters: modality, image count and text (over cleaned descriptions)
        only_mr = await ask(env, {"type": "browse.query", "query": {"modality": "mr"}})
        mr = [s for study in only_mr["studies"] for s in study["series"]]
        assert mr and {s["modality"] for s in mr} == {"MR"}
        big = await ask(env, {"type": "browse.query", "query": {"min_images": 10}})
        assert [s["series"] for st in big["studies"] for s in st["series"]] == [ct[0]["series"]]
        limited = await ask(env, {"type": "browse.query", "query": {"limit": 1}})
        assert len(limited["studies"]) == 1 and limited["truncated"] is True
        # the patient's name is not searchable, though it is in the source descriptors' files
        name = demo.site.patient_name.split("^")[0]
        by_name = await ask(env, {"type": "browse.query", "query": {"text": name}})
        assert by_name["studies"] == []
        # bad input: a coded error with the request id, nothing done
        bad = await ask(env, {"type": "browse.query", "query": {"limit": 10_000}})
        assert (bad["type"], bad["code"]) == ("error", "bad_message")
        await env.gateway.audit.aclose()
    result = verify(env.config.audit_path, env.gateway.keys.audit_key)
    assert result.ok


async def test_thumbnail_is_the_middle_slice_as_a_small_jpeg(
    tmp_path: Path, demo: DemoData
) -> None:
    async with gateway_env(tmp_path, f"folder:{demo.site.folder}") as env:
        handle = env.series_handle(demo.site.study_uid, demo.site.series_uid)
        reply = await ask(env, {"type": "browse.thumbnail", "series": handle})
        assert reply["type"] == "thumbnail.result", reply
        data = base64.b64decode(reply["image"])
        assert data[:3] == b"\xff\xd8\xff"
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and max(image.size) <= 128
        assert reply["images"] == 12 and reply["slice_thickness"] is not None
        unknown = await ask(env, {"type": "browse.thumbnail", "series": "se_" + "a" * 20})
        assert (unknown["type"], unknown["code"]) == ("error", "not_found")
        assert reply["index"] == 6  # the middle of 12
        # the lead's check of a series: any slice, larger (up to 512 px)
        first = await ask(env, {"type": "browse.thumbnail", "series": handle, "index": 0,
                                "size": 512})  # fmt: skip
        assert first["type"] == "thumbnail.result" and first["index"] == 0, first
        image = Image.open(io.BytesIO(base64.b64decode(first["image"])))
        assert max(image.size) == 256  # the demo's 256² slices, not enlarged beyond the source
        assert first["image"] != reply["image"]  # another slice
        for bad in ({"index": 12}, {"index": -1}, {"index": "0"}, {"size": 1024}, {"size": 8}):
            refused = await ask(env, {"type": "browse.thumbnail", "series": handle, **bad})
            assert (refused["type"], refused["code"]) == ("error", "bad_message"), (bad, refused)


async def test_the_grant_is_checked_before_anything_is_done(tmp_path: Path, demo: DemoData) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    async with gateway_env(tmp_path, f"folder:{demo.site.folder}") as env:
        query = {"type": "browse.query", "query": {}}
        cases: dict[str, dict[str, Any]] = {
            "grant_invalid": {"key": Ed25519PrivateKey.generate()},
            "grant_wrong_site": {"site": "another-site"},
            "grant_expired": {"issued_at": int(time.time()) - 120,
                              "expires_at": int(time.time()) - 60},
            "not_allowed": {"acts": frozenset({SiteAct.SELECT})},
            "policy_refused": {"project": "not-served"},
        }  # fmt: skip
        for code, overrides in cases.items():
            reply = await ask(env, dict(query), **overrides)
            assert (reply["type"], reply["code"]) == ("error", code), (code, reply)
        # bound to its request id: a grant lifted from another request is refused
        other = site_grant(env, uuid.uuid4().hex)
        reply = await ask(env, {**query, "grant": other})
        assert reply["code"] == "grant_invalid"
        # single use
        request = uuid.uuid4().hex
        grant = site_grant(env, request)
        first = await ask(env, {**query, "request": request, "grant": grant})
        again = await ask(env, {**query, "request": request, "grant": grant})
        assert first["type"] == "browse.result" and again["code"] == "grant_replayed"
        # a session grant never authorises a site request
        session_grant = env.central.grant("s1", [])
        reply = await ask(env, {**query, "grant": session_grant})
        assert reply["code"] == "grant_invalid"
        # nothing was registered for refused requests; each one is in the site audit
        await env.gateway.audit.aclose()
    import sqlite3

    db = sqlite3.connect(env.config.audit_path)
    rows = [json.loads(r[0]) for r in db.execute("SELECT entry FROM audit WHERE kind = ?",
                                                  ("site.request",))]  # fmt: skip
    db.close()
    refused = [r for r in rows if r["outcome"] == "refused"]
    assert sorted(r["code"] for r in refused) == sorted(
        [*cases, "grant_invalid", "grant_replayed", "grant_invalid"]
    )


async def test_selection_write_stores_a_valid_kos_listing_exactly_the_selected_series(
    tmp_path: Path, demo: DemoData
) -> None:
    import shutil

    folder = tmp_path / "pacs"
    shutil.copytree(demo.site.folder, folder)
    # The session's demo folder may already hold objects other tests stored (the PACS contract
    # tests store a secondary capture): only what this write adds is the KOS.
    stored_before = {p for p in (folder / "stored").rglob("*") if p.is_file()}
    async with gateway_env(tmp_path / "gw", f"folder:{folder}") as env:
        listing = await ask(env, {"type": "browse.query", "query": {}})
        chosen = [s["series"] for st in listing["studies"] for s in st["series"]][:2]
        reply = await ask(
            env,
            {
                "type": "selection.write", "series": chosen, "decision": "include",
                "reason": {"text": "Of Interest",
                           "code": {"value": "113000", "scheme": "DCM", "meaning": "Of Interest"}},
            },
        )  # fmt: skip
        assert reply["type"] == "selection.written", reply
        assert reply["state"] == "stored_in_pacs" and reply["series"] == chosen
        handles: HandleMap = env.gateway.handles
        wanted = {handles.resolve(h).uid for h in chosen}
    async with open_pacs(f"folder:{folder}") as pacs:
        expected: dict[str, set[str]] = {}
        for study in await pacs.find_studies():
            for series in await pacs.find_series(study.study_uid):
                if series.series_uid in wanted:
                    found = await pacs.find_instances(study.study_uid, series.series_uid)
                    expected[series.series_uid] = {i.sop_uid for i in found}
    kos_files = [
        p for p in (folder / "stored").rglob("*") if p.is_file() and p not in stored_before
    ]
    assert kos_files
    listed: dict[str, set[str]] = {}
    for path in kos_files:
        ds = pydicom.dcmread(path)
        assert ds.Modality == "KO"
        errors, _ = dciodvfy_errors(path)
        assert not errors, errors
        for study in ds.CurrentRequestedProcedureEvidenceSequence:
            for series in study.ReferencedSeriesSequence:
                listed.setdefault(series.SeriesInstanceUID, set()).update(
                    item.ReferencedSOPInstanceUID for item in series.ReferencedSOPSequence
                )
    assert listed == expected


async def test_labels_query_needs_its_own_act_and_answers_numbers_for_the_tasks_asked(
    tmp_path: Path, demo: DemoData
) -> None:
    """The per-label counts of the lead's board (the counts themselves, from readers' saves,
    are checked on the demo product in tests/browser/test_lead.py)."""
    async with gateway_env(tmp_path, f"folder:{demo.site.folder}") as env:
        query = {"type": "labels.query", "tasks": [3, 1, 2]}
        refused = await ask(env, dict(query))  # a browse/select grant does not count labels
        assert (refused["type"], refused["code"]) == ("error", "not_allowed")
        count = {"acts": frozenset({SiteAct.COUNT})}
        reply = await ask(env, dict(query), **count)
        assert reply["type"] == "labels.result", reply
        # nothing saved for these tasks here: zero of everything, in the order asked
        assert reply["tasks"] == [{"task": 3, "labels": {}}, {"task": 1, "labels": {}},
                                  {"task": 2, "labels": {}}]  # fmt: skip
        for bad in ([], [1, 1], ["1"], [True], [0], list(range(1, 502)), None):
            answer = await ask(env, {"type": "labels.query", "tasks": bad}, **count)
            assert (answer["type"], answer["code"]) == ("error", "bad_message"), (bad, answer)
