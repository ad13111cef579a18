"""Series selections: which series of a study the lead chose, and why (issue 8).

Central keeps only the pseudonymous handles it needs to create tasks and a coded reason; the site
writes the selection back to its PACS as a Key Object Selection document (PS3.3 A.35.4) and reports
how that went in ``kos_state``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.models.projects import Project, Site


class SelectionDecision(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"


class KosState(models.TextChoices):
    """What the site reports of the KOS write-back (site_gateway outbox states, abridged)."""

    PENDING = "pending", "Not yet written at the site"
    STORED = "stored", "Stored in the PACS as a KOS"
    FAILED = "failed", "The site could not write the KOS"


@dataclass(frozen=True, slots=True)
class SelectionReason:
    key: str
    decision: SelectionDecision
    code_value: str
    coding_scheme: str
    code_meaning: str


# The coded reasons a lead may give (docs/lead.md). DICOM codes where the standard has one:
# DCM 113000 "Of Interest" is a KOS document title (CID 7010); the exclusion reasons are from
# CID 7011 "Rejected for Quality Reasons". Where DICOM has no code, the local scheme RHINO.
SELECTION_REASONS: dict[str, SelectionReason] = {
    r.key: r
    for r in (
        SelectionReason(
            "for_annotation", SelectionDecision.INCLUDE, "113000", "DCM", "Of Interest"
        ),
        SelectionReason("motion", SelectionDecision.EXCLUDE, "111210", "DCM", "Motion blur"),
        SelectionReason(
            "artefact", SelectionDecision.EXCLUDE, "111207", "DCM", "Image artifact(s)"
        ),
        SelectionReason("positioning", SelectionDecision.EXCLUDE, "111209", "DCM", "Positioning"),
        SelectionReason(
            "incomplete", SelectionDecision.EXCLUDE, "SEL-INCOMPLETE", "RHINO", "Incomplete series"
        ),
        SelectionReason(
            "not_relevant",
            SelectionDecision.EXCLUDE,
            "SEL-NOT-RELEVANT",
            "RHINO",
            "Not relevant to the project",
        ),
        SelectionReason(
            "duplicate", SelectionDecision.EXCLUDE, "SEL-DUPLICATE", "RHINO", "Duplicate series"
        ),
    )
}


class SeriesSelection(models.Model):
    """One series of one study at one site, included in or excluded from a project, with a reason."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="selections")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="selections")
    study_handle = models.CharField(max_length=32)
    series_handle = models.CharField(max_length=32)
    decision = models.CharField(max_length=8, choices=SelectionDecision.choices)
    reason_code_value = models.CharField(max_length=64)
    reason_coding_scheme = models.CharField(max_length=16)
    reason_code_meaning = models.CharField(max_length=64)
    selected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kos_state = models.CharField(
        max_length=8, choices=KosState.choices, default=KosState.PENDING, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "series_handle"], name="selection_unique_series_per_project"
            ),
        ]
        indexes = [models.Index(fields=["project", "decision"], name="selection_project_decision")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.series_handle}"

    @property
    def reason_key(self) -> str:
        for reason in SELECTION_REASONS.values():
            if (reason.code_value, reason.coding_scheme) == (
                self.reason_code_value,
                self.reason_coding_scheme,
            ):
                return reason.key
        return ""


class WithdrawalState(models.TextChoices):
    PENDING = "pending", "Not yet answered by the site"
    FAILED = "failed", "The site could not retire the KOS"


class SelectionWithdrawal(models.Model):
    """A withdrawn selection whose KOS the site has not retired yet: kept until the site answers
    ``selection.withdrawn``, so that a site offline at the time is asked again when its control
    link comes up (``annotations/services/site_requests.py: site_redeliver_pending``).

    A model of its own rather than a tombstone on ``SeriesSelection``: a withdrawn selection must
    vanish from every read of selections (the lead's list, task creation, agreement, the unique
    series per project) at once, and a tombstone would have to be excluded in each of them; this
    row is read only by the redelivery and the answer, holds only the handle, and is deleted when
    the site has retired the KOS (``retired``) or never held the selection (``not_found``). A site
    refusal with another code stays as ``failed`` (not retried; shown in the audit).

    Ordering: recording the series again deletes this row in the same transaction (the newer
    ``selection.write`` says everything the site must hold for that series), and only the answer
    to the request last sent (``request``) settles it, so a late answer to an older withdrawal
    cannot settle a newer one.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="withdrawals")
    # A deleted site has no gateway left to ask.
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    series_handle = models.CharField(max_length=32)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=8, choices=WithdrawalState.choices, default=WithdrawalState.PENDING
    )
    code = models.CharField(max_length=40, blank=True)  # the site's refusal code, when failed
    request = models.CharField(max_length=32, blank=True)  # the site request id last sent

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "series_handle"], name="withdrawal_unique_series_per_project"
            ),
        ]
        indexes = [models.Index(fields=["site", "state"], name="withdrawal_site_state")]

    def __str__(self) -> str:
        return f"withdraw {self.series_handle} ({self.state})"
