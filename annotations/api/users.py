from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
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
