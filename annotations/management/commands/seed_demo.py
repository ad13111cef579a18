from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.demo import DEMO_USERS, demo_password_file, seed_demo
from imaging.handles import HandleKind, handle_kind


class Command(BaseCommand):
    help = "Create (or refresh) the demo users, site, project, label schema and tasks. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--series-handle", action="append", default=[], dest="series_handles",
            help="A series handle issued by the demo gateway; one task per handle (repeatable).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        handles: list[str] = options["series_handles"]
        for handle in handles:
            try:
                ok = handle_kind(handle) is HandleKind.SERIES
            except ValueError:
                ok = False
            if not ok:
                raise CommandError(f"{handle!r} is not a series handle")
        result = seed_demo(password=os.environ.get("DEMO_PASSWORD") or None, series_handles=handles)
        users = ", ".join(DEMO_USERS)
        if result.password is not None:
            self.stdout.write(f"Demo users ({users}) — password: {result.password}")
        else:
            self.stdout.write(
                f"Demo users ({users}) already exist; their password is unchanged "
                f"(kept in {demo_password_file()}, or set DEMO_PASSWORD to reset it)."
            )
        self.stdout.write(f"Demo project has {result.tasks} task(s).")
