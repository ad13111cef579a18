from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.selectors import site_get_for_user, site_list_for_user
from annotations.services import sites as services


class SiteListCreateApi(Api):
    @extend_schema(responses=s.SiteSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        return Response(s.SiteSerializer(site_list_for_user(request.user), many=True).data)

    @extend_schema(request=s.SiteCreateSerializer, responses={201: s.SiteSerializer})
    def post(self, request: AuthedRequest) -> Response:
        data = self.parse(s.SiteCreateSerializer, request)
        site = services.site_create(actor=request.user, **data)
        return Response(s.SiteSerializer(site).data, status=status.HTTP_201_CREATED)


class SiteDetailApi(Api):
    @extend_schema(responses=s.SiteSerializer)
    def get(self, request: AuthedRequest, site_id: int) -> Response:
        return Response(s.SiteSerializer(site_get_for_user(request.user, site_id)).data)

    @extend_schema(request=s.SiteUpdateSerializer, responses=s.SiteSerializer)
    def patch(self, request: AuthedRequest, site_id: int) -> Response:
        site = site_get_for_user(request.user, site_id)
        data = self.parse(s.SiteUpdateSerializer, request)
        return Response(
            s.SiteSerializer(services.site_rename(actor=request.user, site=site, **data)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, site_id: int) -> Response:
        services.site_delete(actor=request.user, site=site_get_for_user(request.user, site_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteGatewayKeyApi(Api):
    @extend_schema(request=s.GatewayKeySerializer, responses=s.SiteSerializer)
    def put(self, request: AuthedRequest, site_id: int) -> Response:
        site = site_get_for_user(request.user, site_id)
        data = self.parse(s.GatewayKeySerializer, request)
        site = services.site_register_gateway_key(actor=request.user, site=site, **data)
        return Response(s.SiteSerializer(site).data)


class SiteCustodianAddApi(Api):
    @extend_schema(request=s.UserIdSerializer, responses={204: None})
    def post(self, request: AuthedRequest, site_id: int) -> Response:
        site = site_get_for_user(request.user, site_id)
        user = user_get(self.parse(s.UserIdSerializer, request)["user"])
        services.site_custodian_grant(actor=request.user, site=site, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteCustodianRemoveApi(Api):
    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, site_id: int, user_id: int) -> Response:
        site = site_get_for_user(request.user, site_id)
        services.site_custodian_revoke(actor=request.user, site=site, user=user_get(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
