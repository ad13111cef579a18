"""Series retrieval into the cache: requested slice first, shared, observable, resilient."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread

from site_gateway.cache import DiskCache
from site_gateway.demo_data import DemoSite, write_demo_site
from site_gateway.pacs import (
    InstanceRecord,
    Pacs,
    PacsError,
    PacsErrorCode,
    RetrievalItem,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    open_pacs,
)
from site_gateway.retrieval import RetrievalProgress, Retriever
from tests.site_gateway.conftest import DEMO_SLICES, SCU_AET, DemoData
from tests.site_gateway.orthanc import OrthancServer


class CountingPacs(Pacs):
    """A real adapter, with the number of retrievals it was asked for counted."""

    def __init__(self, inner: Pacs) -> None:
        self.inner = inner
        self.retrievals = 0

    async def echo(self) -> None:
        await self.inner.echo()

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        return await self.inner.find_studies(query)

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        return await self.inner.find_series(study_uid)

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        return await self.inner.find_instances(study_uid, series_uid)

    async def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        self.retrievals += 1
        async for item in self.inner.retrieve_series(
            study_uid, series_uid, first_sop_uid=first_sop_uid
        ):
            yield item

    async def store(self, dataset: Dataset) -> None:
        await self.inner.store(dataset)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def small_site(tmp_path: Path) -> DemoSite:
    return write_demo_site(tmp_path / "site", slices=6, seed=3, rows=64, samples=False)


@pytest.fixture
async def folder_pacs(small_site: DemoSite) -> AsyncIterator[CountingPacs]:
    pacs = CountingPacs(open_pacs(f"folder:{small_site.folder}", rescan_interval=0))
    yield pacs
    await pacs.aclose()


async def test_the_requested_slice_is_usable_before_the_series_is_complete(
    orthanc: OrthancServer, demo: DemoData, tmp_path: Path
) -> None:
    async with open_pacs(orthanc.dimse_url(SCU_AET)) as pacs:
        instances = await pacs.find_instances(demo.site.study_uid, demo.site.series_uid)
        wanted = instances[DEMO_SLICES // 2].sop_uid
        retriever = Retriever(pacs, DiskCache(tmp_path / "cache", 10**9))
        retrieval = retriever.retrieve(
            demo.site.study_uid, demo.site.series_uid, first_sop_uid=wanted
        )
        seen: list[tuple[RetrievalProgress, bool]] = []
        retrieval.subscribe(lambda p: seen.append((p, retrieval.path_if_ready(wanted) is not None)))
        path = await retrieval.instance_path(wanted)
        assert dcmread(path).SOPInstanceUID == wanted
        final = await retrieval.wait_done()
    assert (final.received, final.failed, final.total, final.done) == (
        DEMO_SLICES,
        0,
        DEMO_SLICES,
        True,
    )
    first_received, wanted_ready = next((p, ready) for p, ready in seen if p.received == 1)
    assert not first_received.done
    assert wanted_ready  # the first instance to arrive is the one asked for


async def test_concurrent_requests_share_one_retrieval(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    a = retriever.retrieve(small_site.study_uid, small_site.series_uid)
    b = retriever.retrieve(small_site.study_uid, small_site.series_uid)
    assert a is b
    done = await a.wait_done()
    assert (done.received, done.total, folder_pacs.retrievals) == (6, 6, 1)


async def test_a_cached_series_is_not_retrieved_again(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    await retriever.retrieve(small_site.study_uid, small_site.series_uid).wait_done()
    again = await retriever.retrieve(small_site.study_uid, small_site.series_uid).wait_done()
    assert (again.received, again.done, folder_pacs.retrievals) == (6, True, 1)


async def test_progress_updates_end_with_done(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    retrieval = retriever.retrieve(small_site.study_uid, small_site.series_uid)
    snapshots = [p async for p in retrieval.updates()]
    assert snapshots[-1].done
    assert snapshots[-1].fraction == 1.0
    received = [p.received for p in snapshots]
    assert received == sorted(received)


async def test_a_broken_file_fails_alone(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    instances = await folder_pacs.find_instances(small_site.study_uid, small_site.series_uid)
    victim = sorted((small_site.folder / "ct").glob("*.dcm"))[2]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # truncated behind the index's back
    shutil.copystat(small_site.folder / "ct" / "ct-0001.dcm", victim)
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    retrieval = retriever.retrieve(small_site.study_uid, small_site.series_uid)
    done = await retrieval.wait_done()
    assert (done.received, done.failed) == (5, 1)
    broken = instances[2].sop_uid
    with pytest.raises(PacsError) as caught:
        await retrieval.instance_path(broken)
    assert caught.value.code is PacsErrorCode.MALFORMED_OBJECT
    assert (await retrieval.instance_path(instances[3].sop_uid)).exists()


async def test_an_unknown_series_ends_with_an_error(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    done = await retriever.retrieve(small_site.study_uid, "1.2.3.4").wait_done()
    assert done.error is not None
    assert done.error.code is PacsErrorCode.NOT_FOUND


async def test_closing_the_retriever_cancels_running_work(
    folder_pacs: CountingPacs, small_site: DemoSite, tmp_path: Path
) -> None:
    retriever = Retriever(folder_pacs, DiskCache(tmp_path / "cache", 10**8))
    retrieval = retriever.retrieve(small_site.study_uid, small_site.series_uid)
    await retriever.aclose()
    await asyncio.wait_for(retrieval.wait_done(), 2)
