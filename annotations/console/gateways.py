"""Gateway health for the console (issue 9): one row per site the viewer may see.

Everything comes from what central already stores: ``Site.gateway_link`` (non-empty while a
control link is up), ``Site.last_seen_at`` (the last heartbeat or connect) and
``Site.gateway_health`` (the last heartbeat's PHI-free report, ``site_gateway/service.py
Gateway.status``). The report is the gateway's word: every value is type-checked here before it
is shown, and anything malformed shows as unknown.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from annotations.consumers.gateway import HEARTBEAT_SECONDS
from annotations.models import Site

DEFAULT_SILENT_PERIODS = 3


class GatewayState(enum.StrEnum):
    ONLINE = "online"
    SILENT = "silent"  # central holds a link, but no heartbeat for longer than allowed
    OFFLINE = "offline"
    NEVER = "never_connected"


STATE_LABELS = {
    GatewayState.ONLINE: "Online",
    GatewayState.SILENT: "Silent",
    GatewayState.OFFLINE: "Offline",
    GatewayState.NEVER: "Never connected",
}


def silent_after() -> dt.timedelta:
    """How long a site may be silent before it is flagged: ``RHINO_GATEWAY_SILENT_PERIODS``
    heartbeat periods (default 3, as central's own link watchdog)."""
    periods = getattr(settings, "RHINO_GATEWAY_SILENT_PERIODS", DEFAULT_SILENT_PERIODS)
    return dt.timedelta(seconds=float(periods) * HEARTBEAT_SECONDS)


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class GatewayRow:
    site_id: int
    name: str
    slug: str
    enrolled: bool
    state: GatewayState
    last_seen_at: dt.datetime | None
    silent_seconds: int | None  # since the last heartbeat
    version: str
    pacs_ok: bool | None
    pacs_detail: str
    pacs_latency_ms: float | None
    outbox_pending: int | None
    outbox_dead: int | None
    outbox_oldest_seconds: float | None
    cache_disk_bytes: int | None
    cache_disk_cap: int | None
    cache_memory_bytes: int | None
    cache_memory_cap: int | None
    sessions: int | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def cache_disk_percent(self) -> int | None:
        if self.cache_disk_bytes is None or not self.cache_disk_cap:
            return None
        return round(100 * self.cache_disk_bytes / self.cache_disk_cap)

    def as_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "name": self.name,
            "slug": self.slug,
            "state": self.state.value,
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
            "version": self.version,
            "pacs_ok": self.pacs_ok,
            "outbox_pending": self.outbox_pending,
            "outbox_dead": self.outbox_dead,
        }


def gateway_state(site: Site, now: dt.datetime, limit: dt.timedelta) -> GatewayState:
    if site.last_seen_at is None:
        return GatewayState.NEVER
    if not site.gateway_link:
        return GatewayState.OFFLINE
    if now - site.last_seen_at > limit:
        return GatewayState.SILENT
    return GatewayState.ONLINE


def gateway_row(site: Site, *, now: dt.datetime | None = None) -> GatewayRow:
    now = now or timezone.now()
    health = _mapping(site.gateway_health)
    pacs, outbox, cache = (_mapping(health.get(k)) for k in ("pacs", "outbox", "cache"))
    pacs_ok = pacs.get("ok")
    detail = pacs.get("detail")
    return GatewayRow(
        site_id=site.pk,
        name=site.name,
        slug=site.slug,
        enrolled=site.is_enrolled,
        state=gateway_state(site, now, silent_after()),
        last_seen_at=site.last_seen_at,
        silent_seconds=(
            max(0, int((now - site.last_seen_at).total_seconds())) if site.last_seen_at else None
        ),
        version=site.gateway_version,
        pacs_ok=pacs_ok if isinstance(pacs_ok, bool) else None,
        pacs_detail=detail[:80] if isinstance(detail, str) else "",
        pacs_latency_ms=_number(pacs.get("latency_ms")),
        outbox_pending=_int(outbox.get("pending")),
        outbox_dead=_int(outbox.get("dead")),
        outbox_oldest_seconds=_number(outbox.get("oldest_pending_seconds")),
        cache_disk_bytes=_int(cache.get("disk_bytes")),
        cache_disk_cap=_int(cache.get("disk_cap")),
        cache_memory_bytes=_int(cache.get("memory_bytes")),
        cache_memory_cap=_int(cache.get("memory_cap")),
        sessions=_int(health.get("sessions")),
    )
