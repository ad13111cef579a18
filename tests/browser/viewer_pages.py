"""The viewer's pages in Chromium: the product they run against and the page helpers the viewer's
browser tests (and bench/viewer.py) share."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture(scope="session")
def product(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The real product (central + the demo gateways over folder PACS) — or, with
    RHINO_VIEWER_URL and RHINO_VIEWER_PASSWORD, one someone started with `make run` (its site store
    is not readable from here, so the store check is then left out)."""
    url = os.environ.get("RHINO_VIEWER_URL")
    if url:
        password = os.environ["RHINO_VIEWER_PASSWORD"]
        names = ("annotator", "annotator2", "lead", "admin")
        return {"url": url, "users": dict.fromkeys(names, password), "site_labels": None}
    running = request.getfixturevalue("demo_product")
    return {"url": running.url, "users": running.users, "site_labels": running.site_labels}


def watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} at {m.location.get('url')}") if m.type == "error" else None
        ),
    )
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors


def open_first_task(page: Page, product: dict[str, Any]) -> int:
    page.goto(f"{product['url']}/")
    page.keyboard.press("n")  # "open the next task with one key"
    page.wait_for_url("**/tasks/*/view/")
    task_id = int(page.url.rstrip("/").split("/")[-2])
    wait_lossless(page)
    page.wait_for_function("window.rhinoViewer.labelsLoaded === true")
    return task_id


def wait_lossless(page: Page, since: float = 0) -> None:
    """Until the last frame painted (after ``since``, performance.now()) is the lossless frame of
    the slice on screen."""
    page.wait_for_function(
        "(since) => { const p = window.rhinoViewer?.painted; const s = window.rhinoViewer?.slice;"
        " return p?.length && p[p.length-1].quality === 'lossless' && p[p.length-1].index === s.index"
        " && p[p.length-1].plane === s.plane && p[p.length-1].at > since; }",
        arg=since,
        timeout=20_000,
    )


def now(page: Page) -> float:
    at: float = page.evaluate("performance.now()")
    return at


def centre_pixels(page: Page) -> list[int]:
    """A strip of grey values across the middle of the image canvas."""
    values: list[int] = page.evaluate(
        """() => { const c = document.getElementById('image-canvas');
        const d = c.getContext('2d').getImageData(0, Math.floor(c.height / 2), c.width, 1).data;
        const out = []; for (let i = 0; i < d.length; i += 16) out.push(d[i]); return out; }"""
    )
    return values


def drag(
    page: Page, start: tuple[float, float], end: tuple[float, float], button: str = "left"
) -> None:
    page.mouse.move(*start)
    page.mouse.down(button=button)  # type: ignore[arg-type]
    for i in range(1, 9):
        page.mouse.move(
            start[0] + (end[0] - start[0]) * i / 8, start[1] + (end[1] - start[1]) * i / 8
        )
    page.mouse.up(button=button)  # type: ignore[arg-type]


# Scroll the whole series one key per animation frame; frames painted per second until the last
# slice is on screen.


def next_paint(page: Page) -> None:
    """Until the viewport has had two animation frames (a repaint after the last change)."""
    page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def image_row(page: Page) -> list[int]:
    """Grey values across the middle row of the image itself (the square image fitted to the
    canvas, without the black margin beside it)."""
    values: list[int] = page.evaluate(
        """() => { const c = document.getElementById('image-canvas');
        const side = Math.min(c.width, c.height); const x0 = Math.ceil((c.width - side) / 2) + 2;
        const d = c.getContext('2d').getImageData(x0, Math.floor(c.height / 2), side - 4, 1).data;
        const out = []; for (let i = 0; i < d.length; i += 16) out.push(d[i]); return out; }"""
    )
    return values
