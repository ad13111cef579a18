"""The demo world that `make run` seeds: users, a site, a project, a coded label schema, tasks.

Idempotent: every object is looked up by a natural key first, so re-running changes nothing but
(when DEMO_PASSWORD is given) the demo passwords.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotations.models import LabelSchema, Project, Role, Site, Task, User
from annotations.services.projects import (
    label_schema_create,
    project_create,
    project_lead_add,
    project_member_add,
    project_site_add,
)
from annotations.services.sites import (
    site_create,
    site_custodian_grant,
    site_register_gateway_key,
)
from annotations.services.tasks import task_assign, task_create
from annotations.services.users import user_set_roles

DEMO_USERS: dict[str, list[Role]] = {
    "admin": [Role.ADMIN],
    "lead": [Role.PROJECT_LEAD],
    "annotator": [Role.ANNOTATOR],
    "annotator2": [Role.ANNOTATOR],
    "auditor": [Role.AUDITOR],
    "custodian": [Role.SITE_CUSTODIAN],
}

# Coded concepts (SNOMED CT, "SCT") for a chest CT reading project.
DEMO_SCHEMA = [
    {"key": "nodule", "code_value": "27925004", "coding_scheme": "SCT", "code_meaning": "Nodule",
     "kind": "region", "colour": "#ffb000"},
    {"key": "mass", "code_value": "4147007", "coding_scheme": "SCT", "code_meaning": "Mass",
     "kind": "region", "colour": "#ff5a36"},
    {"key": "lesion-mask", "code_value": "52988006", "coding_scheme": "SCT", "code_meaning": "Lesion",
     "kind": "mask", "colour": "#36c5ff"},
    {"key": "lung-mask", "code_value": "39607008", "coding_scheme": "SCT", "code_meaning": "Lung",
     "kind": "mask", "colour": "#7ddc6f"},
    {"key": "calcification", "code_value": "18115005", "coding_scheme": "SCT",
     "code_meaning": "Calcification", "kind": "point", "colour": "#ffffff"},
    {"key": "diameter", "code_value": "81827009", "coding_scheme": "SCT", "code_meaning": "Diameter",
     "kind": "measurement", "colour": "#f5e663"},
    {"key": "emphysema", "code_value": "87433001", "coding_scheme": "SCT",
     "code_meaning": "Pulmonary emphysema", "kind": "classification", "colour": "#c58cff"},
]  # fmt: skip


@dataclass(frozen=True)
class DemoSeedResult:
    password: str | None  # None: existing users kept their passwords
    created_users: list[str]
    tasks: int


def demo_password_file() -> Path:
    return Path(settings.VAR_DIR) / "secrets" / "demo-password"


def _demo_password(explicit: str | None) -> tuple[str, str]:
    """(password, source): DEMO_PASSWORD wins, else the one kept under var/, else a new random one."""
    if explicit:
        return explicit, "env"
    path = demo_password_file()
    if path.exists():
        return path.read_text().strip(), "file"
    return secrets.token_urlsafe(12), "new"


def _keep_password(password: str) -> None:
    path = demo_password_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(password)
    path.chmod(0o600)


@dataclass(frozen=True)
class DemoSite:
    slug: str
    name: str
    public_key: str = ""  # the site gateway's; empty = not enrolled yet
    series_handles: Sequence[str] = ()


def seed_demo(
    *,
    password: str | None,
    series_handles: Sequence[str] = (),
    sites: Sequence[DemoSite] | None = None,
) -> DemoSeedResult:
    """Seed the demo; ``sites`` (from rhino_web.demo_stack) or one default site with
    ``series_handles``."""
    sites = (
        list(sites)
        if sites is not None
        else [DemoSite("demo-site", "Demo Hospital", "", series_handles)]
    )
    chosen, source = _demo_password(password)
    explicit = source == "env"
    created: list[str] = []
    with transaction.atomic():
        users: dict[str, User] = {}
        for username, roles in DEMO_USERS.items():
            user, was_created = User.objects.get_or_create(username=username)
            if was_created or explicit:
                user.set_password(chosen)
                user.is_staff = Role.ADMIN in roles or Role.AUDITOR in roles
                user.is_superuser = Role.ADMIN in roles
                user.save()
            if was_created:
                created.append(username)
            users[username] = user
        admin = users["admin"]
        for username, roles in DEMO_USERS.items():
            if set(users[username].groups.values_list("name", flat=True)) != {
                r.value for r in roles
            }:
                user_set_roles(actor=admin, user=users[username], roles=[r.value for r in roles])

        site_rows = []
        for spec in sites:
            site = Site.objects.filter(slug=spec.slug).first() or site_create(
                actor=admin, name=spec.name, slug=spec.slug
            )
            if spec.public_key and site.gateway_public_key != spec.public_key:
                site_register_gateway_key(actor=admin, site=site, public_key=spec.public_key)
            if not users["custodian"].has_perm("annotations.administer_site", site):
                site_custodian_grant(actor=admin, site=site, user=users["custodian"])
            site_rows.append((site, spec))
        project = Project.objects.filter(slug="demo-chest-ct").first() or project_create(
            actor=admin, name="Demo chest CT", slug="demo-chest-ct",
            description="Nodule detection on low-dose chest CT (synthetic phantom data).",
        )  # fmt: skip
        for site, _ in site_rows:
            if not project.sites.filter(pk=site.pk).exists():
                project_site_add(actor=admin, project=project, site=site)
        if not project.leads.filter(pk=users["lead"].pk).exists():
            project_lead_add(actor=admin, project=project, user=users["lead"])
        for name in ("annotator", "annotator2"):
            if not project.members.filter(pk=users[name].pk).exists():
                project_member_add(actor=users["lead"], project=project, user=users[name])
        schema = LabelSchema.objects.filter(project=project).order_by("-version").first()
        if schema is None:
            schema = label_schema_create(actor=users["lead"], project=project, entries=DEMO_SCHEMA)
        # The site's main series (the phantom CT) is read by both annotators, blinded from each
        # other; further series go to the first annotator.
        for site, spec in site_rows:
            for index, handle in enumerate(spec.series_handles):
                readers = (
                    [users["annotator"], users["annotator2"]]
                    if index == 0
                    else [users["annotator"]]
                )
                for reader in readers:
                    if Task.objects.filter(
                        site=site, series_handle=handle, assignee=reader
                    ).exists():
                        continue
                    task = task_create(
                        actor=users["lead"], project=project, site=site, series_handle=handle,
                        label_schema=schema,
                    )  # fmt: skip
                    task_assign(actor=users["lead"], task=task, assignee=reader)
        tasks = Task.objects.filter(project=project).count()
    if source == "new" and created:
        _keep_password(chosen)
    known = explicit or source == "file" or bool(created)
    return DemoSeedResult(password=chosen if known else None, created_users=created, tasks=tasks)
