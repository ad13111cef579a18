"""The lead's whole path in Chromium, on the real demo product (central on daphne, the two demo
gateways on their folder PACS, and a third site whose gateway never connects): browse every site,
filter, select series with a coded reason, create tasks for two annotators, watch progress move
live over the project WebSocket when an annotator submits, reject one with a comment and approve
another.

The project is the lead's own (tests/browser/lead_product.py): the session-scoped product is shared
with other tests, so this one never touches the demo project.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tests.browser.conftest import sign_in
from tests.browser.lead_product import ApiUser, LeadWorld, lead_world
from tests.e2e.client import open_viewer, signed_in
from tests.product import Product

pytestmark = pytest.mark.browser

# The page polls every 30 s as a safety net; seeing a change well within that proves the socket.
LIVE_TIMEOUT_MS = 8_000
# A site's answer is a live query at the site (folder index, thumbnails rendered there): on a
# loaded 2-core machine allow well more than the < 2 s measured by bench/browse.py.
SITE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def world(demo_product: Product) -> Iterator[LeadWorld]:
    built = lead_world(demo_product)
    yield built
    built.close()


def _console_errors(page: Any) -> list[str]:
    """Collects the page's console errors (failed requests included), to assert none at the end."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _mine(user: ApiUser, project: int) -> list[dict[str, object]]:
    return list(user.get("/api/tasks/", project=project, assignee="me")["results"])


def _submit(user: ApiUser, task_id: int) -> None:
    for status in ("in_progress", "submitted"):
        user.post(f"/api/tasks/{task_id}/status/", {"status": status}, expect=200)


def test_lead_browses_selects_assigns_follows_and_reviews_on_the_demo(
    world: LeadWorld, page
) -> None:
    from playwright.sync_api import expect

    base, sites = world.product.url, world.sites
    offline = sites[f"off-{world.slug}"]
    console = _console_errors(page)
    sign_in(page, base, "lead", world.product.password)
    page.goto(f"{base}/lead/projects/{world.project}/")
    expect(page.locator("#lead")).to_have_attribute("data-live", "open")

    # --- browse: both demo sites answer, the third is shown offline and the page goes on ---
    status = lambda site: page.locator(f'[data-site-status="{site}"]')  # noqa: E731
    for slug in ("demo-site", "demo-site-2"):
        expect(status(sites[slug])).to_have_attribute("data-state", "ok", timeout=SITE_TIMEOUT_MS)
    expect(status(offline)).to_have_attribute("data-state", "offline")
    expect(status(offline)).to_contain_text("offline")
    rows = page.locator("#browse-results tbody tr")
    modalities = set(rows.locator("td:nth-child(6)").all_text_contents())
    assert {"CT", "MR"} <= modalities, modalities  # the phantom CT and pydicom's MR sample
    assert {r.get_attribute("data-site") for r in rows.all()} == {
        str(sites["demo-site"]),
        str(sites["demo-site-2"]),
    }

    # --- filter: CT whose cleaned description says "synthetic" → one series per site ---
    page.locator("#browse-modality").fill("ct")
    page.locator("#browse-text").fill("synthetic")
    page.get_by_role("button", name="Search sites").click()
    for slug in ("demo-site", "demo-site-2"):
        expect(status(sites[slug])).to_have_attribute("data-state", "ok", timeout=SITE_TIMEOUT_MS)
    expect(rows).to_have_count(2)
    expect(page.locator("#browse-count")).to_have_text("2 series")
    for row in rows.all():
        expect(row.locator("td:nth-child(6)")).to_have_text("CT")
        expect(row.locator("td:nth-child(8)")).to_contain_text("Synthetic")
        expect(row.locator("td:nth-child(9)")).to_have_text("120")
    # descriptions are cleaned at the site: the first site's patient is DEMO^PHANTOM, so the word
    # is removed from its series description (PS3.15 E.3.5); the second site's patient is not
    first_site = rows.and_(page.locator(f'[data-site="{sites["demo-site"]}"]'))
    expect(first_site.locator("td:nth-child(8)")).to_have_text("Synthetic 1.25mm")
    # the thumbnail is rendered at the site (a JPEG) and tells the slice thickness
    first = rows.first
    expect(first.locator("img")).to_have_attribute("data-loaded", "yes", timeout=SITE_TIMEOUT_MS)
    expect(first.locator("td:nth-child(10)")).to_have_text("1.25 mm")
    # the site filter narrows to one site without asking again
    page.locator("#browse-site").select_option(str(sites["demo-site-2"]))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-site", str(sites["demo-site-2"]))
    page.locator("#browse-site").select_option("")
    expect(rows).to_have_count(2)

    # --- check a series read-only before any task exists: slices rendered at the site ---
    phantom = str(rows.first.get_attribute("data-series"))
    page.get_by_role("button", name=f"Check series {phantom}").click()
    check, shown = page.locator("#browse-check"), page.locator("#check-image")
    expect(check).to_be_visible()
    expect(check).to_have_attribute("data-series", phantom)
    expect(page.locator("#check-position")).to_have_text("slice 61 of 120", timeout=SITE_TIMEOUT_MS)
    expect(shown).to_have_attribute("data-loaded", "yes")
    middle = shown.get_attribute("src")
    page.get_by_role("button", name="Next slice").click()
    expect(page.locator("#check-position")).to_have_text("slice 62 of 120", timeout=SITE_TIMEOUT_MS)
    expect(shown).to_have_attribute("data-index", "61")
    assert shown.get_attribute("src") != middle
    size = shown.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [512, 512], size  # the phantom's 512² slice, not the 128 px thumbnail
    page.get_by_role("button", name="Close").click()
    expect(check).to_be_hidden()

    # --- select both phantom series "for annotation" (a coded reason) ---
    handles = {
        r.get_attribute("data-site"): str(r.get_attribute("data-series")) for r in rows.all()
    }
    for handle in handles.values():
        page.get_by_label(f"Reason for series {handle}").select_option("for_annotation")
        page.get_by_role("button", name=f"Select series {handle}").click()
        expect(page.get_by_role("button", name=f"Select series {handle}")).to_have_text("recorded")
    selections = page.locator("#selections tbody tr")
    expect(selections).to_have_count(2)
    for row in selections.all():
        expect(row.locator("td:nth-child(5)")).to_have_text("include")
        expect(row.locator("td:nth-child(6)")).to_have_text("Of Interest")  # DCM 113000
    # the sites write the KOS and report it stored (the page reads the list again)
    expect(selections.locator("td:nth-child(7)", has_text="stored")).to_have_count(
        2, timeout=SITE_TIMEOUT_MS
    )
    recorded = world.users["lead"].get(f"/api/projects/{world.project}/selections/")["results"]
    assert {(str(s["site"]), s["series_handle"], s["reason"]) for s in recorded} == {
        (site, handle, "for_annotation") for site, handle in handles.items()
    }

    # --- tasks in bulk for the two annotators: one per series and reader ---
    page.locator("#bulk-readers").get_by_label("annotator", exact=True).check()
    page.locator("#bulk-readers").get_by_label("annotator2", exact=True).check()
    page.get_by_role("button", name="Create tasks").click()
    expect(page.locator("#bulk-result")).to_have_text("4 tasks created, 0 already existed.")
    count = lambda key: page.locator(f'[data-count="{key}"]')  # noqa: E731
    expect(count("total-pending")).to_have_text("4")
    expect(page.locator("#tasks tbody tr")).to_have_count(4)
    for site in sites.values():
        if site != offline:
            expect(page.locator(f'#progress-sites tr[data-site="{site}"] td').first).to_have_text(
                "2"
            )
    # each series can now be opened read-only from the browser
    for handle in handles.values():
        expect(page.get_by_label(f"Open series {handle} read-only")).to_have_attribute(
            "href", re.compile(r"^/tasks/\d+/view/$")
        )

    # --- annotators submit through the API: the board moves over the socket ---
    one, two = world.users["annotator"], world.users["annotator2"]
    mine_one, mine_two = _mine(one, world.project), _mine(two, world.project)
    assert len(mine_one) == 2 and len(mine_two) == 2
    assert not {t["id"] for t in mine_one} & {t["id"] for t in mine_two}  # blinded readers
    rejected_id, approved_id = int(str(mine_one[0]["id"])), int(str(mine_two[0]["id"]))
    _submit(one, rejected_id)
    expect(count("total-submitted")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(count("total-pending")).to_have_text("3")
    expect(page.locator(f'[data-count="user{one.id}-submitted"]')).to_have_text("1")
    _submit(two, approved_id)
    expect(count("total-submitted")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    review = page.locator("#review tbody tr")
    expect(review).to_have_count(2)
    expect(page.get_by_label(f"Open task {rejected_id} read-only")).to_have_attribute(
        "href", f"/tasks/{rejected_id}/view/"
    )

    # --- reject one with a comment (without one it is refused), approve the other ---
    page.get_by_role("button", name=f"Reject task {rejected_id}").click()
    expect(page.locator("#lead-error")).to_contain_text("needs a comment")
    page.get_by_label(f"Comment for task {rejected_id}").fill("Please outline the whole nodule.")
    page.get_by_role("button", name=f"Reject task {rejected_id}").click()
    expect(count("total-rejected")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    page.get_by_role("button", name=f"Approve task {approved_id}").click()
    expect(count("total-approved")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(review).to_have_count(0)
    expect(page.locator("#review-empty")).to_be_visible()
    expect(page.locator(f'#tasks tr[data-task="{rejected_id}"]')).to_have_attribute(
        "data-status", "rejected"
    )
    expect(page.locator(f'#tasks tr[data-task="{approved_id}"]')).to_have_attribute(
        "data-status", "approved"
    )
    # the annotator gets the task back with the comment; the other reader never sees it
    back = one.get(f"/api/tasks/{rejected_id}/")
    assert (back["status"], back["review_comment"]) == (
        "rejected",
        "Please outline the whole nodule.",
    )
    assert rejected_id not in {t["id"] for t in _mine(two, world.project)}
    response = two.http.get(f"{base}/api/tasks/{rejected_id}/", timeout=30)
    assert response.status_code == 404
    assert console == []
    # ... and the viewer shows the annotator the comment (a page of their own, signed in as them)
    viewer = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        reader_page = viewer.new_page()
        sign_in(reader_page, base, "annotator", world.product.password)
        reader_page.goto(f"{base}/tasks/{rejected_id}/view/")
        expect(reader_page.locator("#review-note")).to_have_text(
            "Returned by the reviewer: Please outline the whole nodule."
        )
    finally:
        viewer.close()


T = TypeVar("T")


def _in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run asyncio code beside Playwright's sync API (which keeps a loop in the main thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


async def _reply(viewer: Any, seq: int) -> dict[str, Any]:
    """The next text message answering ``seq`` (a result or a coded error)."""
    async with asyncio.timeout(30):
        while True:
            data = await viewer.ws.recv()
            if isinstance(data, str) and json.loads(data).get("seq") == seq:
                return dict(json.loads(data))


async def _read_and_save(
    product: Product, name: str, task: int, annotations: list[dict[str, Any]], other: int = 0
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One reader in the viewer's protocol (through central to the site): load what the site
    has for the task (naming ``other``, another reader's task, in the request: the site must go
    by the session's grant only), save the reader's labels, load again. Returns the replies."""
    http = signed_in(product, name)
    viewer = await open_viewer(product, http, task)
    try:
        await viewer.send({"type": "label.load", "seq": 1, **({"task": other} if other else {})})
        before = await _reply(viewer, 1)
        document = {"version": 1, "task": task, "schema_version": 1, "base_revision": None,
                    "annotations": annotations}  # fmt: skip
        await viewer.send({"type": "label.save", "seq": 2, "document": document})
        saved = await _reply(viewer, 2)
        await viewer.send({"type": "label.load", "seq": 3})
        after = await _reply(viewer, 3)
    finally:
        await viewer.ws.close()
        http.close()
    return before, saved, after


def _rectangle(uid: str, series: str, x0: float, x1: float) -> dict[str, Any]:
    frame = {"series": series, "index": 0}
    return {"uid": uid, "tool": "rectangle", "label": "nodule", "frame": frame,
            "geometry": {"points": [[x0, 10.0], [x1, 29.0]]}}  # fmt: skip


def _classified(uid: str, series: str, level: str) -> dict[str, Any]:
    return {"uid": uid, "tool": "classification", "label": "emphysema", "level": level,
            "frame": {"series": series, "index": 0}, "geometry": {"points": []}}  # fmt: skip


def test_lead_sees_reader_agreement_as_numbers_and_readers_stay_blinded(
    world: LeadWorld, page
) -> None:
    """Two readers label one series through the viewer's protocol; each sees only their own
    labels at the site (label.load); the lead sees Dice and classification agreement, computed
    at the site, in the review section; the SDK gets the same numbers as the API."""
    from playwright.sync_api import expect

    from rhino_sdk import RhinoClient

    base, lead = world.product.url, world.users["lead"]
    site = world.sites["demo-site"]
    found = lead.get(f"/api/projects/{world.project}/sites/{site}/series/", modality="CT")
    study, series = next(
        (st["study"], se["series"]) for st in found["studies"] for se in st["series"]
        if se["images"] == 1
    )  # pydicom's CT_small: one 128² image  # fmt: skip
    selection = lead.post(
        f"/api/projects/{world.project}/selections/",
        {"site": site, "study_handle": study, "series_handle": series,
         "decision": "include", "reason": "for_annotation"},
    )["id"]  # fmt: skip
    one, two = world.users["annotator"], world.users["annotator2"]
    created = lead.post(
        f"/api/projects/{world.project}/tasks/bulk/",
        {"selections": [selection], "readers": [one.id, two.id], "label_schema": world.schema},
    )["created"]
    task_of = {t["assignee"]["id"]: int(t["id"]) for t in created}
    # 20×20 px each, overlapping 10×20: Dice 0.5. Both classify the series "emphysema"; only the
    # first the image too: 2 targets, agreement 0.5, kappa (0.5 − 0.5) / (1 − 0.5) = 0.
    first = _in_thread(_read_and_save(world.product, "annotator", task_of[one.id], [
        _rectangle("a-nodule", series, 10.0, 29.0),
        _classified("a-series", series, "series"), _classified("a-image", series, "image"),
    ]))  # fmt: skip
    deadline = time.monotonic() + 60
    while (stored := world.product.site_labels(task_of[one.id])) is None or str(
        getattr(stored["state"], "value", stored["state"])
    ) != "stored_in_pacs":
        assert time.monotonic() < deadline, stored
        time.sleep(0.2)
    second = _in_thread(_read_and_save(world.product, "annotator2", task_of[two.id], [
        _rectangle("b-nodule", series, 20.0, 39.0), _classified("b-series", series, "series"),
    ], other=task_of[one.id]))  # fmt: skip
    for before, saved, _ in (first, second):
        # blinded: nothing at the site for a reader's task before their own save — for the
        # second reader although the first one's labels of that series are in the site's store
        # and written to its PACS (label.load falls back to the PACS) by then
        assert (before["type"], before["code"]) == ("error", "not_found"), before
        assert saved["type"] == "label.saved", saved
    assert {a["uid"] for a in first[2]["document"]["annotations"]} == {
        "a-nodule",
        "a-series",
        "a-image",
    }
    assert {a["uid"] for a in second[2]["document"]["annotations"]} == {"b-nodule", "b-series"}
    _submit(one, task_of[one.id])
    _submit(two, task_of[two.id])

    console = _console_errors(page)
    sign_in(page, base, "lead", world.product.password)
    page.goto(f"{base}/lead/projects/{world.project}/")
    row = page.locator(f'[data-agreement="{series}"]')
    expect(row).to_be_visible()
    expect(row.locator("td").nth(2)).to_have_text(
        f"#{task_of[one.id]} annotator, #{task_of[two.id]} annotator2"
    )
    page.get_by_role("button", name=f"Agreement for series {series}").click()
    result = row.locator(f'[data-agreement-result="{series}"]')
    expect(result.locator('[data-agreement-state="ok"]')).to_have_text(
        f"#{task_of[one.id]} annotator: 3 labels · #{task_of[two.id]} annotator2: 2 labels",
        timeout=SITE_TIMEOUT_MS,
    )
    pair = result.locator(f'[data-pair="{task_of[one.id]}-{task_of[two.id]}"]')
    expect(pair.locator('[data-dice="nodule"]')).to_have_text("Dice nodule 0.50")
    expect(pair.locator("[data-classification]")).to_have_text(
        "classification agreement 0.50 (κ 0.00, 2 targets)"
    )
    # the board per label, counted at the sites: 2 nodules (one each), 3 emphysema (2 + 1)
    page.get_by_role("button", name="Count labels at the sites").click()
    labels = lambda key: page.locator(f'[data-label-count="{key}"]')  # noqa: E731
    expect(labels("nodule-total")).to_have_text("2", timeout=SITE_TIMEOUT_MS)
    expect(labels("emphysema-total")).to_have_text("3")
    expect(labels("nodule-tasks")).to_have_text("2")
    expect(labels("emphysema-tasks")).to_have_text("2")
    expect(labels(f"nodule-site{site}")).to_have_text("2")
    expect(labels(f"emphysema-user{one.id}")).to_have_text("2")
    expect(labels(f"emphysema-user{two.id}")).to_have_text("1")
    expect(labels(f"nodule-user{two.id}")).to_have_text("1")
    expect(page.locator(f'[data-labels-site="{site}"]')).to_have_attribute("data-state", "ok")
    by_api = lead.get(f"/api/projects/{world.project}/progress/labels/")
    assert {r["label"]: r["count"] for r in by_api["labels"]} == {"emphysema": 3, "nodule": 2}
    # numbers only: no geometry, no label document reached the page
    assert "29.0" not in page.content() and "a-nodule" not in page.content()
    assert console == []

    agreement = lead.post(
        f"/api/projects/{world.project}/agreement/", {"tasks": sorted(task_of.values())}, 200
    )
    assert agreement["status"] == "ok"
    assert agreement["pairs"][0]["dice"] == {"nodule": 0.5}
    assert agreement["pairs"][0]["classification"] == {
        "targets": 2, "agreement": 0.5, "kappa": 0.0
    }  # fmt: skip
    with RhinoClient(base, lead.token, timeout=60) as sdk:
        assert sdk.reader_agreement(world.project, sorted(task_of.values())) == agreement
        assert sdk.label_progress(world.project) == by_api
    # a reader may not ask for agreement
    refused = one.http.post(
        f"{base}/api/projects/{world.project}/agreement/",
        json={"tasks": sorted(task_of.values())}, timeout=30,
    )  # fmt: skip
    assert refused.status_code == 403, refused.text


def test_lead_withdraws_a_selection_and_the_site_retires_its_kos(world: LeadWorld, page) -> None:
    """The Withdraw button: the selection goes from the list, the site rejects its KOS (IOCM)
    and answers, and nothing is left waiting on the page."""
    from playwright.sync_api import expect

    base, lead = world.product.url, world.users["lead"]
    site = world.sites["demo-site"]
    found = lead.get(f"/api/projects/{world.project}/sites/{site}/series/", modality="MR")
    study, series = next(
        (st["study"], se["series"]) for st in found["studies"] for se in st["series"]
    )  # fmt: skip
    lead.post(
        f"/api/projects/{world.project}/selections/",
        {"site": site, "study_handle": study, "series_handle": series,
         "decision": "exclude", "reason": "motion"},
    )  # fmt: skip
    console = _console_errors(page)
    sign_in(page, base, "lead", world.product.password)
    page.goto(f"{base}/lead/projects/{world.project}/")
    row = page.locator(f'#selections tbody tr:has(td:text-is("{series}"))')
    expect(row.locator("td:nth-child(7)")).to_have_text("stored", timeout=SITE_TIMEOUT_MS)

    page.get_by_role("button", name=f"Withdraw series {series}").click()
    expect(row).to_have_count(0)
    deadline = time.monotonic() + SITE_TIMEOUT_MS / 1000
    while lead.get(f"/api/projects/{world.project}/withdrawals/")["results"]:
        assert time.monotonic() < deadline, "the site did not answer the withdrawal"
        time.sleep(0.2)
    kos_states = lead.get("/api/audit/events/", action="selection.kos_state", limit=5)["events"]
    assert kos_states[0]["detail"]["withdrawn"] is True
    assert kos_states[0]["detail"]["kos_state"] == "retired"
    page.reload()
    expect(page.locator("#selections tbody tr")).not_to_have_count(0)
    expect(page.locator("#withdrawals-section")).to_be_hidden()
    assert not page.locator(f'#selections tbody tr:has(td:text-is("{series}"))').count()
    assert console == []
