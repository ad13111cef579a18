"""A stand-in site gateway for the viewer's browser tests until the real one is wired into the
``product`` fixture: it speaks the wire protocol to the real central over real WebSockets,
verifies grants, renders a synthetic CT (numpy + Pillow, windowed, JPEG preview / PNG lossless),
keeps the newest frame request per plane, and stores label documents in a folder (its "site store").

No tests live here; the name keeps it among the viewer's test files.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from site_gateway.grants import (
    Grant,
    ReplayGuard,
    central_challenge_message,
    gateway_auth_message,
    sign_b64,
    verify_b64,
    verify_grant,
)
from site_gateway.protocol import (
    ErrorCode,
    MessageType,
    ProtocolError,
    encode,
    error_message,
    pack_frame,
    parse_frame_request,
)

SLICES, ROWS, COLUMNS = 80, 512, 512
PIXEL_SPACING = [0.7, 0.7]
SLICE_SPACING = 2.5
DEFAULT_WINDOW = {"center": 40.0, "width": 400.0}


def phantom() -> npt.NDArray[np.int16]:
    """A body-shaped phantom in HU: air outside, soft tissue, two lungs, a spine, a nodule."""
    y, x = np.ogrid[0:ROWS, 0:COLUMNS]
    y = (y - ROWS / 2) / (ROWS / 2)
    x = (x - COLUMNS / 2) / (COLUMNS / 2)
    volume = np.empty((SLICES, ROWS, COLUMNS), np.int16)
    for z in range(SLICES):
        t = z / SLICES
        plane = np.full((ROWS, COLUMNS), -1000, np.int16)
        plane[(x / 0.85) ** 2 + (y / 0.6) ** 2 < 1] = 40
        for side in (-0.4, 0.4):
            lung = ((x - side) / (0.28 + 0.05 * np.sin(t * 3))) ** 2 + ((y + 0.05) / 0.42) ** 2 < 1
            plane[lung] = -850
        plane[(x**2 + ((y - 0.4) / 0.8) ** 2) < 0.12**2] = 700
        if abs(z - SLICES / 2) < 4:
            plane[(x - 0.35) ** 2 + (y + 0.1) ** 2 < 0.05**2] = 60
        volume[z] = plane + (z % 7) * 3  # slices differ, so a scroll changes pixels
    return volume


def render(plane_pixels: npt.NDArray[np.int16], window: Mapping[str, float], png: bool) -> bytes:
    low = window["center"] - window["width"] / 2
    scaled = (plane_pixels.astype(np.float32) - low) * (255.0 / window["width"])
    image = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    out = io.BytesIO()
    if png:
        image.save(out, "PNG", compress_level=1)
    else:
        image.save(out, "JPEG", quality=80)
    return out.getvalue()


@dataclass
class FakeSite:
    url: str  # ws://host:port
    site: str
    key: Ed25519PrivateKey
    central_key: Ed25519PublicKey
    store: Path
    volume: npt.NDArray[np.int16] = field(default_factory=phantom)
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    loop: asyncio.AbstractEventLoop | None = None
    frames_served: int = 0
    _stop: asyncio.Event | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    online: threading.Event = field(default_factory=threading.Event)

    # -- lifecycle (a thread of its own, so the synchronous Playwright tests can run beside it) --

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            self.loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            self.loop.call_soon(ready.set)
            self.loop.run_until_complete(self._run())

        threading.Thread(target=main, name="fake-site", daemon=True).start()
        ready.wait(10)

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)

    async def _run(self) -> None:
        assert self._stop is not None
        control = asyncio.create_task(self._control())
        await self._stop.wait()
        control.cancel()

    async def _handshake(self, ws: ClientConnection, session: str | None) -> None:
        challenge = json.loads(await ws.recv())
        assert challenge["type"] == MessageType.AUTH_CHALLENGE
        assert verify_b64(
            self.central_key,
            challenge["central_signature"],
            central_challenge_message(challenge["nonce"]),
        )
        signature = sign_b64(
            self.key,
            gateway_auth_message(nonce=challenge["nonce"], site=self.site, session=session),
        )
        await ws.send(
            encode(
                {
                    "type": MessageType.AUTH_RESPONSE,
                    "site": self.site,
                    "signature": signature,
                    "version": "fake-site-1",
                    "protocol": 1,
                }
            )
        )
        ok = json.loads(await ws.recv())
        assert ok["type"] == MessageType.AUTH_OK, ok

    async def _control(self) -> None:
        while True:
            try:
                async with connect(f"{self.url}/ws/gateway/", max_size=None) as ws:
                    await self._handshake(ws, None)
                    self.online.set()
                    async for raw in ws:
                        message = json.loads(raw)
                        if message["type"] == MessageType.SESSION_ATTACH:
                            task = asyncio.create_task(self._attach(message))
                            self._tasks.add(task)
                            task.add_done_callback(self._tasks.discard)
            except (OSError, ConnectionClosed):
                await asyncio.sleep(0.2)

    async def _attach(self, message: Mapping[str, Any]) -> None:
        grant = verify_grant(
            message["grant"], central_key=self.central_key, site=self.site, replay=self.replay
        )
        async with connect(
            f"{self.url}/ws/gateway/sessions/{grant.session}/", max_size=None, compression=None
        ) as ws:
            await self._handshake(ws, grant.session)
            await ws.send(
                encode(
                    {
                        "type": MessageType.SESSION_READY,
                        "session": grant.session,
                        "series": list(grant.series),
                        "actions": sorted(grant.actions),
                    }
                )
            )
            await _Session(self, grant, ws).serve()


class _Session:
    def __init__(self, site: FakeSite, grant: Grant, ws: ClientConnection) -> None:
        self.site, self.grant, self.ws = site, grant, ws
        self.pending: dict[str, Any] = {}
        self.wake = asyncio.Event()

    async def serve(self) -> None:
        worker = asyncio.create_task(self._frames())
        try:
            async for raw in self.ws:
                await self._dispatch(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            worker.cancel()

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind, seq = message["type"], message.get("seq")
        if kind == MessageType.SERIES_INFO:
            await self._series_info(seq)
        elif kind == MessageType.FRAME_REQUEST:
            try:
                request = parse_frame_request(message)
            except ProtocolError as exc:
                await self.ws.send(encode(error_message(exc.code, exc.message, seq=seq)))
                return
            old = self.pending.get(request.plane)
            if old is not None:  # newest request wins
                await self.ws.send(
                    encode(error_message(ErrorCode.CANCELLED, "superseded", seq=old.seq))
                )
            self.pending[request.plane] = request
            self.wake.set()
        elif kind == MessageType.LABEL_LOAD:
            path = self._store_path()
            if not path.exists():  # as the real label service answers
                await self.ws.send(encode(error_message(ErrorCode.NOT_FOUND, "none yet", seq=seq)))
                return
            stored = json.loads(path.read_text())
            await self.ws.send(
                encode(
                    {
                        "type": MessageType.LABEL_DOCUMENT,
                        "seq": seq,
                        "document": stored["document"],
                        "revision": stored["revision"],
                    }
                )
            )
        elif kind == MessageType.LABEL_SAVE:
            await self._label_save(message)

    def _store_path(self) -> Path:
        return self.site.store / f"task-{self.grant.task}.json"

    async def _label_save(self, message: Mapping[str, Any]) -> None:
        seq, document = message.get("seq"), message.get("document")
        path = self._store_path()
        stored = json.loads(path.read_text()) if path.exists() else None
        revision = stored["revision"] if stored else None
        if not isinstance(document, dict) or document.get("task") != self.grant.task:
            await self.ws.send(
                encode(error_message(ErrorCode.LABEL_INVALID, "not this task", seq=seq))
            )
            return
        if document.get("base_revision") != revision:
            await self.ws.send(
                encode(error_message(ErrorCode.LABEL_CONFLICT, "stale base", seq=seq))
            )
            return
        new = (revision or 0) + 1
        self.site.store.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"revision": new, "document": document}))
        await self.ws.send(encode({"type": MessageType.LABEL_SAVED, "seq": seq, "revision": new}))
        await asyncio.sleep(0.3)
        await self.ws.send(
            encode({"type": MessageType.LABEL_STATUS, "revision": new, "state": "stored_in_pacs"})
        )

    async def _series_info(self, seq: object) -> None:
        handle = self.grant.series[0]
        await self.ws.send(
            encode(
                {
                    "type": MessageType.RETRIEVE_PROGRESS, "series": handle, "received": SLICES,
                    "failed": 0, "total": SLICES, "done": True,
                }
            )
        )  # fmt: skip
        await self.ws.send(
            encode(
                {
                    "type": MessageType.SERIES_INFO, "seq": seq, "series": handle, "modality": "CT",
                    "rows": ROWS, "columns": COLUMNS, "slices": SLICES,
                    "pixel_spacing": PIXEL_SPACING, "slice_thickness": SLICE_SPACING,
                    "spacing": SLICE_SPACING, "uneven_spacing": False,
                    "default_window": DEFAULT_WINDOW, "windows": [DEFAULT_WINDOW],
                    "description": "<img src=x onerror=alert(1)> Chest", "body_part": "CHEST",
                    "photometric": "MONOCHROME2", "complete": True,
                    "positions": [round(-100 + i * SLICE_SPACING, 4) for i in range(SLICES)],
                    "planes": ["axial", "coronal", "sagittal"],
                }
            )
        )  # fmt: skip

    async def _frames(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            for plane in list(self.pending):
                request = self.pending.pop(plane)
                await self._serve(request)

    async def _serve(self, request: Any) -> None:
        volume = self.site.volume
        plane = str(request.plane)
        if request.series not in self.grant.series:
            await self.ws.send(encode(error_message(ErrorCode.OUT_OF_SCOPE, "no", seq=request.seq)))
            return
        limit = {"axial": SLICES, "coronal": ROWS, "sagittal": COLUMNS}[plane]
        if request.index >= limit:
            await self.ws.send(encode(error_message(ErrorCode.NOT_FOUND, "index", seq=request.seq)))
            return
        pixels = {
            "axial": lambda: volume[request.index],
            "coronal": lambda: volume[:, request.index, :],
            "sagittal": lambda: volume[:, :, request.index],
        }[plane]()
        window = (
            {"center": request.window.center, "width": request.window.width}
            if request.window
            else DEFAULT_WINDOW
        )
        png = str(request.quality) == "lossless"
        image = await asyncio.to_thread(render, pixels, window, png)
        header = {
            "type": "frame", "seq": request.seq, "series": request.series, "index": request.index,
            "plane": plane, "quality": str(request.quality), "format": "png" if png else "jpeg",
            "rows": int(pixels.shape[0]), "columns": int(pixels.shape[1]), "window": window,
        }  # fmt: skip
        await self.ws.send(pack_frame(header, image))
        self.site.frames_served += 1
