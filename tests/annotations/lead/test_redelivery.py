"""Durable selection requests: what a site has not answered — a ``pending`` selection, a withdrawal
made while its gateway was offline — is sent again when its control link comes up, in order and a
bounded batch at a time, and settled by the site's answer exactly as on the first send. Through
the real ASGI application and channel layer, with a test double speaking the gateway's protocol
(tests/site_gateway/test_selection_withdraw.py has the real gateway's side)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from annotations.audit_actions import AuditAction
from annotations.models import (
    AuditEvent,
    KosState,
    SelectionWithdrawal,
    SeriesSelection,
    WithdrawalState,
)
from annotations.services import site_requests
from annotations.services.selections import selection_record, selection_withdraw
from annotations.signing import signing_key
from site_gateway.grants import public_key_b64, verify_site_request
from site_gateway.protocol import MessageType
from tests.annotations.conftest import World, series_handle
from tests.annotations.lead.conftest import study_handle
from tests.annotations.secure_access.conftest import FakeGateway, receive_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def gateway(world: World) -> AsyncIterator[FakeGateway]:
    key = Ed25519PrivateKey.generate()
    world.site.gateway_public_key = public_key_b64(key)
    await sync_to_async(world.site.save)(update_fields=["gateway_public_key"])
    fake = FakeGateway(site=world.site.slug, key=key)
    yield fake
    await fake.close()


async def _connect(gateway: FakeGateway) -> None:
    if gateway.control is not None:
        await gateway.control.disconnect()
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK


async def _requests(gateway: FakeGateway, count: int) -> list[dict[str, Any]]:
    assert gateway.control is not None
    return [await receive_json(gateway.control, timeout=10) for _ in range(count)]


async def _nothing_more(gateway: FakeGateway) -> None:
    assert gateway.control is not None
    assert await gateway.control.receive_nothing(timeout=0.5)


async def _answer(gateway: FakeGateway, request: dict[str, Any], **fields: Any) -> None:
    assert gateway.control is not None
    reply = {
        MessageType.SELECTION_WRITE: MessageType.SELECTION_WRITTEN,
        MessageType.SELECTION_WITHDRAW: MessageType.SELECTION_WITHDRAWN,
    }[request["type"]]
    body = {"type": reply, "request": request["request"], "series": request["series"], **fields}
    await gateway.control.send_to(text_data=json.dumps(body))


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not settled in 10 s")


def _record(
    w: World, handle: str, decision: str = "include", reason: str = "for_annotation"
) -> SeriesSelection:
    return selection_record(
        actor=w.lead, project=w.project, site=w.site, study_handle=study_handle(),
        series_handle=handle, decision=decision, reason=reason,
    )  # fmt: skip


def _withdrawals() -> list[tuple[str, str, str]]:
    return list(SelectionWithdrawal.objects.values_list("series_handle", "state", "code"))


def _lead_events() -> int:
    return AuditEvent.objects.filter(
        action__in=[AuditAction.SELECTION_RECORD, AuditAction.SELECTION_WITHDRAW]
    ).count()


async def test_work_missed_offline_is_sent_in_order_on_connect_settled_and_not_sent_again(
    world: World, gateway: FakeGateway
) -> None:
    kept, withdrawn = series_handle(), series_handle()
    selection = await sync_to_async(_record)(world, kept, "exclude", "motion")
    gone = await sync_to_async(_record)(world, withdrawn)
    await sync_to_async(selection_withdraw)(actor=world.lead, selection=gone)
    # the site was offline: the selection is pending and the withdrawal kept, by handle only
    assert await sync_to_async(_withdrawals)() == [(withdrawn, "pending", "")]
    assert not await sync_to_async(SeriesSelection.objects.filter(pk=gone.pk).exists)()
    lead_events = await sync_to_async(_lead_events)()

    await _connect(gateway)
    write, withdraw = await _requests(gateway, 2)  # oldest first
    assert (write["type"], write["series"], write["decision"]) == (
        MessageType.SELECTION_WRITE, [kept], "exclude",
    )  # fmt: skip
    assert (withdraw["type"], withdraw["series"]) == (MessageType.SELECTION_WITHDRAW, [withdrawn])
    for request in (write, withdraw):
        grant = verify_site_request(
            request["grant"], central_key=signing_key().public_key(), site=world.site.slug,
            request=request["request"], replay=None,
        )  # fmt: skip
        assert (grant.user, grant.project) == (world.lead.pseudonym, world.project.slug)
    await _nothing_more(gateway)

    project = world.project.slug
    await _answer(gateway, write, project=project, decision="exclude", state="saved_at_site")
    await _answer(gateway, withdraw, project=project, state="saved_at_site")
    await _answer(gateway, write, project=project, decision="exclude", state="stored_in_pacs")
    await _answer(gateway, withdraw, project=project, state="stored_in_pacs")

    async def settled() -> bool:
        state = await sync_to_async(
            lambda: SeriesSelection.objects.get(pk=selection.pk).kos_state
        )()
        return state == KosState.STORED and not await sync_to_async(_withdrawals)()

    await _until(settled)
    # the redelivery is no lead action; the site's answers are audited as on a first send
    assert await sync_to_async(_lead_events)() == lead_events
    reports = await sync_to_async(
        lambda: sorted(
            (e.detail["kos_state"], e.detail.get("withdrawn", False))
            for e in AuditEvent.objects.filter(action=AuditAction.SELECTION_KOS_STATE)
        )
    )()
    assert reports == [("retired", True), ("stored", False)]

    await _connect(gateway)  # settled work is not sent again
    await _nothing_more(gateway)


async def test_not_found_settles_another_failure_stays_failed_and_stale_answers_settle_nothing(
    world: World, gateway: FakeGateway
) -> None:
    never_held, refused = series_handle(), series_handle()
    for handle in (never_held, refused):
        selection = await sync_to_async(_record)(world, handle)
        await sync_to_async(selection_withdraw)(actor=world.lead, selection=selection)

    await _connect(gateway)
    first, second = await _requests(gateway, 2)
    assert [first["series"], second["series"]] == [[never_held], [refused]]
    project = world.project.slug
    # an answer to another request (an older send of the same withdrawal) settles nothing
    stale = {**first, "request": "0" * 32}
    await _answer(gateway, stale, project=project, state="failed", code="not_found")
    await _answer(gateway, first, project=project, state="failed", code="not_found")
    await _answer(gateway, second, project=project, state="failed", code="bad_message")

    async def settled() -> bool:
        return await sync_to_async(_withdrawals)() == [(refused, "failed", "bad_message")]

    await _until(settled)
    await _connect(gateway)  # neither the settled nor the failed one is sent again
    await _nothing_more(gateway)
    assert await sync_to_async(_withdrawals)() == [(refused, WithdrawalState.FAILED, "bad_message")]


async def test_a_newer_selection_supersedes_a_pending_withdrawal(
    world: World, gateway: FakeGateway
) -> None:
    handle = series_handle()
    first = await sync_to_async(_record)(world, handle)
    await sync_to_async(selection_withdraw)(actor=world.lead, selection=first)
    again = await sync_to_async(_record)(world, handle, "exclude", "motion")
    assert await sync_to_async(_withdrawals)() == []
    last = await sync_to_async(lambda: AuditEvent.objects.order_by("-seq").first())()
    assert last is not None and last.action == AuditAction.SELECTION_RECORD
    assert last.detail["superseded_withdrawal"] is True

    await _connect(gateway)
    (write,) = await _requests(gateway, 1)  # only the newer decision: never the old withdrawal
    assert (write["type"], write["series"], write["decision"]) == (
        MessageType.SELECTION_WRITE, [handle], "exclude",
    )  # fmt: skip
    await _nothing_more(gateway)
    assert await sync_to_async(lambda: SeriesSelection.objects.get(pk=again.pk).kos_state)() == (
        KosState.PENDING
    )


async def test_redelivery_is_bounded_and_the_rest_follows_the_sites_answers(
    world: World, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_requests, "REDELIVER_BATCH", 2)
    handles = [series_handle() for _ in range(3)]
    for handle in handles:
        selection = await sync_to_async(_record)(world, handle)
        await sync_to_async(selection_withdraw)(actor=world.lead, selection=selection)

    await _connect(gateway)
    batch = await _requests(gateway, 2)
    await _nothing_more(gateway)
    assert [r["series"] for r in batch] == [[handles[0]], [handles[1]]]
    await _answer(gateway, batch[0], project=world.project.slug, state="stored_in_pacs")
    (rest,) = await _requests(gateway, 1)
    assert rest["series"] == [handles[2]]
    await _nothing_more(gateway)  # the one in flight is not sent twice on this link
