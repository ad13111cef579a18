"""Label write-back latency: save → "saved at site" and save → "stored in PACS", p50/p95.

A 512×512 CT series built in code; each save is an edit of a realistic document (regions, a
point, a length, an angle, classifications and a 512² brush mask → one SR and one SEG per save),
sent through ``LabelService.save`` as ``label.save`` does, with the delivery worker running, and
the gateway's own series lookup (handle map, PACS query, headers from the warm instance cache).
Saves are sequential and each waits for "stored in PACS", so the figures are latencies, not
queueing. PACS: a fresh Orthanc over C-STORE on loopback, then the folder PACS.
Goals (issue 7): saved at site ≤ 100 ms, stored in PACS ≤ 2 s.

Run: ``python bench/writeback.py [--saves 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pydicom.dataset import Dataset

from imaging import HandleKey
from site_gateway.cache import DiskCache
from site_gateway.handle_map import HandleMap
from site_gateway.labels.service import LabelService
from site_gateway.labels.sources import SeriesSourceLookup
from site_gateway.labels.store import LabelStore
from site_gateway.pacs import open_pacs
from site_gateway.protocol import LabelState
from site_gateway.retrieval import Retriever
from site_gateway.series_source import SeriesSource
from tests.imaging.dicom_out import sources as src
from tests.site_gateway.labels.helpers import SITE, document, every_kind, make_grant
from tests.site_gateway.orthanc import free_port, start_orthanc

ROWS = COLUMNS = 512


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(
    url: str, workdir: Path, saves: int, series: list[Dataset]
) -> tuple[list[float], list[float]]:
    pacs = open_pacs(url)
    # The gateway's own lookup: handle map → PACS query → instance cache (warm, as after viewing).
    key = HandleKey(secrets.token_bytes(32))
    handles = HandleMap(workdir / "handles.sqlite", key)
    disk = DiskCache(workdir / "cache", 1 << 30)
    source = SeriesSource(
        pacs=pacs, retriever=Retriever(pacs, disk), handles=handles, handle_key=key, disk=disk
    )
    handle = handles.add_series(str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID))
    lookup = SeriesSourceLookup(source)
    for index in range(len(series)):
        await lookup.frame(handle, index)
    grant = make_grant([handle])
    service = LabelService(LabelStore(workdir / "labels.sqlite", site=SITE), pacs, lookup)
    stored: dict[int, asyncio.Event] = {}

    async def on_state(subject: str, revision: int, state: LabelState, reason: str | None) -> None:
        if state is not LabelState.SAVED_AT_SITE:
            stored.setdefault(revision, asyncio.Event()).set()

    service.worker.on_state = on_state
    await service.start()
    saved_ms: list[float] = []
    stored_ms: list[float] = []
    try:
        annotations = every_kind(handle, ROWS, COLUMNS)
        base = None
        for n in range(saves + 1):  # the first one loads highdicom's tables: not counted
            annotations[0]["geometry"]["points"][1] = [30.0 + n % 200, 40.0]
            annotations[-1]["uid"] = f"b{n}"  # a changed mask too: an SR and a SEG each time
            started = time.perf_counter()
            revision = await service.save(grant, document(annotations, base=base))
            at_site = time.perf_counter()
            async with asyncio.timeout(60):
                await stored.setdefault(revision.revision, asyncio.Event()).wait()
            in_pacs = time.perf_counter()
            final = service.store.revision("task/12", revision.revision)
            if final.state is not LabelState.STORED_IN_PACS:
                raise RuntimeError(f"revision {revision.revision}: {final.state} {final.reason}")
            base = revision.revision
            if n:
                saved_ms.append((at_site - started) * 1000)
                stored_ms.append((in_pacs - started) * 1000)
    finally:
        await service.aclose()
        await pacs.aclose()
        handles.close()
    return saved_ms, stored_ms


def _write_series(series: list[Dataset], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, ds in enumerate(series):
        paths.append(folder / f"ct{n}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def _report(name: str, saved_ms: list[float], stored_ms: list[float]) -> None:
    for label, values, goal in (
        ("save → saved at site", saved_ms, 100.0),
        ("save → stored in PACS", stored_ms, 2000.0),
    ):
        p50, p95 = statistics.median(values), _percentile(values, 0.95)
        verdict = "ok" if p95 <= goal else "OVER GOAL"
        print(
            f"{name:<16} {label:<24} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   "
            f"(goal ≤ {goal:.0f} ms: {verdict}, n={len(values)})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()
    binary = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    series = src.ct_series(3, rows=ROWS, columns=COLUMNS)
    with tempfile.TemporaryDirectory(prefix="rhino-bench-writeback-") as tmp:
        root = Path(tmp)
        files = _write_series(series, root / "files")
        server = start_orthanc(
            binary, root / "orthanc", modalities={"rhino": ("RHINO", free_port())}
        )
        try:
            server.upload(files)
            (root / "dimse").mkdir()
            url = server.dimse_url("RHINO", timeout=30)
            results = asyncio.run(_run(url, root / "dimse", args.saves, series))
        finally:
            server.stop()
        _report("Orthanc C-STORE", *results)
        _write_series(series, root / "folder" / "pacs" / "ct")
        url = f"folder:{root / 'folder' / 'pacs'}"
        results = asyncio.run(_run(url, root / "folder", args.saves, series))
        _report("folder PACS", *results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
