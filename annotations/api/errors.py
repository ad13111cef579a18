"""The one translation point from errors to HTTP: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import DomainError, ErrorCode

_DOMAIN_STATUS = {
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.PERMISSION_DENIED: status.HTTP_403_FORBIDDEN,
    ErrorCode.INVALID_TRANSITION: status.HTTP_409_CONFLICT,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.SESSION_CLOSED: status.HTTP_409_CONFLICT,
    ErrorCode.SESSION_EXPIRED: status.HTTP_409_CONFLICT,
    ErrorCode.SITE_OFFLINE: status.HTTP_503_SERVICE_UNAVAILABLE,
}

_DRF_CODES = {
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _codes_contain(codes: Any, wanted: str) -> bool:
    if isinstance(codes, dict):
        return any(_codes_contain(v, wanted) for v in codes.values())
    if isinstance(codes, list):
        return any(_codes_contain(v, wanted) for v in codes)
    return codes == wanted


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, exc.fields or None),
            status=_DOMAIN_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST),
        )
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body(ErrorCode.INVALID, "Invalid data.", fields), status=400)
    if isinstance(exc, RequestDataTooBig):  # Django's own cap, hit when the body was read early
        return Response(
            error_body(
                ErrorCode.BODY_TOO_LARGE, "The request body is larger than this endpoint accepts."
            ),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        unknown = _codes_contain(exc.get_codes(), "unknown_field")
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(
            ErrorCode.UNKNOWN_FIELD if unknown else ErrorCode.INVALID,
            "Invalid data.",
            _flatten(detail),
        )
        return response
    code: str
    if isinstance(exc, exceptions.ParseError):
        code = ErrorCode.MALFORMED_JSON
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
    response.data = error_body(code, str(exc.detail))
    return response
