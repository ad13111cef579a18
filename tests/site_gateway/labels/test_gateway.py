"""The whole gateway, as central sees it: label.save over a data link → label.saved → stored in
the (folder) PACS → label.status to the session and task.labels on the control link."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from site_gateway.sessions import LABEL_HANDLERS
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.fake_central import DataLinkClient, FakeCentral
from tests.site_gateway.gateway_env import gateway_env
from tests.site_gateway.labels.helpers import SCHEMA, dciodvfy_every_object, document, frame


async def _control(central: FakeCentral, kind: str) -> dict[str, Any]:
    while True:
        message = await central.control_message(timeout=30)
        if message["type"] == kind:
            return message


async def _next_of(link: DataLinkClient, kind: str) -> dict[str, Any]:
    while True:
        message = await link.next(timeout=30)
        if isinstance(message, dict) and message["type"] == kind:
            return message


async def test_a_save_through_the_gateway_is_stored_and_reported(
    tmp_path: Path, demo: DemoData
) -> None:
    handlers = dict(LABEL_HANDLERS)
    folder = tmp_path / "pacs"
    shutil.copytree(demo.site.folder, folder, ignore=shutil.ignore_patterns(".*"))
    try:
        async with gateway_env(tmp_path / "state", f"folder:{folder}") as env:
            handle = env.series_handle(demo.site.study_uid, demo.site.series_uid)
            link = await env.central.open_session(str(uuid.uuid4()), [handle], schema=SCHEMA)
            point = {"uid": "p1", "tool": "point", "label": "landmark",
                     "frame": frame(handle, 3), "geometry": {"points": [[128.0, 100.5]]}}  # fmt: skip
            await link.send({"type": "label.save", "seq": 1, "document": document([point])})
            assert await link.reply_to(1) == {"type": "label.saved", "seq": 1, "revision": 1}
            status = await _next_of(link, "label.status")
            assert status == {"type": "label.status", "revision": 1, "state": "stored_in_pacs"}
            report = await _control(env.central, "task.labels")
            assert report["task"] == 12
            assert report["revision"] == 1
            assert report["count"] == 1
            assert len(report["content_hash"]) == 64
            # What every heartbeat carries as "outbox": counts only.
            assert env.gateway.status()["outbox"]["stored"] == 1
            assert len(list((folder / "stored").rglob("*.dcm"))) == 1
            await link.send({"type": "label.load", "seq": 2})
            loaded = await link.reply_to(2)
            assert loaded["document"]["annotations"] == [point]
        assert dciodvfy_every_object(tmp_path / "state" / "labels.sqlite", tmp_path) == 1
    finally:
        LABEL_HANDLERS.update(handlers)
