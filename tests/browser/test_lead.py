"""The lead's whole path in Chromium, on the real demo product (central on daphne, the two demo
gateways on their folder PACS, and a third site whose gateway never connects): browse every site,
filter, select series with a coded reason, create tasks for two annotators, watch progress move
live over the project WebSocket when an annotator submits, reject one with a comment and approve
another.

The project is the lead's own (tests/browser/lead_product.py): the session-scoped product is shared
with other tests, so this one never touches the demo project.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.conftest import sign_in
from tests.browser.lead_product import ApiUser, LeadWorld, lead_world
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
