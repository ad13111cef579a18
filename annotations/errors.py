"""Domain errors with stable codes. Translated to HTTP in ``api/errors.py`` and to WebSocket close
codes and error frames in the consumers — nowhere else."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID = "invalid"
    UNKNOWN_FIELD = "unknown_field"
    MALFORMED_JSON = "malformed_json"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_TRANSITION = "invalid_transition"
    CONFLICT = "conflict"
    THROTTLED = "throttled"
    SESSION_CLOSED = "session_closed"
    SESSION_EXPIRED = "session_expired"
    SITE_OFFLINE = "site_offline"
    SERVER_ERROR = "server_error"


class DomainError(Exception):
    code: ErrorCode = ErrorCode.INVALID

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        fields: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = dict(fields or {})


class NotFoundError(DomainError):
    """Missing *or* invisible to this user: callers cannot tell which (no existence oracle)."""

    code = ErrorCode.NOT_FOUND


class PermissionDeniedError(DomainError):
    """Visible, but the user may not do this to it."""

    code = ErrorCode.PERMISSION_DENIED


class InvalidTransitionError(DomainError):
    code = ErrorCode.INVALID_TRANSITION


class ConflictError(DomainError):
    code = ErrorCode.CONFLICT
