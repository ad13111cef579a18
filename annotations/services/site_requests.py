"""Requests to a site's gateway over its control link, and the replies (issue 8).

``ask_site`` sends one request (``browse.query``, ``browse.thumbnail``, ``agreement.query``) and
waits for its reply: a fresh reply channel of the channel layer, a ``gateway_request`` event to the
site's group (the control consumer, in whatever worker holds the link, forwards it and remembers
the reply channel under the request id), then the reply under a timeout. A site without a live link
is ``offline`` and one that does not answer in time ``timeout``: results, never exceptions, so that
one site never fails a page that asks many. Works on the in-memory layer and on channels_redis.

``tell_site`` sends a request without waiting (``selection.write``, ``selection.withdraw``): its
replies may come long after (the KOS, or the rejection note, reaching the PACS), so the control
consumer applies them (``selection_kos_report``, ``selection_withdraw_report``). What the site has
not answered — ``pending`` selections, ``SelectionWithdrawal`` rows — is sent again when its
control link comes up (``site_redeliver_pending``), a bounded batch at a time.

Each request carries a site-request grant signed with central's key for this one request: the
lead's pseudonym, the project, the site, the acts, a nonce; the site checks it before anything.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from annotations.audit_actions import AuditAction
from annotations.models import (
    SELECTION_REASONS,
    KosState,
    Project,
    SelectionWithdrawal,
    SeriesSelection,
    Site,
    User,
    WithdrawalState,
)
from annotations.services.audit import audit_record
from annotations.services.sessions import site_group
from annotations.signing import signing_key
from imaging.handles import HandleKind, handle_kind
from site_gateway.grants import SiteRequestGrant, new_nonce, sign_site_request
from site_gateway.protocol import ErrorCode, LabelState, MessageType, SiteAct

logger = logging.getLogger(__name__)

GRANT_SECONDS: Final = 120
BROWSE_TIMEOUT: Final = 15.0
THUMBNAIL_TIMEOUT: Final = 30.0
AGREEMENT_TIMEOUT: Final = 30.0
# Unanswered selection requests re-sent per batch when a site's link comes up (the next batch
# follows the site's answers, or the next link): well under the site's 64 requests in progress.
REDELIVER_BATCH = 32

Status = Literal["ok", "offline", "timeout", "error"]


@dataclass(frozen=True)
class SiteReply:
    status: Status
    body: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""

    def error_json(self) -> dict[str, str] | None:
        if self.status == "ok":
            return None
        return {"code": self.code or f"site_{self.status}", "message": self.message}


def site_request_grant(
    *, actor: User, project: Project, site: Site, acts: Iterable[SiteAct], request: str
) -> str:
    now = int(time.time())
    grant = SiteRequestGrant(
        user=actor.pseudonym,
        role="lead",
        project=project.slug,
        site=site.slug,
        acts=frozenset(acts),
        request=request,
        issued_at=now,
        expires_at=now + GRANT_SECONDS,
        nonce=new_nonce(),
    )
    return sign_site_request(grant, signing_key())


def site_request_message(
    *,
    actor: User,
    project: Project,
    site: Site,
    kind: MessageType,
    act: SiteAct,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """One signed request (sync: reads the signing key and the actor's pseudonym)."""
    request = uuid.uuid4().hex
    grant = site_request_grant(actor=actor, project=project, site=site, acts={act}, request=request)
    return {"type": kind, "request": request, "grant": grant, **fields}


async def ask_site(
    *, site_id: int, online: bool, message: dict[str, Any], wait_seconds: float
) -> SiteReply:
    """Send ``message`` to the site and wait for its reply (see the module's docstring)."""
    if not online:
        return SiteReply("offline", code="site_offline", message="The site's gateway is offline.")
    layer = get_channel_layer()
    assert layer is not None
    reply_channel = await layer.new_channel()
    await layer.group_send(
        site_group(site_id),
        {"type": "gateway_request", "reply": reply_channel, "message": message},
    )
    try:
        async with asyncio.timeout(wait_seconds):
            event = await layer.receive(reply_channel)
    except TimeoutError:
        return SiteReply(
            "timeout",
            code="site_timeout",
            message=f"The site did not answer in {wait_seconds:g} s.",
        )
    reply = event.get("message")
    if not isinstance(reply, dict):
        return SiteReply("error", code="site_error", message="The site sent no reply.")
    if reply.get("type") == MessageType.ERROR:
        return SiteReply(
            "error",
            code=str(reply.get("code", "site_error"))[:40],
            message=str(reply.get("message", ""))[:300],
        )
    return SiteReply("ok", body=reply)


def tell_site(*, site_id: int, message: dict[str, Any]) -> None:
    """Send ``message`` to the site without waiting (sync; the control consumer gets replies)."""
    layer = get_channel_layer()
    assert layer is not None
    async_to_sync(layer.group_send)(
        site_group(site_id), {"type": "gateway_request", "reply": None, "message": message}
    )


# --- selection.write: the KOS at the site ---


def selection_write_request(selection: SeriesSelection) -> bool:
    """Ask the site to write ``selection`` as a KOS; False if its gateway is offline (the
    selection then stays ``pending`` and is sent again when the site's link comes up)."""
    site = Site.objects.get(pk=selection.site_id)
    if selection.selected_by is None:
        return False
    if not site.gateway_link:
        logger.info("selection %s: site %s offline, KOS not requested", selection.pk, site.slug)
        return False
    reason = SELECTION_REASONS[selection.reason_key]
    message = site_request_message(
        actor=selection.selected_by,
        project=selection.project,
        site=site,
        kind=MessageType.SELECTION_WRITE,
        act=SiteAct.SELECT,
        fields={
            "series": [selection.series_handle],
            "decision": selection.decision,
            "reason": {
                "key": reason.key,
                "text": reason.code_meaning,
                "code": {
                    "value": reason.code_value,
                    "scheme": reason.coding_scheme,
                    "meaning": reason.code_meaning,
                },
            },
        },
    )
    tell_site(site_id=site.pk, message=message)
    return True


_KOS_STATES: Final = {
    LabelState.STORED_IN_PACS.value: KosState.STORED,
    LabelState.FAILED.value: KosState.FAILED,
}


def _series_handles(series: list[Any]) -> list[str]:
    """The well-formed series handles of a site's report (at most 500); anything else dropped."""
    handles = []
    for handle in series[:500]:
        try:
            if isinstance(handle, str) and handle_kind(handle) is HandleKind.SERIES:
                handles.append(handle)
        except ValueError:
            continue
    return handles


def selection_kos_report(*, site_id: int, message: Mapping[str, Any]) -> int:
    """Apply a site's ``selection.written``: the KOS of these series reached the PACS (``stored``)
    or cannot be written (``failed``); ``saved_at_site`` changes nothing. One audit event per
    report that changes something; returns how many selections changed. Bad reports change
    nothing (the site is trusted for its own state only, within its own selections)."""
    state = _KOS_STATES.get(str(message.get("state")))
    project, series = message.get("project"), message.get("series")
    if state is None or not isinstance(project, str) or not isinstance(series, list):
        return 0
    handles = _series_handles(series)
    with transaction.atomic():
        selections = list(
            SeriesSelection.objects.select_for_update().filter(
                site_id=site_id,
                project__slug=project,
                series_handle__in=handles,
                decision=str(message.get("decision", "")),
            )
        )
        changed = [s for s in selections if s.kos_state != state]
        if not changed:
            return 0
        SeriesSelection.objects.filter(pk__in=[s.pk for s in changed]).update(kos_state=state)
        audit_record(
            actor=None, action=AuditAction.SELECTION_KOS_STATE, obj=changed[0],
            project_id=changed[0].project_id, site_id=site_id,
            detail={
                "series_handles": [s.series_handle for s in changed], "kos_state": state.value,
                "code": str(message.get("code", ""))[:40],
            },
        )  # fmt: skip
    return len(changed)


# --- selection.withdraw: the KOS of a withdrawn series retired at the site ---


def selection_withdraw_request(withdrawal: SelectionWithdrawal) -> bool:
    """Ask the site to retire the KOS listing the withdrawn series; False if its gateway is
    offline (the withdrawal is kept and sent again when the site's link comes up). One series
    per request: the site answers all or nothing, and a ``not_found`` must settle only the
    series the site never held. The request id is recorded first, so that only its answer
    settles the withdrawal."""
    site = Site.objects.get(pk=withdrawal.site_id)
    if withdrawal.requested_by is None:
        return False
    if not site.gateway_link:
        logger.info(
            "withdrawal %s: site %s offline, KOS retirement deferred", withdrawal.pk, site.slug
        )
        return False
    message = site_request_message(
        actor=withdrawal.requested_by,
        project=withdrawal.project,
        site=site,
        kind=MessageType.SELECTION_WITHDRAW,
        act=SiteAct.SELECT,
        fields={"series": [withdrawal.series_handle]},
    )
    SelectionWithdrawal.objects.filter(pk=withdrawal.pk).update(request=message["request"])
    tell_site(site_id=site.pk, message=message)
    return True


_WITHDRAWN_STATES: Final = {
    LabelState.STORED_IN_PACS.value: "retired",
    LabelState.FAILED.value: KosState.FAILED.value,
}


def selection_withdraw_report(*, site_id: int, message: Mapping[str, Any]) -> bool:
    """Apply a site's ``selection.withdrawn``: the KOS of these series are rejected in its PACS
    (``retired``) or could not be (``failed`` and the site's code). There is no selection row
    left to update, so the report is one ``selection.kos_state`` audit event, like the write's;
    ``saved_at_site`` and reports for a project this site is not part of change nothing.

    The answer to the request last sent for a ``SelectionWithdrawal`` settles it: ``retired``,
    or ``failed`` with ``not_found`` (the site never held that selection), deletes it; another
    failure marks it ``failed`` with the site's code (not sent again)."""
    state = _WITHDRAWN_STATES.get(str(message.get("state")))
    slug, series = message.get("project"), message.get("series")
    if state is None or not isinstance(slug, str) or not isinstance(series, list):
        return False
    project = Project.objects.filter(slug=slug, sites__pk=site_id).first()
    if project is None:
        return False
    handles = _series_handles(series)
    code = str(message.get("code", ""))[:40]
    request = message.get("request")
    with transaction.atomic():
        audit_record(
            actor=None, action=AuditAction.SELECTION_KOS_STATE, project_id=project.pk,
            site_id=site_id,
            detail={"series_handles": handles, "kos_state": state, "withdrawn": True, "code": code},
        )  # fmt: skip
        # Locked by (site, project, series), then matched on the request id: a redelivery that
        # is still committing the id it sent is waited for, not missed.
        answered = [
            w.pk
            for w in SelectionWithdrawal.objects.select_for_update().filter(
                site_id=site_id, project=project, series_handle__in=handles
            )
            if isinstance(request, str) and w.request == request
        ]
        settled = SelectionWithdrawal.objects.filter(pk__in=answered)
        if state == "retired" or code == ErrorCode.NOT_FOUND:
            settled.delete()
        else:
            settled.update(state=WithdrawalState.FAILED, code=code)
    return True


# --- redelivery: what a site has not answered, when its control link comes up ---


@dataclass(frozen=True)
class Redelivery:
    sent: frozenset[str]  # keys of the work sent ("selection:<pk>", "withdrawal:<pk>")
    more: bool  # more unanswered work than this batch


def site_redeliver_pending(
    *,
    site_id: int,
    until: datetime.datetime,
    skip: Collection[str] = (),
    limit: int | None = None,
) -> Redelivery:
    """Send the site, oldest first, up to ``limit`` of its unanswered selection requests made
    before ``until`` (when its link came up: later ones were sent on it by their own hooks) and
    not in ``skip`` (what this link was sent already): ``selection.write`` for its ``pending``
    selections, ``selection.withdraw`` for its pending ``SelectionWithdrawal`` rows. Their
    answers settle them as on the first send; nothing is audited here (a redelivery is not a
    lead action). Each is re-read under a row lock and sent inside that transaction, so a lead's
    concurrent re-decision (which takes the same lock) is sent after it, never before."""
    limit = REDELIVER_BATCH if limit is None else limit
    window = limit + len(skip) + 1
    selections = SeriesSelection.objects.filter(
        site_id=site_id, kos_state=KosState.PENDING, updated_at__lt=until
    )
    withdrawals = SelectionWithdrawal.objects.filter(
        site_id=site_id, state=WithdrawalState.PENDING, requested_at__lt=until
    )
    work = sorted(
        [
            *((at, f"selection:{pk}") for pk, at in
              selections.order_by("updated_at", "pk").values_list("pk", "updated_at")[:window]),
            *((at, f"withdrawal:{pk}") for pk, at in
              withdrawals.order_by("requested_at", "pk").values_list("pk", "requested_at")[:window]),
        ]
    )  # fmt: skip
    todo = [key for _, key in work if key not in skip]
    sent: set[str] = set()
    for key in todo[:limit]:
        kind, _, pk = key.partition(":")
        try:
            with transaction.atomic():
                if kind == "selection":
                    selection = selections.select_for_update().filter(pk=int(pk)).first()
                    if selection is not None:
                        selection_write_request(selection)
                else:
                    withdrawal = withdrawals.select_for_update().filter(pk=int(pk)).first()
                    if withdrawal is not None:
                        selection_withdraw_request(withdrawal)
        except Exception:  # one bad row must not stop the others
            logger.exception("site %s: redelivery of %s failed", site_id, key)
        sent.add(key)
    return Redelivery(sent=frozenset(sent), more=len(todo) > limit)
