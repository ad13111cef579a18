"""Server-rendered pages. Data reaches the page through json_script / data-* attributes only."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotations.api.serializers import MeSerializer, TaskSerializer
from annotations.models import Site, User
from annotations.selectors import project_list_for_user, task_list_for_user


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    # A worklist reads as a queue: what is due first, then what was assigned first.
    tasks = (
        task_list_for_user(user)
        .filter(assignee=user)
        .order_by(F("due_date").asc(nulls_last=True), "created_at", "id")[:200]
    )
    context = {
        "me": MeSerializer(user).data,
        "tasks": TaskSerializer(tasks, many=True).data,
        "projects": list(project_list_for_user(user).values("id", "name")),
    }
    return render(request, "annotations/home.html", context)


@require_GET
def healthz_sites(request: HttpRequest) -> JsonResponse:
    """How many enrolled sites' gateways are connected: for staff, and for the demo (DEBUG)
    launcher. A site without a registered key cannot connect: it is counted apart, not as
    offline, so "offline": 0 means every gateway that could be here is."""
    if not (settings.DEBUG or (request.user.is_authenticated and request.user.is_staff)):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    enrolled = Site.objects.exclude(gateway_public_key="")
    online = enrolled.filter(is_online=True).count()
    return JsonResponse(
        {
            "online": online,
            "offline": enrolled.count() - online,
            "not_enrolled": Site.objects.filter(gateway_public_key="").count(),
        }
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
