"""Series selections: which series of a study the lead chose, and why (issue 8).

Central keeps only the pseudonymous handles it needs to create tasks and a coded reason; the site
writes the selection back to its PACS as a Key Object Selection document (PS3.3 A.35.4) and reports
how that went in ``kos_state``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models

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
