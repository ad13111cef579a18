"""Fixtures for central: users in roles, a project world, API clients. Real database throughout."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.models import AuditEvent, LabelSchema, Project, Role, Site, Task, User
from annotations.services.projects import (
    label_schema_create,
    project_create,
    project_lead_add,
    project_member_add,
    project_site_add,
)
from annotations.services.sites import site_create, site_custodian_grant
from annotations.services.tasks import task_assign, task_create
from annotations.services.users import user_set_roles
from imaging.handles import HandleKey, HandleKind

SCHEMA_ENTRIES = [
    {"key": "nodule", "code_value": "27925004", "coding_scheme": "SCT", "code_meaning": "Nodule",
     "kind": "region", "colour": "#ffb000"},
    {"key": "lesion", "code_value": "52988006", "coding_scheme": "SCT", "code_meaning": "Lesion",
     "kind": "mask", "colour": "#36c5ff"},
]  # fmt: skip

_counter = itertools.count(1)
_handle_key = HandleKey(b"tests-handle-key-0123456789")


def series_handle() -> str:
    return _handle_key.handle(HandleKind.SERIES, f"1.2.826.0.1.3680043.10.999.{next(_counter)}")


@pytest.fixture(scope="session", autouse=True)
def _central_signing_key() -> None:
    """Central's grant-signing key for the test run (production settings require the file)."""
    from django.conf import settings

    from annotations.signing import signing_key_create

    path = Path(settings.RHINO_SIGNING_KEY_FILE)
    if not path.exists():
        signing_key_create(path)


@pytest.fixture(autouse=True)
def _audit_head_file(settings: Any, tmp_path: Path) -> None:
    """Each test gets its own published chain head (the database is rolled back between tests)."""
    settings.RHINO_AUDIT_HEAD_FILE = tmp_path / "audit-head"


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str | None = None, *roles: Role, superuser: bool = False) -> User:
        name = username or f"user{next(_counter)}"
        user = User.objects.create_user(username=name, password="correct horse battery staple")
        if superuser:
            user.is_superuser = user.is_staff = True
            user.save()
        if roles:
            from django.contrib.auth.models import Group

            user.groups.set([Group.objects.get_or_create(name=r.value)[0] for r in roles])
        return user

    return make


@dataclass
class World:
    admin: User
    lead: User
    annotator: User
    other_annotator: User
    auditor: User
    custodian: User
    outsider: User  # signed in, no role in this project
    site: Site
    other_site: Site
    project: Project
    other_project: Project
    schema: LabelSchema
    task: Task  # assigned to annotator
    other_task: Task  # in other_project


@pytest.fixture
def world(make_user: Callable[..., User]) -> World:
    admin = make_user("admin", Role.ADMIN)
    lead = make_user("lead", Role.PROJECT_LEAD)
    annotator = make_user("annotator", Role.ANNOTATOR)
    other_annotator = make_user("annotator2", Role.ANNOTATOR)
    auditor = make_user("auditor", Role.AUDITOR)
    custodian = make_user("custodian", Role.SITE_CUSTODIAN)
    outsider = make_user("outsider", Role.ANNOTATOR)
    site = site_create(actor=admin, name="Hospital A", slug="hospital-a")
    other_site = site_create(actor=admin, name="Hospital B", slug="hospital-b")
    site_custodian_grant(actor=admin, site=site, user=custodian)
    project = project_create(actor=admin, name="Chest CT", slug="chest-ct")
    other_project = project_create(actor=admin, name="Brain MR", slug="brain-mr")
    project_site_add(actor=admin, project=project, site=site)
    project_site_add(actor=admin, project=other_project, site=other_site)
    project_lead_add(actor=admin, project=project, user=lead)
    project_member_add(actor=lead, project=project, user=annotator)
    project_member_add(actor=lead, project=project, user=other_annotator)
    schema = label_schema_create(actor=lead, project=project, entries=SCHEMA_ENTRIES)
    other_schema = label_schema_create(actor=admin, project=other_project, entries=SCHEMA_ENTRIES)
    task = task_create(
        actor=lead, project=project, site=site, series_handle=series_handle(), label_schema=schema
    )
    task_assign(actor=lead, task=task, assignee=annotator)
    other_task = task_create(
        actor=admin,
        project=other_project,
        site=other_site,
        series_handle=series_handle(),
        label_schema=other_schema,
    )
    return World(
        admin, lead, annotator, other_annotator, auditor, custodian, outsider, site, other_site,
        project, other_project, schema, task, other_task,
    )  # fmt: skip


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


def event_count() -> int:
    return AuditEvent.objects.count()


__all__ = ["SCHEMA_ENTRIES", "World", "event_count", "series_handle", "user_set_roles"]
