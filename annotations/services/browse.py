"""The lead's series browser and reader agreement, through the sites' gateways (issue 8).

Central relays: it asks the site (``site_requests.ask_site``), returns what the site answered —
handles and de-identified descriptors, thumbnails as bytes, agreement as numbers — and stores none
of it. Each request writes one audit event with what was asked (never what came back).
"""

from __future__ import annotations

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


async def series_thumbnail(
    *, actor: User, project: Project, site: Site, series_handle: str
) -> Thumbnail:
    """The site's JPEG of the series' middle slice (relayed, never stored)."""
    prepared = await sync_to_async(_prepare)(
        actor=actor, project=project, site=site, action=AuditAction.SERIES_THUMBNAIL,
        kind=MessageType.BROWSE_THUMBNAIL, act=SiteAct.BROWSE, fields={"series": series_handle},
        detail={"series_handle": series_handle},
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
    return Thumbnail(
        reply,
        image,
        float(thickness) if isinstance(thickness, int | float) else None,
        images if isinstance(images, int) else None,
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
