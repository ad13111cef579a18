from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.models.projects import LabelSchema, Project, Site


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


# The task life cycle: pending → in progress → submitted → approved / rejected; a rejected task goes
# back to the annotator (in progress). Approved is final.
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.IN_PROGRESS}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.SUBMITTED}),
    TaskStatus.SUBMITTED: frozenset({TaskStatus.APPROVED, TaskStatus.REJECTED}),
    TaskStatus.REJECTED: frozenset({TaskStatus.IN_PROGRESS}),
    TaskStatus.APPROVED: frozenset(),
}


class Task(models.Model):
    """One reader's work on one series, known to central only by the series' pseudonymous handle."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="tasks")
    series_handle = models.CharField(max_length=32)
    label_schema = models.ForeignKey(LabelSchema, on_delete=models.PROTECT, related_name="tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
    )
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    due_date = models.DateField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    # Written back by the gateway: label counts and content hash only, never the labels themselves.
    label_count = models.PositiveIntegerField(default=0)
    label_content_hash = models.CharField(max_length=64, blank=True)
    label_revision = models.PositiveIntegerField(default=0)
    label_state = models.CharField(max_length=16, blank=True)  # site_gateway.protocol.LabelState
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("annotate_task", "Can annotate the task"),
            ("review_task", "Can review the task"),
        ]
        indexes = [
            models.Index(fields=["project", "status"]),
            models.Index(fields=["assignee", "status"]),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.get_status_display()})"

    def can_become(self, status: str) -> bool:
        return status in TASK_TRANSITIONS[self.status]


class CloseReason(models.TextChoices):
    CLOSED = "closed", "Closed by the user"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    LOGGED_OUT = "logged_out", "User logged out"
    TASK_CHANGED = "task_changed", "Task reassigned or finished"


class SecureAccessSession(models.Model):
    """A time-boxed, scoped right for one user to view (and annotate) one task's series at its site."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="secure_sessions"
    )
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="sessions")
    # What the grant allows: {"series": [handles], "actions": ["view", "annotate", …]}.
    scope = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "closed_at"]), models.Index(fields=["expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True) | ~models.Q(close_reason=""),
                name="session_closed_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Secure Access session {self.id}"

    def is_live(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.closed_at is None and self.expires_at > now
