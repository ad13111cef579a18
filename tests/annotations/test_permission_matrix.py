"""Every REST endpoint × every role: allowed, 403 for visible-but-forbidden, 404 for invisible."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from annotations.models import Project, Site
from tests.annotations.conftest import SCHEMA_ENTRIES, World, series_handle
from tests.annotations.lead.conftest import bare_selection, study_handle

ROLES = [
    "admin",
    "lead",
    "annotator",
    "other_annotator",
    "auditor",
    "custodian",
    "outsider",
    "anonymous",
]

Path = Callable[[World], str]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Path
    expect: dict[str, int]
    body: Body | None = None
    default: int = 404  # what a role not named in ``expect`` gets
    anonymous: int = 401

    def status_for(self, role: str) -> int:
        if role == "anonymous":
            return self.anonymous
        return self.expect.get(role, self.default)


def fresh_site(w: World) -> str:
    return f"/api/sites/{Site.objects.create(name='Spare', slug='spare').pk}/"


def fresh_project(w: World) -> str:
    return f"/api/projects/{Project.objects.create(name='Spare', slug='spare').pk}/"


EVERYONE_200 = dict.fromkeys(ROLES[:-1], 200)
PROJECT_VIEWERS = {
    "admin": 200,
    "auditor": 200,
    "lead": 200,
    "annotator": 200,
    "other_annotator": 200,
}
FORBIDDEN_TO_VIEWERS = {"auditor": 403, "annotator": 403, "other_annotator": 403}
LEAD_READERS = {"admin": 200, "auditor": 200, "lead": 200, "annotator": 403, "other_annotator": 403}

CASES = [
    Case("me", "get", lambda w: "/api/me/", EVERYONE_200),
    Case("site list", "get", lambda w: "/api/sites/", EVERYONE_200),
    Case("site create", "post", lambda w: "/api/sites/", {"admin": 201}, body=lambda w: {"name": "C", "slug": "c"}, default=403),
    Case("site detail", "get", lambda w: f"/api/sites/{w.site.pk}/", {**PROJECT_VIEWERS, "custodian": 200}),
    Case("other site detail", "get", lambda w: f"/api/sites/{w.other_site.pk}/", {"admin": 200, "auditor": 200}),
    Case("site rename", "patch", lambda w: f"/api/sites/{w.site.pk}/",
         {"admin": 200, "custodian": 200, "lead": 403, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"name": "A2"}),
    Case("site key", "put", lambda w: f"/api/sites/{w.site.pk}/gateway-key/",
         {"admin": 200, "custodian": 200, "lead": 403, **FORBIDDEN_TO_VIEWERS},
         body=lambda w: {"public_key": "A" * 43 + "="}),
    Case("site delete", "delete", fresh_site, {"admin": 204, "auditor": 403}),
    Case("site custodian add", "post", lambda w: f"/api/sites/{w.site.pk}/custodians/",
         {"admin": 204, "custodian": 403, "lead": 403, **FORBIDDEN_TO_VIEWERS},
         body=lambda w: {"user": w.custodian.pk}),
    Case("site custodian remove", "delete", lambda w: f"/api/sites/{w.site.pk}/custodians/{w.custodian.pk}/",
         {"admin": 204, "custodian": 403, "lead": 403, **FORBIDDEN_TO_VIEWERS}),
    Case("project list", "get", lambda w: "/api/projects/", EVERYONE_200),
    Case("project create", "post", lambda w: "/api/projects/", {"admin": 201},
         body=lambda w: {"name": "New", "slug": "new"}, default=403),
    Case("project detail", "get", lambda w: f"/api/projects/{w.project.pk}/", PROJECT_VIEWERS),
    Case("other project detail", "get", lambda w: f"/api/projects/{w.other_project.pk}/", {"admin": 200, "auditor": 200}),
    Case("project update", "patch", lambda w: f"/api/projects/{w.project.pk}/",
         {"admin": 200, "lead": 200, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"description": "x"}),
    Case("project delete", "delete", fresh_project, {"admin": 204, "auditor": 403}),
    Case("project lead add", "post", lambda w: f"/api/projects/{w.project.pk}/leads/",
         {"admin": 204, "lead": 403, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"user": w.lead.pk}),
    Case("project lead remove", "delete", lambda w: f"/api/projects/{w.project.pk}/leads/{w.lead.pk}/",
         {"admin": 204, "lead": 403, **FORBIDDEN_TO_VIEWERS}),
    Case("project member add", "post", lambda w: f"/api/projects/{w.project.pk}/members/",
         {"admin": 204, "lead": 204, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"user": w.outsider.pk}),
    Case("project member remove", "delete",
         lambda w: f"/api/projects/{w.project.pk}/members/{w.other_annotator.pk}/",
         {"admin": 204, "lead": 204, **FORBIDDEN_TO_VIEWERS}),
    Case("project site add", "post", lambda w: f"/api/projects/{w.project.pk}/sites/",
         {"admin": 204, "lead": 403, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"site": w.site.pk}),
    Case("schema list", "get", lambda w: f"/api/projects/{w.project.pk}/label-schemas/", PROJECT_VIEWERS),
    Case("schema create", "post", lambda w: f"/api/projects/{w.project.pk}/label-schemas/",
         {"admin": 201, "lead": 201, **FORBIDDEN_TO_VIEWERS}, body=lambda w: {"entries": SCHEMA_ENTRIES}),
    Case("schema detail", "get", lambda w: f"/api/label-schemas/{w.schema.pk}/", PROJECT_VIEWERS),
    Case("task list", "get", lambda w: "/api/tasks/", EVERYONE_200),
    Case("task detail", "get", lambda w: f"/api/tasks/{w.task.pk}/",
         {"admin": 200, "auditor": 200, "lead": 200, "annotator": 200}),
    Case("other task detail", "get", lambda w: f"/api/tasks/{w.other_task.pk}/", {"admin": 200, "auditor": 200}),
    Case("task create", "post", lambda w: "/api/tasks/",
         {"admin": 201, "lead": 201, **FORBIDDEN_TO_VIEWERS},
         body=lambda w: {"project": w.project.pk, "site": w.site.pk, "series_handle": series_handle(),
                         "label_schema": w.schema.pk}),
    Case("task assign", "post", lambda w: f"/api/tasks/{w.task.pk}/assign/",
         {"admin": 200, "lead": 200, "auditor": 403, "annotator": 403},
         body=lambda w: {"assignee": w.other_annotator.pk}),
    Case("task start", "post", lambda w: f"/api/tasks/{w.task.pk}/status/",
         {"annotator": 200, "admin": 403, "lead": 403, "auditor": 403}, body=lambda w: {"status": "in_progress"}),
    Case("task delete", "delete", lambda w: f"/api/tasks/{w.task.pk}/",
         {"admin": 204, "lead": 204, "auditor": 403, "annotator": 403}),
    Case("selection reasons", "get", lambda w: "/api/selection-reasons/", EVERYONE_200),
    Case("selection list", "get", lambda w: f"/api/projects/{w.project.pk}/selections/", LEAD_READERS),
    Case("selection record", "post", lambda w: f"/api/projects/{w.project.pk}/selections/",
         {"admin": 201, "lead": 201, **FORBIDDEN_TO_VIEWERS},
         body=lambda w: {"site": w.site.pk, "study_handle": study_handle(), "series_handle": series_handle(),
                         "decision": "include", "reason": "for_annotation"}),
    Case("selection detail", "get",
         lambda w: f"/api/projects/{w.project.pk}/selections/{bare_selection(w).pk}/", LEAD_READERS),
    Case("selection withdraw", "delete",
         lambda w: f"/api/projects/{w.project.pk}/selections/{bare_selection(w).pk}/",
         {"admin": 204, "lead": 204, **FORBIDDEN_TO_VIEWERS}),
    Case("tasks bulk", "post", lambda w: f"/api/projects/{bare_selection(w).project_id}/tasks/bulk/",
         {"admin": 201, "lead": 201, **FORBIDDEN_TO_VIEWERS},
         body=lambda w: {"readers": [w.annotator.pk], "label_schema": w.schema.pk}),
    Case("progress", "get", lambda w: f"/api/projects/{w.project.pk}/progress/", LEAD_READERS),
    Case("withdrawals", "get", lambda w: f"/api/projects/{w.project.pk}/withdrawals/", LEAD_READERS),
    Case("auth token (wrong password)", "post", lambda w: "/api/auth/token/",
         dict.fromkeys(ROLES[:-1], 400), body=lambda w: {"username": "lead", "password": "wrong"},
         anonymous=400),
    Case("user roles", "put", lambda w: f"/api/users/{w.outsider.pk}/roles/", {"admin": 200},
         body=lambda w: {"roles": ["annotator"]}, default=403),
    Case("users list", "get", lambda w: "/api/users/", {"admin": 200, "auditor": 200}, default=403),
    Case("user create", "post", lambda w: "/api/users/", {"admin": 201}, default=403,
         body=lambda w: {"username": "new1", "password": "a long enough passphrase 7"}),
    Case("user deactivate", "post", lambda w: f"/api/users/{w.outsider.pk}/deactivate/",
         {"admin": 200}, body=lambda w: {"reason": "left"}, default=403),
    Case("user reactivate", "post", lambda w: f"/api/users/{w.outsider.pk}/reactivate/",
         {"admin": 200}, default=403),
]  # fmt: skip

EXPECTED_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_endpoint_answers_each_role_as_designed(case: Case, role: str, world: World, api) -> None:
    user = None if role == "anonymous" else getattr(world, role)
    client = api(user)
    path = case.path(world)
    kwargs: dict[str, Any] = {"format": "json"}
    if case.body is not None:
        kwargs["data"] = case.body(world)
    response = getattr(client, case.method)(path, **kwargs)
    expected = case.status_for(role)
    assert response.status_code == expected, (case.name, role, response.content[:300])
    if expected in EXPECTED_CODES:
        assert response.json()["error"]["code"] == EXPECTED_CODES[expected]


@dataclass
class _Seen:
    ids: set[int] = field(default_factory=set)


def test_invisible_and_missing_objects_answer_identically(world: World, api) -> None:
    """No existence oracle: a project you may not see looks exactly like one that does not exist."""
    client = api(world.outsider)
    hidden = client.get(f"/api/projects/{world.other_project.pk}/")
    missing = client.get("/api/projects/987654/")
    garbage = client.get("/api/projects/not-a-number/")
    huge = client.get(f"/api/projects/{2**70}/")
    assert (
        hidden.status_code == missing.status_code == garbage.status_code == huge.status_code == 404
    )
    assert hidden.json() == missing.json() == garbage.json() == huge.json()
