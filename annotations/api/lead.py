"""The lead's workspace API (issue 8): selections, bulk task creation, the progress board."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api import serializers as s
from annotations.api.base import Api, AuthedRequest, user_get
from annotations.api.errors import error_body, exception_handler
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
    Project,
    SelectionDecision,
    SelectionWithdrawal,
    SeriesSelection,
    Site,
    User,
)
from annotations.selectors import (
    label_schema_get_for_user,
    parse_pk,
    project_get_for_user,
    site_get_for_user,
)
from annotations.services import browse
from annotations.services import selections as services
from imaging.handles import HandleKind
from site_gateway.protocol import ProtocolError, require_handle


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


class WithdrawalSerializer(serializers.ModelSerializer[SelectionWithdrawal]):
    site_name = serializers.CharField(source="site.name", read_only=True)

    class Meta:
        model = SelectionWithdrawal
        fields = ["id", "site", "site_name", "series_handle", "requested_at", "state", "code"]


class WithdrawalListApi(Api):
    """Withdrawn selections whose KOS the site has not retired yet (pending: the site was away;
    failed: it refused, with its code). Empty once every site has answered."""

    @extend_schema(responses=WithdrawalSerializer(many=True))
    def get(self, request: AuthedRequest, project_id: str) -> Response:
        project = project_get_for_lead(request.user, project_id)
        withdrawals = SelectionWithdrawal.objects.filter(project=project).select_related("site")
        paginator = CursorPagination()
        page = paginator.paginate_queryset(withdrawals, request, view=self)  # newest first
        return paginator.get_paginated_response(WithdrawalSerializer(page, many=True).data)


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


# --- the series browser and reader agreement: async views, because they wait for a site ---
#
# DRF's views are synchronous, and daphne runs every synchronous view of a worker in one thread:
# a view waiting seconds for a site would hold up every other request. These views authenticate
# with DRF's own authenticators and translate errors with the API's one exception handler (in a
# short synchronous step), then wait for the site on the event loop.


class SeriesQuerySerializer(s.StrictSerializer):
    modality = serializers.RegexField(r"^[A-Za-z0-9]{1,16}$", required=False)
    body_part = serializers.CharField(max_length=64, required=False)
    text = serializers.CharField(max_length=64, required=False)
    min_images = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False)


class ThumbnailQuerySerializer(s.StrictSerializer):
    """``?index=&size=`` of a thumbnail: any slice, up to 512 px (the lead's read-only check)."""

    index = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    size = serializers.IntegerField(min_value=16, max_value=512, required=False)


class AgreementQuerySerializer(s.StrictSerializer):
    tasks = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=2, max_length=10
    )


def _authenticated(request: HttpRequest) -> User:
    # The API's configured authenticators (token, session), as every DRF view uses them. The
    # parsers too: SessionAuthentication's CSRF check reads ``request.POST`` of a POST.
    view = APIView()
    drf_request = Request(
        request, parsers=view.get_parsers(), authenticators=view.get_authenticators()
    )
    user = drf_request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return user


def _error_response(exc: Exception) -> JsonResponse:
    response = exception_handler(exc, {})
    if response is None:
        raise exc
    reply = JsonResponse(response.data, status=response.status_code)
    if response.status_code == 401:
        reply["WWW-Authenticate"] = "Token"
    return reply


def _browse_context(
    request: HttpRequest, project_id: str, site_id: str, query: Mapping[str, Any] | None
) -> tuple[User, Project, Site, dict[str, Any]]:
    user = _authenticated(request)
    project = project_get_for_user(user, project_id)
    site = project.sites.filter(pk=parse_pk(site_id)).first()
    if site is None:
        raise NotFoundError("No such site in this project.")
    params: dict[str, Any] = {}
    if query is not None:
        serializer = SeriesQuerySerializer(
            data={k: v for k, v in query.items() if v not in ("", None)}
        )
        serializer.is_valid(raise_exception=True)
        params = dict(serializer.validated_data)
    return user, project, site, params


async def series_browse_api(request: HttpRequest, project_id: str, site_id: str) -> HttpResponse:
    """``GET /api/projects/<id>/sites/<site_id>/series/?modality=&body_part=&text=&min_images=``"""
    if request.method != "GET":
        return _error_response(exceptions.MethodNotAllowed(str(request.method)))
    try:
        user, project, site, query = await sync_to_async(_browse_context)(
            request, project_id, site_id, request.GET
        )
        result = await browse.series_browse(actor=user, project=project, site=site, query=query)
    except (DomainError, exceptions.APIException) as exc:
        return await sync_to_async(_error_response)(exc)
    return JsonResponse(result)


async def series_thumbnail_api(
    request: HttpRequest, project_id: str, site_id: str, series_handle: str
) -> HttpResponse:
    """``GET …/series/<series_handle>/thumbnail``: the site's JPEG, relayed, not stored."""
    if request.method != "GET":
        return _error_response(exceptions.MethodNotAllowed(str(request.method)))
    try:
        require_handle({"series": series_handle}, "series", HandleKind.SERIES)
    except ProtocolError:
        return _error_response(
            DomainError("Not a series handle.", fields={"series_handle": ["Not a handle."]})
        )
    try:
        user, project, site, _ = await sync_to_async(_browse_context)(
            request, project_id, site_id, None
        )
        options = ThumbnailQuerySerializer(data=dict(request.GET.items()))
        options.is_valid(raise_exception=True)
        thumb = await browse.series_thumbnail(
            actor=user, project=project, site=site, series_handle=series_handle,
            **options.validated_data,
        )  # fmt: skip
    except (DomainError, exceptions.APIException) as exc:
        return await sync_to_async(_error_response)(exc)
    if thumb.reply.status != "ok":
        status_code = {"offline": 503, "timeout": 504}.get(thumb.reply.status, 502)
        if thumb.reply.code == "not_found":
            status_code = 404
        elif thumb.reply.code == "bad_message":  # e.g. a slice beyond the series: the asker's
            status_code = 400
        error = thumb.reply.error_json() or {}
        return JsonResponse(
            error_body(error.get("code", "site_error"), error.get("message", "")),
            status=status_code,
        )
    response = HttpResponse(thumb.image, content_type="image/jpeg")
    # The browser may keep it a while; central keeps nothing.
    response["Cache-Control"] = "private, max-age=600"
    if thumb.slice_thickness is not None:
        response["X-Slice-Thickness"] = f"{thumb.slice_thickness:g}"
    if thumb.images is not None:
        response["X-Images"] = str(thumb.images)
    if thumb.index is not None:
        response["X-Index"] = str(thumb.index)
    return response


def _agreement_context(
    request: HttpRequest, project_id: str, body: bytes
) -> tuple[User, Project, list[int]]:
    user = _authenticated(request)
    project = project_get_for_user(user, project_id)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise exceptions.ParseError() from None
    serializer = AgreementQuerySerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return user, project, list(serializer.validated_data["tasks"])


@csrf_exempt  # as DRF's views: CSRF is enforced for session sign-ins in _authenticated
async def reader_agreement_api(request: HttpRequest, project_id: str) -> HttpResponse:
    """``POST /api/projects/<id>/agreement/`` ``{"tasks": [ids]}``: numbers from the site.

    Token clients (the SDK) send no CSRF token, so Django's middleware must not refuse them;
    DRF's SessionAuthentication (in ``_authenticated``) still refuses a session-authenticated
    POST without one (403), exactly as for every DRF view."""
    if request.method != "POST":
        return _error_response(exceptions.MethodNotAllowed(str(request.method)))
    try:
        user, project, tasks = await sync_to_async(_agreement_context)(
            request, project_id, request.body
        )
        result = await browse.reader_agreement(actor=user, project=project, task_ids=tasks)
    except (DomainError, exceptions.APIException) as exc:
        return await sync_to_async(_error_response)(exc)
    return JsonResponse(result)


def _label_progress_context(request: HttpRequest, project_id: str) -> tuple[User, Project]:
    user = _authenticated(request)
    return user, project_get_for_user(user, project_id)


async def label_progress_api(request: HttpRequest, project_id: str) -> HttpResponse:
    """``GET /api/projects/<id>/progress/labels/``: labels per label, counted at the sites."""
    if request.method != "GET":
        return _error_response(exceptions.MethodNotAllowed(str(request.method)))
    try:
        user, project = await sync_to_async(_label_progress_context)(request, project_id)
        result = await browse.label_progress(actor=user, project=project)
    except (DomainError, exceptions.APIException) as exc:
        return await sync_to_async(_error_response)(exc)
    return JsonResponse(result)
