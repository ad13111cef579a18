"""The gateway against a real websockets server playing central, over the folder PACS."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from websockets.exceptions import ConnectionClosed

from site_gateway import site_audit
from site_gateway.protocol import Action, MessageType
from site_gateway.sessions import LABEL_HANDLERS, Session
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.gateway_env import GatewayEnv, gateway_env


@pytest.fixture
async def env(tmp_path: Path, demo: DemoData) -> AsyncIterator[GatewayEnv]:
    async with gateway_env(tmp_path / "state", f"folder:{demo.site.folder}") as env:
        yield env


def ct_handle(env: GatewayEnv, demo: DemoData) -> str:
    return env.series_handle(demo.site.study_uid, demo.site.series_uid)


def new_session() -> str:
    return str(uuid.uuid4())


async def test_gateway_authenticates_and_sends_heartbeats(env: GatewayEnv) -> None:
    await asyncio.wait_for(env.central.control_ready.wait(), 10)
    for _ in range(50):
        if env.central.heartbeats:
            break
        await asyncio.sleep(0.1)
    beat = env.central.heartbeats[0]
    assert beat["version"] and beat["sessions"] == 0
    assert set(beat["cache"]) == {"disk_bytes", "disk_cap", "memory_bytes", "memory_cap"}
    assert "ok" in beat["pacs"]


async def test_a_granted_session_gets_series_info_and_frames(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = ct_handle(env, demo)
    session = new_session()
    link = await env.central.open_session(session, [series])

    info = await link.series_info(series, index=3)
    assert info["type"] == "series.info", info
    assert (info["rows"], info["columns"], info["slices"]) == (256, 256, demo.site.slices)
    assert info["modality"] == "CT" and info["default_window"] == {"center": 40.0, "width": 400.0}
    # Nothing identifying leaves the site: no UID, no patient name or id anywhere in the reply.
    text = repr(info)
    for secret in (demo.site.study_uid, demo.site.series_uid, demo.site.patient_id, "PHANTOM"):
        assert secret not in text

    header, image = await link.request_frame(series, 3, quality="preview")
    assert header["format"] == "jpeg" and image[:2] == b"\xff\xd8"
    assert header["window"] == {"center": 40.0, "width": 400.0}
    header, image = await link.request_frame(
        series, 0, quality="lossless", window={"center": -600, "width": 1500}
    )
    assert header["format"] == "png"
    assert Image.open(io.BytesIO(image)).size == (256, 256)
    assert header["window"] == {"center": -600.0, "width": 1500.0}

    # A ping is answered; once the series is in, an unsolicited series.info brings geometry.
    await link.send({"type": "ping", "seq": 99})
    assert (await link.reply_to(99))["type"] == "pong"
    deadline = time.monotonic() + 10
    while not any(m.get("type") == "series.info" and m.get("seq") is None for m in link.texts):
        await link.next(max(deadline - time.monotonic(), 0.01))
    full = next(m for m in link.texts if m.get("type") == "series.info" and m.get("seq") is None)
    assert full["planes"] == ["axial", "coronal", "sagittal"]
    assert len(full["positions"]) == demo.site.slices and full["spacing"] == pytest.approx(1.25)
    assert any(m.get("type") == "retrieve.progress" and m["done"] for m in link.texts)

    header, image = await link.request_frame(series, 128, plane="coronal", quality="preview")
    # Reslices are shown with square pixels: 1.40625 mm columns stretch onto the 1.25 mm grid.
    assert header["plane"] == "coronal" and header["columns"] == round(256 * 1.40625 / 1.25)


async def test_frames_are_audited_in_a_verifiable_chain(env: GatewayEnv, demo: DemoData) -> None:
    series = ct_handle(env, demo)
    session = new_session()
    link = await env.central.open_session(session, [series])
    for index in range(3):
        await link.request_frame(series, index, quality="preview")
    env.gateway.audit.flush()
    result = site_audit.verify(env.config.audit_path, env.gateway.keys.audit_key)
    assert result.ok and result.entries >= 4
    assert env.gateway.audit.frames_per_session[session] == 3


async def test_bad_requests_get_coded_errors_and_the_session_goes_on(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = ct_handle(env, demo)
    link = await env.central.open_session(new_session(), [series])
    await link.send({"type": "frame.request", "seq": 1, "series": "not-a-handle", "index": 0})
    assert (await link.reply_to(1))["code"] == "bad_message"
    await link.ws.send("{not json")
    reply = await link.next()
    assert isinstance(reply, dict) and reply["code"] == "bad_message"
    await link.send({"type": "session.attach", "seq": 2})
    assert (await link.reply_to(2))["code"] == "not_allowed"
    await link.send({"type": "label.save", "seq": 3, "document": {}})
    assert (await link.reply_to(3))["code"] == "label_invalid"  # write-back validates it
    reply = await link.request_frame(series, 10_000)
    assert reply["code"] == "not_found"
    header, _ = await link.request_frame(series, 1, quality="preview")
    assert header["index"] == 1


async def test_a_series_outside_the_grant_is_out_of_scope(env: GatewayEnv, demo: DemoData) -> None:
    series = ct_handle(env, demo)
    other = env.series_handle(demo.site.study_uid, "1.2.3.4.5")
    link = await env.central.open_session(new_session(), [series])
    assert (await link.request_frame(other, 0))["code"] == "out_of_scope"
    assert (await link.series_info(other))["code"] == "out_of_scope"


async def test_an_action_the_grant_does_not_allow_is_refused(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = ct_handle(env, demo)
    link = await env.central.open_session(new_session(), [series], actions=frozenset({Action.VIEW}))
    await link.send({"type": "label.save", "seq": 5, "document": {}})
    reply = await link.reply_to(5)
    assert reply["code"] == "not_allowed" and "grant" in reply["message"]


@pytest.mark.parametrize(
    ("grant_fields", "code"),
    [
        pytest.param({"key": Ed25519PrivateKey.generate()}, "grant_invalid", id="forged"),
        pytest.param(
            {"issued_at": int(time.time()) - 700, "expires_at": int(time.time()) - 100},
            "grant_expired",
            id="expired",
        ),
        pytest.param({"site": "another-site"}, "grant_wrong_site", id="wrong-site"),
        pytest.param({"project": "not-served"}, "policy_refused", id="project-not-served"),
        pytest.param({"grant_session": "another-session"}, "grant_invalid", id="other-session"),
        pytest.param(
            {"issued_at": int(time.time()), "expires_at": int(time.time()) + 13 * 3600},
            "grant_invalid",
            id="too-long",
        ),
    ],
)
async def test_a_refused_grant_opens_nothing(
    env: GatewayEnv, demo: DemoData, grant_fields: dict[str, object], code: str
) -> None:
    series = ct_handle(env, demo)
    session = new_session()
    grant = env.central.grant(session, [series], **grant_fields)
    await env.central.attach(session, grant)
    reply = await env.central.control_reply()
    assert reply == {"type": "error", "code": code, "message": reply["message"], "session": session}
    assert session not in env.central.data_links or not env.central.data_links[session].done()
    assert not env.gateway.manager.sessions


async def test_a_session_id_that_is_not_a_plain_id_is_refused(
    env: GatewayEnv, demo: DemoData
) -> None:
    session = "../../admin"
    await env.central.attach(session, env.central.grant(session, [ct_handle(env, demo)]))
    assert (await env.central.control_reply())["code"] == "grant_invalid"
    assert not env.gateway.manager.sessions


async def test_a_replayed_grant_is_refused(env: GatewayEnv, demo: DemoData) -> None:
    series = ct_handle(env, demo)
    session = new_session()
    grant = env.central.grant(session, [series])
    await env.central.attach(session, grant)
    await env.central.data_link(session)
    await env.central.attach(session, grant)
    reply = await env.central.control_reply()
    assert reply["code"] == "grant_replayed" and reply["session"] == session


async def test_a_garbage_grant_is_invalid(env: GatewayEnv) -> None:
    session = new_session()
    await env.central.attach(session, "rg1.bm90.c2ln")
    assert (await env.central.control_reply())["code"] == "grant_invalid"


async def test_revoking_a_session_closes_its_data_link_with_4403(
    env: GatewayEnv, demo: DemoData
) -> None:
    session = new_session()
    link = await env.central.open_session(session, [ct_handle(env, demo)])
    assert env.central.control is not None
    await env.central.control.send(f'{{"type": "session.revoke", "session": "{session}"}}')
    with pytest.raises(ConnectionClosed):
        await link.next(timeout=5)
    assert link.ws.close_code == 4403


async def test_an_expiring_grant_closes_the_data_link_with_4408(
    env: GatewayEnv, demo: DemoData
) -> None:
    session = new_session()
    now = int(time.time())
    link = await env.central.open_session(
        session, [ct_handle(env, demo)], issued_at=now, expires_at=now + 2
    )
    await asyncio.wait_for(link.ws.wait_closed(), 6)
    assert link.ws.close_code == 4408


async def test_the_newest_request_wins_and_every_request_is_answered_once(
    env: GatewayEnv, demo: DemoData
) -> None:
    series = ct_handle(env, demo)
    link = await env.central.open_session(new_session(), [series])
    await link.request_frame(series, 0, quality="preview")  # retrieval under way
    seqs = list(range(100, 140))
    for seq in seqs:
        await link.send(
            {"type": "frame.request", "seq": seq, "series": series, "index": seq % 12,
             "quality": "lossless"}
        )  # fmt: skip
    answers: dict[int, str] = {}
    while len(answers) < len(seqs):
        message = await link.next()
        if isinstance(message, tuple):
            answers[message[0]["seq"]] = "frame"
        elif message.get("type") == "error":
            assert message["code"] == "cancelled"
            assert message["seq"] not in answers
            answers[message["seq"]] = "cancelled"
    assert answers[seqs[-1]] == "frame"
    assert list(answers.values()).count("cancelled") > len(seqs) // 2


async def test_central_refusing_to_prove_itself_gets_no_answer(
    env: GatewayEnv, demo: DemoData
) -> None:
    # Central restarts with a key nobody pinned: the gateway hangs up before signing anything.
    await env.central.control_ready.wait()
    env.central.sign_challenges_with = Ed25519PrivateKey.generate()
    assert env.central.control is not None
    await env.central.control.close()
    for _ in range(100):
        if env.central.auth_failures:
            break
        await asyncio.sleep(0.05)
    assert env.central.auth_failures
    assert not env.central.control_ready.is_set()


async def test_a_slow_label_handler_does_not_hold_up_frames(
    env: GatewayEnv, demo: DemoData, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    order: list[int] = []

    async def slow_save(session: Session, message: Mapping[str, Any]) -> None:
        await release.wait()  # e.g. validating against a series the PACS is slow to send
        order.append(message["seq"])
        await session.send_json({"type": "label.saved", "seq": message["seq"], "revision": 1})

    monkeypatch.setitem(LABEL_HANDLERS, MessageType.LABEL_SAVE, slow_save)
    series = ct_handle(env, demo)
    link = await env.central.open_session(new_session(), [series])
    for seq in (1, 2):
        await link.send({"type": "label.save", "seq": seq, "document": {}})
    header, _ = await link.request_frame(series, 0, quality="preview")
    assert header["index"] == 0 and not order
    release.set()
    assert (await link.reply_to(1))["type"] == "label.saved"
    assert (await link.reply_to(2))["type"] == "label.saved" and order == [1, 2]
