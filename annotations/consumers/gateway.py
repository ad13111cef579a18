"""Gateway sockets: the control link (``/ws/gateway/``) and per-session data links.

Both authenticate by challenge–response with the site's registered Ed25519 key; central signs its
challenge too, so the gateway knows it talks to central. No cookies and no Origin: these are not
browsers, and they are routed outside the browser's Origin validator.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from annotations.console import site_access
from annotations.context import client_address, source_address
from annotations.models import SecureAccessSession, Site
from annotations.relay import relay
from annotations.services import gateways, site_requests
from annotations.services.sessions import session_group, site_group, site_waiters_group
from annotations.signing import signing_key
from site_gateway.grants import central_challenge_message, new_nonce, sign_b64
from site_gateway.protocol import (
    GATEWAY_TO_BROWSER,
    MAX_BINARY_BYTES,
    PROTOCOL_VERSION,
    SITE_REQUESTS,
    CloseCode,
    ErrorCode,
    MessageType,
    ProtocolError,
    decode,
    encode,
    error_message,
    request_id_of,
)

logger = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 10.0
HEARTBEAT_SECONDS = 10
# Site requests forwarded and not answered yet, per control link (oldest forgotten first).
MAX_PENDING_REQUESTS = 1024
# Reply types of site requests (and ``error``): routed by their ``request`` id.
SITE_REPLIES = frozenset({reply for _, reply in SITE_REQUESTS.values()} | {MessageType.ERROR})


class GatewayAuthConsumer(AsyncWebsocketConsumer):
    """Challenge on connect; nothing else is accepted until the gateway has answered it."""

    session_link: bool = False  # data links bind the session id into the signed message

    site_id: int | None = None
    site_slug: str = ""
    _nonce: str = ""
    _auth_timer: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.accept()
        self._nonce = new_nonce()
        central_signature = sign_b64(signing_key(), central_challenge_message(self._nonce))
        await self.send(
            text_data=encode(
                {
                    "type": MessageType.AUTH_CHALLENGE,
                    "nonce": self._nonce,
                    "central_signature": central_signature,
                    "protocol": PROTOCOL_VERSION,
                }
            )
        )
        self._auth_timer = asyncio.create_task(self._auth_deadline())

    async def _auth_deadline(self) -> None:
        await asyncio.sleep(AUTH_TIMEOUT_SECONDS)
        if self.site_id is None:
            await self.close(code=int(CloseCode.UNAUTHENTICATED))

    def _link_session(self) -> str | None:
        return None

    async def _authenticate(self, text: str | None) -> None:
        try:
            message = decode(text or "")
            if message["type"] != MessageType.AUTH_RESPONSE:
                raise ProtocolError(ErrorCode.BAD_MESSAGE, "authenticate first")
            slug, signature = message.get("site"), message.get("signature")
            if not isinstance(slug, str) or not isinstance(signature, str):
                raise ProtocolError(ErrorCode.BAD_MESSAGE, "auth.response needs site and signature")
        except ProtocolError:
            await self.close(code=int(CloseCode.UNAUTHENTICATED))
            return
        with source_address(client_address(self.scope)):
            site = await database_sync_to_async(gateways.gateway_authenticate)(
                slug=slug, nonce=self._nonce, signature=signature, session=self._link_session()
            )
        if site is None:
            await self.close(code=int(CloseCode.UNAUTHENTICATED))
            return
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        self.site_id, self.site_slug = site.pk, site.slug
        version = message.get("version")
        await self.authenticated(site, version if isinstance(version, str) else "")

    async def authenticated(self, site: Site, version: str) -> None:
        raise NotImplementedError  # each link type decides what authentication opens

    async def disconnect(self, code: int) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()


class GatewayControlConsumer(GatewayAuthConsumer):
    """The one control link of a site: attach and revoke requests go down it, heartbeats come up."""

    _watchdog: asyncio.Task[None] | None = None
    _last_message: float = 0.0
    _pending: dict[str, str] | None = None  # site request id → the asker's reply channel
    # Unanswered selection work re-sent on this link (site_requests.site_redeliver_pending).
    _redelivered: frozenset[str] = frozenset()
    _redeliver_more: bool = False
    _redeliver_task: asyncio.Task[None] | None = None
    _link_up_at: datetime.datetime | None = None

    async def authenticated(self, site: Site, version: str) -> None:
        assert self.site_id is not None
        await self.channel_layer.group_add(site_group(self.site_id), self.channel_name)
        # Tell an older link of this site, in whatever worker, that it has been replaced.
        await self.channel_layer.group_send(
            site_group(self.site_id), {"type": "gateway_replaced", "channel": self.channel_name}
        )
        with source_address(client_address(self.scope)):
            await database_sync_to_async(gateways.gateway_link_up)(
                site=site, link=self.channel_name, version=version
            )
        self._link_up_at = timezone.now()
        await self.send(
            text_data=encode({"type": MessageType.AUTH_OK, "heartbeat_seconds": HEARTBEAT_SECONDS})
        )
        self._last_message = asyncio.get_running_loop().time()
        self._watchdog = asyncio.create_task(self._watch_silence())
        # Browsers waiting on this site (e.g. after a gateway or central restart) attach again.
        await self.channel_layer.group_send(
            site_waiters_group(self.site_id), {"type": "site_online"}
        )
        # Selections and withdrawals the site has not answered: re-sent, off the handshake.
        self._redeliver()

    def _redeliver(self) -> None:
        if self._redeliver_task is None or self._redeliver_task.done():
            self._redeliver_task = asyncio.create_task(self._redeliver_pending())

    async def _redeliver_pending(self) -> None:
        """One bounded batch of the site's unanswered selection work; the next batch follows
        the site's answers (``_site_reply``). Errors are logged: the link stays up."""
        assert self.site_id is not None
        assert self._link_up_at is not None
        try:
            batch = await database_sync_to_async(site_requests.site_redeliver_pending)(
                site_id=self.site_id, until=self._link_up_at, skip=self._redelivered
            )
        except Exception:
            logger.exception("site %s: redelivery of selection requests failed", self.site_slug)
            return
        self._redelivered |= batch.sent
        self._redeliver_more = batch.more

    async def _watch_silence(self) -> None:
        """A link silent for three heartbeat periods is dead, whatever TCP thinks."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if loop.time() - self._last_message > 3 * HEARTBEAT_SECONDS:
                await self.close(code=int(CloseCode.GOING_AWAY))
                return

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.site_id is None:
            await self._authenticate(text_data)
            return
        self._last_message = asyncio.get_running_loop().time()
        if text_data is None:
            await self.send(text_data=encode(error_message(ErrorCode.BAD_MESSAGE, "text only")))
            return
        try:
            message = decode(text_data)
        except ProtocolError as exc:
            await self.send(text_data=encode(error_message(exc.code, exc.message)))
            return
        kind = message["type"]
        request = request_id_of(message)
        if request is not None and kind in SITE_REPLIES:
            await self._site_reply(request, message)
        elif kind == MessageType.HEARTBEAT:
            health = {
                k: message[k] for k in ("pacs", "cache", "outbox", "sessions") if k in message
            }
            version = message.get("version")
            await database_sync_to_async(gateways.gateway_heartbeat)(
                site_id=self.site_id,
                link=self.channel_name,
                version=version if isinstance(version, str) else "",
                health=health,
            )
        elif kind == MessageType.AUDIT_DIGEST:
            # The site's own audit, summed up (issue 9): stored and audited, or refused and audited.
            stored = await database_sync_to_async(site_access.site_digest_record)(
                site_id=self.site_id, message=message
            )
            if stored is None:
                await self.send(
                    text_data=encode(error_message(ErrorCode.BAD_MESSAGE, "audit.digest refused"))
                )
        elif kind == MessageType.TASK_LABELS:
            recorded = await database_sync_to_async(gateways.gateway_task_labels)(
                site_id=self.site_id,
                task_id=message.get("task"),
                revision=message.get("revision"),
                state=message.get("state"),
                count=message.get("count"),
                content_hash=message.get("content_hash"),
            )
            if not recorded:
                await self.send(
                    text_data=encode(error_message(ErrorCode.BAD_MESSAGE, "task.labels refused"))
                )
        elif kind == MessageType.ERROR and isinstance(message.get("session"), str):
            # The site refused an attach (bad grant, policy): tell that session's browser.
            await self.channel_layer.group_send(
                session_group(message["session"]),
                {
                    "type": "gateway_refused",
                    "code": str(message.get("code", ErrorCode.INTERNAL))[:40],
                    "message": str(message.get("message", ""))[:300],
                },
            )
        elif kind == MessageType.PING:
            await self.send(text_data=encode({"type": MessageType.PONG}))

    async def _site_reply(self, request: str, message: dict[str, Any]) -> None:
        """A reply to a site request: to the asker's reply channel if one waits, else applied
        here (a ``selection.written`` or ``selection.withdrawn``, whose final state may come long
        after the request)."""
        reply_channel = (self._pending or {}).pop(request, None)
        if reply_channel is not None:
            await self.channel_layer.send(reply_channel, {"type": "site.reply", "message": message})
        elif message["type"] == MessageType.SELECTION_WRITTEN:
            assert self.site_id is not None
            await database_sync_to_async(site_requests.selection_kos_report)(
                site_id=self.site_id, message=message
            )
            if self._redeliver_more:
                self._redeliver()
        elif message["type"] == MessageType.SELECTION_WITHDRAWN:
            assert self.site_id is not None
            await database_sync_to_async(site_requests.selection_withdraw_report)(
                site_id=self.site_id, message=message
            )
            if self._redeliver_more:
                self._redeliver()

    # --- channel layer events ---

    async def gateway_request(self, event: dict[str, Any]) -> None:
        """Forward a site request (annotations/services/site_requests.py) to the gateway."""
        message = event["message"]
        if self._pending is None:
            self._pending = {}
        if event.get("reply"):
            self._pending[message["request"]] = event["reply"]
            while len(self._pending) > MAX_PENDING_REQUESTS:
                self._pending.pop(next(iter(self._pending)))
        await self.send(text_data=encode(message))

    async def gateway_attach(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=encode(
                {
                    "type": MessageType.SESSION_ATTACH,
                    "session": event["session"],
                    "grant": event["grant"],
                }
            )
        )

    async def gateway_revoke(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=encode({"type": MessageType.SESSION_REVOKE, "session": event["session"]})
        )

    async def gateway_replaced(self, event: dict[str, Any]) -> None:
        if event["channel"] != self.channel_name:
            await self.close(code=int(CloseCode.REPLACED))

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._redeliver_task is not None:
            self._redeliver_task.cancel()
        if self.site_id is not None:
            await self.channel_layer.group_discard(site_group(self.site_id), self.channel_name)
            await database_sync_to_async(gateways.gateway_link_down)(
                site_id=self.site_id, link=self.channel_name
            )


class GatewaySessionConsumer(GatewayAuthConsumer):
    """A data link: the gateway's half of one session, paired in memory with the browser's socket."""

    session_id: str = ""
    _paired: bool = False

    def _link_session(self) -> str | None:
        return str(self.scope["url_route"]["kwargs"]["session_id"])

    async def authenticated(self, site: Site, version: str) -> None:
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        verdict = await database_sync_to_async(_session_verdict)(self.session_id, site.pk)
        if verdict is not None:
            await self.close(code=int(verdict))
            return
        await self.send(text_data=encode({"type": MessageType.AUTH_OK}))
        peer = relay.attach_gateway(self.session_id, self)
        if peer is None:
            # No browser socket for this session in this worker: misrouted, or the browser left.
            await self.close(code=int(CloseCode.UNKNOWN_SESSION))
            return
        self._paired = True
        await self.channel_layer.group_add(session_group(self.session_id), self.channel_name)
        if isinstance(peer, GatewaySessionConsumer):  # a newer data link replaces an older one
            await peer.close(code=int(CloseCode.REPLACED))
        pair = relay.pair(self.session_id)
        if pair is not None and pair.browser is not None:
            await pair.browser.relay_text(
                encode({"type": MessageType.SESSION_STATE, "state": "ready"})
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.site_id is None:
            await self._authenticate(text_data)
            return
        pair = relay.pair(self.session_id) if self._paired else None
        browser = pair.browser if pair is not None and pair.gateway is self else None
        if browser is None:
            return
        if bytes_data is not None:
            if len(bytes_data) > MAX_BINARY_BYTES:
                await self.send(
                    text_data=encode(error_message(ErrorCode.TOO_LARGE, "frame too large"))
                )
                return
            await browser.relay_bytes(bytes_data)
            return
        try:
            message = decode(text_data or "")
        except ProtocolError as exc:
            await self.send(text_data=encode(error_message(exc.code, exc.message)))
            return
        if message["type"] == MessageType.PING:
            await self.send(text_data=encode({"type": MessageType.PONG}))
        elif message["type"] in GATEWAY_TO_BROWSER:
            assert text_data is not None
            await browser.relay_text(text_data)  # relayed as received: opaque to central
        else:
            await self.send(
                text_data=encode(
                    error_message(ErrorCode.UNKNOWN_TYPE, f"{message['type']} is not relayed")
                )
            )

    # --- relay endpoint (called by the paired browser consumer, same worker) ---

    async def relay_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def relay_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def relay_peer_gone(self) -> None:
        await self.close(code=int(CloseCode.NORMAL))

    # --- channel layer events ---

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=int(event["code"]))

    async def session_renewed(self, event: dict[str, Any]) -> None:
        """The browser side re-attaches with a fresh grant; nothing to do on the data link."""

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self._paired:
            await self.channel_layer.group_discard(
                session_group(self.session_id), self.channel_name
            )
            peer = relay.detach(self.session_id, self)
            if peer is not None:
                await peer.relay_peer_gone()


def _session_verdict(session_id: str, site_id: int) -> CloseCode | None:
    """None if a data link for this session from this site may open; else the close code."""
    try:
        pk = uuid.UUID(session_id)
    except ValueError:
        return CloseCode.UNKNOWN_SESSION
    session = SecureAccessSession.objects.select_related("task").filter(pk=pk).first()
    if session is None:
        return CloseCode.UNKNOWN_SESSION
    if session.task.site_id != site_id:
        return CloseCode.FORBIDDEN
    if session.closed_at is not None:
        return CloseCode.FORBIDDEN
    if session.expires_at <= timezone.now():
        return CloseCode.EXPIRED
    return None
