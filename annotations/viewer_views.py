"""The viewer page: the task, its coded label schema, presets and the user's shortcuts as json_script.

No pixels, labels or DICOM-derived strings pass through this page: the viewer fetches those from
the site through the Secure Access socket, and puts every such string in the page as text only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from annotations.api.serializers import LabelEntrySerializer, TaskSerializer
from annotations.errors import NotFoundError
from annotations.models import Task, TaskStatus, User
from annotations.selectors import task_get_for_user, task_list_for_user


def _next_task(user: User, task: Task) -> Task | None:
    """The user's next open task after this one (oldest first), for "submit and next"."""
    return (
        task_list_for_user(user)
        .filter(assignee=user, status__in=[TaskStatus.PENDING, TaskStatus.IN_PROGRESS,
                                           TaskStatus.REJECTED])
        .exclude(pk=task.pk)
        .order_by("due_date", "created_at", "id")
        .first()
    )  # fmt: skip


@login_required
@require_GET
def viewer(request: HttpRequest, task_id: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    try:
        task = task_get_for_user(user, task_id)
    except NotFoundError:
        raise Http404("No such task.") from None
    following = _next_task(user, task)
    data: dict[str, Any] = {
        "task": TaskSerializer(task).data,
        "schema": {
            "id": task.label_schema_id,
            "version": task.label_schema.version,
            "entries": LabelEntrySerializer(task.label_schema.entries.all(), many=True).data,
        },
        "presets": task.project.viewer_presets or {},
        "shortcuts": (user.preferences or {}).get("shortcuts", {}),
        "may_annotate": task.assignee_id == user.pk
        and user.has_perm("annotations.annotate_task", task),
        "urls": {
            "sessions": reverse("api-task-sessions", args=[task.pk]),
            "status": reverse("api-task-status", args=[task.pk]),
            "task": reverse("api-task", args=[task.pk]),
            "preferences": reverse("api-me-preferences"),
            "home": reverse("home"),
            "next": reverse("viewer", args=[following.pk]) if following else None,
        },
    }
    return render(request, "viewer/viewer.html", {"viewer": data, "task": task})
