"""The one error type of the PACS adapters, and the classification of DIMSE statuses.

The write-back worker retries on ``RETRYABLE`` and gives up on ``PERMANENT``, so the classes
follow the standard rather than intuition: PS3.7 Annex C (status encoding) and the service
definitions in PS3.4 (C-STORE B.2.3, C-FIND C.4.1.1.4, C-MOVE C.4.2.1.5, C-GET C.4.3.1.4).
"""

from __future__ import annotations

import enum


class PacsErrorCode(enum.StrEnum):
    UNREACHABLE = "unreachable"  # no TCP connection / HTTP connection
    ASSOCIATION_REJECTED = "association_rejected"  # A-ASSOCIATE-RJ, or no usable context
    TIMEOUT = "timeout"  # the peer stopped answering within our deadline
    FAILURE_STATUS = "failure_status"  # a DIMSE failure status or an HTTP error status
    MALFORMED_OBJECT = "malformed_object"  # an object that is not usable DICOM (in or out)
    NOT_FOUND = "not_found"  # nothing matched (e.g. unknown series)
    CONNECTION_LOST = "connection_lost"  # the peer aborted or closed mid-operation
    BAD_URL = "bad_url"  # the PACS URL itself is wrong


class StatusClass(enum.StrEnum):
    SUCCESS = "success"
    PENDING = "pending"
    WARNING = "warning"
    CANCEL = "cancel"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


_CODE_CLASSES: dict[PacsErrorCode, StatusClass] = {
    PacsErrorCode.UNREACHABLE: StatusClass.RETRYABLE,
    PacsErrorCode.ASSOCIATION_REJECTED: StatusClass.PERMANENT,
    PacsErrorCode.TIMEOUT: StatusClass.RETRYABLE,
    PacsErrorCode.FAILURE_STATUS: StatusClass.PERMANENT,
    PacsErrorCode.MALFORMED_OBJECT: StatusClass.PERMANENT,
    PacsErrorCode.NOT_FOUND: StatusClass.PERMANENT,
    PacsErrorCode.CONNECTION_LOST: StatusClass.RETRYABLE,
    PacsErrorCode.BAD_URL: StatusClass.PERMANENT,
}


class PacsError(Exception):
    """A PACS operation failed. ``code`` is stable; ``status`` is the DIMSE/HTTP status if any."""

    def __init__(
        self,
        code: PacsErrorCode,
        message: str,
        *,
        status: int | None = None,
        status_class: StatusClass | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.status_class = status_class or _CODE_CLASSES[code]

    @property
    def retryable(self) -> bool:
        return self.status_class is StatusClass.RETRYABLE


# Statuses that are failures by number (PS3.7 C.4 and the PS3.4 service tables), with the reason
# the worker should (not) retry. Ranges are checked after these exact values.
_EXACT: dict[int, StatusClass] = {
    0x0000: StatusClass.SUCCESS,
    0xFF00: StatusClass.PENDING,
    0xFF01: StatusClass.PENDING,  # pending, optional keys not supported (C-FIND)
    0xFE00: StatusClass.CANCEL,
    0x0001: StatusClass.WARNING,  # requested optional attributes not supported
    0x0107: StatusClass.WARNING,  # attribute list error
    0x0116: StatusClass.WARNING,  # attribute value out of range
    # 0x0111 "duplicate SOP instance": our writes are idempotent on SOP Instance UID, so the
    # object is already there; not a reason to retry nor to give up loudly.
    0x0111: StatusClass.WARNING,
    0x0110: StatusClass.RETRYABLE,  # processing failure: the SCP's own trouble, may pass
    0x0210: StatusClass.RETRYABLE,  # duplicate invocation (message id clash)
    0x0213: StatusClass.RETRYABLE,  # resource limitation
    0x0117: StatusClass.PERMANENT,  # invalid object instance
    0x0118: StatusClass.PERMANENT,  # no such SOP class
    0x0122: StatusClass.PERMANENT,  # SOP class not supported
    0x0124: StatusClass.PERMANENT,  # not authorized (refused)
    0x0211: StatusClass.PERMANENT,  # unrecognized operation
    0x0212: StatusClass.PERMANENT,  # mistyped argument
    0xA801: StatusClass.PERMANENT,  # C-MOVE: move destination unknown
}


def classify_status(status: int) -> StatusClass:
    """The class of a DIMSE status (PS3.7 C.1–C.5, PS3.4 B.2.3/C.4)."""
    if status in _EXACT:
        return _EXACT[status]
    if 0xB000 <= status <= 0xBFFF:
        return StatusClass.WARNING  # e.g. coercion of data elements, sub-operations failed
    if 0xA700 <= status <= 0xA7FF:
        return StatusClass.RETRYABLE  # out of resources (storage full, cannot calculate matches)
    if 0xA900 <= status <= 0xA9FF:
        return StatusClass.PERMANENT  # data set does not match SOP class / identifier
    if 0xC000 <= status <= 0xCFFF:
        return StatusClass.PERMANENT  # cannot understand / unable to process
    # Anything else is a failure the standard does not let us call transient: retrying an
    # unknown failure forever would hide it, so the worker surfaces it instead.
    return StatusClass.PERMANENT


def status_error(operation: str, status: int, detail: str = "") -> PacsError:
    """The ``PacsError`` for a non-success final status of ``operation``."""
    text = f"{operation} ended with status 0x{status:04X}" + (f" ({detail})" if detail else "")
    return PacsError(
        PacsErrorCode.FAILURE_STATUS, text, status=status, status_class=classify_status(status)
    )
