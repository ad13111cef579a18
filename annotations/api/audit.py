"""``GET /api/audit/events/``: the audit log for scripts and the SDK (issue 9).

The same visibility as the console (``console_access``: auditors and admins everything, custodians
their sites' events, leads their projects' events), the same filters and validation
(``parse_audit_query``: actor, action, outcome, project, site, object, since, until, q) and the same
keyset paging by seq (``before`` / ``after`` / ``limit``, newest first). Each answer is one
``audit.read`` event (detail: the filter used, ``"api": true``, the cursor and rows returned); a
refused filter is one with outcome 4; a user without console rights gets the 404 of an unknown
resource and one ``access.denied`` event.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from annotations.api.base import Api, AuthedRequest
from annotations.audit_actions import AuditAction
from annotations.console.access import console_access
from annotations.console.filters import AUDIT_VIEWS, audit_event_filter, audit_page
from annotations.console.forms import ConsoleFilterError, parse_audit_query
from annotations.errors import NotFoundError
from annotations.models import AuditEvent, AuditOutcome
from annotations.services.access import deny
from annotations.services.audit import audit_record


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "outcome": event.outcome,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "project_id": event.project_id,
        "site_id": event.site_id,
        "source_address": event.source_address,
        "detail": event.detail,
    }


class AuditEventListApi(Api):
    @extend_schema(responses=None)
    def get(self, request: AuthedRequest) -> Response:
        access = console_access(request.user)
        if access is None:
            deny(
                actor=request.user,
                action=AuditAction.AUDIT_READ,
                obj=None,
                reason="No audit rights.",
            )
            raise NotFoundError("No such resource.")
        view = AUDIT_VIEWS["audit"]
        try:
            query = parse_audit_query(request.query_params, view)
        except ConsoleFilterError as exc:
            audit_record(
                actor=request.user, action=AuditAction.AUDIT_READ, outcome=AuditOutcome.MINOR_FAILURE,
                detail={"view": view.name, "api": True, "error": exc.code, "fields": sorted(exc.fields or {})},
            )  # fmt: skip
            raise
        queryset = audit_event_filter(access.audit_events(), query.filter)
        page = audit_page(queryset, before=query.before, after=query.after, limit=query.limit)
        detail = {**query.filter.as_detail(), "api": True}
        if query.before is not None:
            detail["before"] = query.before
        if query.after is not None:
            detail["after"] = query.after
        detail["rows"] = len(page.events)
        audit_record(actor=request.user, action=AuditAction.AUDIT_READ, detail=detail)
        return Response(
            {
                "events": [event_json(e) for e in page.events],
                "older": page.older,
                "newer": page.newer,
            }
        )
