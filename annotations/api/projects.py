from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.selectors import (
    label_schema_get_for_user,
    label_schema_list_for_project,
    project_get_for_user,
    project_list_for_user,
    site_get_for_user,
)
from annotations.services import projects as services


class ProjectListCreateApi(Api):
    @extend_schema(responses=s.ProjectSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        projects = project_list_for_user(request.user).prefetch_related("leads", "sites")
        return Response(s.ProjectSerializer(projects, many=True).data)

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: AuthedRequest) -> Response:
        project = services.project_create(
            actor=request.user, **self.parse(s.ProjectCreateSerializer, request)
        )
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(Api):
    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request: AuthedRequest, project_id: int) -> Response:
        return Response(s.ProjectSerializer(project_get_for_user(request.user, project_id)).data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def patch(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        changes = self.parse(s.ProjectUpdateSerializer, request)
        project = services.project_update(actor=request.user, project=project, changes=changes)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, project_id: int) -> Response:
        services.project_delete(
            actor=request.user, project=project_get_for_user(request.user, project_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectLeadAddApi(Api):
    @extend_schema(request=s.UserIdSerializer, responses={204: None})
    def post(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        user = user_get(self.parse(s.UserIdSerializer, request)["user"])
        services.project_lead_add(actor=request.user, project=project, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectLeadRemoveApi(Api):
    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, project_id: int, user_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        services.project_lead_remove(actor=request.user, project=project, user=user_get(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectMemberAddApi(Api):
    @extend_schema(request=s.UserIdSerializer, responses={204: None})
    def post(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        user = user_get(self.parse(s.UserIdSerializer, request)["user"])
        services.project_member_add(actor=request.user, project=project, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectMemberRemoveApi(Api):
    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, project_id: int, user_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        services.project_member_remove(actor=request.user, project=project, user=user_get(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectSiteAddApi(Api):
    @extend_schema(request=s.SiteIdSerializer, responses={204: None})
    def post(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        site = site_get_for_user(request.user, self.parse(s.SiteIdSerializer, request)["site"])
        services.project_site_add(actor=request.user, project=project, site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectSiteRemoveApi(Api):
    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, project_id: int, site_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        site = site_get_for_user(request.user, site_id)
        services.project_site_remove(actor=request.user, project=project, site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelSchemaListCreateApi(Api):
    @extend_schema(responses=s.LabelSchemaSerializer(many=True))
    def get(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        return Response(
            s.LabelSchemaSerializer(label_schema_list_for_project(project), many=True).data
        )

    @extend_schema(request=s.LabelSchemaCreateSerializer, responses={201: s.LabelSchemaSerializer})
    def post(self, request: AuthedRequest, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        entries = self.parse(s.LabelSchemaCreateSerializer, request)["entries"]
        schema = services.label_schema_create(actor=request.user, project=project, entries=entries)
        return Response(s.LabelSchemaSerializer(schema).data, status=status.HTTP_201_CREATED)


class LabelSchemaDetailApi(Api):
    @extend_schema(responses=s.LabelSchemaSerializer)
    def get(self, request: AuthedRequest, schema_id: int) -> Response:
        return Response(
            s.LabelSchemaSerializer(label_schema_get_for_user(request.user, schema_id)).data
        )
