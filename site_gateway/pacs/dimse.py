"""``dimse://CALLED_AE@host:port``: a PACS over DIMSE with pynetdicom.

C-ECHO, C-FIND (study, series, image levels, Study Root, PS3.4 C.6.2), C-GET for retrieval (no
inbound port), C-MOVE to our own storage SCP as an option, C-STORE for write-back. pynetdicom
blocks, so each operation runs in a worker thread; received objects cross to the event loop one
by one through a queue, so a caller sees the first slice while the rest is still arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, Literal, TypeVar

from pydicom import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from site_gateway.pacs.base import (
    InstanceRecord,
    Pacs,
    RetrievalFailure,
    RetrievalItem,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    instance_records,
    require_storable,
    require_uid,
    series_records,
    study_record,
    with_file_meta,
)
from site_gateway.pacs.dimse_assoc import (
    AssociationFactory,
    AssociationPool,
    DimseTimeouts,
    PooledAssociation,
    retrieve_contexts,
    retrieve_roles,
    store_contexts,
)
from site_gateway.pacs.dimse_sink import Done, MoveDestination, SeriesSink
from site_gateway.pacs.errors import (
    PacsError,
    PacsErrorCode,
    StatusClass,
    classify_status,
    status_error,
)

T = TypeVar("T")


class DimsePacs(Pacs):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        called_aet: str,
        calling_aet: str = "RHINO",
        timeouts: DimseTimeouts | None = None,
        pool_size: int = 2,
        retrieve: Literal["get", "move"] = "get",
        move_aet: str | None = None,
        move_port: int | None = None,
        move_bind: str = "0.0.0.0",  # noqa: S104 — the PACS must reach the storage SCP
    ) -> None:
        self.timeouts = timeouts or DimseTimeouts()
        self._factory = AssociationFactory(
            host=host,
            port=port,
            called_aet=called_aet,
            calling_aet=calling_aet,
            timeouts=self.timeouts,
        )
        self._pool = AssociationPool(
            self._factory, retrieve_contexts(), retrieve_roles(), size=pool_size
        )
        self._store_pools: dict[tuple[str, str], AssociationPool] = {}
        self._retrieve = retrieve
        if retrieve == "move" and move_port is None:
            raise PacsError(PacsErrorCode.BAD_URL, "C-MOVE retrieval needs move_port")
        self._move_aet = move_aet or calling_aet
        self._move = MoveDestination(
            aet=self._move_aet,
            address=(move_bind, move_port or 0),
            pacs_aet=called_aet,
            timeouts=self.timeouts,
        )
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------

    def _with_association(
        self, pool: AssociationPool, operation: Callable[[PooledAssociation], T]
    ) -> T:
        pooled, reused = pool.acquire()
        healthy = False
        try:
            result = operation(pooled)
            healthy = True
            return result
        except PacsError as exc:
            # A pooled association may have been dropped by the PACS while idle; every operation
            # here is idempotent (C-STORE included, on SOP Instance UID), so try once afresh.
            if not (reused and exc.code is PacsErrorCode.CONNECTION_LOST):
                raise
        finally:
            pool.release(pooled, healthy=healthy)
        pooled, _ = pool.acquire()
        healthy = False
        try:
            result = operation(pooled)
            healthy = True
            return result
        finally:
            pool.release(pooled, healthy=healthy)

    def _responses(
        self, pooled: PooledAssociation, responses: Iterator[tuple[Dataset, Any]], what: str
    ) -> Iterator[tuple[int, Any]]:
        """(status, identifier) pairs; an empty status means timeout or a lost association."""
        for status, identifier in responses:
            if "Status" not in status:
                idle = time.monotonic() - pooled.state.last_activity
                if idle >= self.timeouts.dimse * 0.9:
                    raise PacsError(
                        PacsErrorCode.TIMEOUT,
                        f"{what}: no answer from the PACS in {self.timeouts.dimse:g} s",
                    )
                raise PacsError(PacsErrorCode.CONNECTION_LOST, f"{what}: association lost")
            pooled.state.last_activity = time.monotonic()
            yield int(status.Status), identifier

    # -- echo and find -------------------------------------------------------------------------

    async def echo(self) -> None:
        def operation(pooled: PooledAssociation) -> None:
            pooled.state.last_activity = time.monotonic()
            status = pooled.assoc.send_c_echo()
            for code, _ in self._responses(pooled, iter([(status, None)]), "C-ECHO"):
                if classify_status(code) not in (StatusClass.SUCCESS, StatusClass.WARNING):
                    raise status_error("C-ECHO", code)

        await asyncio.to_thread(self._with_association, self._pool, operation)

    def _find_blocking(self, identifier: Dataset) -> list[Dataset]:
        def operation(pooled: PooledAssociation) -> list[Dataset]:
            pooled.state.last_activity = time.monotonic()
            matches: list[Dataset] = []
            responses = pooled.assoc.send_c_find(
                identifier, StudyRootQueryRetrieveInformationModelFind
            )
            for code, match in self._responses(pooled, responses, "C-FIND"):
                kind = classify_status(code)
                if kind is StatusClass.PENDING:
                    if match is not None:
                        matches.append(match)
                elif kind in (StatusClass.SUCCESS, StatusClass.WARNING):
                    return matches
                else:
                    raise status_error("C-FIND", code)
            raise PacsError(PacsErrorCode.CONNECTION_LOST, "C-FIND ended without a final status")

        return self._with_association(self._pool, operation)

    async def _find(self, identifier: Dataset) -> list[Dataset]:
        return await asyncio.to_thread(self._find_blocking, identifier)

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        query = query or StudyQuery()
        ident = Dataset()
        ident.QueryRetrieveLevel = "STUDY"
        ident.StudyInstanceUID = require_uid(query.study_uid, "study") if query.study_uid else ""
        ident.PatientID = query.patient_id or ""
        ident.AccessionNumber = query.accession_number or ""
        ident.ModalitiesInStudy = query.modality or ""
        for keyword in ("PatientName", "StudyDate", "StudyTime", "StudyDescription"):
            setattr(ident, keyword, "")
        ident.NumberOfStudyRelatedSeries = None
        ident.NumberOfStudyRelatedInstances = None
        # C-FIND has no limit: matches beyond it are read and dropped (PS3.4 C.4.1.2.3).
        matches = (await self._find(ident))[: query.limit]
        return [study_record(m) for m in matches]

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        ident = Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        ident.StudyInstanceUID = require_uid(study_uid, "study")
        for keyword in ("SeriesInstanceUID", "Modality", "SeriesDescription", "BodyPartExamined"):
            setattr(ident, keyword, "")
        ident.SeriesNumber = None
        ident.NumberOfSeriesRelatedInstances = None
        return series_records(study_uid, await self._find(ident))

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        ident = Dataset()
        ident.QueryRetrieveLevel = "IMAGE"
        ident.StudyInstanceUID = require_uid(study_uid, "study")
        ident.SeriesInstanceUID = require_uid(series_uid, "series")
        ident.SOPInstanceUID = ""
        ident.SOPClassUID = ""
        ident.InstanceNumber = None
        ident.NumberOfFrames = None
        return instance_records(study_uid, series_uid, await self._find(ident))

    # -- retrieval -----------------------------------------------------------------------------

    @staticmethod
    def _identifier(study_uid: str, series_uid: str, sop_uid: str | None) -> Dataset:
        ident = Dataset()
        ident.QueryRetrieveLevel = "IMAGE" if sop_uid else "SERIES"
        ident.StudyInstanceUID = study_uid
        ident.SeriesInstanceUID = series_uid
        if sop_uid:
            ident.SOPInstanceUID = sop_uid
        return ident

    def _retrieve_blocking(
        self, pooled: PooledAssociation, ident: Dataset, sink: SeriesSink, what: str
    ) -> int:
        """Run one C-GET or C-MOVE to its final status; returns completed sub-operations."""
        pooled.state.last_activity = time.monotonic()
        if self._retrieve == "get":
            pooled.state.store_sink = lambda event: sink.accept(
                event.encoded_dataset(include_meta=True), str(event.request.AffectedSOPInstanceUID)
            )
            responses = pooled.assoc.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet)
        else:
            responses = pooled.assoc.send_c_move(
                ident, self._move_aet, StudyRootQueryRetrieveInformationModelMove
            )
        for code, _ in self._responses(pooled, responses, what):
            kind = classify_status(code)
            if kind is StatusClass.PENDING:
                continue
            # Warning B000 = some sub-operations failed: the caller sees which by what arrived.
            if kind in (StatusClass.SUCCESS, StatusClass.WARNING):
                return len(sink.seen)
            if kind is StatusClass.CANCEL and sink.cancelled.is_set():
                return len(sink.seen)
            raise status_error(what, code)
        raise PacsError(PacsErrorCode.CONNECTION_LOST, f"{what} ended without a final status")

    async def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        require_uid(study_uid, "study")
        require_uid(series_uid, "series")
        if first_sop_uid is not None:
            require_uid(first_sop_uid, "instance")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[RetrievalItem | Done] = asyncio.Queue()

        def deliver(item: RetrievalItem | Done) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        sink = SeriesSink(series_uid, deliver)
        in_use: list[PooledAssociation] = []
        what = "C-GET" if self._retrieve == "get" else "C-MOVE"

        def operation(pooled: PooledAssociation) -> None:
            in_use.append(pooled)
            if first_sop_uid is not None:
                ident = self._identifier(study_uid, series_uid, first_sop_uid)
                try:
                    self._retrieve_blocking(pooled, ident, sink, f"{what} (requested instance)")
                except PacsError as exc:
                    if exc.code is not PacsErrorCode.FAILURE_STATUS:
                        raise
                    sink.deliver(RetrievalFailure(exc, first_sop_uid))
            if sink.cancelled.is_set():
                return
            ident = self._identifier(study_uid, series_uid, None)
            try:
                received = self._retrieve_blocking(pooled, ident, sink, what)
            except PacsError as exc:
                # Orthanc, like several PACSs, answers an unknown series with a permanent failure
                # (0xC000) and no sub-operations: nothing to retry, the series is not there.
                if sink.seen or exc.status is None or not 0xC000 <= exc.status <= 0xCFFF:
                    raise
                raise PacsError(
                    PacsErrorCode.NOT_FOUND, f"series not found ({exc.message})", status=exc.status
                ) from exc
            if received == 0:
                raise PacsError(PacsErrorCode.NOT_FOUND, "the PACS sent no instance of the series")

        def run() -> None:
            try:
                if self._retrieve == "move":
                    self._move.register(sink)
                self._with_association(self._pool, operation)
            except PacsError as exc:
                sink.deliver(Done(exc))
            else:
                sink.deliver(Done(None))
            finally:
                self._move.unregister(series_uid)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        finished = False
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Done):
                    finished = True
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            if not finished:
                await self._stop_retrieval(sink, in_use, worker)

    async def _stop_retrieval(
        self, sink: SeriesSink, in_use: list[PooledAssociation], worker: asyncio.Future[None]
    ) -> None:
        """The caller stopped listening: C-CANCEL (PS3.7 9.3.3.3), and abort if that is ignored."""
        sink.cancelled.set()
        if not in_use:
            await asyncio.shield(worker)
            return
        pooled = in_use[-1]
        model = (
            StudyRootQueryRetrieveInformationModelGet
            if self._retrieve == "get"
            else StudyRootQueryRetrieveInformationModelMove
        )
        # If the association is already gone there is nothing to cancel.
        with contextlib.suppress(ValueError, RuntimeError, AttributeError):
            await asyncio.to_thread(pooled.assoc.send_c_cancel, 1, None, model)
        try:
            await asyncio.wait_for(asyncio.shield(worker), timeout=2.0)
        except TimeoutError:
            # pynetdicom does not wake a waiting C-GET on abort; the worker thread ends at the
            # DIMSE timeout on its own, holding nothing we need.
            await asyncio.to_thread(pooled.assoc.abort)

    # -- write-back ----------------------------------------------------------------------------

    async def store(self, dataset: Dataset) -> None:
        require_storable(dataset)
        ds = with_file_meta(dataset)
        key = (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
        with self._lock:
            pool = self._store_pools.get(key)
            if pool is None:
                pool = AssociationPool(self._factory, store_contexts(*key), size=1)
                self._store_pools[key] = pool

        def operation(pooled: PooledAssociation) -> None:
            pooled.state.last_activity = time.monotonic()
            try:
                status = pooled.assoc.send_c_store(ds)
            except ValueError as exc:  # pynetdicom: no context fits, or the dataset won't encode
                raise PacsError(PacsErrorCode.MALFORMED_OBJECT, f"C-STORE refused: {exc}") from exc
            for code, _ in self._responses(pooled, iter([(status, None)]), "C-STORE"):
                if classify_status(code) not in (StatusClass.SUCCESS, StatusClass.WARNING):
                    raise status_error("C-STORE", code)

        await asyncio.to_thread(self._with_association, pool, operation)

    async def aclose(self) -> None:
        def close() -> None:
            self._pool.close()
            for pool in self._store_pools.values():
                pool.close()
            self._move.close()

        await asyncio.to_thread(close)
