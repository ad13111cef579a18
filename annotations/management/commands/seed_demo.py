from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.demo import DEMO_USERS, DemoSite, demo_password_file, seed_demo
from imaging.handles import HandleKind, handle_kind


class Command(BaseCommand):
    help = "Create (or refresh) the demo users, site, project, label schema and tasks. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sites-json",
            help="demo sites from rhino_web.demo_stack: slug, name, key, series handles",
        )
        parser.add_argument(
            "--series-handle", action="append", default=[], dest="series_handles",
            help="A series handle issued by the demo gateway; one task per handle (repeatable).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        handles: list[str] = list(options["series_handles"])
        sites = None
        if options.get("sites_json"):
            rows = json.loads(Path(options["sites_json"]).read_text())
            sites = [
                DemoSite(r["slug"], r["name"], r.get("public_key", ""), r.get("series_handles", []))
                for r in rows
            ]
            handles += [h for site in sites for h in site.series_handles]
        for handle in handles:
            try:
                ok = handle_kind(handle) is HandleKind.SERIES
            except ValueError:
                ok = False
            if not ok:
                raise CommandError(f"{handle!r} is not a series handle")
        result = seed_demo(
            password=os.environ.get("DEMO_PASSWORD") or None,
            series_handles=options["series_handles"],
            sites=sites,
        )
        users = ", ".join(DEMO_USERS)
        if result.password is not None:
            self.stdout.write(f"Demo users ({users}) — password: {result.password}")
        else:
            self.stdout.write(
                f"Demo users ({users}) already exist; their password is unchanged "
                f"(kept in {demo_password_file()}, or set DEMO_PASSWORD to reset it)."
            )
        self.stdout.write(f"Demo project has {result.tasks} task(s).")
