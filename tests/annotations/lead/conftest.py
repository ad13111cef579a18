"""Helpers for the lead's workspace tests: study handles and recorded selections."""

from __future__ import annotations

import itertools

import pytest

from annotations.models import SeriesSelection
from annotations.services.selections import selection_record
from imaging.handles import HandleKey, HandleKind
from tests.annotations.conftest import World, series_handle

_counter = itertools.count(1)
_key = HandleKey(b"tests-lead-handle-key-0123456789")


def study_handle() -> str:
    return _key.handle(HandleKind.STUDY, f"1.2.826.0.1.3680043.10.998.{next(_counter)}")


def record_selection(
    w: World, *, decision: str = "include", reason: str = "for_annotation"
) -> SeriesSelection:
    return selection_record(
        actor=w.lead, project=w.project, site=w.site, study_handle=study_handle(),
        series_handle=series_handle(), decision=decision, reason=reason,
    )  # fmt: skip


@pytest.fixture
def picked(world: World) -> list[SeriesSelection]:
    """Two included series and one excluded (motion), all at world.site."""
    return [
        record_selection(world),
        record_selection(world),
        record_selection(world, decision="exclude", reason="motion"),
    ]


def bare_selection(w: World) -> SeriesSelection:
    """A selection row made without the service (so without its audit event)."""
    return SeriesSelection.objects.create(
        project=w.project, site=w.site, study_handle=study_handle(),
        series_handle=series_handle(), decision="include", reason_code_value="113000",
        reason_coding_scheme="DCM", reason_code_meaning="Of Interest",
    )  # fmt: skip
