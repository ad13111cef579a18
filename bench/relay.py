"""Relay benchmark: one viewer scrolling the demo CT through central, beside Orthanc's /rendered.

Starts the real product (daphne + the demo gateway over a folder PACS with a 300-slice synthetic
CT) on loopback, signs in as the demo annotator, opens a Secure Access session and scrolls:

- sequential: request → frame → ack → next, giving request→frame latency (p50/p95), cold (the
  site is still fetching and decoding) and warm;
- pipelined: up to 4 requests in flight (what the viewer does while scrolling), giving sustained
  frames/s;
- the prefetch lane (``priority: "prefetch"``, 4 in flight as the viewer keeps it): its frames/s
  on an idle session, and interactive request→frame latency with and without the lane kept full
  beside it (the site serves interactive requests first; what is left is CPU shared on 2 cores);

and the same 300 slices from a fresh Orthanc's ``/instances/{id}/frames/0/rendered`` in the same
run, one keep-alive HTTP client, sequential. Prints figures; asserts nothing about speed.

    python bench/relay.py [--slices 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from site_gateway.protocol import unpack_frame  # noqa: E402
from tests.e2e.client import Viewer, open_viewer, signed_in  # noqa: E402
from tests.product import Product, start_product  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, latencies_ms: list[float], wall_s: float) -> None:
    print(
        f"{name:<44} n={len(latencies_ms):4d}  p50={pct(latencies_ms, 0.5):7.2f} ms  "
        f"p95={pct(latencies_ms, 0.95):7.2f} ms  mean={statistics.fmean(latencies_ms):7.2f} ms  "
        f"{len(latencies_ms) / wall_s:7.1f} frames/s"
    )


async def sequential(
    viewer: Viewer, series: str, count: int, quality: str, seq0: int
) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        seq = seq0 + i
        await viewer.send(
            {"type": "frame.request", "seq": seq, "series": series, "index": i, "quality": quality}
        )
        await viewer.next_frame(seq, timeout=120)
        latencies.append((time.perf_counter() - t0) * 1000)
        viewer.frames.clear()
    return latencies, time.perf_counter() - started


async def scrolling(
    viewer: Viewer, series: str, count: int, seq0: int, depth: int = 4
) -> tuple[list[float], float, int]:
    """Scroll with up to ``depth`` requests in flight, as the viewer does. The site answers a
    request superseded by a newer one with ``cancelled`` (newest wins): those are not painted."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    cancelled = 0
    started = time.perf_counter()
    next_index = 0
    while next_index < count or sent:
        while next_index < count and len(sent) < depth:
            seq = seq0 + next_index
            sent[seq] = time.perf_counter()
            await viewer.send(
                {
                    "type": "frame.request",
                    "seq": seq,
                    "series": series,
                    "index": next_index,
                    "quality": "preview",
                }
            )
            next_index += 1
        data = await asyncio.wait_for(viewer.ws.recv(), timeout=120)
        if isinstance(data, bytes):
            answered = unpack_frame(data)[0].get("seq")
            if isinstance(answered, int) and answered in sent:
                latencies.append((time.perf_counter() - sent.pop(answered)) * 1000)
                await viewer.send({"type": "frame.ack", "seq": answered})
        else:
            message = json.loads(data)
            if message.get("type") == "error" and message.get("seq") in sent:
                sent.pop(message["seq"])
                cancelled += 1
    return latencies, time.perf_counter() - started, cancelled


async def beside_prefetch(
    viewer: Viewer, series: str, slices: int, seq0: int, *, lane: int, interactive: int = 60
) -> tuple[list[float], float, int]:
    """Interactive preview requests every 20 ms, one at a time, with ``lane`` prefetch requests
    kept outstanding beside them (0: none). Every frame is acknowledged, as the viewer does."""
    seq = seq0
    prefetching: set[int] = set()
    latencies: list[float] = []
    waiting: dict[int, float] = {}
    served = 0
    started = time.perf_counter()

    async def ask(index: int, priority: str) -> int:
        nonlocal seq
        seq += 1
        await viewer.send(
            {"type": "frame.request", "seq": seq, "series": series, "index": index % slices,
             "quality": "preview", "priority": priority}
        )  # fmt: skip
        return seq

    next_prefetch = 0
    done = 0
    last_sent = 0.0
    while done < interactive:
        while len(prefetching) < lane:
            prefetching.add(await ask(next_prefetch, "prefetch"))
            next_prefetch += 7
        now = time.perf_counter()
        if not waiting and now - last_sent >= 0.02:
            waiting[await ask(done * 13, "interactive")] = now
            last_sent = now
        try:
            data = await asyncio.wait_for(viewer.ws.recv(), timeout=0.02)
        except TimeoutError:
            continue
        if isinstance(data, bytes):
            answered = unpack_frame(data)[0].get("seq")
            if not isinstance(answered, int):
                continue
            await viewer.send({"type": "frame.ack", "seq": answered})
            if answered in waiting:
                latencies.append((time.perf_counter() - waiting.pop(answered)) * 1000)
                done += 1
            elif answered in prefetching:
                prefetching.discard(answered)
                served += 1
        else:
            message = json.loads(data)
            if message.get("type") == "error":
                prefetching.discard(message.get("seq"))
                if message.get("seq") in waiting:
                    waiting.pop(message["seq"])
                    done += 1
    # What is still on its way is drained, so the next run starts from a quiet session.
    deadline = time.perf_counter() + 10
    while prefetching and time.perf_counter() < deadline:
        data = await asyncio.wait_for(viewer.ws.recv(), timeout=10)
        answered = unpack_frame(data)[0].get("seq") if isinstance(data, bytes) else None
        if answered is None and isinstance(data, str):
            answered = json.loads(data).get("seq")
        if isinstance(data, bytes):
            await viewer.send({"type": "frame.ack", "seq": answered})
        prefetching.discard(answered)  # type: ignore[arg-type]
    return latencies, time.perf_counter() - started, served


async def prefetch_only(
    viewer: Viewer, series: str, count: int, seq0: int, depth: int = 4
) -> tuple[list[float], float]:
    """The prefetch lane alone, ``depth`` in flight, each frame acknowledged on arrival."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    started = time.perf_counter()
    index = 0
    while index < count or sent:
        while index < count and len(sent) < depth:
            sent[seq0 + index] = time.perf_counter()
            await viewer.send(
                {"type": "frame.request", "seq": seq0 + index, "series": series, "index": index,
                 "quality": "preview", "priority": "prefetch"}
            )  # fmt: skip
            index += 1
        data = await asyncio.wait_for(viewer.ws.recv(), timeout=120)
        answered = unpack_frame(data)[0].get("seq") if isinstance(data, bytes) else None
        if isinstance(answered, int) and answered in sent:
            latencies.append((time.perf_counter() - sent.pop(answered)) * 1000)
            await viewer.send({"type": "frame.ack", "seq": answered})
        elif isinstance(data, str) and json.loads(data).get("seq") in sent:
            sent.pop(json.loads(data)["seq"])
    return latencies, time.perf_counter() - started


async def bench_relay(product: Product) -> None:
    http = signed_in(product, "annotator")
    tasks = http.get(f"{product.url}/api/tasks/?assignee=me", timeout=10).json()["results"]
    # The demo site's first task is its phantom CT (the site's largest series).
    task = min((t for t in tasks if t["site_name"] == "Demo Hospital"), key=lambda t: t["id"])
    viewer = await open_viewer(product, http, task["id"])
    series = task["series_handle"]
    await viewer.send({"type": "series.info", "seq": 1, "series": series})
    info = await viewer.next_text("series.info", timeout=120)
    slices = int(info["slices"])
    print(
        f"series: {slices} slices {info.get('rows')}×{info.get('columns')} via central on loopback"
    )
    cold, wall = await sequential(viewer, series, slices, "preview", 1000)
    report("relay, JPEG preview, sequential, cold", cold, wall)
    warm, wall = await sequential(viewer, series, slices, "preview", 2000)
    report("relay, JPEG preview, sequential, warm", warm, wall)
    lossless, wall = await sequential(viewer, series, slices, "lossless", 3000)
    report("relay, PNG lossless, sequential, warm", lossless, wall)
    painted, wall, cancelled = await scrolling(viewer, series, slices, 4000)
    report("relay, JPEG preview, scrolling (≤4 in flight)", painted, wall)
    print(f"{'':<44} {cancelled} superseded requests cancelled at the site (newest wins)")
    fetched, wall = await prefetch_only(viewer, series, slices, 5000)
    report("relay, JPEG preview, prefetch lane (4 in flight)", fetched, wall)
    for lane, seq0 in ((0, 6000), (4, 7000), (0, 8000), (4, 9000)):
        alone, wall, served = await beside_prefetch(viewer, series, slices, seq0, lane=lane)
        report(f"relay, interactive preview, prefetch lane {lane}", alone, wall)
        if lane:
            print(f"{'':<44} {served / wall:.1f} prefetch frames/s served beside it")
    await viewer.ws.close()


def bench_orthanc(product: Product, workdir: Path) -> None:
    from tests.site_gateway.orthanc import start_orthanc

    binary = "/usr/sbin/Orthanc"
    if not Path(binary).exists():
        print("Orthanc: not installed (apt-get install orthanc) — no comparison")
        return
    server = start_orthanc(binary, workdir / "orthanc", modalities={})
    try:
        files = sorted((product.var_dir / "demo" / "demo-site" / "pacs" / "ct").glob("*"))
        server.upload(files)
        http = requests.Session()
        ids = http.get(f"{server.http_url}/instances", timeout=30).json()
        runs = (("JPEG, cold", "image/jpeg"), ("JPEG, warm", "image/jpeg"), ("PNG", "image/png"))
        for label, accept in runs:
            latencies = []
            started = time.perf_counter()
            for instance in ids:
                t0 = time.perf_counter()
                reply = http.get(
                    f"{server.http_url}/instances/{instance}/frames/0/rendered",
                    headers={"Accept": accept},
                    timeout=30,
                )
                reply.raise_for_status()
                assert reply.headers["Content-Type"].startswith(accept), reply.headers
                latencies.append((time.perf_counter() - t0) * 1000)
            wall = time.perf_counter() - started
            report(f"Orthanc /rendered {label}, sequential", latencies, wall)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rhino-bench-relay-") as tmp:
        started = time.perf_counter()
        product = start_product(Path(tmp), slices=args.slices)
        print(f"product up in {time.perf_counter() - started:.1f} s")
        try:
            asyncio.run(bench_relay(product))
            bench_orthanc(product, Path(tmp))
        finally:
            product.close()


if __name__ == "__main__":
    main()
