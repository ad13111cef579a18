"""Role groups, and database-level append-only protection for the audit table on PostgreSQL.

The trigger stops UPDATE and DELETE of audit rows by the application's own role. It is a second
line behind the HMAC chain, not a replacement: a database owner can disable it, and truncation is
left to the chain head file to reveal (TRUNCATE stays possible so test tooling can flush tables).
SQLite (the single-box default) has no equivalent that test flushes tolerate; the chain covers it.
"""

from typing import Any

from django.db import migrations

ROLES = ["annotator", "project_lead", "site_custodian", "auditor", "admin"]

PG_CREATE = """
CREATE OR REPLACE FUNCTION rhino_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER rhino_audit_append_only BEFORE UPDATE OR DELETE ON annotations_auditevent
    FOR EACH ROW EXECUTE FUNCTION rhino_audit_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS rhino_audit_append_only ON annotations_auditevent;
DROP FUNCTION IF EXISTS rhino_audit_append_only();
"""


def create_roles(apps: Any, schema_editor: Any) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def add_trigger(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE, params=None)


def drop_trigger(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
