from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError
from annotations.models import AuditOutcome, Role, User
from annotations.services.access import require_admin
from annotations.services.audit import audit_record


def user_set_roles(*, actor: User, user: User, roles: Iterable[str]) -> User:
    require_admin(actor=actor, action=AuditAction.USER_ROLES_CHANGE, obj=user)
    wanted = set(roles)
    unknown = wanted - set(Role.values)
    if unknown:
        raise DomainError(f"Unknown roles {sorted(unknown)}; valid: {sorted(Role.values)}.")
    with transaction.atomic():
        before = sorted(user.groups.values_list("name", flat=True))
        groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted)]
        user.groups.set(groups)
        user.__dict__.pop("_role_cache", None)
        audit_record(
            actor=actor, action=AuditAction.USER_ROLES_CHANGE, obj=user,
            detail={"from": before, "to": sorted(wanted)},
        )  # fmt: skip
    return user


def user_record_login(*, user: User) -> None:
    audit_record(actor=user, action=AuditAction.USER_LOGIN, obj=user)


def user_record_logout(*, user: Any) -> None:
    if user is not None and user.is_authenticated:
        audit_record(actor=user, action=AuditAction.USER_LOGOUT, obj=user)


def user_record_login_failed(*, username: str) -> None:
    # The attempted name can be a mistyped password; record only whether such an account exists.
    known = User.objects.filter(username=username).first()
    audit_record(
        actor=None,
        action=AuditAction.USER_LOGIN_FAILED,
        outcome=AuditOutcome.MINOR_FAILURE,
        obj=known,
        detail={"known_account": known is not None},
    )
