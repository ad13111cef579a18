from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotations.services.audit import audit_verify_chain


class Command(BaseCommand):
    help = "Walk the audit chain and name the first event that was edited, removed, swapped or cut off."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify_chain()
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{report.first_bad_seq}: {report.problem} "
                f"(verified up to event #{report.verified_up_to})"
            )
        self.stdout.write(
            f"audit chain OK: {report.events} events verified up to #{report.verified_up_to}"
        )
