"""Builds a small world in a fresh database for the real-daphne tests; prints it as JSON.

Run as ``python -m tests.annotations.secure_access.daphne_world`` with DJANGO_SETTINGS_MODULE,
DATABASE_URL and RHINO_VAR_DIR pointing at the server's settings.
"""

from __future__ import annotations

import json

import django


def main() -> None:
    django.setup()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from annotations.models import User
    from annotations.services.projects import (
        label_schema_create,
        project_create,
        project_lead_add,
        project_member_add,
        project_site_add,
    )
    from annotations.services.sessions import session_open
    from annotations.services.sites import site_create, site_register_gateway_key
    from annotations.services.tasks import task_assign, task_create
    from annotations.signing import signing_key_create
    from imaging.handles import HandleKey, HandleKind
    from site_gateway.grants import public_key_b64

    call_command("migrate", verbosity=0)
    from pathlib import Path

    if not Path(settings.RHINO_SIGNING_KEY_FILE).exists():
        signing_key_create(Path(settings.RHINO_SIGNING_KEY_FILE))

    def user(name: str, role: str) -> User:
        u = User.objects.create_user(username=name, password="daphne-test-password")
        u.groups.set([Group.objects.get_or_create(name=role)[0]])
        if role == "admin":
            u.is_superuser = True
            u.save()
        return u

    admin, lead, annotator = (
        user("admin", "admin"),
        user("lead", "project_lead"),
        user("annotator", "annotator"),
    )
    site = site_create(actor=admin, name="Loopback", slug="loopback")
    key = Ed25519PrivateKey.generate()
    site_register_gateway_key(actor=admin, site=site, public_key=public_key_b64(key))
    project = project_create(actor=admin, name="P", slug="p")
    project_site_add(actor=admin, project=project, site=site)
    project_lead_add(actor=admin, project=project, user=lead)
    project_member_add(actor=lead, project=project, user=annotator)
    schema = label_schema_create(
        actor=lead, project=project,
        entries=[{"key": "nodule", "code_value": "27925004", "coding_scheme": "SCT",
                  "code_meaning": "Nodule", "kind": "region", "colour": "#ffb000"}],
    )  # fmt: skip
    handle = HandleKey(b"daphne-loopback-handle-key").handle(HandleKind.SERIES, "1.2.3.4.5")
    task = task_create(
        actor=lead, project=project, site=site, series_handle=handle, label_schema=schema
    )
    task_assign(actor=lead, task=task, assignee=annotator)
    session = session_open(actor=annotator, task=task)
    store = SessionStore()
    store["_auth_user_id"] = str(annotator.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = annotator.get_session_auth_hash()
    store.create()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    print(
        json.dumps(
            {
                "session": str(session.pk),
                "cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}",
                "site": site.slug,
                "gateway_key": raw.hex(),
                "series": handle,
            }
        )
    )


if __name__ == "__main__":
    main()
