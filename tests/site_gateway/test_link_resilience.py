"""The gateway under stress: central restarts, slow and broken PACSes, hostile ids, memory caps."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, generate_uid

from site_gateway.demo_data import write_demo_site
from site_gateway.pacs import (
    InstanceRecord,
    Pacs,
    RetrievalItem,
    RetrievedInstance,
    SeriesRecord,
    StudyQuery,
    StudyRecord,
    open_pacs,
)
from tests.site_gateway.conftest import DemoData
from tests.site_gateway.fake_central import DataLinkClient, FakeCentral
from tests.site_gateway.fake_pacs import FakePacs
from tests.site_gateway.gateway_env import GatewayEnv, gateway_env


class RoutingPacs(Pacs):
    """Sends each series to the PACS the test chose for it (one can be slow, hang or lie)."""

    def __init__(self, default: Pacs, routes: dict[str, Pacs] | None = None) -> None:
        self.default = default
        self.routes = routes or {}
        self.find_delay: dict[str, asyncio.Event] = {}

    def _for(self, series_uid: str) -> Pacs:
        return self.routes.get(series_uid, self.default)

    async def echo(self) -> None:
        await self.default.echo()

    async def find_studies(self, query: StudyQuery | None = None) -> list[StudyRecord]:
        return await self.default.find_studies(query)

    async def find_series(self, study_uid: str) -> list[SeriesRecord]:
        return await self.default.find_series(study_uid)

    async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
        gate = self.find_delay.get(series_uid)
        if gate is not None:
            await gate.wait()  # a PACS that takes its time to answer a query
        return await self._for(series_uid).find_instances(study_uid, series_uid)

    async def retrieve_series(
        self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
    ) -> AsyncGenerator[RetrievalItem, None]:
        stream = self._for(series_uid).retrieve_series(
            study_uid, series_uid, first_sop_uid=first_sop_uid
        )
        async for item in stream:
            yield item

    async def store(self, dataset: Dataset) -> None:
        await self.default.store(dataset)

    async def aclose(self) -> None:
        for pacs in {self.default, *self.routes.values()}:
            await pacs.aclose()


def sample_series(demo: DemoData, name: str) -> tuple[str, str]:
    ds = dcmread(next(p for p in demo.files if p.name == f"sample-{name}.dcm"))
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


@pytest.fixture
async def routed(tmp_path: Path, demo: DemoData) -> AsyncIterator[tuple[GatewayEnv, RoutingPacs]]:
    url = f"folder:{demo.site.folder}"
    pacs = RoutingPacs(open_pacs(url))
    async with gateway_env(tmp_path / "state", url, pacs=pacs) as env:
        yield env, pacs


async def test_the_gateway_reconnects_after_central_restarts_and_serves_a_reattached_session(
    tmp_path: Path, demo: DemoData
) -> None:
    async with gateway_env(tmp_path / "state", f"folder:{demo.site.folder}") as env:
        series = env.series_handle(demo.site.study_uid, demo.site.series_uid)
        session = str(uuid.uuid4())
        link = await env.central.open_session(session, [series])
        header, _ = await link.request_frame(series, 2, quality="preview")
        connections = env.gateway.link.connections

        port, key = env.central.port, env.central.key
        await env.central.stop()
        await asyncio.wait_for(link.ws.wait_closed(), 5)
        await asyncio.sleep(0.3)  # the gateway is now retrying against a closed port
        restarted = FakeCentral(env.central.gateway_key, port=port)
        restarted.key = key
        await restarted.start()
        try:
            # Central re-attaches the live session with a freshly signed grant.
            link = await restarted.open_session(session, [series])
            header, image = await link.request_frame(series, 2, quality="preview")
            assert header["seq"] == link.seq and image[:2] == b"\xff\xd8"
            assert env.gateway.link.connections == connections + 1
            assert list(env.gateway.manager.sessions) == [session]
        finally:
            await restarted.stop()


async def test_a_slow_pacs_query_does_not_delay_frames_of_another_session(
    routed: tuple[GatewayEnv, RoutingPacs], demo: DemoData
) -> None:
    env, pacs = routed
    ct = env.series_handle(demo.site.study_uid, demo.site.series_uid)
    mr_study, mr_series = sample_series(demo, "MR_small")
    mr = env.series_handle(mr_study, mr_series)
    fast = await env.central.open_session(str(uuid.uuid4()), [ct])
    await fast.series_info(ct)
    slow = await env.central.open_session(str(uuid.uuid4()), [mr])
    pacs.find_delay[mr_series] = gate = asyncio.Event()
    await slow.send({"type": "series.info", "seq": 1, "series": mr})
    await slow.send({"type": "frame.request", "seq": 2, "series": mr, "index": 0})
    await asyncio.sleep(0.1)
    latencies = []
    for index in range(demo.site.slices):
        started = time.monotonic()
        header, _ = await fast.request_frame(ct, index, quality="lossless")
        latencies.append(time.monotonic() - started)
    assert max(latencies) < 1.0, latencies
    gate.set()
    info = await slow.reply_to(1)
    assert info["type"] == "series.info" and info["modality"] == "MR"
    header, _ = await slow.reply_to(2)
    assert header["series"] == mr


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [("hang", "pacs_timeout"), (0xC000, "pacs_unavailable"), (0xA700, "pacs_unavailable")],
    ids=["hanging", "failure-status", "out-of-resources"],
)
async def test_a_failing_dimse_pacs_yields_a_coded_error_and_other_sessions_go_on(
    tmp_path: Path,
    demo: DemoData,
    behaviour: str | int,
    code: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = FakePacs(find=behaviour)
    url = f"folder:{demo.site.folder}"
    mr_study, mr_series = sample_series(demo, "MR_small")
    pacs = RoutingPacs(open_pacs(url), {mr_series: open_pacs(broken.url)})
    try:
        async with gateway_env(tmp_path / "state", url, pacs=pacs) as env:
            ct = env.series_handle(demo.site.study_uid, demo.site.series_uid)
            mr = env.series_handle(mr_study, mr_series)
            bad = await env.central.open_session(str(uuid.uuid4()), [mr])
            good = await env.central.open_session(str(uuid.uuid4()), [ct])
            await bad.send({"type": "frame.request", "seq": 7, "series": mr, "index": 0})
            header, _ = await good.request_frame(ct, 0, quality="preview")
            reply = await bad.reply_to(7)
            assert reply["type"] == "error" and reply["code"] == code, reply
            assert any("refused" in r.message for r in caplog.records)
            header, _ = await good.request_frame(ct, 1, quality="preview")
            assert header["index"] == 1
    finally:
        broken.stop()


async def test_malformed_objects_and_undecodable_syntaxes_are_image_errors(
    tmp_path: Path, demo: DemoData
) -> None:
    # Over DIMSE, the PACS sends one good and one truncated slice; from the folder, an object
    # whose transfer syntax says JPEG 2000 while its fragment is garbage.
    good, truncated, weird = (dcmread(p) for p in sorted(demo.site.folder.glob("ct/*.dcm"))[:3])
    truncated.PixelData = truncated.PixelData[:1000]
    served_series, weird_series = generate_uid(), generate_uid()
    for number, ds in enumerate((good, truncated)):
        ds.SeriesInstanceUID, ds.InstanceNumber = served_series, number + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    weird.SeriesInstanceUID = weird_series
    weird.file_meta.TransferSyntaxUID = JPEG2000Lossless
    weird.PixelData = encapsulate([b"\xff\x4f\xff\x51 not a codestream"])
    weird["PixelData"].VR = "OB"
    folder = tmp_path / "pacs"
    folder.mkdir()
    dcmwrite(folder / "weird.dcm", weird, enforce_file_format=True)
    served = FakePacs(get=[good, truncated])

    class FindHere(RoutingPacs):
        async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
            if series_uid != served_series:
                return await self.default.find_instances(study_uid, series_uid)
            return [
                InstanceRecord(study_uid, series_uid, str(ds.SOPInstanceUID), "", n + 1, 1)
                for n, ds in enumerate((good, truncated))
            ]

    url = f"folder:{folder}"
    routed = FindHere(open_pacs(url), {served_series: open_pacs(served.url)})
    try:
        async with gateway_env(tmp_path / "state", url, pacs=routed) as env:
            study = str(good.StudyInstanceUID)
            handle = env.series_handle(study, served_series)
            odd = env.series_handle(study, weird_series)
            link = await env.central.open_session(str(uuid.uuid4()), [handle, odd])
            header, _ = await link.request_frame(handle, 0, quality="preview")
            assert header["index"] == 0
            assert (await link.request_frame(handle, 1))["code"] == "image_error"
            assert (await link.request_frame(odd, 0))["code"] == "image_error"
            header, _ = await link.request_frame(handle, 0, quality="lossless")
            assert header["format"] == "png"
    finally:
        served.stop()


async def test_hostile_uids_never_name_files_outside_the_cache(
    tmp_path: Path, demo: DemoData
) -> None:
    url = f"folder:{demo.site.folder}"
    source = dcmread(sorted(demo.site.folder.glob("ct/*.dcm"))[0])
    hostile = "../../../../tmp/evil"

    class Hostile(RoutingPacs):
        async def find_instances(self, study_uid: str, series_uid: str) -> list[InstanceRecord]:
            return [InstanceRecord(study_uid, series_uid, hostile, "", 1, 1)]

        async def retrieve_series(
            self, study_uid: str, series_uid: str, *, first_sop_uid: str | None = None
        ) -> AsyncGenerator[RetrievalItem, None]:
            from io import BytesIO

            buffer = BytesIO()
            dcmwrite(buffer, source, enforce_file_format=True)
            yield RetrievedInstance(hostile, buffer.getvalue())

    before = set(tmp_path.parent.rglob("*"))
    async with gateway_env(tmp_path / "state", url, pacs=Hostile(open_pacs(url))) as env:
        handle = env.series_handle(demo.site.study_uid, demo.site.series_uid)
        session = str(uuid.uuid4())
        link = await env.central.open_session(session, [handle])
        await link.request_frame(handle, 0)
        env.gateway.audit.flush()
    created = set(tmp_path.parent.rglob("*")) - before
    state = tmp_path / "state"
    assert created and all(p == state or state in p.parents for p in created)
    assert not any("evil" in p.name for p in created)
    assert not any(p.name == "evil" for p in tmp_path.parent.parent.glob("*"))


@pytest.fixture(scope="module")
def ten_series(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[str, str]]]:
    root = tmp_path_factory.mktemp("ten-series")
    sites = [
        write_demo_site(root / f"s{seed}", slices=8, seed=seed, rows=128, samples=False)
        for seed in range(1, 11)
    ]
    return root, [(s.study_uid, s.series_uid) for s in sites]


async def test_ten_sessions_scrolling_different_series_stay_under_the_memory_cap(
    tmp_path: Path, ten_series: tuple[Path, list[tuple[str, str]]]
) -> None:
    root, uids = ten_series
    cap = 512 * 1024  # 16 decoded 128² CT slices: far fewer than the 80 being scrolled
    async with gateway_env(tmp_path / "state", f"folder:{root}", cache_memory_bytes=cap) as env:
        memory = env.gateway.memory
        handles = [env.series_handle(study, series) for study, series in uids]
        links = [await env.central.open_session(str(uuid.uuid4()), [h]) for h in handles]
        for link, handle in zip(links, handles, strict=True):  # warm up: series retrieved
            await link.series_info(handle)
        peak_cache = 0

        async def scroll(link: DataLinkClient, handle: str) -> int:
            nonlocal peak_cache
            served = 0
            for sweep in range(3):
                for index in range(8) if sweep % 2 == 0 else reversed(range(8)):
                    reply = await link.request_frame(handle, index, quality="preview")
                    served += isinstance(reply, tuple)
                    peak_cache = max(peak_cache, memory.size_bytes)
            return served

        tracemalloc.start()
        baseline, _ = tracemalloc.get_traced_memory()
        served = await asyncio.gather(
            *(scroll(link, h) for link, h in zip(links, handles, strict=True))
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert served == [24] * 10
        assert peak_cache <= cap and memory.size_bytes <= cap
        # Beyond the cache: in-flight renders and encoded frames only (2 workers × a few MiB).
        assert peak - baseline < cap + 24 * 1024 * 1024, (peak - baseline) / 2**20
