from __future__ import annotations

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Rhino Secure Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations import checks, signals  # noqa: F401  (registers checks and framework hooks)
