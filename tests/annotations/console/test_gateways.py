"""The console's gateway health page: each visible site online / silent / offline / never
connected with its last heartbeat's report; custodians see only their sites; reading is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.console.gateways import GatewayState
from annotations.models import Site, User
from annotations.services.gateways import gateway_heartbeat, gateway_link_down, gateway_link_up
from annotations.services.sites import site_create
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]

HEALTH: dict[str, Any] = {
    "pacs": {"ok": False, "detail": "pacs_timeout", "checked_at": 1, "latency_ms": None},
    "cache": {"disk_bytes": 512, "disk_cap": 2048, "memory_bytes": 10, "memory_cap": 100},
    "outbox": {"pending": 3, "stored": 9, "dead": 2, "oldest_pending_seconds": 12.5},
    "sessions": 1,
}


def rows(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content[:400]
    return {row.slug: row for row in response.context["rows"]}


def test_states_and_health_from_the_heartbeats(world: World, client_for: ClientFor) -> None:
    silent = site_create(actor=world.admin, name="Hospital C", slug="hospital-c")
    never = site_create(actor=world.admin, name="Hospital D", slug="hospital-d")
    gateway_link_up(site=world.site, link="link-a", version="0.1.0")
    gateway_heartbeat(site_id=world.site.pk, link="link-a", version="0.1.1", health=HEALTH)
    gateway_link_up(site=world.other_site, link="link-b", version="0.1.0")
    gateway_link_down(site_id=world.other_site.pk, link="link-b")
    gateway_link_up(site=silent, link="link-c", version="0.1.0")
    # The link is still up at central, but the last heartbeat is older than 3 periods.
    Site.objects.filter(pk=silent.pk).update(last_seen_at=timezone.now() - dt.timedelta(seconds=31))

    response = client_for(world.admin).get("/console/gateways/")
    by_slug = rows(response)
    assert {slug: row.state for slug, row in by_slug.items()} == {
        "hospital-a": GatewayState.ONLINE,
        "hospital-b": GatewayState.OFFLINE,
        "hospital-c": GatewayState.SILENT,
        "hospital-d": GatewayState.NEVER,
    }
    online = by_slug["hospital-a"]
    assert online.version == "0.1.1"
    assert (online.pacs_ok, online.pacs_detail) == (False, "pacs_timeout")
    assert (online.outbox_pending, online.outbox_dead) == (3, 2)
    assert (online.cache_disk_bytes, online.cache_disk_cap, online.cache_disk_percent) == (
        512, 2048, 25,
    )  # fmt: skip
    html = response.content.decode()
    assert "Never connected" in html and "Silent" in html and "unreachable" in html
    assert never.pk == by_slug["hospital-d"].site_id


def test_silence_threshold_is_a_setting(world: World, client_for: ClientFor, settings: Any) -> None:
    gateway_link_up(site=world.site, link="link-a", version="0.1.0")
    Site.objects.filter(pk=world.site.pk).update(
        last_seen_at=timezone.now() - dt.timedelta(seconds=31)
    )
    client = client_for(world.admin)
    assert rows(client.get("/console/gateways/"))["hospital-a"].state == GatewayState.SILENT
    settings.RHINO_GATEWAY_SILENT_PERIODS = 6
    assert rows(client.get("/console/gateways/"))["hospital-a"].state == GatewayState.ONLINE


def test_a_malformed_health_report_shows_as_unknown(world: World, client_for: ClientFor) -> None:
    gateway_link_up(site=world.site, link="link-a", version="0.1.0")
    bad = {"pacs": {"ok": "yes", "detail": 5}, "outbox": {"pending": -1, "dead": True}, "cache": []}
    gateway_heartbeat(site_id=world.site.pk, link="link-a", version="x", health=bad)
    row = rows(client_for(world.admin).get("/console/gateways/"))["hospital-a"]
    assert (row.pacs_ok, row.pacs_detail, row.outbox_pending, row.outbox_dead) == (
        None,
        "",
        None,
        None,
    )
    assert row.cache_disk_bytes is None


def test_custodian_sees_only_their_sites_and_reading_is_audited(
    world: World, client_for: ClientFor
) -> None:
    custodian, auditor = client_for(world.custodian), client_for(world.auditor)
    before = last_seq()  # after the sign-ins
    assert set(rows(custodian.get("/console/gateways/"))) == {"hospital-a"}
    assert set(rows(auditor.get("/console/gateways/"))) == {"hospital-a", "hospital-b"}
    events = events_after(before)
    assert [(e.action, e.actor_id, e.detail) for e in events] == [
        (AuditAction.AUDIT_READ, world.custodian.pk, {"view": "gateways", "rows": 1}),
        (AuditAction.AUDIT_READ, world.auditor.pk, {"view": "gateways", "rows": 2}),
    ]


def test_no_console_rights_is_a_404_recorded_as_denied(world: World, client_for: ClientFor) -> None:
    annotator = client_for(world.annotator)
    before = last_seq()  # after the sign-in
    assert annotator.get("/console/gateways/").status_code == 404
    [event] = events_after(before)
    assert event.action == AuditAction.ACCESS_DENIED
    assert event.detail["attempted"] == "console.gateways"
