"""Shapes only: parse and validate input, render output. No business logic here (see services)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from annotations.models import (
    LabelEntry,
    LabelKind,
    LabelSchema,
    Project,
    Site,
    Task,
    TaskStatus,
    User,
)


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses bodies that are not objects or that carry fields it does not know."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - writable)
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                    for name in unknown
                }
            )
        return super().to_internal_value(data)


SLUG = serializers.RegexField(r"^[a-z0-9][a-z0-9-]{0,48}$", max_length=50)


class UserRefSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "pseudonym"]


class MeSerializer(serializers.ModelSerializer[User]):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "pseudonym", "roles", "preferences"]

    def get_roles(self, user: User) -> list[str]:
        return sorted(user.groups.values_list("name", flat=True))


class SiteSerializer(serializers.ModelSerializer[Site]):
    is_enrolled = serializers.BooleanField(read_only=True)

    class Meta:
        model = Site
        fields = [
            "id", "name", "slug", "is_enrolled", "enrolled_at", "is_online", "last_seen_at",
            "gateway_version", "gateway_public_key",
        ]  # fmt: skip
        read_only_fields = fields


class SiteCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)
    slug = SLUG


class SiteUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)


class GatewayKeySerializer(StrictSerializer):
    public_key = serializers.CharField(max_length=64)


class ProjectSerializer(serializers.ModelSerializer[Project]):
    leads = UserRefSerializer(many=True, read_only=True)
    sites: serializers.PrimaryKeyRelatedField[Site] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "leads",
            "sites",
            "viewer_presets",
            "created_at",
        ]
        read_only_fields = fields


class ProjectCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = SLUG
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class WindowPresetSerializer(StrictSerializer):
    name = serializers.CharField(max_length=40)
    center = serializers.FloatField()
    width = serializers.FloatField(min_value=1)


class ProjectUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    viewer_presets = serializers.DictField(
        child=WindowPresetSerializer(many=True), required=False, allow_empty=True
    )


class UserIdSerializer(StrictSerializer):
    user = serializers.IntegerField(min_value=1)


class SiteIdSerializer(StrictSerializer):
    site = serializers.IntegerField(min_value=1)


class LabelEntrySerializer(serializers.ModelSerializer[LabelEntry]):
    class Meta:
        model = LabelEntry
        fields = ["key", "code_value", "coding_scheme", "code_meaning", "kind", "colour"]


class LabelEntryInputSerializer(StrictSerializer):
    key = serializers.SlugField(max_length=50)
    code_value = serializers.CharField(max_length=64)
    coding_scheme = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,16}$")
    code_meaning = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=LabelKind.choices)
    colour = serializers.RegexField(r"^#[0-9a-fA-F]{6}$")


class LabelSchemaSerializer(serializers.ModelSerializer[LabelSchema]):
    entries = LabelEntrySerializer(many=True, read_only=True)

    class Meta:
        model = LabelSchema
        fields = ["id", "project", "version", "created_at", "entries"]
        read_only_fields = fields


class LabelSchemaCreateSerializer(StrictSerializer):
    entries = serializers.ListField(
        child=LabelEntryInputSerializer(), allow_empty=False, max_length=200
    )


class TaskSerializer(serializers.ModelSerializer[Task]):
    assignee = UserRefSerializer(read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    site_name = serializers.CharField(source="site.name", read_only=True)

    class Meta:
        model = Task
        fields = [
            "id", "project", "project_name", "site", "site_name", "series_handle", "label_schema",
            "assignee", "status", "due_date", "review_comment", "label_count", "label_state",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class TaskCreateSerializer(StrictSerializer):
    project = serializers.IntegerField(min_value=1)
    site = serializers.IntegerField(min_value=1)
    series_handle = serializers.CharField(max_length=32)
    label_schema = serializers.IntegerField(min_value=1)
    due_date = serializers.DateField(required=False, allow_null=True)


class TaskAssignSerializer(StrictSerializer):
    assignee = serializers.IntegerField(min_value=1, allow_null=True)


class TaskStatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class UserAdminSerializer(serializers.ModelSerializer[User]):
    """An account as admins and auditors see it (``GET /api/users/``): no password hash, ever."""

    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id", "username", "first_name", "last_name", "email", "pseudonym", "roles",
            "is_active", "last_login", "date_joined",
        ]  # fmt: skip

    def get_roles(self, user: User) -> list[str]:
        return sorted(group.name for group in user.groups.all())


class UserCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    roles = serializers.ListField(
        child=serializers.CharField(max_length=32), max_length=10, required=False
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class DeactivateSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class RolesSerializer(StrictSerializer):
    roles = serializers.ListField(child=serializers.CharField(max_length=32), max_length=10)
