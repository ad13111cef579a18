"""The staff console in a real browser (Playwright + Debian Chromium, live server): an auditor
filters, searches, pages and exports; a custodian revokes a session and sees the API's error."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, SecureAccessSession, User
from annotations.services.audit import audit_record
from annotations.services.sites import site_custodian_grant, site_custodian_revoke
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
    """The real sessions API behind the page: a custodian who lost the site between loading the
    page and pressing Revoke gets the API's coded answer; with the site back, the revoke closes
    the session, audited once."""
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

    site_custodian_revoke(actor=world.admin, site=world.site, user=world.custodian)
    requests: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: requests.append(
            {"url": r.url, "body": json.loads(r.post_data or "null"),
             "csrf": r.headers.get("x-csrftoken", "")}
        ) if r.url.endswith("/revoke/") else None,
    )  # fmt: skip
    button = page.get_by_role("button", name=re.compile(r"Revoke annotator's session"))
    button.click()
    page.get_by_label("Reason").fill("left the project")
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    status = page.get_by_role("status")
    status.get_by_text("(not_found)").wait_for()
    assert status.inner_text() == "Revoke failed: No such session. (not_found)"
    assert requests[0]["url"].endswith(f"/api/sessions/{session.id}/revoke/")
    assert requests[0]["body"] == {"reason": "left the project"}
    assert requests[0]["csrf"]
    session.refresh_from_db()
    assert session.closed_at is None
    assert events_by(world.custodian, AuditAction.SESSION_REVOKE) == []

    site_custodian_grant(actor=world.admin, site=world.site, user=world.custodian)
    button.click()
    page.get_by_label("Reason").fill("left the project")
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    status.get_by_text("Revoked annotator").wait_for()
    assert page.locator("#session-rows tr").count() == 0
    assert page.locator("#no-sessions").is_visible()
    session.refresh_from_db()
    assert session.closed_at is not None and session.close_reason == "revoked"
    revokes = events_by(world.custodian, AuditAction.SESSION_REVOKE)
    assert [(e.object_id, e.outcome) for e in revokes] == [(str(session.id), AuditOutcome.SUCCESS)]


def _site_entries(product: Any, session_id: str) -> list[tuple[float, str]]:
    """(time, kind) of the site audit's entries about one session, read from every demo site's
    own chain (the site's world: central keeps none of this)."""
    found = []
    for path in sorted((product.var_dir / "demo").glob("*/gateway/audit.sqlite")):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for at, kind, entry in db.execute("SELECT at, kind, entry FROM audit ORDER BY id"):
                if json.loads(entry).get("session") == session_id:
                    found.append((at, kind))
        finally:
            db.close()
    return found


# A socket of the annotator's page to a session: every text message and the close code.
_PROBE = """([url, message]) => new Promise((done) => {
  const ws = new WebSocket(url); const got = [];
  ws.onopen = () => ws.send(JSON.stringify(message));
  ws.onmessage = (e) => got.push(typeof e.data === 'string' ? JSON.parse(e.data) : 'binary');
  ws.onclose = (e) => done({code: e.code, messages: got});
})"""


def test_admin_revokes_a_live_session_and_the_viewer_closes_within_5_s(
    browser: Any, page: Any, demo_product: Any
) -> None:
    """Acceptance (issue 9), on the running product: the annotator's viewer streams frames from
    the demo site; an admin revokes that session on the console; the viewer says so within 5 s;
    a further frame request is refused at central, and the site closed the session and served
    nothing after."""
    from tests.browser.test_viewer import open_first_task, watch_console

    running = demo_product
    sign_in(page, running.url, "annotator", running.users["annotator"])
    console = watch_console(page)
    task_id = open_first_task(page, {"url": running.url})
    page.keyboard.press("ArrowDown")  # frames streaming
    page.wait_for_function("window.rhinoViewer.painted.length > 1")

    admin_context = browser.new_context(viewport={"width": 1400, "height": 900})
    admin_context.set_default_timeout(15_000)
    admin = admin_context.new_page()
    try:
        sign_in(admin, running.url, "admin", running.users["admin"])
        admin.goto(f"{running.url}/console/sessions/")
        button = admin.get_by_role("button", name=f"Revoke annotator's session on task {task_id}")
        session_id = button.locator("xpath=ancestor::tr").get_attribute("data-session-id")
        assert session_id
        served_before = [k for _, k in _site_entries(running, session_id)].count("frame.served")
        button.click()
        admin.get_by_label("Reason").fill("access review")
        confirm = admin.get_by_role("dialog").get_by_role("button", name="Revoke")
        confirm.click()
        revoked_at = time.monotonic()
        message = page.locator("#viewer-message")
        message.filter(has_text="Access revoked").wait_for(timeout=5_000)
        page.locator("#connection-state").filter(has_text="Disconnected").wait_for(timeout=5_000)
        elapsed = time.monotonic() - revoked_at
        assert elapsed < 5.0, elapsed
        assert message.inner_text() == (
            "Access revoked: an administrator or the site's custodian ended this session."
        )
        admin.get_by_role("status").get_by_text("Revoked annotator's session").wait_for()
    finally:
        admin_context.close()

    # A further frame request on that session: central refuses it (the session is closed) ...
    ws_url = running.url.replace("http", "ws", 1) + f"/ws/sessions/{session_id}/"
    probe = page.evaluate(
        _PROBE, [ws_url, {"type": "frame.request", "seq": 1, "series": "x", "index": 0}]
    )
    assert probe["code"] == 4403
    assert "binary" not in probe["messages"]
    assert [m.get("code") for m in probe["messages"] if m.get("type") == "error"] == [
        "session_closed"
    ]
    # ... and the site closed its end at the revoke and served nothing after it.
    entries = _site_entries(running, session_id)
    kinds = [k for _, k in entries]
    assert kinds.count("session.closed") >= 1
    closed_at = max(at for at, k in entries if k == "session.closed")
    assert not [at for at, k in entries if k == "frame.served" and at > closed_at]
    assert kinds.count("frame.served") >= served_before
    # the page's own 4403 probe is expected; nothing else went wrong in the viewer
    assert [e for e in console if "/ws/sessions/" not in e] == []


def test_gateways_go_offline_and_their_digest_matches_what_central_relayed(
    browser: Any, page: Any, demo_product: Any
) -> None:
    """On the running product: a viewer session streams frames and ends; the demo's gateways
    stop (the real links go down) and the health page shows them offline; back again, each sends
    its audit digest on connect and Site access shows that session with the site's count equal
    to central's, unflagged."""
    from tests.browser.test_viewer import open_first_task

    running = demo_product
    admin_context = browser.new_context(viewport={"width": 1400, "height": 900})
    admin_context.set_default_timeout(15_000)
    admin = admin_context.new_page()
    try:
        sign_in(page, running.url, "annotator2", running.users["annotator2"])
        task_id = open_first_task(page, {"url": running.url})
        for _ in range(4):
            page.keyboard.press("ArrowDown")
        page.wait_for_function("window.rhinoViewer.painted.length > 3")
        sign_in(admin, running.url, "admin", running.users["admin"])
        admin.goto(f"{running.url}/console/sessions/")
        button = admin.get_by_role("button", name=f"Revoke annotator2's session on task {task_id}")
        session_id = button.locator("xpath=ancestor::tr").get_attribute("data-session-id")
        assert session_id
        page.goto(f"{running.url}/")  # leaving the viewer closes its socket and session

        gateways = range(len(running.gateway_configs))
        for index in gateways:
            running.stop(f"gateway-{index}")
        try:
            admin.goto(f"{running.url}/console/gateways/")
            states = admin.locator("#gateways tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.state)"
            )
            assert states and set(states) == {"offline"}, states
            assert admin.get_by_test_id("state").first.inner_text() == "Offline"
        finally:
            for index in gateways:
                running.start_gateway(index)
            running.wait_sites_online()
        admin.goto(f"{running.url}/console/gateways/")
        states = admin.locator("#gateways tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.state)"
        )
        assert set(states) == {"online"}, states

        row = admin.locator(f"tr[data-session='{session_id}']")
        deadline = time.monotonic() + 20
        while row.count() == 0 and time.monotonic() < deadline:
            admin.goto(f"{running.url}/console/site-access/")
            time.sleep(0.5)
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == "annotator2" and cells[2] == f"#{task_id}", cells
        served, relayed = int(cells[3]), int(cells[4])
        assert served >= 4 and served == relayed, cells
        assert row.get_attribute("data-flags") == ""
        assert admin.get_by_test_id("digest").first.inner_text().startswith("Chain head #")
    finally:
        admin_context.close()


def test_admin_manages_users_roles_and_sites(world: World, live_server: Any, page: Any) -> None:
    """Issue 9, "admins manage users, roles and sites": through the console's own forms, each
    change the audited service's event."""
    sign_in(page, live_server.url, "admin")
    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="Users and roles").click()
    page.wait_for_url(re.compile(r"/console/users/$"))

    new_user = page.get_by_role("form", name="New user")
    page.get_by_text("New user", exact=True).click()
    new_user.get_by_label("Username").fill("reader9")
    new_user.get_by_label("First name").fill("Ada <b>")
    new_user.get_by_label("Annotator (radiologist)").check()
    new_user.get_by_label("Initial password").fill("a long enough passphrase 7")
    new_user.get_by_role("button", name="Create user").click()
    page.wait_for_url(re.compile(r"/console/users/$"))
    assert "Created reader9" in page.get_by_role("status").inner_text()
    row = page.locator('tr[data-user="reader9"]')
    assert row.get_by_test_id("roles").inner_text() == "Annotator (radiologist)"
    assert row.locator("td").first.inner_text() == "Ada <b>"  # text, never markup

    row.get_by_role("link", name="reader9").click()
    roles = page.get_by_role("form", name="Roles")
    roles.get_by_label("Auditor").check()
    roles.get_by_role("button", name="Save roles").click()
    assert page.get_by_role("status").inner_text() == "Roles of reader9 saved."
    reader = User.objects.get(username="reader9")
    assert set(reader.groups.values_list("name", flat=True)) == {"annotator", "auditor"}

    deactivate = page.get_by_role("form", name="Deactivate")
    deactivate.get_by_label("Reason").fill("left the project")
    deactivate.get_by_role("button", name="Deactivate").click()
    assert page.get_by_test_id("active").inner_text().startswith("inactive")
    assert not User.objects.get(pk=reader.pk).is_active

    page.get_by_role("link", name="Sites").click()
    page.get_by_text("New site", exact=True).click()
    new_site = page.get_by_role("form", name="New site")
    new_site.get_by_label("Name").fill("Hospital C")
    new_site.get_by_label("Slug").fill("hospital-c")
    new_site.get_by_role("button", name="Create site").click()
    page.locator('tr[data-site="hospital-c"]').get_by_role("link", name="Hospital C").click()
    add = page.get_by_role("form", name="Add a custodian")
    add.get_by_label("User with the site custodian role").select_option(label="custodian")
    add.get_by_role("button", name="Add custodian").click()
    assert "custodian is now a custodian of Hospital C" in page.get_by_role("status").inner_text()
    assert page.locator("#custodians li").first.inner_text().startswith("custodian")

    actions = list(
        AuditEvent.objects.filter(actor_id=world.admin.pk)
        .exclude(action__in=["audit.read", "user.login"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-5:] == [
        "user.create",
        "user.roles_change",
        "user.deactivate",
        "site.create",
        "site.permission_grant",
    ]
