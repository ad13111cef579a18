"""API tokens for scripts (the Python SDK): DRF's authtoken, issued for a username and password."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from rest_framework.authtoken.models import Token

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError, ErrorCode
from annotations.models import User
from annotations.services.audit import audit_record
from annotations.services.users import user_record_login_failed


def token_issue(*, username: str, password: str) -> Token:
    """The user's API token (created on first use). A wrong password is audited as a failed login
    and answers the same whether or not the account exists."""
    user = authenticate(username=username, password=password)
    if not isinstance(user, User) or not user.is_active:
        user_record_login_failed(username=username)
        raise DomainError("Unknown username or wrong password.", code=ErrorCode.NOT_AUTHENTICATED)
    with transaction.atomic():
        token, created = Token.objects.get_or_create(user=user)
        audit_record(
            actor=user, action=AuditAction.USER_TOKEN_ISSUE, obj=user,
            detail={"new_token": created},
        )  # fmt: skip
    return token
