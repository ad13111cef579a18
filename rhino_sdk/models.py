"""Typed views of the API's answers. Each keeps the answer it was made from in ``raw``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any


def _date(value: Any) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _datetime(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class UserRef:
    id: int
    username: str
    pseudonym: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> UserRef:
        return cls(id=data["id"], username=data["username"], pseudonym=data["pseudonym"])


@dataclass(frozen=True)
class Site:
    id: int
    name: str
    slug: str
    is_online: bool
    is_enrolled: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Site:
        return cls(
            id=data["id"], name=data["name"], slug=data["slug"], is_online=data["is_online"],
            is_enrolled=data["is_enrolled"], raw=data,
        )  # fmt: skip


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    slug: str
    sites: list[int]
    leads: list[UserRef]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Project:
        return cls(
            id=data["id"], name=data["name"], slug=data["slug"], sites=list(data["sites"]),
            leads=[UserRef.from_api(u) for u in data["leads"]], raw=data,
        )  # fmt: skip


@dataclass(frozen=True)
class Task:
    id: int
    project: int
    site: int
    series_handle: str
    label_schema: int
    assignee: UserRef | None
    status: str
    due_date: datetime.date | None
    review_comment: str
    label_count: int
    updated_at: datetime.datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Task:
        assignee = data.get("assignee")
        return cls(
            id=data["id"], project=data["project"], site=data["site"],
            series_handle=data["series_handle"], label_schema=data["label_schema"],
            assignee=UserRef.from_api(assignee) if assignee else None, status=data["status"],
            due_date=_date(data.get("due_date")), review_comment=data.get("review_comment", ""),
            label_count=data.get("label_count", 0), updated_at=_datetime(data.get("updated_at")),
            raw=data,
        )  # fmt: skip


@dataclass(frozen=True)
class SelectionReason:
    key: str
    decision: str
    code_value: str
    coding_scheme: str
    code_meaning: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SelectionReason:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Selection:
    id: int
    project: int
    site: int
    study_handle: str
    series_handle: str
    decision: str
    reason: str
    reason_code: tuple[str, str, str]  # (code value, coding scheme, code meaning)
    kos_state: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Selection:
        return cls(
            id=data["id"], project=data["project"], site=data["site"],
            study_handle=data["study_handle"], series_handle=data["series_handle"],
            decision=data["decision"], reason=data["reason"],
            reason_code=(data["reason_code_value"], data["reason_coding_scheme"],
                         data["reason_code_meaning"]),
            kos_state=data["kos_state"], raw=data,
        )  # fmt: skip


@dataclass(frozen=True)
class BulkResult:
    created: list[Task]
    skipped: list[tuple[str, int]]  # (series handle, reader id) that already had a task

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> BulkResult:
        return cls(
            created=[Task.from_api(t) for t in data["created"]],
            skipped=[(s["series_handle"], s["reader"]) for s in data["skipped"]],
        )


@dataclass(frozen=True)
class Progress:
    """Counts by status (``totals``, per site, per annotator) and site-reported label counts."""

    project: int
    totals: dict[str, int]
    by_site: list[dict[str, Any]]
    by_annotator: list[dict[str, Any]]
    labels: dict[str, Any]
    notes: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Progress:
        return cls(
            project=data["project"], totals=dict(data["totals"]), by_site=list(data["by_site"]),
            by_annotator=list(data["by_annotator"]), labels=dict(data["labels"]),
            notes=list(data["notes"]), raw=data,
        )  # fmt: skip
