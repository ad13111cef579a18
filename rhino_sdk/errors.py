"""The one error the SDK raises: the server's coded error body, or a local one."""

from __future__ import annotations


class RhinoError(Exception):
    """``code`` is the server's stable error code (``not_found``, ``permission_denied``, ``invalid``,
    ``invalid_transition``, …) or, for failures before an answer, ``connection_error`` /
    ``bad_response`` / ``not_available``. ``status`` is the HTTP status (0 when there was none)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 0,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})
