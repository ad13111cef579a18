"""Viewer benchmark: frame timing measured in Chromium while scrolling the demo CT.

Starts the real product (daphne + the demo gateways over folder PACS, the 120-slice 512² phantom
CT) on loopback, drives Debian's Chromium (headless, the flags the tests use) through the viewer
as the demo annotator, and measures what tests/browser/test_viewer_timing.py measures —
the same code (`measure_scrolling`) — ``--runs`` times with read-ahead off and on, each on a fresh
page: painted frames/s scrolling down the series and back up, key press → painted frame, and the
frame path per stage (site render, sent → arrived, createImageBitmap, decoded → painted). Prints
p50 / p95 per run and the load average; asserts nothing about speed.

    python bench/viewer.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in  # noqa: E402
from tests.browser.test_viewer_timing import measure_scrolling  # noqa: E402
from tests.product import start_product  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def stage(figures: dict[str, Any], name: str) -> str:
    s = figures["frame_path"][name]
    return "—" if not s["n"] else f"{s['p50']:.1f}/{s['p95']:.1f}"


def row(label: str, f: dict[str, Any]) -> None:
    lane = "prefetch" if f["frame_path"]["prefetch_sent_to_arrived_ms"]["n"] else "interactive"
    print(
        f"{label:<16} {f['painted_fps_from_site']:6.1f} {f['painted_fps_steady_from_site']:6.1f} "
        f"{f['painted_fps_cached']:6.1f} "
        f"{f['slices_painted_of_scrolled']:>7}  {f['key_to_paint_ms_p50']:5.1f}/"
        f"{f['key_to_paint_ms_p95']:<6.1f} "
        f"{stage(f, f'{lane}_sent_to_arrived_ms'):>11} {stage(f, 'site_render_ms'):>10} "
        f"{stage(f, 'decode_ms'):>10} {stage(f, 'decoded_to_painted_ms'):>10}  "
        f"{f['scroll_down_main_thread']['frame_gap_ms_p95']:5.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rhino-bench-viewer-") as tmp:
        started = time.perf_counter()
        product = start_product(Path(tmp))
        print(f"product up in {time.perf_counter() - started:.1f} s; {load()}")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                context.set_default_timeout(30_000)
                page = context.new_page()
                sign_in(page, product.url, "annotator", product.password)
                page.locator("#task-rows tr").first.locator("a").click()  # the phantom CT
                page.wait_for_url("**/tasks/*/view/")
                url = page.url.split("?")[0]
                print(
                    "ms as p50/p95; fps: painted frames/s scrolling down (new slices) / back up,"
                    " from the pass's start; steady: down, first to last painted frame;"
                    " gap: animation-frame gap p95 scrolling down"
                )
                print(
                    f"{'run':<16} {'fps↓':>6} {'steady':>6} {'fps↑':>6} {'painted':>7}  {'key→paint':<11} "
                    f"{'sent→arr':>11} {'render':>10} {'decode':>10} {'→painted':>10}  {'gap':>5}"
                )
                for run in range(1, args.runs + 1):
                    row(f"{run} read-ahead off", measure_scrolling(page, f"{url}?prefetch=off"))
                    row(f"{run} read-ahead on", measure_scrolling(page, url))
                    print(f"{'':<16} {load()}")
                browser.close()
        finally:
            product.close()


if __name__ == "__main__":
    main()
