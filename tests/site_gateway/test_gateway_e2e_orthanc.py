"""End to end with a real Orthanc over DIMSE: a 300-slice CT, first slice before the series is in."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from site_gateway.demo_data import write_demo_site
from tests.site_gateway.conftest import SCU_AET
from tests.site_gateway.gateway_env import gateway_env
from tests.site_gateway.orthanc import OrthancServer

SLICES = 300


@pytest.mark.orthanc
@pytest.mark.slow
async def test_the_first_requested_slice_of_a_300_slice_ct_arrives_before_the_series_does(
    tmp_path: Path, orthanc: OrthancServer
) -> None:
    site = write_demo_site(tmp_path / "ct300", slices=SLICES, seed=300, rows=512, samples=False)
    orthanc.upload(sorted(site.folder.rglob("*.dcm")))
    url = orthanc.dimse_url(SCU_AET, timeout=30)
    async with gateway_env(tmp_path / "state", url) as env:
        series = env.series_handle(site.study_uid, site.series_uid)
        link = await env.central.open_session(str(uuid.uuid4()), [series])
        started = time.monotonic()
        link.seq += 1
        await link.send({"type": "series.info", "seq": link.seq, "series": series, "index": 150})
        link.seq += 1
        await link.send(
            {"type": "frame.request", "seq": link.seq, "series": series, "index": 150,
             "quality": "preview"}
        )  # fmt: skip
        events: list[tuple[float, str, object]] = []
        while True:
            message = await link.next(timeout=60)
            at = time.monotonic() - started
            if isinstance(message, tuple):
                events.append((at, "frame", message[0]["index"]))
            elif message["type"] == "retrieve.progress":
                events.append((at, "progress", (message["received"], message["done"])))
                if message["done"]:
                    break
            elif message["type"] == "series.info" and message["seq"] is not None:
                assert message["slices"] == SLICES and message["rows"] == 512
                events.append((at, "info", None))
        first_frame = next(e for e in events if e[1] == "frame")
        done = events[-1]
        # Rendered and sent while later progress still counts slices arriving.
        later = [e for e in events if e[1] == "progress" and e[0] > first_frame[0]]
        assert later and later[0][2][0] < SLICES, events  # type: ignore[index]
        assert first_frame[0] < done[0]
        print(
            f"\nfirst slice {first_frame[0] * 1000:.0f} ms, series of {SLICES} in "
            f"{done[0] * 1000:.0f} ms"
        )
