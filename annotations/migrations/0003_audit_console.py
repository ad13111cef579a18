"""Indexes for the audit console (issue 9): filter by actor name and outcome, full-text search.

Full-text search on PostgreSQL is a GIN index over one ``to_tsvector`` expression; the console's
query (``annotations/console/filters.py``, ``SEARCH_DOCUMENT_SQL``) must repeat the expression
exactly for the planner to use it. Dots and underscores become spaces so that ``assign`` finds
``task.assign`` and ``failed`` finds ``user.login_failed``. The index is not part of the model
state (SQLite has no GIN); SQLite falls back to LIKE, which is fine for the single-box default.
"""

from typing import Any

from django.db import migrations, models

SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple'::regconfig, translate("
    "actor_name || ' ' || action || ' ' || object_type || ' ' || object_id || ' ' || "
    "source_address || ' ' || detail::text, '._', '  '))"
)
PG_CREATE = f"CREATE INDEX IF NOT EXISTS audit_search_gin ON annotations_auditevent USING gin (({SEARCH_DOCUMENT_SQL}))"
PG_DROP = "DROP INDEX IF EXISTS audit_search_gin"


def add_search_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE)


def drop_search_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0002_roles_and_append_only_audit"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_name", "-seq"], name="audit_actor_name_seq"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq"),
        ),
        migrations.RunPython(add_search_index, drop_search_index),
    ]
