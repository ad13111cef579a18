"""What sites report of their own audit, and what central relayed, for the site access page
(issue 9). PHI-free by construction: session ids and user pseudonyms central issued, counts, a
chain head (row number and HMAC), a time window."""

from __future__ import annotations

from django.db import models

from annotations.models.projects import Site
from annotations.models.tasks import SecureAccessSession


class SiteAuditDigest(models.Model):
    """The latest ``audit.digest`` of a site's gateway (one row per site, replaced each time)."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="audit_digest"
    )
    received_at = models.DateTimeField()
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    window_from = models.DateTimeField()
    window_to = models.DateTimeField()
    # [{"session", "user", "frames", "first", "last"}] and [{"user", "frames"}], bounded at receipt
    sessions = models.JSONField(default=list)
    users = models.JSONField(default=list)
    truncated = models.BooleanField(default=False)
    # The chain head went backwards (a lower seq, or another hash at the same seq) at some digest:
    # kept until the site's chain is looked into, so a later normal digest does not hide it.
    chain_alert = models.CharField(max_length=200, blank=True)
    chain_alert_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.site_id} @ {self.head_seq}"


class SessionRelayCount(models.Model):
    """Frames central relayed to the browser (and dropped, window full) for one session, added
    when the browser's socket closes; the relay itself keeps these in memory only."""

    session = models.OneToOneField(
        SecureAccessSession, on_delete=models.CASCADE, primary_key=True, related_name="relay_count"
    )
    frames_relayed = models.PositiveBigIntegerField(default=0)
    frames_dropped = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.session_id}: {self.frames_relayed}"
