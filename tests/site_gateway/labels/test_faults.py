"""Fault tests against a real Orthanc: the PACS down during 200 saves; ``kill -9`` mid-delivery.

Either way every saved revision ends up in the PACS exactly once: the SOP Instance UIDs in Orthanc
are exactly the outbox's, one instance per revision.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pydicom.dataset import Dataset

from site_gateway.grants import Grant
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import Pacs, open_pacs
from site_gateway.protocol import LabelState
from tests.parts import require_binary
from tests.site_gateway.conftest import MOVE_AET, SCU_AET
from tests.site_gateway.labels.conftest import FAST
from tests.site_gateway.labels.helpers import (
    SITE,
    StaticLookup,
    dciodvfy_every_object,
    point_document,
)
from tests.site_gateway.orthanc import OrthancServer, free_port, start_orthanc

pytestmark = pytest.mark.orthanc
REPO = Path(__file__).resolve().parents[3]


def _restart(server: OrthancServer, binary: str, timeout: float = 30.0) -> None:
    """Start the stopped Orthanc again with the same configuration, ports and storage."""
    with open(server.workdir / "orthanc.log", "ab") as log:
        server.process = subprocess.Popen(
            [binary, str(server.workdir / "config.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=server.workdir,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{server.http_url}/system", timeout=1).ok:
                with socket.create_connection(("127.0.0.1", server.dicom_port), timeout=1):
                    return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError("Orthanc did not come back")


@pytest.fixture
def own_orthanc(tmp_path: Path) -> Iterator[tuple[OrthancServer, str]]:
    """An Orthanc of this test alone: it gets stopped and started."""
    binary = require_binary("Orthanc", "orthanc")
    port = free_port()
    server = start_orthanc(
        binary,
        tmp_path / "orthanc",
        modalities={"rhino": (SCU_AET, port), "rhinomove": (MOVE_AET, port)},
    )
    try:
        yield server, binary
    finally:
        server.stop()


async def _instances_in_pacs(pacs: Pacs, store_path: Path) -> tuple[list[str], list[str]]:
    """(SOP UIDs the outbox expects, SOP UIDs the PACS holds in those series)."""
    db = sqlite3.connect(store_path)
    try:
        rows = db.execute("SELECT sop_uid, study_uid, series_uid FROM outbox").fetchall()
    finally:
        db.close()
    held: list[str] = []
    for study_uid, series_uid in sorted({(r[1], r[2]) for r in rows}):
        held += [r.sop_uid for r in await pacs.find_instances(study_uid, series_uid)]
    return sorted(r[0] for r in rows), sorted(held)


async def test_200_labels_saved_while_the_pacs_is_down_are_all_stored_once_it_is_back(
    own_orthanc: tuple[OrthancServer, str], tmp_path: Path, grant: Grant, handle: str,
    lookup: StaticLookup,
) -> None:  # fmt: skip
    server, binary = own_orthanc
    server.stop()
    pacs = open_pacs(server.dimse_url(SCU_AET, timeout=10, connect_timeout=2))
    store_path = tmp_path / "labels.sqlite"
    service = LabelService(LabelStore(store_path, site=SITE), pacs, lookup, policy=FAST)
    await service.start()
    try:
        base = None
        for n in range(200):
            revision = await service.save(grant, point_document(handle, n, base))
            base = revision.revision
        assert base == 200
        await asyncio.sleep(0.5)  # the worker builds and fails against the stopped PACS
        summary = service.status()
        assert summary["pending"] == 200
        assert summary["stored"] == summary["dead"] == 0
        drained = asyncio.Event()
        report = service.worker.on_state

        async def watch(subject: str, revision: int, state: LabelState, reason: str | None) -> None:
            if report is not None:
                await report(subject, revision, state, reason)
            if service.status()["pending"] == 0:
                drained.set()

        service.worker.on_state = watch
        _restart(server, binary)
        await asyncio.wait_for(drained.wait(), 120)
        assert service.status() | {"oldest_pending_seconds": None} == {
            "pending": 0, "stored": 200, "dead": 0, "oldest_pending_seconds": None,
        }  # fmt: skip
        latest = service.store.latest("task/12")
        assert latest is not None
        assert latest.state is LabelState.STORED_IN_PACS
        expected, held = await _instances_in_pacs(pacs, store_path)
        assert len(expected) == 200
        assert held == expected  # all 200, none twice
        assert dciodvfy_every_object(store_path, tmp_path) == 200
    finally:
        await service.aclose()
        await pacs.aclose()


def _stored_count(store_path: Path) -> int:
    db = sqlite3.connect(store_path, timeout=30)
    try:
        return int(db.execute("SELECT count(*) FROM outbox WHERE state = 'stored'").fetchone()[0])
    finally:
        db.close()


def _worker(store_path: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.site_gateway.labels.worker_main", str(store_path), url, SITE],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


@pytest.mark.parametrize("adapter", ["dimse", "folder"])
async def test_kill_9_of_the_worker_mid_delivery_loses_nothing_and_duplicates_nothing(
    adapter: str, request: pytest.FixtureRequest, tmp_path: Path, grant: Grant, handle: str,
    lookup: StaticLookup, ct: list[Dataset],
) -> None:  # fmt: skip
    if adapter == "dimse":
        url = request.getfixturevalue("orthanc").dimse_url(SCU_AET, timeout=10)
    else:
        (tmp_path / "pacs").mkdir()
        url = f"folder:{tmp_path / 'pacs'}"
    store_path = tmp_path / "labels.sqlite"
    pacs = open_pacs(url)
    service = LabelService(LabelStore(store_path, site=SITE), pacs, lookup, run_worker=False)
    total = 30
    try:
        base = None
        for n in range(total):
            base = (await service.save(grant, point_document(handle, n, base))).revision
        kills = 0
        for threshold in (3, 9, 16):
            process = _worker(store_path, url)
            _wait_for(lambda t=threshold: _stored_count(store_path) >= t, 60)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1
        assert _stored_count(store_path) < total, "delivery finished before the last kill"
        process = _worker(store_path, url)
        try:
            _wait_for(lambda: _stored_count(store_path) == total, 90)
        finally:
            process.terminate()
            process.wait(timeout=10)
        assert kills == 3
        await pacs.aclose()
        pacs = open_pacs(url)  # a fresh adapter: the folder PACS re-indexes what was written
        expected, held = await _instances_in_pacs(pacs, store_path)
        assert len(expected) == total
        assert held == expected  # none lost, none twice
        if adapter == "folder":
            files = list((tmp_path / "pacs" / "stored").rglob("*.dcm"))
            assert len(files) == total  # not even a second file of the same object
        assert dciodvfy_every_object(store_path, tmp_path) == total
    finally:
        await service.aclose()
        await pacs.aclose()
