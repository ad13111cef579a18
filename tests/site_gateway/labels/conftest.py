"""Fixtures of the label tests: a CT series in memory, a grant, a label service on a folder PACS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from site_gateway.grants import Grant
from site_gateway.labels.delivery import RetryPolicy
from site_gateway.labels.service import LabelService
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from tests.site_gateway.labels.helpers import (
    SITE,
    StaticLookup,
    ct_series,
    dciodvfy_every_object,
    make_grant,
    series_handle,
)

# Milliseconds instead of seconds: the same code paths, in test time.
FAST = RetryPolicy(base=0.01, cap=0.2, store_timeout=20.0, idle_poll=0.05)


@pytest.fixture
def ct() -> list[Dataset]:
    return ct_series(3)


@pytest.fixture
def handle(ct: list[Dataset]) -> str:
    return series_handle(ct)


@pytest.fixture
def grant(handle: str) -> Grant:
    return make_grant([handle])


@pytest.fixture
def lookup(ct: list[Dataset]) -> StaticLookup:
    return StaticLookup(ct)


class Reports:
    """What central would receive over the control link."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.up = True

    async def __call__(self, message: Any) -> bool:
        if self.up:
            self.messages.append(dict(message))
        return self.up


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "pacs"
    path.mkdir()
    return path


@pytest.fixture
async def service(
    tmp_path: Path, folder: Path, lookup: StaticLookup, reports: Reports
) -> AsyncIterator[LabelService]:
    pacs = open_pacs(f"folder:{folder}")
    labels = LabelService(
        LabelStore(tmp_path / "labels.sqlite", site=SITE),
        pacs,
        lookup,
        policy=FAST,
        send_control=reports,
        run_worker=False,
    )
    try:
        yield labels
        # Whatever a test had built: every object passes dciodvfy (no errors).
        dciodvfy_every_object(tmp_path / "labels.sqlite", tmp_path)
    finally:
        await labels.aclose()
        await pacs.aclose()
