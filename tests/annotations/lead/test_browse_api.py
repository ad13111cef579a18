"""The series browser's endpoints: who may ask, coded errors, one audit event, offline is a result."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, Role
from annotations.services.tokens import token_issue
from tests.annotations.conftest import World, series_handle

PASSWORD = "correct horse battery staple"


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def browse_url(w: World, site_id: int | None = None, project_id: int | None = None) -> str:
    return f"/api/projects/{project_id or w.project.pk}/sites/{site_id or w.site.pk}/series/"


def test_lead_gets_an_offline_site_as_a_result_and_one_audit_event(world: World) -> None:
    lead = client(world.lead)  # signing in is an event of its own
    before = AuditEvent.objects.count()
    response = lead.get(browse_url(world), {"modality": "CT", "min_images": "5"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["site"], body["status"], body["studies"]) == (world.site.pk, "offline", [])
    assert body["error"]["code"] == "site_offline"
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [e.action for e in events] == [AuditAction.SERIES_BROWSE]
    assert events[0].detail == {"query": {"modality": "CT", "min_images": 5}}
    assert events[0].project_id == world.project.pk and events[0].site_id == world.site.pk


def test_token_authentication_works_and_anonymous_is_401(world: World) -> None:
    token = token_issue(username="lead", password=PASSWORD)
    key = getattr(token, "key", token)
    response = Client().get(browse_url(world), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200, response.content
    anonymous = Client().get(browse_url(world))
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("who", ["annotator", "outsider"])
def test_annotators_may_not_browse(world: World, who: str) -> None:
    response = client(getattr(world, who)).get(browse_url(world))
    # a member sees the project but does not lead it: 403; anyone else: 404 (no oracle)
    expected = 403 if who == "annotator" else 404
    assert response.status_code == expected
    code = response.json()["error"]["code"]
    assert code == ("permission_denied" if expected == 403 else "not_found")


def test_a_lead_of_another_project_gets_404_and_a_foreign_site_404(world: World, make_user) -> None:
    from annotations.services.projects import project_lead_add

    other_lead = make_user("otherlead", Role.PROJECT_LEAD)
    project_lead_add(actor=world.admin, project=world.other_project, user=other_lead)
    assert client(other_lead).get(browse_url(world)).status_code == 404
    # the lead's own project, but a site that is not part of it
    response = client(world.lead).get(browse_url(world, site_id=world.other_site.pk))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    # thumbnails follow the same rules
    handle = series_handle()
    thumb = f"{browse_url(world)}{handle}/thumbnail"
    assert client(other_lead).get(thumb).status_code == 404
    assert client(world.annotator).get(thumb).status_code == 403


def test_bad_queries_are_coded_400s_and_write_nothing(world: World) -> None:
    lead = client(world.lead)
    before = AuditEvent.objects.count()
    for params in ({"limit": "9999"}, {"modality": "C T"}, {"min_images": "-1"}, {"x": "1"}):
        response = lead.get(browse_url(world), params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] in {"invalid", "unknown_field"}
    bad_handle = lead.get(f"{browse_url(world)}not-a-handle/thumbnail")
    assert bad_handle.status_code == 400 and bad_handle.json()["error"]["fields"]
    assert AuditEvent.objects.count() == before
    assert lead.post(browse_url(world)).status_code == 405


def test_offline_thumbnail_is_503_site_offline(world: World) -> None:
    response = client(world.lead).get(f"{browse_url(world)}{series_handle()}/thumbnail")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "site_offline"


def test_agreement_needs_tasks_of_one_series_in_the_project(world: World) -> None:
    from annotations.services.tasks import task_assign, task_create

    second = task_create(
        actor=world.lead, project=world.project, site=world.site,
        series_handle=world.task.series_handle, label_schema=world.schema,
    )  # fmt: skip
    task_assign(actor=world.lead, task=second, assignee=world.other_annotator)
    url = f"/api/projects/{world.project.pk}/agreement/"
    lead = client(world.lead)
    body = {"tasks": [world.task.pk, second.pk]}
    response = lead.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "offline"
    foreign = {"tasks": [world.task.pk, world.other_task.pk]}
    assert lead.post(url, foreign, content_type="application/json").status_code == 404
    assert (
        client(world.annotator).post(url, body, content_type="application/json").status_code == 403
    )
    assert lead.post(url, {"tasks": [1]}, content_type="application/json").status_code == 400


def test_agreement_takes_a_token_without_csrf_but_a_session_needs_the_csrf_token(
    world: World,
) -> None:
    """The SDK posts with its token only; a browser session must carry the CSRF token (as for
    every DRF view), so another site's page cannot make the lead's browser ask the sites."""
    from annotations.services.tasks import task_assign, task_create

    second = task_create(
        actor=world.lead, project=world.project, site=world.site,
        series_handle=world.task.series_handle, label_schema=world.schema,
    )  # fmt: skip
    task_assign(actor=world.lead, task=second, assignee=world.other_annotator)
    url = f"/api/projects/{world.project.pk}/agreement/"
    body = {"tasks": [world.task.pk, second.pk]}
    token = token_issue(username="lead", password=PASSWORD)
    key = getattr(token, "key", token)
    by_token = Client(enforce_csrf_checks=True).post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert by_token.status_code == 200, by_token.content
    assert by_token.json()["status"] == "offline"
    session = Client(enforce_csrf_checks=True)
    session.force_login(world.lead)
    before = AuditEvent.objects.filter(action=AuditAction.AGREEMENT_READ).count()
    refused = session.post(url, body, content_type="application/json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in refused.json()["error"]["message"]
    assert AuditEvent.objects.filter(action=AuditAction.AGREEMENT_READ).count() == before
    session.get("/lead/")  # a page sets the CSRF cookie, as the lead's page does
    accepted = session.post(
        url,
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=session.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 200, accepted.content


def test_label_progress_asks_each_site_with_tasks_and_an_offline_one_is_a_status(
    world: World,
) -> None:
    url = f"/api/projects/{world.project.pk}/progress/labels/"
    lead = client(world.lead)
    before = AuditEvent.objects.count()
    response = lead.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["project"] == world.project.pk and body["labels"] == []
    assert body["by_annotator"] == []
    [site] = body["by_site"]  # the one site with tasks; its gateway is not connected here
    assert (site["site"], site["status"], site["tasks"], site["labels"]) == (
        world.site.pk, "offline", 1, {}
    )  # fmt: skip
    assert site["error"]["code"] == "site_offline"
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(e.action, e.site_id, e.detail) for e in events] == [
        (AuditAction.LABELS_COUNT, world.site.pk, {"tasks": 1})
    ]
    assert client(world.annotator).get(url).status_code == 403
    assert client(world.outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 401
    assert lead.post(url).status_code == 405


def test_a_thumbnail_may_name_a_slice_and_a_size_within_bounds(world: World) -> None:
    """The lead's read-only check of a series without a task: any slice, up to 512 px."""
    url = f"{browse_url(world)}{series_handle()}/thumbnail"
    lead = client(world.lead)
    before = AuditEvent.objects.count()
    for bad in ({"index": "-1"}, {"index": "x"}, {"size": "1024"}, {"size": "8"}, {"zoom": "2"}):
        response = lead.get(url, bad)
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"]["code"] in {"invalid", "unknown_field"}
    assert AuditEvent.objects.count() == before  # refused before anything was asked or audited
    offline = lead.get(url, {"index": "3", "size": "512"})
    assert offline.status_code == 503 and offline.json()["error"]["code"] == "site_offline"
    [event] = AuditEvent.objects.order_by("seq")[before:]
    assert event.action == AuditAction.SERIES_THUMBNAIL
    assert event.detail == {"series_handle": url.split("/")[-2], "index": 3, "size": 512}
