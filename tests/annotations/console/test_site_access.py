"""Site access (issue 9): a gateway's audit digest through the real control consumer, stored and
audited; the console page compares it with what central granted and relayed, and flags a session
central never granted, a count mismatch and a chain head that went backwards. The digests are
built by the gateway's own DigestBuilder over a real site audit file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.console.site_access import (
    TOLERANCE_FRAMES,
    DigestError,
    digest_validate,
    session_relay_count_add,
)
from annotations.models import (
    AuditEvent,
    AuditOutcome,
    SecureAccessSession,
    SessionRelayCount,
    SiteAuditDigest,
    User,
)
from annotations.services.sessions import session_close, session_open
from site_gateway.grants import public_key_b64
from site_gateway.protocol import MessageType, unpack_frame
from site_gateway.site_audit import AuditKind, SiteAudit
from site_gateway.site_digest import DigestBuilder
from tests.annotations.conftest import World
from tests.annotations.secure_access.conftest import (
    FakeGateway,
    browser_socket,
    receive_json,
    settle,
)

pytestmark = pytest.mark.django_db(transaction=True)
KEY = b"s" * 32


def site_digest(path: Path, served: dict[tuple[str, str], int]) -> dict[str, Any]:
    """What the gateway would send after serving ``served`` frames per (session, user)."""
    audit = SiteAudit(path, KEY)
    audit.record(AuditKind.SESSION_OPENED, session="start", user="u_0")
    for (session, user), count in served.items():
        for index in range(count):
            audit.record(AuditKind.FRAME_SERVED, session=session, user=user, index=index)
    audit.flush()
    builder = DigestBuilder(path)
    builder.refresh()
    return builder.digest()


def page(user: User) -> Any:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    response = client.get("/console/site-access/")
    assert response.status_code == 200, response.content[:300]
    return response


def rows_of(response: Any, slug: str) -> dict[str, Any]:
    entry = next(e for e in response.context["sites"] if e.site.slug == slug)
    return {row.session: row for row in entry.rows}


async def events(action: str, **filters: Any) -> list[AuditEvent]:
    def read() -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))

    return await sync_to_async(read)()


@pytest.fixture
async def gateway(world: World) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    world.site.gateway_public_key = public_key_b64(key)
    await sync_to_async(world.site.save)(update_fields=["gateway_public_key"])
    fake = FakeGateway(site=world.site.slug, key=key)
    yield fake
    await fake.close()


async def relay_frames(world: World, gateway: FakeGateway, count: int) -> str:
    """A real session: the annotator's browser socket gets ``count`` frames relayed by central."""
    session = await sync_to_async(session_open)(actor=world.annotator, task=world.task)
    sid = str(session.pk)
    browser: WebsocketCommunicator = await browser_socket(sid, "annotator")
    assert (await browser.connect())[0]
    await receive_json(browser)  # connecting
    assert await gateway.accept_attach() == sid
    await receive_json(browser)
    await receive_json(browser)  # state + ready
    for seq in range(1, count + 1):
        request = {"type": "frame.request", "seq": seq, "series": world.task.series_handle}
        await browser.send_to(text_data=json.dumps({**request, "index": seq}))
        await gateway.serve_one(sid)
        header, _ = unpack_frame((await browser.receive_output())["bytes"])
        assert header["seq"] == seq
        await browser.send_to(text_data=json.dumps({"type": "frame.ack", "seq": seq}))
    await browser.disconnect()
    await settle()
    return sid


async def test_a_digest_is_stored_audited_and_compared_with_central(
    world: World, gateway: FakeGateway, tmp_path: Path
) -> None:
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK
    sid = await relay_frames(world, gateway, 3)
    counts = await sync_to_async(SessionRelayCount.objects.get)(session_id=sid)
    assert (counts.frames_relayed, counts.frames_dropped) == (3, 0)
    session = await sync_to_async(SecureAccessSession.objects.get)(pk=sid)
    await sync_to_async(session_close)(actor=world.annotator, session=session)

    # A second session, closed, whose site count is far above what central relayed.
    other = await sync_to_async(session_open)(actor=world.annotator, task=world.task)
    await sync_to_async(session_relay_count_add)(session_id=str(other.pk), relayed=2, dropped=0)
    await sync_to_async(session_close)(actor=world.annotator, session=other)

    pseudonym = world.annotator.pseudonym
    digest = site_digest(
        tmp_path / "audit.sqlite",
        {
            (sid, pseudonym): 3,
            (str(other.pk), pseudonym): 2 + TOLERANCE_FRAMES + 1,
            ("never-granted-1", "u_0123456789abcdef"): 5,
        },
    )
    assert gateway.control is not None
    await gateway.control.send_to(text_data=json.dumps(digest))
    await settle()
    stored = await sync_to_async(SiteAuditDigest.objects.get)(site=world.site)
    assert (stored.head_seq, stored.head_hash) == (
        digest["head"]["seq"],
        digest["head"]["hash"],
    )
    assert stored.chain_alert == ""
    recorded = await events(AuditAction.SITE_AUDIT_DIGEST, site_id=world.site.pk)
    assert [(e.outcome, e.detail) for e in recorded] == [
        (
            AuditOutcome.SUCCESS,
            {"head": digest["head"]["seq"], "sessions": 3, "frames": 3 + 19 + 5},
        )
    ]

    # The same digest again (an idle site, every period): received_at moves, no second event.
    await gateway.control.send_to(text_data=json.dumps(digest))
    await settle()
    again = await sync_to_async(SiteAuditDigest.objects.get)(site=world.site)
    assert again.received_at > stored.received_at
    assert len(await events(AuditAction.SITE_AUDIT_DIGEST, site_id=world.site.pk)) == 1

    response = await sync_to_async(page)(world.admin)
    rows = rows_of(response, world.site.slug)
    assert (rows[sid].site_frames, rows[sid].central_frames, rows[sid].flags) == (3, 3, ())
    assert rows[sid].user == "annotator"
    assert rows[str(other.pk)].flags == ("count_mismatch",)
    assert rows["never-granted-1"].flags == ("not_granted",)
    assert rows["never-granted-1"].central_frames is None
    users = {u.user: u for u in response.context["sites"][0].users}
    assert (users["annotator"].known, users["annotator"].site_frames) == (True, 3 + 19)
    assert users["annotator"].central_frames == 3 + 2
    assert (users["u_0123456789abcdef"].known, users["u_0123456789abcdef"].site_frames) == (
        False,
        5,
    )
    html = response.content.decode()
    assert "A user central does not know" in html
    assert "Served by the site, never granted by central" in html
    assert "Counts differ beyond the tolerance" in html

    # The site's chain restarts (a lower seq): flagged, kept, and a major failure in the log.
    lower = site_digest(tmp_path / "reset.sqlite", {(sid, pseudonym): 1})
    assert lower["head"]["seq"] < digest["head"]["seq"]
    await gateway.control.send_to(text_data=json.dumps(lower))
    await settle()
    stored = await sync_to_async(SiteAuditDigest.objects.get)(site=world.site)
    went_back = f"chain head went back from #{digest['head']['seq']} to #{lower['head']['seq']}"
    assert stored.chain_alert == went_back
    recorded = await events(AuditAction.SITE_AUDIT_DIGEST, site_id=world.site.pk)
    assert recorded[-1].outcome == AuditOutcome.MAJOR_FAILURE
    assert recorded[-1].detail["alert"] == went_back
    # The same seq with another hash is flagged too; the alert stays after a normal digest.
    same_seq = {**lower, "head": {**lower["head"], "hash": "a" * 64}}
    await gateway.control.send_to(text_data=json.dumps(same_seq))
    await settle()
    stored = await sync_to_async(SiteAuditDigest.objects.get)(site=world.site)
    assert stored.chain_alert == f"a different hash at the same head #{lower['head']['seq']}"
    response = await sync_to_async(page)(world.admin)
    assert "Site audit chain: a different hash at the same head" in response.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"head": {"seq": -1, "hash": "0" * 64}}, "head.seq"),
        ({"head": {"seq": 1, "hash": "<b>"}}, "head.hash"),
        ({"window": {"from": 10, "to": 5}}, "window.from is after"),
        ({"sessions": [{"session": "a b", "user": "u", "frames": 1, "first": 1, "last": 1}]}, "session"),
        ({"sessions": [{"session": "a", "user": "u", "frames": True, "first": 1, "last": 1}]}, "frames"),
        ({"sessions": [{"session": f"s{i}", "user": "u", "frames": 1, "first": 1, "last": 1}
                       for i in range(501)]}, "at most 500"),
        ({"users": "everyone"}, "users must be a list"),
        ({"truncated": "no"}, "truncated"),
    ],
)  # fmt: skip
def test_malformed_digests_are_refused_with_what_was_wrong(
    change: dict[str, Any], message: str
) -> None:
    good = {
        "type": "audit.digest",
        "head": {"seq": 3, "hash": "f" * 64},
        "window": {"from": 100.0, "to": 200.0},
        "sessions": [],
        "users": [],
        "truncated": False,
    }
    digest_validate(good)
    with pytest.raises(DigestError, match=message):
        digest_validate({**good, **change})


async def test_a_malformed_digest_over_the_link_stores_nothing_and_is_audited(
    world: World, gateway: FakeGateway
) -> None:
    assert (await gateway.connect())["type"] == MessageType.AUTH_OK
    assert gateway.control is not None
    await gateway.control.send_to(
        text_data=json.dumps({"type": "audit.digest", "head": {"seq": "x"}, "sessions": []})
    )
    reply = await receive_json(gateway.control)
    assert (reply["type"], reply["code"]) == ("error", "bad_message")
    assert not await sync_to_async(SiteAuditDigest.objects.exists)()
    refused = await events(AuditAction.SITE_AUDIT_DIGEST)
    assert [(e.outcome, e.detail) for e in refused] == [
        (AuditOutcome.MINOR_FAILURE, {"refused": "head.seq must be an integer in 0…1099511627776"})
    ]


def test_custodians_see_their_sites_only_and_reading_is_audited(world: World) -> None:
    for site in (world.site, world.other_site):
        SiteAuditDigest.objects.create(
            site=site,
            received_at=world.site.created_at,
            head_seq=1,
            head_hash="0" * 64,
            window_from=world.site.created_at,
            window_to=world.site.created_at,
            sessions=[{"session": f"only-{site.slug}", "user": "u_1", "frames": 1,
                       "first": 0.0, "last": 0.0}],
        )  # fmt: skip
    response = page(world.custodian)
    assert [e.site.slug for e in response.context["sites"]] == [world.site.slug]
    assert f"only-{world.other_site.slug}" not in response.content.decode()
    assert set(rows_of(page(world.auditor), world.other_site.slug)) == {
        f"only-{world.other_site.slug}"
    }
    reads = AuditEvent.objects.filter(action=AuditAction.AUDIT_READ, actor_id=world.custodian.pk)
    assert [e.detail for e in reads] == [{"view": "site_access", "sites": 1, "flagged": 1}]
    assert response.context["sites"][0].users == []  # no per-user counts in these digests
    outsider = Client(HTTP_HOST="localhost")
    outsider.force_login(world.outsider)
    assert outsider.get("/console/site-access/").status_code == 404
    denied = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor_id=world.outsider.pk)
    assert [e.detail.get("attempted") for e in denied] == ["console.site_access"]
