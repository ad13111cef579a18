"""Gateway fixtures: demo data, one real Orthanc per session, and the three PACS adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from site_gateway.demo_data import DemoSite, write_demo_site
from site_gateway.pacs import Pacs, open_pacs
from tests.parts import require_binary
from tests.site_gateway.orthanc import OrthancServer, free_port, start_orthanc

SCU_AET = "RHINO"
MOVE_AET = "RHINOMOVE"
DEMO_SLICES = 12


@dataclass(frozen=True)
class DemoData:
    site: DemoSite
    files: list[Path]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    folder = tmp_path_factory.mktemp("demo-site")
    site = write_demo_site(folder, slices=DEMO_SLICES, seed=7, rows=256)
    return DemoData(site, sorted(folder.rglob("*.dcm")))


@pytest.fixture(scope="session")
def move_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, demo: DemoData, move_port: int
) -> Iterator[OrthancServer]:
    binary = require_binary("Orthanc", "orthanc")
    server = start_orthanc(
        binary,
        tmp_path_factory.mktemp("orthanc"),
        modalities={"rhino": (SCU_AET, move_port), "rhinomove": (MOVE_AET, move_port)},
    )
    try:
        server.upload(demo.files)
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["folder", "dimse", "dicomweb"])
def pacs_url(request: pytest.FixtureRequest, demo: DemoData) -> str:
    if request.param == "folder":
        return f"folder:{demo.site.folder}"
    server: OrthancServer = request.getfixturevalue("orthanc")
    if request.param == "dimse":
        return server.dimse_url(SCU_AET, timeout=10)
    return server.dicomweb_url


@pytest.fixture
async def pacs(pacs_url: str) -> AsyncIterator[Pacs]:
    adapter = open_pacs(pacs_url)
    try:
        yield adapter
    finally:
        await adapter.aclose()
