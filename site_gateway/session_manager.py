"""Attaching sessions: grant checks, the site policy, data links, revocation and expiry.

``SessionManager.attach`` is the one place a grant is accepted: central's signature, validity,
site and single use (``grants.verify_grant``), the session it names, and the projects this site
serves. Each accepted session is served by a ``sessions.Session`` until it closes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from site_gateway.grants import Grant, GrantError, ReplayGuard, verify_grant
from site_gateway.protocol import CloseCode, ErrorCode
from site_gateway.sessions import DataLink, Session, SessionServices
from site_gateway.site_audit import AuditKind

log = logging.getLogger("site_gateway.sessions")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AttachRefusedError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SessionManager:
    """Verifies grants, opens data links, runs sessions until they close, revoke or expire."""

    def __init__(
        self,
        *,
        site: str,
        central_key: Ed25519PublicKey,
        serves_project: Callable[[str], bool],
        services: SessionServices,
        open_data_link: Callable[[str], Awaitable[DataLink]],
        replay: ReplayGuard | None = None,
    ) -> None:
        self._site = site
        self._central_key = central_key
        self._serves_project = serves_project
        self.services = services
        self._open_data_link = open_data_link
        self._replay = replay or ReplayGuard()
        self.sessions: dict[str, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def check_grant(self, session_id: str, token: object) -> Grant:
        """Signature, validity, site, single use, then the site's own policy; ``AttachRefusedError``."""
        try:
            grant = verify_grant(
                token,  # type: ignore[arg-type]  # verify_grant checks the type itself
                central_key=self._central_key,
                site=self._site,
                replay=self._replay,
                now=self.services.clock(),
            )
        except GrantError as exc:
            raise AttachRefusedError(exc.code, exc.message) from None
        if not _SESSION_ID.fullmatch(session_id):
            # It becomes part of the data link's URL: nothing but a plain id may get there.
            raise AttachRefusedError(ErrorCode.GRANT_INVALID, "a session id is [A-Za-z0-9_-]{1,64}")
        if grant.session != session_id:
            raise AttachRefusedError(ErrorCode.GRANT_INVALID, "the grant is for another session")
        if not self._serves_project(grant.project):
            raise AttachRefusedError(
                ErrorCode.POLICY_REFUSED, "this site does not serve that project"
            )
        return grant

    async def attach(self, session_id: str, token: object) -> Session:
        try:
            grant = self.check_grant(session_id, token)
        except AttachRefusedError as exc:
            log.warning("session %s refused: %s", session_id[:64], exc.code)
            await self.services.audit.record_now(
                AuditKind.SESSION_REFUSED, session=session_id[:64], code=exc.code
            )
            raise
        previous = self.sessions.pop(session_id, None)
        if previous is not None:  # central re-attached (it restarted): the new link wins
            await previous.close(CloseCode.REPLACED, "re-attached")
        link = await self._open_data_link(session_id)
        session = Session(grant, link, self.services)
        self.sessions[session_id] = session
        await self.services.audit.record_now(
            AuditKind.SESSION_OPENED,
            session=session_id,
            user=grant.user,
            role=grant.role,
            task=grant.task,
            project=grant.project,
            series=list(grant.series),
            actions=sorted(grant.actions),
            grant=grant.nonce,
            expires=grant.expires_at,
        )
        task = asyncio.create_task(self._run(session), name=f"session-{session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return session

    async def _run(self, session: Session) -> None:
        delay = max(session.grant.expires_at - self.services.clock(), 0.0)
        expiry = asyncio.get_running_loop().call_later(
            delay,
            lambda: asyncio.ensure_future(
                session.close(CloseCode.EXPIRED, "the session's grant has expired")
            ),
        )
        try:
            await session.serve()
        except Exception as exc:
            log.info("session %s ended: %s", session.id, type(exc).__name__)
        finally:
            expiry.cancel()
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
            self.services.audit.record(
                AuditKind.SESSION_CLOSED,
                session=session.id,
                user=session.grant.user,
                grant=session.grant.nonce,
                frames=session.frames_served,
            )

    async def revoke(self, session_id: str) -> bool:
        session = self.sessions.get(session_id)
        if session is None:
            return False
        await session.close(CloseCode.FORBIDDEN, "revoked")
        return True

    async def aclose(self) -> None:
        for session in list(self.sessions.values()):
            await session.close(CloseCode.GOING_AWAY, "gateway stopping")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
