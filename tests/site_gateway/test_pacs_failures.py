"""Failures of a PACS become coded errors, quickly, without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from site_gateway.pacs import (
    PacsError,
    PacsErrorCode,
    RetrievalFailure,
    RetrievedInstance,
    StatusClass,
    classify_status,
    open_pacs,
)
from site_gateway.pacs.dimse_assoc import DimseTimeouts
from tests.site_gateway.conftest import MOVE_AET, SCU_AET, DemoData
from tests.site_gateway.fake_pacs import FakePacs, MultipartServer, SilentServer
from tests.site_gateway.orthanc import OrthancServer, free_port


@pytest.fixture
def fake_pacs(request: pytest.FixtureRequest) -> Iterator[FakePacs]:
    server = FakePacs(**request.param)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0x0000, StatusClass.SUCCESS),
        (0xFF00, StatusClass.PENDING),
        (0xFE00, StatusClass.CANCEL),
        (0xB000, StatusClass.WARNING),
        (0x0111, StatusClass.WARNING),
        (0xA700, StatusClass.RETRYABLE),
        (0xA702, StatusClass.RETRYABLE),
        (0x0110, StatusClass.RETRYABLE),
        (0x0213, StatusClass.RETRYABLE),
        (0xA900, StatusClass.PERMANENT),
        (0xA801, StatusClass.PERMANENT),
        (0xC000, StatusClass.PERMANENT),
        (0xCFFF, StatusClass.PERMANENT),
        (0x0122, StatusClass.PERMANENT),
        (0x0124, StatusClass.PERMANENT),
    ],
)
def test_dimse_statuses_are_classified_per_ps3_4(status: int, expected: StatusClass) -> None:
    assert classify_status(status) is expected


@pytest.mark.parametrize(
    ("fake_pacs", "status_class"),
    [({"find": 0xA700}, StatusClass.RETRYABLE), ({"find": 0xC001}, StatusClass.PERMANENT)],
    indirect=["fake_pacs"],
)
async def test_a_find_failure_status_is_coded_and_classified(
    fake_pacs: FakePacs, status_class: StatusClass
) -> None:
    async with open_pacs(fake_pacs.url) as pacs:
        with pytest.raises(PacsError) as caught:
            await pacs.find_series(generate_uid())
    assert caught.value.code is PacsErrorCode.FAILURE_STATUS
    assert caught.value.status == fake_pacs.find
    assert caught.value.status_class is status_class


@pytest.mark.parametrize("fake_pacs", [{"get": 0xA701}], indirect=True)
async def test_a_retrieve_failure_status_is_retryable(fake_pacs: FakePacs) -> None:
    async with open_pacs(fake_pacs.url) as pacs:
        with pytest.raises(PacsError) as caught:
            _ = [i async for i in pacs.retrieve_series(generate_uid(), generate_uid())]
    assert (caught.value.code, caught.value.status) == (PacsErrorCode.FAILURE_STATUS, 0xA701)
    assert caught.value.retryable


@pytest.mark.parametrize("fake_pacs", [{"find": "hang"}], indirect=True)
async def test_a_pacs_hanging_in_c_find_times_out_without_blocking_the_loop(
    fake_pacs: FakePacs,
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    async with open_pacs(fake_pacs.url) as pacs:
        with pytest.raises(PacsError) as caught:
            await pacs.find_studies()
    elapsed = time.monotonic() - started
    task.cancel()
    assert caught.value.code is PacsErrorCode.TIMEOUT
    assert caught.value.retryable
    assert elapsed < 4
    assert ticks > elapsed / 0.01 * 0.5  # the loop kept running while pynetdicom waited


@pytest.mark.parametrize("fake_pacs", [{"get": "hang"}], indirect=True)
async def test_a_pacs_hanging_mid_c_get_times_out(fake_pacs: FakePacs) -> None:
    started = time.monotonic()
    async with open_pacs(fake_pacs.url) as pacs:
        with pytest.raises(PacsError) as caught:
            _ = [i async for i in pacs.retrieve_series(generate_uid(), generate_uid())]
    assert caught.value.code is PacsErrorCode.TIMEOUT
    assert time.monotonic() - started < 4


async def test_a_silent_server_times_out_during_association() -> None:
    silent = SilentServer()
    try:
        started = time.monotonic()
        url = f"dimse://PACS@127.0.0.1:{silent.port}?acse_timeout=1"
        async with open_pacs(url) as pacs:
            with pytest.raises(PacsError) as caught:
                await pacs.echo()
        assert caught.value.code is PacsErrorCode.TIMEOUT
        assert time.monotonic() - started < 4
    finally:
        silent.stop()


async def test_nobody_listening_is_unreachable() -> None:
    async with open_pacs(f"dimse://PACS@127.0.0.1:{free_port()}") as pacs:
        with pytest.raises(PacsError) as caught:
            await pacs.echo()
    assert caught.value.code is PacsErrorCode.UNREACHABLE
    assert caught.value.retryable


async def test_a_silent_dicomweb_server_times_out() -> None:
    silent = SilentServer()
    try:
        started = time.monotonic()
        async with open_pacs(
            f"dicomweb+http://127.0.0.1:{silent.port}/dicom-web", timeout=1
        ) as pacs:
            with pytest.raises(PacsError) as caught:
                await pacs.find_studies()
        assert caught.value.code is PacsErrorCode.TIMEOUT
        assert time.monotonic() - started < 4
    finally:
        silent.stop()


async def test_orthanc_rejects_a_wrong_called_ae_title(orthanc: OrthancServer) -> None:
    async with open_pacs(f"dimse://NOTORTHANC@127.0.0.1:{orthanc.dicom_port}") as pacs:
        with pytest.raises(PacsError) as caught:
            await pacs.echo()
    assert caught.value.code is PacsErrorCode.ASSOCIATION_REJECTED
    assert caught.value.status_class is StatusClass.PERMANENT


def _ct_slices(demo: DemoData, count: int) -> list[Dataset]:
    return [dcmread(p) for p in sorted(demo.site.folder.glob("ct/*.dcm"))[:count]]


@pytest.fixture
def malformed_pacs(request: pytest.FixtureRequest, demo: DemoData) -> Iterator[FakePacs]:
    good_a, broken, good_b = _ct_slices(demo, 3)
    broken.PixelData = broken.PixelData[:1000]  # shorter than Rows × Columns × 2
    server = FakePacs(get=[good_a, broken, good_b])
    yield server
    server.stop()


async def test_a_malformed_object_is_reported_and_retrieval_goes_on(
    malformed_pacs: FakePacs, demo: DemoData
) -> None:
    good_a, broken, good_b = _ct_slices(demo, 3)
    async with open_pacs(malformed_pacs.url) as pacs:
        items = [i async for i in pacs.retrieve_series(demo.site.study_uid, demo.site.series_uid)]
    failures = [i for i in items if isinstance(i, RetrievalFailure)]
    received = [i.sop_uid for i in items if isinstance(i, RetrievedInstance)]
    assert received == [good_a.SOPInstanceUID, good_b.SOPInstanceUID]
    assert [(f.sop_uid, f.error.code) for f in failures] == [
        (broken.SOPInstanceUID, PacsErrorCode.MALFORMED_OBJECT)
    ]


async def test_a_malformed_part_from_dicomweb_is_reported_and_retrieval_goes_on(
    demo: DemoData,
) -> None:
    paths = sorted(demo.site.folder.glob("ct/*.dcm"))[:3]
    good_a, good_b = dcmread(paths[0]), dcmread(paths[2])
    truncated = paths[1].read_bytes()[:2000]
    server = MultipartServer([paths[0].read_bytes(), truncated, b"junk", paths[2].read_bytes()])
    try:
        async with open_pacs(server.url) as pacs:
            stream = pacs.retrieve_series(demo.site.study_uid, demo.site.series_uid)
            items = [i async for i in stream]
    finally:
        server.stop()
    received = [i.sop_uid for i in items if isinstance(i, RetrievedInstance)]
    failures = [i.error.code for i in items if isinstance(i, RetrievalFailure)]
    assert received == [good_a.SOPInstanceUID, good_b.SOPInstanceUID]
    assert failures == [PacsErrorCode.MALFORMED_OBJECT] * 2


async def test_c_move_to_our_own_storage_scp_retrieves_requested_first(
    orthanc: OrthancServer, move_port: int, demo: DemoData
) -> None:
    url = orthanc.dimse_url(SCU_AET, retrieve="move", move_aet=MOVE_AET, move_port=move_port)
    async with open_pacs(url, move_bind="127.0.0.1") as pacs:
        instances = await pacs.find_instances(demo.site.study_uid, demo.site.series_uid)
        wanted = instances[-1].sop_uid
        items = [
            i
            async for i in pacs.retrieve_series(
                demo.site.study_uid, demo.site.series_uid, first_sop_uid=wanted
            )
        ]
    received = [i.sop_uid for i in items if isinstance(i, RetrievedInstance)]
    assert len(received) == len(items)
    assert received[0] == wanted
    assert sorted(received) == sorted(i.sop_uid for i in instances)


async def test_associations_are_reused_between_queries(orthanc: OrthancServer) -> None:
    async with open_pacs(orthanc.dimse_url(SCU_AET)) as pacs:
        started = time.monotonic()
        await pacs.echo()
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(5):
            await pacs.echo()
        reused = (time.monotonic() - started) / 5
    assert reused < first  # no new association negotiation per query


async def test_stopping_early_aborts_the_retrieval_cleanly(
    orthanc: OrthancServer, demo: DemoData
) -> None:
    async with open_pacs(orthanc.dimse_url(SCU_AET)) as pacs:
        started = time.monotonic()
        stream = pacs.retrieve_series(demo.site.study_uid, demo.site.series_uid)
        async with contextlib.aclosing(stream):
            async for _ in stream:
                break
        assert time.monotonic() - started < 3
        await pacs.echo()  # the adapter is still usable afterwards
        assert len(await pacs.find_instances(demo.site.study_uid, demo.site.series_uid)) > 1


@pytest.mark.parametrize("fake_pacs", [{"idle_timeout": 0.3}], indirect=True)
async def test_an_association_the_pacs_dropped_while_idle_is_replaced(fake_pacs: FakePacs) -> None:
    async with open_pacs(fake_pacs.url) as pacs:
        await pacs.echo()
        await asyncio.sleep(1.0)  # the PACS aborts the idle association meanwhile
        await pacs.echo()
        assert await pacs.find_series(generate_uid()) == []


def test_timeouts_have_sane_defaults() -> None:
    timeouts = DimseTimeouts()
    assert 0 < timeouts.connect <= timeouts.acse <= timeouts.dimse


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "dimse://127.0.0.1:104", "dimse://WAY_TOO_LONG_AE_TITLE@h:104", "dimse://A@h:x"],
)
def test_bad_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(PacsError) as caught:
        open_pacs(url)
    assert caught.value.code is PacsErrorCode.BAD_URL
