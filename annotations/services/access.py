"""Authorisation for services: allow, or audit the denial and raise."""

from __future__ import annotations

from typing import Any

from django.db import models

from annotations.audit_actions import AuditAction
from annotations.errors import PermissionDeniedError
from annotations.models import AuditOutcome, Project, Site, Task
from annotations.selectors import is_admin
from annotations.services.audit import audit_record


def scope_ids(obj: models.Model | None) -> tuple[int | None, int | None]:
    """(project id, site id) an event about ``obj`` is filed under, for the audit browser's filters."""
    if isinstance(obj, Project):
        return obj.pk, None
    if isinstance(obj, Site):
        return None, obj.pk
    if isinstance(obj, Task):
        return obj.project_id, obj.site_id
    return None, None


def deny(
    *, actor: Any, action: str, obj: models.Model | None, reason: str
) -> PermissionDeniedError:
    """Record a refused attempt (in its own transaction, so it outlives the refusal) and return the error."""
    project_id, site_id = scope_ids(obj)
    audit_record(
        actor=actor,
        action=AuditAction.ACCESS_DENIED,
        outcome=AuditOutcome.MINOR_FAILURE,
        obj=obj,
        project_id=project_id,
        site_id=site_id,
        detail={"attempted": action, "reason": reason},
    )
    return PermissionDeniedError(reason)


def require_admin(*, actor: Any, action: str, obj: models.Model | None = None) -> None:
    if not is_admin(actor):
        raise deny(actor=actor, action=action, obj=obj, reason="Only an administrator may do this.")


def require_perm(
    *, actor: Any, perm: str, obj: models.Model, action: str, admin_ok: bool = True
) -> None:
    """``perm`` is a codename such as ``manage_project``; admins pass unless ``admin_ok`` is False."""
    if admin_ok and is_admin(actor):
        return
    if not actor.has_perm(f"annotations.{perm}", obj):
        raise deny(actor=actor, action=action, obj=obj, reason=f"You need {perm} on this object.")
