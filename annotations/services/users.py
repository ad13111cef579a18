from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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
