"""The audit console's query string, validated at the edge into an ``AuditFilter``.

Bad input is refused with coded errors (``invalid``, ``unknown_field``) naming what was wrong and
what would be valid, the same shape as the API's error bodies.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from annotations.audit_actions import AuditAction
from annotations.console.filters import AuditFilter, AuditView, search_terms
from annotations.errors import DomainError, ErrorCode

OUTCOME_CHOICES = [
    ("", "any outcome"),
    ("success", "success"),
    ("failure", "any failure"),
    ("4", "minor failure"),
    ("8", "serious failure"),
    ("12", "major failure"),
]
ACTION_CHOICES = [("", "any action")] + [(a.value, a.value) for a in AuditAction]
_OBJECT = re.compile(r"^(?P<type>[a-z][a-z0-9_]{0,31})(?::(?P<id>[A-Za-z0-9._-]{1,64}))?$")
_MAX_ID = 2**63 - 1
MAX_LIMIT = 200


class ConsoleFilterError(DomainError):
    code = ErrorCode.INVALID


def _parse_utc(value: str) -> dt.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise forms.ValidationError(
            "Not an ISO 8601 date-time; use e.g. 2026-01-31T14:00:00Z (UTC).",
            code="invalid",
        ) from None
    if parsed.tzinfo is None:  # the form says UTC, and so does every time on the page
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, strip=True)
    action = forms.MultipleChoiceField(required=False, choices=ACTION_CHOICES)
    outcome = forms.ChoiceField(required=False, choices=OUTCOME_CHOICES)
    project = forms.IntegerField(required=False, min_value=1, max_value=_MAX_ID)
    site = forms.IntegerField(required=False, min_value=1, max_value=_MAX_ID)
    object = forms.CharField(required=False, max_length=100, strip=True)
    since = forms.CharField(required=False, max_length=40)
    until = forms.CharField(required=False, max_length=40)
    q = forms.CharField(required=False, max_length=200)
    before = forms.IntegerField(required=False, min_value=1, max_value=_MAX_ID)
    after = forms.IntegerField(required=False, min_value=0, max_value=_MAX_ID)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)

    def clean_object(self) -> tuple[str, str]:
        value: str = self.cleaned_data["object"]
        if not value:
            return "", ""
        match = _OBJECT.match(value)
        if match is None:
            raise forms.ValidationError(
                "Use TYPE or TYPE:ID, e.g. task:42 or project (lower-case type, id of letters, "
                "digits, '.', '_' or '-').",
                code="invalid",
            )
        return match["type"], match["id"] or ""

    def clean_since(self) -> dt.datetime | None:
        value = self.cleaned_data["since"]
        return _parse_utc(value) if value else None

    def clean_until(self) -> dt.datetime | None:
        value = self.cleaned_data["until"]
        return _parse_utc(value) if value else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            self.add_error("until", forms.ValidationError("until must be after since."))
        if data.get("before") is not None and data.get("after") is not None:
            self.add_error("after", forms.ValidationError("Give before or after, not both."))
        return data


@dataclass(frozen=True, slots=True)
class ConsoleQuery:
    filter: AuditFilter
    before: int | None
    after: int | None
    limit: int


def parse_audit_query(params: QueryDict, view: AuditView, *, paging: bool = True) -> ConsoleQuery:
    """Validate the query string; raise ``ConsoleFilterError`` with per-field messages."""
    allowed = set(AuditFilterForm.base_fields) - (set() if paging else {"before", "after", "limit"})
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConsoleFilterError(
            f"Unknown filter parameter(s): {', '.join(unknown)}.",
            code=ErrorCode.UNKNOWN_FIELD,
            fields={
                name: [f"Not a filter; use one of {', '.join(sorted(allowed))}."]
                for name in unknown
            },
        )
    data = params.copy()
    data.setlist("action", [a for a in params.getlist("action") if a])
    form = AuditFilterForm(data)
    if not form.is_valid():
        raise ConsoleFilterError(
            "Invalid filter.",
            fields={name: [str(m) for m in errors] for name, errors in form.errors.items()},
        )
    cd = form.cleaned_data
    actions = tuple(cd["action"])
    if view.all_actions and any(a not in view.all_actions for a in actions):
        raise ConsoleFilterError(
            "Invalid filter.",
            fields={"action": [f"This view shows only {', '.join(view.all_actions)}."]},
        )
    object_type, object_id = cd["object"]
    audit_filter = AuditFilter(
        actor=cd["actor"],
        actions=actions,
        outcome=cd["outcome"],
        project_id=cd["project"],
        site_id=cd["site"],
        object_type=object_type,
        object_id=object_id,
        since=cd["since"],
        until=cd["until"],
        terms=search_terms(cd["q"]),
        view=view,
    )
    return ConsoleQuery(audit_filter, cd["before"], cd["after"], cd["limit"] or 50)
