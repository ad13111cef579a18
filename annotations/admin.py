"""Django's admin, as a read-only inspector.

Users, roles, sites, custodians, projects and tasks change only through the services (the console,
the API, the SDK), because those write the audit events. An edit here would not be audited — and
guardian's object-permission pages would grant access no event records — so every model is view
only: admins manage users, roles, sites and projects on the console's pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from annotations.models import (
    AuditEvent,
    LabelEntry,
    LabelSchema,
    Project,
    SecureAccessSession,
    Site,
    Task,
    User,
)


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


@admin.register(User)
class RhinoUserAdmin(ReadOnlyAdmin, UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "pseudonym", "is_active", "is_staff", "last_login")
    readonly_fields = ("pseudonym",)


@admin.register(Site)
class SiteAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "is_online", "last_seen_at", "gateway_version")


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "created_at")


class LabelEntryInline(ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = LabelEntry
    extra = 0


@admin.register(LabelSchema)
class LabelSchemaAdmin(ReadOnlyAdmin):
    list_display = ("project", "version", "created_at")
    inlines = [LabelEntryInline]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "site", "assignee", "status", "due_date")
    list_filter = ("status", "project", "site")


@admin.register(SecureAccessSession)
class SecureAccessSessionAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "task", "created_at", "expires_at", "closed_at", "close_reason")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log is append-only and written by services alone."""

    list_display = (
        "seq",
        "occurred_at",
        "actor_name",
        "action",
        "outcome",
        "object_type",
        "object_id",
    )
    list_filter = ("action", "outcome")
    search_fields = ("actor_name", "action", "object_id")
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not free
