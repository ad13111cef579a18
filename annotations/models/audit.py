from __future__ import annotations

from django.db import models


class AuditOutcome(models.IntegerChoices):
    """DICOM EventOutcomeIndicator values (PS3.15 A.5.1)."""

    SUCCESS = 0, "Success"
    MINOR_FAILURE = 4, "Minor failure"  # e.g. a refused request: nothing happened
    SERIOUS_FAILURE = 8, "Serious failure"
    MAJOR_FAILURE = 12, "Major failure"


class AuditEvent(models.Model):
    """One append-only, hash-chained audit event.

    ``mac`` is an HMAC (settings.RHINO_AUDIT_KEY) over this event's content and the previous event's
    MAC, so an edit, deletion, swap or truncation anywhere breaks the chain (``manage.py
    audit_verify``). Actor, project and site are stored as plain ids, not foreign keys: deleting a
    user must not cascade into — or null out — the record of what they did.
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(editable=False, db_index=True)
    actor_id = models.BigIntegerField(null=True, editable=False)
    actor_name = models.CharField(max_length=150, blank=True, editable=False)
    action = models.CharField(max_length=64, editable=False)
    outcome = models.PositiveSmallIntegerField(choices=AuditOutcome.choices, editable=False)
    object_type = models.CharField(max_length=32, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    project_id = models.BigIntegerField(null=True, editable=False)
    site_id = models.BigIntegerField(null=True, editable=False)
    source_address = models.CharField(max_length=64, blank=True, editable=False)
    # Small, PHI-free context (e.g. {"from": "pending", "to": "in_progress"}); never pixels or labels.
    detail = models.JSONField(default=dict, editable=False)
    prev_mac = models.CharField(max_length=64, editable=False)
    mac = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
            models.Index(fields=["actor_id", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["project_id", "-seq"], name="audit_project_seq"),
            models.Index(fields=["site_id", "-seq"], name="audit_site_seq"),
            models.Index(fields=["object_type", "object_id", "-seq"], name="audit_object_seq"),
            # The audit console (issue 9) filters by actor name (deleted users keep theirs) and by
            # outcome (security alerts); full-text search is a PostgreSQL GIN index (migration 0003).
            models.Index(fields=["actor_name", "-seq"], name="audit_actor_name_seq"),
            models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_name or 'system'}"


class AuditChainHead(models.Model):
    """The single row naming the chain's last event; locked to serialise appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    seq = models.PositiveBigIntegerField(default=0)
    mac = models.CharField(max_length=64, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")
        ]

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"
