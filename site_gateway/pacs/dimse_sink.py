"""Where objects received over DIMSE go: one sink per series retrieval, and the C-MOVE SCP.

Both run in pynetdicom's threads and hand each checked object to the event loop through the
sink's ``deliver`` callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynetdicom import AE, evt

from site_gateway.pacs.base import (
    RetrievalFailure,
    RetrievalItem,
    RetrievedInstance,
    check_instance,
)
from site_gateway.pacs.dimse_assoc import COMPRESSED, STORAGE_CLASSES, UNCOMPRESSED, DimseTimeouts
from site_gateway.pacs.errors import PacsError, PacsErrorCode

# PS3.4 B.2.3 C-STORE statuses we answer with.
STATUS_SUCCESS = 0x0000
STATUS_CANNOT_UNDERSTAND = 0xC000  # an object we cannot use
STATUS_OUT_OF_RESOURCES = 0xA700  # "refused": an object nobody asked for


@dataclass(slots=True)
class Done:
    """The end of a retrieval stream, with the error that ended it, if any."""

    error: PacsError | None


class SeriesSink:
    """Receives the objects of one series retrieval (in a pynetdicom thread)."""

    def __init__(self, series_uid: str, deliver: Callable[[RetrievalItem | Done], None]) -> None:
        self.series_uid = series_uid
        self.deliver = deliver
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.cancelled = threading.Event()

    def accept(self, data: bytes, announced_uid: str | None) -> int:
        if self.cancelled.is_set():
            return STATUS_SUCCESS  # arrived after the C-CANCEL crossed it: accepted and dropped
        try:
            sop_uid, _, data = check_instance(data, self.series_uid)
        except PacsError as exc:
            self.deliver(RetrievalFailure(exc, announced_uid))
            return STATUS_CANNOT_UNDERSTAND
        with self.lock:
            if sop_uid in self.seen:
                return STATUS_SUCCESS  # the requested-first instance, again with the series
            self.seen.add(sop_uid)
        self.deliver(RetrievedInstance(sop_uid, data))
        return STATUS_SUCCESS


class MoveDestination:
    """Our storage SCP for C-MOVE: accepts only the PACS's AE title, routes by series."""

    def __init__(
        self, *, aet: str, address: tuple[str, int], pacs_aet: str, timeouts: DimseTimeouts
    ) -> None:
        self._aet, self._address, self._pacs_aet = aet, address, pacs_aet
        self._timeouts = timeouts
        self._server: Any = None
        self._sinks: dict[str, SeriesSink] = {}
        self._lock = threading.Lock()

    def register(self, sink: SeriesSink) -> None:
        with self._lock:
            if self._server is None:
                self._server = self._start()
            if sink.series_uid in self._sinks:
                raise PacsError(
                    PacsErrorCode.FAILURE_STATUS, "this series is already being moved here"
                )
            self._sinks[sink.series_uid] = sink

    def unregister(self, series_uid: str) -> None:
        with self._lock:
            self._sinks.pop(series_uid, None)

    def _start(self) -> Any:
        ae = AE(ae_title=self._aet)
        ae.maximum_pdu_size = 0
        ae.dimse_timeout = self._timeouts.dimse
        ae.network_timeout = self._timeouts.network
        ae.require_calling_aet = [self._pacs_aet]  # only the PACS we ask may push objects to us
        for sop_class in STORAGE_CLASSES:
            ae.add_supported_context(sop_class, [*UNCOMPRESSED, *COMPRESSED])
        return ae.start_server(
            self._address, block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )

    def _on_store(self, event: Any) -> int:
        data = event.encoded_dataset(include_meta=True)
        try:
            _, ds, data = check_instance(data)
        except PacsError:
            return STATUS_CANNOT_UNDERSTAND
        sink = self._sinks.get(str(ds.get("SeriesInstanceUID", "")))
        if sink is None:
            return STATUS_OUT_OF_RESOURCES
        return sink.accept(data, str(ds.SOPInstanceUID))

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
