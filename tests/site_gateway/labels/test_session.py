"""``label.save`` / ``label.load`` through a real Session, with the gateway's own series lookup
(handle map → folder PACS → instance cache) over the demo CT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from imaging import HandleKey
from site_gateway.cache import DiskCache
from site_gateway.handle_map import HandleMap
from site_gateway.labels.service import LabelService
from site_gateway.labels.sources import SeriesSourceLookup
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from site_gateway.retrieval import Retriever
from site_gateway.series_source import SeriesSource
from site_gateway.sessions import LABEL_HANDLERS, Session, SessionServices
from site_gateway.site_audit import AuditKind, SiteAudit, verify
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.labels.conftest import FAST
from tests.site_gateway.labels.helpers import (
    SITE,
    dciodvfy_every_object,
    document,
    frame,
    make_grant,
)

AUDIT_KEY = b"session-test-site-audit-key-32by"


class FakeLink:
    """The data link as a session sees it; records what the gateway sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str | bytes) -> None:
        assert isinstance(message, str)
        self.sent.append(json.loads(message))

    async def recv(self) -> str | bytes:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


@pytest.fixture
def handlers() -> Iterator[None]:
    saved = dict(LABEL_HANDLERS)
    try:
        yield
    finally:
        LABEL_HANDLERS.update(saved)


def _copy_of(source: Path, target: Path) -> Path:
    """A copy without the index: written objects must not land in the shared demo folder."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    return target


@pytest.fixture
async def gateway_parts(
    tmp_path: Path, demo: DemoData, handlers: None
) -> AsyncIterator[tuple[LabelService, SeriesSource, str]]:
    folder = _copy_of(demo.site.folder, tmp_path / "pacs")
    pacs = open_pacs(f"folder:{folder}")
    key = HandleKey(b"session-test-handle-key-32-bytes")
    handles = HandleMap(tmp_path / "handles.sqlite", key)
    disk = DiskCache(tmp_path / "cache", 200 * 1024 * 1024)
    source = SeriesSource(
        pacs=pacs, retriever=Retriever(pacs, disk), handles=handles, handle_key=key, disk=disk
    )
    handle = handles.add_series(demo.site.study_uid, demo.site.series_uid)
    service = LabelService(
        LabelStore(tmp_path / "labels.sqlite", site=SITE),
        pacs,
        SeriesSourceLookup(source),
        policy=FAST,
        run_worker=False,
    )
    service.install()
    try:
        yield service, source, handle
        dciodvfy_every_object(tmp_path / "labels.sqlite", tmp_path)
    finally:
        await service.aclose()
        await pacs.aclose()
        handles.close()


def _session(source: SeriesSource, handle: str) -> tuple[Session, FakeLink]:
    link = FakeLink()
    audit = SiteAudit(source._disk.root.parent / "site-audit.sqlite", AUDIT_KEY)
    services = SessionServices(source=source, renderer=cast(Any, None), audit=audit)
    return Session(make_grant([handle]), link, services), link


def _labels_written(source: SeriesSource) -> list[dict[str, Any]]:
    path = source._disk.root.parent / "site-audit.sqlite"
    assert verify(path, AUDIT_KEY).ok
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT entry FROM audit WHERE kind = ? ORDER BY id", (AuditKind.LABEL_WRITTEN,)
        ).fetchall()
    return [json.loads(entry) for (entry,) in rows]


async def test_save_is_acknowledged_after_commit_then_stored_status_follows(
    gateway_parts: tuple[LabelService, SeriesSource, str],
) -> None:
    service, source, handle = gateway_parts
    session, link = _session(source, handle)
    rect = {"uid": "r1", "tool": "rectangle", "label": "nodule", "frame": frame(handle, 5),
            "geometry": {"points": [[100.0, 80.0], [140.0, 120.0]]}}  # fmt: skip
    await session.dispatch(
        json.dumps({"type": "label.save", "seq": 7, "document": document([rect])})
    )
    assert link.sent == [{"type": "label.saved", "seq": 7, "revision": 1}]
    (written,) = _labels_written(source)
    assert written["task"] == session.grant.task and written["revision"] == 1
    assert written["user"] == session.grant.user and written["annotations"] == 1
    latest = service.store.latest("task/12")
    assert latest is not None and written["content_hash"] == latest.content_hash
    latest = service.store.latest("task/12")
    assert latest is not None
    assert latest.records[0].sop_uid != ""
    await service.worker.run_until_idle()
    assert link.sent[-1] == {"type": "label.status", "revision": 1, "state": "stored_in_pacs"}
    await session.dispatch(json.dumps({"type": "label.load", "seq": 8}))
    loaded, status = link.sent[-2:]
    assert loaded["type"] == "label.document"
    assert (loaded["seq"], loaded["revision"]) == (8, 1)
    assert loaded["document"]["annotations"] == [rect]
    # the reopened task learns where its revision stands, not only that it was saved
    assert status == {"type": "label.status", "revision": 1, "state": "stored_in_pacs"}


async def test_refusals_are_coded_errors_with_the_request_seq(
    gateway_parts: tuple[LabelService, SeriesSource, str],
) -> None:
    service, source, handle = gateway_parts
    session, link = _session(source, handle)
    await session.dispatch(json.dumps({"type": "label.load", "seq": 1}))
    assert link.sent[-1]["code"] == "not_found"
    point = {"uid": "p", "tool": "point", "label": "landmark", "frame": frame(handle, 0),
             "geometry": {"points": [[999.0, 1.0]]}}  # fmt: skip
    await session.dispatch(
        json.dumps({"type": "label.save", "seq": 2, "document": document([point])})
    )
    assert link.sent[-1] == {
        "type": "error", "code": "label_invalid", "detail": "out_of_bounds", "seq": 2,
        "message": link.sent[-1]["message"],
    }  # fmt: skip
    await session.dispatch('{"type": "label.save", "seq": 3, "document": {')  # malformed JSON
    assert link.sent[-1]["code"] == "bad_message"
    point["geometry"] = {"points": [[9.0, 1.0]]}
    await session.dispatch(
        json.dumps({"type": "label.save", "seq": 4, "document": document([point])})
    )
    await session.dispatch(
        json.dumps({"type": "label.save", "seq": 5, "document": document([point])})
    )
    assert link.sent[-1]["code"] == "label_conflict"
    assert service.store.latest("task/12") is not None
    assert service.status()["pending"] == 1
    # Only the one committed save is in the site audit: refusals and conflicts wrote nothing.
    assert [e["revision"] for e in _labels_written(source)] == [1]
