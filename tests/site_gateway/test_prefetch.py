"""The prefetch lane: read-ahead frame requests are bounded, cancellable, served in order and only
while no interactive request waits — against the real gateway over the folder PACS.

The session-level tests hand the real ``Session`` (real grant, real series source and renderer)
a socket that records what it is sent, so that a burst of requests is admitted before the lane
runs at all: what is then cancelled, and in which order frames come, does not depend on timing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from site_gateway.protocol import MAX_PREFETCH_REQUESTS, unpack_frame
from site_gateway.sessions import Session
from tests.site_gateway.conftest import DEMO_SLICES, DemoData
from tests.site_gateway.gateway_env import GatewayEnv, gateway_env


@pytest.fixture
async def env(tmp_path: Path, demo: DemoData) -> AsyncIterator[GatewayEnv]:
    async with gateway_env(tmp_path / "state", f"folder:{demo.site.folder}") as env:
        yield env


class RecordingLink:
    """The data link's socket: keeps what the session sends; nothing arrives."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.changed = asyncio.Event()

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)
        self.changed.set()

    async def recv(self) -> str | bytes:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None

    def answers(self) -> list[tuple[int, str, Any]]:
        """(seq, "frame" | error code, frame header or error message), in the order sent."""
        out: list[tuple[int, str, Any]] = []
        for raw in self.sent:
            if isinstance(raw, bytes):
                header, _ = unpack_frame(raw)
                out.append((header["seq"], "frame", header))
            else:
                message = json.loads(raw)
                if message.get("type") == "error" and "seq" in message:
                    out.append((message["seq"], message["code"], message))
        return out

    async def wait_for_answers(
        self, count: int, timeout: float = 20.0
    ) -> list[tuple[int, str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.answers()) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.answers()


def session_for(env: GatewayEnv, series: str) -> tuple[Session, RecordingLink]:
    session_id = str(uuid.uuid4())
    grant = env.gateway.manager.check_grant(session_id, env.central.grant(session_id, [series]))
    link = RecordingLink()
    return Session(grant, link, env.gateway.manager.services), link


def request(seq: int, series: str, index: int, **fields: Any) -> str:
    return json.dumps(
        {"type": "frame.request", "seq": seq, "series": series, "index": index, **fields}
    )


async def test_the_lane_keeps_the_newest_requests_and_serves_them_in_order(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = env.series_handle(demo.site.study_uid, demo.site.series_uid)
    session, link = session_for(env, series)
    total = MAX_PREFETCH_REQUESTS + 8
    for seq in range(1, total + 1):
        await session.dispatch(
            request(seq, series, seq % DEMO_SLICES, quality="preview", priority="prefetch")
        )
    # Admitted before the lane ran: the oldest beyond the bound are cancelled at once.
    dropped = list(range(1, total - MAX_PREFETCH_REQUESTS + 1))
    assert [(seq, code) for seq, code, _ in link.answers()] == [
        (seq, "cancelled") for seq in dropped
    ]
    # The viewer takes one back before it is served.
    await session.dispatch(json.dumps({"type": "frame.cancel", "seq": total - 1}))
    answers = await link.wait_for_answers(total)
    try:
        assert len({seq for seq, _, _ in answers}) == total  # every request answered once
        frames = [(seq, header) for seq, kind, header in answers if kind == "frame"]
        kept = [seq for seq in range(total - MAX_PREFETCH_REQUESTS + 1, total + 1)]
        assert [seq for seq, _ in frames] == [seq for seq in kept if seq != total - 1]
        assert all(h["index"] == seq % DEMO_SLICES and h["format"] == "jpeg" for seq, h in frames)
        assert dict((s, c) for s, c, _ in answers)[total - 1] == "cancelled"
    finally:
        await session.stop()


async def test_interactive_requests_are_served_before_queued_prefetch(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = env.series_handle(demo.site.study_uid, demo.site.series_uid)
    session, link = session_for(env, series)
    for seq in range(1, 9):
        await session.dispatch(request(seq, series, seq, quality="preview", priority="prefetch"))
    # The user scrolls to slice 2 (queued for read-ahead as seq 2: this answer carries it) and
    # then to 10; newest wins among interactive requests as before.
    await session.dispatch(request(20, series, 2, quality="preview"))
    await session.dispatch(request(21, series, 10, quality="lossless", priority="interactive"))
    answers = await link.wait_for_answers(10)
    try:
        order = [(seq, kind) for seq, kind, _ in answers]
        assert (2, "cancelled") in order and (20, "cancelled") in order
        served = [seq for seq, kind in order if kind == "frame"]
        assert served == [21, 1, 3, 4, 5, 6, 7, 8]  # the interactive one first, then in order
        interactive = next(h for seq, kind, h in answers if seq == 21)
        assert interactive["index"] == 10 and interactive["format"] == "png"
    finally:
        await session.stop()


async def test_prefetch_frames_cross_a_real_data_link(env: GatewayEnv, demo: DemoData) -> None:
    series = env.series_handle(demo.site.study_uid, demo.site.series_uid)
    link = await env.central.open_session(str(uuid.uuid4()), [series])
    for seq in range(1, DEMO_SLICES + 1):
        await link.send(
            {"type": "frame.request", "seq": seq, "series": series, "index": seq - 1,
             "quality": "preview", "priority": "prefetch"}
        )  # fmt: skip
    header, image = await link.request_frame(series, 5, quality="lossless")
    assert header["index"] == 5 and image[:4] == b"\x89PNG"
    for seq in range(1, DEMO_SLICES + 1):
        answer = await link.reply_to(seq)
        assert isinstance(answer, tuple) and answer[0]["index"] == seq - 1, answer


async def test_an_unknown_priority_is_a_coded_error(env: GatewayEnv, demo: DemoData) -> None:
    series = env.series_handle(demo.site.study_uid, demo.site.series_uid)
    session, link = session_for(env, series)
    await session.dispatch(request(1, series, 0, priority="urgent"))
    try:
        [(seq, code, message)] = link.answers()
        assert (seq, code) == (1, "bad_message") and "prefetch" in message["message"]
    finally:
        await session.stop()
