"""The browser's Secure Access socket, ``/ws/sessions/<id>/``.

Accept first, then check (so the browser sees our close code, not an HTTP 403): signed in, the
session exists and is this user's, live, and its site online. Then ask the site's gateway to attach
with a freshly signed grant and relay between the browser and the gateway's data link.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.console import site_access
from annotations.context import client_address, source_address
from annotations.models import AuditOutcome, CloseReason, SecureAccessSession
from annotations.relay import relay
from annotations.services.audit import audit_record
from annotations.services.sessions import (
    session_expire_due,
    session_grant,
    session_group,
    site_group,
    site_waiters_group,
    user_group,
)
from site_gateway.protocol import (
    BROWSER_TO_GATEWAY,
    Action,
    CloseCode,
    ErrorCode,
    MessageType,
    ProtocolError,
    decode,
    encode,
    error_message,
    peek_frame_seq,
)

# How often the socket re-reads its session: a lost channel-layer message still closes within 5 s.
POLL_SECONDS = 2.0
ATTACH_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class _Live:
    site_id: int
    expires_at: datetime.datetime
    actions: frozenset[Action]


def _check_session(session_id: str, user: Any) -> _Live | CloseCode:
    """The live session's facts, or the close code (denials of someone else's session audited)."""
    try:
        pk = uuid.UUID(session_id)
    except ValueError:
        return CloseCode.UNKNOWN_SESSION
    session = SecureAccessSession.objects.select_related("task", "task__site").filter(pk=pk).first()
    if session is None:
        return CloseCode.UNKNOWN_SESSION
    if session.user_id != user.pk:
        audit_record(
            actor=user, action=AuditAction.SESSION_DENIED, outcome=AuditOutcome.MINOR_FAILURE,
            obj=session, project_id=session.task.project_id, site_id=session.task.site_id,
            detail={"reason": "another user's session"},
        )  # fmt: skip
        return CloseCode.FORBIDDEN
    if session.closed_at is not None:
        if session.close_reason == CloseReason.EXPIRED:
            return CloseCode.EXPIRED
        if session.close_reason == CloseReason.LOGGED_OUT:
            return CloseCode.UNAUTHENTICATED
        return CloseCode.FORBIDDEN
    if session.expires_at <= timezone.now():
        session_expire_due()
        return CloseCode.EXPIRED
    if not session.task.site.is_online:
        return CloseCode.SITE_OFFLINE
    actions = frozenset(Action(a) for a in session.scope.get("actions", []))
    return _Live(site_id=session.task.site_id, expires_at=session.expires_at, actions=actions)


def _refusal_text(session_id: str, user: Any, code: CloseCode) -> str:
    """What the viewer is told: why the user's own closed session ended (a revoke seen by the
    poll, when the channel layer lost the session.ended message, reads as plainly as the message)."""
    if code == CloseCode.FORBIDDEN:
        reason = (
            SecureAccessSession.objects.filter(pk=session_id, user_id=user.pk)
            .values_list("close_reason", flat=True)
            .first()
        )
        if reason in _ENDED_TEXT:
            return _ENDED_TEXT[reason]
    return _CLOSE_TEXT.get(code, "session ended")


def _grant_for(session_id: str) -> str:
    session = SecureAccessSession.objects.select_related(
        "user", "task", "task__project", "task__site", "task__label_schema"
    ).get(pk=session_id)
    return session_grant(session=session)


class BrowserSessionConsumer(AsyncWebsocketConsumer):
    session_id: str = ""
    live: _Live | None = None
    _watch: asyncio.Task[None] | None = None
    _attach_requested_at: float | None = None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=int(CloseCode.UNAUTHENTICATED))
            return
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        with source_address(client_address(self.scope)):
            verdict = await database_sync_to_async(_check_session)(self.session_id, user)
        if isinstance(verdict, CloseCode):
            text = await database_sync_to_async(_refusal_text)(self.session_id, user, verdict)
            await self._end(verdict, text)
            return
        self.live = verdict
        previous = relay.attach_browser(self.session_id, self)
        if isinstance(previous, BrowserSessionConsumer):  # a second tab takes the session over
            await previous.close(code=int(CloseCode.REPLACED))
        for group in self._groups():
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send(
            text_data=encode({"type": MessageType.SESSION_STATE, "state": "connecting"})
        )
        await self._request_attach()
        self._watch = asyncio.create_task(self._watch_session())

    def _groups(self) -> list[str]:
        assert self.live is not None
        return [
            session_group(self.session_id),
            user_group(self.scope["user"].pk),
            site_waiters_group(self.live.site_id),
        ]

    async def _request_attach(self) -> None:
        assert self.live is not None
        grant = await database_sync_to_async(_grant_for)(self.session_id)
        self._attach_requested_at = asyncio.get_running_loop().time()
        await self.channel_layer.group_send(
            site_group(self.live.site_id),
            {"type": "gateway_attach", "session": self.session_id, "grant": grant},
        )

    async def _watch_session(self) -> None:
        """Re-read the session every POLL_SECONDS; enforce expiry and the attach deadline."""
        loop = asyncio.get_running_loop()
        user = self.scope["user"]
        while True:
            await asyncio.sleep(POLL_SECONDS)
            verdict = await database_sync_to_async(_check_session)(self.session_id, user)
            if isinstance(verdict, CloseCode):
                text = await database_sync_to_async(_refusal_text)(self.session_id, user, verdict)
                await self._end(verdict, text)
                return
            self.live = verdict
            pair = relay.pair(self.session_id)
            waiting = pair is None or pair.gateway is None
            started = self._attach_requested_at
            if waiting and started is not None and loop.time() - started > ATTACH_TIMEOUT_SECONDS:
                await self._end(CloseCode.SITE_OFFLINE, "the site did not answer")
                return

    async def _end(self, code: CloseCode, text: str) -> None:
        error = (
            ErrorCode.SITE_OFFLINE if code == CloseCode.SITE_OFFLINE else ErrorCode.SESSION_CLOSED
        )
        await self._error(error, text)
        await self.close(code=int(code))

    async def _error(self, code: ErrorCode, text: str, seq: int | None = None) -> None:
        await self.send(text_data=encode(error_message(code, text, seq=seq)))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.live is None:
            return
        if text_data is None:
            await self._error(ErrorCode.BAD_MESSAGE, "text messages only")
            return
        try:
            message = decode(text_data)
        except ProtocolError as exc:
            await self._error(exc.code, exc.message)
            return
        kind, seq = message["type"], _int_or_none(message.get("seq"))
        if kind == MessageType.FRAME_ACK:
            pair = relay.pair(self.session_id)
            if seq is None:
                await self._error(ErrorCode.BAD_MESSAGE, "frame.ack needs an integer seq")
            elif pair is not None:
                pair.ack(seq)
            return
        needs = BROWSER_TO_GATEWAY.get(kind)
        if needs is None:
            await self._error(ErrorCode.UNKNOWN_TYPE, f"{kind} is not accepted here", seq)
        elif not needs & self.live.actions:
            await self._error(ErrorCode.NOT_ALLOWED, f"this session does not allow {kind}", seq)
        elif (pair := relay.pair(self.session_id)) is None or pair.gateway is None:
            await self._error(ErrorCode.SITE_OFFLINE, "the site is not attached yet", seq)
        else:
            await pair.gateway.relay_text(text_data)  # opaque: forwarded as received

    # --- relay endpoint (called by the paired gateway data link, same worker) ---

    async def relay_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def relay_bytes(self, data: bytes) -> None:
        pair = relay.pair(self.session_id)
        if pair is None:
            return
        seq = peek_frame_seq(data)
        if not pair.frame_allowed(seq):
            # The browser is behind: drop the frame and say so, so that its request still gets
            # one answer and the viewer asks again for what it still wants.
            if seq is not None:
                await self._error(
                    ErrorCode.CANCELLED, "dropped: too many frames unacknowledged", seq
                )
            return
        await self.send(bytes_data=data)

    async def relay_peer_gone(self) -> None:
        await self.send(
            text_data=encode({"type": MessageType.SESSION_STATE, "state": "reconnecting"})
        )
        self._attach_requested_at = asyncio.get_running_loop().time()

    # --- channel layer events ---

    async def session_ended(self, event: dict[str, Any]) -> None:
        reason = str(event.get("reason", "ended"))
        await self._end(CloseCode(int(event["code"])), _ENDED_TEXT.get(reason, f"session {reason}"))

    async def session_renewed(self, event: dict[str, Any]) -> None:
        """Expiry moved: the site gets a fresh grant with the new expiry (a new attach)."""
        await self._request_attach()

    async def site_online(self, event: dict[str, Any]) -> None:
        pair = relay.pair(self.session_id)
        if pair is None or pair.gateway is None:
            await self._request_attach()

    async def gateway_refused(self, event: dict[str, Any]) -> None:
        """The site refused the grant (or its policy did): nothing will be served."""
        known = event["code"] in ErrorCode.__members__.values()
        await self._error(
            ErrorCode(event["code"]) if known else ErrorCode.POLICY_REFUSED, event["message"]
        )
        await self.close(code=int(CloseCode.FORBIDDEN))

    async def user_logout(self, event: dict[str, Any]) -> None:
        await self._end(CloseCode.UNAUTHENTICATED, "signed out")

    async def disconnect(self, code: int) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.live is None:
            return
        for group in self._groups():
            await self.channel_layer.group_discard(group, self.channel_name)
        pair = relay.pair(self.session_id)
        if pair is not None and pair.browser is self:
            # What central relayed for the site access page (issue 9); the relay forgets it.
            relayed, dropped = pair.frames_relayed, pair.frames_dropped
            pair.frames_relayed = pair.frames_dropped = 0
            await database_sync_to_async(site_access.session_relay_count_add)(
                session_id=self.session_id, relayed=relayed, dropped=dropped
            )
        peer = relay.detach(self.session_id, self)
        if peer is not None:
            await peer.relay_peer_gone()


# What the viewer shows when central ends a live session (issue 9: a revoke must say so plainly).
_ENDED_TEXT = {
    "revoked": "Access revoked: an administrator or the site's custodian ended this session.",
    "expired": "the session has expired",
    "logged_out": "signed out",
}

_CLOSE_TEXT = {
    CloseCode.UNAUTHENTICATED: "not signed in",
    CloseCode.FORBIDDEN: "this session is closed or not yours",
    CloseCode.UNKNOWN_SESSION: "no such session",
    CloseCode.EXPIRED: "the session has expired",
    CloseCode.SITE_OFFLINE: "the site's gateway is offline",
}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
