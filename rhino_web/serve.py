"""How central is served: one daphne command line, shared by `make run`, tests and the docs."""

from __future__ import annotations

import sys

from site_gateway.protocol import MAX_BINARY_BYTES, MAX_FRAME_HEADER_BYTES


def daphne_command(*, host: str, port: int, proxy_headers: bool = False) -> list[str]:
    """daphne with limits that fit the protocol.

    daphne refuses inbound WebSocket messages — and single WebSocket frames — over 1 MiB by
    default; a gateway's lossless frame of a radiograph is bigger, so both limits follow the
    protocol's own frame cap.
    """
    limit = MAX_BINARY_BYTES + MAX_FRAME_HEADER_BYTES + 2
    command = [
        sys.executable, "-m", "daphne",
        "-b", host, "-p", str(port),
        "--websocket-max-message-size", str(limit),
        "--websocket-max-frame-size", str(limit),
        "--ping-interval", "20", "--ping-timeout", "30",
        "--application-close-timeout", "5",
    ]  # fmt: skip
    if proxy_headers:
        command.append("--proxy-headers")
    command.append("rhino_web.asgi:application")
    return command
