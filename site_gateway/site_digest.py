"""The site audit digest: what this gateway tells central about its own chain (issue 9).

Central cannot read the site audit (it stays at the hospital), yet it must be able to notice a
site that served frames central never granted, or a chain rewritten behind its back. So every
``digest_seconds`` and at once on each (re)connect the gateway sends an ``audit.digest`` over the
control link with PHI-free content only:

- the chain head: the last entry's ``seq`` (its row id) and ``hash`` (its mac);
- the time window the counts cover: ``[from, to]`` in Unix seconds (``window_seconds`` back);
- frames served per Secure Access session id and per user pseudonym — the ids central put in
  the grant, nothing the site derived from DICOM.

The counts are kept incrementally: each refresh reads only the entries written since the last one
(``id > last``), so a long chain costs one scan at start-up, not one per digest. At most
``MAX_DIGEST_SESSIONS`` sessions (the most recently active) travel in one digest; ``truncated``
says when some were left out, so central never mistakes a cut list for the whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from site_gateway.protocol import MessageType
from site_gateway.site_audit import GENESIS, AuditKind

log = logging.getLogger("site_gateway.digest")

# Central refuses a digest with more (annotations/services/site_digest.py keeps the same bound).
MAX_DIGEST_SESSIONS: Final = 500
MAX_ID_LENGTH: Final = 64


@dataclass(slots=True)
class _Tally:
    user: str
    frames: int
    first_at: float
    last_at: float


class DigestBuilder:
    """Frames served per session and user over a sliding window, read from the site audit file."""

    def __init__(
        self,
        path: str | Path,
        *,
        window_seconds: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
        self._path = Path(path)
        self._window = float(window_seconds)
        self._clock = clock
        self._last_id = 0
        self._head: tuple[int, str] = (0, GENESIS)
        self._sessions: dict[str, _Tally] = {}

    def refresh(self) -> None:
        """Read the entries written since the last refresh (a read-only connection of its own)."""
        if not self._path.exists():
            return
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
        try:
            since = self._clock() - self._window
            rows = db.execute(
                "SELECT id, at, kind, entry, mac FROM audit WHERE id > ? ORDER BY id",
                (self._last_id,),
            )
            for row_id, at, kind, entry, mac in rows:
                self._last_id = row_id
                self._head = (row_id, mac)
                if kind != AuditKind.FRAME_SERVED or at < since:
                    continue
                fields = json.loads(entry)
                session, user = fields.get("session"), fields.get("user")
                if not _plain_id(session) or not _plain_id(user):
                    continue  # not an id central gave: nothing to report about it
                tally = self._sessions.get(session)
                if tally is None:
                    self._sessions[session] = _Tally(user, 1, at, at)
                else:
                    tally.frames += 1
                    tally.last_at = max(tally.last_at, at)
        finally:
            db.close()
        # Sessions whose last frame left the window are no longer reported.
        for session in [s for s, t in self._sessions.items() if t.last_at < since]:
            del self._sessions[session]

    def digest(self) -> dict[str, Any]:
        """The ``audit.digest`` message for the entries read so far."""
        now = self._clock()
        recent = sorted(self._sessions.items(), key=lambda item: item[1].last_at, reverse=True)
        shown = recent[:MAX_DIGEST_SESSIONS]
        users: dict[str, int] = {}
        for _, tally in recent:
            users[tally.user] = users.get(tally.user, 0) + tally.frames
        by_user = sorted(users.items(), key=lambda item: -item[1])[:MAX_DIGEST_SESSIONS]
        seq, head = self._head
        return {
            "type": MessageType.AUDIT_DIGEST,
            "head": {"seq": seq, "hash": head},
            "window": {"from": round(now - self._window, 3), "to": round(now, 3)},
            "sessions": [
                {
                    "session": session,
                    "user": tally.user,
                    "frames": tally.frames,
                    "first": round(tally.first_at, 3),
                    "last": round(tally.last_at, 3),
                }
                for session, tally in shown
            ],
            "users": [{"user": user, "frames": frames} for user, frames in by_user],
            "truncated": len(recent) > len(shown) or len(users) > len(by_user),
        }


def _plain_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isascii()


class DigestSender:
    """Sends a digest when the control link comes up and every ``period`` seconds while it is up."""

    def __init__(
        self,
        builder: DigestBuilder,
        *,
        send: Callable[[Mapping[str, Any]], Awaitable[bool]],
        connections: Callable[[], int],
        flush: Callable[[], object] | None = None,
        period: float = 60.0,
        poll: float = 0.5,
    ) -> None:
        self._builder = builder
        self._send = send
        self._connections = connections
        self._flush = flush
        self._period = period
        self._poll = min(poll, period)
        self.sent = 0  # digests sent so far (tests, doctor)

    async def send_now(self) -> bool:
        if self._flush is not None:
            await asyncio.to_thread(self._flush)  # the head reported is what is on disk
        await asyncio.to_thread(self._builder.refresh)
        delivered = await self._send(self._builder.digest())
        if delivered:
            self.sent += 1
        return delivered

    async def run(self) -> None:
        """Forever: on each new connection at once, then every ``period`` seconds."""
        seen = 0
        due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            connections = self._connections()
            if connections and (connections != seen or loop.time() >= due):
                try:
                    delivered = await self.send_now()
                except (OSError, ValueError, sqlite3.Error) as exc:
                    log.warning("audit digest not built: %s", exc)
                    # Try again next period, not at every poll (no log flood).
                    seen, due = connections, loop.time() + self._period
                    delivered = False
                if delivered:
                    seen = connections
                    due = loop.time() + self._period
            await asyncio.sleep(self._poll)

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.run(), name="audit-digest")
