"""Decode, render and encode frames off the event loop, with decoded frames in a capped cache.

CPU work runs in a thread pool sized to the machine: pydicom's pixel handling, numpy's LUT
indexing, Pillow and simplejpeg release the GIL for the heavy parts, and threads hand the result
back without pickling a frame (see docs/gateway.md for the threads-versus-processes measurement).
Concurrent requests for the same decoded frame or volume share one computation.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pydicom

from imaging import (
    DEFAULT_LIMITS,
    Frame,
    ImagingError,
    ImagingErrorCode,
    Limits,
    SeriesGeometry,
    Window,
    assemble_volume,
    encode_jpeg,
    encode_png,
    plane_frame,
    read_frame,
    render,
    reslice,
    series_geometry,
)
from imaging import Plane as ImagingPlane
from imaging.render import effective_window
from site_gateway.cache import MemoryLRU
from site_gateway.protocol import Plane, Quality

T = TypeVar("T")
PREVIEW_JPEG_QUALITY = 85  # scrolling previews: small and fast; the lossless PNG follows at rest
PNG_LEVEL = 1  # level 1 is ~5 ms for 512²; higher levels cost far more for a few percent


@dataclass(frozen=True, slots=True)
class Rendered:
    image: bytes
    format: str  # "jpeg" | "png"
    rows: int
    columns: int
    window: Window | None  # the window applied (None for colour images)


def _size_of(value: object) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, tuple):  # (volume, geometry)
        return sum(_size_of(v) for v in value if hasattr(v, "nbytes"))
    return 1024


def new_memory_cache(max_bytes: int) -> MemoryLRU[Hashable, Any]:
    return MemoryLRU(max_bytes, _size_of)


def _decode(path: Path, index: int, limits: Limits) -> Frame:
    # The fast reader for native greyscale objects, pydicom for the rest (same Frame either way).
    return read_frame(path, index, limits=limits)


def _render(
    frame: Frame, quality: Quality, window: Window | None, size: tuple[int, int] | None
) -> Rendered:
    used = effective_window(frame, window)
    img = render(frame, window=window, size=size, aspect=frame.pixel_spacing is not None)
    if quality is Quality.PREVIEW:
        data, fmt = encode_jpeg(img, quality=PREVIEW_JPEG_QUALITY), "jpeg"
    else:
        data, fmt = encode_png(img, compress_level=PNG_LEVEL), "png"
    return Rendered(data, fmt, int(img.shape[0]), int(img.shape[1]), used)


def _header_geometry(paths: Sequence[Path]) -> SeriesGeometry:
    # Geometry needs positions, orientation and sizes only: never read the pixels here.
    datasets = [pydicom.dcmread(p, stop_before_pixels=True, force=True) for p in paths]
    return series_geometry(datasets)


class RenderService:
    def __init__(
        self,
        *,
        workers: int | None = None,
        memory: MemoryLRU[Hashable, Any],
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.workers = workers or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="render")
        self.memory = memory
        self._limits = limits
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}

    async def _in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _shared(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key``, or one computation shared by every concurrent caller.

        The computation runs as its own task, so a caller that is cancelled (a superseded frame
        request) neither cancels it for the others nor throws the finished work away.
        """
        cached = self.memory.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._compute_and_keep(key, compute))
            task.add_done_callback(_consume_exception)
            self._inflight[key] = task
        return await asyncio.shield(task)

    async def _compute_and_keep(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await compute()
            self.memory.put(key, value)
            return value
        finally:
            self._inflight.pop(key, None)

    async def frame(self, instance_handle: str, path: Path, index: int) -> Frame:
        """Frame ``index`` of the instance cached at ``path``, decoded once and kept in memory."""
        return await self._shared(
            ("frame", instance_handle, index),
            lambda: self._in_pool(_decode, path, index, self._limits),
        )

    async def render(
        self,
        frame: Frame,
        *,
        quality: Quality,
        window: Window | None,
        size: tuple[int, int] | None,
    ) -> Rendered:
        return await self._in_pool(_render, frame, quality, window, size)

    async def geometry(self, series_handle: str, paths: Sequence[Path]) -> SeriesGeometry:
        return await self._shared(
            ("geometry", series_handle, len(paths)),
            lambda: self._in_pool(_header_geometry, list(paths)),
        )

    async def mpr_frame(
        self,
        series_handle: str,
        frames: Sequence[Frame],
        geometry: SeriesGeometry,
        plane: Plane,
        index: int,
    ) -> Frame:
        """A coronal or sagittal plane through the series (volume built once, kept if it fits)."""

        async def build() -> Any:
            return await self._in_pool(assemble_volume, list(frames), geometry)

        volume = await self._shared(("volume", series_handle, len(frames)), build)
        return await self._in_pool(_mpr, volume, geometry, plane, index, frames[0])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # Callers see the exception through the shield; nobody left waiting must not warn either.
    if not task.cancelled():
        task.exception()


def _mpr(volume: Any, geometry: SeriesGeometry, plane: Plane, index: int, like: Frame) -> Frame:
    if plane is Plane.AXIAL:
        raise ImagingError(ImagingErrorCode.BAD_ARGUMENT, "axial frames are not resliced")
    values, spacing = reslice(volume, geometry, ImagingPlane(plane.value), index)
    return plane_frame(values, spacing, like)
