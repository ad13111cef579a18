"""Reads for the lead's workspace. Visibility: the project's leads (``manage_project``), admins and
auditors read a project's selections and progress; a member who sees the project but does not lead
it gets 403; anyone else 404 (no existence oracle)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet, Sum

from annotations.errors import NotFoundError, PermissionDeniedError
from annotations.models import Project, SeriesSelection, Task, TaskStatus, User
from annotations.selectors import parse_pk, project_get_for_user, sees_everything

# Central receives one label count per task from the site, not a count per label: the board says
# how many labels a task, an annotator or a site has; how many of them are "nodule" is counted at
# the sites on request (GET /api/projects/<id>/progress/labels/), as is reader agreement.
LABEL_COUNT_LIMIT = (
    "Label counts are per task (reported by the site); counts per label and agreement between "
    "readers are computed at the sites on request."
)


def may_read_lead_data(user: User, project: Project) -> bool:
    return sees_everything(user) or user.has_perm("annotations.manage_project", project)


def project_get_for_lead(user: User, project_id: Any) -> Project:
    """The project, if the user may read its lead data; 404 if invisible, 403 if only visible."""
    project = project_get_for_user(user, project_id)
    if not may_read_lead_data(user, project):
        raise PermissionDeniedError("Only the project's leads, admins and auditors may read this.")
    return project


def selection_list_for_project(project: Project) -> QuerySet[SeriesSelection]:
    return SeriesSelection.objects.filter(project=project).select_related("site", "selected_by")


def selection_get_for_lead(user: User, project: Project, selection_id: Any) -> SeriesSelection:
    try:
        return selection_list_for_project(project).get(pk=parse_pk(selection_id))
    except (SeriesSelection.DoesNotExist, NotFoundError):
        raise NotFoundError("No such selection.") from None


def _counts() -> dict[str, int]:
    return dict.fromkeys(TaskStatus.values, 0)


def project_progress(project: Project) -> dict[str, Any]:
    """Counts by status per site and per annotator, and the site-reported label counts."""
    tasks = Task.objects.filter(project=project)
    totals = _counts()
    sites: dict[int, dict[str, Any]] = {}
    for row in tasks.values("site_id", "site__name", "status").annotate(
        n=Count("id"), labels=Sum("label_count")
    ):
        entry = sites.setdefault(
            row["site_id"],
            {"site": row["site_id"], "site_name": row["site__name"], "counts": _counts(),
             "total": 0, "label_count": 0},
        )  # fmt: skip
        entry["counts"][row["status"]] += row["n"]
        entry["total"] += row["n"]
        entry["label_count"] += row["labels"] or 0
        totals[row["status"]] += row["n"]
    annotators: dict[int | None, dict[str, Any]] = {}
    for row in tasks.values(
        "assignee_id", "assignee__username", "assignee__pseudonym", "status"
    ).annotate(n=Count("id"), labels=Sum("label_count")):
        key = row["assignee_id"]
        entry = annotators.setdefault(
            key,
            {
                "annotator": None if key is None else {
                    "id": key, "username": row["assignee__username"],
                    "pseudonym": row["assignee__pseudonym"],
                },
                "counts": _counts(), "total": 0, "label_count": 0,
            },
        )  # fmt: skip
        entry["counts"][row["status"]] += row["n"]
        entry["total"] += row["n"]
        entry["label_count"] += row["labels"] or 0
    label_states: dict[str, int] = defaultdict(int)
    for row in tasks.values("label_state").annotate(n=Count("id")):
        label_states[row["label_state"] or "none"] += row["n"]
    label_total = tasks.aggregate(total=Sum("label_count"))["total"] or 0
    return {
        "project": project.pk,
        "totals": {**totals, "total": sum(totals.values())},
        "by_site": sorted(sites.values(), key=lambda e: (e["site_name"], e["site"])),
        "by_annotator": sorted(
            annotators.values(),
            key=lambda e: (e["annotator"] is None, (e["annotator"] or {}).get("username", "")),
        ),
        "labels": {"total": label_total, "tasks_by_label_state": dict(label_states)},
        "notes": [LABEL_COUNT_LIMIT],
    }
