"""Requests to a site over its control link, through the real ASGI application and channel layer
(in memory, or channels_redis with REDIS_URL): the reply reaches the asker, a silent site is a
``timeout`` result, a coded refusal an ``error`` result, and a late ``selection.written`` updates
the selection's ``kos_state``. The gateway side is a test double speaking the wire protocol (the
real gateway answers these in tests/site_gateway/test_site_requests.py and the product tests)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, KosState, SelectionWithdrawal, SeriesSelection
from annotations.services import browse, site_requests
from annotations.signing import signing_key
from site_gateway.grants import public_key_b64, verify_site_request
from site_gateway.protocol import MessageType, SiteAct
from tests.annotations.conftest import series_handle
from tests.annotations.lead.conftest import study_handle
from tests.annotations.secure_access.conftest import FakeGateway, receive_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def gateway(world) -> AsyncIterator[FakeGateway]:
    """The site's gateway as a test double, enrolled with a fresh key."""
    key = Ed25519PrivateKey.generate()
    world.site.gateway_public_key = public_key_b64(key)
    await sync_to_async(world.site.save)(update_fields=["gateway_public_key"])
    fake = FakeGateway(site=world.site.slug, key=key)
    yield fake
    await fake.close()


async def _connected(gateway: FakeGateway) -> None:
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK


async def _next_request(gateway: FakeGateway) -> dict[str, Any]:
    assert gateway.control is not None
    while True:
        message = await receive_json(gateway.control, timeout=10)
        if message["type"] != MessageType.SESSION_ATTACH:
            return message


async def test_browse_reply_reaches_the_asker_and_the_grant_is_the_sites(world, gateway) -> None:
    await _connected(gateway)
    ask = asyncio.create_task(
        browse.series_browse(
            actor=world.lead, project=world.project, site=world.site, query={"modality": "CT"}
        )
    )
    request = await _next_request(gateway)
    assert request["type"] == MessageType.BROWSE_QUERY and request["query"] == {"modality": "CT"}
    grant = verify_site_request(
        request["grant"],
        central_key=signing_key().public_key(),
        site=world.site.slug,
        request=request["request"],
        replay=None,
    )
    assert grant.acts == {SiteAct.BROWSE} and grant.project == world.project.slug
    assert grant.user == world.lead.pseudonym
    study = {"study": study_handle(), "year": "2020", "series": [{"series": series_handle()}]}
    assert gateway.control is not None
    await gateway.control.send_to(
        text_data=json.dumps(
            {"type": "browse.result", "request": request["request"], "studies": [study]}
        )
    )
    result = await asyncio.wait_for(ask, 10)
    assert result["status"] == "ok" and result["studies"] == [study]
    event = await sync_to_async(lambda: AuditEvent.objects.order_by("-seq").first())()
    assert event is not None and event.action == AuditAction.SERIES_BROWSE
    assert event.detail == {"query": {"modality": "CT"}}  # the query, never the results


async def test_a_refusal_is_an_error_result_and_silence_a_timeout(
    world, gateway, monkeypatch
) -> None:
    await _connected(gateway)
    ask = asyncio.create_task(
        browse.series_browse(actor=world.lead, project=world.project, site=world.site, query={})
    )
    request = await _next_request(gateway)
    assert gateway.control is not None
    await gateway.control.send_to(
        text_data=json.dumps(
            {
                "type": "error",
                "request": request["request"],
                "code": "pacs_unavailable",
                "message": "the PACS reported unreachable",
            }
        )
    )
    result = await asyncio.wait_for(ask, 10)
    assert result["status"] == "error" and result["error"]["code"] == "pacs_unavailable"
    monkeypatch.setattr(browse, "BROWSE_TIMEOUT", 0.3)
    silent = await browse.series_browse(
        actor=world.lead, project=world.project, site=world.site, query={}
    )
    assert silent["status"] == "timeout" and silent["error"]["code"] == "site_timeout"


async def test_an_offline_site_is_a_result_not_an_exception(world) -> None:
    result = await browse.series_browse(
        actor=world.lead, project=world.project, site=world.site, query={}
    )
    assert (result["status"], result["studies"]) == ("offline", [])


async def test_selection_is_sent_to_the_site_and_its_kos_state_follows_the_report(
    world, gateway
) -> None:
    from annotations.services.selections import selection_record

    await _connected(gateway)
    handle = series_handle()
    selection = await sync_to_async(selection_record)(
        actor=world.lead, project=world.project, site=world.site, study_handle=study_handle(),
        series_handle=handle, decision="exclude", reason="motion",
    )  # fmt: skip
    request = await _next_request(gateway)
    assert request["type"] == MessageType.SELECTION_WRITE
    assert request["series"] == [handle] and request["decision"] == "exclude"
    assert request["reason"]["code"] == {
        "value": "111210",
        "scheme": "DCM",
        "meaning": "Motion blur",
    }
    grant = verify_site_request(
        request["grant"], central_key=signing_key().public_key(), site=world.site.slug,
        request=request["request"], replay=None,
    )  # fmt: skip
    assert grant.acts == {SiteAct.SELECT}
    written = {
        "type": "selection.written", "request": request["request"],
        "project": world.project.slug, "series": [handle], "decision": "exclude", "revision": 1,
    }  # fmt: skip
    assert gateway.control is not None
    # saved at the site only: still pending; then stored in the PACS (a later report)
    await gateway.control.send_to(text_data=json.dumps({**written, "state": "saved_at_site"}))
    await gateway.control.send_to(text_data=json.dumps({**written, "state": "stored_in_pacs"}))

    async def state() -> str:
        return await sync_to_async(lambda: SeriesSelection.objects.get(pk=selection.pk).kos_state)()

    for _ in range(100):
        if await state() == KosState.STORED:
            break
        await asyncio.sleep(0.05)
    assert await state() == KosState.STORED
    events = await sync_to_async(
        lambda: list(AuditEvent.objects.filter(action=AuditAction.SELECTION_KOS_STATE))
    )()
    assert len(events) == 1 and events[0].detail["kos_state"] == "stored"
    # another project's selections are out of reach of this site's report
    report = {**written, "project": world.other_project.slug, "state": "failed"}
    assert (
        await sync_to_async(site_requests.selection_kos_report)(
            site_id=world.site.pk, message=report
        )
        == 0
    )


async def test_withdrawing_asks_the_site_to_retire_the_kos_and_its_report_is_audited(
    world, gateway
) -> None:
    from annotations.services.selections import selection_record, selection_withdraw

    await _connected(gateway)
    handle = series_handle()
    selection = await sync_to_async(selection_record)(
        actor=world.lead, project=world.project, site=world.site, study_handle=study_handle(),
        series_handle=handle, decision="include", reason="for_annotation",
    )  # fmt: skip
    assert (await _next_request(gateway))["type"] == MessageType.SELECTION_WRITE
    await sync_to_async(selection_withdraw)(actor=world.lead, selection=selection)
    request = await _next_request(gateway)
    assert request["type"] == MessageType.SELECTION_WITHDRAW
    assert request["series"] == [handle] and set(request) == {"type", "request", "grant", "series"}
    grant = verify_site_request(
        request["grant"], central_key=signing_key().public_key(), site=world.site.slug,
        request=request["request"], replay=None,
    )  # fmt: skip
    assert grant.acts == {SiteAct.SELECT} and grant.project == world.project.slug
    assert grant.user == world.lead.pseudonym
    assert not await sync_to_async(SeriesSelection.objects.filter(pk=selection.pk).exists)()

    withdrawn = {
        "type": "selection.withdrawn", "request": request["request"],
        "project": world.project.slug, "series": [handle], "revision": 2,
    }  # fmt: skip
    assert gateway.control is not None
    await gateway.control.send_to(text_data=json.dumps({**withdrawn, "state": "saved_at_site"}))
    await gateway.control.send_to(text_data=json.dumps({**withdrawn, "state": "stored_in_pacs"}))

    async def reports() -> list[AuditEvent]:
        return await sync_to_async(
            lambda: list(
                AuditEvent.objects.filter(
                    action=AuditAction.SELECTION_KOS_STATE, detail__withdrawn=True
                ).order_by("seq")
            )
        )()

    for _ in range(100):
        if await reports():
            break
        await asyncio.sleep(0.05)
    (event,) = await reports()
    assert event.detail["kos_state"] == "retired" and event.detail["series_handles"] == [handle]
    # the answer settled the kept withdrawal: nothing is left to send again
    assert not await sync_to_async(SelectionWithdrawal.objects.exists)()
    assert (event.project_id, event.site_id, event.actor_id) == (
        world.project.pk, world.site.pk, None,
    )  # fmt: skip
    # a refusal is recorded with the site's code; another project's report changes nothing
    failed = {**withdrawn, "state": "failed", "code": "not_found"}
    assert await sync_to_async(site_requests.selection_withdraw_report)(
        site_id=world.site.pk, message=failed
    )
    assert [e.detail["kos_state"] for e in await reports()] == ["retired", "failed"]
    for bad in (
        {**failed, "project": world.other_project.slug},
        {**failed, "state": "saved_at_site"},
        {**failed, "series": "not a list"},
    ):
        assert not await sync_to_async(site_requests.selection_withdraw_report)(
            site_id=world.site.pk, message=bad
        )
    assert len(await reports()) == 2


async def test_withdrawing_with_the_site_offline_is_recorded_without_error(world) -> None:
    from annotations.services.selections import selection_record, selection_withdraw

    selection = await sync_to_async(selection_record)(
        actor=world.lead, project=world.project, site=world.site, study_handle=study_handle(),
        series_handle=series_handle(), decision="exclude", reason="motion",
    )  # fmt: skip
    await sync_to_async(selection_withdraw)(actor=world.lead, selection=selection)
    assert not await sync_to_async(SeriesSelection.objects.filter(pk=selection.pk).exists)()
    last = await sync_to_async(lambda: AuditEvent.objects.order_by("-seq").first())()
    assert last is not None and last.action == AuditAction.SELECTION_WITHDRAW
    assert last.detail == {"series_handle": selection.series_handle}
    # kept, by handle, until the site answers (test_redelivery.py sends it when the site connects)
    kept = await sync_to_async(lambda: list(SelectionWithdrawal.objects.all()))()
    assert [(w.series_handle, w.state, w.requested_by_id) for w in kept] == [
        (selection.series_handle, "pending", world.lead.pk)
    ]
