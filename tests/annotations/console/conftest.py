"""Console fixtures: a signed-in Django test client per user, a clean chain-status cache, helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from annotations.models import AuditEvent, User


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The chain status lives in the (process-wide) cache; every test starts without one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make


def events_after(seq: int, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq, **filters).order_by("seq"))


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
