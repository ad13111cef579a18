"""Live progress for a project's lead: PHI-free task summaries pushed to the project's socket.

Best effort by design: the channel layer delivers at most once (DESIGN.md, known traps), so the
lead page also re-reads ``GET /api/projects/<id>/progress/`` every 30 s. Nothing here may fail the
change it reports, and nothing is sent unless that change commits.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from annotations.models import Task

logger = logging.getLogger("rhino.progress")

PROJECT_TASK_EVENT = "project_task"  # handled by ProjectProgressConsumer.project_task
PROJECT_TASKS_EVENT = "project_tasks"  # many at once: ProjectProgressConsumer.project_tasks
# Above this many tasks changed together, one "refresh" message replaces the per-task ones: the
# channel layer carries only ~60-190 messages/s here (DESIGN.md), and a bulk creation of hundreds
# of tasks must not queue hundreds of messages behind its commit.
BATCH_LIMIT = 20

_batch: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "project_notify_batch", default=None
)


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
    _send_event(project_id, {"type": PROJECT_TASK_EVENT, "task": summary})


def _send_event(project_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(project_group(project_id), event)
    except Exception:  # best effort: a full or unreachable layer must not undo a committed change
        logger.warning("project progress notification lost", exc_info=True)


def _send_many(project_id: int, summaries: list[dict[str, Any]]) -> None:
    if len(summaries) > BATCH_LIMIT:
        _send_event(project_id, {"type": PROJECT_TASKS_EVENT, "count": len(summaries)})
        return
    for summary in summaries:
        _send(project_id, summary)


def project_task_notify(task: Task, *, deleted: bool = False) -> None:
    """After the surrounding transaction commits, tell the project's socket about ``task``
    (inside ``project_notify_batch``: once, with the batch)."""
    summary = task_summary(task, deleted=deleted)
    batch = _batch.get()
    if batch is not None:
        batch[task.pk] = summary  # the latest state of each task
        return
    project_id = task.project_id
    transaction.on_commit(lambda: _send(project_id, summary))


@contextmanager
def project_notify_batch(project_id: int) -> Iterator[None]:
    """Collect the task notifications of the block; send them together on commit (or, above
    BATCH_LIMIT tasks, one ``project_tasks`` message). Nothing is sent if the block raises."""
    token = _batch.set({})
    try:
        yield
        summaries = list((_batch.get() or {}).values())
    finally:
        _batch.reset(token)
    if summaries:
        transaction.on_commit(lambda: _send_many(project_id, summaries))
