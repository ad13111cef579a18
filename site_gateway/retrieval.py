"""Retrieve a series into the disk cache through any PACS adapter, observably.

One retrieval per series at a time: concurrent viewers of the same series share it. The
requested instance is asked for first and is usable as soon as it is cached, long before the
series is complete. Progress (instances received / total) is a snapshot callers can poll,
subscribe to, or await.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from site_gateway.cache import DiskCache
from site_gateway.pacs import (
    InstanceRecord,
    Pacs,
    PacsError,
    PacsErrorCode,
    RetrievalFailure,
)


def instance_cache_key(sop_uid: str) -> str:
    """The cache key of an instance (hashed into a file name by the cache)."""
    return f"instance:{sop_uid}"


@dataclass(frozen=True, slots=True)
class RetrievalProgress:
    received: int
    failed: int
    total: int | None  # None until the PACS said how many instances the series has
    done: bool
    error: PacsError | None = None

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        return (self.received + self.failed) / self.total if self.total else 0.0


class SeriesRetrieval:
    """One series on its way into the cache."""

    def __init__(self, study_uid: str, series_uid: str, cache: DiskCache) -> None:
        self.study_uid, self.series_uid = study_uid, series_uid
        self._cache = cache
        self.instances: list[InstanceRecord] = []  # InstanceNumber order, once known
        self._received: set[str] = set()
        self._failed: dict[str, PacsError] = {}
        self._total: int | None = None
        self._done = False
        self._error: PacsError | None = None
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[RetrievalProgress], None]] = []

    @property
    def progress(self) -> RetrievalProgress:
        return RetrievalProgress(
            len(self._received), len(self._failed), self._total, self._done, self._error
        )

    @property
    def done(self) -> bool:
        return self._done

    def subscribe(self, listener: Callable[[RetrievalProgress], None]) -> Callable[[], None]:
        """Call ``listener`` on every change (on the event loop); returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def updates(self) -> AsyncIterator[RetrievalProgress]:
        """Progress snapshots until the retrieval is done (the last one has ``done``)."""
        while True:
            event = self._changed
            snapshot = self.progress
            yield snapshot
            if snapshot.done:
                return
            await event.wait()

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        snapshot = self.progress
        for listener in list(self._listeners):
            listener(snapshot)

    # -- fed by the Retriever ----------------------------------------------------------------

    def _set_instances(self, instances: list[InstanceRecord]) -> None:
        self.instances = instances
        self._total = len(instances)
        self._notify()

    def _missing(self) -> list[str]:
        return [r.sop_uid for r in self.instances if r.sop_uid not in self._received]

    def _mark_received(self, sop_uid: str) -> None:
        self._received.add(sop_uid)
        self._failed.pop(sop_uid, None)
        self._notify()

    def _mark_failed(self, sop_uid: str, error: PacsError) -> None:
        if sop_uid not in self._received:
            self._failed[sop_uid] = error
            self._notify()

    def _finish(self, error: PacsError | None) -> None:
        if self._done:
            return
        self._error = error
        for record in self.instances:
            if record.sop_uid not in self._received and record.sop_uid not in self._failed:
                self._failed[record.sop_uid] = error or PacsError(
                    PacsErrorCode.NOT_FOUND, "the PACS did not send this instance"
                )
        self._done = True
        self._notify()

    # -- for viewers ---------------------------------------------------------------------------

    def path_if_ready(self, sop_uid: str) -> Path | None:
        if sop_uid not in self._received:
            return None
        return self._cache.get(instance_cache_key(sop_uid))

    async def instance_path(self, sop_uid: str) -> Path:
        """The cached file of ``sop_uid``, waiting for it if needed; ``PacsError`` if it fails."""
        while True:
            event = self._changed
            path = self.path_if_ready(sop_uid)
            if path is not None:
                return path
            if sop_uid in self._failed:
                raise self._failed[sop_uid]
            if self._done:
                raise self._error or PacsError(PacsErrorCode.NOT_FOUND, "not in this series")
            await event.wait()

    async def wait_done(self) -> RetrievalProgress:
        while not self._done:
            await self._changed.wait()
        return self.progress


class Retriever:
    """Starts and shares series retrievals from one PACS into one disk cache."""

    def __init__(self, pacs: Pacs, cache: DiskCache) -> None:
        self._pacs = pacs
        self._cache = cache
        self._active: dict[str, SeriesRetrieval] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def retrieve(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> SeriesRetrieval:
        """The running retrieval of this series, or a new one asking ``first_sop_uid`` first."""
        current = self._active.get(series_uid)
        if current is not None:
            return current
        retrieval = SeriesRetrieval(study_uid, series_uid, self._cache)
        self._active[series_uid] = retrieval
        task = asyncio.create_task(self._run(retrieval, first_sop_uid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return retrieval

    async def _run(self, retrieval: SeriesRetrieval, first_sop_uid: str | None) -> None:
        error: PacsError | None = None
        # The instance list (C-FIND / QIDO) gives the total, but a PACS may take a second or
        # more to list a long series: when a slice is wanted that is not cached, its retrieval
        # starts at once, beside the query, so the viewer does not wait for the list.
        find = asyncio.create_task(self._list(retrieval))
        stream: asyncio.Task[None] | None = None
        try:
            if first_sop_uid is not None and instance_cache_key(first_sop_uid) not in self._cache:
                stream = asyncio.create_task(self._stream(retrieval, first_sop_uid))
            await find
            if stream is None and (not retrieval.instances or retrieval._missing()):
                stream = asyncio.create_task(self._stream(retrieval, first_sop_uid))
            if stream is not None:
                await stream
        except PacsError as exc:
            error = exc
        except asyncio.CancelledError:
            error = PacsError(PacsErrorCode.CONNECTION_LOST, "retrieval cancelled")
            raise
        finally:
            pending = [t for t in (find, stream) if t is not None and not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            # A finished (or failed) retrieval is forgotten: the next request starts afresh and
            # finds what is cached; a failed one is retried then.
            self._active.pop(retrieval.series_uid, None)
            retrieval._finish(error)

    async def _list(self, retrieval: SeriesRetrieval) -> None:
        instances = await self._pacs.find_instances(retrieval.study_uid, retrieval.series_uid)
        retrieval._set_instances(instances)
        for record in instances:  # kept from an earlier visit
            if instance_cache_key(record.sop_uid) in self._cache:
                retrieval._mark_received(record.sop_uid)

    async def _stream(self, retrieval: SeriesRetrieval, first_sop_uid: str | None) -> None:
        stream = self._pacs.retrieve_series(
            retrieval.study_uid, retrieval.series_uid, first_sop_uid=first_sop_uid
        )
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, RetrievalFailure):
                    if item.sop_uid is not None:
                        retrieval._mark_failed(item.sop_uid, item.error)
                    continue
                await asyncio.to_thread(
                    self._cache.put, instance_cache_key(item.sop_uid), item.data
                )
                retrieval._mark_received(item.sop_uid)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A task cancelled before it ever ran has no finally to finish its retrieval.
        for retrieval in list(self._active.values()):
            retrieval._finish(PacsError(PacsErrorCode.CONNECTION_LOST, "retriever closed"))
        self._active.clear()
