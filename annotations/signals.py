"""Framework hooks only: sign-in events from django.contrib.auth become audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from annotations.services.sessions import sessions_close_for_user
from annotations.services.users import (
    user_record_login,
    user_record_login_failed,
    user_record_logout,
)


@receiver(user_logged_in, dispatch_uid="rhino_audit_login")
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    user_record_login(user=user)


@receiver(user_logged_out, dispatch_uid="rhino_audit_logout")
def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    user_record_logout(user=user)
    if user is not None and user.is_authenticated:
        # Signing out over HTTP does not close open sockets by itself: end the user's sessions,
        # which closes their sockets (4401) through the channel layer.
        sessions_close_for_user(user=user)


@receiver(user_login_failed, dispatch_uid="rhino_audit_login_failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    user_record_login_failed(username=str(credentials.get("username", ""))[:150])
