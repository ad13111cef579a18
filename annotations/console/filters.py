"""Filtering, full-text search and keyset paging of the audit log for the console (issue 9).

Paging is keyset on ``seq`` (``seq < before`` newest first, or ``seq > after``): never OFFSET and
never COUNT(*), so page 20 000 costs what page 1 costs at a million events. Every filter maps onto
an index of migration 0003 or earlier; search is a PostgreSQL GIN index over one ``to_tsvector``
expression (``SEARCH_DOCUMENT_SQL`` below, repeated verbatim by the migration) and a LIKE fallback
elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent

# Must stay identical to migrations/0003_audit_console.py or PostgreSQL will not use the GIN index
# (tests/annotations/console/test_filters.py checks that they agree).
SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple'::regconfig, translate("
    "actor_name || ' ' || action || ' ' || object_type || ' ' || object_id || ' ' || "
    "source_address || ' ' || detail::text, '._', '  '))"
)
_SEARCH_SQL = f"{SEARCH_DOCUMENT_SQL} @@ to_tsquery('simple'::regconfig, %s)"

# Search terms are runs of letters and digits: the tsquery is built from them alone, so no user
# text ever reaches tsquery syntax, and "." / "_" split terms as they split the indexed document.
_TERM = re.compile(r"[^\W_]+")
MAX_TERMS = 8
MAX_TERM_LENGTH = 64
PREFIX_MIN = 2

GRANT_ACTIONS: tuple[str, ...] = (
    AuditAction.TASK_ASSIGN,
    AuditAction.PROJECT_LEAD_ADD,
    AuditAction.PROJECT_LEAD_REMOVE,
    AuditAction.PROJECT_MEMBER_ADD,
    AuditAction.PROJECT_MEMBER_REMOVE,
    AuditAction.SITE_PERMISSION_GRANT,
    AuditAction.SITE_PERMISSION_REVOKE,
    AuditAction.USER_ROLES_CHANGE,
)
# As docs/audit.md lists them: failed sign-ins, denied requests and sockets, gateways that failed
# to authenticate.
ALERT_ACTIONS: tuple[str, ...] = (
    AuditAction.USER_LOGIN_FAILED,
    AuditAction.ACCESS_DENIED,
    AuditAction.SESSION_DENIED,
    AuditAction.GATEWAY_AUTH_FAILED,
)


@dataclass(frozen=True, slots=True)
class AuditView:
    """A named, preset slice of the log: the whole log, grants and role changes, security alerts."""

    name: str
    title: str
    actions: tuple[str, ...] = ()  # empty: every action (unless failed_actions narrows the view)
    # Actions shown only when they failed (outcome > 0): a site digest is routine, a refused one
    # or a chain head that went backwards is a security alert.
    failed_actions: tuple[str, ...] = ()

    @property
    def all_actions(self) -> tuple[str, ...]:
        return (*self.actions, *self.failed_actions)


AUDIT_VIEWS: dict[str, AuditView] = {
    "audit": AuditView("audit", "Audit log"),
    "grants": AuditView("grants", "Grants and role changes", GRANT_ACTIONS),
    "alerts": AuditView(
        "alerts", "Security alerts", ALERT_ACTIONS, (AuditAction.SITE_AUDIT_DIGEST,)
    ),
}


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """A validated filter (see ``forms.AuditFilterForm``); empty fields filter nothing."""

    actor: str = ""
    actions: tuple[str, ...] = ()
    outcome: str = ""  # "", "success", "failure" or one of "0", "4", "8", "12"
    project_id: int | None = None
    site_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    since: dt.datetime | None = None  # inclusive, UTC
    until: dt.datetime | None = None  # exclusive, UTC
    terms: tuple[str, ...] = ()
    view: AuditView = field(default_factory=lambda: AUDIT_VIEWS["audit"])

    def as_detail(self) -> dict[str, Any]:
        """The filter as recorded in audit.read / audit.export events: only what was set, no PHI.

        Structured fields are ids, usernames, action codes and times by construction; free text is
        recorded as the search terms actually used (the search matches nothing else).
        """
        detail: dict[str, Any] = {"view": self.view.name}
        for key, value in (
            ("actor", self.actor),
            ("action", list(self.actions)),
            ("outcome", self.outcome),
            ("project", self.project_id),
            ("site", self.site_id),
            ("object_type", self.object_type),
            ("object_id", self.object_id),
            ("since", _iso(self.since)),
            ("until", _iso(self.until)),
            ("q", list(self.terms)),
        ):
            if value not in ("", None, []):
                detail[key] = value
        return detail


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def search_terms(text: str) -> tuple[str, ...]:
    terms = [t.lower()[:MAX_TERM_LENGTH] for t in _TERM.findall(text)]
    return tuple(dict.fromkeys(terms))[:MAX_TERMS]


def _search(queryset: QuerySet[AuditEvent], terms: Sequence[str]) -> QuerySet[AuditEvent]:
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        # All terms required; terms of 2+ characters match as prefixes ("assi" finds task.assign),
        # single characters exactly: a one-character prefix ("3:*") expands to a large part of the
        # index (at 10^6 events "10 3 255" took 116-377 ms that way, 50 ms so).
        tsquery = " & ".join(f"{t}:*" if len(t) >= PREFIX_MIN else t for t in terms)
        # The SQL is a constant; the only input is a bound parameter made of [^\W_] runs and ":*&".
        search = RawSQL(_SEARCH_SQL, (tsquery,), output_field=BooleanField())  # noqa: S611
        return queryset.filter(search)
    # The embedded default (SQLite): case-insensitive substring match of every term in any field.
    queryset = queryset.annotate(_detail_text=Cast("detail", TextField()))
    for term in terms:
        queryset = queryset.filter(
            Q(actor_name__icontains=term)
            | Q(action__icontains=term)
            | Q(object_type__icontains=term)
            | Q(object_id__icontains=term)
            | Q(source_address__icontains=term)
            | Q(_detail_text__icontains=term)
        )
    return queryset


def audit_event_filter(
    queryset: QuerySet[AuditEvent], audit_filter: AuditFilter
) -> QuerySet[AuditEvent]:
    """Narrow an already visibility-restricted queryset (selectors) by ``audit_filter``."""
    f = audit_filter
    if f.view.failed_actions:
        queryset = queryset.filter(
            Q(action__in=f.view.actions) | Q(action__in=f.view.failed_actions, outcome__gt=0)
        )
    elif f.view.actions:
        queryset = queryset.filter(action__in=f.view.actions)
    if f.actions:
        queryset = queryset.filter(action__in=f.actions)
    if f.actor:
        queryset = queryset.filter(actor_name=f.actor)
    if f.outcome == "success":
        queryset = queryset.filter(outcome=0)
    elif f.outcome == "failure":
        queryset = queryset.filter(outcome__gt=0)
    elif f.outcome:
        queryset = queryset.filter(outcome=int(f.outcome))
    if f.project_id is not None:
        queryset = queryset.filter(project_id=f.project_id)
    if f.site_id is not None:
        queryset = queryset.filter(site_id=f.site_id)
    if f.object_type:
        queryset = queryset.filter(object_type=f.object_type)
    if f.object_id:
        queryset = queryset.filter(object_id=f.object_id)
    if f.since is not None:
        queryset = queryset.filter(occurred_at__gte=f.since)
    if f.until is not None:
        queryset = queryset.filter(occurred_at__lt=f.until)
    return _search(queryset, f.terms)


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    older: int | None  # pass as ``before`` for the next (older) page, None at the oldest
    newer: int | None  # pass as ``after`` for the previous (newer) page, None at the newest


def audit_page(
    queryset: QuerySet[AuditEvent],
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page, newest first, by keyset on seq: ``before`` pages back, ``after`` pages forward.

    One query of ``limit + 1`` rows (the extra row says whether there is a further page); a second
    one-row probe tells whether a page exists on the other side when the caller came from there.
    """
    older: int | None
    newer: int | None
    if after is not None:
        rows = list(queryset.filter(seq__gt=after).order_by("seq")[: limit + 1])
        more_newer = len(rows) > limit
        events = rows[:limit][::-1]
        newer = events[0].seq if more_newer and events else None
        older = events[-1].seq if events else after + 1
        return AuditPage(events, older, newer)
    page_qs = queryset if before is None else queryset.filter(seq__lt=before)
    rows = list(page_qs.order_by("-seq")[: limit + 1])
    events = rows[:limit]
    older = events[-1].seq if len(rows) > limit else None
    newer = None
    if before is not None:
        newer = events[0].seq if events else before - 1
        if not queryset.filter(seq__gt=newer).exists():
            newer = None
    return AuditPage(events, older, newer)
