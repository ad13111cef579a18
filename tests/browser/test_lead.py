"""The lead's workspace in Chromium: tasks in bulk for two readers, progress moving live over the
project WebSocket when a reader submits, a rejection that needs (and delivers) a comment, approval.

The server is a real daphne on loopback with its own SQLite database (tests/browser/lead_world.py):
pytest-django's ``live_server`` is a WSGI server and cannot carry the project socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import sign_in
from tests.product import daphne_with_world

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# The page polls every 30 s as a safety net; seeing a change well within that proves the socket.
LIVE_TIMEOUT_MS = 8_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    var = tmp_path_factory.mktemp("lead-var")
    with daphne_with_world(var, "tests.browser.lead_world") as (port, world):
        # localhost, not 127.0.0.1: Chromium keeps Secure cookies (DEBUG off) on http://localhost only
        world["url"] = f"http://localhost:{port}"
        yield world


class Reader:
    """An annotator working through the REST API with their token (as the viewer would)."""

    def __init__(self, server: dict[str, Any], name: str) -> None:
        self.base = server["url"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {server['readers'][name]['token']}"

    def my_tasks(self) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base}/api/tasks/?assignee=me", timeout=10)
        response.raise_for_status()
        return list(response.json()["results"])

    def move(self, task_id: int, *statuses: str) -> None:
        for status in statuses:
            response = self.http.post(
                f"{self.base}/api/tasks/{task_id}/status/", json={"status": status}, timeout=10
            )
            assert response.status_code == 200, response.text

    def task(self, task_id: int) -> dict[str, Any]:
        return dict(self.http.get(f"{self.base}/api/tasks/{task_id}/", timeout=10).json())

    def close(self) -> None:
        self.http.close()


def test_lead_creates_tasks_follows_progress_live_rejects_and_approves(server, page) -> None:
    from playwright.sync_api import expect

    sign_in(page, server["url"], "lead")
    page.goto(f"{server['url']}/lead/projects/{server['project']}/")
    root = page.locator("#lead")
    expect(root).to_have_attribute("data-live", "open")
    expect(page.locator("#selections tbody tr")).to_have_count(3)  # two included, one excluded

    # tasks in bulk from the two included selections, for both readers
    page.get_by_label("reader1").check()
    page.get_by_label("reader2").check()
    page.get_by_role("button", name="Create tasks").click()
    expect(page.locator("#bulk-result")).to_have_text("4 tasks created, 0 already existed.")
    count = lambda key: page.locator(f'[data-count="{key}"]')  # noqa: E731
    expect(count("total-pending")).to_have_text("4")
    expect(page.locator("#tasks tbody tr")).to_have_count(4)

    # reader1 submits one task: the board moves over the project socket, not the 30 s poll
    reader = Reader(server, "reader1")
    mine = reader.my_tasks()
    assert len(mine) == 2 and {t["assignee"]["username"] for t in mine} == {"reader1"}
    task_id = mine[0]["id"]
    reader.move(task_id, "in_progress", "submitted")
    expect(count("total-submitted")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(count("total-pending")).to_have_text("3")
    review_row = page.locator(f'[data-review="{task_id}"]')
    expect(review_row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(review_row.get_by_role("link", name=f"Open task {task_id} read-only")).to_have_attribute(
        "href", f"/tasks/{task_id}/view/"
    )

    # a rejection without a comment is refused with the coded error's message
    page.get_by_role("button", name=f"Reject task {task_id}").click()
    expect(page.locator("#lead-error")).to_contain_text("needs a comment")
    page.get_by_label(f"Comment for task {task_id}").fill("Please outline the whole nodule.")
    page.get_by_role("button", name=f"Reject task {task_id}").click()
    expect(count("total-rejected")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(review_row).to_have_count(0)
    assert reader.task(task_id)["review_comment"] == "Please outline the whole nodule."

    # back to work, submitted again, approved
    reader.move(task_id, "in_progress", "submitted")
    expect(review_row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    page.get_by_role("button", name=f"Approve task {task_id}").click()
    expect(count("total-approved")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(count("total-rejected")).to_have_text("0")
    assert reader.task(task_id)["status"] == "approved"
    # the other reader's tasks are theirs alone
    other = Reader(server, "reader2")
    assert task_id not in {t["id"] for t in other.my_tasks()}
    reader.close()
    other.close()
