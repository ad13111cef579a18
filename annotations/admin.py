from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin

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


@admin.register(User)
class RhinoUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "pseudonym", "is_active", "is_staff", "last_login")
    readonly_fields = ("pseudonym",)


@admin.register(Site)
class SiteAdmin(GuardedModelAdmin):
    list_display = ("name", "slug", "is_online", "last_seen_at", "gateway_version")
    readonly_fields = ("is_online", "last_seen_at", "gateway_version", "enrolled_at")


@admin.register(Project)
class ProjectAdmin(GuardedModelAdmin):
    list_display = ("name", "slug", "created_at")
    filter_horizontal = ("leads", "members", "sites")


class LabelEntryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LabelEntry
    extra = 0


@admin.register(LabelSchema)
class LabelSchemaAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("project", "version", "created_at")
    inlines = [LabelEntryInline]


@admin.register(Task)
class TaskAdmin(GuardedModelAdmin):
    list_display = ("id", "project", "site", "assignee", "status", "due_date")
    list_filter = ("status", "project", "site")


@admin.register(SecureAccessSession)
class SecureAccessSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "user", "task", "created_at", "expires_at", "closed_at", "close_reason")
    readonly_fields = [f.name for f in SecureAccessSession._meta.fields]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: the audit log is append-only and written by services alone."""

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
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not free

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
