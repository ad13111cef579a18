"""System checks for misconfiguration (``manage.py check``); ids rhino.E001…, rhino.W001…."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register("rhino")
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    layer = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    workers = int(getattr(settings, "RHINO_WORKERS", 1))
    if workers > 1 and layer.endswith("InMemoryChannelLayer"):
        problems.append(
            Error(
                f"RHINO_WORKERS={workers} but the channel layer is in-memory: workers cannot reach "
                "each other's sockets (revocations and relays would be lost).",
                hint="Set REDIS_URL to use channels_redis, or run one worker.",
                id="rhino.E001",
            )
        )
    if not settings.RHINO_AUDIT_KEY:
        problems.append(
            Error(
                "RHINO_AUDIT_KEY is not set: audit events cannot be chained.",
                hint="Set RHINO_AUDIT_KEY to a long random secret, kept apart from the database.",
                id="rhino.E002",
            )
        )
    elif len(str(settings.RHINO_AUDIT_KEY)) < 32:
        problems.append(Error("RHINO_AUDIT_KEY is shorter than 32 characters.", id="rhino.E003"))
    if not settings.DEBUG and not Path(settings.RHINO_SIGNING_KEY_FILE).is_file():
        problems.append(
            Error(
                f"The grant signing key {settings.RHINO_SIGNING_KEY_FILE} does not exist.",
                hint="Create it with `manage.py signing_key create` and set RHINO_SIGNING_KEY_FILE.",
                id="rhino.E004",
            )
        )
    if workers > 1 and str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
        problems.append(
            Warning(
                f"RHINO_WORKERS={workers} on SQLite: writes from several processes will contend.",
                hint="Set DATABASE_URL to PostgreSQL for more than one worker.",
                id="rhino.W001",
            )
        )
    return problems
