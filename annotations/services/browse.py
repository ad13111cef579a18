"""The lead's series browser and reader agreement, through the sites' gateways (issue 8).

Central relays: it asks the site (``site_requests.ask_site``), returns what the site answered —
handles and de-identified descriptors, thumbnails as bytes, agreement as numbers — and stores none
of it. Each request writes one audit event with what was asked (never what came back).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from annotations.audit_actions import AuditAction
from annotations.errors import DomainError, NotFoundError
from annotations.models import Project, Site, Task, User
from annotations.services.access import require_perm
from annotations.services.audit import audit_record
from annotations.services.site_requests import (
    AGREEMENT_TIMEOUT,
    BROWSE_TIMEOUT,
    THUMBNAIL_TIMEOUT,
    SiteReply,
    ask_site,
    site_request_message,
)
from site_gateway.protocol import MessageType, SiteAct

MAX_THUMBNAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Prepared:
    site_id: int
    online: bool
    message: dict[str, Any]


def _prepare(
    *,
    actor: User,
    project: Project,
    site: Site,
    action: AuditAction,
    kind: MessageType,
    act: SiteAct,
    fields: Mapping[str, Any],
    detail: Mapping[str, Any],
) -> Prepared:
    """Check, audit and sign one request (sync: the ORM)."""
    require_perm(actor=actor, perm="manage_project", obj=project, action=action)
    if not project.sites.filter(pk=site.pk).exists():
        raise NotFoundError("No such site in this project.")
    audit_record(
        actor=actor, action=action, obj=site, project_id=project.pk, site_id=site.pk,
        detail=dict(detail),
    )  # fmt: skip
    message = site_request_message(
        actor=actor, project=project, site=site, kind=kind, act=act, fields=fields
    )
    online = bool(Site.objects.filter(pk=site.pk).values_list("gateway_link", flat=True).first())
    return Prepared(site.pk, online, message)


async def series_browse(
    *, actor: User, project: Project, site: Site, query: Mapping[str, Any]
) -> dict[str, Any]:
    """``{"site", "site_name", "status", "studies", "truncated", "error"}`` for one site."""
    prepared = await sync_to_async(_prepare)(
        actor=actor, project=project, site=site, action=AuditAction.SERIES_BROWSE,
        kind=MessageType.BROWSE_QUERY, act=SiteAct.BROWSE, fields={"query": dict(query)},
        detail={"query": dict(query)},
    )  # fmt: skip
    reply = await ask_site(
        site_id=prepared.site_id,
        online=prepared.online,
        message=prepared.message,
        wait_seconds=BROWSE_TIMEOUT,
    )
    studies = reply.body.get("studies") if reply.status == "ok" else None
    return {
        "site": site.pk,
        "site_name": site.name,
        "status": reply.status,
        "studies": studies if isinstance(studies, list) else [],
        "truncated": bool(reply.body.get("truncated", False)),
        "error": reply.error_json(),
    }


@dataclass(frozen=True)
class Thumbnail:
    reply: SiteReply
    image: bytes = b""
    slice_thickness: float | None = None
    images: int | None = None
    index: int | None = None


async def series_thumbnail(
    *,
    actor: User,
    project: Project,
    site: Site,
    series_handle: str,
    index: int | None = None,
    size: int | None = None,
) -> Thumbnail:
    """The site's JPEG of one slice of the series — the middle one at ≤ 128 px unless asked
    (``index``, ``size`` ≤ 512: the lead's read-only check) — relayed, never stored."""
    options = {k: v for k, v in (("index", index), ("size", size)) if v is not None}
    prepared = await sync_to_async(_prepare)(
        actor=actor, project=project, site=site, action=AuditAction.SERIES_THUMBNAIL,
        kind=MessageType.BROWSE_THUMBNAIL, act=SiteAct.BROWSE,
        fields={"series": series_handle, **options},
        detail={"series_handle": series_handle, **options},
    )  # fmt: skip
    reply = await ask_site(
        site_id=prepared.site_id,
        online=prepared.online,
        message=prepared.message,
        wait_seconds=THUMBNAIL_TIMEOUT,
    )
    if reply.status != "ok":
        return Thumbnail(reply)
    raw = reply.body.get("image")
    try:
        image = base64.b64decode(raw if isinstance(raw, str) else "", validate=True)
    except (binascii.Error, ValueError):
        image = b""
    if not image.startswith(b"\xff\xd8\xff") or len(image) > MAX_THUMBNAIL_BYTES:
        return Thumbnail(SiteReply("error", code="site_error", message="Not a JPEG thumbnail."))
    thickness = reply.body.get("slice_thickness")
    images = reply.body.get("images")
    shown = reply.body.get("index")
    return Thumbnail(
        reply,
        image,
        float(thickness) if isinstance(thickness, int | float) else None,
        images if isinstance(images, int) else None,
        shown if isinstance(shown, int) and not isinstance(shown, bool) else None,
    )


def _agreement_tasks(
    actor: User, project: Project, task_ids: list[int]
) -> tuple[Site, str, list[int]]:
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.AGREEMENT_READ)
    tasks = list(Task.objects.filter(project=project, pk__in=task_ids).select_related("site"))
    if len(tasks) != len(set(task_ids)):
        raise NotFoundError("No such tasks in this project.")
    if len({(t.site_id, t.series_handle) for t in tasks}) != 1:
        raise DomainError(
            "Agreement compares readers of one series: the tasks must share site and series.",
            fields={"tasks": ["Tasks of different series."]},
        )
    return tasks[0].site, tasks[0].series_handle, sorted(t.pk for t in tasks)


async def reader_agreement(*, actor: User, project: Project, task_ids: list[int]) -> dict[str, Any]:
    """Dice per label and classification agreement between the tasks' readers, computed at the
    site; numbers only."""
    site, series, tasks = await sync_to_async(_agreement_tasks)(actor, project, task_ids)
    prepared = await sync_to_async(_prepare)(
        actor=actor, project=project, site=site, action=AuditAction.AGREEMENT_READ,
        kind=MessageType.AGREEMENT_QUERY, act=SiteAct.AGREEMENT,
        fields={"series": series, "tasks": tasks},
        detail={"series_handle": series, "tasks": tasks},
    )  # fmt: skip
    reply = await ask_site(
        site_id=prepared.site_id,
        online=prepared.online,
        message=prepared.message,
        wait_seconds=AGREEMENT_TIMEOUT,
    )
    return {
        "site": site.pk,
        "series_handle": series,
        "status": reply.status,
        "readers": reply.body.get("readers", []),
        "pairs": reply.body.get("pairs", []),
        "error": reply.error_json(),
    }


# --- labels per label: the progress board's per-label counts, counted at the sites ---

MAX_COUNT_TASKS = 500  # per site and request (site_gateway/agreement.py MAX_COUNT_TASKS)
_LABEL_KEY_MAX = 64


@dataclass(frozen=True)
class _CountPlan:
    site: Site
    tasks: list[int]
    truncated: bool
    assignee: dict[int, dict[str, Any] | None]


def _count_plans(actor: User, project: Project) -> list[_CountPlan]:
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.LABELS_COUNT)
    by_site: dict[int, list[Task]] = {}
    for task in Task.objects.filter(project=project).select_related("assignee").order_by("pk"):
        by_site.setdefault(task.site_id, []).append(task)
    plans = []
    for site in project.sites.filter(pk__in=by_site).order_by("name"):
        tasks = by_site[site.pk]
        plans.append(
            _CountPlan(
                site,
                [t.pk for t in tasks[:MAX_COUNT_TASKS]],
                len(tasks) > MAX_COUNT_TASKS,
                {
                    t.pk: None if t.assignee is None
                    else {"id": t.assignee.pk, "username": t.assignee.get_username()}
                    for t in tasks
                },
            )
        )  # fmt: skip
    return plans


def _counts_of(reply: SiteReply, asked: list[int]) -> dict[int, dict[str, int]]:
    """The site's counts for the tasks asked, shape-checked (anything else is ignored)."""
    wanted, found = set(asked), {}
    rows = reply.body.get("tasks") if reply.status == "ok" else None
    for row in rows if isinstance(rows, list) else []:
        task = row.get("task") if isinstance(row, dict) else None
        labels = row.get("labels") if isinstance(row, dict) else None
        if not isinstance(task, int) or task not in wanted or not isinstance(labels, dict):
            continue
        found[task] = {
            str(k): v
            for k, v in labels.items()
            if isinstance(k, str) and 0 < len(k) <= _LABEL_KEY_MAX
            and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        }  # fmt: skip
    return found


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for label, n in counts.items():
        into[label] = into.get(label, 0) + n


def _prepare_count(actor: User, project: Project, plan: _CountPlan) -> Prepared:
    return _prepare(
        actor=actor, project=project, site=plan.site, action=AuditAction.LABELS_COUNT,
        kind=MessageType.LABELS_QUERY, act=SiteAct.COUNT, fields={"tasks": plan.tasks},
        detail={"tasks": len(plan.tasks)},
    )  # fmt: skip


async def label_progress(*, actor: User, project: Project) -> dict[str, Any]:
    """How many labels of each label the project's readers made, per site and per annotator,
    counted at each site from its label store (every site asked at once; an offline site is a
    status). Numbers only: central stores none of it."""
    plans = await sync_to_async(_count_plans)(actor, project)
    prepared = []
    for plan in plans:
        prepared.append(await sync_to_async(_prepare_count)(actor, project, plan))
    replies = await asyncio.gather(
        *(
            ask_site(
                site_id=p.site_id,
                online=p.online,
                message=p.message,
                wait_seconds=AGREEMENT_TIMEOUT,
            )
            for p in prepared
        )
    )
    totals: dict[str, int] = {}
    tasks_with: dict[str, int] = {}
    by_site: list[dict[str, Any]] = []
    by_annotator: dict[int | None, dict[str, Any]] = {}
    for plan, reply in zip(plans, replies, strict=True):
        counts = _counts_of(reply, plan.tasks)
        site_labels: dict[str, int] = {}
        for task, labels in counts.items():
            _add(site_labels, labels)
            for label in labels:
                tasks_with[label] = tasks_with.get(label, 0) + (labels[label] > 0)
            person = plan.assignee.get(task)
            key = person["id"] if person else None
            entry = by_annotator.setdefault(key, {"annotator": person, "labels": {}})
            _add(entry["labels"], labels)
        _add(totals, site_labels)
        by_site.append(
            {"site": plan.site.pk, "site_name": plan.site.name, "status": reply.status,
             "error": reply.error_json(), "tasks": len(plan.tasks), "truncated": plan.truncated,
             "labels": dict(sorted(site_labels.items()))}
        )  # fmt: skip
    return {
        "project": project.pk,
        "labels": [
            {"label": label, "count": totals[label], "tasks": tasks_with.get(label, 0)}
            for label in sorted(totals)
        ],
        "by_site": by_site,
        "by_annotator": sorted(
            ({**e, "labels": dict(sorted(e["labels"].items()))} for e in by_annotator.values()),
            key=lambda e: (
                e["annotator"] is None,
                e["annotator"]["username"] if e["annotator"] else "",
            ),
        ),
    }
