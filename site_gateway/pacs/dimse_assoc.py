"""pynetdicom associations for the DIMSE adapter: presentation contexts, a small pool, errors.

pynetdicom is blocking; everything here runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import AE, build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    BasicTextSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedSRStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    KeyObjectSelectionDocumentStorage,
    MRImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    Verification,
    XRayAngiographicImageStorage,
)

from site_gateway.pacs.errors import PacsError, PacsErrorCode, StatusClass

UNCOMPRESSED: list[str | UID] = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
# What PACSs commonly hold. Each gets its own presentation context per image SOP class, so the
# PACS can send an object as it stores it instead of decompressing it (PS3.4 C.4.3: C-GET
# sub-operations use the contexts of the same association, PS3.7 D.3.3.4 role selection).
COMPRESSED = [
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
    JPEGBaseline8Bit,
    JPEG2000,
]
IMAGE_CLASSES = [
    CTImageStorage,
    EnhancedCTImageStorage,
    MRImageStorage,
    EnhancedMRImageStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    DigitalMammographyXRayImageStorageForPresentation,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    SecondaryCaptureImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    XRayAngiographicImageStorage,
]
NON_IMAGE_CLASSES = [
    SegmentationStorage,
    BasicTextSRStorage,
    EnhancedSRStorage,
    ComprehensiveSRStorage,
    Comprehensive3DSRStorage,  # the write-back SR (imaging/dicom_out), read back on reopen
    KeyObjectSelectionDocumentStorage,
    GrayscaleSoftcopyPresentationStateStorage,
]
STORAGE_CLASSES = [*IMAGE_CLASSES, *NON_IMAGE_CLASSES]


def retrieve_contexts() -> list[Any]:
    """Query/retrieve contexts plus storage contexts for C-GET sub-operations (< 128, PS3.8)."""
    contexts = [
        build_context(Verification),
        build_context(StudyRootQueryRetrieveInformationModelFind),
        build_context(StudyRootQueryRetrieveInformationModelGet),
        build_context(StudyRootQueryRetrieveInformationModelMove),
    ]
    for sop_class in IMAGE_CLASSES:
        contexts.append(build_context(sop_class, UNCOMPRESSED))
        contexts.extend(build_context(sop_class, syntax) for syntax in COMPRESSED)
    contexts.extend(build_context(sop_class, UNCOMPRESSED) for sop_class in NON_IMAGE_CLASSES)
    return contexts


def retrieve_roles() -> list[Any]:
    # We are the storage SCP on these contexts for C-GET (PS3.4 C.4.3.1, PS3.7 D.3.3.4).
    return [build_role(sop_class, scp_role=True) for sop_class in STORAGE_CLASSES]


def store_contexts(sop_class: str, syntax: str) -> list[Any]:
    """Contexts to C-STORE one object: its own transfer syntax, then the uncompressed ones."""
    syntaxes: list[str | UID] = [syntax, *(s for s in UNCOMPRESSED if s != syntax)]
    return [build_context(sop_class, syntaxes)]


@dataclass(frozen=True, slots=True)
class DimseTimeouts:
    connect: float = 5.0  # TCP connect
    acse: float = 10.0  # A-ASSOCIATE-AC / A-RELEASE-RP
    dimse: float = 30.0  # each DIMSE response (C-GET pending responses reset it)
    network: float = 60.0  # an idle association is aborted by pynetdicom after this


@dataclass(slots=True)
class _AssociationState:
    """What the event handlers saw while the association was set up and used."""

    connected: bool = False
    accepted: bool = False
    store_sink: Callable[[Any], int] | None = None
    last_activity: float = field(default_factory=time.monotonic)


class PooledAssociation:
    def __init__(self, assoc: Association, state: _AssociationState) -> None:
        self.assoc = assoc
        self.state = state
        self.last_used = time.monotonic()

    @property
    def usable(self) -> bool:
        return bool(self.assoc.is_established)


class AssociationFactory:
    """Opens associations with one PACS and maps failures to ``PacsError``."""

    def __init__(
        self, *, host: str, port: int, called_aet: str, calling_aet: str, timeouts: DimseTimeouts
    ) -> None:
        self.host, self.port, self.called_aet = host, port, called_aet
        self.calling_aet = calling_aet
        self.timeouts = timeouts

    def _ae(self, contexts: list[Any]) -> AE:
        ae = AE(ae_title=self.calling_aet)
        ae.connection_timeout = self.timeouts.connect
        ae.acse_timeout = self.timeouts.acse
        ae.dimse_timeout = self.timeouts.dimse
        ae.network_timeout = self.timeouts.network
        ae.maximum_pdu_size = 0  # receive PDUs as large as the PACS likes: fewer round trips
        ae.requested_contexts = contexts
        return ae

    def open(self, contexts: list[Any], roles: list[Any] | None = None) -> PooledAssociation:
        state = _AssociationState()

        def on_store(event: Any) -> int:
            state.last_activity = time.monotonic()
            if state.store_sink is None:
                return 0xA700  # PS3.4 B.2.3: refused, out of resources — nobody asked for this
            return state.store_sink(event)

        def on_open(event: Any) -> None:
            state.connected = True

        def on_accepted(event: Any) -> None:
            state.accepted = True

        handlers: list[Any] = [
            (evt.EVT_C_STORE, on_store),
            (evt.EVT_CONN_OPEN, on_open),
            (evt.EVT_ACCEPTED, on_accepted),
        ]
        started = time.monotonic()
        ae = self._ae(contexts)
        assoc = ae.associate(
            self.host,
            self.port,
            ae_title=self.called_aet,
            ext_neg=roles or None,
            evt_handlers=handlers,
        )
        if assoc.is_established:
            return PooledAssociation(assoc, state)
        raise self._setup_error(assoc, state, time.monotonic() - started)

    def _setup_error(
        self, assoc: Association, state: _AssociationState, elapsed: float
    ) -> PacsError:
        where = f"{self.called_aet}@{self.host}:{self.port}"
        if assoc.is_rejected:
            primitive = assoc.acceptor.primitive
            # PS3.8 9.3.4: result 2 is "rejected-transient", 1 "rejected-permanent".
            transient = primitive is not None and primitive.result == 0x02
            reason = primitive.reason_str if primitive is not None else "unknown reason"
            return PacsError(
                PacsErrorCode.ASSOCIATION_REJECTED,
                f"{where} rejected the association: {reason}",
                status_class=StatusClass.RETRYABLE if transient else StatusClass.PERMANENT,
            )
        if state.accepted:
            return PacsError(
                PacsErrorCode.ASSOCIATION_REJECTED,
                f"{where} accepted none of the presentation contexts we proposed",
            )
        if state.connected:
            return PacsError(
                PacsErrorCode.TIMEOUT,
                f"{where} accepted the connection but did not answer the association request "
                f"within {self.timeouts.acse:g} s",
            )
        if elapsed >= self.timeouts.connect * 0.9:
            return PacsError(
                PacsErrorCode.TIMEOUT,
                f"no TCP connection to {where} in {self.timeouts.connect:g} s",
            )
        return PacsError(PacsErrorCode.UNREACHABLE, f"cannot connect to {where}")


class AssociationPool:
    """A few idle associations of one kind, reused; dead or stale ones are dropped.

    Reuse saves the association setup (a round trip plus ~120 context negotiations) for every
    query. Idle ones are released before PACSs typically drop them (Orthanc: 30 s).
    """

    def __init__(
        self,
        factory: AssociationFactory,
        contexts: list[Any],
        roles: list[Any] | None = None,
        *,
        size: int = 2,
        max_idle: float = 20.0,
    ) -> None:
        self._factory, self._contexts, self._roles = factory, contexts, roles
        self._size, self._max_idle = size, max_idle
        self._idle: list[PooledAssociation] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> tuple[PooledAssociation, bool]:
        """An association, and whether it was reused (a reused one may have died silently)."""
        stale: list[PooledAssociation] = []
        found: PooledAssociation | None = None
        with self._lock:
            while self._idle:
                candidate = self._idle.pop()
                if candidate.usable and time.monotonic() - candidate.last_used < self._max_idle:
                    found = candidate
                    break
                stale.append(candidate)
        for old in stale:
            _close(old)
        if found is not None:
            return found, True
        return self._factory.open(self._contexts, self._roles), False

    def release(self, pooled: PooledAssociation, *, healthy: bool) -> None:
        pooled.state.store_sink = None
        pooled.last_used = time.monotonic()
        with self._lock:
            if healthy and pooled.usable and not self._closed and len(self._idle) < self._size:
                self._idle.append(pooled)
                return
        _close(pooled)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for pooled in idle:
            _close(pooled)


def _close(pooled: PooledAssociation) -> None:
    if pooled.assoc.is_established:
        pooled.assoc.release()
    else:
        pooled.assoc.abort()
