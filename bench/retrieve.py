"""Series retrieval: our DIMSE adapter against dcmtk's getscu, on the same Orthanc, same run.

Generates a 300-slice CT, loads it into a fresh Orthanc on free ports, then times whole-series
retrieval (C-GET) through ``site_gateway`` (into the disk cache, as the gateway does) and through
``getscu`` writing files; prints seconds, instances/s, the ratio (goal: >= 0.5x getscu) and the
time to the first requested slice. Folder-adapter figures come last.

Run: ``python bench/retrieve.py [--slices 300] [--runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from site_gateway.cache import DiskCache
from site_gateway.demo_data import write_demo_site
from site_gateway.pacs import Pacs, RetrievedInstance, open_pacs
from site_gateway.retrieval import Retriever
from tests.site_gateway.orthanc import OrthancServer, free_port, start_orthanc

SCU_AET, GETSCU_AET = "RHINO", "GETSCU"


def _find_binary(name: str) -> str | None:
    path = shutil.which(name)
    if path is None and os.access(f"/usr/sbin/{name}", os.X_OK):
        path = f"/usr/sbin/{name}"
    return path


async def _stream_all(pacs: Pacs, study: str, series: str, first: str | None) -> int:
    count = 0
    async for item in pacs.retrieve_series(study, series, first_sop_uid=first):
        count += isinstance(item, RetrievedInstance)
    return count


async def _via_retriever(
    url: str, cache_dir: Path, study: str, series: str, first: str
) -> tuple[float, float, int]:
    """(seconds to first requested slice, seconds to whole series, instances) — cold adapter."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    started = time.perf_counter()
    async with open_pacs(url) as pacs:
        retriever = Retriever(pacs, DiskCache(cache_dir, 2 * 10**9))
        retrieval = retriever.retrieve(study, series, first_sop_uid=first)
        await retrieval.instance_path(first)
        first_at = time.perf_counter() - started
        progress = await retrieval.wait_done()
        return first_at, time.perf_counter() - started, progress.received


def _getscu(server: OrthancServer, study: str, series: str, out: Path) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(
        [
            "getscu", "-aet", GETSCU_AET, "-aec", server.aet, "-S",
            "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study}",
            "-k", f"SeriesInstanceUID={series}", "-od", str(out),
            "127.0.0.1", str(server.dicom_port),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started, len(list(out.iterdir()))


def _row(label: str, seconds: float, count: int) -> str:
    return f"  {label:<44} {seconds:7.3f} s  {count / seconds:8.1f} instances/s  ({count})"


async def _median(
    runs: int, action: Callable[[], Awaitable[tuple[float, ...]]]
) -> tuple[float, ...]:
    results = [await action() for _ in range(runs)]
    return tuple(statistics.median(column) for column in zip(*results, strict=True))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rhino-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        site = write_demo_site(work / "site", slices=args.slices, seed=1, samples=False)
        print(
            f"demo CT: {args.slices} slices 512x512 written in {time.perf_counter() - started:.2f} s"
        )
        files = sorted((site.folder / "ct").glob("*.dcm"))
        middle = len(files) // 2

        print("\nfolder adapter (the embedded default)")
        async with open_pacs(f"folder:{site.folder}") as folder:
            started = time.perf_counter()
            await folder.echo()  # first query indexes the folder
            print(_row("index (cold, first query)", time.perf_counter() - started, len(files)))
            instances = await folder.find_instances(site.study_uid, site.series_uid)
            first = instances[middle].sop_uid
            started = time.perf_counter()
            count = await _stream_all(folder, site.study_uid, site.series_uid, first)
            print(_row("stream whole series (read + check)", time.perf_counter() - started, count))
        first_at, total, cached = await _median(
            args.runs,
            lambda: _via_retriever(
                f"folder:{site.folder}", work / "cache", site.study_uid, site.series_uid, first
            ),
        )
        print(_row("retrieve into disk cache", total, int(cached)))
        print(f"  {'time to first requested slice':<44} {first_at * 1000:7.1f} ms")

        binary = _find_binary("Orthanc")
        if binary is None or shutil.which("getscu") is None:
            print("\nOrthanc or dcmtk getscu is not installed: DIMSE figures skipped")
            return 0
        server = start_orthanc(
            binary,
            work / "orthanc",
            modalities={"rhino": (SCU_AET, free_port()), "getscu": (GETSCU_AET, free_port())},
        )
        try:
            started = time.perf_counter()
            server.upload(files)
            print(
                f"\nOrthanc {server.dicom_port}: loaded {len(files)} instances in "
                f"{time.perf_counter() - started:.2f} s"
            )
            url = server.dimse_url(SCU_AET, timeout=30)
            getscu_s, getscu_n = await _median(
                args.runs,
                lambda: asyncio.to_thread(
                    _getscu, server, site.study_uid, site.series_uid, work / "getscu"
                ),
            )
            first_at, ours_s, ours_n = await _median(
                args.runs,
                lambda: _via_retriever(url, work / "cache", site.study_uid, site.series_uid, first),
            )

            async def stream_only() -> tuple[float]:
                async with open_pacs(url) as pacs:
                    await pacs.echo()  # association up: time the transfer alone
                    started = time.perf_counter()
                    await _stream_all(pacs, site.study_uid, site.series_uid, first)
                    return (time.perf_counter() - started,)

            (stream_s,) = await _median(args.runs, stream_only)
        finally:
            server.stop()
        print(f"whole-series C-GET, median of {args.runs} runs")
        print(_row("dcmtk getscu -> files", getscu_s, int(getscu_n)))
        print(_row("site_gateway DIMSE -> disk cache (cold assoc)", ours_s, int(ours_n)))
        print(_row("site_gateway DIMSE stream, in memory (warm)", stream_s, int(ours_n)))
        ratio = (ours_n / ours_s) / (getscu_n / getscu_s)
        print(f"  ratio site_gateway / getscu throughput: {ratio:.2f}x (goal >= 0.5x)")
        print(f"  {'time to first requested slice (DIMSE, cold)':<44} {first_at * 1000:7.1f} ms")
        return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
