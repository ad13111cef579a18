"""Builds the lead browser test's world in a fresh database; prints it as JSON.

Run as ``python -m tests.browser.lead_world`` with DJANGO_SETTINGS_MODULE, DATABASE_URL and
RHINO_VAR_DIR pointing at the server's settings (the server is a real daphne: pytest-django's
live server speaks WSGI only, and the progress board's updates come over a WebSocket).
"""

from __future__ import annotations

import json

import django

PASSWORD = "correct horse battery staple"


def main() -> None:
    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotations.models import User
    from annotations.services.projects import (
        label_schema_create,
        project_create,
        project_lead_add,
        project_member_add,
        project_site_add,
    )
    from annotations.services.selections import selection_record
    from annotations.services.sites import site_create
    from imaging.handles import HandleKey, HandleKind

    call_command("migrate", verbosity=0)

    def user(name: str, role: str) -> User:
        u = User.objects.create_user(username=name, password=PASSWORD)
        u.groups.set([Group.objects.get_or_create(name=role)[0]])
        u.is_superuser = role == "admin"
        u.save()
        return u

    admin, lead = user("admin", "admin"), user("lead", "project_lead")
    readers = [user("reader1", "annotator"), user("reader2", "annotator")]
    site = site_create(actor=admin, name="Hospital A", slug="hospital-a")
    project = project_create(actor=admin, name="Chest CT", slug="chest-ct")
    project_site_add(actor=admin, project=project, site=site)
    project_lead_add(actor=admin, project=project, user=lead)
    for reader in readers:
        project_member_add(actor=lead, project=project, user=reader)
    label_schema_create(
        actor=lead, project=project,
        entries=[{"key": "nodule", "code_value": "27925004", "coding_scheme": "SCT",
                  "code_meaning": "Nodule", "kind": "region", "colour": "#ffb000"}],
    )  # fmt: skip
    key = HandleKey(b"browser-lead-handle-key-0123")
    for n, (decision, reason) in enumerate(
        [("include", "for_annotation"), ("include", "for_annotation"), ("exclude", "motion")]
    ):
        selection_record(
            actor=lead, project=project, site=site,
            study_handle=key.handle(HandleKind.STUDY, f"1.2.3.{n}"),
            series_handle=key.handle(HandleKind.SERIES, f"1.2.3.{n}.1"),
            decision=decision, reason=reason,
        )  # fmt: skip
    print(
        json.dumps(
            {
                "project": project.pk,
                "readers": {
                    r.username: {"id": r.pk, "token": Token.objects.create(user=r).key}
                    for r in readers
                },
            }
        )
    )


if __name__ == "__main__":
    main()
