"""The wire protocol between browser, central and site gateway: the one definition of its messages.

Central imports this module too (it relays and validates envelopes); the browser's copy of the
constants lives in ``frontend/static/viewer/protocol.js`` and a test keeps the two in step.
See ``docs/protocol.md`` for the flows.

Text frames carry JSON objects with a ``type``; binary frames carry rendered images as
``[u16 big-endian header length][JSON header][image bytes]``.
"""

from __future__ import annotations

import enum
import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from imaging.handles import HandleKind, handle_kind

PROTOCOL_VERSION: Final = 1
# Control messages are small; a label document may carry masks (run-length encoded), hence 8 MiB.
MAX_TEXT_BYTES: Final = 8 * 1024 * 1024
MAX_FRAME_HEADER_BYTES: Final = 4096
# Largest single binary frame relayed (a lossless 4k×4k radiograph PNG fits).
MAX_BINARY_BYTES: Final = 48 * 1024 * 1024
# Prefetch frame requests a site keeps queued per session; beyond that the oldest is cancelled.
MAX_PREFETCH_REQUESTS: Final = 16


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 private range 4000–4999), documented in docs/protocol.md."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    UNKNOWN_SESSION = 4404
    EXPIRED = 4408
    REPLACED = 4409  # another socket took this role (a second tab, a reconnected gateway)
    TOO_LARGE = 4413
    SITE_OFFLINE = 4503


class ErrorCode(enum.StrEnum):
    """Stable codes of ``error`` messages, shared by all three parties."""

    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "too_large"
    NOT_ALLOWED = "not_allowed"  # the grant does not allow this action
    OUT_OF_SCOPE = "out_of_scope"  # a handle outside the grant
    GRANT_INVALID = "grant_invalid"
    GRANT_EXPIRED = "grant_expired"
    GRANT_REPLAYED = "grant_replayed"
    GRANT_WRONG_SITE = "grant_wrong_site"
    POLICY_REFUSED = "policy_refused"  # the site's own policy (e.g. projects it serves)
    SESSION_CLOSED = "session_closed"
    SITE_OFFLINE = "site_offline"
    NOT_FOUND = "not_found"
    PACS_UNAVAILABLE = "pacs_unavailable"
    PACS_TIMEOUT = "pacs_timeout"
    IMAGE_ERROR = "image_error"  # the object exists but cannot be rendered (ImagingError)
    CANCELLED = "cancelled"  # superseded by a newer request
    LABEL_INVALID = "label_invalid"
    LABEL_CONFLICT = "label_conflict"
    BUSY = "busy"  # the site is serving as many central requests as it allows; ask again later
    INTERNAL = "internal"


class MessageType(enum.StrEnum):
    # gateway ⇄ central, authentication (control link and per-session data links)
    AUTH_CHALLENGE = "auth.challenge"
    AUTH_RESPONSE = "auth.response"
    AUTH_OK = "auth.ok"
    # gateway → central, control link
    HEARTBEAT = "heartbeat"
    TASK_LABELS = "task.labels"  # a task's label status: counts and a content hash, never content
    AUDIT_DIGEST = "audit.digest"  # the site audit's chain head and frames served per session
    # central → gateway, control link
    SESSION_ATTACH = "session.attach"  # open a data link for this session, with its grant
    SESSION_REVOKE = "session.revoke"
    # central → gateway, control link: site requests (each with a ``request`` id and a signed
    # site-request grant); the gateway answers each with its reply type, or an ``error``, carrying
    # the same ``request`` id (docs/protocol.md, "Site requests")
    BROWSE_QUERY = "browse.query"
    BROWSE_THUMBNAIL = "browse.thumbnail"
    SELECTION_WRITE = "selection.write"
    SELECTION_WITHDRAW = "selection.withdraw"
    AGREEMENT_QUERY = "agreement.query"
    LABELS_QUERY = "labels.query"
    # gateway → central, control link: the replies
    BROWSE_RESULT = "browse.result"
    THUMBNAIL_RESULT = "thumbnail.result"
    SELECTION_WRITTEN = "selection.written"
    SELECTION_WITHDRAWN = "selection.withdrawn"
    AGREEMENT_RESULT = "agreement.result"
    LABELS_RESULT = "labels.result"
    # central → browser
    SESSION_STATE = "session.state"
    # browser → gateway (relayed)
    SERIES_INFO = "series.info"
    FRAME_REQUEST = "frame.request"
    FRAME_CANCEL = "frame.cancel"
    LABEL_SAVE = "label.save"
    LABEL_LOAD = "label.load"
    # browser → central only (flow control, never relayed)
    FRAME_ACK = "frame.ack"
    # gateway → browser (relayed)
    SESSION_READY = "session.ready"
    RETRIEVE_PROGRESS = "retrieve.progress"
    LABEL_SAVED = "label.saved"
    LABEL_STATUS = "label.status"
    LABEL_DOCUMENT = "label.document"
    # both ways
    ERROR = "error"
    PING = "ping"
    PONG = "pong"


class Action(enum.StrEnum):
    """What a grant allows at the site."""

    VIEW = "view"
    ANNOTATE = "annotate"
    REVIEW = "review"


class SiteAct(enum.StrEnum):
    """What a site-request grant allows (a lead's requests over the control link, no session)."""

    BROWSE = "browse"  # query the PACS for studies and series, render thumbnails
    SELECT = "select"  # write (or withdraw) the lead's selection as Key Object Selection documents
    AGREEMENT = "agreement"  # compare the readers' labels of a series (numbers only)
    COUNT = "count"  # count the readers' labels per label, for the progress board (numbers only)


# Site request type → (the act its grant must allow, the reply type).
SITE_REQUESTS: Final[Mapping[str, tuple[SiteAct, str]]] = {
    MessageType.BROWSE_QUERY: (SiteAct.BROWSE, MessageType.BROWSE_RESULT),
    MessageType.BROWSE_THUMBNAIL: (SiteAct.BROWSE, MessageType.THUMBNAIL_RESULT),
    MessageType.SELECTION_WRITE: (SiteAct.SELECT, MessageType.SELECTION_WRITTEN),
    MessageType.SELECTION_WITHDRAW: (SiteAct.SELECT, MessageType.SELECTION_WITHDRAWN),
    MessageType.AGREEMENT_QUERY: (SiteAct.AGREEMENT, MessageType.AGREEMENT_RESULT),
    MessageType.LABELS_QUERY: (SiteAct.COUNT, MessageType.LABELS_RESULT),
}
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def request_id_of(message: Mapping[str, Any]) -> str | None:
    """The ``request`` id of a site request or reply (uuid4 hex), or None if it has none."""
    value = message.get("request")
    return value if isinstance(value, str) and _REQUEST_ID.fullmatch(value) else None


class Plane(enum.StrEnum):
    AXIAL = "axial"  # the acquired plane, whatever it is (slices as stored)
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


class LabelState(enum.StrEnum):
    """Where a task's labels are: written durably at the site, then stored in the PACS."""

    SAVED_AT_SITE = "saved_at_site"
    STORED_IN_PACS = "stored_in_pacs"
    FAILED = "failed"  # a permanent delivery failure: on the site's dead-letter list


class Quality(enum.StrEnum):
    PREVIEW = "preview"  # JPEG, while scrolling or dragging
    LOSSLESS = "lossless"  # PNG, at rest


class Priority(enum.StrEnum):
    """Which lane a frame request rides at the site (docs/protocol.md, "Prefetch")."""

    INTERACTIVE = "interactive"  # what the user is looking at: newest wins per (series, plane)
    PREFETCH = "prefetch"  # read-ahead: served only while no interactive request waits


# Which browser messages need which grant action; anything not listed is never relayed.
BROWSER_TO_GATEWAY: Final[Mapping[str, frozenset[Action]]] = {
    MessageType.SERIES_INFO: frozenset({Action.VIEW, Action.ANNOTATE, Action.REVIEW}),
    MessageType.FRAME_REQUEST: frozenset({Action.VIEW, Action.ANNOTATE, Action.REVIEW}),
    MessageType.FRAME_CANCEL: frozenset({Action.VIEW, Action.ANNOTATE, Action.REVIEW}),
    MessageType.LABEL_LOAD: frozenset({Action.VIEW, Action.ANNOTATE, Action.REVIEW}),
    MessageType.LABEL_SAVE: frozenset({Action.ANNOTATE}),
    MessageType.PING: frozenset({Action.VIEW, Action.ANNOTATE, Action.REVIEW}),
}
GATEWAY_TO_BROWSER: Final = frozenset(
    {
        MessageType.SESSION_READY,
        MessageType.SERIES_INFO,
        MessageType.RETRIEVE_PROGRESS,
        MessageType.LABEL_SAVED,
        MessageType.LABEL_STATUS,
        MessageType.LABEL_DOCUMENT,
        MessageType.ERROR,
        MessageType.PONG,
    }
)


class ProtocolError(Exception):
    """An inbound message that is not acceptable; ``code`` goes back in an ``error`` message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def error_message(code: ErrorCode, message: str, *, seq: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": MessageType.ERROR, "code": code, "message": message}
    if seq is not None:
        body["seq"] = seq
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(text: str | bytes) -> dict[str, Any]:
    """Parse one text frame into a message with a known ``type``; ``ProtocolError`` otherwise."""
    if len(text) > MAX_TEXT_BYTES:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"message over {MAX_TEXT_BYTES} bytes")
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "not a JSON message") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "a message is a JSON object with a 'type'")
    if message["type"] not in MessageType.__members__.values():
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {message['type']!r}")
    return message


# --- field validation, shared by the gateway (authoritative) and central (envelope checks) ---


def require_int(message: Mapping[str, Any], key: str, *, low: int = 0, high: int = 2**53) -> int:
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{key!r} must be an integer in {low}…{high}")
    return value


def require_handle(message: Mapping[str, Any], key: str, kind: HandleKind) -> str:
    value = message.get(key)
    try:
        ok = isinstance(value, str) and handle_kind(value) is kind
    except ValueError:
        ok = False
    if not ok:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{key!r} must be a {kind.name.lower()} handle")
    assert isinstance(value, str)
    return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class WindowSpec:
    center: float
    width: float


@dataclass(frozen=True, slots=True)
class FrameRequest:
    seq: int
    series: str
    index: int
    plane: Plane
    quality: Quality
    window: WindowSpec | None
    size: tuple[int, int] | None  # fit within (width, height); None = native
    priority: Priority = Priority.INTERACTIVE


def parse_frame_request(message: Mapping[str, Any]) -> FrameRequest:
    seq = require_int(message, "seq")
    series = require_handle(message, "series", HandleKind.SERIES)
    index = require_int(message, "index", high=100_000)
    try:
        plane = Plane(message.get("plane", Plane.AXIAL))
        quality = Quality(message.get("quality", Quality.LOSSLESS))
        priority = Priority(message.get("priority", Priority.INTERACTIVE))
    except ValueError:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, "unknown plane, quality or priority (interactive, prefetch)"
        ) from None
    window = None
    raw_window = message.get("window")
    if raw_window is not None:
        if not isinstance(raw_window, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "'window' is {center, width} or null")
        center, width = _number(raw_window.get("center")), _number(raw_window.get("width"))
        if center is None or width is None or width < 1:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "window is finite numbers, width ≥ 1")
        window = WindowSpec(center, width)
    size = None
    raw_size = message.get("size")
    if raw_size is not None:
        if (
            not isinstance(raw_size, list)
            or len(raw_size) != 2
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 8192 for v in raw_size
            )
        ):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "'size' is [width, height], 16…8192")
        size = (raw_size[0], raw_size[1])
    return FrameRequest(seq, series, index, plane, quality, window, size, priority)


# --- binary frames ---

_LENGTH = struct.Struct(">H")


def pack_frame(header: Mapping[str, Any], image: bytes) -> bytes:
    """``[u16 header length][JSON header][image]``: one allocation, no base64."""
    head = json.dumps(header, separators=(",", ":")).encode()
    if len(head) > MAX_FRAME_HEADER_BYTES:
        raise ValueError("frame header too large")
    return b"".join((_LENGTH.pack(len(head)), head, image))


def unpack_frame(data: bytes) -> tuple[dict[str, Any], memoryview]:
    if len(data) < _LENGTH.size:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary frame shorter than its length prefix")
    (length,) = _LENGTH.unpack_from(data)
    if length > MAX_FRAME_HEADER_BYTES or _LENGTH.size + length > len(data):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary frame header length is wrong")
    try:
        header = json.loads(data[_LENGTH.size : _LENGTH.size + length])
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary frame header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary frame header is not an object")
    return header, memoryview(data)[_LENGTH.size + length :]


def peek_frame_seq(data: bytes) -> int | None:
    """The ``seq`` of a binary frame, for central's flow control; None if it has none."""
    try:
        header, _ = unpack_frame(data)
    except ProtocolError:
        return None
    seq = header.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
