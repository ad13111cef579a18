from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from annotations.context import source_address


class AuditContextMiddleware:
    """Records the client's address for audit events written while serving this request.

    REMOTE_ADDR is what daphne saw; behind a proxy, daphne's ``--proxy-headers`` makes it the
    client's (X-Forwarded-For is not trusted here, since anyone can send it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with source_address(request.META.get("REMOTE_ADDR")):
            return self.get_response(request)
