"""The site audit digest (issue 9): counts per session and user read from the real site audit, the
chain head, the window; and the real gateway sending it to central on connect and periodically."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from site_gateway.site_audit import GENESIS, AuditKind, SiteAudit
from site_gateway.site_digest import MAX_DIGEST_SESSIONS, DigestBuilder, DigestSender
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.gateway_env import gateway_env

KEY = b"k" * 32


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def head_of(path: Path) -> tuple[int, str]:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    return int(row[0]), str(row[1])


def test_counts_per_session_and_user_with_the_chain_head_and_window(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    clock = Clock(1_000_000.0)
    audit = SiteAudit(path, KEY, clock=clock)
    builder = DigestBuilder(path, window_seconds=3600, clock=clock)
    builder.refresh()
    empty = builder.digest()
    assert empty["head"] == {"seq": 0, "hash": GENESIS}
    assert empty["sessions"] == [] and empty["users"] == [] and empty["truncated"] is False

    audit.record(AuditKind.SESSION_OPENED, session="s-a", user="u_1", series=["1.2.3"])
    for _ in range(3):
        audit.record(AuditKind.FRAME_SERVED, session="s-a", user="u_1", series="h", index=1)
    clock.now += 10
    audit.record(AuditKind.FRAME_SERVED, session="s-b", user="u_1", series="h", index=2)
    audit.record(AuditKind.FRAME_SERVED, session="s-c", user="u_2", series="h", index=2)
    audit.flush()
    builder.refresh()
    digest = builder.digest()
    assert digest["type"] == "audit.digest"
    assert digest["head"] == dict(zip(("seq", "hash"), head_of(path), strict=True))
    assert digest["head"]["seq"] == 6
    assert digest["window"] == {"from": 1_000_010.0 - 3600, "to": 1_000_010.0}
    assert {(s["session"], s["user"], s["frames"]) for s in digest["sessions"]} == {
        ("s-a", "u_1", 3),
        ("s-b", "u_1", 1),
        ("s-c", "u_2", 1),
    }
    assert digest["users"] == [{"user": "u_1", "frames": 4}, {"user": "u_2", "frames": 1}]
    # PHI-free: the series UID in the session entry and every other field stay at the site
    assert "1.2.3" not in json.dumps(digest)

    # incremental: a later refresh adds only what is new
    audit.record(AuditKind.FRAME_SERVED, session="s-a", user="u_1", series="h", index=3)
    audit.flush()
    builder.refresh()
    assert {s["session"]: s["frames"] for s in builder.digest()["sessions"]}["s-a"] == 4

    # a session whose last frame left the window is no longer reported; the head still moves
    clock.now += 3600 + 5
    audit.record(AuditKind.FRAME_SERVED, session="s-c", user="u_2", series="h", index=4)
    audit.flush()
    builder.refresh()
    later = builder.digest()
    assert [(s["session"], s["frames"]) for s in later["sessions"]] == [("s-c", 2)]
    assert later["head"]["seq"] == 8
    audit.flush()


def test_a_fresh_builder_reads_the_whole_window_of_an_existing_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    clock = Clock(2_000_000.0)
    audit = SiteAudit(path, KEY, clock=clock)
    for index in range(5):
        audit.record(AuditKind.FRAME_SERVED, session="s-x", user="u_9", index=index)
    audit.flush()
    builder = DigestBuilder(path, window_seconds=60, clock=clock)
    builder.refresh()
    assert [(s["session"], s["frames"]) for s in builder.digest()["sessions"]] == [("s-x", 5)]


def test_odd_ids_are_left_out_and_a_long_list_is_cut_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    clock = Clock(3_000_000.0)
    audit = SiteAudit(path, KEY, clock=clock)
    audit.record(AuditKind.FRAME_SERVED, session="x" * 65, user="u_1")
    audit.record(AuditKind.FRAME_SERVED, session=7, user="u_1")
    for index in range(MAX_DIGEST_SESSIONS + 3):
        audit.record(AuditKind.FRAME_SERVED, session=f"s-{index}", user="u_1")
    audit.flush()
    builder = DigestBuilder(path, clock=clock)
    builder.refresh()
    digest = builder.digest()
    assert len(digest["sessions"]) == MAX_DIGEST_SESSIONS
    assert digest["truncated"] is True
    assert all(len(s["session"]) <= 64 for s in digest["sessions"])
    assert digest["users"] == [{"user": "u_1", "frames": MAX_DIGEST_SESSIONS + 3}]
    assert len(json.dumps(digest)) < 64 * 1024  # well inside the protocol's text limit


async def test_the_gateway_sends_the_digest_on_connect_and_periodically(
    tmp_path: Path, demo: DemoData
) -> None:
    async with gateway_env(
        tmp_path / "state", f"folder:{demo.site.folder}", digest_seconds=1.0
    ) as env:
        handle = env.series_handle(demo.site.study_uid, demo.site.series_uid)
        session = str(uuid.uuid4())
        link = await env.central.open_session(session, [handle])
        for index in range(3):
            reply = await link.request_frame(handle, index)
            assert isinstance(reply, tuple), reply  # (header, image bytes)
        first = None
        for _ in range(100):
            if env.central.digests:
                first = env.central.digests[0]
                break
            await asyncio.sleep(0.1)
        assert first is not None, "no digest on connect"
        seen = len(env.central.digests)
        # the next digests: periodic, and carrying the three frames of the session
        for _ in range(60):
            counts = {
                s["session"]: s["frames"] for s in env.central.digests[-1].get("sessions", [])
            }
            if len(env.central.digests) > seen and counts.get(session) == 3:
                break
            await asyncio.sleep(0.1)
        latest = env.central.digests[-1]
        assert len(env.central.digests) > seen
        assert [(s["session"], s["user"], s["frames"]) for s in latest["sessions"]] == [
            (session, "u_7f3a", 3)
        ]
        assert latest["users"] == [{"user": "u_7f3a", "frames": 3}]
        assert latest["head"]["seq"] >= max(first["head"]["seq"], 4)  # opened + three frames
        assert len(latest["head"]["hash"]) == 64
        # no UID, no handle, no series: only ids central gave, counts and the head
        text = json.dumps(latest)
        assert demo.site.series_uid not in text and handle not in text


async def test_an_unreadable_audit_file_is_retried_once_a_period_not_at_every_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.sqlite"
    path.write_bytes(b"not a database" * 100)
    sent: list[Mapping[str, Any]] = []

    async def send(message: Mapping[str, Any]) -> bool:
        sent.append(message)
        return True

    sender = DigestSender(
        DigestBuilder(path), send=send, connections=lambda: 1, period=0.5, poll=0.02
    )
    task = sender.start()
    await asyncio.sleep(1.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sent == []
    warnings = [r for r in caplog.records if "audit digest not built" in r.getMessage()]
    assert 2 <= len(warnings) <= 4, len(warnings)  # at 0, 0.5 and 1.0 s: not every 20 ms
