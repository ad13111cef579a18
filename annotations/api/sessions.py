from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from annotations.api.base import Api, AuthedRequest
from annotations.api.serializers import StrictSerializer, UserRefSerializer
from annotations.models import SecureAccessSession
from annotations.selectors import session_get_for_user, session_list_for_user, task_get_for_user
from annotations.services import sessions as services


class SessionSerializer(serializers.ModelSerializer[SecureAccessSession]):
    user = UserRefSerializer(read_only=True)
    task = serializers.IntegerField(source="task_id", read_only=True)
    site = serializers.IntegerField(source="task.site_id", read_only=True)
    site_name = serializers.CharField(source="task.site.name", read_only=True)
    actions = serializers.ListField(
        source="scope.actions", child=serializers.CharField(), read_only=True
    )
    series = serializers.ListField(
        source="scope.series", child=serializers.CharField(), read_only=True
    )
    websocket = serializers.SerializerMethodField()

    class Meta:
        model = SecureAccessSession
        fields = [
            "id", "user", "task", "site", "site_name", "actions", "series", "created_at", "expires_at",
            "closed_at", "close_reason", "websocket",
        ]  # fmt: skip
        read_only_fields = fields

    def get_websocket(self, session: SecureAccessSession) -> str:
        return f"/ws/sessions/{session.pk}/"


class RevokeSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class EmptySerializer(StrictSerializer):
    pass


class TaskSessionOpenApi(Api):
    @extend_schema(request=None, responses={201: SessionSerializer})
    def post(self, request: AuthedRequest, task_id: str) -> Response:
        if request.data:
            self.parse(EmptySerializer, request)
        task = task_get_for_user(request.user, task_id)
        session = services.session_open(actor=request.user, task=task)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionListApi(Api):
    @extend_schema(responses=SessionSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        sessions = session_list_for_user(request.user)[:500]
        return Response(SessionSerializer(sessions, many=True).data)


class SessionDetailApi(Api):
    @extend_schema(responses=SessionSerializer)
    def get(self, request: AuthedRequest, session_id: str) -> Response:
        return Response(SessionSerializer(session_get_for_user(request.user, session_id)).data)


class SessionRenewApi(Api):
    @extend_schema(request=None, responses=SessionSerializer)
    def post(self, request: AuthedRequest, session_id: str) -> Response:
        session = session_get_for_user(request.user, session_id)
        return Response(
            SessionSerializer(services.session_renew(actor=request.user, session=session)).data
        )


class SessionCloseApi(Api):
    @extend_schema(request=None, responses=SessionSerializer)
    def post(self, request: AuthedRequest, session_id: str) -> Response:
        session = session_get_for_user(request.user, session_id)
        return Response(
            SessionSerializer(services.session_close(actor=request.user, session=session)).data
        )


class SessionRevokeApi(Api):
    @extend_schema(request=RevokeSerializer, responses=SessionSerializer)
    def post(self, request: AuthedRequest, session_id: str) -> Response:
        session = session_get_for_user(request.user, session_id)
        reason = self.parse(RevokeSerializer, request).get("reason", "")
        session = services.session_revoke(actor=request.user, session=session, reason=reason)
        return Response(SessionSerializer(session).data)
