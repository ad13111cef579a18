"""Frame timing measured in the browser, in the same run as the rest: frames painted per second
while scrolling the demo CT and key press → painted frame (p50/p95), read-ahead off and on, with
where the time went per stage of the frame path. Prints figures; asserts behaviour, not speed
(bench/viewer.py repeats the measurement)."""

from __future__ import annotations

import json
import statistics
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.browser.viewer_pages import product, wait_lossless, watch_console

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
__all__ = ["product"]


SCROLL_PASS = """(key) => new Promise((done) => {
  const v = window.rhinoViewer; const target = document.activeElement ?? document.body;
  const last = key === 'ArrowDown' ? v.seriesSlices - 1 : 0;
  const first = v.painted.length; const t0 = performance.now(); let scrolled = 0;
  let maxUnacked = 0; const handlerMs = []; const gaps = []; let before = t0;
  const pct = (xs, q) => { const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))] * 10) / 10; };
  const step = (now) => {
    gaps.push(now - before); before = now;
    maxUnacked = Math.max(maxUnacked, v.frames.unacked);
    if (v.slice.index !== last) {
      const t = performance.now();
      target.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
      handlerMs.push(performance.now() - t);
      scrolled += 1;
      requestAnimationFrame(step);
      return;
    }
    const wait = () => {
      const frames = v.painted.slice(first);
      const end = frames.find((p) => p.index === last);
      if (!end) return requestAnimationFrame(wait);
      const shown = frames.filter((p) => p.at <= end.at);
      const seconds = (end.at - t0) / 1000;
      const sources = {};
      for (const p of shown) sources[p.source] = (sources[p.source] ?? 0) + 1;
      // Main-thread work per step: the key handler (slice, scheduler, overlay text) and the
      // viewport's canvas paint; and the gaps between animation frames (16.7 ms = none missed).
      const paints = shown.map((p) => p.paintMs);
      // fps counts from the pass's start (it includes the wait for the first key's frame);
      // steadyFps from the first painted frame to the last (frames between them per second).
      const span = (end.at - shown[0].at) / 1000;
      done({frames: shown.length, seconds, fps: Math.round(shown.length / seconds * 10) / 10,
            steadyFps: Math.round((shown.length - 1) / span * 10) / 10,
            distinct: new Set(shown.map((p) => p.index)).size, scrolled, sources, maxUnacked,
            mainThread: {key_handler_ms_p50: pct(handlerMs, 0.5), key_handler_ms_p95: pct(handlerMs, 0.95),
              paint_ms_p50: pct(paints, 0.5), paint_ms_p95: pct(paints, 0.95),
              frame_gap_ms_p50: pct(gaps.slice(1), 0.5), frame_gap_ms_p95: pct(gaps.slice(1), 0.95)}});
    };
    wait();
  };
  requestAnimationFrame(step);
})"""


FRAME_PATH = """(since) => {
  const rows = window.rhinoViewer.framePath.filter((f) => f.arrived >= since);
  const pct = (xs, q) => { if (!xs.length) return null; const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))] * 10) / 10; };
  const stat = (xs) => ({n: xs.length, p50: pct(xs, 0.5), p95: pct(xs, 0.95)});
  const out = {};
  for (const lane of ['interactive', 'prefetch']) {
    const r = rows.filter((f) => f.lane === lane && f.sent !== null);
    out[`${lane}_sent_to_arrived_ms`] = stat(r.map((f) => f.arrived - f.sent));
  }
  out.site_render_ms = stat(rows.filter((f) => f.renderMs !== null).map((f) => f.renderMs));
  out.decode_ms = stat(rows.map((f) => f.decoded - f.arrived));
  out.decoded_to_painted_ms = stat(rows.filter((f) => f.painted !== null)
    .map((f) => f.painted - f.decoded));
  for (const q of ['preview', 'lossless']) {
    out[`${q}_kbytes`] = stat(rows.filter((f) => f.quality === q).map((f) => f.bytes / 1024));
  }
  return out;
}"""


def measure_scrolling(page: Page, task_url: str) -> dict[str, Any]:
    """One fresh viewer page: key → paint latency on slices 1…35, then one key per animation
    frame down to the last slice and back up to the first."""
    page.goto(task_url)
    wait_lossless(page)
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("Home")
    wait_lossless(page)
    since = page.evaluate("performance.now()")

    # Latency first: real key presses, each timed from the event to the paint of the new slice.
    page.evaluate(
        """() => { window.__keys = []; window.__delays = [];
        window.addEventListener('keydown', (e) => {
          window.__keys.push(e.timeStamp); window.__delays.push(performance.now() - e.timeStamp);
        }, true); }"""
    )
    latencies: list[float] = []
    sources: dict[str, int] = {}
    qualities: dict[str, int] = {}
    for _ in range(35):  # slices 1…35 (the viewer opened on the middle one, 60 of 120)
        target = page.evaluate("window.rhinoViewer.slice.index") + 1
        page.keyboard.press("ArrowDown")
        page.wait_for_function(
            "(i) => window.rhinoViewer.painted.some((p) => p.index === i && p.at > window.__keys.at(-1))",
            arg=target,
        )
        latency, source, quality = page.evaluate(
            """(i) => { const k = window.__keys.at(-1);
            const p = window.rhinoViewer.painted.find((p) => p.index === i && p.at > k);
            return [p.at - k, p.source, p.quality]; }""",
            target,
        )
        latencies.append(latency)
        sources[source] = sources.get(source, 0) + 1
        qualities[quality] = qualities.get(quality, 0) + 1
        page.wait_for_timeout(30)
    # Throughput: down to the last slice (slices not shown yet: from the site, directly or read
    # ahead), then back up to the first (mostly decoded frames kept in the browser).
    passes = [page.evaluate(SCROLL_PASS, key) for key in ("ArrowDown", "ArrowUp")]
    latencies.sort()
    # From the key event's timestamp to the page's first listener: the browser's own input delay.
    delays = sorted(page.evaluate("window.__delays"))
    return {
        "key_event_to_listener_ms_p50": round(statistics.median(delays), 1),
        "painted_fps_from_site": passes[0]["fps"],
        "painted_fps_cached": passes[1]["fps"],
        "painted_fps_steady_from_site": passes[0]["steadyFps"],
        "slices_painted_of_scrolled": f"{passes[0]['distinct']}/{passes[0]['scrolled']}",
        "key_to_paint_ms_p50": round(statistics.median(latencies), 1),
        "key_to_paint_ms_p95": round(latencies[round(0.95 * (len(latencies) - 1))], 1),
        "samples": len(latencies),
        # Where painted frames came from: "site" (an interactive answer), "prefetch" (read ahead by
        # the prefetch lane, painted as it arrived), "cache" (decoded earlier, kept in the browser).
        "key_to_paint_sources": sources,
        "key_to_paint_first_quality": qualities,
        "scroll_down_sources": passes[0]["sources"],
        "scroll_up_sources": passes[1]["sources"],
        "scroll_down_main_thread": passes[0]["mainThread"],
        "scroll_up_main_thread": passes[1]["mainThread"],
        "max_unacked_frames": max(p["maxUnacked"] for p in passes),
        "browser_cache": page.evaluate("window.rhinoViewer.frames"),
        "frame_path": page.evaluate(FRAME_PATH, since),
    }


def test_frame_timing_while_scrolling(page: Page, product: dict[str, Any]) -> None:
    """Frames painted per second while scrolling, and key press → painted frame (p50/p95): with
    read-ahead off (every frame asked for when shown) and on, in close succession."""
    sign_in(page, product["url"], "annotator", product["users"]["annotator"])
    console = watch_console(page)
    page.goto(f"{product['url']}/")
    rows = page.locator("#task-rows tr")
    rows.first.locator("a").click()  # the oldest task: the demo site's phantom CT
    page.wait_for_url("**/tasks/*/view/")
    task_url = page.url.split("?")[0]
    without = measure_scrolling(page, f"{task_url}?prefetch=off")
    figures = measure_scrolling(page, task_url)
    # The browser's own animation-frame rate on this machine, idle: the ceiling for painted frames.
    figures["animation_frames_per_s_idle"] = page.evaluate(
        """() => new Promise((done) => { let n = 0; const t0 = performance.now();
        const tick = (t) => (t - t0 < 1000 ? (n++, requestAnimationFrame(tick)) : done(n));
        requestAnimationFrame(tick); })"""
    )
    figures["without_prefetch"] = without
    print(f"\nviewer frame timing: {json.dumps(figures)}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "viewer-frame-timing.json").write_text(json.dumps(figures, indent=2))
    frames = figures["browser_cache"]
    for run in (figures, without):
        assert run["samples"] == 35 and run["max_unacked_frames"] <= 8  # central's window
    # Without read-ahead every new slice came from the site; with it, read ahead through central.
    assert without["browser_cache"]["prefetched"] == 0 and "site" in without["key_to_paint_sources"]
    # The frame path was timed per stage: the site's render time rode the frame headers.
    path = without["frame_path"]
    assert path["interactive_sent_to_arrived_ms"]["n"] > 0 and path["site_render_ms"]["n"] > 0
    assert path["decoded_to_painted_ms"]["n"] > 0 and figures["frame_path"]["decode_ms"]["n"] > 0
    assert frames["prefetched"] > 0
    # More frames were decoded than the cache holds: it evicted, and stayed within its budget.
    assert frames["fromSite"] + frames["prefetched"] > frames["cacheFrames"]
    assert 0 < frames["cacheBytes"] <= frames["cacheBudget"]
    assert console == []
