"""Series browser benchmark (issue 8): a project of 3 sites × 200 studies, each site a real
gateway over its own folder PACS, central on daphne, all on loopback.

Starts the real product (the two demo sites), adds ``--studies`` synthetic studies (a CT series of
4 images and an MR series of 2, 64×64, no patient data: built here) to each demo site's folder
PACS, enrolls and starts a third gateway over a third folder of the same size, and makes a project
with the three sites. Then measures what the lead's page does:

- REST: the page's request for one site (``GET /api/projects/<id>/sites/<site>/series/``, the
  site answering a live query: 200 studies, their series, de-identified, handles entered in its map)
  — first (cold) and repeated (warm), per site; and the three sites asked at once as the page
  does, time to the first site's results and to all three;
- browser (Chromium, ``--browser``): the project page opened fresh, time from navigation to the
  first site's rows on screen and to all three (the page renders every site's rows as they
  arrive), and a new search from the form.

Prints p50/p95/max; asserts nothing about speed. Note the machine's load (printed).

    python bench/browse.py [--studies 200] [--runs 20] [--browser]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from pydicom import Dataset  # noqa: E402
from pydicom.dataset import FileMetaDataset  # noqa: E402
from pydicom.uid import (  # noqa: E402
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from rhino_web.demo import gateway_command  # noqa: E402
from site_gateway.config import load_config  # noqa: E402
from site_gateway.keys import enroll  # noqa: E402
from tests.browser.lead_product import ApiUser  # noqa: E402
from tests.product import Product, start_product  # noqa: E402

BODY_PARTS = ("CHEST", "HEAD", "ABDOMEN", "PELVIS")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, values_s: list[float]) -> None:
    ms = [v * 1000 for v in values_s]
    print(
        f"{name:<52} n={len(ms):3d}  p50={pct(ms, 0.5):8.1f} ms  p95={pct(ms, 0.95):8.1f} ms  "
        f"max={max(ms):8.1f} ms"
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- synthetic studies (no patient data: computed names, UIDs from a seed) ---


def _image(
    seed: str, study: int, series: int, index: int, modality: str, body_part: str
) -> Dataset:
    uid = lambda *parts: generate_uid(entropy_srcs=["rhino-bench-browse", seed, *map(str, parts)])  # noqa: E731
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(study, series, index)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid(study), uid(study, series)
    ds.FrameOfReferenceUID = uid(study, "for")
    ds.PatientName, ds.PatientID = f"BENCH^{seed.upper()}{study:04d}", f"B{seed}{study:06d}"
    ds.PatientBirthDate, ds.PatientSex = "19600101", "O"
    ds.StudyDate = ds.SeriesDate = f"{2015 + study % 10}0{1 + study % 9}15"
    ds.StudyTime = "101500"
    ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = f"A{study:07d}", "1", ""
    ds.StudyDescription = f"{body_part} {modality} SURVEY {study % 7}"
    ds.SeriesDescription = f"Bench {modality.lower()} series {series}"
    ds.Modality, ds.BodyPartExamined, ds.Manufacturer = modality, body_part, "Rhino bench"
    ds.SeriesNumber, ds.InstanceNumber = series, index + 1
    ds.SliceThickness = "2.5"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, 2.5 * index]
    ds.PixelSpacing = ["0.8", "0.8"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    if modality == "CT":
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    pixels = (np.arange(64 * 64, dtype=np.int16).reshape(64, 64) + 37 * index) % 2000
    ds.PixelData = pixels.astype("<i2").tobytes()
    return ds


def write_studies(folder: Path, seed: str, studies: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for study in range(studies):
        body_part = BODY_PARTS[study % len(BODY_PARTS)]
        for series, modality, count in ((1, "CT", 4), (2, "MR", 2)):
            for index in range(count):
                ds = _image(seed, study, series, index, modality, body_part)
                ds.save_as(folder / f"s{study:04d}-{series}-{index}.dcm", enforce_file_format=True)
                written += 1
    return written


# --- the world: three online sites in one project ---


def third_site(product: Product, admin: ApiUser, studies: int) -> int:
    """Enroll and start a third gateway over its own folder PACS; returns its central site id."""
    base = product.var_dir / "bench" / "bench-site-3"
    write_studies(base / "pacs" / "bench", "3", studies)
    config_path = base / "gateway.toml"
    central_url, pacs_url = f"ws://127.0.0.1:{product.port}", f"folder:{base / 'pacs'}"
    config_path.write_text(
        "\n".join([
            'site = "bench-site-3"',
            f"central_url = {json.dumps(central_url)}",
            f"pacs_url = {json.dumps(pacs_url)}",
            f"state_dir = {json.dumps(str(base / 'gateway'))}",
            'projects = ["*"]',
            "",
        ])
    )  # fmt: skip
    central_key = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "signing_key", "show"],
        env=product.env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    enrolled = enroll(load_config(config_path, env={}), central_key)
    site = admin.post("/api/sites/", {"name": "Bench Hospital 3", "slug": "bench-site-3"})["id"]
    registered = admin.http.put(
        f"{product.url}/api/sites/{site}/gateway-key/",
        json={"public_key": enrolled.public_key},
        timeout=30,
    )
    assert registered.status_code == 200, registered.text
    product.start("gateway-bench-3", gateway_command(str(config_path)))
    product.wait_sites_online()
    return int(site)


def build(product: Product, studies: int) -> tuple[ApiUser, int, list[int]]:
    started = time.perf_counter()
    files = sum(
        write_studies(product.var_dir / "demo" / slug / "pacs" / "bench", str(n), studies)
        for n, slug in ((1, "demo-site"), (2, "demo-site-2"))
    )
    print(f"wrote {files} files for the two demo sites in {time.perf_counter() - started:.1f} s")
    admin = ApiUser(product.url, "admin", product.password)
    lead = ApiUser(product.url, "lead", product.password)
    extra = third_site(product, admin, studies)
    sites = {s["slug"]: s["id"] for s in admin.get("/api/sites/")}
    chosen = [sites["demo-site"], sites["demo-site-2"], extra]
    project = admin.post("/api/projects/", {"name": "Browse bench", "slug": "browse-bench"})["id"]
    for site in chosen:
        admin.post(f"/api/projects/{project}/sites/", {"site": site}, expect=204)
    admin.post(f"/api/projects/{project}/leads/", {"user": lead.id}, expect=204)
    admin.close()
    return lead, project, chosen


# --- measurements ---


def ask(lead: ApiUser, project: int, site: int) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    reply = lead.get(f"/api/projects/{project}/sites/{site}/series/")
    return time.perf_counter() - t0, reply


def bench_rest(
    lead: ApiUser, password: str, project: int, sites: list[int], runs: int, studies: int
) -> None:
    print(f"\nREST, {len(sites)} sites × {studies} studies (load {load()})")
    for site in sites:
        first, reply = ask(lead, project, site)
        assert reply["status"] == "ok", reply
        series = sum(len(st["series"]) for st in reply["studies"])
        print(f"site {site}: {len(reply['studies'])} studies, {series} series, "
              f"truncated={reply['truncated']}; first (cold) query {first * 1000:.1f} ms")  # fmt: skip
    for site in sites:
        report(
            f"one site alone, warm (site {site})",
            [ask(lead, project, site)[0] for _ in range(runs)],
        )
    # the page: every site at once, one connection each (as the browser does)
    users = [ApiUser(lead.base, "lead", password) for _ in sites]
    firsts, alls = [], []
    with ThreadPoolExecutor(len(sites)) as pool:
        for _ in range(runs):
            t0 = time.perf_counter()
            futures = [pool.submit(ask, u, project, s) for u, s in zip(users, sites, strict=True)]
            done = sorted(t0 + f.result()[0] for f in futures)  # each future's finish time
            firsts.append(done[0] - t0)
            alls.append(done[-1] - t0)
    report("all sites at once: first site's results", firsts)
    report("all sites at once: every site's results", alls)
    for user in users:
        user.close()


_WATCH = """
(() => {
  const marks = { first: null, all: null };
  window.__browseMarks = marks;
  const check = () => {
    const states = [...document.querySelectorAll("[data-site-status]")].map((e) => e.dataset.state);
    if (!states.length) return;
    const rows = document.querySelectorAll("#browse-results tbody tr").length;
    if (marks.first === null && states.includes("ok") && rows) marks.first = performance.now();
    if (marks.all === null && !states.includes("loading")) marks.all = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();
"""

_REQUESTS = """
() => performance.getEntriesByType("resource")
  .filter((e) => /\\/series\\/\\?/.test(e.name))
  .map((e) => ({ start: e.startTime, end: e.responseEnd }))
"""

_SEARCH = """
() => new Promise((resolve) => {
  const t0 = performance.now();
  let first = null;
  const observer = new MutationObserver(() => {
    const states = [...document.querySelectorAll("[data-site-status]")].map((e) => e.dataset.state);
    const rows = document.querySelectorAll("#browse-results tbody tr").length;
    if (first === null && states.includes("ok") && rows) first = performance.now() - t0;
    if (first !== null && !states.includes("loading")) {
      observer.disconnect();
      resolve({ first, all: performance.now() - t0, rows });
    }
  });
  observer.observe(document.getElementById("series-browser"),
    { subtree: true, childList: true, attributes: true });
  document.getElementById("browse-search").click();
})
"""


def bench_browser(product: Product, project: int, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in

    print(f"\nChromium (load {load()})")
    with sync_playwright() as manager:
        browser = manager.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(_WATCH)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, product.url, "lead", product.password)
        url = f"{product.url}/lead/projects/{project}/"
        firsts, alls, searches_first, searches_all = [], [], [], []
        requested, requested_all, answers, answers_all = [], [], [], []
        rows = 0
        for _ in range(runs):
            page.goto(url)
            page.wait_for_function("window.__browseMarks && window.__browseMarks.all !== null",
                                   timeout=60_000)  # fmt: skip
            marks = page.evaluate("window.__browseMarks")
            firsts.append(marks["first"] / 1000)
            alls.append(marks["all"] / 1000)
            asked = page.evaluate(_REQUESTS)
            asked_at = min(r["start"] for r in asked)
            requested.append((marks["first"] - asked_at) / 1000)
            requested_all.append((marks["all"] - asked_at) / 1000)
            answers.append((min(r["end"] for r in asked) - asked_at) / 1000)
            answers_all.append((max(r["end"] for r in asked) - asked_at) / 1000)
            measured = page.evaluate(_SEARCH)
            searches_first.append(measured["first"] / 1000)
            searches_all.append(measured["all"] / 1000)
            rows = measured["rows"]
        report("page opened: navigation → first site's rows", firsts)
        report("page opened: navigation → every site's rows", alls)
        report("page's first request → first site's answer (network)", answers)
        report("page's first request → every site's answer (network)", answers_all)
        report("page's first request → first site's rows", requested)
        report("page's first request → every site's rows", requested_all)
        report(f"search again: click → first site's rows ({rows} rows)", searches_first)
        report("search again: click → every site's rows", searches_all)
        assert not errors, errors
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--browser", action="store_true", help="also measure in Chromium")
    args = parser.parse_args()
    print(f"load before: {load()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="rhino-bench-browse-") as tmp:
        started = time.perf_counter()
        product = start_product(Path(tmp), slices=24)
        print(f"product up in {time.perf_counter() - started:.1f} s")
        try:
            lead, project, sites = build(product, args.studies)
            bench_rest(lead, product.password, project, sites, args.runs, args.studies)
            if args.browser:
                bench_browser(product, project, max(3, args.runs // 4))
            lead.close()
        finally:
            product.close()
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
