"""A scripted viewer for end-to-end tests: signs in over HTTP, opens a Secure Access session and
speaks the protocol over a real WebSocket through central to a real gateway."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from site_gateway.protocol import unpack_frame
from tests.product import Product


def signed_in(product: Product, username: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{product.url}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    reply = http.post(
        f"{product.url}/login/",
        data={"username": username, "password": product.password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{product.url}/login/"}, timeout=10, allow_redirects=False,
    )  # fmt: skip
    assert reply.status_code == 302, reply.text[:300]
    http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
    http.headers["Referer"] = f"{product.url}/"
    return http


@dataclass
class Viewer:
    ws: ClientConnection
    session: dict[str, Any]
    frames: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next_text(self, wanted: str, timeout: float = 30) -> dict[str, Any]:
        """The next text message of type ``wanted`` (binary frames are kept in ``frames``)."""
        import asyncio

        async with asyncio.timeout(timeout):
            while True:
                data = await self.ws.recv()
                if isinstance(data, bytes):
                    header, image = unpack_frame(data)
                    self.frames.append((header, bytes(image)))
                    continue
                message = json.loads(data)
                self.messages.append(message)
                if message.get("type") == wanted:
                    return message

    async def next_frame(self, seq: int, timeout: float = 30) -> tuple[dict[str, Any], bytes]:
        import asyncio

        async with asyncio.timeout(timeout):
            while True:
                for header, image in self.frames:
                    if header.get("seq") == seq:
                        await self.send({"type": "frame.ack", "seq": seq})
                        return header, image
                received = await self.ws.recv()
                if isinstance(received, bytes):
                    frame_header, frame_image = unpack_frame(received)
                    self.frames.append((frame_header, bytes(frame_image)))
                else:
                    message = json.loads(received)
                    self.messages.append(message)
                    if message.get("type") == "error" and message.get("seq") == seq:
                        raise AssertionError(f"frame {seq} refused: {message}")


async def open_viewer(product: Product, http: requests.Session, task_id: int) -> Viewer:
    reply = http.post(f"{product.url}/api/tasks/{task_id}/sessions/", json={}, timeout=10)
    assert reply.status_code == 201, reply.text
    session = reply.json()
    ws_url = product.url.replace("http://", "ws://") + session["websocket"]
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws = await connect(
        ws_url, origin=Origin(product.url), additional_headers={"Cookie": cookie}, max_size=None
    )
    viewer = Viewer(ws=ws, session=session)
    await viewer.next_text("session.ready")
    return viewer
