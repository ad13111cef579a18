"""The lead's series selections at the site: what stays valid in the PACS is the current selection.

A selection revision (subject ``selection/<project>``) lists series, each with the decision and
reason it was selected for (``{"decision", "text", "code"}``). It is planned into one Key Object
Selection document per (study, reason): the stream ``<site>/selection/<project>/<study UID>/<reason
key>``, so one revision can carry an include KOS and an exclude KOS of the same study.

A KOS is *valid* while no rejection note lists it (dead letters never reached the PACS and do not
count). A later selection of other series adds a KOS beside the earlier ones. When a revision
**withdraws** series, or selects them again with **another decision or reason**, every valid KOS of
the project that lists one of them is superseded, in the same store transaction as the revision
(``supersede``):

- one IHE IOCM rejection note per stream lists those KOS (``kind='retire'`` in ``<stream>/retired``,
  exactly as for a deleted label stream: ``outbox.queue_rejection``);
- the *other* series they listed, unless another valid KOS still lists them, are re-issued in the
  revision itself with the decision and reason they had (a new KOS that supersedes the rejected one).

So the valid KOS list every selected series with its current reason and nothing else. Repeating a
withdrawal finds no valid KOS and queues nothing: its revision only links to the rejection notes
that already cover those series, so its state is theirs. Likewise, selecting a series again with
the reason a valid KOS already lists it for (central re-sending a ``selection.write`` whose answer
it never got) writes no second KOS: the revision links to that KOS, so its state is that KOS's. A series no KOS of the project ever
listed cannot be withdrawn (``not_found``): the site never held that selection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from site_gateway.labels.outbox import DEAD, PlannedObject, queue_rejection
from site_gateway.labels.records import LabelInvalidError, content_hash
from site_gateway.protocol import ErrorCode


def reason_key(reason: Mapping[str, Any]) -> str:
    """A short stable key of a decision and reason (the stream's last part)."""
    return content_hash([dict(reason)])[:16]


def selection_stream(site: str, project: str, study_uid: str, reason: Mapping[str, Any]) -> str:
    return f"{site}/selection/{project}/{study_uid}/{reason_key(reason)}"


def item_reason(item: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The reason a payload item was selected for (revisions before per-item reasons: the
    revision's one reason)."""
    reason = item.get("reason") or payload["reason"]
    assert isinstance(reason, dict)
    return reason


def plan_selection(
    *, site: str, epoch: str, project: str, revision: int, items: Sequence[Mapping[str, Any]],
    lead: str,
) -> list[PlannedObject]:  # fmt: skip
    """One KOS per (study, reason) of the revision's items."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for item in items:
        key = (item["study_uid"], reason_key(item["reason"]))
        groups.setdefault(key, []).append(item)
    planned = []
    for (study_uid, _), group in sorted(groups.items()):
        reason = group[0]["reason"]
        handles = tuple(i["handle"] for i in group)
        planned.append(
            PlannedObject(
                kind="kos",
                stream=selection_stream(site, project, study_uid, reason),
                study_uid=study_uid,
                group_hash=content_hash(
                    [{"study": study_uid, "reason": reason, "series": handles, "lead": lead}]
                ),
                members=handles,
                epoch=epoch,
                revision=revision,
            )
        )
    return planned


@dataclass(frozen=True)
class _Kos:
    sop_uid: str
    stream: str
    study_uid: str
    revision: int
    members: tuple[str, ...]


def supersede(
    db: sqlite3.Connection,
    subject: str,
    revision: int,
    *,
    selected: Sequence[Mapping[str, Any]] = (),
    withdrawn: Sequence[str] = (),
    epoch: str,
    now: float,
) -> tuple[list[dict[str, Any]], set[str]]:
    """Retire the valid KOS of ``subject`` that ``revision`` makes wrong (see the module's
    docstring), inside the caller's transaction; returns the items to re-issue in ``revision``
    and the selected handles a valid KOS already lists with the same reason (in effect already:
    ``revision`` links to that KOS instead of planning another).

    ``selected`` are the revision's new items (each with its ``reason``), ``withdrawn`` the
    handles it withdraws. Raises ``LabelInvalidError`` (``not_found``) for a withdrawn handle no
    KOS of the subject ever listed, before anything is written.
    """
    rows = [
        _Kos(uid, stream, study_uid, rev, tuple(json.loads(members)))
        for uid, stream, study_uid, rev, members in db.execute(
            "SELECT sop_uid, stream, study_uid, revision, members FROM outbox "
            "WHERE subject = ? AND kind = 'kos' ORDER BY revision, sop_uid",
            (subject,),
        )
    ]
    ever = {handle for row in rows for handle in row.members}
    unknown = [h for h in withdrawn if h not in ever]
    if unknown:
        raise LabelInvalidError(
            "unknown_series",
            f"no selection of this project at this site lists {len(unknown)} of the series",
            code=ErrorCode.NOT_FOUND,
        )
    rejected_by: dict[str, list[str]] = {}
    for note, members in db.execute(
        "SELECT sop_uid, members FROM outbox WHERE subject = ? AND kind = 'retire' AND state != ?",
        (subject, DEAD),
    ):
        for uid in json.loads(members):
            rejected_by.setdefault(uid, []).append(note)
    dead = {
        uid
        for (uid,) in db.execute(
            "SELECT sop_uid FROM outbox WHERE subject = ? AND kind = 'kos' AND state = ?",
            (subject, DEAD),
        )
    }
    new_reasons = {item["handle"]: reason_key(item["reason"]) for item in selected}
    gone = set(withdrawn)
    touched = set(new_reasons) | gone
    payloads: dict[int, dict[str, Any]] = {}

    def items_of(row: _Kos) -> dict[str, dict[str, Any]]:
        if row.revision not in payloads:
            (text,) = db.execute(
                "SELECT payload FROM revisions WHERE subject = ? AND revision = ?",
                (subject, row.revision),
            ).fetchone()
            payloads[row.revision] = json.loads(text)
        payload = payloads[row.revision]
        return {
            i["handle"]: {**i, "reason": item_reason(i, payload)}
            for i in payload["series"]
            if i["handle"] in row.members
        }

    retire: dict[tuple[str, str], list[str]] = {}
    kept: set[str] = set()
    reissue: dict[str, dict[str, Any]] = {}
    links: set[str] = set()
    current: dict[str, str] = {}  # selected handle → a valid KOS listing it with the same reason
    for row in rows:
        listed = touched.intersection(row.members)
        valid = row.sop_uid not in dead and row.sop_uid not in rejected_by
        if valid and listed:
            items = items_of(row)
            wrong = [
                h for h in listed
                if h not in new_reasons or new_reasons[h] != reason_key(items[h]["reason"])
            ]  # fmt: skip
            if wrong:
                retire.setdefault((row.stream, row.study_uid), []).append(row.sop_uid)
                for handle, item in items.items():
                    if handle not in touched:
                        reissue.setdefault(handle, item)
                continue
            for handle in listed:
                current.setdefault(handle, row.sop_uid)
        if valid:
            kept.update(row.members)
        elif gone.intersection(row.members):
            links.update(rejected_by.get(row.sop_uid, ()))  # retired already (or dead)
    for (stream, study_uid), to_reject in sorted(retire.items()):
        queue_rejection(db, subject, revision, stream, study_uid, to_reject, epoch=epoch, now=now)
    for uid in sorted(links | set(current.values())):
        db.execute(
            "INSERT OR IGNORE INTO revision_objects VALUES (?, ?, ?)", (subject, revision, uid)
        )
    return [item for handle, item in reissue.items() if handle not in kept], set(current)
