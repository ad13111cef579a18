"""Site access (issue 9): what each site says it served, against what central granted and relayed.

A gateway sends ``audit.digest`` over its control link (site_gateway/site_digest.py): its audit
chain head, a time window, and frames served per session id and user pseudonym. Central checks the
message (bounded, typed: ``digest_validate``), keeps the latest per site, notes a chain head that
went backwards, and records one audit event per changed digest (``site_digest_record``). The console page
compares, per session, the site's count with the frames central relayed (``SessionRelayCount``,
written when the browser's socket closes) and flags:

- ``not_granted``: the site served a session central has no record of for that site, or for
  another user than the one central granted it to;
- ``count_mismatch``: a closed session whose counts differ by more than the tolerance;
- the site's ``chain_alert``: a lower seq than before, or a different hash at the same seq.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import (
    AuditOutcome,
    SecureAccessSession,
    SessionRelayCount,
    Site,
    SiteAuditDigest,
    User,
)
from annotations.services.audit import audit_record

# The gateway sends at most 500 sessions (site_gateway/site_digest.py MAX_DIGEST_SESSIONS).
MAX_SESSIONS: Final = 500
MAX_COUNT: Final = 2**40
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASH: Final = re.compile(r"[0-9a-f]{64}")
# Frames in flight when a socket closes are served at the site but never reach the browser, and
# the browser's window holds 8: a difference up to this many frames, or 5 %, is not a mismatch.
TOLERANCE_FRAMES: Final = 16
TOLERANCE_RATIO: Final = 0.05


class DigestError(ValueError):
    """The digest is malformed: nothing of it is stored; the message says what is wrong."""

    code = "bad_message"


@dataclass(frozen=True, slots=True)
class Digest:
    head_seq: int
    head_hash: str
    window_from: dt.datetime
    window_to: dt.datetime
    sessions: list[dict[str, Any]]
    users: list[dict[str, Any]]
    truncated: bool


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise DigestError(f"{where} must be an integer in 0…{MAX_COUNT}")
    return value


def _time(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DigestError(f"{where} must be a Unix time in seconds")
    if not 0 <= value < 2**33:
        raise DigestError(f"{where} is out of range")
    return float(value)


def _id(value: object, where: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise DigestError(f"{where} must match [A-Za-z0-9_-]{{1,64}}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DigestError(f"{where} must be a list")
    if len(value) > MAX_SESSIONS:
        raise DigestError(f"{where} has {len(value)} items; at most {MAX_SESSIONS}")
    return value


def _entry(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DigestError(f"{where} must be an object")
    return value


def digest_validate(message: Mapping[str, Any]) -> Digest:
    """The digest's content, checked; ``DigestError`` naming the first bad field."""
    head = _entry(message.get("head"), "head")
    seq = _count(head.get("seq"), "head.seq")
    digest_hash = head.get("hash")
    if not isinstance(digest_hash, str) or not _HASH.fullmatch(digest_hash):
        raise DigestError("head.hash must be 64 lowercase hex digits")
    window = _entry(message.get("window"), "window")
    start, end = _time(window.get("from"), "window.from"), _time(window.get("to"), "window.to")
    if start > end:
        raise DigestError("window.from is after window.to")
    sessions = []
    seen: set[str] = set()
    for index, raw in enumerate(_list(message.get("sessions"), "sessions")):
        item = _entry(raw, f"sessions[{index}]")
        session = _id(item.get("session"), f"sessions[{index}].session")
        if session in seen:
            raise DigestError(f"sessions[{index}].session appears twice")
        seen.add(session)
        sessions.append(
            {
                "session": session,
                "user": _id(item.get("user"), f"sessions[{index}].user"),
                "frames": _count(item.get("frames"), f"sessions[{index}].frames"),
                "first": _time(item.get("first"), f"sessions[{index}].first"),
                "last": _time(item.get("last"), f"sessions[{index}].last"),
            }
        )
    users = []
    for index, raw in enumerate(_list(message.get("users"), "users")):
        item = _entry(raw, f"users[{index}]")
        users.append(
            {
                "user": _id(item.get("user"), f"users[{index}].user"),
                "frames": _count(item.get("frames"), f"users[{index}].frames"),
            }
        )
    truncated = message.get("truncated", False)
    if not isinstance(truncated, bool):
        raise DigestError("truncated must be true or false")
    return Digest(
        seq,
        digest_hash,
        dt.datetime.fromtimestamp(start, tz=dt.UTC),
        dt.datetime.fromtimestamp(end, tz=dt.UTC),
        sessions,
        users,
        truncated,
    )


def _went_back(previous: SiteAuditDigest | None, digest: Digest) -> str:
    if previous is None:
        return ""
    if digest.head_seq < previous.head_seq:
        return f"chain head went back from #{previous.head_seq} to #{digest.head_seq}"
    if digest.head_seq == previous.head_seq and digest.head_hash != previous.head_hash:
        return f"a different hash at the same head #{digest.head_seq}"
    return ""


def site_digest_record(*, site_id: int, message: Mapping[str, Any]) -> SiteAuditDigest | None:
    """Store a site's digest (replacing the previous) and audit it; None if it was malformed
    (then nothing is stored and a failure event names what was wrong)."""
    site = Site.objects.get(pk=site_id)
    try:
        digest = digest_validate(message)
    except DigestError as exc:
        audit_record(
            actor=None, action=AuditAction.SITE_AUDIT_DIGEST, outcome=AuditOutcome.MINOR_FAILURE,
            obj=site, site_id=site.pk, detail={"refused": str(exc)[:200]},
        )  # fmt: skip
        return None
    now = timezone.now()
    with transaction.atomic():
        previous = SiteAuditDigest.objects.select_for_update().filter(site=site).first()
        alert = _went_back(previous, digest)
        stored, _ = SiteAuditDigest.objects.update_or_create(
            site=site,
            defaults={
                "received_at": now,
                "head_seq": digest.head_seq,
                "head_hash": digest.head_hash,
                "window_from": digest.window_from,
                "window_to": digest.window_to,
                "sessions": digest.sessions,
                "users": digest.users,
                "truncated": digest.truncated,
                **({"chain_alert": alert, "chain_alert_at": now} if alert else {}),
            },
        )
        unchanged = (
            previous is not None
            and (previous.head_seq, previous.head_hash) == (digest.head_seq, digest.head_hash)
            and previous.sessions == digest.sessions
        )
        if unchanged:
            # An idle site repeats itself every period: one event per change, not per minute
            # (25 sites would otherwise add ~36 000 events a day). received_at still moves.
            return stored
        audit_record(
            actor=None,
            action=AuditAction.SITE_AUDIT_DIGEST,
            outcome=AuditOutcome.MAJOR_FAILURE if alert else AuditOutcome.SUCCESS,
            obj=site,
            site_id=site.pk,
            detail={
                "head": digest.head_seq,
                "sessions": len(digest.sessions),
                "frames": sum(s["frames"] for s in digest.sessions),
                **({"alert": alert} if alert else {}),
            },
        )
    return stored


def session_relay_count_add(*, session_id: str, relayed: int, dropped: int) -> None:
    """Add what one browser socket's pair relayed (called when that socket closes)."""
    if relayed <= 0 and dropped <= 0:
        return
    counts, created = SessionRelayCount.objects.get_or_create(
        session_id=session_id,
        defaults={"frames_relayed": max(relayed, 0), "frames_dropped": max(dropped, 0)},
    )
    if not created:
        SessionRelayCount.objects.filter(pk=counts.pk).update(
            frames_relayed=F("frames_relayed") + max(relayed, 0),
            frames_dropped=F("frames_dropped") + max(dropped, 0),
        )


# --- the page ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionAccessRow:
    session: str
    user: str  # the username central knows, or the site's pseudonym when central knows none
    site_frames: int | None  # None: the site did not report this session
    central_frames: int | None  # relayed + dropped; None while the socket is open
    task_id: int | None
    live: bool
    flags: tuple[str, ...]

    @property
    def flag_texts(self) -> list[str]:
        return [FLAG_LABELS[flag] for flag in self.flags]


@dataclass(frozen=True, slots=True)
class UserAccessRow:
    user: str  # the username, or the site's pseudonym when central has no such user
    known: bool
    site_frames: int
    central_frames: int  # relayed + dropped for this user's sessions at the site in the window


@dataclass(frozen=True, slots=True)
class SiteAccess:
    site: Site
    digest: SiteAuditDigest | None
    rows: list[SessionAccessRow]
    users: list[UserAccessRow]

    @property
    def flagged(self) -> int:
        return (
            sum(1 for row in self.rows if row.flags)
            + sum(1 for user in self.users if not user.known)
            + (1 if self.digest is not None and self.digest.chain_alert else 0)
        )


FLAG_LABELS: Final = {
    "not_granted": "Served by the site, never granted by central",
    "other_user": "Served to another user than central granted",
    "count_mismatch": "Counts differ beyond the tolerance",
    "not_reported": "Relayed by central, not reported by the site",
}


def _mismatch(site: int, central: int) -> bool:
    return abs(site - central) > max(TOLERANCE_FRAMES, TOLERANCE_RATIO * max(site, central))


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def site_access_rows(site: Site, digest: SiteAuditDigest | None) -> list[SessionAccessRow]:
    """One row per session the site reported, plus central's sessions of the digest's window
    that the site did not report (flagged only when central relayed frames for them)."""
    reported: list[dict[str, Any]] = list(digest.sessions) if digest is not None else []
    ids = {s["session"]: _uuid(s["session"]) for s in reported}
    known = {
        str(s.pk): s
        for s in SecureAccessSession.objects.filter(
            pk__in=[v for v in ids.values() if v is not None], task__site=site
        ).select_related("user", "relay_count")
    }
    window: QuerySet[SecureAccessSession] = SecureAccessSession.objects.none()
    if digest is not None:
        window = (
            SecureAccessSession.objects.filter(
                task__site=site,
                created_at__gte=digest.window_from,
                created_at__lte=digest.window_to,
            )
            .exclude(pk__in=list(known))
            .select_related("user", "relay_count")
        )
    now = timezone.now()
    rows = []
    for item in reported:
        session = known.get(ids[item["session"]] or "")
        flags: list[str] = []
        central: int | None = None
        live = False
        if session is None:
            flags.append("not_granted")
        else:
            live = session.is_live(now)
            central = _central_frames(session)
            if session.user.pseudonym != item["user"]:
                flags.append("other_user")
            started_inside = digest is not None and session.created_at >= digest.window_from
            if not live and started_inside and _mismatch(item["frames"], central or 0):
                flags.append("count_mismatch")
        rows.append(
            SessionAccessRow(
                session=item["session"],
                user=session.user.get_username() if session is not None else item["user"],
                site_frames=item["frames"],
                central_frames=central,
                task_id=session.task_id if session is not None else None,
                live=live,
                flags=tuple(flags),
            )
        )
    for session in window:
        central = _central_frames(session)
        live = session.is_live(now)
        flags = ["not_reported"] if central and not live and not digest.truncated else []  # type: ignore[union-attr]
        rows.append(
            SessionAccessRow(
                session=str(session.pk),
                user=session.user.get_username(),
                site_frames=None,
                central_frames=central,
                task_id=session.task_id,
                live=live,
                flags=tuple(flags),
            )
        )
    rows.sort(key=lambda row: (not row.flags, row.session))
    return rows


def _central_frames(session: SecureAccessSession) -> int:
    # getattr, not attribute access: the reverse one-to-one raises RelatedObjectDoesNotExist (an
    # AttributeError) when no count was written, and mypy's view of reverse relations differs
    # between a cold and a warm cache.
    counts: SessionRelayCount | None = getattr(session, "relay_count", None)
    if counts is None:
        return 0
    return int(counts.frames_relayed + counts.frames_dropped)


def site_user_rows(site: Site, digest: SiteAuditDigest | None) -> list[UserAccessRow]:
    """Frames per user the site reported, against central's relayed frames of that user's
    sessions at the site that started in the digest's window; a pseudonym central does not know
    is flagged (``known`` False)."""
    if digest is None:
        return []
    reported = {u["user"]: int(u["frames"]) for u in digest.users}
    users = {u.pseudonym: u for u in User.objects.filter(pseudonym__in=list(reported))}
    relayed = dict(
        SessionRelayCount.objects.filter(
            session__task__site=site,
            session__created_at__gte=digest.window_from,
            session__user__pseudonym__in=list(reported),
        )
        .values("session__user__pseudonym")
        .annotate(frames=Sum(F("frames_relayed") + F("frames_dropped")))
        .values_list("session__user__pseudonym", "frames")
    )
    return [
        UserAccessRow(
            user=users[pseudonym].get_username() if pseudonym in users else pseudonym,
            known=pseudonym in users,
            site_frames=frames,
            central_frames=int(relayed.get(pseudonym) or 0),
        )
        for pseudonym, frames in reported.items()
    ]


def site_access_for(sites: Iterable[Site]) -> list[SiteAccess]:
    digests = {d.site_id: d for d in SiteAuditDigest.objects.filter(site__in=[s.pk for s in sites])}
    return [
        SiteAccess(
            site,
            digests.get(site.pk),
            site_access_rows(site, digests.get(site.pk)),
            site_user_rows(site, digests.get(site.pk)),
        )
        for site in sites
    ]
