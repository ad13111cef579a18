"""Playwright against Debian's Chromium: one browser per session, a fresh context per test, and a
screenshot in ``test-artifacts/`` when a test fails.

Playwright's own browser download does not work on these machines, so Chromium is the system
package (``apt-get install chromium``); without it (or without the ``playwright`` package) browser
tests skip, which RHINO_STRICT_TESTS=1 turns into failures.

Usage: request ``page`` (and usually pytest-django's ``live_server``); ``sign_in(page, url, user)``
signs in through the real login form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.parts import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("RHINO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"  # tests/annotations/conftest.py make_user


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the ``page`` fixture knows whether to screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, launched once for all of tests/browser (which pytest runs as one block).

    Playwright's sync API keeps an asyncio loop marked as running in the main thread while it is
    started. Django then refuses ORM calls from that thread (SynchronousOnlyOperation) although
    nothing runs concurrently there, so DJANGO_ALLOW_ASYNC_UNSAFE is set for exactly that time;
    and Playwright stops when the package's tests end, so that later async tests get their loop.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (Python)", "pip install -r requirements-dev.txt")
    require(os.access(CHROMIUM, os.X_OK), f"Chromium at {CHROMIUM}", "apt-get install chromium")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context (own cookies and storage), screenshotted if the test fails.

    tests/settings.py runs with DEBUG off, so session and CSRF cookies are Secure; Chromium counts
    http://localhost (pytest-django's live server host) as a secure context and keeps them.
    """
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as exc:  # a screenshot must not hide the real failure
            print(f"screenshot failed: {exc}")
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Through the real login form (the session cookie is the product's own)."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
