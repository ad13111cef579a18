"""The Secure Access sockets through the real ASGI application: browser ⇄ central ⇄ gateway."""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, SecureAccessSession, Site
from annotations.relay import MAX_UNACKED_FRAMES
from annotations.services.sessions import session_open, session_revoke
from rhino_web.asgi import application
from site_gateway.grants import gateway_auth_message, public_key_b64, sign_b64
from site_gateway.protocol import MessageType, pack_frame, unpack_frame
from tests.annotations.secure_access.conftest import (
    FakeGateway,
    browser_socket,
    expect_close,
    receive_json,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(user, task) -> str:
    session = await sync_to_async(session_open)(actor=user, task=task)
    return str(session.pk)


async def _ready_session(world, gateway: FakeGateway) -> tuple[str, WebsocketCommunicator]:
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK
    sid = await _open(world.annotator, world.task)
    browser = await browser_socket(sid, "annotator")
    connected, _ = await browser.connect()
    assert connected
    assert (await receive_json(browser))["state"] == "connecting"
    assert await gateway.accept_attach() == sid
    states = [await receive_json(browser), await receive_json(browser)]
    assert {m["type"] for m in states} == {MessageType.SESSION_STATE, MessageType.SESSION_READY}
    return sid, browser


async def test_frames_flow_from_gateway_to_browser(world, gateway) -> None:
    sid, browser = await _ready_session(world, gateway)
    site = await sync_to_async(Site.objects.get)(pk=world.site.pk)
    assert site.is_online and site.gateway_version == "test-1"
    await browser.send_to(
        text_data=json.dumps(
            {"type": "frame.request", "seq": 7, "series": world.task.series_handle, "index": 3}
        )
    )
    request = await gateway.serve_one(sid)
    assert request == {
        "type": "frame.request",
        "seq": 7,
        "series": world.task.series_handle,
        "index": 3,
    }
    header, image = unpack_frame((await browser.receive_output())["bytes"])
    assert header["seq"] == 7 and bytes(image).startswith(b"\xff\xd8")
    await browser.disconnect()


async def test_unauthenticated_browser_gets_4401_after_accept(world, gateway_key) -> None:
    browser = await browser_socket("00000000-0000-0000-0000-000000000000", None)
    connected, _ = await browser.connect()
    assert connected  # accepted first, so the browser learns the code
    await expect_close(browser, 4401)


async def test_unknown_session_is_4404(world, gateway) -> None:
    await gateway.connect()
    browser = await browser_socket("00000000-0000-4000-8000-000000000000", "annotator")
    await browser.connect()
    await expect_close(browser, 4404)


async def test_someone_elses_session_is_4403_and_audited(world, gateway) -> None:
    await gateway.connect()
    sid = await _open(world.annotator, world.task)
    browser = await browser_socket(sid, "lead")
    await browser.connect()
    await expect_close(browser, 4403)
    event = await sync_to_async(AuditEvent.objects.latest)("seq")
    assert (event.action, event.actor_name) == (AuditAction.SESSION_DENIED, "lead")


@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"null", None], ids=["foreign", "null", "missing"]
)
async def test_bad_origin_is_refused_before_accept(world, gateway, origin) -> None:
    await gateway.connect()
    sid = await _open(world.annotator, world.task)
    browser = await browser_socket(sid, "annotator", origin=origin)
    connected, _ = await browser.connect()
    assert not connected


async def test_site_offline_is_4503(world, gateway_key) -> None:
    sid = await _open(world.annotator, world.task)
    browser = await browser_socket(sid, "annotator")
    await browser.connect()
    seen = await expect_close(browser, 4503)
    assert seen[-1]["code"] == "site_offline"


async def test_revocation_closes_browser_and_data_link_and_tells_the_gateway(
    world, gateway
) -> None:
    sid, browser = await _ready_session(world, gateway)
    session = await sync_to_async(SecureAccessSession.objects.get)(pk=sid)
    started = asyncio.get_running_loop().time()
    await sync_to_async(session_revoke)(actor=world.lead, session=session, reason="test")
    seen = await expect_close(browser, 4403, timeout=5)
    assert asyncio.get_running_loop().time() - started < 5
    assert seen[-1]["code"] == "session_closed"
    link = gateway.links[sid]
    assert (await link.receive_output(timeout=5))["type"] == "websocket.close"
    revoke = await receive_json(gateway.control)
    assert revoke == {"type": "session.revoke", "session": sid}


async def test_expired_session_closes_with_4408(world, gateway) -> None:
    sid, browser = await _ready_session(world, gateway)
    await sync_to_async(SecureAccessSession.objects.filter(pk=sid).update)(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    await expect_close(browser, 4408, timeout=5)
    session = await sync_to_async(SecureAccessSession.objects.get)(pk=sid)
    assert session.close_reason == "expired"


async def test_sign_out_closes_the_socket(world, gateway) -> None:
    _sid, browser = await _ready_session(world, gateway)

    def sign_out() -> None:
        client = Client()
        client.force_login(world.annotator)
        client.post("/logout/")

    await sync_to_async(sign_out)()
    await expect_close(browser, 4401, timeout=5)


async def test_gateway_with_a_wrong_key_is_4401_and_audited(world, gateway_key) -> None:
    impostor = FakeGateway(site=world.site.slug, key=Ed25519PrivateKey.generate())
    impostor.control = WebsocketCommunicator(application, "/ws/gateway/")
    await impostor.control.connect()
    challenge = await receive_json(impostor.control)
    signature = sign_b64(
        impostor.key, gateway_auth_message(nonce=challenge["nonce"], site=impostor.site)
    )
    await impostor.control.send_to(
        text_data=json.dumps(
            {"type": "auth.response", "site": impostor.site, "signature": signature}
        )
    )
    await expect_close(impostor.control, 4401)
    event = await sync_to_async(AuditEvent.objects.latest)("seq")
    assert event.action == AuditAction.GATEWAY_AUTH_FAILED
    assert not (await sync_to_async(Site.objects.get)(pk=world.site.pk)).is_online


async def test_data_link_for_another_sites_session_is_refused(world, gateway) -> None:
    await gateway.connect()
    sid = await _open(world.annotator, world.task)
    other = FakeGateway(site=world.other_site.slug, key=Ed25519PrivateKey.generate())
    await sync_to_async(Site.objects.filter(pk=world.other_site.pk).update)(
        gateway_public_key=public_key_b64(other.key)
    )
    link = WebsocketCommunicator(application, f"/ws/gateway/sessions/{sid}/")
    connected, _ = await link.connect()
    assert connected
    challenge = await receive_json(link)
    signature = sign_b64(
        other.key, gateway_auth_message(nonce=challenge["nonce"], site=other.site, session=sid)
    )
    await link.send_to(
        text_data=json.dumps({"type": "auth.response", "site": other.site, "signature": signature})
    )
    await expect_close(link, 4403)


async def test_messages_outside_the_grant_are_refused_by_central(world, gateway) -> None:
    await gateway.connect()
    sid = await _open(world.lead, world.task)  # a reviewing session: no annotate
    browser = await browser_socket(sid, "lead")
    await browser.connect()
    await receive_json(browser)
    await gateway.accept_attach()
    await receive_json(browser)
    await receive_json(browser)
    for message, code in [
        ({"type": "label.save", "seq": 1, "document": {}}, "not_allowed"),
        ({"type": "session.attach", "seq": 2}, "unknown_type"),
        ({"type": "teleport", "seq": 3}, "unknown_type"),
    ]:
        await browser.send_to(text_data=json.dumps(message))
        reply = await receive_json(browser)
        assert (reply["type"], reply["code"]) == ("error", code)
    await browser.send_to(text_data="{not json")
    assert (await receive_json(browser))["code"] == "bad_message"
    assert await gateway.links[sid].receive_nothing(timeout=0.2)
    await browser.disconnect()


async def test_a_browser_that_does_not_ack_gets_at_most_the_window(world, gateway) -> None:
    sid, browser = await _ready_session(world, gateway)
    link = gateway.links[sid]
    for seq in range(1, 21):
        await link.send_to(bytes_data=pack_frame({"type": "frame", "seq": seq}, b"x" * 1000))
    received, dropped = [], []
    while not await browser.receive_nothing(timeout=0.3):
        output = await browser.receive_output()
        if "bytes" in output:
            received.append(unpack_frame(output["bytes"])[0]["seq"])
        else:  # a dropped frame's request is still answered: cancelled, so the viewer asks again
            error = json.loads(output["text"])
            assert (error["type"], error["code"]) == ("error", "cancelled")
            dropped.append(error["seq"])
    assert received == list(range(1, MAX_UNACKED_FRAMES + 1))
    assert dropped == list(range(MAX_UNACKED_FRAMES + 1, 21))
    await browser.send_to(text_data=json.dumps({"type": "frame.ack", "seq": MAX_UNACKED_FRAMES}))
    await asyncio.sleep(0.1)
    await link.send_to(bytes_data=pack_frame({"type": "frame", "seq": 21}, b"y"))
    assert unpack_frame((await browser.receive_output(timeout=2))["bytes"])[0]["seq"] == 21
    await browser.disconnect()


async def test_gateway_reconnect_reattaches_waiting_browsers(world, gateway) -> None:
    sid, browser = await _ready_session(world, gateway)
    assert gateway.links.keys() == {sid}
    await gateway.close()
    state = await receive_json(browser)
    assert state == {"type": "session.state", "state": "reconnecting"}
    gateway.links.clear()
    await gateway.connect()
    assert await gateway.accept_attach() == sid  # a fresh grant: the nonce guard accepts it
    assert (await receive_json(browser))["state"] == "ready"
    await browser.disconnect()


async def test_site_reports_label_state_counts_and_hash_only_for_its_own_tasks(
    world, gateway
) -> None:
    await gateway.connect()
    report = {"type": "task.labels", "task": world.task.pk, "revision": 3, "state": "stored_in_pacs",
              "count": 5, "content_hash": "ab" * 32}  # fmt: skip
    await gateway.control.send_to(text_data=json.dumps(report))
    await gateway.control.send_to(text_data=json.dumps({**report, "task": world.other_task.pk}))
    refused = await receive_json(gateway.control)
    assert (refused["type"], refused["code"]) == ("error", "bad_message")
    await gateway.control.send_to(
        text_data=json.dumps({**report, "revision": 2, "count": 1})
    )  # stale
    await gateway.control.send_to(text_data=json.dumps({"type": "ping"}))
    assert (await receive_json(gateway.control))["type"] == "pong"  # the stale report was handled
    task = await sync_to_async(type(world.task).objects.get)(pk=world.task.pk)
    assert (task.label_revision, task.label_state, task.label_count) == (3, "stored_in_pacs", 5)
    other = await sync_to_async(type(world.task).objects.get)(pk=world.other_task.pk)
    assert other.label_revision == 0
