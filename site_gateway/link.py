"""The gateway's links to central: one control link, one data link per session (outbound only).

Both authenticate the same way (docs/protocol.md, "Gateway authentication"): central proves
itself with a signature over its challenge, checked against the key pinned at enrollment, and
the gateway answers with its own signature bound to the nonce, the site and the session (or none
for the control link). The control link reconnects forever with exponential backoff and full
jitter; central re-attaches live sessions with fresh grants after any reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from site_gateway.grants import (
    central_challenge_message,
    gateway_auth_message,
    sign_b64,
    verify_b64,
)
from site_gateway.protocol import (
    MAX_BINARY_BYTES,
    PROTOCOL_VERSION,
    SITE_REQUESTS,
    CloseCode,
    ErrorCode,
    MessageType,
    ProtocolError,
    decode,
)
from site_gateway.session_manager import AttachRefusedError, SessionManager

log = logging.getLogger("site_gateway.link")
GATEWAY_VERSION: Final = "0.1.0"
AUTH_TIMEOUT: Final = 15.0
BACKOFF_BASE: Final = 0.5


class LinkAuthError(Exception):
    """Central did not prove itself, or refused us: never retried quickly, always logged."""


@dataclass(frozen=True, slots=True)
class LinkIdentity:
    site: str
    key: Ed25519PrivateKey
    central_key: Ed25519PublicKey
    version: str = GATEWAY_VERSION


async def open_link(url: str) -> ClientConnection:
    # Frames are JPEG/PNG already: per-message deflate would only cost time (DESIGN.md traps).
    return await connect(
        url,
        compression=None,
        max_size=MAX_BINARY_BYTES,
        open_timeout=AUTH_TIMEOUT,
        ping_interval=20,
        ping_timeout=20,
        close_timeout=5,
    )


async def authenticate(
    ws: ClientConnection, identity: LinkIdentity, session: str | None = None
) -> dict[str, Any]:
    """Answer central's challenge after checking its signature; returns the ``auth.ok``."""
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # lands as the inner call completes, and the cancelled link would then run on forever.
        async with asyncio.timeout(AUTH_TIMEOUT):
            challenge = decode(await ws.recv())
        nonce, signature = challenge.get("nonce"), challenge.get("central_signature")
        if (
            challenge["type"] != MessageType.AUTH_CHALLENGE
            or not isinstance(nonce, str)
            or not isinstance(signature, str)
            or not 16 <= len(nonce) <= 256
        ):
            raise LinkAuthError("central did not send a well-formed auth.challenge")
        if challenge.get("protocol") != PROTOCOL_VERSION:
            raise LinkAuthError(f"central speaks protocol {challenge.get('protocol')!r}")
        if not verify_b64(identity.central_key, signature, central_challenge_message(nonce)):
            raise LinkAuthError("the challenge is not signed by the pinned central key")
        message = gateway_auth_message(nonce=nonce, site=identity.site, session=session)
        await ws.send(
            json.dumps(
                {
                    "type": MessageType.AUTH_RESPONSE,
                    "site": identity.site,
                    "signature": sign_b64(identity.key, message),
                    "version": identity.version,
                    "protocol": PROTOCOL_VERSION,
                }
            )
        )
        async with asyncio.timeout(AUTH_TIMEOUT):
            ok: dict[str, Any] = decode(await ws.recv())
    except ProtocolError as exc:
        await ws.close(CloseCode.PROTOCOL_ERROR, "bad auth message")
        raise LinkAuthError(f"central sent a bad message during authentication: {exc}") from None
    except LinkAuthError:
        await ws.close(CloseCode.UNAUTHENTICATED, "central not authenticated")
        raise
    except TimeoutError:
        await ws.close(CloseCode.PROTOCOL_ERROR, "authentication timed out")
        raise LinkAuthError("central did not complete authentication in time") from None
    if ok["type"] != MessageType.AUTH_OK:
        await ws.close(CloseCode.PROTOCOL_ERROR, "expected auth.ok")
        raise LinkAuthError(f"central answered {ok['type']} instead of auth.ok")
    return ok


async def open_data_link(url: str, identity: LinkIdentity, session: str) -> ClientConnection:
    ws = await open_link(url)
    try:
        await authenticate(ws, identity, session)
    except BaseException:
        await ws.close()
        raise
    return ws


def backoff_delay(attempt: int, cap: float, rng: Callable[[float, float], float]) -> float:
    """Full jitter (uniform in 0…min(cap, base·2^attempt)): reconnecting gateways spread out."""
    return rng(0.0, min(cap, BACKOFF_BASE * 2 ** min(attempt, 30)))


class ControlLink:
    """Keeps one authenticated control link up, forever; answers attach/revoke; heartbeats."""

    def __init__(
        self,
        *,
        url: str,
        identity: LinkIdentity,
        manager: SessionManager,
        status: Callable[[], Mapping[str, Any]],
        heartbeat_seconds: float = 10.0,
        reconnect_cap: float = 30.0,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._url = url
        self._identity = identity
        self._manager = manager
        self.status = status
        self._heartbeat_seconds = heartbeat_seconds
        self._cap = reconnect_cap
        self._rng = rng
        self.connected = asyncio.Event()
        self.connections = 0  # successful authentications so far (tests, doctor)
        self._attaches: set[asyncio.Task[None]] = set()
        self._ws: ClientConnection | None = None
        # Site requests (browse, select, agreement): handed over as they come, served elsewhere
        # (site_gateway.site_requests) in their own tasks; set by the gateway's wiring.
        self.on_request: Callable[[dict[str, Any]], None] | None = None

    async def run_forever(self) -> None:
        attempt = 0
        while True:
            try:
                ws = await open_link(self._url)
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.warning("central unreachable at %s: %s", self._url, exc)
            else:
                try:
                    ok = await authenticate(ws, self._identity)
                    attempt = 0
                    self.connections += 1
                    log.info("control link up (%s)", self._url)
                    await self._serve(ws, ok)
                except LinkAuthError as exc:
                    log.error("control link authentication failed: %s", exc)
                except ConnectionClosed as exc:
                    log.warning("control link closed: %s", exc)
                finally:
                    self.connected.clear()
                    await ws.close()
            delay = backoff_delay(attempt, self._cap, self._rng)
            attempt += 1
            await asyncio.sleep(delay)

    async def _serve(self, ws: ClientConnection, ok: Mapping[str, Any]) -> None:
        period = ok.get("heartbeat_seconds", self._heartbeat_seconds)
        if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
            period = self._heartbeat_seconds
        self.connected.set()
        self._ws = ws
        heartbeat = asyncio.create_task(self._heartbeat(ws, float(period)))
        try:
            while True:
                # recv() raises ConnectionClosed at the end; plain recv() rather than
                # ``async for``, which we saw keep a cancelled task waiting (Python 3.11).
                await self._dispatch(ws, await ws.recv())
        finally:
            self._ws = None
            heartbeat.cancel()
            # gather, not suppress(CancelledError): a cancellation of this task itself must
            # propagate, or run_forever would reconnect instead of stopping.
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def send_control(self, message: Mapping[str, Any]) -> bool:
        """Send on the control link if it is up; False if not (the caller tries again later)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(message, separators=(",", ":")))
        except ConnectionClosed:
            return False
        return True

    async def _heartbeat(self, ws: ClientConnection, period: float) -> None:
        while True:
            message = {
                "type": MessageType.HEARTBEAT,
                "version": self._identity.version,
                "sessions": len(self._manager.sessions),
                **self.status(),
            }
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(message, separators=(",", ":")))
            await asyncio.sleep(period)

    async def _dispatch(self, ws: ClientConnection, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            await _send_error(ws, ErrorCode.BAD_MESSAGE, "the control link carries text only")
            return
        try:
            message = decode(raw)
        except ProtocolError as exc:
            await _send_error(ws, exc.code, exc.message)
            return
        kind, session = message["type"], message.get("session")
        if kind == MessageType.SESSION_ATTACH and isinstance(session, str):
            # A task per attach: opening a data link must not hold up the next control message.
            task = asyncio.create_task(self._attach(ws, session, message.get("grant")))
            self._attaches.add(task)
            task.add_done_callback(self._attaches.discard)
        elif kind == MessageType.SESSION_REVOKE and isinstance(session, str):
            await self._manager.revoke(session)
        elif kind == MessageType.PING:
            await ws.send(json.dumps({"type": MessageType.PONG, "seq": message.get("seq")}))
        elif kind in SITE_REQUESTS and self.on_request is not None:
            self.on_request(message)  # returns at once: the request runs as its own task
        elif kind in (MessageType.SESSION_ATTACH, MessageType.SESSION_REVOKE):
            await _send_error(ws, ErrorCode.BAD_MESSAGE, f"{kind} needs a 'session' string")
        else:
            await _send_error(ws, ErrorCode.NOT_ALLOWED, f"{kind} is not a control message")

    async def _attach(self, ws: ClientConnection, session: str, grant: object) -> None:
        try:
            await self._manager.attach(session, grant)
        except AttachRefusedError as exc:
            await _send_error(ws, exc.code, exc.message, session=session)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed, LinkAuthError) as exc:
            log.warning("session %s: data link failed: %s", session, exc)
            await _send_error(ws, ErrorCode.SESSION_CLOSED, "the data link failed", session=session)

    async def aclose(self) -> None:
        for task in list(self._attaches):
            task.cancel()
        await asyncio.gather(*self._attaches, return_exceptions=True)


async def _send_error(
    ws: ClientConnection, code: ErrorCode, message: str, *, session: str | None = None
) -> None:
    reply: dict[str, Any] = {"type": MessageType.ERROR, "code": code, "message": message}
    if session is not None:
        reply["session"] = session
    with contextlib.suppress(ConnectionClosed):
        await ws.send(json.dumps(reply))
