from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.signing import public_key_b64, signing_key, signing_key_create


class Command(BaseCommand):
    help = "Create central's grant-signing key, or show its public key (which gateways pin at enrollment)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "show"])

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.RHINO_SIGNING_KEY_FILE)
        if options["action"] == "create":
            try:
                key = signing_key_create(path)
            except FileExistsError:
                raise CommandError(
                    f"{path} exists; refusing to replace a signing key in use"
                ) from None
            self.stdout.write(f"created {path}")
            self.stdout.write(f"public key: {public_key_b64(key)}")
        else:
            if not path.exists() and not settings.DEBUG:
                raise CommandError(f"{path} does not exist; run `manage.py signing_key create`")
            self.stdout.write(public_key_b64(signing_key()))
