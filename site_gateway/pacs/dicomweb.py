"""``dicomweb+http(s)://host:port/path``: a PACS over DICOMweb (PS3.18) with dicomweb-client.

QIDO-RS for queries, WADO-RS for retrieval (asking for the stored transfer syntax,
``transfer-syntax=*``, so the server does not transcode), STOW-RS for write-back. requests is
blocking, so every call runs in a worker thread with a timeout on connect and on every read.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import Dataset, dcmwrite

from site_gateway.pacs.base import (
    InstanceRecord,
    Pacs,
    RetrievalFailure,
    RetrievalItem,
    RetrievedInstance,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    check_instance,
    instance_records,
    require_storable,
    require_uid,
    series_records,
    study_record,
    with_file_meta,
)
from site_gateway.pacs.errors import PacsError, PacsErrorCode, StatusClass, status_error

T = TypeVar("T")
# Any transfer syntax the origin server holds (PS3.18 8.7.3.5.2).
_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


def _http_error(exc: requests.RequestException, what: str) -> PacsError:
    if isinstance(exc, requests.Timeout):
        return PacsError(PacsErrorCode.TIMEOUT, f"{what}: the server did not answer in time")
    if isinstance(exc, requests.ConnectionError):
        return PacsError(PacsErrorCode.UNREACHABLE, f"{what}: cannot connect ({exc})")
    response = exc.response
    if response is None:
        return PacsError(PacsErrorCode.CONNECTION_LOST, f"{what}: {exc}")
    code = response.status_code
    if code == 404:
        return PacsError(PacsErrorCode.NOT_FOUND, f"{what}: not found (HTTP 404)", status=code)
    return PacsError(
        PacsErrorCode.FAILURE_STATUS,
        f"{what}: HTTP {code}",
        status=code,
        status_class=StatusClass.RETRYABLE if code in _RETRYABLE_HTTP else StatusClass.PERMANENT,
    )


class DicomWebPacs(Pacs):
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._timeout = (connect_timeout, timeout)
        self._session = requests.Session()
        self._client = DICOMwebClient(
            self.url, session=self._session, headers=headers, timeout=self._timeout
        )
        # dicomweb-client retries every exception 5 times with exponential back-off (~35 s for
        # a hung server); retry policy belongs to our callers, who know whether to wait.
        self._client.set_http_retry_params(retry=False)

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except requests.RequestException as exc:
            raise _http_error(exc, what) from exc

    async def _run(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self._call, what, fn, *args, **kwargs)

    async def echo(self) -> None:
        await self._run("QIDO-RS", self._client.search_for_studies, limit=1)

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        query = query or StudyQuery()
        filters: dict[str, Any] = {}
        if query.study_uid:
            filters["StudyInstanceUID"] = require_uid(query.study_uid, "study")
        for keyword, value in (
            ("PatientID", query.patient_id),
            ("AccessionNumber", query.accession_number),
            ("ModalitiesInStudy", query.modality),
        ):
            if value:
                filters[keyword] = value
        matches = await self._run(
            "QIDO-RS studies",
            self._client.search_for_studies,
            search_filters=filters,
            limit=query.limit,
            get_remaining=query.limit is None,
            fields=["StudyDescription", "NumberOfStudyRelatedInstances"],
        )
        return [study_record(Dataset.from_json(match)) for match in matches]

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        matches = await self._run(
            "QIDO-RS series",
            self._client.search_for_series,
            study_instance_uid=require_uid(study_uid, "study"),
            get_remaining=True,
            fields=["BodyPartExamined", "SeriesDescription", "NumberOfSeriesRelatedInstances"],
        )
        return series_records(study_uid, (Dataset.from_json(match) for match in matches))

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        matches = await self._run(
            "QIDO-RS instances",
            self._client.search_for_instances,
            study_instance_uid=require_uid(study_uid, "study"),
            series_instance_uid=require_uid(series_uid, "series"),
            get_remaining=True,
            fields=["InstanceNumber", "NumberOfFrames"],
        )
        return instance_records(
            study_uid, series_uid, (Dataset.from_json(match) for match in matches)
        )

    def _parts(self, path: str, stop: threading.Event) -> Iterator[bytes]:
        """Raw Part 10 objects of a WADO-RS multipart response, streamed (PS3.18 8.6.1.2)."""
        response = self._session.get(
            f"{self.url}/{path}",
            headers={"Accept": _AS_STORED},
            stream=True,
            timeout=self._timeout,
        )
        with response:
            response.raise_for_status()
            # dicomweb-client's multipart decoder; its public retrieve methods would parse
            # and re-encode every object, and stop at the first malformed one.
            for part in self._client._decode_multipart_message(response, stream=True):
                if stop.is_set():
                    return
                yield bytes(part)

    async def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        base = (
            f"studies/{require_uid(study_uid, 'study')}/series/{require_uid(series_uid, 'series')}"
        )
        if first_sop_uid is not None:
            require_uid(first_sop_uid, "instance")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[RetrievalItem | PacsError | None] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: RetrievalItem | PacsError | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def fetch(path: str, seen: set[str], announced: str | None) -> None:
            for data in self._parts(path, stop):
                try:
                    sop_uid, _, data = check_instance(data, series_uid)
                except PacsError as exc:
                    deliver(RetrievalFailure(exc, announced))
                    continue
                if sop_uid not in seen:
                    seen.add(sop_uid)
                    deliver(RetrievedInstance(sop_uid, data))

        def run() -> None:
            seen: set[str] = set()
            try:
                if first_sop_uid is not None:
                    try:
                        fetch(f"{base}/instances/{first_sop_uid}", seen, first_sop_uid)
                    except requests.HTTPError as exc:
                        deliver(RetrievalFailure(_http_error(exc, "WADO-RS"), first_sop_uid))
                fetch(base, seen, None)
                if not seen:
                    raise PacsError(PacsErrorCode.NOT_FOUND, "the server sent no instance")
            except requests.RequestException as exc:
                deliver(_http_error(exc, "WADO-RS series"))
            except (ValueError, PacsError) as exc:  # the decoder rejects a broken multipart body
                deliver(
                    exc
                    if isinstance(exc, PacsError)
                    else PacsError(PacsErrorCode.MALFORMED_OBJECT, f"WADO-RS response: {exc}")
                )
            else:
                deliver(None)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, PacsError):
                    raise item
                yield item
        finally:
            stop.set()
            await asyncio.shield(worker)

    async def store(self, dataset: Dataset) -> None:
        require_storable(dataset)
        ds = with_file_meta(dataset)
        try:
            dcmwrite(io.BytesIO(), ds, enforce_file_format=True)  # fail here, not mid-upload
        except Exception as exc:  # pydicom cannot encode it: the object is at fault
            raise PacsError(
                PacsErrorCode.MALFORMED_OBJECT, f"object does not encode: {exc}"
            ) from exc
        response = await self._run("STOW-RS", self._client.store_instances, [ds])
        failed = response.get("FailedSOPSequence") if response is not None else None
        if failed:
            reason = failed[0].get("FailureReason")
            code = int(reason) if reason is not None else 0x0110
            raise status_error("STOW-RS", code)

    async def aclose(self) -> None:
        self._session.close()
