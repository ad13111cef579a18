from __future__ import annotations

import datetime

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError, InvalidTransitionError
from annotations.models import LabelSchema, Project, Site, Task, TaskStatus, User
from annotations.models.tasks import TASK_TRANSITIONS
from annotations.selectors import is_admin
from annotations.services.access import deny, require_perm
from annotations.services.audit import audit_record
from annotations.services.progress import project_task_notify
from imaging.handles import HandleKind, handle_kind

ANNOTATOR_PERMS = ("annotations.annotate_task", "annotations.view_task")

# Who moves a task along: the assignee works it, a reviewer (or the project's lead) decides it.
_ANNOTATOR_MOVES = frozenset(
    {
        (TaskStatus.PENDING, TaskStatus.IN_PROGRESS),
        (TaskStatus.IN_PROGRESS, TaskStatus.SUBMITTED),
        (TaskStatus.REJECTED, TaskStatus.IN_PROGRESS),
    }
)
_REVIEWER_MOVES = frozenset(
    {(TaskStatus.SUBMITTED, TaskStatus.APPROVED), (TaskStatus.SUBMITTED, TaskStatus.REJECTED)}
)


def _validate_series_handle(handle: str) -> None:
    try:
        kind = handle_kind(handle)
    except ValueError:
        kind = None
    if kind is not HandleKind.SERIES:
        raise DomainError(
            "series_handle must be a series handle issued by the site (se_ + 20 base32 characters).",
            fields={"series_handle": ["Not a series handle."]},
        )


def task_create(
    *,
    actor: User,
    project: Project,
    site: Site,
    series_handle: str,
    label_schema: LabelSchema,
    due_date: datetime.date | None = None,
) -> Task:
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.TASK_CREATE)
    _validate_series_handle(series_handle)
    if not project.sites.filter(pk=site.pk).exists():
        raise DomainError(
            "The site is not part of this project.", fields={"site": ["Not in project."]}
        )
    if label_schema.project_id != project.pk:
        raise DomainError(
            "The label schema belongs to another project.",
            fields={"label_schema": ["Wrong project."]},
        )
    with transaction.atomic():
        task = Task.objects.create(
            project=project,
            site=site,
            series_handle=series_handle,
            label_schema=label_schema,
            due_date=due_date,
            created_by=actor,
        )
        audit_record(
            actor=actor, action=AuditAction.TASK_CREATE, obj=task, project_id=project.pk,
            site_id=site.pk, detail={"series_handle": series_handle},
        )  # fmt: skip
        project_task_notify(task)
    return task


def task_assign(*, actor: User, task: Task, assignee: User | None) -> Task:
    """Give the task to ``assignee`` (or nobody); object permissions follow the assignment."""
    require_perm(
        actor=actor, perm="manage_project", obj=task.project, action=AuditAction.TASK_ASSIGN
    )
    if assignee is not None and not task.project.members.filter(pk=assignee.pk).exists():
        raise DomainError(
            "The assignee must be a member of the project.", fields={"assignee": ["Not a member."]}
        )
    if task.status == TaskStatus.APPROVED:
        raise InvalidTransitionError("An approved task cannot be reassigned.")
    with transaction.atomic():
        previous = task.assignee
        if previous is not None:
            for perm in ANNOTATOR_PERMS:
                remove_perm(perm, previous, task)
        if assignee is not None:
            for perm in ANNOTATOR_PERMS:
                assign_perm(perm, assignee, task)
        task.assignee = assignee
        task.save(update_fields=["assignee", "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.TASK_ASSIGN, obj=task, project_id=task.project_id,
            site_id=task.site_id,
            detail={"from": previous.pk if previous else None, "to": assignee.pk if assignee else None},
        )  # fmt: skip
        project_task_notify(task)
    return task


def task_change_status(*, actor: User, task: Task, status: str, comment: str = "") -> Task:
    if status not in TaskStatus.values or not task.can_become(status):
        raise InvalidTransitionError(
            f"A {task.status} task cannot become {status!r}; "
            f"allowed: {sorted(TASK_TRANSITIONS[task.status]) or 'none (final)'}."
        )
    if status == TaskStatus.REJECTED and not comment.strip():
        raise DomainError(
            "A rejection needs a comment: the annotator reads it in the viewer.",
            fields={"comment": ["Required when rejecting."]},
        )
    move = (task.status, status)
    if move in _ANNOTATOR_MOVES:
        if task.assignee_id != actor.pk or not actor.has_perm("annotations.annotate_task", task):
            raise deny(
                actor=actor,
                action=AuditAction.TASK_STATUS_CHANGE,
                obj=task,
                reason="Only the assignee works a task.",
            )
    elif move in _REVIEWER_MOVES:
        may_review = (
            is_admin(actor)
            or actor.has_perm("annotations.review_task", task)
            or actor.has_perm("annotations.manage_project", task.project)
        )
        if not may_review or task.assignee_id == actor.pk:
            raise deny(
                actor=actor, action=AuditAction.TASK_STATUS_CHANGE, obj=task,
                reason="Only a reviewer other than the annotator decides a submitted task.",
            )  # fmt: skip
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.status != task.status:
            raise InvalidTransitionError("The task changed meanwhile; reload it.")
        previous = task.status
        task.status = status
        if status == TaskStatus.REJECTED or (status == TaskStatus.APPROVED and comment):
            task.review_comment = comment
        task.save(update_fields=["status", "review_comment", "updated_at"])
        audit_record(
            actor=actor, action=AuditAction.TASK_STATUS_CHANGE, obj=task, project_id=task.project_id,
            site_id=task.site_id, detail={"from": previous, "to": status},
        )  # fmt: skip
        project_task_notify(task)
    return task


def task_delete(*, actor: User, task: Task) -> None:
    require_perm(
        actor=actor, perm="manage_project", obj=task.project, action=AuditAction.TASK_DELETE
    )
    with transaction.atomic():
        audit_record(
            actor=actor, action=AuditAction.TASK_DELETE, obj=task, project_id=task.project_id,
            site_id=task.site_id,
        )  # fmt: skip
        project_task_notify(task, deleted=True)
        task.delete()  # its object permissions go with it (direct foreign keys, CASCADE)
