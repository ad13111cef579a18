"""Live progress for a project's lead: PHI-free task summaries pushed to the project's socket.

Best effort by design: the channel layer delivers at most once (DESIGN.md, known traps), so the
lead page also re-reads ``GET /api/projects/<id>/progress/`` every 30 s. Nothing here may fail the
change it reports, and nothing is sent unless that change commits.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from annotations.models import Task

logger = logging.getLogger("rhino.progress")

PROJECT_TASK_EVENT = "project_task"  # handled by ProjectProgressConsumer.project_task


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def task_summary(task: Task, *, deleted: bool = False) -> dict[str, Any]:
    """What the lead's board needs of a task: ids, status and counts — no handles, no names."""
    return {
        "id": task.pk,
        "project": task.project_id,
        "site": task.site_id,
        "assignee": task.assignee_id,
        "status": task.status,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "label_count": task.label_count,
        "label_state": task.label_state,
        "label_revision": task.label_revision,
        "deleted": deleted,
    }


def _send(project_id: int, summary: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            project_group(project_id), {"type": PROJECT_TASK_EVENT, "task": summary}
        )
    except Exception:  # best effort: a full or unreachable layer must not undo a committed change
        logger.warning("project progress notification lost", exc_info=True)


def project_task_notify(task: Task, *, deleted: bool = False) -> None:
    """After the surrounding transaction commits, tell the project's socket about ``task``."""
    summary = task_summary(task, deleted=deleted)
    project_id = task.project_id
    transaction.on_commit(lambda: _send(project_id, summary))
