"""The staff console in a real browser (Playwright + Debian Chromium, live server): an auditor
filters, searches, pages and exports; a custodian revokes a session and sees the API's error."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, SecureAccessSession, User
from annotations.services.audit import audit_record
from tests.annotations import conftest as central
from tests.annotations.conftest import World
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Central's fixtures (users in roles, a project world, a per-test chain head file).
make_user = central.make_user
world = central.world
_audit_head_file = central._audit_head_file

SCHEMA = (
    Path(__file__).resolve().parents[2]
    / "annotations"
    / "console"
    / "schemas"
    / "dicom-audit-message.rng"
)


def events_by(user: User, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(actor_id=user.pk, action=action).order_by("seq"))


def table_rows(page: Any) -> list[dict[str, str]]:
    headers = page.locator("table.audit thead th").all_inner_texts()
    rows = []
    for row in page.locator("#audit-rows tr").all():
        rows.append(dict(zip(headers, row.locator("td").all_inner_texts(), strict=True)))
    return rows


def test_auditor_filters_searches_pages_and_exports(
    world: World, live_server: Any, page: Any
) -> None:
    cache.clear()
    audit_record(
        actor=world.outsider,
        action=AuditAction.ACCESS_DENIED,
        outcome=AuditOutcome.MINOR_FAILURE,
        obj=world.task,
        project_id=world.project.pk,
        site_id=world.site.pk,
        detail={"attempted": "task.assign", "reason": "<b>not yours</b>"},
    )
    base = live_server.url
    sign_in(page, base, "auditor")

    page.get_by_role("link", name="Console").click()
    page.wait_for_url(re.compile(r"/console/audit/$"))
    assert page.get_by_role("heading", name="Audit log").is_visible()
    assert "Verified up to event #" in page.get_by_test_id("chain-state").inner_text()
    assert len(table_rows(page)) > 10

    # filter: failures only
    page.get_by_label("Outcome").select_option("failure")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"outcome=failure"))
    rows = table_rows(page)
    assert [r["Action"] for r in rows] == ["access.denied"]
    assert rows[0]["Outcome"] == "Minor failure"
    # user data is text, never markup
    assert '"<b>not yours</b>"' in rows[0]["Detail"]
    assert page.locator("#audit-rows b").count() == 0

    # full-text search, then narrow by clicking an actor in the results
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search").fill("assign")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=assign"))
    rows = table_rows(page)
    assert rows and {r["Action"] for r in rows} <= {"task.assign", "access.denied"}
    page.locator("#audit-rows").get_by_role("link", name="lead", exact=True).first.click()
    page.wait_for_url(re.compile(r"actor=lead"))
    rows = table_rows(page)
    assert rows and all(r["Actor"] == "lead" and r["Action"] == "task.assign" for r in rows)

    # export the filtered set: CSV, then DICOM audit messages
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    exported = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [(r["actor_name"], r["action"]) for r in exported] == [("lead", "task.assign")]
    with page.expect_download() as download_info:
        page.get_by_test_id("export-dicom").click()
    xml = Path(download_info.value.path()).read_bytes()
    etree = pytest.importorskip("lxml.etree")
    schema = etree.RelaxNG(etree.parse(str(SCHEMA)))
    messages = etree.fromstring(xml).findall("AuditMessage")
    assert len(messages) == 1
    assert schema.validate(etree.ElementTree(messages[0])), schema.error_log

    # paging by keyset: older, then back to newer
    page.goto(f"{base}/console/audit/?limit=5")
    first = [r["#"] for r in table_rows(page)]
    page.get_by_role("link", name="Older").click()
    page.wait_for_url(re.compile(r"before=\d+"))
    second = [r["#"] for r in table_rows(page)]
    assert len(second) == 5 and not set(first) & set(second)
    assert int(second[0][1:]) < int(first[-1][1:])
    page.get_by_role("link", name="Newer").click()
    page.wait_for_url(re.compile(r"after=\d+"))
    assert [r["#"] for r in table_rows(page)] == first

    # a bad filter: a coded error on the page, no table
    page.goto(f"{base}/console/audit/")
    page.get_by_label("From (UTC)").fill("yesterday")
    page.get_by_role("button", name="Apply").click()
    alert = page.get_by_role("alert")
    assert alert.get_attribute("data-code") == "invalid"
    assert "since" in alert.inner_text()

    # the browser's visits, as the audit log saw them: one audit.read per page view, one
    # audit.export per export, the bad filter as a failure
    reads = events_by(world.auditor, AuditAction.AUDIT_READ)
    assert len(reads) == 10
    assert [e.outcome for e in reads].count(AuditOutcome.MINOR_FAILURE) == 1
    exports = events_by(world.auditor, AuditAction.AUDIT_EXPORT)
    assert [e.detail for e in exports] == [
        {"view": "audit", "actor": "lead", "q": ["assign"], "format": "csv"},
        {"view": "audit", "actor": "lead", "q": ["assign"], "format": "dicom"},
    ]


def test_auditor_reverifies_the_chain(world: World, live_server: Any, page: Any) -> None:
    cache.clear()
    sign_in(page, live_server.url, "auditor")
    page.goto(f"{live_server.url}/console/alerts/")
    page.get_by_role("button", name=re.compile("erify the whole chain")).click()
    page.wait_for_url(re.compile(r"/console/alerts/$"))
    state = page.get_by_test_id("chain-state").inner_text()
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert head is not None
    assert re.match(r"Verified up to event #\d+ at ", state)
    assert int(re.findall(r"#(\d+)", state)[0]) >= head - 1


def test_custodian_revokes_a_session_and_sees_the_coded_error(
    world: World, live_server: Any, page: Any
) -> None:
    session = SecureAccessSession.objects.create(
        user=world.annotator,
        task=world.task,
        scope={"actions": ["view"]},
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    SecureAccessSession.objects.create(
        user=world.admin,
        task=world.other_task,
        scope={"actions": ["view"]},
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    sign_in(page, live_server.url, "custodian")
    page.goto(f"{live_server.url}/console/sessions/")
    rows = page.locator("#session-rows tr")
    assert rows.count() == 1  # only the custodian's site
    assert rows.first.locator("td").first.inner_text() == "annotator"

    # The revoke endpoint belongs to the sessions API; the page's contract is the request it
    # sends and how it shows the coded answer, so the answers are scripted here.
    requests: list[dict[str, Any]] = []
    replies = [
        (409, {"error": {"code": "session_closed", "message": "This session is already closed."}}),
        (200, {"id": str(session.id), "closed_at": timezone.now().isoformat()}),
    ]

    def answer(route: Any) -> None:
        request = route.request
        requests.append(
            {"url": request.url, "body": json.loads(request.post_data or "null"),
             "csrf": request.headers.get("x-csrftoken", "")}
        )  # fmt: skip
        status, body = replies.pop(0)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    page.route("**/api/sessions/*/revoke/", answer)
    button = page.get_by_role("button", name=re.compile(r"Revoke annotator's session"))
    button.click()
    page.get_by_label("Reason").fill("left the project")
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    status = page.get_by_role("status")
    status.get_by_text("session_closed").wait_for()
    assert status.inner_text() == "Revoke failed: This session is already closed. (session_closed)"
    assert requests[0]["url"].endswith(f"/api/sessions/{session.id}/revoke/")
    assert requests[0]["body"] == {"reason": "left the project"}
    assert requests[0]["csrf"]

    button.click()
    page.get_by_label("Reason").fill("left the project")
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    status.get_by_text("Revoked annotator").wait_for()
    assert page.locator("#session-rows tr").count() == 0
    assert page.locator("#no-sessions").is_visible()
