"""Selectors read: above all "what may this user see". One error for missing and forbidden.

Visibility rules (object permissions are django-guardian rows on Project, Site and Task):
- admins and auditors see every project, site and task (auditors change nothing);
- a project is visible with ``view_project`` or ``manage_project`` on it;
- a site is visible with ``view_site`` or ``administer_site`` on it, or through a visible project;
- a task is visible with ``view_task``, ``annotate_task`` or ``review_task`` on it, or with
  ``manage_project`` on its project.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from annotations.errors import NotFoundError
from annotations.models import (
    AuditEvent,
    LabelSchema,
    Project,
    Role,
    SecureAccessSession,
    Site,
    Task,
    User,
)

PROJECT_VIEW_PERMS = ["annotations.view_project", "annotations.manage_project"]
SITE_VIEW_PERMS = ["annotations.view_site", "annotations.administer_site"]
TASK_VIEW_PERMS = ["annotations.view_task", "annotations.annotate_task", "annotations.review_task"]


def is_admin(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_role(Role.ADMIN)))


def sees_everything(user: Any) -> bool:
    return is_admin(user) or bool(user.is_authenticated and user.has_role(Role.AUDITOR))


_MAX_PK = 2**63 - 1


def parse_pk(value: Any) -> int:
    """A primary key from a URL or body; anything else is simply "not found"."""
    try:
        pk = int(value)
    except (ValueError, TypeError):
        raise NotFoundError("No such object.") from None
    if not 0 < pk <= _MAX_PK:
        raise NotFoundError("No such object.")
    return pk


def _objects_with_any(user: User, perms: list[str], klass: type[Any]) -> QuerySet[Any]:
    return get_objects_for_user(
        user, perms, klass=klass, any_perm=True, with_superuser=False, accept_global_perms=False
    )


def project_list_for_user(user: User) -> QuerySet[Project]:
    if sees_everything(user):
        return Project.objects.all()
    return _objects_with_any(user, PROJECT_VIEW_PERMS, Project)


def managed_project_ids(user: User) -> QuerySet[Project]:
    return _objects_with_any(user, ["annotations.manage_project"], Project)


def project_get_for_user(user: User, project_id: Any) -> Project:
    try:
        return project_list_for_user(user).get(pk=parse_pk(project_id))
    except (Project.DoesNotExist, NotFoundError):
        raise NotFoundError("No such project.") from None


def site_list_for_user(user: User) -> QuerySet[Site]:
    if sees_everything(user):
        return Site.objects.all()
    direct = _objects_with_any(user, SITE_VIEW_PERMS, Site).values("pk")
    via_project = project_list_for_user(user).values("sites")
    return Site.objects.filter(Q(pk__in=direct) | Q(pk__in=via_project))


def site_get_for_user(user: User, site_id: Any) -> Site:
    try:
        return site_list_for_user(user).get(pk=parse_pk(site_id))
    except (Site.DoesNotExist, NotFoundError):
        raise NotFoundError("No such site.") from None


def task_list_for_user(user: User) -> QuerySet[Task]:
    queryset = Task.objects.select_related("project", "site", "assignee", "label_schema")
    if sees_everything(user):
        return queryset
    direct = _objects_with_any(user, TASK_VIEW_PERMS, Task).values("pk")
    managed = managed_project_ids(user).values("pk")
    return queryset.filter(Q(pk__in=direct) | Q(project__in=managed))


def task_get_for_user(user: User, task_id: Any) -> Task:
    try:
        return task_list_for_user(user).get(pk=parse_pk(task_id))
    except (Task.DoesNotExist, NotFoundError):
        raise NotFoundError("No such task.") from None


def label_schema_list_for_project(project: Project) -> QuerySet[LabelSchema]:
    return project.label_schemas.prefetch_related("entries")


def label_schema_get_for_user(user: User, schema_id: Any) -> LabelSchema:
    try:
        return (
            LabelSchema.objects.prefetch_related("entries")
            .filter(project__in=project_list_for_user(user))
            .get(pk=parse_pk(schema_id))
        )
    except (LabelSchema.DoesNotExist, NotFoundError):
        raise NotFoundError("No such label schema.") from None


def audit_event_list_for_user(user: User) -> QuerySet[AuditEvent]:
    """Admins and auditors read the whole log; leads read their projects' events; custodians their sites'."""
    if sees_everything(user):
        return AuditEvent.objects.all()
    managed = list(managed_project_ids(user).values_list("pk", flat=True))
    administered = list(
        _objects_with_any(user, ["annotations.administer_site"], Site).values_list("pk", flat=True)
    )
    if not managed and not administered:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(Q(project_id__in=managed) | Q(site_id__in=administered))


def session_list_for_user(user: User, *, live_only: bool = True) -> QuerySet[SecureAccessSession]:
    """A user's own sessions; admins and auditors see all; custodians their sites'; leads their projects'."""
    queryset = SecureAccessSession.objects.select_related(
        "user", "task", "task__site", "task__project"
    )
    if live_only:
        queryset = queryset.filter(closed_at__isnull=True, expires_at__gt=timezone.now())
    if sees_everything(user):
        return queryset
    managed = managed_project_ids(user).values("pk")
    administered = _objects_with_any(user, ["annotations.administer_site"], Site).values("pk")
    return queryset.filter(
        Q(user=user) | Q(task__project__in=managed) | Q(task__site__in=administered)
    )


def session_get_for_user(user: User, session_id: Any) -> SecureAccessSession:
    try:
        return session_list_for_user(user, live_only=False).get(pk=str(uuid.UUID(str(session_id))))
    except (SecureAccessSession.DoesNotExist, ValueError):
        raise NotFoundError("No such session.") from None
