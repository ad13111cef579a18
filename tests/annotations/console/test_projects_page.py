"""The console's Projects pages: who sees which project, who may change what (the services'
rules), every change one audited event, refusals and invalid input changing nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, Project, Role, User
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]


def changes_after(seq: int) -> list[AuditEvent]:
    return [e for e in events_after(seq) if e.action != AuditAction.AUDIT_READ]


def listed(client: Client) -> set[str]:
    response = client.get("/console/projects/")
    assert response.status_code == 200
    return {row["slug"] for row in response.context["rows"]}


def test_each_role_sees_its_projects(world: World, client_for: ClientFor) -> None:
    assert listed(client_for(world.admin)) == {"chest-ct", "brain-mr"}
    assert listed(client_for(world.auditor)) == {"chest-ct", "brain-mr"}
    assert listed(client_for(world.lead)) == {"chest-ct"}
    assert listed(client_for(world.custodian)) == {"chest-ct"}  # the project at their site
    assert client_for(world.annotator).get("/console/projects/").status_code == 404
    lead = client_for(world.lead)
    assert lead.get(f"/console/projects/{world.other_project.pk}/").status_code == 404
    refused = lead.post(f"/console/projects/{world.other_project.pk}/update/", {"name": "Mine"})
    assert refused.status_code == 404
    assert Project.objects.get(pk=world.other_project.pk).name == "Brain MR"


def test_project_list_and_page_show_sites_leads_and_members(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    before = last_seq()
    rows = {r["slug"]: r for r in client.get("/console/projects/").context["rows"]}
    assert rows["chest-ct"]["sites"] == ["Hospital A"] and rows["chest-ct"]["leads"] == ["lead"]
    assert (rows["chest-ct"]["members"], rows["chest-ct"]["tasks"]) == (2, 1)
    page = client.get(f"/console/projects/{world.project.pk}/")
    assert {m["name"] for m in page.context["members"]} == {"annotator", "annotator2"}
    body = page.content.decode()
    assert 'aria-label="Project details"' not in body and "Add site" not in body  # read only
    assert [e.detail["view"] for e in events_after(before)] == ["projects", "project"]


def test_admin_creates_a_project_and_gives_it_a_site_and_a_lead(
    world: World, client_for: ClientFor, make_user: Callable[..., User]
) -> None:
    second_lead = make_user("lead2", Role.PROJECT_LEAD)
    client = client_for(world.admin)
    before = last_seq()
    created = client.post(
        "/console/projects/new/", {"name": "Knee MR", "slug": "knee-mr", "description": "ACL"}
    )
    assert created.status_code == 302
    project = Project.objects.get(slug="knee-mr")
    url = f"/console/projects/{project.pk}"
    assert client.post(f"{url}/sites/", {"action": "add", "id": world.site.pk}).status_code == 302
    assert client.post(f"{url}/leads/", {"action": "add", "id": second_lead.pk}).status_code == 302
    assert list(project.sites.all()) == [world.site]
    assert second_lead.has_perm("annotations.manage_project", project)
    assert [e.action for e in changes_after(before)] == [
        AuditAction.PROJECT_CREATE,
        AuditAction.PROJECT_SITE_ADD,
        AuditAction.PROJECT_LEAD_ADD,
    ]

    before = last_seq()
    taken = client.post("/console/projects/new/", {"name": "Again", "slug": "knee-mr"})
    assert taken.status_code == 409 and taken.context["error"]["fields"] == {"slug": ["Taken."]}
    not_a_lead = client.post(f"{url}/leads/", {"action": "add", "id": world.annotator.pk})
    assert not_a_lead.status_code == 400
    assert not world.annotator.has_perm("annotations.manage_project", project)
    no_site = client.post(f"{url}/sites/", {"action": "add", "id": 999999})
    assert no_site.status_code == 400
    assert changes_after(before) == []


def test_lead_edits_details_and_members_but_not_sites_or_leads(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.lead)
    url = f"/console/projects/{world.project.pk}"
    before = last_seq()
    saved = client.post(f"{url}/update/", {"name": "Chest CT 2", "description": "<b>screening</b>"})
    assert saved.status_code == 302
    assert (
        client.post(f"{url}/members/", {"action": "add", "id": world.outsider.pk}).status_code
        == 302
    )
    assert (
        client.post(
            f"{url}/members/", {"action": "remove", "id": world.other_annotator.pk}
        ).status_code
        == 302
    )
    project = Project.objects.get(pk=world.project.pk)
    assert (project.name, project.description) == ("Chest CT 2", "<b>screening</b>")
    assert set(project.members.values_list("username", flat=True)) == {"annotator", "outsider"}
    assert [e.action for e in changes_after(before)] == [
        AuditAction.PROJECT_UPDATE,
        AuditAction.PROJECT_MEMBER_ADD,
        AuditAction.PROJECT_MEMBER_REMOVE,
    ]
    assert "&lt;b&gt;screening&lt;/b&gt;" in client.get(f"{url}/").content.decode()

    before = last_seq()
    site = client.post(f"{url}/sites/", {"action": "add", "id": world.other_site.pk})
    lead = client.post(f"{url}/leads/", {"action": "remove", "id": world.lead.pk})
    assert (site.status_code, lead.status_code) == (403, 403)
    assert list(Project.objects.get(pk=world.project.pk).sites.all()) == [world.site]
    events = events_after(before)
    assert [e.action for e in events] == [AuditAction.ACCESS_DENIED] * 2


def test_a_site_with_tasks_stays_and_a_custodian_changes_nothing(
    world: World, client_for: ClientFor
) -> None:
    url = f"/console/projects/{world.project.pk}"
    before = last_seq()
    busy = client_for(world.admin).post(f"{url}/sites/", {"action": "remove", "id": world.site.pk})
    assert busy.status_code == 409
    custodian = client_for(world.custodian)
    refused = custodian.post(f"{url}/members/", {"action": "add", "id": world.outsider.pk})
    assert refused.status_code == 403
    assert custodian.post("/console/projects/new/", {"name": "X", "slug": "x"}).status_code == 403
    assert list(Project.objects.get(pk=world.project.pk).sites.all()) == [world.site]
    assert not Project.objects.filter(slug="x").exists()
    assert [e.action for e in changes_after(before) if e.action != "user.login"] == [
        AuditAction.ACCESS_DENIED
    ] * 2
