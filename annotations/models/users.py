from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    """Roles are auth groups of these names (created by a data migration)."""

    ANNOTATOR = "annotator", "Annotator (radiologist)"
    PROJECT_LEAD = "project_lead", "Project lead"
    SITE_CUSTODIAN = "site_custodian", "Site custodian"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


def new_pseudonym() -> str:
    return "u_" + secrets.token_hex(8)


class User(AbstractUser):
    # What sites and signed grants know the user by: never the username or e-mail.
    pseudonym = models.CharField(max_length=24, unique=True, default=new_pseudonym, editable=False)
    # Per-user viewer settings such as keyboard shortcuts; small, validated by the service that writes it.
    preferences = models.JSONField(default=dict, blank=True)

    def has_role(self, role: Role) -> bool:
        if role is Role.ADMIN and self.is_superuser:
            return True
        roles: frozenset[str] | None = getattr(self, "_role_cache", None)
        if roles is None:
            roles = frozenset(self.groups.values_list("name", flat=True))
            self._role_cache = roles
        return role.value in roles
