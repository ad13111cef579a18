from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from annotations.audit_actions import AuditAction
from annotations.errors import ConflictError, DomainError
from annotations.models import LabelEntry, LabelSchema, Project, Role, Site, User
from annotations.services.access import require_admin, require_perm
from annotations.services.audit import audit_record

PROJECT_FIELDS = frozenset({"name", "description", "viewer_presets"})


def project_create(*, actor: User, name: str, slug: str, description: str = "") -> Project:
    require_admin(actor=actor, action=AuditAction.PROJECT_CREATE)
    with transaction.atomic():
        if Project.objects.filter(slug=slug).exists():
            raise ConflictError(
                f"A project with slug {slug!r} exists.", fields={"slug": ["Taken."]}
            )
        project = Project.objects.create(name=name, slug=slug, description=description)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_CREATE, obj=project, project_id=project.pk
        )
    return project


def project_update(*, actor: User, project: Project, changes: Mapping[str, Any]) -> Project:
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.PROJECT_UPDATE)
    unknown = set(changes) - PROJECT_FIELDS
    if unknown:
        raise DomainError(
            f"Cannot change {sorted(unknown)}.", fields={k: ["Not changeable."] for k in unknown}
        )
    with transaction.atomic():
        for field, value in changes.items():
            setattr(project, field, value)
        project.full_clean()
        project.save(update_fields=[*changes])
        audit_record(
            actor=actor,
            action=AuditAction.PROJECT_UPDATE,
            obj=project,
            project_id=project.pk,
            detail={"fields": sorted(changes)},
        )
    return project


def project_delete(*, actor: User, project: Project) -> None:
    require_admin(actor=actor, action=AuditAction.PROJECT_DELETE, obj=project)
    with transaction.atomic():
        project_id = project.pk
        if project.tasks.exists():
            raise ConflictError("The project still has tasks; delete or finish them first.")
        audit_record(
            actor=actor, action=AuditAction.PROJECT_DELETE, obj=project, project_id=project_id
        )
        project.delete()  # object permissions go with it (direct foreign keys, CASCADE)


def _require_role(user: User, role: Role, what: str) -> None:
    if not user.is_active or not user.has_role(role):
        raise DomainError(
            f"{user.get_username()} does not have the {role.label} role needed to be {what}."
        )


def project_lead_add(*, actor: User, project: Project, user: User) -> None:
    require_admin(actor=actor, action=AuditAction.PROJECT_LEAD_ADD, obj=project)
    _require_role(user, Role.PROJECT_LEAD, "a project lead")
    with transaction.atomic():
        project.leads.add(user)
        assign_perm("annotations.manage_project", user, project)
        assign_perm("annotations.view_project", user, project)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_LEAD_ADD, obj=project, project_id=project.pk,
            detail={"user": user.pk},
        )  # fmt: skip


def project_lead_remove(*, actor: User, project: Project, user: User) -> None:
    require_admin(actor=actor, action=AuditAction.PROJECT_LEAD_REMOVE, obj=project)
    with transaction.atomic():
        project.leads.remove(user)
        remove_perm("annotations.manage_project", user, project)
        if not project.members.filter(pk=user.pk).exists():
            remove_perm("annotations.view_project", user, project)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_LEAD_REMOVE, obj=project, project_id=project.pk,
            detail={"user": user.pk},
        )  # fmt: skip


def project_member_add(*, actor: User, project: Project, user: User) -> None:
    require_perm(
        actor=actor, perm="manage_project", obj=project, action=AuditAction.PROJECT_MEMBER_ADD
    )
    _require_role(user, Role.ANNOTATOR, "a project member")
    with transaction.atomic():
        project.members.add(user)
        assign_perm("annotations.view_project", user, project)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_MEMBER_ADD, obj=project, project_id=project.pk,
            detail={"user": user.pk},
        )  # fmt: skip


def project_member_remove(*, actor: User, project: Project, user: User) -> None:
    require_perm(
        actor=actor, perm="manage_project", obj=project, action=AuditAction.PROJECT_MEMBER_REMOVE
    )
    with transaction.atomic():
        project.members.remove(user)
        if not project.leads.filter(pk=user.pk).exists():
            remove_perm("annotations.view_project", user, project)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_MEMBER_REMOVE, obj=project, project_id=project.pk,
            detail={"user": user.pk},
        )  # fmt: skip


def project_site_add(*, actor: User, project: Project, site: Site) -> None:
    require_admin(actor=actor, action=AuditAction.PROJECT_SITE_ADD, obj=project)
    with transaction.atomic():
        project.sites.add(site)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_SITE_ADD, obj=project, project_id=project.pk,
            site_id=site.pk,
        )  # fmt: skip


def project_site_remove(*, actor: User, project: Project, site: Site) -> None:
    require_admin(actor=actor, action=AuditAction.PROJECT_SITE_REMOVE, obj=project)
    with transaction.atomic():
        if project.tasks.filter(site=site).exists():
            raise ConflictError("The project has tasks at this site.")
        project.sites.remove(site)
        audit_record(
            actor=actor, action=AuditAction.PROJECT_SITE_REMOVE, obj=project, project_id=project.pk,
            site_id=site.pk,
        )  # fmt: skip


def label_schema_create(
    *, actor: User, project: Project, entries: Sequence[Mapping[str, Any]]
) -> LabelSchema:
    """A new schema version for ``project``; versions are immutable once created."""
    require_perm(actor=actor, perm="manage_project", obj=project, action=AuditAction.SCHEMA_CREATE)
    if not entries:
        raise DomainError(
            "A label schema needs at least one entry.", fields={"entries": ["Empty."]}
        )
    with transaction.atomic():
        # Lock the project row so two concurrent creations cannot take the same version number.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        latest = (
            project.label_schemas.order_by("-version").values_list("version", flat=True).first()
        )
        schema = LabelSchema.objects.create(
            project=project, version=(latest or 0) + 1, created_by=actor
        )
        rows = [
            LabelEntry(schema=schema, order=i, **dict(entry)) for i, entry in enumerate(entries)
        ]
        for row in rows:
            row.full_clean(exclude=["schema"], validate_unique=False, validate_constraints=False)
        keys = [row.key for row in rows]
        codes = [(row.coding_scheme, row.code_value, row.kind) for row in rows]
        if len(set(keys)) != len(keys) or len(set(codes)) != len(codes):
            raise DomainError("Label keys, and codes within a kind, must be unique in a schema.")
        LabelEntry.objects.bulk_create(rows)
        audit_record(
            actor=actor, action=AuditAction.SCHEMA_CREATE, obj=schema, project_id=project.pk,
            detail={"version": schema.version, "entries": len(rows)},
        )  # fmt: skip
    return schema
