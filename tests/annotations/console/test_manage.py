"""The console's management pages (issue 9, "admins manage users, roles and sites"): who sees and
changes what, that every change is the service's audited event and nothing else, that a refused or
invalid change leaves everything as it was, and that the Django admin cannot bypass them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from annotations.audit_actions import AuditAction
from annotations.models import AuditEvent, AuditOutcome, CloseReason, Role, Site, User
from annotations.services.projects import project_site_add
from annotations.services.sessions import session_open
from site_gateway.keys import key_fingerprint
from tests.annotations.conftest import World
from tests.annotations.console.conftest import events_after, last_seq

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]
PASSWORD = "a long enough passphrase 7"
GATEWAY_KEY = base64.b64encode(bytes(range(32))).decode()


def roles_of(user: User) -> set[str]:
    return set(User.objects.get(pk=user.pk).groups.values_list("name", flat=True))


def changes_after(seq: int) -> list[AuditEvent]:
    """Events other than the page reads (audit.read) after ``seq``."""
    return [e for e in events_after(seq) if e.action != AuditAction.AUDIT_READ]


# --- users and roles ------------------------------------------------------------------------------


def test_admin_sees_every_user_and_the_forms_and_the_read_is_audited(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.admin)
    before = last_seq()
    response = client.get("/console/users/")
    assert response.status_code == 200
    names = {row["username"] for row in response.context["users"]}
    assert names == set(User.objects.values_list("username", flat=True))
    body = response.content.decode()
    assert 'aria-label="New user"' in body and "Users and roles" in body
    [event] = events_after(before)
    assert (event.action, event.actor_id) == (AuditAction.AUDIT_READ, world.admin.pk)
    assert event.detail == {"view": "users", "rows": len(names)}


def test_user_list_filters_by_text_role_and_status(world: World, client_for: ClientFor) -> None:
    client = client_for(world.auditor)
    world.outsider.is_active = False
    world.outsider.save()

    def names(**query: str) -> set[str]:
        response = client.get("/console/users/", query)
        assert response.status_code == 200
        return {row["username"] for row in response.context["users"]}

    assert names(q="annot") == {"annotator", "annotator2"}
    assert names(role="site_custodian") == {"custodian"}
    assert names(active="no") == {"outsider"}
    assert "outsider" not in names(active="yes")
    bad = client.get("/console/users/", {"role": "king"})
    assert bad.status_code == 400
    assert set(bad.context["error"]["fields"]) == {"role"}
    refused = AuditEvent.objects.filter(action="audit.read").latest("seq")
    assert refused.detail["error"] == "invalid" and refused.detail["fields"] == ["role"]


def test_auditor_reads_users_but_gets_no_forms_and_cannot_change_roles(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.auditor)
    body = client.get(f"/console/users/{world.annotator.pk}/").content.decode()
    assert "Save roles" not in body and "Deactivate" not in body and "New password" not in body
    assert 'aria-label="New user"' not in client.get("/console/users/").content.decode()

    before = last_seq()
    response = client.post(f"/console/users/{world.annotator.pk}/roles/", {"roles": ["admin"]})
    assert response.status_code == 403
    assert roles_of(world.annotator) == {"annotator"}
    [event] = events_after(before)
    assert (event.action, event.outcome) == (AuditAction.ACCESS_DENIED, AuditOutcome.MINOR_FAILURE)
    assert event.detail["attempted"] == AuditAction.USER_ROLES_CHANGE


@pytest.mark.parametrize("who", ["custodian", "lead", "annotator"])
def test_users_pages_do_not_exist_for_anyone_but_admins_and_auditors(
    world: World, client_for: ClientFor, who: str
) -> None:
    client = client_for(getattr(world, who))
    before = last_seq()
    assert client.get("/console/users/").status_code == 404
    assert client.get(f"/console/users/{world.annotator.pk}/").status_code == 404
    post = client.post(f"/console/users/{world.annotator.pk}/roles/", {"roles": ["admin"]})
    assert post.status_code == 404
    assert roles_of(world.annotator) == {"annotator"}
    events = events_after(before)
    assert [e.action for e in events] == [AuditAction.ACCESS_DENIED] * 3
    assert {e.actor_id for e in events} == {getattr(world, who).pk}
    if who != "annotator":  # those with a console see it without the Users entry
        nav = client.get("/console/gateways/").context["nav"]
        assert "users" not in {item["name"] for item in nav}


def test_admin_creates_a_user_with_roles_and_an_initial_password(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.admin)
    before = last_seq()
    response = client.post(
        "/console/users/new/",
        {
            "username": "reader7",
            "first_name": "Ada",
            "last_name": "Reader",
            "email": "ada@example.org",
            "roles": ["annotator", "project_lead"],
            "password": PASSWORD,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain == [("/console/users/", 302)]
    assert "Created reader7" in response.content.decode()
    user = User.objects.get(username="reader7")
    assert user.check_password(PASSWORD) and user.is_active and user.email == "ada@example.org"
    assert roles_of(user) == {"annotator", "project_lead"}
    [event] = changes_after(before)
    assert (event.action, event.actor_id, event.object_id) == (
        AuditAction.USER_CREATE,
        world.admin.pk,
        str(user.pk),
    )
    assert event.detail == {"roles": ["annotator", "project_lead"]}
    stored = json.dumps([e.detail for e in AuditEvent.objects.all()])
    assert PASSWORD not in stored and user.password not in stored


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"username": "x1", "password": "zq9"}, 400, "invalid", "password"),
        ({"username": "x1", "password": "password123"}, 400, "invalid", "password"),
        ({"username": "annotator", "password": PASSWORD}, 409, "conflict", "username"),
        ({"username": "ANNOTATOR", "password": PASSWORD}, 409, "conflict", "username"),
        ({"username": "a b", "password": PASSWORD}, 400, "invalid", "username"),
        ({"username": "x1", "password": PASSWORD, "roles": ["king"]}, 400, "invalid", "roles"),
        ({"username": "x1", "password": PASSWORD, "email": "no"}, 400, "invalid", "email"),
    ],
)
def test_a_refused_new_user_is_reported_and_nothing_is_created(
    world: World,
    client_for: ClientFor,
    data: dict[str, object],
    status: int,
    code: str,
    field: str,
) -> None:
    client = client_for(world.admin)
    users_before = User.objects.count()
    before = last_seq()
    response = client.post("/console/users/new/", data)
    assert response.status_code == status
    error = response.context["error"]
    assert error["code"] == code and field in error["fields"]
    body = response.content.decode()
    assert 'role="alert"' in body
    assert 'id="new-user" open' in body  # the form stays open with what was typed …
    assert str(data["password"]) not in body  # … except the password
    assert User.objects.count() == users_before
    assert changes_after(before) == []


def test_admin_changes_roles_and_cannot_drop_their_own_admin_role(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.admin)
    before = last_seq()
    response = client.post(
        f"/console/users/{world.annotator.pk}/roles/", {"roles": ["annotator", "auditor"]}
    )
    assert response.status_code == 302
    assert roles_of(world.annotator) == {"annotator", "auditor"}
    [event] = changes_after(before)
    assert event.action == AuditAction.USER_ROLES_CHANGE
    assert event.detail == {"from": ["annotator"], "to": ["annotator", "auditor"]}

    before = last_seq()
    response = client.post(f"/console/users/{world.admin.pk}/roles/", {"roles": ["auditor"]})
    assert response.status_code == 409
    assert "another administrator" in response.context["error"]["message"]
    assert roles_of(world.admin) == {"admin"}
    assert changes_after(before) == []


def test_deactivating_a_user_stops_sign_in_tokens_and_live_sessions(
    world: World, client_for: ClientFor
) -> None:
    Site.objects.filter(pk=world.site.pk).update(gateway_public_key=GATEWAY_KEY)
    world.task.site.refresh_from_db()
    session = session_open(actor=world.annotator, task=world.task)
    Token.objects.create(user=world.annotator)
    client = client_for(world.admin)
    before = last_seq()
    response = client.post(
        f"/console/users/{world.annotator.pk}/active/",
        {"action": "deactivate", "reason": "left the project"},
    )
    assert response.status_code == 302
    annotator = User.objects.get(pk=world.annotator.pk)
    assert not annotator.is_active
    assert not Token.objects.filter(user=annotator).exists()
    session.refresh_from_db()
    assert session.closed_at is not None and session.close_reason == CloseReason.REVOKED
    assert session.closed_by_id == world.admin.pk
    events = changes_after(before)
    assert [e.action for e in events] == [AuditAction.USER_DEACTIVATE, AuditAction.SESSION_REVOKE]
    assert events[0].detail == {"reason": "left the project", "tokens_revoked": 1}
    assert not Client().login(username="annotator", password="correct horse battery staple")

    # Again: nothing more happens, nothing more is recorded.
    before = last_seq()
    client.post(f"/console/users/{annotator.pk}/active/", {"action": "deactivate", "reason": "x"})
    assert changes_after(before) == []

    response = client.post(f"/console/users/{annotator.pk}/active/", {"action": "reactivate"})
    assert response.status_code == 302
    assert User.objects.get(pk=annotator.pk).is_active
    assert [e.action for e in changes_after(before)] == [AuditAction.USER_REACTIVATE]
    assert Client().login(username="annotator", password="correct horse battery staple")


def test_admin_cannot_deactivate_themselves(world: World, client_for: ClientFor) -> None:
    client = client_for(world.admin)
    before = last_seq()
    response = client.post(
        f"/console/users/{world.admin.pk}/active/", {"action": "deactivate", "reason": "oops"}
    )
    assert response.status_code == 409
    assert User.objects.get(pk=world.admin.pk).is_active
    assert changes_after(before) == []


def test_admin_sets_a_new_password_and_the_old_token_stops(
    world: World, client_for: ClientFor
) -> None:
    Token.objects.create(user=world.lead)
    client = client_for(world.admin)
    before = last_seq()
    response = client.post(f"/console/users/{world.lead.pk}/password/", {"password": PASSWORD})
    assert response.status_code == 302
    lead = User.objects.get(pk=world.lead.pk)
    assert lead.check_password(PASSWORD)
    assert not Token.objects.filter(user=lead).exists()
    [event] = changes_after(before)
    assert (event.action, event.detail) == (AuditAction.USER_PASSWORD_SET, {"tokens_revoked": 1})

    weak = client_for(world.admin).post(f"/console/users/{lead.pk}/password/", {"password": "1"})
    assert weak.status_code == 400 and "password" in weak.context["error"]["fields"]
    assert User.objects.get(pk=lead.pk).check_password(PASSWORD)


def test_unknown_user_is_a_404(world: World, client_for: ClientFor) -> None:
    client = client_for(world.admin)
    assert client.get("/console/users/999999/").status_code == 404
    assert client.get("/console/users/nope/").status_code == 404
    assert client.post("/console/users/999999/roles/", {"roles": []}).status_code == 404


# --- sites -----------------------------------------------------------------------------------------


def test_each_role_sees_its_sites(world: World, client_for: ClientFor) -> None:
    def slugs(user: User) -> set[str]:
        response = client_for(user).get("/console/sites/")
        assert response.status_code == 200
        return {row["slug"] for row in response.context["rows"]}

    assert slugs(world.admin) == slugs(world.auditor) == {"hospital-a", "hospital-b"}
    assert slugs(world.custodian) == {"hospital-a"}
    assert slugs(world.lead) == {"hospital-a"}
    assert client_for(world.annotator).get("/console/sites/").status_code == 404
    assert (
        client_for(world.custodian).get(f"/console/sites/{world.other_site.pk}/").status_code == 404
    )


def test_site_list_shows_custodians_and_key_state(world: World, client_for: ClientFor) -> None:
    response = client_for(world.admin).get("/console/sites/")
    rows = {row["slug"]: row for row in response.context["rows"]}
    assert rows["hospital-a"]["custodians"] == ["custodian"]
    assert rows["hospital-a"]["projects"] == ["Chest CT"]
    assert rows["hospital-b"]["custodians"] == [] and not rows["hospital-b"]["enrolled"]


def test_admin_creates_a_site_and_a_taken_slug_is_a_conflict(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.admin)
    before = last_seq()
    response = client.post("/console/sites/new/", {"name": "Hospital C", "slug": "hospital-c"})
    assert response.status_code == 302
    site = Site.objects.get(slug="hospital-c")
    [event] = changes_after(before)
    assert (event.action, event.site_id) == (AuditAction.SITE_CREATE, site.pk)

    before = last_seq()
    again = client.post("/console/sites/new/", {"name": "Other", "slug": "hospital-c"})
    assert again.status_code == 409 and again.context["error"]["fields"] == {"slug": ["Taken."]}
    assert 'value="Other"' in again.content.decode()
    bad = client.post("/console/sites/new/", {"name": "Other", "slug": "not a slug"})
    assert bad.status_code == 400 and "slug" in bad.context["error"]["fields"]
    assert Site.objects.filter(name="Other").count() == 0
    assert changes_after(before) == []


def test_custodian_may_not_create_sites_or_change_custodians(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.custodian)
    before = last_seq()
    assert client.post("/console/sites/new/", {"name": "X", "slug": "x"}).status_code == 403
    revoke = client.post(
        f"/console/sites/{world.site.pk}/custodians/",
        {"action": "revoke", "user": world.custodian.pk},
    )
    assert revoke.status_code == 403
    assert not Site.objects.filter(slug="x").exists()
    assert world.custodian.has_perm("annotations.administer_site", world.site)
    events = events_after(before)
    assert [e.action for e in events] == [AuditAction.ACCESS_DENIED] * 2
    assert [e.detail["attempted"] for e in events] == [
        AuditAction.SITE_CREATE,
        AuditAction.SITE_PERMISSION_REVOKE,
    ]


def test_custodian_renames_their_site_and_registers_its_key(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.custodian)
    before = last_seq()
    assert (
        client.post(f"/console/sites/{world.site.pk}/rename/", {"name": "Hospital A1"}).status_code
        == 302
    )
    response = client.post(
        f"/console/sites/{world.site.pk}/key/", {"public_key": f"  {GATEWAY_KEY}\n"}, follow=True
    )
    assert key_fingerprint(GATEWAY_KEY) in response.content.decode()
    site = Site.objects.get(pk=world.site.pk)
    assert (site.name, site.gateway_public_key) == ("Hospital A1", GATEWAY_KEY)
    assert [e.action for e in changes_after(before)] == [
        AuditAction.SITE_UPDATE,
        AuditAction.SITE_KEY_REGISTER,
    ]

    before = last_seq()
    bad = client.post(f"/console/sites/{world.site.pk}/key/", {"public_key": "not-a-key!"})
    assert bad.status_code == 400 and bad.context["error"]["fields"]["public_key"]
    short = client.post(f"/console/sites/{world.site.pk}/key/", {"public_key": "AAAA"})
    assert short.status_code == 400
    assert Site.objects.get(pk=world.site.pk).gateway_public_key == GATEWAY_KEY
    assert changes_after(before) == []


def test_a_lead_sees_only_their_own_projects_at_a_shared_site(
    world: World, client_for: ClientFor
) -> None:
    project_site_add(actor=world.admin, project=world.other_project, site=world.site)
    listed = client_for(world.lead).get("/console/sites/").context["rows"]
    assert [row["projects"] for row in listed] == [["Chest CT"]]
    detail = client_for(world.lead).get(f"/console/sites/{world.site.pk}/")
    assert detail.context["projects"] == ["Chest CT"]
    assert "Brain MR" not in detail.content.decode()
    custodian = client_for(world.custodian).get(f"/console/sites/{world.site.pk}/")
    assert custodian.context["projects"] == ["Brain MR", "Chest CT"]


def test_lead_sees_the_site_read_only_and_is_refused_a_rename(
    world: World, client_for: ClientFor
) -> None:
    client = client_for(world.lead)
    body = client.get(f"/console/sites/{world.site.pk}/").content.decode()
    assert "Rename" not in body and "Register key" not in body and "Add custodian" not in body
    before = last_seq()
    assert (
        client.post(f"/console/sites/{world.site.pk}/rename/", {"name": "Mine"}).status_code == 403
    )
    assert Site.objects.get(pk=world.site.pk).name == "Hospital A"
    [event] = events_after(before)
    assert event.action == AuditAction.ACCESS_DENIED


def test_admin_grants_and_revokes_custodians(
    world: World, client_for: ClientFor, make_user: Callable[..., User]
) -> None:
    keeper = make_user("keeper", Role.SITE_CUSTODIAN)
    client = client_for(world.admin)
    page = client.get(f"/console/sites/{world.other_site.pk}/")
    assert {c["name"] for c in page.context["candidates"]} == {"custodian", "keeper"}

    before = last_seq()
    url = f"/console/sites/{world.other_site.pk}/custodians/"
    assert client.post(url, {"action": "grant", "user": keeper.pk}).status_code == 302
    assert User.objects.get(pk=keeper.pk).has_perm("annotations.administer_site", world.other_site)
    assert client.post(url, {"action": "revoke", "user": keeper.pk}).status_code == 302
    assert not User.objects.get(pk=keeper.pk).has_perm(
        "annotations.administer_site", world.other_site
    )
    assert [e.action for e in changes_after(before)] == [
        AuditAction.SITE_PERMISSION_GRANT,
        AuditAction.SITE_PERMISSION_REVOKE,
    ]

    before = last_seq()
    refused = client.post(url, {"action": "grant", "user": world.annotator.pk})
    assert refused.status_code == 400  # an annotator is not a site custodian
    assert not User.objects.get(pk=world.annotator.pk).has_perm(
        "annotations.administer_site", world.other_site
    )
    assert changes_after(before) == []


# --- the Django admin cannot bypass the audited paths -----------------------------------------------


def test_django_admin_is_read_only(world: World, make_user: Callable[..., User]) -> None:
    root = make_user("root", superuser=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    change = f"/admin/annotations/user/{world.annotator.pk}/change/"
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    group = world.admin.groups.get().pk
    post = client.post(change, {"username": "annotator", "groups": [group], "is_superuser": "on"})
    assert post.status_code == 403
    assert roles_of(world.annotator) == {"annotator"}
    assert client.get("/admin/annotations/user/add/").status_code == 403
    assert client.get(f"/admin/annotations/site/{world.site.pk}/change/").status_code == 200
    assert (
        client.post(f"/admin/annotations/site/{world.site.pk}/change/", {"name": "X"}).status_code
        == 403
    )
    # guardian's object-permission pages (grants no event would record) are gone
    assert client.get(f"/admin/annotations/site/{world.site.pk}/permissions/").status_code in (
        302,
        404,
    )
    assert client.get(
        f"/admin/annotations/project/{world.project.pk}/permissions/"
    ).status_code in (302, 404)


def test_the_console_link_is_shown_to_those_the_console_serves(
    world: World, client_for: ClientFor
) -> None:
    def has_link(user: User) -> bool:
        body = client_for(user).get("/").content.decode()
        return 'href="/console/audit/">Console</a>' in body

    assert has_link(world.admin) and has_link(world.auditor) and has_link(world.custodian)
    assert has_link(world.lead)  # their projects' events and sessions
    assert not has_link(world.annotator) and not has_link(world.outsider)
