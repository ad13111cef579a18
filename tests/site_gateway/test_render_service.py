"""The render service: decoded frames shared and capped, renders off the loop, honest headers."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from pydicom import dcmread

from imaging import Window, decode_frame, read_dataset
from imaging.render import effective_window
from site_gateway import render_service
from site_gateway.protocol import Plane, Quality
from site_gateway.render_service import RenderService, new_memory_cache
from tests.site_gateway.conftest import DemoData


@pytest.fixture
async def service() -> AsyncIterator[RenderService]:
    renderer = RenderService(workers=2, memory=new_memory_cache(8 * 2**20))
    yield renderer
    renderer.close()


def ct_paths(demo: DemoData) -> list[Path]:
    return sorted(demo.site.folder.glob("ct/*.dcm"))


async def test_a_frame_renders_to_jpeg_and_png_with_the_window_used(
    service: RenderService, demo: DemoData
) -> None:
    frame = await service.frame("in_a", ct_paths(demo)[0], 0)
    preview = await service.render(frame, quality=Quality.PREVIEW, window=None, size=None)
    assert preview.format == "jpeg" and preview.image[:2] == b"\xff\xd8"
    assert preview.window == Window(40.0, 400.0)
    lossless = await service.render(
        frame, quality=Quality.LOSSLESS, window=Window(-600, 1500), size=(64, 64)
    )
    assert (
        Image.open(io.BytesIO(lossless.image)).size == (64, 64) == (lossless.columns, lossless.rows)
    )
    assert lossless.window == Window(-600, 1500)


async def test_concurrent_requests_for_one_frame_decode_it_once(
    service: RenderService, demo: DemoData, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = render_service._decode

    def counting(path: Path, index: int, limits: object) -> object:
        calls.append(path)
        time.sleep(0.05)
        return real(path, index, limits)  # type: ignore[arg-type]

    monkeypatch.setattr(render_service, "_decode", counting)
    path = ct_paths(demo)[1]
    frames = await asyncio.gather(*(service.frame("in_b", path, 0) for _ in range(5)))
    assert len(calls) == 1 and all(f is frames[0] for f in frames)
    assert await service.frame("in_b", path, 0) is frames[0]  # now from the memory cache


async def test_a_cancelled_caller_does_not_cancel_the_shared_decode(
    service: RenderService, demo: DemoData
) -> None:
    path = ct_paths(demo)[2]
    first = asyncio.create_task(service.frame("in_c", path, 0))
    second = asyncio.create_task(service.frame("in_c", path, 0))
    await asyncio.sleep(0)
    first.cancel()
    frame = await second
    assert frame.rows == 256


async def test_the_memory_cache_stays_under_its_cap(demo: DemoData) -> None:
    cap = 300 * 1024  # two 256² 16-bit frames
    renderer = RenderService(workers=2, memory=new_memory_cache(cap))
    try:
        for number, path in enumerate(ct_paths(demo)):
            await renderer.frame(f"in_{number}", path, 0)
            assert renderer.memory.size_bytes <= cap
        assert len(renderer.memory) == 2
    finally:
        renderer.close()


async def test_the_loop_stays_free_while_frames_render(
    service: RenderService, demo: DemoData
) -> None:
    frames = [await service.frame(f"in_{i}", p, 0) for i, p in enumerate(ct_paths(demo))]
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    for _ in range(3):
        await asyncio.gather(
            *(service.render(f, quality=Quality.LOSSLESS, window=None, size=None) for f in frames)
        )
    tick.cancel()
    assert gaps and max(gaps) < 0.1, max(gaps)


async def test_reslices_render_from_the_volume(service: RenderService, demo: DemoData) -> None:
    paths = ct_paths(demo)
    frames = [await service.frame(f"in_{i}", p, 0) for i, p in enumerate(paths)]
    geometry = await service.geometry("se_x", paths)
    coronal = await service.mpr_frame("se_x", frames, geometry, Plane.CORONAL, 128)
    assert (coronal.rows, coronal.columns) == (len(paths), 256)
    assert ("volume", "se_x", len(paths)) in service.memory


def test_the_window_of_a_frame_without_one_is_its_range(demo: DemoData) -> None:
    ds = read_dataset(ct_paths(demo)[0])
    del ds.WindowCenter, ds.WindowWidth
    frame = decode_frame(ds, 0)
    window = effective_window(frame, None)
    assert window is not None and window.width > 1000  # air to cortical bone, in HU
    assert dcmread(ct_paths(demo)[0]).RescaleIntercept == -1024
