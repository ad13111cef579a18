from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from annotations.audit_actions import AuditAction
from annotations.errors import ConflictError, DomainError
from annotations.models import AuditOutcome, CloseReason, Role, User
from annotations.services.access import require_admin
from annotations.services.audit import audit_record
from annotations.services.sessions import sessions_end_for_user


def _validated_roles(roles: Iterable[str]) -> set[str]:
    wanted = set(roles)
    unknown = wanted - set(Role.values)
    if unknown:
        raise DomainError(
            f"Unknown roles {sorted(unknown)}; valid: {sorted(Role.values)}.",
            fields={"roles": [f"unknown role {name!r}" for name in sorted(unknown)]},
        )
    return wanted


def _validated_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError("The password is too weak.", fields={"password": exc.messages}) from None


def user_create(
    *,
    actor: User,
    username: str,
    password: str,
    roles: Iterable[str] = (),
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    """A new account with its roles and an initial password the administrator hands over. The
    event names the roles, never the password (nor its hash)."""
    require_admin(actor=actor, action=AuditAction.USER_CREATE)
    wanted = _validated_roles(roles)
    try:  # the model's own rule (AbstractUser.username_validator), not a copy of it
        if not username or len(username) > 150:
            raise ValidationError("A username is 1–150 characters.")
        User.username_validator(username)
    except ValidationError as exc:
        raise DomainError(
            "A username is 1–150 letters, digits and @ . + - _ characters.",
            fields={"username": exc.messages},
        ) from None
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    _validated_password(password, user)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise ConflictError(
                f"A user named {username!r} exists.", fields={"username": ["Taken."]}
            )
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in sorted(wanted)])
        audit_record(
            actor=actor, action=AuditAction.USER_CREATE, obj=user,
            detail={"roles": sorted(wanted)},
        )  # fmt: skip
    return user


def user_set_password(*, actor: User, user: User, password: str) -> User:
    """An administrator sets a new password (the user forgot theirs). Their API token is revoked
    with it: a script holding the old token must sign in again."""
    require_admin(actor=actor, action=AuditAction.USER_PASSWORD_SET, obj=user)
    _validated_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        tokens, _ = Token.objects.filter(user=user).delete()
        audit_record(
            actor=actor, action=AuditAction.USER_PASSWORD_SET, obj=user,
            detail={"tokens_revoked": tokens},
        )  # fmt: skip
    return user


def user_deactivate(*, actor: User, user: User, reason: str) -> User:
    """Stop an account at once: it can no longer sign in, its API token is deleted, its live
    Secure Access sessions are revoked (each its own session.revoke event; the viewer says so)
    and its viewer closes with "Access revoked". Rows that name the user (tasks, audit) stay."""
    require_admin(actor=actor, action=AuditAction.USER_DEACTIVATE, obj=user)
    if user.pk == actor.pk:
        raise ConflictError("You cannot deactivate your own account; another administrator can.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            return locked  # already inactive: idempotent, nothing to audit
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        tokens, _ = Token.objects.filter(user=locked).delete()
        audit_record(
            actor=actor, action=AuditAction.USER_DEACTIVATE, obj=locked,
            detail={"reason": reason[:200], "tokens_revoked": tokens},
        )  # fmt: skip
        # Its other sockets (the lead's progress board) re-read is_active within 15 s.
        sessions_end_for_user(user=locked, actor=actor, reason=CloseReason.REVOKED)
    return locked


def user_reactivate(*, actor: User, user: User) -> User:
    require_admin(actor=actor, action=AuditAction.USER_REACTIVATE, obj=user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            return locked
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        audit_record(actor=actor, action=AuditAction.USER_REACTIVATE, obj=locked)
    return locked


def user_set_roles(*, actor: User, user: User, roles: Iterable[str]) -> User:
    require_admin(actor=actor, action=AuditAction.USER_ROLES_CHANGE, obj=user)
    wanted = _validated_roles(roles)
    if user.pk == actor.pk and Role.ADMIN.value not in wanted and not actor.is_superuser:
        # Otherwise the last administrator could lock everyone out of the console.
        raise ConflictError(
            "You cannot remove your own administrator role; another administrator can.",
            fields={"roles": ["Keep 'admin' on your own account."]},
        )
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


# Viewer commands whose keys a user may change (frontend/static/viewer/shortcuts.js lists the same).
SHORTCUT_COMMANDS = frozenset(
    {
        "select", "rectangle", "ellipse", "polygon", "freehand", "brush", "eraser", "point",
        "length", "angle", "classify", "undo", "redo", "save", "submit", "delete", "copy-next",
        "pan", "zoom", "window", "fit", "reset", "invert", "cine", "help", "next-task",
    }
)  # fmt: skip
# One printable key or a named key, with optional modifiers: "r", "Shift+B", "Ctrl+z", "F2".
_KEY_RE = re.compile(
    r"^(?:(?:Ctrl|Alt|Shift|Meta)\+){0,3}"
    r"(?:[!-~]|F(?:[1-9]|1[0-2])|Delete|Backspace|Insert|Enter|Space|Tab)$"
)


def _validated_shortcuts(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DomainError("'shortcuts' is an object of command → key.")
    unknown = sorted(set(value) - SHORTCUT_COMMANDS)
    if unknown:
        raise DomainError(
            f"Unknown commands {unknown}; valid: {sorted(SHORTCUT_COMMANDS)}.",
            fields={"shortcuts": [f"unknown command {name!r}" for name in unknown]},
        )
    bad = sorted(k for k, v in value.items() if not isinstance(v, str) or not _KEY_RE.match(v))
    if bad:
        raise DomainError(
            f"Keys for {bad} are not valid; use one key such as 'r', 'Shift+B', 'Ctrl+z' or 'F2'.",
            fields={"shortcuts": [f"bad key for {name!r}" for name in bad]},
        )
    keys = [str(v).lower() for v in value.values()]
    clashes = sorted({k for k in keys if keys.count(k) > 1})
    if clashes:
        raise DomainError(f"Keys {clashes} are given to more than one command.")
    return {str(k): str(v) for k, v in value.items()}


def user_update_preferences(*, actor: User, preferences: Mapping[str, Any]) -> User:
    """Replace the signed-in user's own viewer preferences: ``{"shortcuts": {command: key}}``."""
    unknown = sorted(set(preferences) - {"shortcuts"})
    if unknown:
        raise DomainError(f"Unknown preferences {unknown}; valid: ['shortcuts'].")
    shortcuts = _validated_shortcuts(preferences.get("shortcuts", {}))
    with transaction.atomic():
        before = sorted((actor.preferences or {}).get("shortcuts", {}))
        actor.preferences = {**(actor.preferences or {}), "shortcuts": shortcuts}
        actor.save(update_fields=["preferences"])
        audit_record(
            actor=actor, action=AuditAction.USER_PREFERENCES_UPDATE, obj=actor,
            detail={"shortcuts_before": before, "shortcuts_after": sorted(shortcuts)},
        )  # fmt: skip
    return actor
