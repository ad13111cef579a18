"""Secure Access sessions: open, renew, close, revoke, expire — each one audit event.

A session is the right of one user to view (and annotate or review) one task's series at its site,
until it expires. Central signs a fresh grant for every attach (``session_grant``); the sockets are
told to close through the channel layer after the change commits.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError, ErrorCode, PermissionDeniedError
from annotations.models import (
    AuditOutcome,
    CloseReason,
    Role,
    SecureAccessSession,
    Task,
    TaskStatus,
    User,
)
from annotations.selectors import is_admin
from annotations.services.audit import audit_record
from annotations.signing import signing_key
from site_gateway.grants import Grant, new_nonce, sign_grant
from site_gateway.protocol import Action, CloseCode

logger = logging.getLogger(__name__)

# Annotators may write labels only while the task is theirs to work.
_ANNOTATABLE = frozenset({TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.REJECTED})


def session_group(session_id: Any) -> str:
    return f"session.{session_id}"


def site_group(site_id: int) -> str:
    return f"site.{site_id}"


def site_waiters_group(site_id: int) -> str:
    """Browser sockets of this site's sessions: told when the site's gateway (re)connects."""
    return f"site-waiters.{site_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _deny(*, actor: User, task: Task, reason: str) -> PermissionDeniedError:
    audit_record(
        actor=actor, action=AuditAction.SESSION_DENIED, outcome=AuditOutcome.MINOR_FAILURE,
        obj=task, project_id=task.project_id, site_id=task.site_id, detail={"reason": reason},
    )  # fmt: skip
    return PermissionDeniedError(reason)


def _actions_for(actor: User, task: Task) -> tuple[frozenset[Action], str]:
    """(actions, role) the actor gets on this task, or empty if none."""
    if task.assignee_id == actor.pk and actor.has_perm("annotations.annotate_task", task):
        if task.status in _ANNOTATABLE:
            return frozenset({Action.VIEW, Action.ANNOTATE}), Role.ANNOTATOR.value
        return frozenset({Action.VIEW}), Role.ANNOTATOR.value
    if actor.has_perm("annotations.review_task", task) or actor.has_perm(
        "annotations.manage_project", task.project
    ):
        return frozenset({Action.VIEW, Action.REVIEW}), "reviewer"
    return frozenset(), ""


def _lifetime() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(settings.RHINO_SESSION_MINUTES))


def session_open(*, actor: User, task: Task) -> SecureAccessSession:
    actions, role = _actions_for(actor, task)
    if not actions:
        raise _deny(
            actor=actor, task=task, reason="You need annotate_task or review_task on this task."
        )
    if not task.site.is_enrolled:
        raise DomainError("The task's site has no enrolled gateway.", code=ErrorCode.SITE_OFFLINE)
    now = timezone.now()
    with transaction.atomic():
        session = SecureAccessSession.objects.create(
            user=actor,
            task=task,
            scope={"series": [task.series_handle], "actions": sorted(actions), "role": role},
            created_at=now,
            expires_at=now + _lifetime(),
        )
        audit_record(
            actor=actor, action=AuditAction.SESSION_OPEN, obj=session, project_id=task.project_id,
            site_id=task.site_id,
            detail={"task": task.pk, "actions": sorted(actions), "expires_at": session.expires_at.isoformat()},
        )  # fmt: skip
    return session


def session_grant(*, session: SecureAccessSession, now: datetime.datetime | None = None) -> str:
    """A freshly signed grant for one attach of ``session`` (new nonce each time)."""
    now = now or timezone.now()
    task = session.task
    schema = task.label_schema
    grant = Grant(
        session=str(session.pk),
        user=session.user.pseudonym,
        role=str(session.scope.get("role", "")) or "viewer",
        task=task.pk,
        project=task.project.slug,
        site=task.site.slug,
        series=tuple(session.scope.get("series", [])),
        actions=frozenset(Action(a) for a in session.scope.get("actions", [])),
        issued_at=int(now.timestamp()),
        expires_at=int(session.expires_at.timestamp()),
        nonce=new_nonce(),
        schema={
            "version": schema.version,
            "entries": list(
                schema.entries.values(
                    "key", "code_value", "coding_scheme", "code_meaning", "kind", "colour"
                )
            ),
        },
    )
    return sign_grant(grant, signing_key())


def _may_oversee(actor: User, session: SecureAccessSession) -> bool:
    task = session.task
    return (
        is_admin(actor)
        or actor.has_perm("annotations.administer_site", task.site)
        or actor.has_perm("annotations.manage_project", task.project)
    )


def session_renew(*, actor: User, session: SecureAccessSession) -> SecureAccessSession:
    if session.user_id != actor.pk:
        raise _deny(actor=actor, task=session.task, reason="Only the session's user renews it.")
    now = timezone.now()
    with transaction.atomic():
        locked = SecureAccessSession.objects.select_for_update().get(pk=session.pk)
        if not locked.is_live(now):
            code = (
                ErrorCode.SESSION_EXPIRED if locked.closed_at is None else ErrorCode.SESSION_CLOSED
            )
            raise DomainError("The session is no longer live; open a new one.", code=code)
        cap = locked.created_at + datetime.timedelta(hours=int(settings.RHINO_SESSION_MAX_HOURS))
        locked.expires_at = min(now + _lifetime(), cap)
        locked.save(update_fields=["expires_at"])
        audit_record(
            actor=actor, action=AuditAction.SESSION_RENEW, obj=locked,
            project_id=locked.task.project_id, site_id=locked.task.site_id,
            detail={"expires_at": locked.expires_at.isoformat()},
        )  # fmt: skip
        transaction.on_commit(lambda: notify_session(locked.pk, "session.renewed"))
    return locked


def _end(
    *, actor: User | None, session: SecureAccessSession, reason: CloseReason, action: AuditAction
) -> SecureAccessSession:
    now = timezone.now()
    with transaction.atomic():
        locked = (
            SecureAccessSession.objects.select_for_update()
            .select_related("task")
            .get(pk=session.pk)
        )
        if locked.closed_at is not None:
            return locked  # already ended: idempotent, nothing to audit
        locked.closed_at = now
        locked.close_reason = reason
        locked.closed_by = actor if actor is not None and actor.is_authenticated else None
        locked.save(update_fields=["closed_at", "close_reason", "closed_by"])
        audit_record(
            actor=actor, action=action, obj=locked, project_id=locked.task.project_id,
            site_id=locked.task.site_id, detail={"reason": reason.value, "user": locked.user_id},
        )  # fmt: skip
        site_id = locked.task.site_id
        transaction.on_commit(lambda: end_sockets(locked.pk, site_id, reason))
    return locked


def session_close(*, actor: User, session: SecureAccessSession) -> SecureAccessSession:
    if session.user_id != actor.pk:
        raise _deny(
            actor=actor,
            task=session.task,
            reason="Only the session's user closes it; others revoke it.",
        )
    return _end(
        actor=actor, session=session, reason=CloseReason.CLOSED, action=AuditAction.SESSION_CLOSE
    )


def session_revoke(
    *, actor: User, session: SecureAccessSession, reason: str = ""
) -> SecureAccessSession:
    """Stop access now: by an admin, a custodian of the site or a lead of the project."""
    if not _may_oversee(actor, session):
        task = session.task
        raise _deny(
            actor=actor,
            task=task,
            reason="Only an admin, the site's custodian or the project's lead revokes.",
        )
    return _end(
        actor=actor, session=session, reason=CloseReason.REVOKED, action=AuditAction.SESSION_REVOKE
    )


def session_expire_due(*, now: datetime.datetime | None = None) -> int:
    """Close every session past its expiry (one event each); returns how many."""
    now = now or timezone.now()
    due = SecureAccessSession.objects.filter(closed_at__isnull=True, expires_at__lte=now)
    count = 0
    for session in due.select_related("task"):
        _end(
            actor=None,
            session=session,
            reason=CloseReason.EXPIRED,
            action=AuditAction.SESSION_EXPIRE,
        )
        count += 1
    return count


def sessions_close_for_user(*, user: User) -> int:
    """Sign-out ends the user's live sessions (their sockets close with 4401)."""
    return sessions_end_for_user(user=user, actor=user, reason=CloseReason.LOGGED_OUT)


def sessions_end_for_user(*, user: User, actor: User, reason: CloseReason) -> int:
    """End every live session of ``user``: one event each (session.close when the user ends them
    by signing out, session.revoke when an administrator does, e.g. deactivating the account)."""
    action = AuditAction.SESSION_CLOSE if actor.pk == user.pk else AuditAction.SESSION_REVOKE
    live = SecureAccessSession.objects.filter(
        user=user, closed_at__isnull=True, expires_at__gt=timezone.now()
    )
    count = 0
    for session in live:
        _end(actor=actor, session=session, reason=reason, action=action)
        count += 1
    return count


# --- telling sockets (best effort: consumers also poll the session, so a lost message costs ≤ 5 s) ---

_CLOSE_CODES = {
    CloseReason.EXPIRED: CloseCode.EXPIRED,
    CloseReason.LOGGED_OUT: CloseCode.UNAUTHENTICATED,
}


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the layer is best effort by design; the sockets' own polling backs it up
        logger.warning("channel layer unavailable for %s", message.get("type"), exc_info=True)


def notify_session(session_id: Any, event: str) -> None:
    _group_send(
        session_group(session_id), {"type": event.replace(".", "_"), "session": str(session_id)}
    )


def end_sockets(session_id: Any, site_id: int, reason: CloseReason) -> None:
    code = int(_CLOSE_CODES.get(reason, CloseCode.FORBIDDEN))
    _group_send(
        session_group(session_id),
        {"type": "session_ended", "session": str(session_id), "reason": reason.value, "code": code},
    )
    _group_send(site_group(site_id), {"type": "gateway_revoke", "session": str(session_id)})
