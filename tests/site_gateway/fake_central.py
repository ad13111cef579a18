"""A real ``websockets`` server playing central's side of the gateway protocol, for the tests.

It issues challenges signed with a test central key, checks the gateway's signatures (bound to
the session on data links), sends ``session.attach`` with grants signed by ``grants.sign_grant``
and hands the tests the gateway's data links.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import defaultdict
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from websockets.asyncio.server import Server, ServerConnection, serve

from site_gateway.grants import (
    Grant,
    central_challenge_message,
    gateway_auth_message,
    new_nonce,
    sign_b64,
    sign_grant,
    verify_b64,
)
from site_gateway.protocol import MAX_BINARY_BYTES, Action, unpack_frame

SITE = "st-elsewhere"
PROJECT = "lung-nodules"


def _seq_of(message: Any) -> object:
    return (message[0] if isinstance(message, tuple) else message).get("seq")


class DataLinkClient:
    """Central's end of one session's data link, with helpers to speak as the browser."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.seq = 0
        self.texts: list[dict[str, Any]] = []
        self.unclaimed: list[Any] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 20.0) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
        """The next message: a dict for text, (header, image bytes) for a binary frame."""
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(raw, bytes):
            header, image = unpack_frame(raw)
            return header, bytes(image)
        message: dict[str, Any] = json.loads(raw)
        self.texts.append(message)
        return message

    async def reply_to(self, seq: int, timeout: float = 20.0) -> Any:
        """The answer to request ``seq`` (skipping progress and other replies)."""
        for message in self.unclaimed:
            if _seq_of(message) == seq:
                self.unclaimed.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(deadline - time.monotonic(), 0.01))
            if _seq_of(message) == seq:
                return message
            if _seq_of(message) is not None:
                self.unclaimed.append(message)  # another request's answer: keep it for later

    async def request_frame(self, series: str, index: int, **fields: Any) -> Any:
        self.seq += 1
        await self.send(
            {"type": "frame.request", "seq": self.seq, "series": series, "index": index, **fields}
        )
        return await self.reply_to(self.seq)

    async def series_info(self, series: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        await self.send({"type": "series.info", "seq": self.seq, "series": series, **fields})
        reply: dict[str, Any] = await self.reply_to(self.seq)
        return reply


class FakeCentral:
    def __init__(self, gateway_key: Ed25519PublicKey, *, port: int = 0) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.gateway_key = gateway_key
        self.port = port
        self.server: Server | None = None
        self.control: ServerConnection | None = None
        self.control_ready = asyncio.Event()
        self.control_messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.data_links: dict[str, asyncio.Future[DataLinkClient]] = defaultdict(
            lambda: asyncio.get_running_loop().create_future()
        )
        self.auth_failures: list[str] = []
        self.sign_challenges_with: Ed25519PrivateKey | None = None  # a wrong key, to test refusal
        self.heartbeats: list[dict[str, Any]] = []
        self.digests: list[dict[str, Any]] = []  # audit.digest messages (site_gateway/site_digest)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await serve(
            self._handle, "127.0.0.1", self.port, max_size=MAX_BINARY_BYTES, compression=None
        )
        self.port = next(iter(self.server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        self.control = None
        self.control_ready.clear()

    async def _authenticate(self, ws: ServerConnection, session: str | None) -> bool:
        nonce = secrets.token_urlsafe(24)
        signer = self.sign_challenges_with or self.key
        await ws.send(
            json.dumps(
                {
                    "type": "auth.challenge",
                    "nonce": nonce,
                    "central_signature": sign_b64(signer, central_challenge_message(nonce)),
                    "protocol": 1,
                }
            )
        )
        try:
            response = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except Exception as exc:  # the gateway hung up: it refused our challenge
            self.auth_failures.append(type(exc).__name__)
            return False
        message = gateway_auth_message(nonce=nonce, site=response.get("site", ""), session=session)
        if response.get("site") != SITE or not verify_b64(
            self.gateway_key, response.get("signature", ""), message
        ):
            self.auth_failures.append("bad gateway signature")
            await ws.close(4401, "unauthenticated")
            return False
        await ws.send(json.dumps({"type": "auth.ok", "heartbeat_seconds": 1}))
        return True

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path == "/ws/gateway/":
            if not await self._authenticate(ws, None):
                return
            self.control = ws
            self.control_ready.set()
            try:
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "heartbeat":
                        self.heartbeats.append(message)
                    if message.get("type") == "audit.digest":
                        self.digests.append(message)
                        continue  # periodic, like heartbeats: never an answer to a request
                    await self.control_messages.put(message)
            finally:
                if self.control is ws:
                    self.control = None
                    self.control_ready.clear()
            return
        prefix = "/ws/gateway/sessions/"
        if path.startswith(prefix) and path.endswith("/"):
            session = path[len(prefix) : -1]
            if not await self._authenticate(ws, session):
                return
            future = self.data_links[session]
            if future.done():  # a re-attach: the new link replaces the old
                self.data_links[session] = future = asyncio.get_running_loop().create_future()
            future.set_result(DataLinkClient(ws))
            await ws.wait_closed()
            return
        await ws.close(4404, "unknown path")

    def grant(self, session: str, series: list[str], **overrides: Any) -> str:
        now = int(time.time())
        fields: dict[str, Any] = {
            "session": session,
            "user": "u_7f3a",
            "role": "annotator",
            "task": 12,
            "project": PROJECT,
            "site": SITE,
            "series": tuple(series),
            "actions": frozenset({Action.VIEW, Action.ANNOTATE}),
            "issued_at": now,
            "expires_at": now + 600,
            "nonce": new_nonce(),
        }
        key = overrides.pop("key", self.key)
        if "grant_session" in overrides:
            fields["session"] = overrides.pop("grant_session")
        fields.update(overrides)
        return sign_grant(Grant(**fields), key)

    async def attach(self, session: str, grant: str) -> None:
        await asyncio.wait_for(self.control_ready.wait(), 20)
        assert self.control is not None
        await self.control.send(
            json.dumps({"type": "session.attach", "session": session, "grant": grant})
        )

    async def data_link(self, session: str, timeout: float = 20.0) -> DataLinkClient:
        return await asyncio.wait_for(asyncio.shield(self.data_links[session]), timeout)

    async def open_session(self, session: str, series: list[str], **grant: Any) -> DataLinkClient:
        await self.attach(session, self.grant(session, series, **grant))
        link = await self.data_link(session)
        ready = await link.next()
        assert isinstance(ready, dict) and ready["type"] == "session.ready", ready
        return link

    async def control_message(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message on the control link, heartbeats included."""
        return await asyncio.wait_for(self.control_messages.get(), timeout)

    async def control_reply(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next control message that is not a heartbeat (an answer to an attach)."""
        while True:
            message = await self.control_message(timeout)
            if message.get("type") != "heartbeat":
                return message
