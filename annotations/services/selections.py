"""Series selections and bulk task creation from them (issue 8, the lead's workspace).

Central records the lead's choice by handle with a coded reason. The site writes it back as a Key
Object Selection document, requested on commit (``_selection_kos_writeback_hook``, over the
site's control link: ``annotations/services/site_requests.py``). A withdrawal asks the site to
retire that KOS (``_selection_kos_withdraw_hook``); a new decision for the same series is a new
``selection.write``, and the site retires the KOS of the old decision itself.

Delivery is durable: a selection stays ``pending`` and a withdrawal is kept as a
``SelectionWithdrawal`` until the site answers, and both are sent again when the site's control
link comes up (``site_requests.site_redeliver_pending``). A redelivery is not a lead action and
writes no ``selection.record`` / ``selection.withdraw`` event; the site's answer is audited.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError
from annotations.models import (
    SELECTION_REASONS,
    KosState,
    LabelSchema,
    Project,
    SelectionDecision,
    SelectionWithdrawal,
    SeriesSelection,
    Site,
    Task,
    User,
    WithdrawalState,
)
from annotations.services.access import require_perm
from annotations.services.audit import audit_record
from annotations.services.progress import project_notify_batch
from annotations.services.tasks import task_assign, task_create
from imaging.handles import HandleKind, handle_kind

MAX_BULK_TASKS = 2000
logger = logging.getLogger(__name__)


def _require_handle(name: str, value: str, kind: HandleKind) -> None:
    try:
        ok = handle_kind(value) is kind
    except ValueError:
        ok = False
    if not ok:
        raise DomainError(
            f"{name} must be a {kind.name.lower()} handle issued by the site "
            f"({kind.value}_ + 20 base32 characters).",
            fields={name: [f"Not a {kind.name.lower()} handle."]},
        )


def _selection_kos_writeback_hook(selection: SeriesSelection) -> None:
    """Ask the site to write the selection as a KOS (``selection.write``, on commit). The site
    answers ``selection.written`` when the KOS is in its PACS (``kos_state`` → ``stored``) or cannot
    be written (``failed``); the control consumer applies it. An offline site leaves ``pending``."""
    from annotations.services.site_requests import selection_write_request

    try:
        selection_write_request(selection)
    except Exception:  # the selection is recorded; a failed request must not fail the page
        logger.exception("selection %s: KOS request not sent", selection.pk)


def _selection_kos_withdraw_hook(withdrawal: SelectionWithdrawal) -> None:
    """Ask the site to retire the withdrawn series' KOS (``selection.withdraw``, on commit): it
    rejects them with an IHE IOCM rejection note and re-issues the other series they listed. The
    site's ``selection.withdrawn`` is audited and settles ``withdrawal`` when it arrives; an
    offline site is asked again when its control link comes up."""
    from annotations.services.site_requests import selection_withdraw_request

    try:
        selection_withdraw_request(withdrawal)
    except Exception:  # the withdrawal is recorded; a failed request must not fail the page
        logger.exception("withdrawal %s: KOS retirement not requested", withdrawal.pk)


def selection_record(
    *,
    actor: User,
    project: Project,
    site: Site,
    study_handle: str,
    series_handle: str,
    decision: str,
    reason: str,
) -> SeriesSelection:
    """Include or exclude one series, with a reason from ``SELECTION_REASONS``. Recording again
    for the same series replaces the earlier decision (and the site writes a new KOS); it also
    supersedes a withdrawal of the series the site has not answered yet (the new
    ``selection.write`` alone says what the site must hold, and the old withdrawal is never sent
    after it)."""
    require_perm(
        actor=actor, perm="manage_project", obj=project, action=AuditAction.SELECTION_RECORD
    )
    _require_handle("study_handle", study_handle, HandleKind.STUDY)
    _require_handle("series_handle", series_handle, HandleKind.SERIES)
    if decision not in SelectionDecision.values:
        raise DomainError(
            f"decision must be one of {SelectionDecision.values}.",
            fields={"decision": ["Unknown decision."]},
        )
    coded = SELECTION_REASONS.get(reason)
    if coded is None or coded.decision != decision:
        valid = sorted(k for k, r in SELECTION_REASONS.items() if r.decision == decision)
        raise DomainError(
            f"reason must be one of {valid} for decision {decision!r}.",
            fields={"reason": ["Not a reason for this decision."]},
        )
    if not project.sites.filter(pk=site.pk).exists():
        raise DomainError(
            "The site is not part of this project.", fields={"site": ["Not in project."]}
        )
    with transaction.atomic():
        selection, created = SeriesSelection.objects.select_for_update().update_or_create(
            project=project,
            series_handle=series_handle,
            defaults={
                "site": site,
                "study_handle": study_handle,
                "decision": decision,
                "reason_code_value": coded.code_value,
                "reason_coding_scheme": coded.coding_scheme,
                "reason_code_meaning": coded.code_meaning,
                "selected_by": actor,
                "kos_state": KosState.PENDING,
            },
        )
        superseded, _ = SelectionWithdrawal.objects.filter(
            project=project, series_handle=series_handle
        ).delete()
        detail = {
            "series_handle": series_handle, "decision": decision,
            "reason": [coded.code_value, coded.coding_scheme], "replaced": not created,
        }  # fmt: skip
        if superseded:
            detail["superseded_withdrawal"] = True
        audit_record(
            actor=actor, action=AuditAction.SELECTION_RECORD, obj=selection,
            project_id=project.pk, site_id=site.pk, detail=detail,
        )  # fmt: skip
        transaction.on_commit(lambda: _selection_kos_writeback_hook(selection))
    return selection


def selection_withdraw(*, actor: User, selection: SeriesSelection) -> None:
    """Forget a selection, and ask the site to retire its KOS (on commit; kept as a
    ``SelectionWithdrawal`` until the site answers, re-sent when its link comes up). Tasks
    already created from it stay (delete them separately)."""
    require_perm(
        actor=actor,
        perm="manage_project",
        obj=selection.project,
        action=AuditAction.SELECTION_WITHDRAW,
    )
    with transaction.atomic():
        audit_record(
            actor=actor, action=AuditAction.SELECTION_WITHDRAW, obj=selection,
            project_id=selection.project_id, site_id=selection.site_id,
            detail={"series_handle": selection.series_handle},
        )  # fmt: skip
        withdrawal, _ = SelectionWithdrawal.objects.update_or_create(
            project_id=selection.project_id,
            series_handle=selection.series_handle,
            defaults={
                "site_id": selection.site_id, "requested_by": actor,
                "requested_at": timezone.now(), "state": WithdrawalState.PENDING, "code": "",
                "request": "",
            },
        )  # fmt: skip
        selection.delete()
        transaction.on_commit(lambda: _selection_kos_withdraw_hook(withdrawal))


@dataclass
class BulkResult:
    created: list[Task] = field(default_factory=list)
    # (series handle, reader id) pairs that already had a task in this project: left alone.
    skipped: list[tuple[str, int]] = field(default_factory=list)


def tasks_create_from_selections(
    *,
    actor: User,
    project: Project,
    readers: Sequence[User],
    label_schema: LabelSchema,
    selections: Sequence[SeriesSelection] | None = None,
    due_date: datetime.date | None = None,
) -> BulkResult:
    """One task per (included series, reader), each assigned to its reader — several readers of
    one series each get their own task, blinded from each other (a task is visible only to its
    assignee and the project's leads and reviewers). ``selections=None`` means every included
    selection of the project.

    All or nothing. Each task writes the events its creation and assignment always write
    (``task.create`` and ``task.assign``, through ``task_create`` and ``task_assign``): one event
    per state change, no summary event. A (series, reader) pair that already has a task is skipped.
    """
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.TASK_CREATE)
    if not readers:
        raise DomainError("Name at least one reader.", fields={"readers": ["Empty."]})
    if len({r.pk for r in readers}) != len(readers):
        raise DomainError("A reader is named twice.", fields={"readers": ["Duplicate reader."]})
    outsiders = [r.pk for r in readers if not project.members.filter(pk=r.pk).exists()]
    if outsiders:
        raise DomainError(
            "Every reader must be a member of the project.",
            fields={"readers": [f"User {pk} is not a member." for pk in outsiders]},
        )
    if selections is None:
        chosen = list(
            SeriesSelection.objects.filter(
                project=project, decision=SelectionDecision.INCLUDE
            ).select_related("site")
        )
    else:
        chosen = list(selections)
        wrong = [s.pk for s in chosen if s.project_id != project.pk]
        excluded = [s.pk for s in chosen if s.decision != SelectionDecision.INCLUDE]
        if wrong or excluded:
            raise DomainError(
                "Tasks are made from this project's included selections only.",
                fields={
                    "selections": [f"Selection {pk} cannot be used." for pk in wrong + excluded]
                },
            )
    if not chosen:
        raise DomainError("No included selections to make tasks from.")
    if len(chosen) * len(readers) > MAX_BULK_TASKS:
        raise DomainError(f"At most {MAX_BULK_TASKS} tasks at once; choose fewer selections.")
    existing = set(
        Task.objects.filter(
            project=project, series_handle__in=[s.series_handle for s in chosen]
        ).values_list("series_handle", "assignee_id")
    )
    result = BulkResult()
    with transaction.atomic(), project_notify_batch(project.pk):
        for selection in chosen:
            for reader in readers:
                if (selection.series_handle, reader.pk) in existing:
                    result.skipped.append((selection.series_handle, reader.pk))
                    continue
                task = task_create(
                    actor=actor, project=project, site=selection.site,
                    series_handle=selection.series_handle, label_schema=label_schema,
                    due_date=due_date,
                )  # fmt: skip
                result.created.append(task_assign(actor=actor, task=task, assignee=reader))
    return result
