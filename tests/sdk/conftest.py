"""The SDK against a live server (pytest-django ``live_server``) on central's test world."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.core.cache import cache

from rhino_sdk import RhinoClient
from tests.annotations.conftest import (  # noqa: F401  (fixtures shared with central's tests)
    _audit_head_file,
    _central_signing_key,
    api,
    make_user,
    world,
)

PASSWORD = "correct horse battery staple"


def _drop_connection(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    _ = response.content  # read it all first, then close the pool (and with it the socket)
    response.connection.close()  # requests sets it: the adapter that sent the request


def _session() -> requests.Session:
    """One connection per request: pytest-django's live server shares the in-memory SQLite
    connection with its request threads, and a keep-alive thread that outlives the server closes
    it late (a DatabaseError in that thread). Production clients keep their connections."""
    session = requests.Session()
    session.hooks["response"].append(_drop_connection)
    return session


@pytest.fixture
def sdk(live_server, world) -> Iterator[Callable[[str], RhinoClient]]:  # noqa: F811
    """A signed-in SDK client for a world user, by username (token through POST /api/auth/token/)."""
    cache.clear()  # the token endpoint's throttle counts per address; tests share 127.0.0.1
    clients: list[RhinoClient] = []

    def client_for(username: str) -> RhinoClient:
        clients.append(
            RhinoClient.login(live_server.url, username, PASSWORD, timeout=20, session=_session())
        )
        return clients[-1]

    yield client_for
    for client in clients:
        client.close()
