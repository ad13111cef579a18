"""Series as the data links see them: handle → UIDs → PACS instances → cached files.

A series is located once (C-FIND / QIDO / folder index) and its retrieval started with the
requested slice first; every session viewing it shares that state. PACS failures become coded
``RequestError``s here, the one translation point between PACS errors and wire codes.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import Dataset

from imaging import HandleKey, HandleKind, ImagingError
from site_gateway.cache import DiskCache
from site_gateway.handle_map import HandleError, HandleMap
from site_gateway.pacs import (
    InstanceRecord,
    Pacs,
    PacsError,
    PacsErrorCode,
    RetrievalItem,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
)
from site_gateway.protocol import ErrorCode
from site_gateway.retrieval import Retriever, SeriesRetrieval, instance_cache_key

# A failed retrieval is retried on demand, but not more often than this (a PACS in trouble must
# not be hammered by a viewer scrolling through failed slices).
RETRY_AFTER_SECONDS = 5.0
MAX_SERIES_STATES = 256


class FindOnce(Pacs):
    """The PACS, except that a series' instance list just found is not asked for again.

    ``SeriesSource`` needs the list to pick the requested slice before it starts the retrieval,
    and the ``Retriever`` then finds it again; a PACS may take long over that (Orthanc 1.10
    answers a 300-instance C-FIND in ~0.7 s), so the second ask is served from the first answer.
    """

    def __init__(self, pacs: Pacs) -> None:
        self.inner = pacs
        self._found: dict[tuple[str, str], list[InstanceRecord]] = {}

    def hand_over(self, study_uid: str, series_uid: str, records: list[InstanceRecord]) -> None:
        self._found[(study_uid, series_uid)] = records

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        found = self._found.pop((study_uid, series_uid), None)
        if found is not None:
            return found
        return await self.inner.find_instances(study_uid, series_uid)

    async def echo(self) -> None:
        await self.inner.echo()

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        return await self.inner.find_studies(query)

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        return await self.inner.find_series(study_uid)

    def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        return self.inner.retrieve_series(study_uid, series_uid, first_sop_uid=first_sop_uid)

    async def store(self, dataset: Dataset) -> None:
        await self.inner.store(dataset)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RequestError(Exception):
    """A request that cannot be served; ``code`` goes on the wire, ``message`` too (no PHI)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_PACS_CODES = {
    PacsErrorCode.TIMEOUT: ErrorCode.PACS_TIMEOUT,
    PacsErrorCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    PacsErrorCode.MALFORMED_OBJECT: ErrorCode.IMAGE_ERROR,
}


def request_error(exc: PacsError | ImagingError | HandleError) -> RequestError:
    """The wire form of a PACS, imaging or handle failure (messages carry codes, never UIDs)."""
    if isinstance(exc, PacsError):
        code = _PACS_CODES.get(exc.code, ErrorCode.PACS_UNAVAILABLE)
        return RequestError(code, f"the PACS reported {exc.code}")
    if isinstance(exc, ImagingError):
        return RequestError(ErrorCode.IMAGE_ERROR, f"the image cannot be rendered ({exc.code})")
    return RequestError(ErrorCode.NOT_FOUND, "no such series at this site")


@dataclass(eq=False)
class SeriesState:
    handle: str
    study_uid: str
    series_uid: str
    records: list[InstanceRecord]
    slices: list[tuple[int, int]]  # index → (record index, frame within the instance)
    instance_handles: list[str]
    retrieval: SeriesRetrieval
    started: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return len(self.slices)

    @property
    def complete(self) -> bool:
        progress = self.retrieval.progress
        return progress.done and progress.failed == 0 and progress.error is None


class SeriesSource:
    def __init__(
        self,
        *,
        pacs: Pacs,  # a FindOnce shared with the Retriever saves a second query per series
        retriever: Retriever,
        handles: HandleMap,
        handle_key: HandleKey,
        disk: DiskCache,
        query_timeout: float = 30.0,
        wait_timeout: float = 120.0,
    ) -> None:
        self._pacs = pacs
        self._retriever = retriever
        self._handles = handles
        self._key = handle_key
        self._disk = disk
        self._query_timeout = query_timeout
        self._wait_timeout = wait_timeout
        self._states: OrderedDict[str, asyncio.Task[SeriesState]] = OrderedDict()

    async def open(self, handle: str, first_index: int | None = None) -> SeriesState:
        """The series' shared state; the first caller's ``first_index`` is retrieved first."""
        task = self._states.get(handle)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.create_task(self._locate(handle, first_index))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._states[handle] = task
            while len(self._states) > MAX_SERIES_STATES:
                self._states.popitem(last=False)
        self._states.move_to_end(handle)
        return await asyncio.shield(task)

    async def _locate(self, handle: str, first_index: int | None) -> SeriesState:
        try:
            entry = await asyncio.to_thread(self._handles.resolve, handle, HandleKind.SERIES)
            if entry.study_handle is None:
                raise RequestError(ErrorCode.NOT_FOUND, "no such series at this site")
            study_uid = await asyncio.to_thread(
                self._handles.uid, entry.study_handle, HandleKind.STUDY
            )
            async with asyncio.timeout(self._query_timeout):  # not wait_for: see link.py
                records = await self._pacs.find_instances(study_uid, entry.uid)
        except TimeoutError:
            raise RequestError(
                ErrorCode.PACS_TIMEOUT, "the PACS did not answer the query"
            ) from None
        except (PacsError, HandleError) as exc:
            raise request_error(exc) from None
        if not records:
            raise RequestError(ErrorCode.NOT_FOUND, "the PACS holds no instances of this series")
        slices = [(i, f) for i, r in enumerate(records) for f in range(r.number_of_frames or 1)]
        first = None
        if first_index is not None and 0 <= first_index < len(slices):
            first = records[slices[first_index][0]].sop_uid
        if isinstance(self._pacs, FindOnce):
            self._pacs.hand_over(study_uid, entry.uid, records)
        retrieval = self._retriever.retrieve(study_uid, entry.uid, first_sop_uid=first)
        return SeriesState(
            handle=handle,
            study_uid=study_uid,
            series_uid=entry.uid,
            records=records,
            slices=slices,
            instance_handles=[self._key.handle(HandleKind.INSTANCE, r.sop_uid) for r in records],
            retrieval=retrieval,
        )

    async def instance_path(self, state: SeriesState, record_index: int) -> Path:
        """The cached file of one instance, retrieving (again) if needed; ``RequestError``."""
        sop = state.records[record_index].sop_uid
        path = self._disk.get(instance_cache_key(sop))
        if path is not None:
            return path
        if state.retrieval.done and time.monotonic() - state.started > RETRY_AFTER_SECONDS:
            # Evicted from the disk cache, or failed a while ago: fetch again, this one first.
            state.retrieval = self._retriever.retrieve(
                state.study_uid, state.series_uid, first_sop_uid=sop
            )
            state.started = time.monotonic()
        try:
            async with asyncio.timeout(self._wait_timeout):
                return await state.retrieval.instance_path(sop)
        except TimeoutError:
            raise RequestError(
                ErrorCode.PACS_TIMEOUT, "the PACS is slow to send this image"
            ) from None
        except PacsError as exc:
            raise request_error(exc) from None

    def all_paths(self, state: SeriesState) -> list[Path] | None:
        """Every instance's file, if all are cached (MPR needs the whole series)."""
        paths = []
        for record in state.records:
            path = self._disk.get(instance_cache_key(record.sop_uid))
            if path is None:
                return None
            paths.append(path)
        return paths
