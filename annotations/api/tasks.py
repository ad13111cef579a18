from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.api.pagination import CursorPagination
from annotations.errors import DomainError
from annotations.models import TaskStatus
from annotations.selectors import (
    label_schema_get_for_user,
    parse_pk,
    project_get_for_user,
    site_get_for_user,
    task_get_for_user,
    task_list_for_user,
)
from annotations.services import tasks as services

_FILTERS = [
    OpenApiParameter("project", OpenApiTypes.INT),
    OpenApiParameter("site", OpenApiTypes.INT),
    OpenApiParameter("status", OpenApiTypes.STR, enum=TaskStatus.values),
    OpenApiParameter("assignee", OpenApiTypes.STR, description="a user id, or `me`"),
]


class TaskListCreateApi(Api):
    @extend_schema(parameters=_FILTERS, responses=s.TaskSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        tasks = task_list_for_user(request.user)
        params = request.query_params
        if "project" in params:
            tasks = tasks.filter(project_id=parse_pk(params["project"]))
        if "site" in params:
            tasks = tasks.filter(site_id=parse_pk(params["site"]))
        if "status" in params:
            if params["status"] not in TaskStatus.values:
                raise DomainError(f"status must be one of {TaskStatus.values}.")
            tasks = tasks.filter(status=params["status"])
        if "assignee" in params:
            assignee = params["assignee"]
            tasks = tasks.filter(
                assignee_id=request.user.pk if assignee == "me" else parse_pk(assignee)
            )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(s.TaskSerializer(page, many=True).data)

    @extend_schema(request=s.TaskCreateSerializer, responses={201: s.TaskSerializer})
    def post(self, request: AuthedRequest) -> Response:
        data = self.parse(s.TaskCreateSerializer, request)
        project = project_get_for_user(request.user, data["project"])
        task = services.task_create(
            actor=request.user,
            project=project,
            site=site_get_for_user(request.user, data["site"]),
            series_handle=data["series_handle"],
            label_schema=label_schema_get_for_user(request.user, data["label_schema"]),
            due_date=data.get("due_date"),
        )
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(Api):
    @extend_schema(responses=s.TaskSerializer)
    def get(self, request: AuthedRequest, task_id: int) -> Response:
        return Response(s.TaskSerializer(task_get_for_user(request.user, task_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, task_id: int) -> Response:
        services.task_delete(actor=request.user, task=task_get_for_user(request.user, task_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskAssignApi(Api):
    @extend_schema(request=s.TaskAssignSerializer, responses=s.TaskSerializer)
    def post(self, request: AuthedRequest, task_id: int) -> Response:
        task = task_get_for_user(request.user, task_id)
        assignee_id = self.parse(s.TaskAssignSerializer, request)["assignee"]
        assignee = user_get(assignee_id) if assignee_id is not None else None
        task = services.task_assign(actor=request.user, task=task, assignee=assignee)
        return Response(s.TaskSerializer(task).data)


class TaskStatusApi(Api):
    @extend_schema(request=s.TaskStatusSerializer, responses=s.TaskSerializer)
    def post(self, request: AuthedRequest, task_id: int) -> Response:
        task = task_get_for_user(request.user, task_id)
        data = self.parse(s.TaskStatusSerializer, request)
        task = services.task_change_status(actor=request.user, task=task, **data)
        return Response(s.TaskSerializer(task).data)
