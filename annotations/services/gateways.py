"""Gateway links: authentication of a site's gateway and its online state."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from annotations.audit_actions import AuditAction
from annotations.models import AuditOutcome, Site
from annotations.services.audit import audit_record
from site_gateway.grants import gateway_auth_message, public_key_from_b64, verify_b64


def gateway_authenticate(
    *, slug: str, nonce: str, signature: str, session: str | None
) -> Site | None:
    """The site whose registered key signed the challenge, or None (and a failure event)."""
    site = Site.objects.filter(slug=slug).exclude(gateway_public_key="").first() if slug else None
    ok = False
    if site is not None:
        try:
            key = public_key_from_b64(site.gateway_public_key)
        except ValueError:
            key = None
        message = gateway_auth_message(nonce=nonce, site=site.slug, session=session)
        ok = key is not None and verify_b64(key, signature, message)
    if not ok:
        audit_record(
            actor=None, action=AuditAction.GATEWAY_AUTH_FAILED, outcome=AuditOutcome.MINOR_FAILURE,
            obj=site, site_id=site.pk if site else None,
            detail={"site": slug[:50], "link": "session" if session else "control"},
        )  # fmt: skip
        return None
    return site


def gateway_link_up(*, site: Site, link: str, version: str) -> None:
    """The control link ``link`` (a channel name) is now the site's one live link."""
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(
            is_online=True,
            last_seen_at=timezone.now(),
            gateway_version=version[:40],
            gateway_link=link,
        )
        audit_record(
            actor=None, action=AuditAction.GATEWAY_CONNECT, obj=site, site_id=site.pk,
            detail={"version": version[:40]},
        )  # fmt: skip


def gateway_heartbeat(*, site_id: int, link: str, version: str, health: dict[str, Any]) -> None:
    Site.objects.filter(pk=site_id, gateway_link=link).update(
        last_seen_at=timezone.now(), gateway_version=version[:40], gateway_health=health
    )


def gateway_link_down(*, site_id: int, link: str) -> None:
    """Offline — unless a newer link already took over (then this update matches nothing)."""
    Site.objects.filter(pk=site_id, gateway_link=link).update(is_online=False, gateway_link="")


_HEX = frozenset("0123456789abcdef")


def _count(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < 2**31


def gateway_task_labels(
    *,
    site_id: int,
    task_id: object,
    revision: object,
    state: object,
    count: object,
    content_hash: object,
) -> bool:
    """Record what a site reports of a task's labels: state, revision, count and a hash — never
    the labels. Only the task's own site may report, and a revision never goes backwards."""
    from annotations.models import Task
    from site_gateway.protocol import LabelState

    if not (
        _count(task_id, 1) and _count(revision, 0) and _count(count, 0)
        and state in LabelState.__members__.values()
        and isinstance(content_hash, str) and len(content_hash) == 64 and set(content_hash) <= _HEX
    ):  # fmt: skip
        return False
    assert isinstance(task_id, int)
    if not Task.objects.filter(pk=task_id, site_id=site_id).exists():
        return False
    # A stale report (reports can cross on reconnects) is ignored, not an error.
    updated = Task.objects.filter(pk=task_id, site_id=site_id, label_revision__lte=revision).update(
        label_revision=revision,
        label_state=state,
        label_count=count,
        label_content_hash=content_hash,
    )
    if updated:
        from annotations.services.progress import project_task_notify

        project_task_notify(Task.objects.get(pk=task_id))
    return True
