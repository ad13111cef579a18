"""A real protocol peer playing the site gateway, over the real ASGI application."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client

from annotations.signing import signing_key
from rhino_web.asgi import application
from site_gateway.grants import (
    Grant,
    ReplayGuard,
    central_challenge_message,
    gateway_auth_message,
    public_key_b64,
    sign_b64,
    verify_b64,
    verify_grant,
)
from site_gateway.protocol import MessageType, pack_frame

ORIGIN = (b"origin", b"http://127.0.0.1")


async def receive_json(comm: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    return json.loads(await comm.receive_from(timeout=timeout))


async def expect_close(
    comm: WebsocketCommunicator, code: int, timeout: float = 7
) -> list[dict[str, Any]]:
    """Read until the close; return the text messages seen before it."""
    seen: list[dict[str, Any]] = []
    while True:
        message = await comm.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            assert message.get("code") == code, (message, seen)
            return seen
        if message.get("text"):
            seen.append(json.loads(message["text"]))


def session_cookie(
    username: str, password: str = "correct horse battery staple"
) -> tuple[bytes, bytes]:
    client = Client()
    assert client.login(username=username, password=password)
    return (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )


async def browser_socket(
    session_id: str, username: str | None, *, origin: bytes | None = b"http://127.0.0.1"
) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin))
    if username is not None:
        headers.append(await sync_to_async(session_cookie)(username))
    return WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=headers)


@dataclass
class FakeGateway:
    """Plays a site gateway by the protocol: authenticates, verifies grants, serves frames."""

    site: str
    key: Ed25519PrivateKey
    control: WebsocketCommunicator | None = None
    links: dict[str, WebsocketCommunicator] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    replay: ReplayGuard = field(default_factory=ReplayGuard)

    async def _handshake(self, comm: WebsocketCommunicator, session: str | None) -> dict[str, Any]:
        connected, _ = await comm.connect()
        assert connected
        challenge = await receive_json(comm)
        assert challenge["type"] == MessageType.AUTH_CHALLENGE
        central = signing_key().public_key()
        assert verify_b64(
            central, challenge["central_signature"], central_challenge_message(challenge["nonce"])
        )
        signature = sign_b64(
            self.key,
            gateway_auth_message(nonce=challenge["nonce"], site=self.site, session=session),
        )
        await comm.send_to(
            text_data=json.dumps(
                {
                    "type": "auth.response",
                    "site": self.site,
                    "signature": signature,
                    "version": "test-1",
                }
            )
        )
        return await receive_json(comm)

    async def connect(self) -> dict[str, Any]:
        self.control = WebsocketCommunicator(application, "/ws/gateway/")
        return await self._handshake(self.control, None)

    async def accept_attach(self) -> str:
        """Wait for session.attach, verify its grant as a gateway must, open the data link."""
        assert self.control is not None
        attach = await receive_json(self.control)
        assert attach["type"] == MessageType.SESSION_ATTACH
        grant = verify_grant(
            attach["grant"],
            central_key=signing_key().public_key(),
            site=self.site,
            replay=self.replay,
        )
        assert grant.session == attach["session"]
        self.grants[grant.session] = grant
        link = WebsocketCommunicator(application, f"/ws/gateway/sessions/{grant.session}/")
        ok = await self._handshake(link, grant.session)
        assert ok["type"] == MessageType.AUTH_OK, ok
        self.links[grant.session] = link
        await link.send_to(
            text_data=json.dumps(
                {"type": "session.ready", "session": grant.session, "series": list(grant.series)}
            )
        )
        return grant.session

    async def serve_one(self, session: str) -> dict[str, Any]:
        """Answer the next relayed request: a binary frame for frame.request, an echo otherwise."""
        link = self.links[session]
        request = await receive_json(link)
        if request["type"] == MessageType.FRAME_REQUEST:
            header = {
                "type": "frame",
                "seq": request["seq"],
                "series": request["series"],
                "index": request["index"],
                "format": "jpeg",
            }
            await link.send_to(
                bytes_data=pack_frame(header, b"\xff\xd8 fake jpeg \xff\xd9" + bytes(64))
            )
        return request

    async def close(self) -> None:
        for comm in [*self.links.values(), self.control]:
            if comm is not None:
                await comm.disconnect()


@pytest.fixture
def gateway_key(world) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    world.site.gateway_public_key = public_key_b64(key)
    world.site.save(update_fields=["gateway_public_key"])
    return key


@pytest.fixture
async def gateway(world, gateway_key) -> AsyncIterator[FakeGateway]:
    fake = FakeGateway(site=world.site.slug, key=gateway_key)
    yield fake
    await fake.close()


async def settle() -> None:
    await asyncio.sleep(0.05)
