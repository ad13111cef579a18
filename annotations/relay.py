"""The in-process frame relay: pairs a session's browser socket with its gateway data link.

Both sockets of one session land in the same daphne worker (session-affine routing, see
docs/protocol.md), so frames cross central as Python object references handed from one consumer to
the other — never through the channel layer, the database, logs or disk.

Flow control: the browser acknowledges painted frames (``frame.ack``). At most
``MAX_UNACKED_FRAMES`` frames may be on their way to one browser; beyond that, frames are dropped
and the browser is told which (``error {code: "cancelled", seq}``: it asks again for what it still
wants), so a slow or hostile browser cannot grow central's memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

MAX_UNACKED_FRAMES = 8


class Endpoint(Protocol):
    async def relay_text(self, text: str) -> None: ...

    async def relay_bytes(self, data: bytes) -> None: ...

    async def relay_peer_gone(self) -> None: ...


@dataclass
class SessionPair:
    browser: Endpoint | None = None
    gateway: Endpoint | None = None
    unacked: deque[int] = field(default_factory=deque)
    frames_relayed: int = 0
    frames_dropped: int = 0

    def frame_allowed(self, seq: int | None) -> bool:
        """Count a frame toward the browser; False if it must be dropped (window full)."""
        if len(self.unacked) >= MAX_UNACKED_FRAMES:
            self.frames_dropped += 1
            return False
        self.unacked.append(seq if seq is not None else -1)
        self.frames_relayed += 1
        return True

    def ack(self, seq: int) -> None:
        """Everything up to ``seq`` has been painted (or given up on) by the browser.

        Frames may complete out of order at the site, so drop every seq ≤ the ack (≤ 8 items).
        """
        self.unacked = deque(s for s in self.unacked if s > seq)


class Relay:
    """Session id → pair, for this process only."""

    def __init__(self) -> None:
        self._pairs: dict[str, SessionPair] = {}

    def pair(self, session_id: str) -> SessionPair | None:
        return self._pairs.get(session_id)

    def attach_browser(self, session_id: str, endpoint: Endpoint) -> Endpoint | None:
        """Register the browser side; returns a browser socket it replaces, if any."""
        pair = self._pairs.setdefault(session_id, SessionPair())
        previous, pair.browser = pair.browser, endpoint
        pair.unacked.clear()
        return previous

    def attach_gateway(self, session_id: str, endpoint: Endpoint) -> Endpoint | None:
        """Register the gateway's data link; None means no browser waits here (misrouted)."""
        pair = self._pairs.get(session_id)
        if pair is None or pair.browser is None:
            return None
        previous, pair.gateway = pair.gateway, endpoint
        return previous if previous is not None else pair.browser

    def detach(self, session_id: str, endpoint: Endpoint) -> Endpoint | None:
        """Forget ``endpoint``; returns the peer that should be told, if any."""
        pair = self._pairs.get(session_id)
        if pair is None:
            return None
        peer: Endpoint | None = None
        if pair.browser is endpoint:
            pair.browser, peer = None, pair.gateway
            pair.gateway = None
        elif pair.gateway is endpoint:
            pair.gateway, peer = None, pair.browser
            pair.unacked.clear()
        if pair.browser is None and pair.gateway is None:
            del self._pairs[session_id]
        return peer

    def __len__(self) -> int:
        return len(self._pairs)


# One relay per process (per daphne worker).
relay = Relay()
