"""Granted sessions: per-request checks, newest-wins frame scheduling, series info and frames.

One ``Session`` per attached grant, serving its data link. Every inbound message is checked
against the grant (action, series in scope, expiry) before anything touches the PACS. Frame
requests are scheduled per (series, plane): only the newest pending request is kept, superseded
ones are answered ``cancelled``, and a request still waiting for the PACS is cancelled when a
newer one arrives; one already rendering finishes (it is nearly done, and the viewer paints it).

Prefetch requests (``priority: "prefetch"``, the viewer's read-ahead) ride a lane of their own:
at most ``MAX_PREFETCH_REQUESTS`` queued (the oldest beyond that is answered ``cancelled``),
served one at a time in arrival order, and only while no interactive request is pending or being
served — so read-ahead never delays what the user is looking at, and never piles frames onto
central's acknowledgement window faster than one at a time.
Nothing here blocks the event loop: PACS work is awaited in tasks, CPU work runs in the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydicom

from imaging import Frame, HandleKind, ImagingError, Window, series_summary
from site_gateway.grants import Grant
from site_gateway.protocol import (
    BROWSER_TO_GATEWAY,
    MAX_PREFETCH_REQUESTS,
    CloseCode,
    ErrorCode,
    FrameRequest,
    MessageType,
    Plane,
    Priority,
    ProtocolError,
    decode,
    pack_frame,
    parse_frame_request,
    require_handle,
    require_int,
)
from site_gateway.render_service import RenderService
from site_gateway.series_source import RequestError, SeriesSource, SeriesState, request_error
from site_gateway.site_audit import AuditKind, SiteAudit

log = logging.getLogger("site_gateway.sessions")
PROGRESS_INTERVAL = 0.25  # seconds between retrieve.progress messages of one series


class DataLink(Protocol):
    """What a session needs of its socket (a websockets ClientConnection in production)."""

    async def send(self, message: str | bytes) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


LabelHandler = Callable[["Session", Mapping[str, Any]], Awaitable[None]]


async def label_messages_not_available(session: Session, message: Mapping[str, Any]) -> None:
    """``label.save``/``label.load`` until write-back plugs in its handler (``LABEL_HANDLERS``)."""
    await session.send_error(
        ErrorCode.NOT_ALLOWED, "labels are not served by this gateway yet", message.get("seq")
    )


# The write-back issue replaces these two entries; nothing else in the gateway handles labels.
LABEL_HANDLERS: dict[str, LabelHandler] = {
    MessageType.LABEL_SAVE: label_messages_not_available,
    MessageType.LABEL_LOAD: label_messages_not_available,
}


@dataclass(eq=False)
class _Slot:
    """The frame requests of one (series, plane): the one being served and the newest pending."""

    pending: FrameRequest | None = None
    current: FrameRequest | None = None
    current_task: asyncio.Task[None] | None = None
    waiting: bool = False  # the current request waits for the PACS (and may be cancelled)
    runner: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _PrefetchLane:
    """Read-ahead requests, oldest first; one served at a time while interactive work is idle."""

    queue: OrderedDict[int, FrameRequest] = field(default_factory=OrderedDict)
    current: FrameRequest | None = None
    current_task: asyncio.Task[None] | None = None
    waiting: bool = False
    runner: asyncio.Task[None] | None = None
    served: int = 0


@dataclass(eq=False)
class SessionServices:
    source: SeriesSource
    renderer: RenderService
    audit: SiteAudit
    clock: Callable[[], float] = time.time


@dataclass(eq=False)
class Session:
    grant: Grant
    link: DataLink
    services: SessionServices
    _slots: dict[tuple[str, Plane], _Slot] = field(default_factory=dict)
    _prefetch: _PrefetchLane = field(default_factory=_PrefetchLane)
    # Set while no interactive frame request is pending or being served: the prefetch lane's gate.
    _interactive_idle: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _watching: set[str] = field(default_factory=set)
    closed: bool = False
    frames_served: int = 0

    @property
    def id(self) -> str:
        return self.grant.session

    # -- sending -----------------------------------------------------------------------------

    async def send_json(self, message: Mapping[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.link.send(json.dumps(message, separators=(",", ":")))
        except Exception:
            log.debug("session %s: send failed (link closing)", self.id)

    async def send_error(self, code: ErrorCode, message: str, seq: object = None) -> None:
        reply: dict[str, Any] = {"type": MessageType.ERROR, "code": code, "message": message}
        if isinstance(seq, int) and not isinstance(seq, bool):
            reply["seq"] = seq
        await self.send_json(reply)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the receive loop --------------------------------------------------------------------

    async def serve(self) -> None:
        """Announce the session and answer messages until the link closes."""
        await self.send_json(
            {
                "type": MessageType.SESSION_READY,
                "session": self.id,
                "series": list(self.grant.series),
                "actions": sorted(self.grant.actions),
            }
        )
        labels: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._spawn(self._label_worker(labels))
        try:
            while not self.closed:
                message = await self.admit(await self.link.recv())
                if message is None:
                    continue
                if message["type"] in LABEL_HANDLERS:
                    # Labels may wait on the PACS (validation against the series): they run in
                    # order in their own task so frames never queue behind them.
                    labels.put_nowait(message)
                else:
                    await self.handle(message)
        finally:
            await self.stop()

    async def _label_worker(self, labels: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            await self.handle(await labels.get())

    async def dispatch(self, raw: str | bytes) -> None:
        """Check and handle one message inline (``serve`` queues label messages instead)."""
        message = await self.admit(raw)
        if message is not None:
            await self.handle(message)

    async def admit(self, raw: str | bytes) -> dict[str, Any] | None:
        """The message if this session may send it now; else answer it and return None."""
        if self.services.clock() >= self.grant.expires_at:
            await self.close(CloseCode.EXPIRED, "the session's grant has expired")
            return None
        if isinstance(raw, bytes):
            await self.send_error(ErrorCode.BAD_MESSAGE, "the gateway takes text messages only")
            return None
        try:
            message = decode(raw)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message)
            return None
        kind = message["type"]
        seq = message.get("seq")
        needed = BROWSER_TO_GATEWAY.get(kind)
        if needed is None:
            await self.send_error(ErrorCode.NOT_ALLOWED, f"{kind} is not a request", seq)
            return None
        if not needed & self.grant.actions:
            await self.send_error(ErrorCode.NOT_ALLOWED, f"the grant does not allow {kind}", seq)
            return None
        return message

    async def handle(self, message: Mapping[str, Any]) -> None:
        kind, seq = message["type"], message.get("seq")
        try:
            if kind == MessageType.PING:
                await self.send_json({"type": MessageType.PONG, "seq": seq})
            elif kind == MessageType.FRAME_REQUEST:
                await self.frame_request(message)
            elif kind == MessageType.FRAME_CANCEL:
                await self.frame_cancel(message)
            elif kind == MessageType.SERIES_INFO:
                await self.series_info(message)
            else:
                await LABEL_HANDLERS[kind](self, message)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message, seq)

    def _check_scope(self, series: str) -> None:
        if not self.grant.covers_series(series):
            raise RequestError(ErrorCode.OUT_OF_SCOPE, "this series is not in the session's grant")

    # -- series.info ---------------------------------------------------------------------------

    async def series_info(self, message: Mapping[str, Any]) -> None:
        seq = require_int(message, "seq")
        series = require_handle(message, "series", HandleKind.SERIES)
        index = message.get("index")
        hint = index if isinstance(index, int) and not isinstance(index, bool) else None
        self._spawn(self._series_info(seq, series, hint))

    async def _series_info(
        self, seq: int | None, series: str, hint: int | None, *, watch: bool = True
    ) -> None:
        try:
            self._check_scope(series)
            state = await self.services.source.open(series, hint)
            info = await self._describe(state, hint)
        except RequestError as exc:
            await self.send_error(exc.code, exc.message, seq)
            return
        except ImagingError as exc:
            err = request_error(exc)
            await self.send_error(err.code, err.message, seq)
            return
        except Exception:
            # A bug, not a bad input: say so to the viewer (every request gets an answer).
            log.exception("session %s: series.info for %s failed", self.id, series)
            await self.send_error(ErrorCode.INTERNAL, "the gateway failed on this request", seq)
            return
        await self.send_json({"type": MessageType.SERIES_INFO, "seq": seq, **info})
        if watch and series not in self._watching:
            self._watching.add(series)
            self._spawn(self._watch_retrieval(state))

    async def _describe(self, state: SeriesState, hint: int | None) -> dict[str, Any]:
        """De-identified sizes and geometry; positions and MPR planes once the series is in."""
        source, renderer = self.services.source, self.services.renderer
        index = hint if hint is not None and 0 <= hint < state.total else state.total // 2
        record_index, frame_index = state.slices[index]
        path = await source.instance_path(state, record_index)
        frame = await renderer.frame(state.instance_handles[record_index], path, frame_index)
        header = await asyncio.to_thread(pydicom.dcmread, path, stop_before_pixels=True, force=True)
        summary = series_summary(header, frames=state.total)
        info: dict[str, Any] = {
            "series": state.handle,
            "modality": summary["modality"],
            "rows": frame.rows,
            "columns": frame.columns,
            "slices": state.total,
            "pixel_spacing": summary["pixel_spacing"],
            "slice_thickness": summary["slice_thickness"],
            "default_window": summary["default_window"],
            "windows": [w.to_json() for w in frame.windows],
            "description": summary["series_description"],
            "body_part": summary["body_part"],
            "photometric": summary["photometric"],
            "complete": state.complete,
            "spacing": None,
            "uneven_spacing": None,
            "positions": None,
            "planes": [Plane.AXIAL],
        }
        paths = source.all_paths(state) if state.complete else None
        single_frames = all((r.number_of_frames or 1) == 1 for r in state.records)
        if paths is not None and single_frames and not frame.is_color and state.total > 2:
            try:
                geometry = await renderer.geometry(state.handle, paths)
            except ImagingError:
                return info  # no consistent geometry (mixed sizes…): axial only
            rank = {original: sorted_at for sorted_at, original in enumerate(geometry.order)}
            info["positions"] = [round(geometry.positions[rank[i]], 4) for i in range(state.total)]
            info["spacing"] = geometry.spacing
            info["uneven_spacing"] = geometry.uneven_spacing
            if geometry.spacing > 0 and not (geometry.mixed_orientation or geometry.mixed_size):
                info["planes"] = [Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL]
        return info

    async def _watch_retrieval(self, state: SeriesState) -> None:
        """``retrieve.progress`` while the series arrives; then ``series.info`` with geometry."""
        retrieval = state.retrieval
        async for progress in retrieval.updates():
            await self.send_json(
                {
                    "type": MessageType.RETRIEVE_PROGRESS,
                    "series": state.handle,
                    "received": progress.received,
                    "failed": progress.failed,
                    "total": progress.total,
                    "done": progress.done,
                }
            )
            if progress.done:
                break
            await asyncio.sleep(PROGRESS_INTERVAL)
        self._watching.discard(state.handle)
        if state.complete:
            # Unsolicited (seq null): the geometry that needed every slice.
            await self._series_info(None, state.handle, None, watch=False)

    # -- frames --------------------------------------------------------------------------------

    async def frame_request(self, message: Mapping[str, Any]) -> None:
        request = parse_frame_request(message)
        try:
            self._check_scope(request.series)
        except RequestError as exc:
            await self.send_error(exc.code, exc.message, request.seq)
            return
        if request.priority is Priority.PREFETCH:
            await self._queue_prefetch(request)
            return
        self._interactive_idle.clear()
        # The same frame queued for read-ahead: this answer carries it.
        lane = self._prefetch
        for seq, queued in list(lane.queue.items()):
            if _same_frame(queued, request):
                del lane.queue[seq]
                await self.send_error(ErrorCode.CANCELLED, "asked for interactively", seq)
        slot = self._slots.setdefault((request.series, request.plane), _Slot())
        superseded = slot.pending
        slot.pending = request
        if superseded is not None:
            await self.send_error(
                ErrorCode.CANCELLED, "superseded by a newer request", superseded.seq
            )
        if slot.waiting and slot.current_task is not None:
            slot.current_task.cancel()  # still waiting for the PACS: the newer request wins
        if slot.runner is None or slot.runner.done():
            slot.runner = self._spawn(self._run_slot(slot))

    async def frame_cancel(self, message: Mapping[str, Any]) -> None:
        seq = require_int(message, "seq")
        lane = self._prefetch
        if lane.queue.pop(seq, None) is not None:
            await self.send_error(ErrorCode.CANCELLED, "cancelled by the viewer", seq)
        elif lane.current is not None and lane.current.seq == seq and lane.waiting:
            assert lane.current_task is not None
            lane.current_task.cancel()
        for slot in self._slots.values():
            if slot.pending is not None and slot.pending.seq == seq:
                slot.pending = None
                await self.send_error(ErrorCode.CANCELLED, "cancelled by the viewer", seq)
            elif slot.current is not None and slot.current.seq == seq and slot.waiting:
                assert slot.current_task is not None
                slot.current_task.cancel()

    async def _run_slot(self, slot: _Slot) -> None:
        while slot.pending is not None and not self.closed:
            request, slot.pending = slot.pending, None
            slot.current, slot.waiting = request, True
            slot.current_task = asyncio.create_task(self._serve_frame(request, slot))
            # asyncio.wait does not raise when the inner task is cancelled, so a cancelled
            # request is told apart from this runner being cancelled (the session closing).
            await asyncio.wait({slot.current_task})
            if slot.current_task.cancelled():
                await self.send_error(
                    ErrorCode.CANCELLED, "superseded by a newer request", request.seq
                )
            slot.current, slot.current_task, slot.waiting = None, None, False
        if not any(s.pending or s.current for s in self._slots.values()):
            self._interactive_idle.set()

    async def _queue_prefetch(self, request: FrameRequest) -> None:
        lane = self._prefetch
        lane.queue[request.seq] = request
        while len(lane.queue) > MAX_PREFETCH_REQUESTS:
            _, dropped = lane.queue.popitem(last=False)
            await self.send_error(ErrorCode.CANCELLED, "the prefetch lane is full", dropped.seq)
        if lane.runner is None or lane.runner.done():
            if not any(s.pending or s.current for s in self._slots.values()):
                self._interactive_idle.set()
            lane.runner = self._spawn(self._run_prefetch())

    async def _run_prefetch(self) -> None:
        lane = self._prefetch
        while lane.queue and not self.closed:
            await self._interactive_idle.wait()
            if not lane.queue:
                break  # cancelled while interactive requests were served
            _, request = lane.queue.popitem(last=False)
            lane.current, lane.waiting = request, True
            lane.current_task = asyncio.create_task(self._serve_frame(request, lane))
            await asyncio.wait({lane.current_task})  # as in _run_slot
            if lane.current_task.cancelled():
                await self.send_error(ErrorCode.CANCELLED, "cancelled by the viewer", request.seq)
            else:
                lane.served += 1
            lane.current, lane.current_task, lane.waiting = None, None, False

    async def _serve_frame(self, request: FrameRequest, slot: _Slot | _PrefetchLane) -> None:
        try:
            frame, instance = await self._frame_for(request)
            slot.waiting = False
            started = time.perf_counter()
            rendered = await self.services.renderer.render(
                frame, quality=request.quality, window=_window(request), size=request.size
            )
        except RequestError as exc:
            log.warning("session %s: %s refused: %s", self.id, describe(request), exc)
            await self.send_error(exc.code, exc.message, request.seq)
            return
        except ImagingError as exc:
            log.warning("session %s: image error %s on %s", self.id, exc.code, describe(request))
            await self.send_error(ErrorCode.IMAGE_ERROR, f"cannot render: {exc.code}", request.seq)
            return
        except Exception:
            log.exception("session %s: %s failed", self.id, describe(request))
            await self.send_error(
                ErrorCode.INTERNAL, "the gateway failed on this request", request.seq
            )
            return
        header = {
            "type": "frame",
            "seq": request.seq,
            "series": request.series,
            "index": request.index,
            "plane": request.plane,
            "quality": request.quality,
            "format": rendered.format,
            "rows": rendered.rows,
            "columns": rendered.columns,
            "window": rendered.window.to_json() if rendered.window else None,
            # Window, colour and encode time at the site (the viewer's frame-path figures).
            "render_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if self.closed:
            return
        try:
            await self.link.send(pack_frame(header, rendered.image))
        except Exception:
            return
        self.frames_served += 1
        self.services.audit.record(
            AuditKind.FRAME_SERVED,
            session=self.id,
            user=self.grant.user,
            grant=self.grant.nonce,
            series=request.series,
            instance=instance,
            index=request.index,
            plane=request.plane,
            quality=request.quality,
            window=header["window"],
        )

    async def _frame_for(self, request: FrameRequest) -> tuple[Frame, str | None]:
        source, renderer = self.services.source, self.services.renderer
        state = await source.open(request.series, request.index)
        if request.plane is Plane.AXIAL:
            if request.index >= state.total:
                raise RequestError(ErrorCode.NOT_FOUND, f"index {request.index} ≥ {state.total}")
            record_index, frame_index = state.slices[request.index]
            path = await source.instance_path(state, record_index)
            handle = state.instance_handles[record_index]
            return await renderer.frame(handle, path, frame_index), handle
        paths = source.all_paths(state) if state.complete else None
        if paths is None or any((r.number_of_frames or 1) != 1 for r in state.records):
            raise RequestError(
                ErrorCode.NOT_FOUND, f"{request.plane} is available once the series is complete"
            )
        frames = await asyncio.gather(
            *(renderer.frame(h, p, 0) for h, p in zip(state.instance_handles, paths, strict=True))
        )
        geometry = await renderer.geometry(state.handle, paths)
        try:
            frame = await renderer.mpr_frame(
                state.handle, frames, geometry, request.plane, request.index
            )
        except ImagingError as exc:
            raise RequestError(
                ErrorCode.NOT_FOUND, f"no such {request.plane} plane ({exc.code})"
            ) from None
        return frame, None

    # -- closing -------------------------------------------------------------------------------

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                await self.link.close(code, reason)

    async def stop(self) -> None:
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for slot in self._slots.values():
            if slot.current_task is not None:
                slot.current_task.cancel()
        if self._prefetch.current_task is not None:
            self._prefetch.current_task.cancel()


def _window(request: FrameRequest) -> Window | None:
    return Window(request.window.center, request.window.width) if request.window else None


def _same_frame(a: FrameRequest, b: FrameRequest) -> bool:
    return (a.series, a.plane, a.index, a.quality, a.window, a.size) == (
        b.series, b.plane, b.index, b.quality, b.window, b.size
    )  # fmt: skip


def describe(request: FrameRequest) -> str:
    return f"{request.series}[{request.plane} {request.index}]"
