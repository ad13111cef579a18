"""Exports: CSV and DICOM audit messages of the filtered set, streamed, one audit.export each;
every exported AuditMessage validates against the DICOM audit message schema (PS3.15 A.5.1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.console import exports
from annotations.models import AuditEvent, AuditOutcome, User
from annotations.services.audit import audit_record
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

etree = pytest.importorskip("lxml.etree", reason="pip install lxml (requirements-dev.txt)")

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]
SCHEMA = Path(exports.__file__).parent / "schemas" / "dicom-audit-message.rng"


@pytest.fixture(scope="module")
def relaxng() -> object:
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


def body(response: object) -> bytes:
    assert getattr(response, "streaming", False), "exports must stream"
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def varied_events(world: World) -> None:
    """Events of every shape the exporter meets: failures, system actor, audit use, odd detail."""
    audit_record(
        actor=None, action=AuditAction.USER_LOGIN_FAILED, outcome=AuditOutcome.MINOR_FAILURE
    )
    audit_record(
        actor=world.outsider, action=AuditAction.ACCESS_DENIED, outcome=AuditOutcome.MINOR_FAILURE,
        obj=world.task, project_id=world.project.pk, site_id=world.site.pk,
        detail={"attempted": "task.assign", "reason": "You need manage_project <&> \"here\"."},
    )  # fmt: skip
    audit_record(
        actor=world.auditor, action=AuditAction.AUDIT_READ, detail={"view": "audit", "q": ["x"]}
    )
    audit_record(
        actor=world.admin, action="site.update", outcome=AuditOutcome.SERIOUS_FAILURE,
        obj=world.site, site_id=world.site.pk, detail={"name": "Hôpital \u00e9 \u2603", "n": 1.5},
    )  # fmt: skip
    audit_record(actor=world.lead, action="test.unknown_action", obj=world.lead)


def test_csv_export_streams_the_filtered_set_and_records_one_event(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    before = last_seq()
    response = client.get("/console/audit/export.csv", {"project": world.project.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    expected = list(
        AuditEvent.objects.filter(project_id=world.project.pk, seq__lte=before)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert [int(r["seq"]) for r in rows] == expected
    assert all(r["project_id"] == str(world.project.pk) for r in rows)
    [event] = events_after(before)
    assert (event.action, event.outcome, event.actor_id) == (
        AuditAction.AUDIT_EXPORT, AuditOutcome.SUCCESS, world.auditor.pk,
    )  # fmt: skip
    assert event.detail == {"view": "audit", "project": world.project.pk, "format": "csv"}


def test_export_is_a_snapshot_without_its_own_event(world: World, client_for: ClientFor) -> None:
    client = client_for(world.auditor)
    response = client.get("/console/audit/export.csv", {"action": "audit.export"})
    assert list(csv.DictReader(io.StringIO(body(response).decode()))) == []
    response = client.get("/console/audit/export.csv", {"action": "audit.export"})
    assert len(list(csv.DictReader(io.StringIO(body(response).decode())))) == 1


def test_csv_cells_cannot_start_a_spreadsheet_formula(world: World) -> None:
    row = AuditEvent.objects.values(*exports._FIELDS).first()
    assert row is not None
    row["actor_name"] = "=HYPERLINK(1)"
    assert ",'=HYPERLINK(1)," in exports.csv_row(row)


def test_dicom_export_validates_against_the_ps3_15_schema(
    world: World, client_for: ClientFor, relaxng: object
) -> None:
    varied_events(world)
    client = client_for(world.auditor)
    before = last_seq()
    response = client.get("/console/audit/export.xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    root = etree.fromstring(body(response))
    messages = root.findall("AuditMessage")
    assert len(messages) == AuditEvent.objects.filter(seq__lte=before).count() > 10
    for message in messages:
        document = etree.ElementTree(etree.fromstring(etree.tostring(message)))
        assert relaxng.validate(document), (relaxng.error_log, etree.tostring(message))  # type: ignore[attr-defined]
    [event] = events_after(before)
    assert (event.action, event.detail["format"]) == (AuditAction.AUDIT_EXPORT, "dicom")


def test_dicom_message_content_follows_the_action_catalogue(
    world: World, client_for: ClientFor
) -> None:
    varied_events(world)
    root = etree.fromstring(
        body(
            client_for(world.auditor).get("/console/audit/export.xml", {"action": "access.denied"})
        )
    )
    [message] = root.findall("AuditMessage")
    ident = message.find("EventIdentification")
    assert ident.get("EventActionCode") == "E" and ident.get("EventOutcomeIndicator") == "4"
    assert ident.find("EventID").get("csd-code") == "110113"
    assert ident.find("EventTypeCode").get("csd-code") == "110132"
    assert "manage_project" in ident.find("EventOutcomeDescription").text
    participant = message.find("ActiveParticipant")
    assert participant.get("UserID") == "outsider" and participant.get("UserIsRequestor") == "true"
    assert participant.get("AlternativeUserID") == str(world.outsider.pk)
    objects = message.findall("ParticipantObjectIdentification")
    assert [(o.get("ParticipantObjectID"), o.find("ParticipantObjectIDTypeCode").get("csd-code"))
            for o in objects] == [(str(world.task.pk), "task"), (str(world.project.pk), "project"),
                                  (str(world.site.pk), "site")]  # fmt: skip


def test_dicom_schema_rejects_what_the_standard_forbids(relaxng: object) -> None:
    bad = etree.fromstring(
        b'<AuditMessage><EventIdentification EventActionCode="X" EventDateTime="yesterday" '
        b'EventOutcomeIndicator="3"><EventID csd-code="1" codeSystemName="DCM" originalText="x"/>'
        b'</EventIdentification><AuditSourceIdentification AuditSourceID="a"/></AuditMessage>'
    )
    assert not relaxng.validate(etree.ElementTree(bad))  # type: ignore[attr-defined]


def test_bad_export_filter_is_a_coded_400_json_and_one_failure_event(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    before = last_seq()
    response = client.get("/console/audit/export.xml", {"since": "soon", "before": "3"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field" and "before" in error["fields"]
    response = client.get("/console/audit/export.xml", {"since": "soon"})
    assert response.json()["error"]["code"] == "invalid"
    events = events_after(before)
    assert [(e.action, e.outcome) for e in events] == [
        (AuditAction.AUDIT_EXPORT, AuditOutcome.MINOR_FAILURE)
    ] * 2


def test_custodian_export_holds_only_their_sites_events(
    world: World, client_for: ClientFor
) -> None:
    response = client_for(world.custodian).get("/console/audit/export.csv")
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert rows and {r["site_id"] for r in rows} == {str(world.site.pk)}


def test_export_streams_in_bounded_chunks(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "CHUNK", 3)
    queryset = AuditEvent.objects.all()
    stream = exports.export_stream("csv", queryset, up_to=last_seq(), asynchronous=False)
    assert isinstance(stream, Iterator)
    parts = list(stream)
    assert len(parts) == 2 + -(-queryset.count() // 3)  # header, one part per chunk, footer


@pytest.mark.django_db(transaction=True)
async def test_export_streams_asynchronously_under_asgi(world: World) -> None:
    """Under ASGI (daphne) the export is an async iterator: Django would buffer a sync one whole."""
    from asgiref.sync import sync_to_async
    from django.db import connections
    from django.test import AsyncClient

    client = AsyncClient(HTTP_HOST="localhost")
    await client.aforce_login(world.auditor)
    response = await client.get("/console/audit/export.xml", {"project": str(world.project.pk)})
    assert isinstance(response, StreamingHttpResponse) and response.status_code == 200
    assert response.is_async
    parts = [part async for part in response]
    root = etree.fromstring(b"".join(parts))
    expected = await sync_to_async(
        lambda: AuditEvent.objects.filter(project_id=world.project.pk).count()
    )()
    assert len(root.findall("AuditMessage")) == expected
    # sync_to_async's worker thread keeps its own connection; close it, or the test database
    # cannot be dropped at the end of the run ("being accessed by other users")
    await sync_to_async(connections.close_all)()
