"""A revoke reaches the viewer's socket plainly (issue 9), through the real ASGI application:
at once through the channel layer, and through the socket's own poll when that message is lost;
a reopened socket of the revoked session is refused with the same words."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from annotations.consumers.browser import POLL_SECONDS
from annotations.models import CloseReason, SecureAccessSession
from annotations.services.sessions import session_open, session_revoke
from site_gateway.protocol import MessageType
from tests.annotations.conftest import World
from tests.annotations.secure_access.conftest import (
    FakeGateway,
    browser_socket,
    expect_close,
    receive_json,
)
from tests.annotations.secure_access.conftest import gateway as gateway
from tests.annotations.secure_access.conftest import gateway_key as gateway_key

pytestmark = pytest.mark.django_db(transaction=True)
REVOKED = "Access revoked: an administrator or the site's custodian ended this session."


async def ready_session(world: World, gateway: FakeGateway) -> tuple[str, Any]:
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK
    session = await sync_to_async(session_open)(actor=world.annotator, task=world.task)
    sid = str(session.pk)
    browser = await browser_socket(sid, "annotator")
    assert (await browser.connect())[0]
    await receive_json(browser)  # connecting
    assert await gateway.accept_attach() == sid
    await receive_json(browser)
    await receive_json(browser)  # state + ready
    return sid, browser


def errors(seen: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["code"], m["message"]) for m in seen if m.get("type") == "error"]


async def test_a_revoke_closes_the_viewer_socket_with_a_plain_message(
    world: World, gateway: FakeGateway
) -> None:
    sid, browser = await ready_session(world, gateway)
    session = await sync_to_async(SecureAccessSession.objects.get)(pk=sid)
    await sync_to_async(session_revoke)(actor=world.admin, session=session, reason="audit")
    seen = await expect_close(browser, 4403, timeout=5)
    assert errors(seen) == [("session_closed", REVOKED)]
    # the site's control link was told too
    assert gateway.control is not None
    revoke = await receive_json(gateway.control)
    assert revoke == {"type": "session.revoke", "session": sid}
    # a new socket for the revoked session: refused, with the same words
    again = await browser_socket(sid, "annotator")
    assert (await again.connect())[0]
    assert errors(await expect_close(again, 4403)) == [("session_closed", REVOKED)]


async def test_a_lost_revoke_message_still_closes_the_viewer_by_its_poll(
    world: World, gateway: FakeGateway
) -> None:
    sid, browser = await ready_session(world, gateway)
    # Closed in the database without any channel-layer message (as if channels_redis dropped it).
    await sync_to_async(
        SecureAccessSession.objects.filter(pk=sid).update
    )(closed_at=timezone.now(), close_reason=CloseReason.REVOKED)  # fmt: skip
    started = time.monotonic()
    seen = await expect_close(browser, 4403, timeout=POLL_SECONDS + 3)
    assert time.monotonic() - started <= POLL_SECONDS + 1
    assert errors(seen) == [("session_closed", REVOKED)]


async def test_someone_elses_revoked_session_does_not_say_why(
    world: World, gateway: FakeGateway
) -> None:
    sid, browser = await ready_session(world, gateway)
    await browser.disconnect()
    session = await sync_to_async(SecureAccessSession.objects.get)(pk=sid)
    await sync_to_async(session_revoke)(actor=world.admin, session=session, reason="audit")
    other = await browser_socket(sid, "lead")
    assert (await other.connect())[0]
    assert errors(await expect_close(other, 4403)) == [
        ("session_closed", "this session is closed or not yours")
    ]
