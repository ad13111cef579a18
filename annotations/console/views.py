"""The staff console pages (issue 9): audit log browser, exports, chain status, live sessions.

Each page view of the log records one ``audit.read`` event and each export one ``audit.export``
event, detail = the filter used; a refused filter is one such event with a failure outcome, and a
user without console rights gets a 404 recorded as access.denied (docs/audit.md). Pages are
server-rendered; data reaches the browser through json_script and data-* attributes only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from annotations.api.errors import error_body
from annotations.audit_actions import AuditAction
from annotations.console.access import ConsoleAccess, console_access
from annotations.console.chain import (
    ChainStatus,
    chain_status_for_page,
    chain_status_verify_full,
)
from annotations.console.exports import export_stream
from annotations.console.filters import AUDIT_VIEWS, AuditView, audit_event_filter, audit_page
from annotations.console.forms import (
    ACTION_CHOICES,
    OUTCOME_CHOICES,
    ConsoleFilterError,
    parse_audit_query,
)
from annotations.console.gateways import gateway_row, silent_after
from annotations.console.site_access import (
    FLAG_LABELS,
    TOLERANCE_FRAMES,
    TOLERANCE_RATIO,
    site_access_for,
)
from annotations.models import AuditEvent, AuditOutcome
from annotations.services.access import deny
from annotations.services.audit import audit_record

View = Callable[..., HttpResponseBase]


def console_view(attempted: str) -> Callable[[Callable[..., HttpResponseBase]], View]:
    """Sign-in required (redirect to the login page). A signed-in user without console rights
    gets the same 404 as for any unknown URL, and the refusal is audited as access.denied
    (``attempted`` names what was tried: audit.read, audit.export, …)."""

    def decorate(view: Callable[..., HttpResponseBase]) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = console_access(request.user)
            if access is None:
                deny(actor=request.user, action=attempted, obj=None, reason="No console rights.")
                raise Http404("No such page.")
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorate


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "outcome": event.outcome,
        "outcome_label": AuditOutcome(event.outcome).label,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "project_id": event.project_id,
        "site_id": event.site_id,
        "source_address": event.source_address,
        "detail": event.detail,
    }


_PAGES = (
    ("audit", "Audit log"),
    ("grants", "Grants and role changes"),
    ("alerts", "Security alerts"),
    ("sessions", "Active sessions"),
    ("gateways", "Gateways"),
    ("site-access", "Site access"),
    ("sites", "Sites"),
    ("projects", "Projects"),
    ("users", "Users and roles"),
)


def nav(current: str, access: ConsoleAccess) -> list[dict[str, Any]]:
    """The console's pages this user may open (users and roles: admins and auditors only)."""
    return [
        {
            "name": name,
            "title": title,
            "url": reverse(f"console:{name}"),
            "current": name == current,
        }
        for name, title in _PAGES
        if name != "users" or access.everything
    ]


def _chain_json(chain: ChainStatus | None) -> dict[str, Any] | None:
    if chain is None:
        return None
    data = chain.as_json()
    stamp = "%Y-%m-%d %H:%M:%S UTC"  # settings.TIME_ZONE is UTC, as is every time on the page
    data["checked_at_text"] = chain.checked_at.strftime(stamp)
    data["full_walk_at_text"] = chain.full_walk_at.strftime(stamp) if chain.full_walk_at else ""
    return data


def _record_refused(
    request: HttpRequest, action: str, view: AuditView, exc: ConsoleFilterError
) -> None:
    """A refused read or export is a failure event: which fields were wrong, never their values."""
    audit_record(
        actor=request.user,
        action=action,
        outcome=AuditOutcome.MINOR_FAILURE,
        detail={"view": view.name, "error": exc.code, "fields": sorted(exc.fields)},
    )


def _query_without(request: HttpRequest, *drop: str) -> str:
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    return params.urlencode()


@require_GET
@console_view(AuditAction.AUDIT_READ)
def audit_log(request: HttpRequest, access: ConsoleAccess, *, view: str = "audit") -> HttpResponse:
    audit_view: AuditView = AUDIT_VIEWS[view]
    context: dict[str, Any] = {
        "access": access,
        "view": audit_view,
        "nav": nav(view, access),
        "action_choices": [
            (value, label)
            for value, label in ACTION_CHOICES
            if not audit_view.all_actions or not value or value in audit_view.all_actions
        ],
        "outcome_choices": OUTCOME_CHOICES,
        "params": request.GET,
        "selected_actions": request.GET.getlist("action"),
    }
    try:
        query = parse_audit_query(request.GET, audit_view)
    except ConsoleFilterError as exc:
        _record_refused(request, AuditAction.AUDIT_READ, audit_view, exc)
        context["error"] = error_body(exc.code, exc.message, exc.fields or None)["error"]
        return render(request, "console/audit_log.html", context, status=400)
    queryset = audit_event_filter(access.audit_events(), query.filter)
    page = audit_page(queryset, before=query.before, after=query.after, limit=query.limit)
    detail = query.filter.as_detail()
    if query.before is not None:
        detail["before"] = query.before
    if query.after is not None:
        detail["after"] = query.after
    detail["rows"] = len(page.events)
    audit_record(actor=request.user, action=AuditAction.AUDIT_READ, detail=detail)
    base = _query_without(request, "before", "after")
    export_query = _query_without(request, "before", "after", "limit")
    chain, head = chain_status_for_page() if access.can_verify else (None, 0)
    context.update(
        {
            "events": [_event_json(e) for e in page.events],
            "older_url": f"?{base}&before={page.older}" if page.older else "",
            "newer_url": f"?{base}&after={page.newer}" if page.newer else "",
            "newest_url": f"?{base}" if query.before or query.after else "",
            "export_csv_url": f"{reverse(f'console:{view}-export-csv')}?{export_query}",
            "export_dicom_url": f"{reverse(f'console:{view}-export-dicom')}?{export_query}",
            "chain": _chain_json(chain),
            "chain_head": head,
        }
    )
    return render(request, "console/audit_log.html", context)


@require_GET
@console_view(AuditAction.AUDIT_EXPORT)
def audit_export(
    request: HttpRequest, access: ConsoleAccess, *, kind: str, view: str = "audit"
) -> HttpResponseBase:
    try:
        query = parse_audit_query(request.GET, AUDIT_VIEWS[view], paging=False)
    except ConsoleFilterError as exc:
        _record_refused(request, AuditAction.AUDIT_EXPORT, AUDIT_VIEWS[view], exc)
        return JsonResponse(error_body(exc.code, exc.message, exc.fields or None), status=400)
    queryset = audit_event_filter(access.audit_events(), query.filter)
    event = audit_record(
        actor=request.user,
        action=AuditAction.AUDIT_EXPORT,
        detail={**query.filter.as_detail(), "format": kind},
    )
    # The snapshot: everything up to (not including) this export's own event.
    stream = export_stream(
        kind, queryset, up_to=event.seq - 1, asynchronous=isinstance(request, ASGIRequest)
    )
    if kind == "csv":
        content_type, filename = "text/csv; charset=utf-8", f"audit-{event.seq}.csv"
    else:
        content_type, filename = "application/xml; charset=utf-8", f"audit-{event.seq}.xml"
    response = StreamingHttpResponse(stream, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view("audit.verify")
def audit_verify(request: HttpRequest, access: ConsoleAccess) -> HttpResponseBase:
    """Re-verify the whole chain now (admins and auditors); back to the page it came from."""
    if not access.can_verify:
        deny(
            actor=request.user, action="audit.verify", obj=None, reason="Admins and auditors only."
        )
        raise PermissionDenied("Admins and auditors only.")
    status = chain_status_verify_full()
    # Walking the chain reads every event: an audit.read of its own, with the result (so that
    # each verification and what it found is itself on the record).
    audit_record(
        actor=request.user,
        action=AuditAction.AUDIT_READ,
        detail={
            "view": "chain",
            "verified_up_to": status.verified_up_to,
            "ok": status.ok,
            **({"first_bad_seq": status.first_bad_seq} if status.first_bad_seq else {}),
        },
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("console:audit")
    return HttpResponseRedirect(target)


@require_GET
@console_view("console.sessions")
def sessions(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    rows = [
        {
            "id": str(s.id),
            "user": s.user.get_username(),
            "task_id": s.task_id,
            "project": s.task.project.name,
            "site": s.task.site.name,
            "created_at": s.created_at.isoformat(),
            "expires_at": s.expires_at.isoformat(),
            "can_revoke": access.can_revoke(s),
        }
        for s in access.live_sessions()[:500]
    ]
    context = {
        "access": access,
        "nav": nav("sessions", access),
        "sessions": rows,
        "revoke_url_template": "/api/sessions/{id}/revoke/",
    }
    return render(request, "console/sessions.html", context)


@require_GET
@console_view("console.gateways")
def gateways(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Each visible site's gateway: online, silent, offline or never connected, and its last
    health report. A read of the console like the log's: one audit.read (view "gateways")."""
    now = timezone.now()
    rows = [gateway_row(site, now=now) for site in access.sites().order_by("name", "id")]
    audit_record(
        actor=request.user,
        action=AuditAction.AUDIT_READ,
        detail={"view": "gateways", "rows": len(rows)},
    )
    context = {
        "access": access,
        "nav": nav("gateways", access),
        "rows": rows,
        "silent_after_seconds": int(silent_after().total_seconds()),
    }
    return render(request, "console/gateways.html", context)


@require_GET
@console_view("console.site_access")
def site_access(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Per visible site: its latest audit digest against what central granted and relayed, with
    the flags (annotations/console/site_access.py). One audit.read (view "site_access")."""
    sites = site_access_for(list(access.sites().order_by("name", "id")))
    audit_record(
        actor=request.user,
        action=AuditAction.AUDIT_READ,
        detail={
            "view": "site_access",
            "sites": len(sites),
            "flagged": sum(entry.flagged for entry in sites),
        },
    )
    context = {
        "access": access,
        "nav": nav("site-access", access),
        "sites": sites,
        "flag_labels": FLAG_LABELS,
        "tolerance_frames": TOLERANCE_FRAMES,
        "tolerance_percent": round(TOLERANCE_RATIO * 100),
    }
    return render(request, "console/site_access.html", context)


@require_GET
@console_view(AuditAction.AUDIT_READ)
def index(request: HttpRequest, access: ConsoleAccess) -> HttpResponseBase:
    return HttpResponseRedirect(reverse("console:audit"))
