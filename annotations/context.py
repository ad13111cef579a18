"""Per-request context that the audit chain records (source address), set at the edges.

A ContextVar rather than a parameter on every service: the HTTP middleware and the WebSocket
consumers set it once per request or message, and it is correct under asyncio as well as threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_source_address: ContextVar[str] = ContextVar("rhino_source_address", default="")


def client_address(scope: Mapping[str, Any]) -> str:
    """The peer address of an ASGI connection (daphne fills ``client``)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


def current_source_address() -> str:
    return _source_address.get()


@contextmanager
def source_address(address: str | None) -> Iterator[None]:
    token = _source_address.set((address or "")[:64])
    try:
        yield
    finally:
        _source_address.reset(token)
