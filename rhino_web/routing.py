"""WebSocket routes (Secure Access sockets are added by the Secure Access work)."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
