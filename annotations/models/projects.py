from __future__ import annotations

import base64
import binascii
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

COLOUR_VALIDATOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #ff8800.")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}$")


def validate_ed25519_public_key(value: str) -> None:
    """A gateway key is 32 raw bytes, base64 (standard or url-safe) encoded."""
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("Not base64.", code="invalid_public_key") from None
    if len(raw) != 32:
        raise ValidationError("An Ed25519 public key is 32 bytes.", code="invalid_public_key")


class Site(models.Model):
    """A hospital running a site gateway. Central knows its key and health, never its data."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    gateway_public_key = models.CharField(
        max_length=64, blank=True, validators=[validate_ed25519_public_key]
    )
    enrolled_at = models.DateTimeField(null=True, blank=True)
    is_online = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    gateway_version = models.CharField(max_length=40, blank=True)
    # The channel name of the live control link (one per site; a newer link replaces an older one).
    gateway_link = models.CharField(max_length=200, blank=True, editable=False)
    # Last heartbeat's PHI-free health report: PACS reachability, cache use, outbox depth.
    gateway_health = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("administer_site", "Can administer the site and its gateway")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_enrolled(self) -> bool:
        return bool(self.gateway_public_key)


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    leads = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="led_projects", blank=True
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="member_projects", blank=True
    )
    sites = models.ManyToManyField(Site, related_name="projects", blank=True)
    # Window presets offered in the viewer, e.g. {"CT": [{"name": "Brain", "center": 40, "width": 80}]}.
    viewer_presets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_project", "Can manage the project: sites, schemas, tasks, review")]

    def __str__(self) -> str:
        return self.name


class LabelKind(models.TextChoices):
    REGION = "region", "Region (rectangle, ellipse, polygon, freehand)"
    MASK = "mask", "Mask (brush)"
    POINT = "point", "Point"
    MEASUREMENT = "measurement", "Measurement (length, angle)"
    CLASSIFICATION = "classification", "Classification"


class LabelSchema(models.Model):
    """A versioned, immutable set of coded labels; a change makes a new version."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_schemas")
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["project_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "version"], name="labelschema_unique_version"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="labelschema_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} schema v{self.version}"


class LabelEntry(models.Model):
    """One coded label (PS3.16 coded concept: value, scheme designator, meaning) and its kind."""

    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="entries")
    key = models.SlugField(max_length=50)
    code_value = models.CharField(max_length=64)
    coding_scheme = models.CharField(max_length=16)
    code_meaning = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=LabelKind.choices)
    colour = models.CharField(max_length=7, validators=[COLOUR_VALIDATOR])
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["schema_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "key"], name="labelentry_unique_key"),
            models.UniqueConstraint(
                fields=["schema", "coding_scheme", "code_value", "kind"],
                name="labelentry_unique_code_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code_meaning} ({self.coding_scheme} {self.code_value})"
