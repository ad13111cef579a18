"""The console's Projects pages: a project's sites, leads and members (issue 9, beside users and
sites; the Django admin, read-only, no longer edits them).

As on the other management pages every change is the audited service's own event and the
services decide who may do what: admins create projects and choose their sites and leads; a
project's leads (and admins) edit its description and its members. Who sees which project:
admins and auditors all of them, leads the projects they manage, custodians the projects at
their sites (read only).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django import forms
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotations.audit_actions import AuditAction
from annotations.console.access import ConsoleAccess
from annotations.console.manage import (
    actor_of,
    change,
    change_object,
    display_name,
    parsed,
    record_read,
    user_or_404,
)
from annotations.console.views import console_view, nav
from annotations.errors import DomainError
from annotations.models import Project, Role, Site, User
from annotations.selectors import parse_pk
from annotations.services import projects as services


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=50)
    description = forms.CharField(max_length=4000, required=False)


class ProjectUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=4000, required=False)


class MembershipForm(forms.Form):
    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")])
    id = forms.IntegerField(min_value=1, max_value=2**63 - 1)


def visible_projects(access: ConsoleAccess) -> QuerySet[Project]:
    if access.everything:
        return Project.objects.all()
    return Project.objects.filter(
        Q(pk__in=access.project_ids) | Q(sites__in=access.site_ids)
    ).distinct()


def _project_or_404(access: ConsoleAccess, project_id: Any) -> Project:
    try:
        return visible_projects(access).get(pk=parse_pk(project_id))
    except (Project.DoesNotExist, DomainError):
        raise Http404("No such project.") from None


def _people(users: QuerySet[User]) -> list[dict[str, Any]]:
    return [
        {"id": u.pk, "name": display_name(u), "active": u.is_active}
        for u in users.order_by("username")
    ]


def _candidates(role: Role, exclude: QuerySet[User]) -> list[dict[str, Any]]:
    users = User.objects.filter(groups__name=role.value, is_active=True).exclude(pk__in=exclude)
    return _people(users)


@require_GET
@console_view("console.projects")
def projects(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    return _projects_page(request, access)


def _projects_page(
    request: HttpRequest, access: ConsoleAccess, *, status: int = 200, **extra: Any
) -> HttpResponse:
    rows = [
        {
            "id": project.pk,
            "name": project.name,
            "slug": project.slug,
            "url": reverse("console:project", args=[project.pk]),
            "sites": sorted(s.name for s in project.sites.all()),
            "leads": sorted(display_name(u) for u in project.leads.all()),
            "members": project.member_count,
            "tasks": project.task_count,
        }
        for project in visible_projects(access)
        .order_by("name", "id")
        .prefetch_related("sites", "leads")
        .annotate(
            member_count=Count("members", distinct=True), task_count=Count("tasks", distinct=True)
        )
    ]
    if status == 200:
        record_read(request, "projects", rows=len(rows))
    context = {
        "access": access,
        "nav": nav("projects", access),
        "rows": rows,
        "create_form": {},
        **extra,
    }
    return render(request, "console/projects.html", context, status=status)


@require_POST
@console_view(AuditAction.PROJECT_CREATE)
def project_create(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    def apply() -> str:
        data = parsed(ProjectCreateForm, request.POST)
        project = services.project_create(actor=actor_of(request), **data)
        return f"Created {project.name}. Add its sites and leads on its page."

    def failed(error: dict[str, Any], status: int) -> HttpResponse:
        submitted = {k: request.POST.get(k, "") for k in ("name", "slug", "description")}
        return _projects_page(
            request, access, status=status, error=error, create_form=submitted, create_open=True
        )

    return change(request, apply, done_url=reverse("console:projects"), failed=failed)


def _project_context(access: ConsoleAccess, project: Project, **extra: Any) -> dict[str, Any]:
    leads, members = project.leads.all(), project.members.all()
    manages = access.admin or project.pk in access.project_ids
    site_ids = project.sites.values_list("pk", flat=True)
    return {
        "access": access,
        "nav": nav("projects", access),
        "project": {
            "id": project.pk,
            "name": project.name,
            "slug": project.slug,
            "description": project.description,
            "created_at": project.created_at,
        },
        "manages": manages,
        "sites": [
            {"id": s.pk, "name": s.name, "url": reverse("console:site", args=[s.pk])}
            for s in project.sites.order_by("name")
        ],
        "leads": _people(leads),
        "members": _people(members),
        "lead_candidates": _candidates(Role.PROJECT_LEAD, leads) if access.admin else [],
        "member_candidates": _candidates(Role.ANNOTATOR, members) if manages else [],
        "site_candidates": (
            [
                {"id": s.pk, "name": s.name}
                for s in Site.objects.exclude(pk__in=site_ids).order_by("name")
            ]
            if access.admin
            else []
        ),
        "tasks": project.tasks.count(),
        "events_url": f"{reverse('console:audit')}?project={project.pk}",
        **extra,
    }


@require_GET
@console_view("console.projects")
def project_detail(request: HttpRequest, access: ConsoleAccess, project_id: str) -> HttpResponse:
    project = _project_or_404(access, project_id)
    record_read(request, "project", project=project.pk)
    return render(request, "console/project.html", _project_context(access, project))


def _project_change(
    request: HttpRequest, access: ConsoleAccess, project_id: str, apply: Callable[[Project], str]
) -> HttpResponse:
    project = _project_or_404(access, project_id)
    context = partial(_project_context, access)
    return change_object(request, project, apply, page="project", context=context)


@require_POST
@console_view(AuditAction.PROJECT_UPDATE)
def project_update(request: HttpRequest, access: ConsoleAccess, project_id: str) -> HttpResponse:
    def apply(project: Project) -> str:
        data = parsed(ProjectUpdateForm, request.POST)
        services.project_update(actor=actor_of(request), project=project, changes=data)
        return "Project saved."

    return _project_change(request, access, project_id, apply)


def _membership(
    request: HttpRequest, access: ConsoleAccess, project_id: str,
    add: Callable[..., None], remove: Callable[..., None], added: str, removed: str,
) -> HttpResponse:  # fmt: skip
    """Add or remove one person (``action``, ``id``) through the ``add`` / ``remove`` service;
    ``added`` / ``removed`` are the messages, with {user} and {project}."""

    def apply(project: Project) -> str:
        data = parsed(MembershipForm, request.POST)
        user = user_or_404(data["id"])
        service, message = (add, added) if data["action"] == "add" else (remove, removed)
        service(actor=actor_of(request), project=project, user=user)
        return message.format(user=display_name(user), project=project.name)

    return _project_change(request, access, project_id, apply)


@require_POST
@console_view(AuditAction.PROJECT_LEAD_ADD)
def project_leads(request: HttpRequest, access: ConsoleAccess, project_id: str) -> HttpResponse:
    return _membership(
        request, access, project_id, services.project_lead_add, services.project_lead_remove,
        "{user} now leads {project}.", "{user} no longer leads {project}.",
    )  # fmt: skip


@require_POST
@console_view(AuditAction.PROJECT_MEMBER_ADD)
def project_members(request: HttpRequest, access: ConsoleAccess, project_id: str) -> HttpResponse:
    return _membership(
        request, access, project_id, services.project_member_add, services.project_member_remove,
        "{user} is now a member of {project}.", "{user} is no longer a member of {project}.",
    )  # fmt: skip


@require_POST
@console_view(AuditAction.PROJECT_SITE_ADD)
def project_sites(request: HttpRequest, access: ConsoleAccess, project_id: str) -> HttpResponse:
    def apply(project: Project) -> str:
        data = parsed(MembershipForm, request.POST)
        try:
            site = Site.objects.get(pk=data["id"])
        except Site.DoesNotExist:
            raise DomainError("No such site.", fields={"id": ["No such site."]}) from None
        if data["action"] == "add":
            services.project_site_add(actor=actor_of(request), project=project, site=site)
            return f"{project.name} now runs at {site.name}."
        services.project_site_remove(actor=actor_of(request), project=project, site=site)
        return f"{project.name} no longer runs at {site.name}."

    return _project_change(request, access, project_id, apply)
