from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.audit_actions import AuditAction
from annotations.models import User
from annotations.selectors import sees_everything
from annotations.services import users as services
from annotations.services.access import deny
from annotations.services.audit import audit_record
from annotations.services.users import user_set_roles, user_update_preferences


class MeApi(Api):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: AuthedRequest) -> Response:
        return Response(s.MeSerializer(request.user).data)


class UserRolesApi(Api):
    @extend_schema(request=s.RolesSerializer, responses=s.MeSerializer)
    def put(self, request: AuthedRequest, user_id: int) -> Response:
        user = user_get(user_id)
        roles = self.parse(s.RolesSerializer, request)["roles"]
        return Response(
            s.MeSerializer(user_set_roles(actor=request.user, user=user, roles=roles)).data
        )


class PreferencesSerializer(s.StrictSerializer):
    # Shape only; which commands and keys are valid is the service's rule.
    shortcuts = serializers.DictField(child=serializers.CharField(max_length=24), allow_empty=True)


class MePreferencesApi(Api):
    @extend_schema(request=PreferencesSerializer, responses=s.MeSerializer)
    def put(self, request: AuthedRequest) -> Response:
        preferences = self.parse(PreferencesSerializer, request)
        user = user_update_preferences(actor=request.user, preferences=preferences)
        return Response(s.MeSerializer(user).data)


class UserListCreateApi(Api):
    """Accounts for admin scripts (the console's Users and roles page, over the API)."""

    @extend_schema(responses=s.UserAdminSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        if not sees_everything(request.user):
            raise deny(
                actor=request.user,
                action="users.read",
                obj=None,
                reason="Admins and auditors only.",
            )
        users = User.objects.order_by("username", "id").prefetch_related("groups")
        data = s.UserAdminSerializer(users, many=True).data
        audit_record(
            actor=request.user,
            action=AuditAction.AUDIT_READ,
            detail={"view": "users", "rows": len(data), "api": True},
        )
        return Response(data)

    @extend_schema(request=s.UserCreateSerializer, responses={201: s.UserAdminSerializer})
    def post(self, request: AuthedRequest) -> Response:
        data = self.parse(s.UserCreateSerializer, request)
        user = services.user_create(actor=request.user, **data)
        return Response(s.UserAdminSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDeactivateApi(Api):
    @extend_schema(request=s.DeactivateSerializer, responses=s.UserAdminSerializer)
    def post(self, request: AuthedRequest, user_id: int) -> Response:
        user = user_get(user_id, active_only=False)
        reason = self.parse(s.DeactivateSerializer, request)["reason"]
        user = services.user_deactivate(actor=request.user, user=user, reason=reason)
        return Response(s.UserAdminSerializer(user).data)


class UserReactivateApi(Api):
    @extend_schema(request=None, responses=s.UserAdminSerializer)
    def post(self, request: AuthedRequest, user_id: int) -> Response:
        user = services.user_reactivate(
            actor=request.user, user=user_get(user_id, active_only=False)
        )
        return Response(s.UserAdminSerializer(user).data)
