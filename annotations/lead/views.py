"""The lead's pages: server-rendered shells; the data comes through json_script and the REST API.

A project the user cannot see is a 404; one they see but do not lead is a 403 (as in the API).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotations.errors import NotFoundError, PermissionDeniedError
from annotations.lead.selectors import may_read_lead_data, project_get_for_lead
from annotations.models import SELECTION_REASONS, TaskStatus, User
from annotations.selectors import is_admin, project_list_for_user


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required
    return user


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    projects = [
        {"id": p.pk, "name": p.name}
        for p in project_list_for_user(user)
        if may_read_lead_data(user, p)
    ]
    return render(request, "lead/index.html", {"projects": projects})


@login_required
@require_GET
def project_dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    try:
        project = project_get_for_lead(user, project_id)
    except NotFoundError:
        raise Http404("No such project.") from None
    except PermissionDeniedError:
        raise PermissionDenied from None
    may_manage = is_admin(user) or user.has_perm("annotations.manage_project", project)
    data = {
        "project": {"id": project.pk, "name": project.name},
        "me": {"id": user.pk, "may_manage": bool(may_manage)},
        "members": [
            {"id": m.pk, "username": m.get_username()}
            for m in project.members.filter(is_active=True).order_by("username")
        ],
        "sites": [{"id": s.pk, "name": s.name} for s in project.sites.all()],
        "schemas": [{"id": s.pk, "version": s.version} for s in project.label_schemas.all()],
        "statuses": TaskStatus.values,
        "reasons": {k: r.code_meaning for k, r in SELECTION_REASONS.items()},
        "reason_decisions": {k: r.decision.value for k, r in SELECTION_REASONS.items()},
    }
    return render(request, "lead/project.html", {"project": project, "lead_data": data})
