"""The handle map resolves only handles it issued, and only to the kind asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from imaging.handles import HandleKey, HandleKind
from site_gateway.handle_map import HandleError, HandleErrorCode, HandleMap

KEY = HandleKey(b"test-site-secret-0123456789")


@pytest.fixture
def handles(tmp_path: Path) -> HandleMap:
    return HandleMap(tmp_path / "handles.sqlite", KEY)


def test_handles_resolve_to_uid_and_parents(handles: HandleMap) -> None:
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    instance_handle = handles.add_instance(study, series, sop)
    entry = handles.resolve(instance_handle, HandleKind.INSTANCE)
    assert (entry.kind, entry.uid) == (HandleKind.INSTANCE, sop)
    assert entry.series_handle == KEY.handle(HandleKind.SERIES, series)
    assert entry.study_handle == KEY.handle(HandleKind.STUDY, study)
    assert handles.uid(entry.series_handle, HandleKind.SERIES) == series
    assert handles.uid(entry.study_handle, HandleKind.STUDY) == study


def test_adding_again_is_stable_and_children_keep_order(handles: HandleMap) -> None:
    study, series = generate_uid(), generate_uid()
    sops = [generate_uid() for _ in range(5)]
    first = [handles.add_instance(study, series, s) for s in sops]
    again = [handles.add_instance(study, series, s) for s in sops]
    assert first == again
    series_handle = handles.add_series(study, series)
    assert [e.uid for e in handles.children(series_handle)] == sops
    assert [e.uid for e in handles.children(handles.add_study(study))] == [series]


@pytest.mark.parametrize(
    "hostile",
    ["1.2.3", "../etc/passwd", "se_", "se_" + "A" * 20, "xx_" + "a" * 20, "", 42, None],
)
def test_ids_that_are_not_handles_are_rejected(handles: HandleMap, hostile: object) -> None:
    with pytest.raises(HandleError) as caught:
        handles.resolve(hostile)
    assert caught.value.code is HandleErrorCode.NOT_A_HANDLE


def test_well_formed_but_unknown_handles_are_rejected(handles: HandleMap) -> None:
    with pytest.raises(HandleError) as caught:
        handles.resolve(KEY.handle(HandleKind.SERIES, generate_uid()))
    assert caught.value.code is HandleErrorCode.UNKNOWN_HANDLE
    other_site = HandleKey(b"another-site-secret-987654321")
    series = generate_uid()
    handles.add_series(generate_uid(), series)
    with pytest.raises(HandleError):
        handles.resolve(other_site.handle(HandleKind.SERIES, series))


def test_a_handle_of_the_wrong_kind_is_rejected(handles: HandleMap) -> None:
    series_handle = handles.add_series(generate_uid(), generate_uid())
    with pytest.raises(HandleError) as caught:
        handles.resolve(series_handle, HandleKind.INSTANCE)
    assert caught.value.code is HandleErrorCode.WRONG_KIND


def test_invalid_uids_are_not_mapped(handles: HandleMap) -> None:
    with pytest.raises(HandleError) as caught:
        handles.add_study("../../not-a-uid")
    assert caught.value.code is HandleErrorCode.BAD_UID


def test_the_map_persists(tmp_path: Path) -> None:
    first = HandleMap(tmp_path / "h.sqlite", KEY)
    handle = first.add_series(generate_uid(), series := generate_uid())
    first.close()
    assert HandleMap(tmp_path / "h.sqlite", KEY).uid(handle, HandleKind.SERIES) == series
