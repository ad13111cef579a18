"""Chain status for the console: ``audit_verify_chain`` results, remembered in the cache.

A full walk costs tens of seconds at 10^6 events, so page views never start one. The last result
(checkpoint = last verified seq and its MAC) lives in Django's cache; a page view extends it
incrementally when only a few events were appended since (``AUTO_EXTEND_LIMIT``), otherwise shows
it as it is, with its age and how many newer events are not yet verified. Admins and auditors
re-verify from the first event with a button (an edit anywhere is only caught by a full walk).

The default cache is local memory, i.e. per process: with several workers each remembers its own
result, which costs repeated walks but never shows a wrong status (a status names its own time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.core.cache import cache
from django.utils import timezone

from annotations.models import AuditChainHead, AuditEvent
from annotations.services.audit import ChainReport, audit_verify_chain

CACHE_KEY = "rhino:console:audit-chain-status:v1"
CACHE_SECONDS = 7 * 24 * 3600
AUTO_EXTEND_LIMIT = 1000  # events a page view may verify on its own (~50 µs each)


@dataclass(frozen=True, slots=True)
class ChainStatus:
    verified_up_to: int
    mac: str  # MAC of event ``verified_up_to``: where an incremental walk resumes
    checked_at: dt.datetime
    ok: bool
    first_bad_seq: int | None
    problem: str
    full_walk_at: dt.datetime | None  # when the last walk from event #1 ran

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("mac")
        data["checked_at"] = self.checked_at.isoformat()
        data["full_walk_at"] = self.full_walk_at.isoformat() if self.full_walk_at else None
        return data


def _head_seq() -> int:
    return AuditChainHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0


def chain_status_cached() -> ChainStatus | None:
    status = cache.get(CACHE_KEY)
    return status if isinstance(status, ChainStatus) else None


def _store(report: ChainReport, *, full_walk_at: dt.datetime | None) -> ChainStatus:
    mac = ""
    if report.verified_up_to:
        mac = (
            AuditEvent.objects.filter(seq=report.verified_up_to)
            .values_list("mac", flat=True)
            .first()
            or ""
        )
    status = ChainStatus(
        verified_up_to=report.verified_up_to,
        mac=mac,
        checked_at=timezone.now(),
        ok=report.ok,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        full_walk_at=full_walk_at,
    )
    cache.set(CACHE_KEY, status, CACHE_SECONDS)
    return status


def chain_status_verify_full() -> ChainStatus:
    """Walk the whole chain now (the re-verify button, admins and auditors)."""
    return _store(audit_verify_chain(), full_walk_at=timezone.now())


def chain_status_for_page() -> tuple[ChainStatus | None, int]:
    """The status to show, extended cheaply when possible; and the current head seq."""
    head = _head_seq()
    status = chain_status_cached()
    if status is None:
        if head <= AUTO_EXTEND_LIMIT:
            status = chain_status_verify_full()
        return status, head
    if status.ok and 0 < head - status.verified_up_to <= AUTO_EXTEND_LIMIT:
        report = audit_verify_chain(after=(status.verified_up_to, status.mac))
        status = _store(report, full_walk_at=status.full_walk_at)
    return status, head
