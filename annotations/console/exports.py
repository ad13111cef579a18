"""Exports of a filtered audit set: CSV, and DICOM audit messages (PS3.15 A.5, the IHE ATNA form).

Both stream in keyset chunks of ``CHUNK`` events (bounded memory at any size) and stop at the
snapshot seq taken when the export started, so an export is a fixed set even while events keep
arriving (its own audit.export event is not in it).

DICOM: one ``AuditMessage`` per event (schema: PS3.15 A.5.1, ``schemas/dicom-audit-message.rng``),
wrapped in an ``AuditMessages`` root because an XML document has exactly one root; validate each
child on its own. Identifiers only: user names, ids and addresses — no PHI exists centrally.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import QuerySet

from annotations.audit_actions import dicom_event_code
from annotations.models import AuditEvent, AuditOutcome

CHUNK = 2000
CSV_COLUMNS = [
    "seq", "occurred_at", "actor_id", "actor_name", "action", "outcome", "outcome_label",
    "object_type", "object_id", "project_id", "site_id", "source_address", "detail", "prev_mac",
    "mac",
]  # fmt: skip
_FIELDS = [c for c in CSV_COLUMNS if c != "outcome_label"]

# Characters XML 1.0 cannot carry at all (§2.2); dropped from text so the document stays parseable.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# OWASP CSV injection: a cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# PS3.15 A.5.1.2: ParticipantObjectTypeCode (1 person, 2 system object, 3 organization) and
# ParticipantObjectTypeCodeRole (2 location, 6 user, 13 security resource, 20 job) per object type.
_OBJECT_CODES: dict[str, tuple[str, str]] = {
    "user": ("1", "6"),
    "site": ("3", "2"),
    "project": ("2", "13"),
    "task": ("2", "20"),
    "secureaccesssession": ("2", "13"),
    "labelschema": ("2", "13"),
}
AUDIT_LOG_URI = "urn:rhino:central:audit-log"


def audit_source_id() -> str:
    return str(getattr(settings, "RHINO_AUDIT_SOURCE_ID", "rhino-central"))


def _chunks(queryset: QuerySet[AuditEvent], *, up_to: int) -> Iterator[list[dict[str, Any]]]:
    last = 0
    while True:
        rows = list(
            queryset.filter(seq__gt=last, seq__lte=up_to).order_by("seq").values(*_FIELDS)[:CHUNK]
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["seq"]


def _stream(
    queryset: QuerySet[AuditEvent],
    up_to: int,
    header: str,
    render: Callable[[dict[str, Any]], str],
    footer: str,
) -> Iterator[str]:
    yield header
    for rows in _chunks(queryset, up_to=up_to):
        yield "".join(render(row) for row in rows)
    yield footer


async def _astream(
    queryset: QuerySet[AuditEvent],
    up_to: int,
    header: str,
    render: Callable[[dict[str, Any]], str],
    footer: str,
) -> AsyncIterator[str]:
    """The same stream for ASGI (daphne): a sync iterator would be read whole into memory there."""
    yield header
    chunks = _chunks(queryset, up_to=up_to)

    def next_chunk() -> list[dict[str, Any]] | None:
        return next(chunks, None)

    while (rows := await sync_to_async(next_chunk, thread_sensitive=True)()) is not None:
        yield "".join(render(row) for row in rows)
    yield footer


def export_stream(
    kind: str, queryset: QuerySet[AuditEvent], *, up_to: int, asynchronous: bool
) -> Iterator[str] | AsyncIterator[str]:
    if kind == "csv":
        header, render, footer = _csv_line(CSV_COLUMNS), csv_row, ""
    else:
        header = '<?xml version="1.0" encoding="UTF-8"?>\n<AuditMessages>\n'
        render, footer = dicom_audit_message_xml, "</AuditMessages>\n"
    if asynchronous:
        return _astream(queryset, up_to, header, render, footer)
    return _stream(queryset, up_to, header, render, footer)


# -- CSV ------------------------------------------------------------------------------------------


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_row(row: dict[str, Any]) -> str:
    values = dict(row)
    values["occurred_at"] = row["occurred_at"].isoformat()
    values["outcome_label"] = AuditOutcome(row["outcome"]).label
    values["detail"] = json.dumps(row["detail"], sort_keys=True, separators=(",", ":"))
    return _csv_line([_cell(values[c]) for c in CSV_COLUMNS])


# -- DICOM audit messages (PS3.15 A.5) ------------------------------------------------------------


def _text(value: Any) -> str:
    return _XML_ILLEGAL.sub("", str(value))


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode("ascii")


def _coded(parent: ET.Element, tag: str, code: tuple[str, str, str]) -> ET.Element:
    value, scheme, meaning = code
    return ET.SubElement(
        parent,
        tag,
        {"csd-code": _text(value), "codeSystemName": _text(scheme), "originalText": _text(meaning)},
    )


def _participant_object(
    message: ET.Element,
    *,
    object_id: str,
    id_type: tuple[str, str, str],
    type_code: str,
    role: str,
    name: str,
    details: list[tuple[str, str]],
) -> None:
    poi = ET.SubElement(
        message,
        "ParticipantObjectIdentification",
        {
            "ParticipantObjectID": _text(object_id),
            "ParticipantObjectTypeCode": type_code,
            "ParticipantObjectTypeCodeRole": role,
        },
    )
    _coded(poi, "ParticipantObjectIDTypeCode", id_type)
    ET.SubElement(poi, "ParticipantObjectName").text = _text(name)
    for detail_type, value in details:
        ET.SubElement(poi, "ParticipantObjectDetail", {"type": detail_type, "value": _b64(value)})


def dicom_audit_message(row: dict[str, Any]) -> ET.Element:
    """One event as a DICOM ``AuditMessage`` element (PS3.15 A.5.1; codes: audit_actions.py)."""
    code = dicom_event_code(row["action"])
    outcome = int(row["outcome"])
    message = ET.Element("AuditMessage")

    event = ET.SubElement(
        message,
        "EventIdentification",
        {
            "EventActionCode": code.action_code,
            "EventDateTime": row["occurred_at"].isoformat(),
            "EventOutcomeIndicator": str(outcome),
        },
    )
    _coded(event, "EventID", code.event_id)
    if code.event_type is not None:
        _coded(event, "EventTypeCode", code.event_type)
    if outcome:
        reason = row["detail"].get("reason") if isinstance(row["detail"], dict) else None
        description = AuditOutcome(outcome).label + (f": {reason}" if reason else "")
        ET.SubElement(event, "EventOutcomeDescription").text = _text(description)

    # The requestor: the signed-in user, or central itself for system events (no actor).
    participant = {
        "UserID": _text(row["actor_name"] or audit_source_id()),
        "UserIsRequestor": "true",
    }
    if row["actor_id"] is not None:
        participant["AlternativeUserID"] = str(row["actor_id"])
    if row["source_address"]:
        participant["NetworkAccessPointID"] = _text(row["source_address"])
        participant["NetworkAccessPointTypeCode"] = "2"  # IP address
    ET.SubElement(message, "ActiveParticipant", participant)

    source = ET.SubElement(
        message, "AuditSourceIdentification", {"AuditSourceID": _text(audit_source_id())}
    )
    ET.SubElement(source, "AuditSourceTypeCode", {"csd-code": "4"})  # application server

    chain = [("rhino.seq", str(row["seq"])), ("rhino.mac", row["mac"])]
    if row["action"] in ("audit.read", "audit.export"):
        # PS3.15 A.5.3.2 "Audit Log Used": the participant object is the audit log itself (a URI),
        # and the filter that was read or exported goes with it.
        _participant_object(
            message,
            object_id=AUDIT_LOG_URI,
            id_type=("12", "RFC-3881", "URI"),
            type_code="2",
            role="13",
            name="Rhino central audit log",
            details=[*chain, ("filter", json.dumps(row["detail"], sort_keys=True))],
        )
        return message
    seen: set[tuple[str, str]] = set()
    if row["object_type"]:
        type_code, role = _OBJECT_CODES.get(row["object_type"], ("4", "13"))
        ref = (row["object_type"], row["object_id"])
        seen.add(ref)
        _participant_object(
            message,
            object_id=row["object_id"] or row["object_type"],
            id_type=(row["object_type"], "RHINO", row["object_type"]),
            type_code=type_code,
            role=role,
            name=f"{row['object_type']} {row['object_id']}".strip(),
            details=[*chain, ("detail", json.dumps(row["detail"], sort_keys=True))],
        )
        chain = []
    for object_type, object_id in (("project", row["project_id"]), ("site", row["site_id"])):
        if object_id is None or (object_type, str(object_id)) in seen:
            continue
        type_code, role = _OBJECT_CODES[object_type]
        _participant_object(
            message,
            object_id=str(object_id),
            id_type=(object_type, "RHINO", object_type),
            type_code=type_code,
            role=role,
            name=f"{object_type} {object_id}",
            details=chain,
        )
        chain = []
    return message


def dicom_audit_message_xml(row: dict[str, Any]) -> str:
    return ET.tostring(dicom_audit_message(row), encoding="unicode") + "\n"
