"""``POST /api/auth/token/``: an API token for a username and password (for the Python SDK)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from annotations.api import serializers as s
from annotations.api.base import Api
from annotations.services.tokens import token_issue


class TokenObtainThrottle(SimpleRateThrottle):
    """Per client address, signed in or not: password guessing is slowed whoever asks."""

    scope = "auth_token"
    rate = "20/min"

    def get_rate(self) -> str:
        return self.rate or "20/min"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenObtainSerializer(s.StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenObtainApi(Api):
    # No session (and so no CSRF) here: the credentials are in the body, and the answer is a token.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenObtainThrottle]

    @extend_schema(
        request=TokenObtainSerializer,
        responses=inline_serializer("Token", {"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        data = self.parse(TokenObtainSerializer, request)
        token = token_issue(username=data["username"], password=data["password"])
        return Response({"token": token.key})
