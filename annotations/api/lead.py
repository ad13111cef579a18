"""The lead's workspace API (issue 8): selections, bulk task creation, the progress board."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.api.pagination import CursorPagination
from annotations.errors import DomainError, NotFoundError
from annotations.lead.selectors import (
    project_get_for_lead,
    project_progress,
    selection_get_for_lead,
    selection_list_for_project,
)
from annotations.models import (
    SELECTION_REASONS,
    SelectionDecision,
    SeriesSelection,
)
from annotations.selectors import (
    label_schema_get_for_user,
    parse_pk,
    project_get_for_user,
    site_get_for_user,
)
from annotations.services import selections as services


class SelectionReasonSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    decision = serializers.CharField()
    code_value = serializers.CharField()
    coding_scheme = serializers.CharField()
    code_meaning = serializers.CharField()


class SelectionSerializer(serializers.ModelSerializer[SeriesSelection]):
    site_name = serializers.CharField(source="site.name", read_only=True)
    reason = serializers.CharField(source="reason_key", read_only=True)
    selected_by = s.UserRefSerializer(read_only=True)

    class Meta:
        model = SeriesSelection
        fields = [
            "id", "project", "site", "site_name", "study_handle", "series_handle", "decision",
            "reason", "reason_code_value", "reason_coding_scheme", "reason_code_meaning",
            "kos_state", "selected_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class SelectionRecordSerializer(s.StrictSerializer):
    site = serializers.IntegerField(min_value=1)
    study_handle = serializers.CharField(max_length=32)
    series_handle = serializers.CharField(max_length=32)
    decision = serializers.ChoiceField(choices=SelectionDecision.choices)
    reason = serializers.ChoiceField(choices=sorted(SELECTION_REASONS))


class TaskBulkCreateSerializer(s.StrictSerializer):
    selections = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_null=True,
        allow_empty=False, max_length=1000,
    )  # fmt: skip
    readers = serializers.ListField(
        child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=20
    )
    label_schema = serializers.IntegerField(min_value=1)
    due_date = serializers.DateField(required=False, allow_null=True)


class SelectionReasonListApi(Api):
    @extend_schema(responses=SelectionReasonSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        reasons = [
            {"key": r.key, "decision": r.decision.value, "code_value": r.code_value,
             "coding_scheme": r.coding_scheme, "code_meaning": r.code_meaning}
            for r in SELECTION_REASONS.values()
        ]  # fmt: skip
        return Response(reasons)


class SelectionListCreateApi(Api):
    @extend_schema(
        parameters=[
            OpenApiParameter("decision", OpenApiTypes.STR, enum=SelectionDecision.values),
            OpenApiParameter("site", OpenApiTypes.INT),
        ],
        responses=SelectionSerializer(many=True),
    )
    def get(self, request: AuthedRequest, project_id: str) -> Response:
        project = project_get_for_lead(request.user, project_id)
        selections = selection_list_for_project(project)
        params = request.query_params
        if "decision" in params:
            if params["decision"] not in SelectionDecision.values:
                raise DomainError(f"decision must be one of {SelectionDecision.values}.")
            selections = selections.filter(decision=params["decision"])
        if "site" in params:
            selections = selections.filter(site_id=parse_pk(params["site"]))
        paginator = CursorPagination()
        page = paginator.paginate_queryset(selections, request, view=self)
        return paginator.get_paginated_response(SelectionSerializer(page, many=True).data)

    @extend_schema(request=SelectionRecordSerializer, responses={201: SelectionSerializer})
    def post(self, request: AuthedRequest, project_id: str) -> Response:
        project = project_get_for_user(request.user, project_id)
        data = self.parse(SelectionRecordSerializer, request)
        selection = services.selection_record(
            actor=request.user,
            project=project,
            site=site_get_for_user(request.user, data.pop("site")),
            **data,
        )
        return Response(SelectionSerializer(selection).data, status=status.HTTP_201_CREATED)


class SelectionDetailApi(Api):
    @extend_schema(responses=SelectionSerializer)
    def get(self, request: AuthedRequest, project_id: str, selection_id: str) -> Response:
        project = project_get_for_lead(request.user, project_id)
        selection = selection_get_for_lead(request.user, project, selection_id)
        return Response(SelectionSerializer(selection).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthedRequest, project_id: str, selection_id: str) -> Response:
        project = project_get_for_lead(request.user, project_id)
        selection = selection_get_for_lead(request.user, project, selection_id)
        services.selection_withdraw(actor=request.user, selection=selection)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskBulkCreateApi(Api):
    @extend_schema(request=TaskBulkCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: AuthedRequest, project_id: str) -> Response:
        project = project_get_for_user(request.user, project_id)
        data = self.parse(TaskBulkCreateSerializer, request)
        selections = None
        if data.get("selections") is not None:
            ids = list(dict.fromkeys(data["selections"]))
            found = {
                sel.pk: sel for sel in SeriesSelection.objects.filter(project=project, pk__in=ids)
            }
            missing = [pk for pk in ids if pk not in found]
            if missing:
                raise NotFoundError(f"No such selections in this project: {missing}.")
            selections = [found[pk] for pk in ids]
        result = services.tasks_create_from_selections(
            actor=request.user,
            project=project,
            selections=selections,
            readers=[user_get(pk) for pk in dict.fromkeys(data["readers"])],
            label_schema=label_schema_get_for_user(request.user, data["label_schema"]),
            due_date=data.get("due_date"),
        )
        body = {
            "created": s.TaskSerializer(result.created, many=True).data,
            "skipped": [{"series_handle": h, "reader": r} for h, r in result.skipped],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectProgressApi(Api):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: AuthedRequest, project_id: str) -> Response:
        project = project_get_for_lead(request.user, project_id)
        return Response(project_progress(project))
