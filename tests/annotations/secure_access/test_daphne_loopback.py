"""Through a real daphne on loopback: what a browser and a gateway actually see on the wire.

Close codes differ before and after accept (a close before accept is an HTTP 403), and daphne's
1 MiB default message limit would refuse a lossless radiograph: the product raises it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect
from websockets.typing import Origin

from site_gateway.grants import gateway_auth_message, sign_b64
from site_gateway.protocol import pack_frame, unpack_frame
from tests.product import daphne_with_world

ROOT = Path(__file__).resolve().parents[3]
ORIGIN = Origin("http://127.0.0.1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    var = tmp_path_factory.mktemp("daphne-var")
    with daphne_with_world(var, "tests.annotations.secure_access.daphne_world") as (port, world):
        world["url"] = f"ws://127.0.0.1:{port}"
        world["key"] = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(world["gateway_key"]))
        yield world


async def test_foreign_origin_is_an_http_403_before_accept(server) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(
            f"{server['url']}/ws/sessions/{server['session']}/",
            origin=Origin("http://evil.example"), additional_headers={"Cookie": server["cookie"]},
        ):  # fmt: skip
            pass
    assert refused.value.response.status_code == 403


async def test_close_code_after_accept_reaches_the_browser(server) -> None:
    async def read_until_closed() -> None:
        async with connect(
            f"{server['url']}/ws/sessions/{server['session']}/", origin=ORIGIN
        ) as ws:
            while True:
                await ws.recv()

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await read_until_closed()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def _gateway_handshake(
    ws: Any, site: str, key: Ed25519PrivateKey, session: str | None
) -> dict[str, Any]:
    challenge = json.loads(await ws.recv())
    signature = sign_b64(
        key, gateway_auth_message(nonce=challenge["nonce"], site=site, session=session)
    )
    await ws.send(
        json.dumps(
            {"type": "auth.response", "site": site, "signature": signature, "version": "loopback"}
        )
    )
    return json.loads(await ws.recv())


async def test_a_large_lossless_frame_crosses_a_real_daphne(server) -> None:
    """Gateway control link → attach → data link; a 3 MiB binary frame reaches the browser."""
    site, key, sid = server["site"], server["key"], server["session"]
    async with connect(f"{server['url']}/ws/gateway/", max_size=None) as control:
        assert (await _gateway_handshake(control, site, key, None))["type"] == "auth.ok"
        async with connect(
            f"{server['url']}/ws/sessions/{sid}/", origin=ORIGIN,
            additional_headers={"Cookie": server["cookie"]}, max_size=None,
        ) as browser:  # fmt: skip
            assert json.loads(await browser.recv())["state"] == "connecting"
            attach = json.loads(await control.recv())
            assert attach["type"] == "session.attach" and attach["session"] == sid
            async with connect(
                f"{server['url']}/ws/gateway/sessions/{sid}/", max_size=None
            ) as link:
                assert (await _gateway_handshake(link, site, key, sid))["type"] == "auth.ok"
                assert json.loads(await browser.recv())["state"] == "ready"
                image = os.urandom(3 * 1024 * 1024)
                await link.send(pack_frame({"type": "frame", "seq": 1, "format": "png"}, image))
                data = await browser.recv()
                assert isinstance(data, bytes), data
                header, payload = unpack_frame(data)
                assert header["seq"] == 1 and bytes(payload) == image
