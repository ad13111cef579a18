"""Series selections: coded reasons, validated handles, one per series, leads only."""

from __future__ import annotations

import pytest

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, KosState, SeriesSelection
from tests.annotations.conftest import World, series_handle
from tests.annotations.lead.conftest import study_handle


def _body(w: World, **over: object) -> dict[str, object]:
    return {
        "site": w.site.pk, "study_handle": study_handle(), "series_handle": series_handle(),
        "decision": "include", "reason": "for_annotation", **over,
    }  # fmt: skip


def test_lead_records_a_selection_with_a_coded_reason(world: World, api) -> None:
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/selections/", _body(world), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["reason_code_value"], body["reason_coding_scheme"]) == ("113000", "DCM")
    assert body["reason_code_meaning"] == "Of Interest" and body["reason"] == "for_annotation"
    assert body["kos_state"] == KosState.PENDING and body["selected_by"]["id"] == world.lead.pk
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == AuditAction.SELECTION_RECORD
    assert event.detail["reason"] == ["113000", "DCM"]


def test_recording_the_same_series_again_replaces_the_decision(world: World, api) -> None:
    client = api(world.lead)
    body = _body(world)
    client.post(f"/api/projects/{world.project.pk}/selections/", body, format="json")
    again = client.post(
        f"/api/projects/{world.project.pk}/selections/",
        {**body, "decision": "exclude", "reason": "motion"},
        format="json",
    )
    assert again.status_code == 201
    assert again.json()["reason_code_value"] == "111210"
    assert SeriesSelection.objects.filter(series_handle=body["series_handle"]).count() == 1


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"series_handle": "1.2.840.10008.1"}, "series_handle"),  # a UID is never accepted
        ({"study_handle": "se_" + "a" * 20}, "study_handle"),  # wrong kind of handle
        ({"series_handle": "st_" + "a" * 20}, "series_handle"),
        ({"decision": "include", "reason": "motion"}, "reason"),  # reason of the other decision
        ({"reason": "because"}, "reason"),
    ],
)
def test_bad_selection_is_refused_naming_the_field(world: World, api, over, field) -> None:
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/selections/", _body(world, **over), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not SeriesSelection.objects.exists()


def test_a_site_outside_the_project_is_refused(world: World, api) -> None:
    response = api(world.lead).post(
        f"/api/projects/{world.project.pk}/selections/",
        _body(world, site=world.other_site.pk),
        format="json",
    )
    # The lead cannot even see the other project's site: not found, like any invisible object.
    assert response.status_code == 404


def test_list_filters_and_withdraw(world: World, api, picked) -> None:
    client = api(world.lead)
    base = f"/api/projects/{world.project.pk}/selections/"
    assert len(client.get(base).json()["results"]) == 3
    included = client.get(base + "?decision=include").json()["results"]
    assert {s["id"] for s in included} == {picked[0].pk, picked[1].pk}
    assert client.delete(f"{base}{picked[2].pk}/").status_code == 204
    assert client.get(f"{base}{picked[2].pk}/").status_code == 404
    assert AuditEvent.objects.order_by("-seq").first().action == AuditAction.SELECTION_WITHDRAW  # type: ignore[union-attr]


def test_annotators_may_not_read_selections_and_outsiders_cannot_see_them(
    world: World, api, picked
) -> None:
    path = f"/api/projects/{world.project.pk}/selections/"
    assert api(world.annotator).get(path).status_code == 403
    assert api(world.outsider).get(path).status_code == 404
    assert api(world.auditor).get(path).status_code == 200
    # another project's lead-only URL for a selection of this project: not found
    other = f"/api/projects/{world.other_project.pk}/selections/{picked[0].pk}/"
    assert api(world.admin).get(other).status_code == 404


def test_reason_catalogue_is_public_to_signed_in_users(world: World, api) -> None:
    reasons = api(world.annotator).get("/api/selection-reasons/").json()
    by_key = {r["key"]: r for r in reasons}
    assert by_key["for_annotation"]["code_value"] == "113000"
    assert by_key["motion"] == {
        "key": "motion", "decision": "exclude", "code_value": "111210",
        "coding_scheme": "DCM", "code_meaning": "Motion blur",
    }  # fmt: skip
