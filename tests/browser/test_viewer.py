"""The viewer end to end: Chromium against the running product (central on daphne + a site
gateway speaking the real protocol). Sign in, open a task, scroll, window, draw, save at the site,
reload, undo/redo, submit, and the rest of the reading and annotation workspace (frame timing:
test_viewer_timing.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.browser.viewer_pages import (
    centre_pixels,
    drag,
    image_row,
    next_paint,
    now,
    open_first_task,
    product,
    wait_lossless,
    watch_console,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
# test_console.py opens the viewer with these two.
__all__ = ["open_first_task", "product", "watch_console"]


def test_annotator_views_draws_saves_reloads_and_submits(
    page: Page, product: dict[str, Any]
) -> None:
    # The sign-in page is central's (base.html has no icon: a favicon.ico 404); watch from the worklist.
    sign_in(page, product["url"], "annotator", product["users"]["annotator"])
    console = watch_console(page)
    task_id = open_first_task(page, product)
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    # The site's retrieval of the series is followed to the end; then the bar is gone.
    page.wait_for_function("window.rhinoViewer.retrieval.last?.done === true", timeout=60_000)
    last = page.evaluate("window.rhinoViewer.retrieval.last")
    assert last["received"] == last["total"] > 1 and last["failed"] == 0
    assert page.locator(".retrieval").is_hidden()

    # Scroll: keys and the wheel change the slice, and a frame of that slice is painted.
    start = page.evaluate("window.rhinoViewer.slice.index")
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, 100)
    wait_lossless(page)
    assert page.evaluate("window.rhinoViewer.slice.index") == start + 3
    assert page.get_by_text("Lossless").is_visible()

    # Window: a right-drag changes the pixels; the lossless frame follows on release.
    before = centre_pixels(page)
    dragged = now(page)
    drag(page, (cx, cy), (cx + 120, cy + 80), button="right")
    wait_lossless(page, since=dragged)
    after = centre_pixels(page)
    assert after != before

    # Draw a rectangle (R) and a brush stroke (B), each with a label from the schema.
    page.keyboard.press("r")
    page.locator("#label-picker [data-label-key='mass']").click()
    drag(page, (cx - 120, cy - 90), (cx - 20, cy - 10))
    page.keyboard.press("b")
    page.locator("#label-picker [data-label-key='lung-mask']").click()
    drag(page, (cx + 20, cy + 20), (cx + 110, cy + 60))
    drawn = page.evaluate("window.rhinoViewer.annotations")
    assert sorted((a["tool"], a["label"]) for a in drawn) == [
        ("brush", "lung-mask"), ("rectangle", "mass"),
    ]  # fmt: skip

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-after-drawing.png"))

    # Undo and redo, by button and by key.
    page.get_by_role("button", name="Undo").click()
    assert len(page.evaluate("window.rhinoViewer.annotations")) == 1
    page.keyboard.press("Control+y")
    assert len(page.evaluate("window.rhinoViewer.annotations")) == 2

    # Save: "Saved at site", and the labels are in the site's store.
    page.get_by_role("button", name="Save").click()
    status = page.get_by_role("status").filter(has_text="Saved at site")
    status.or_(page.get_by_role("status").filter(has_text="Stored in PACS")).first.wait_for()
    if product.get("site_labels") is not None:
        stored = product["site_labels"](task_id)
        assert stored is not None
        document = stored["document"]
    else:
        document = {"task": task_id, "annotations": page.evaluate("window.rhinoViewer.document")}
    assert document["task"] == task_id
    by_tool = {a["tool"]: a for a in document["annotations"]}
    assert set(by_tool) == {"rectangle", "brush"}
    rectangle = by_tool["rectangle"]
    assert rectangle["label"] == "mass" and len(rectangle["geometry"]["points"]) == 2
    (x0, y0), (x1, y1) = rectangle["geometry"]["points"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512  # image pixels, not screen pixels
    mask = by_tool["brush"]["mask"]
    assert mask["rows"] == 512 and mask["columns"] == 512 and sum(mask["rle"]) == 512 * 512
    assert sum(mask["rle"][1::2]) > 100
    page.get_by_role("status").filter(has_text="Stored in PACS").wait_for()

    # Reload: the labels come back from the site.
    page.reload()
    wait_lossless(page)
    page.wait_for_function("window.rhinoViewer.labelsLoaded === true")
    back = page.evaluate("window.rhinoViewer.annotations")
    assert {a["uid"] for a in back} == {a["uid"] for a in document["annotations"]}
    # and the reopened task says where its labels stand (the site reports it after the document)
    page.get_by_role("status").filter(has_text="Stored in PACS").wait_for()

    # Submit: the task's status changes centrally.
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Task submitted").wait_for()
    response = page.request.get(f"{product['url']}/api/tasks/{task_id}/")
    assert response.json()["status"] == "submitted"

    # The de-identified series description is text on the page, never markup.
    assert page.locator("#viewer-root img").count() == 0
    assert console == []


# Where the time went, per stage of the frame path (ms, p50/p95), over the frames from the site
# since `since`: sent → arrived (site + relay, per lane), the site's render_ms, createImageBitmap
# (arrived → decoded), decoded → painted (the next animation frame); and bytes on the wire.
def test_presets_planes_help_and_own_shortcuts(page: Page, product: dict[str, Any]) -> None:
    sign_in(page, product["url"], "annotator2", product["users"]["annotator2"])
    console = watch_console(page)
    open_first_task(page, product)
    page.locator("#overlay-canvas").focus()

    # Number keys: window presets (2 = CT lung by default); 0 = the object's own window.
    page.keyboard.press("2")
    page.get_by_text("W 1500 / L -600").wait_for()
    wait_lossless(page)

    # MPR: the coronal plane is rendered at the site, with its own size.
    page.get_by_role("button", name="Coronal").click()
    page.wait_for_function("window.rhinoViewer.painted.at(-1)?.plane === 'coronal'")
    wait_lossless(page)
    assert "coronal" in page.locator("[data-overlay='slice']").inner_text()
    # Labels are drawn on acquired (axial) slices only: a reslice is for viewing.
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drawn = len(page.evaluate("window.rhinoViewer.annotations"))
    page.get_by_role("button", name="Rectangle", exact=True).click()
    drag(page, (x, y), (x + 60, y + 40))
    page.get_by_text(
        "Labels are drawn on axial slices; coronal and sagittal are for viewing."
    ).wait_for()
    assert len(page.evaluate("window.rhinoViewer.annotations")) == drawn
    page.get_by_role("button", name="Sagittal").click()
    page.wait_for_function("window.rhinoViewer.painted.at(-1)?.plane === 'sagittal'")
    wait_lossless(page)
    page.get_by_role("button", name="Axial").click()
    wait_lossless(page)
    page.locator("#overlay-canvas").focus()

    # The help overlay lists the keys; a changed key is stored centrally and used after a reload.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    help_dialog.wait_for()
    help_dialog.get_by_role("button", name="Change the key for Rectangle").click()
    page.keyboard.press("q")
    help_dialog.get_by_text("Rectangle: q (saved).").wait_for()
    page.keyboard.press("Escape")
    me = page.request.get(f"{product['url']}/api/me/").json()
    assert me["preferences"]["shortcuts"] == {"rectangle": "q"}
    page.reload()
    wait_lossless(page)
    assert page.get_by_role("button", name="Rectangle").get_attribute("title") == "Rectangle (q)"
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("q")
    assert page.get_by_role("button", name="Rectangle").get_attribute("aria-pressed") == "true"

    # A key the viewer keeps for itself is refused; the defaults come back with one button.
    page.keyboard.press("?")
    help_dialog.get_by_role("button", name="Change the key for Ellipse").click()
    page.keyboard.press("3")
    help_dialog.get_by_text("3 is kept for window presets.").wait_for()
    help_dialog.get_by_role("button", name="Restore default keys").click()
    help_dialog.get_by_text("Default keys restored (saved).").wait_for()
    assert help_dialog.get_by_role("button", name="Restore default keys").is_disabled()
    page.keyboard.press("Escape")
    assert page.request.get(f"{product['url']}/api/me/").json()["preferences"]["shortcuts"] == {}
    assert page.get_by_role("button", name="Rectangle").get_attribute("title") == "Rectangle (r)"
    assert console == []


def test_lead_views_read_only(page: Page, product: dict[str, Any]) -> None:
    sign_in(page, product["url"], "lead", product["users"]["lead"])
    console = watch_console(page)
    task = page.request.get(f"{product['url']}/api/tasks/").json()["results"][0]["id"]
    page.goto(f"{product['url']}/tasks/{task}/view/")
    wait_lossless(page)
    # The task may hold labels an earlier test saved (the lead's review path): they are shown,
    # and nothing the lead does adds to them.
    page.wait_for_function("window.rhinoViewer.labelsLoaded === true")
    shown = page.evaluate("window.rhinoViewer.annotations")
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("r")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drag(page, (x, y), (x + 60, y + 60))
    assert page.evaluate("window.rhinoViewer.annotations") == shown
    page.get_by_text("This task is read-only here.").wait_for()
    assert console == []


def test_every_drawing_tool_and_edit(page: Page, product: dict[str, Any]) -> None:
    """Ellipse, polygon, freehand, point, length, angle, classification; select, move, delete,
    copy to the next slice, eraser — all in image coordinates, all undoable."""
    sign_in(page, product["url"], "annotator", product["users"]["annotator"])
    console = watch_console(page)
    open_first_task(page, product)
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.locator("#overlay-canvas").focus()
    # Start on the first slice, so "copy to the next slice" has somewhere to go whatever series
    # the queue hands out next (earlier tests may have submitted the phantom CT's task).
    page.keyboard.press("Home")
    wait_lossless(page)

    def tools() -> list[str]:
        return sorted(a["tool"] for a in page.evaluate("window.rhinoViewer.annotations"))

    page.keyboard.press("e")
    drag(page, (cx - 150, cy - 100), (cx - 90, cy - 50))
    page.keyboard.press("p")
    for dx, dy in ((0, 0), (60, 0), (60, 50), (0, 50)):
        page.mouse.click(cx + dx, cy + dy)
    page.keyboard.press("Enter")
    page.keyboard.press("f")
    page.mouse.move(cx - 100, cy + 60)
    page.mouse.down()
    for i in range(12):
        page.mouse.move(cx - 100 + 5 * i, cy + 60 + (i % 4) * 6)
    page.mouse.up()
    page.keyboard.press("t")
    page.mouse.click(cx + 120, cy - 120)
    page.keyboard.press("l")
    drag(page, (cx + 100, cy + 100), (cx + 160, cy + 100))
    page.keyboard.press("a")
    for dx, dy in ((150, -40), (100, -40), (100, 10)):
        page.mouse.click(cx + dx, cy + dy)
    assert tools() == ["angle", "ellipse", "freehand", "length", "point", "polygon"]
    measured = {a["tool"]: a["measurement"] for a in page.evaluate("window.rhinoViewer.document")
                if "measurement" in a}  # fmt: skip
    assert measured["length"]["unit"] == "mm" and measured["length"]["value"] > 1
    assert measured["angle"]["unit"] == "deg" and 80 < measured["angle"]["value"] < 100

    # Classification at study level from the dialog.
    page.keyboard.press("c")
    dialog = page.get_by_role("dialog", name="Classify")
    dialog.get_by_label("Level").select_option("study")
    dialog.get_by_role("button", name="Add classification").click()
    dialog.get_by_role("button", name="Close").click()
    assert "classification" in tools()

    # Select the point, move it, copy it to the next slice, delete it here; undo all of that.
    page.keyboard.press("v")
    page.mouse.click(cx + 120, cy - 120)
    drag(page, (cx + 120, cy - 120), (cx + 130, cy - 110))
    page.keyboard.press("Shift+C")
    assert tools().count("point") == 2
    page.keyboard.press("Delete")
    assert tools().count("point") == 1
    for _ in range(3):
        page.keyboard.press("Control+z")
    assert tools().count("point") == 1  # back to the one point, before the copy and the move

    # Brush, then the eraser wipes it out: an emptied mask is no annotation.
    page.keyboard.press("b")
    page.keyboard.press("]")
    drag(page, (cx - 40, cy - 150), (cx - 30, cy - 150))
    assert "brush" in tools()
    page.keyboard.press("x")
    for _ in range(3):
        page.keyboard.press("]")
    drag(page, (cx - 60, cy - 150), (cx - 10, cy - 150))
    assert "brush" not in tools()
    assert console == []


def legend(page: Page) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = page.evaluate("window.rhinoViewer.legend")
    return items


def wait_legend(page: Page, count: int) -> None:
    page.wait_for_function("(n) => window.rhinoViewer.legend.length === n", arg=count)


def test_classifications_are_drawn_on_the_viewport(page: Page, product: dict[str, Any]) -> None:
    """Series- and image-level classes appear as a legend on the image, in the class's colour,
    follow the slice, undo and hide/show."""
    sign_in(page, product["url"], "annotator", product["users"]["annotator"])
    console = watch_console(page)
    open_first_task(page, product)
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("Home")
    wait_lossless(page)
    before = [(i["level"], i["label"]) for i in legend(page)]
    assert ("image", "emphysema") not in before  # nothing image-level on slice 0 yet

    page.keyboard.press("c")
    dialog = page.get_by_role("dialog", name="Classify")
    for level in ("series", "image"):
        dialog.get_by_label("Level").select_option(level)
        dialog.get_by_role("button", name="Add classification").click()
    dialog.get_by_role("button", name="Close").click()
    wait_legend(page, len(before) + 2)
    items = legend(page)
    assert [(i["level"], i["meaning"], i["colour"]) for i in items[len(before) :]] == [
        ("series", "Pulmonary emphysema", "#c58cff"), ("image", "Pulmonary emphysema", "#c58cff"),
    ]  # fmt: skip
    # The swatch is painted on the overlay canvas in the class's colour.
    for item in items:
        rgba = page.evaluate(
            """([x, y]) => { const c = document.getElementById('overlay-canvas');
            const d = devicePixelRatio;
            return Array.from(c.getContext('2d').getImageData(Math.round(x * d), Math.round(y * d), 1, 1).data); }""",
            item["swatch"],
        )
        assert rgba == [*bytes.fromhex(item["colour"][1:]), 255], (item, rgba)
    page.screenshot(path=str(ARTIFACTS / "viewer-classification-legend.png"))

    # The image-level class belongs to slice 0 only; the series-level one to every slice.
    page.keyboard.press("ArrowDown")
    wait_lossless(page)
    wait_legend(page, len(before) + 1)
    assert ("image", "emphysema") not in [(i["level"], i["label"]) for i in legend(page)]
    page.keyboard.press("ArrowUp")
    wait_lossless(page)
    wait_legend(page, len(before) + 2)

    # Undo takes the image-level one away, redo brings it back; hiding the label hides both.
    page.keyboard.press("Control+z")
    wait_legend(page, len(before) + 1)
    page.keyboard.press("Control+y")
    wait_legend(page, len(before) + 2)
    page.get_by_role("button", name="Hide Pulmonary emphysema").click()
    wait_legend(page, 0)
    page.get_by_role("button", name="Show Pulmonary emphysema").click()
    wait_legend(page, len(before) + 2)
    assert console == []


def mask_pixels(annotation: dict[str, Any]) -> set[tuple[int, int]]:
    """(x, y) of the set pixels of a label document's brush mask (runs start with background)."""
    mask = annotation["mask"]
    columns, at = mask["columns"], 0
    pixels: set[tuple[int, int]] = set()
    for i, run in enumerate(mask["rle"]):
        if i % 2:
            pixels.update(((at + k) % columns, (at + k) // columns) for k in range(run))
        at += run
    return pixels


def test_a_brush_mask_moves_with_the_select_tool_and_the_move_undoes(
    page: Page, product: dict[str, Any]
) -> None:
    sign_in(page, product["url"], "annotator", product["users"]["annotator"])
    console = watch_console(page)
    open_first_task(page, product)
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("End")  # a slice no other test draws on
    wait_lossless(page)

    def mask() -> set[tuple[int, int]]:
        masks = [a for a in page.evaluate("window.rhinoViewer.document") if a["tool"] == "brush"
                 and a["label"] == "lesion-mask"]  # fmt: skip
        assert len(masks) == 1
        return mask_pixels(masks[0])

    page.keyboard.press("b")
    page.locator("#label-picker [data-label-key='lesion-mask']").click()
    drag(page, (cx - 40, cy), (cx + 40, cy))
    drawn = mask()
    assert len(drawn) > 100

    # Select it (a click on the mask) and drag it right and down.
    page.keyboard.press("v")
    # CSS pixels per image pixel at fit (the task handed out may be the demo's 64² MR, not the CT).
    grid = next(a["mask"] for a in page.evaluate("window.rhinoViewer.document") if "mask" in a)
    columns, rows = grid["columns"], grid["rows"]
    scale = min(box["width"] / columns, box["height"] / rows)
    drag(page, (cx, cy), (cx + 60, cy + 30))
    moved = mask()
    shift = (min(x for x, _ in moved) - min(x for x, _ in drawn),
             min(y for _, y in moved) - min(y for _, y in drawn))  # fmt: skip
    assert abs(shift[0] - 60 / scale) <= 1 and abs(shift[1] - 30 / scale) <= 1
    assert moved == {(x + shift[0], y + shift[1]) for x, y in drawn}  # translated, nothing lost
    assert len(page.evaluate("window.rhinoViewer.annotations")) == len(
        page.evaluate("window.rhinoViewer.document")
    )

    # Undo puts it back, redo moves it again.
    page.keyboard.press("Control+z")
    assert mask() == drawn
    page.keyboard.press("Control+y")
    assert mask() == moved

    # Dragged far off the image, it stops at the edge, whole.
    x_on_mask = cx + 60
    drag(page, (x_on_mask, cy + 30), (box["x"] + box["width"] + 400, cy + 30))
    edge = mask()
    assert max(x for x, _ in edge) == columns - 1 and len(edge) == len(drawn)
    page.screenshot(path=str(ARTIFACTS / "viewer-mask-moved.png"))
    assert console == []


def cine_rate(page: Page, fps: int, seconds: float = 1.6) -> float:
    """Play cine at ``fps`` for ``seconds``; slices painted per second, counted in the browser."""
    page.get_by_label("Cine frames per second").fill(str(fps))
    page.get_by_label("Cine frames per second").dispatch_event("change")
    since = page.evaluate("performance.now()")
    page.get_by_role("button", name="Cine", exact=True).click()
    page.wait_for_timeout(seconds * 1000)
    page.get_by_role("button", name="Cine", exact=True).click()
    steps: list[float] = page.evaluate(
        """(since) => { const out = []; let last = null;
        for (const p of window.rhinoViewer.painted) {
          if (p.at >= since && p.index !== last) { out.push(p.at); last = p.index; } }
        return out; }""",
        since,
    )
    return (len(steps) - 1) / ((steps[-1] - steps[0]) / 1000)


def test_invert_cine_at_a_chosen_rate_and_vertex_editing(
    page: Page, product: dict[str, Any]
) -> None:
    sign_in(page, product["url"], "annotator2", product["users"]["annotator2"])
    console = watch_console(page)
    open_first_task(page, product)
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("Home")
    wait_lossless(page)

    # The quality marker: "Preview" while the window is dragged, "Lossless" once released.
    page.evaluate(
        """() => { const el = document.querySelector('[data-overlay="quality"]');
        window.__marks = [];
        new MutationObserver(() => window.__marks.push(el.textContent))
          .observe(el, {childList: true, characterData: true, subtree: true}); }"""
    )
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dragged = now(page)
    drag(page, (cx, cy), (cx + 60, cy + 40), button="right")
    wait_lossless(page, since=dragged)
    marks = page.evaluate("window.__marks")
    assert "Preview" in marks and marks[-1] == "Lossless", marks
    assert page.locator("[data-overlay='quality']").get_attribute("data-quality") == "lossless"
    pressed = now(page)
    page.keyboard.press("0")  # back to the object's own window
    wait_lossless(page, since=pressed)

    # Invert (I): every grey value g becomes 255 - g (±2: the canvas filter rounds); again, and
    # the image is as it was.
    before = image_row(page)
    page.keyboard.press("i")
    next_paint(page)
    inverted = image_row(page)
    assert len(set(before)) > 3 and all(
        abs(a + b - 255) <= 2 for a, b in zip(before, inverted, strict=True)
    )
    page.get_by_role("button", name="Invert", exact=True).click()
    next_paint(page)
    assert image_row(page) == before

    # Zoom (+), pan (middle-drag), fit (Shift+F), reset: the view changes, the image does not.
    window_text = page.locator("[data-overlay='window']")
    page.keyboard.press("+")
    next_paint(page)
    assert window_text.inner_text().endswith("zoom 125%") and image_row(page) != before
    drag(page, (cx, cy), (cx + 50, cy + 30), button="middle")
    next_paint(page)
    zoomed_and_panned = image_row(page)
    page.keyboard.press("Shift+F")
    next_paint(page)
    assert window_text.inner_text().endswith("zoom 100%") and image_row(page) == before
    page.keyboard.press("+")
    page.keyboard.press("i")
    page.get_by_role("button", name="Reset view").click()
    next_paint(page)
    assert zoomed_and_panned != before and image_row(page) == before

    # The slice slider moves through the series.
    page.locator("#slice-slider").fill("10")
    wait_lossless(page)
    assert page.evaluate("window.rhinoViewer.slice.index") == 10
    assert page.locator("[data-overlay='slice']").inner_text().startswith("axial 11 / ")
    page.keyboard.press("Home")
    wait_lossless(page)

    # Cine at a chosen rate: slices follow the rate; stopping stops them.
    slow = cine_rate(page, 5)
    fast = cine_rate(page, 20)
    assert 3.5 <= slow <= 5.6, slow
    assert 12 <= fast <= 21, fast
    stopped_at = page.evaluate("window.rhinoViewer.slice.index")
    page.wait_for_timeout(400)
    assert page.evaluate("window.rhinoViewer.slice.index") == stopped_at
    assert (
        page.get_by_role("button", name="Cine", exact=True).get_attribute("aria-pressed") == "false"
    )

    # Vertex editing: select a polygon by its outline, drag one corner; undo puts it back.
    wait_lossless(page)
    page.get_by_role("button", name="Polygon", exact=True).click()
    # The picker offers the region labels of the schema only; the search narrows them.
    picks = page.locator("#label-picker .label-pick")
    kinds = picks.evaluate_all("els => els.map((e) => e.querySelector('small').textContent)")
    assert len(kinds) >= 2 and all(k.endswith("· region") for k in kinds), kinds
    page.get_by_label("Search labels").fill("MASS")
    assert picks.evaluate_all("els => els.map((e) => e.dataset.labelKey)") == ["mass"]
    picks.first.click()
    page.get_by_label("Search labels").fill("")
    assert picks.count() == len(kinds)
    corners = ((0, 0), (80, 0), (80, 60), (0, 60))
    for dx, dy in corners:
        page.mouse.click(cx + dx, cy + dy)
    page.keyboard.press("Enter")

    def polygon() -> list[list[float]]:
        shapes = [a for a in page.evaluate("window.rhinoViewer.document") if a["tool"] == "polygon"]
        assert len(shapes) == 1
        points: list[list[float]] = shapes[0]["geometry"]["points"]
        return points

    drawn = polygon()
    assert [a["label"] for a in page.evaluate("window.rhinoViewer.annotations")
            if a["tool"] == "polygon"] == ["mass"]  # fmt: skip
    page.get_by_role("button", name="Select", exact=True).click()
    page.mouse.click(cx + 40, cy)  # on the top edge
    drag(page, (cx + 80, cy + 60), (cx + 120, cy + 100))  # the third corner
    edited = polygon()
    scale = 80 / (drawn[1][0] - drawn[0][0])  # CSS pixels per image pixel (corners 80 px apart)
    assert edited[0] == drawn[0] and edited[1] == drawn[1] and edited[3] == drawn[3]
    assert abs(edited[2][0] - drawn[2][0] - 40 / scale) < 1.5
    assert abs(edited[2][1] - drawn[2][1] - 40 / scale) < 1.5
    page.get_by_role("button", name="Undo").click()
    assert polygon() == drawn
    page.get_by_role("button", name="Redo").click()
    assert polygon() == edited
    assert console == []


def test_leaving_with_unsaved_edits_asks_first(page: Page, product: dict[str, Any]) -> None:
    sign_in(page, product["url"], "annotator2", product["users"]["annotator2"])
    open_first_task(page, product)
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.get_by_role("button", name="Point", exact=True).click()
    page.mouse.click(cx - 100, cy - 100)
    page.close(run_before_unload=True)  # well within the 4 s autosave
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"] and not page.is_closed()

    # Autosaved (no Save pressed): leaving asks nothing.
    page.get_by_role("status").filter(has_text="Saved at site").or_(
        page.get_by_role("status").filter(has_text="Stored in PACS")
    ).first.wait_for()
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert dialogs == ["beforeunload"]


def test_a_rejected_task_shows_the_reviewers_comment_as_text(
    page: Page, product: dict[str, Any], browser: Any
) -> None:
    url = product["url"]
    sign_in(page, url, "annotator2", product["users"]["annotator2"])
    console = watch_console(page)
    mine = page.request.get(f"{url}/api/tasks/?assignee=me").json()["results"]
    task = max(
        (t for t in mine if t["status"] in ("pending", "in_progress")), key=lambda t: t["id"]
    )

    def post_status(on: Page, status: str, comment: str = "") -> None:
        token = next(c["value"] for c in on.context.cookies() if c["name"] == "csrftoken")
        reply = on.request.post(
            f"{url}/api/tasks/{task['id']}/status/",
            data={"status": status, "comment": comment}, headers={"X-CSRFToken": token},
        )  # fmt: skip
        assert reply.ok, reply.text()

    if task["status"] == "pending":
        post_status(page, "in_progress")
    post_status(page, "submitted")
    comment = "Outline the <b>upper</b> lobe again & check <img src=x> slice 12."
    lead = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        lead_page = lead.new_page()
        sign_in(lead_page, url, "lead", product["users"]["lead"])
        post_status(lead_page, "rejected", comment)
    finally:
        lead.close()

    # My tasks lists it as rejected, with its project, site and label count.
    page.goto(f"{url}/")
    headers = page.locator("table.worklist thead th").all_inner_texts()
    assert headers == ["Task", "Project", "Site", "Status", "Due", "Labels"]
    cells = page.locator(f"#task-rows tr[data-task-id='{task['id']}'] td").all_inner_texts()
    assert cells[1:5] == [
        task["project_name"],
        task["site_name"],
        "rejected",
        task["due_date"] or "—",
    ]
    fresh = page.request.get(f"{url}/api/tasks/{task['id']}/").json()
    assert cells[5].split(" · ")[0] == str(fresh["label_count"])
    page.goto(f"{url}/tasks/{task['id']}/view/")
    note = page.get_by_role("note")
    note.wait_for()
    assert note.inner_text() == f"Returned by the reviewer: {comment}"
    assert page.locator("#review-note b, #review-note img").count() == 0  # text, not markup
    assert page.locator("#task-state").inner_text() == "rejected"
    wait_lossless(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-review-note.png"))
    assert console == []


EDGES = """() => { const c = document.getElementById('image-canvas');
  const d = c.getContext('2d').getImageData(0, Math.floor(c.height / 2), c.width, 1).data;
  const lit = []; for (let x = 0; x < c.width; x++) if (d[4 * x] > 30) lit.push(x);
  return [lit[0], lit.at(-1)]; }"""


def test_previews_fit_a_small_viewport_and_keep_the_view(
    page: Page, product: dict[str, Any]
) -> None:
    """In a viewport smaller than the image, previews are rendered at the site no larger than the
    canvas and drawn over the full image grid: zoom, pan and image coordinates do not move."""
    sign_in(page, product["url"], "annotator2", product["users"]["annotator2"])
    console = watch_console(page)
    page.set_viewport_size({"width": 640, "height": 560})
    open_first_task(page, product)
    page.goto(f"{page.url.split('?')[0]}?prefetch=off")  # every preview from the site
    wait_lossless(page)
    canvas = page.evaluate(
        "(() => { const c = document.getElementById('image-canvas'); return [c.width, c.height]; })()"
    )
    assert canvas[0] < 512 or canvas[1] < 512, canvas  # else there is nothing to reduce
    page.locator("#overlay-canvas").focus()
    page.keyboard.press("-")  # zoom 80%: the whole body on the canvas, edges to compare
    next_paint(page)
    assert page.locator("[data-overlay='window']").inner_text().endswith("zoom 80%")
    before = page.evaluate(EDGES)
    shown = page.evaluate(
        """(edges) => new Promise((done) => {
        const v = window.rhinoViewer; const target = v.slice.index + 1; const t0 = performance.now();
        document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true}));
        const wait = () => { const p = v.painted.at(-1);
          if (p.at > t0 && p.index === target && p.quality === 'preview') {
            const f = v.framePath.at(-1);
            return done({edges: (new Function(`return (${edges})()`))(), columns: f.columns, rows: f.rows,
                         quality: f.quality, kbytes: f.bytes / 1024});
          }
          requestAnimationFrame(wait); };
        requestAnimationFrame(wait); })""",
        EDGES,
    )
    wait_lossless(page)
    lossless = page.evaluate("window.rhinoViewer.framePath.at(-1)")
    edges = page.evaluate(EDGES)
    assert shown["quality"] == "preview" and lossless["quality"] == "lossless"
    assert shown["columns"] <= canvas[0] and shown["rows"] <= canvas[1]
    assert (lossless["columns"], lossless["rows"]) == (512, 512)
    # The preview covered the same place on the canvas as the full-size frames before and after
    # it (the next slice of the phantom has the same outline): the 80% zoom was kept throughout.
    for seen in (shown["edges"], edges):
        assert all(abs(a - b) <= 3 for a, b in zip(seen, before, strict=True)), (
            before,
            shown,
            edges,
        )
    assert page.locator("[data-overlay='window']").inner_text().endswith("zoom 80%")
    assert console == []


def test_saving_while_the_site_is_away_fails_clearly_and_saves_once_it_is_back(
    page: Page, demo_product: Any
) -> None:
    """The demo's gateways stop (the site is away): Save says so, with a Retry that says so again;
    once the gateways are back and the session re-attached, the edits are saved without a click
    and are in the site's store. (Last in this file: it restarts the session's gateways.)"""
    running = demo_product
    sign_in(page, running.url, "annotator2", running.users["annotator2"])
    console = watch_console(page)
    task_id = open_first_task(page, {"url": running.url})
    box = page.locator("#overlay-canvas").bounding_box()
    assert box is not None
    page.get_by_role("button", name="Point", exact=True).click()
    page.mouse.click(box["x"] + box["width"] / 2 + 90, box["y"] + box["height"] / 2 + 70)
    drawn = {a["uid"] for a in page.evaluate("window.rhinoViewer.annotations")}
    status = page.locator("#save-status")
    gateways = range(len(running.gateway_configs))
    for index in gateways:
        running.stop(f"gateway-{index}")
    try:
        page.locator("#connection-state").filter(has_text="Reconnecting").wait_for()
        page.get_by_role("button", name="Save", exact=True).click()
        status.filter(has_text="Not connected to the site: not saved.").wait_for()
        assert status.get_attribute("data-state") == "failed"
        retry = page.get_by_role("button", name="Retry")
        page.evaluate("document.getElementById('save-status').textContent = ''")
        retry.click()  # the site is still away: the same clear failure
        status.filter(has_text="Not connected to the site: not saved.").wait_for()
    finally:
        for index in gateways:
            running.start_gateway(index)
        running.wait_sites_online()
    connected = re.compile(r"^Connected$")
    page.locator("#connection-state").filter(has_text=connected).wait_for(timeout=60_000)
    status.filter(has_text="Saved at site").or_(
        status.filter(has_text="Stored in PACS")
    ).first.wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Retry").is_hidden()
    stored = running.site_labels(task_id)
    assert stored is not None and drawn <= {a["uid"] for a in stored["document"]["annotations"]}
    assert console == []
