"""Who may use the console, and what each role sees there (issue 9, "Roles").

- admins: everything; re-verify the chain; revoke any session;
- auditors: read everything, change nothing (they may re-verify: it changes nothing);
- site custodians: events and sessions of the sites they administer; revoke those sessions;
- project leads: events and sessions of the projects they manage (the audit selector's rule).
Everyone else gets the same 404 as for a page that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from annotations.models import AuditEvent, SecureAccessSession, Site, User
from annotations.selectors import (
    audit_event_list_for_user,
    is_admin,
    managed_project_ids,
    sees_everything,
)


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    user: User
    everything: bool
    admin: bool
    site_ids: frozenset[int]  # administered sites (custodian)
    project_ids: frozenset[int]  # managed projects (lead)

    @property
    def allowed(self) -> bool:
        return self.everything or bool(self.site_ids or self.project_ids)

    @property
    def can_verify(self) -> bool:
        return self.everything

    def can_revoke(self, session: SecureAccessSession) -> bool:
        return self.admin or session.task.site_id in self.site_ids

    def audit_events(self) -> QuerySet[AuditEvent]:
        return audit_event_list_for_user(self.user)

    def live_sessions(self) -> QuerySet[SecureAccessSession]:
        """Live = not closed and not expired (``SecureAccessSession.is_live``)."""
        queryset = SecureAccessSession.objects.filter(
            closed_at__isnull=True, expires_at__gt=timezone.now()
        ).select_related("user", "task", "task__project", "task__site")
        if not self.everything:
            queryset = queryset.filter(
                Q(task__site_id__in=self.site_ids) | Q(task__project_id__in=self.project_ids)
            )
        return queryset.order_by("expires_at", "id")

    def sites(self) -> QuerySet[Site]:
        """Sites whose gateway health and site-side access this user may see: all of them for
        admins and auditors; custodians their sites; leads the sites of their projects."""
        if self.everything:
            return Site.objects.all()
        return Site.objects.filter(
            Q(pk__in=self.site_ids) | Q(projects__in=self.project_ids)
        ).distinct()


def administered_sites(user: User) -> QuerySet[Site]:
    """The sites ``user`` is a custodian of (their own object permission, not an admin's reach)."""
    return get_objects_for_user(
        user,
        "annotations.administer_site",
        klass=Site,
        with_superuser=False,
        accept_global_perms=False,
    )


def console_access(user: Any) -> ConsoleAccess | None:
    """The user's console rights, or None when the console is not theirs at all."""
    if not getattr(user, "is_authenticated", False):
        return None
    assert isinstance(user, User)
    everything = sees_everything(user)
    if everything:
        sites: frozenset[int] = frozenset()
        projects: frozenset[int] = frozenset()
    else:
        sites = frozenset(administered_sites(user).values_list("pk", flat=True))
        projects = frozenset(managed_project_ids(user).values_list("pk", flat=True))
    access = ConsoleAccess(user, everything, is_admin(user), sites, projects)
    return access if access.allowed else None
