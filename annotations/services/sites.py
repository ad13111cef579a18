from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from annotations.audit_actions import AuditAction
from annotations.errors import ConflictError
from annotations.models import Role, Site, User
from annotations.services.access import require_admin, require_perm
from annotations.services.audit import audit_record
from annotations.services.projects import _require_role


def site_create(*, actor: User, name: str, slug: str) -> Site:
    require_admin(actor=actor, action=AuditAction.SITE_CREATE)
    with transaction.atomic():
        if Site.objects.filter(slug=slug).exists():
            raise ConflictError(f"A site with slug {slug!r} exists.", fields={"slug": ["Taken."]})
        site = Site.objects.create(name=name, slug=slug)
        audit_record(actor=actor, action=AuditAction.SITE_CREATE, obj=site, site_id=site.pk)
    return site


def site_rename(*, actor: User, site: Site, name: str) -> Site:
    require_perm(actor=actor, perm="administer_site", obj=site, action=AuditAction.SITE_UPDATE)
    with transaction.atomic():
        site.name = name
        site.full_clean()
        site.save(update_fields=["name"])
        audit_record(actor=actor, action=AuditAction.SITE_UPDATE, obj=site, site_id=site.pk)
    return site


def site_register_gateway_key(*, actor: User, site: Site, public_key: str) -> Site:
    """The custodian registers the key that ``python -m site_gateway enroll`` printed at the site."""
    require_perm(
        actor=actor, perm="administer_site", obj=site, action=AuditAction.SITE_KEY_REGISTER
    )
    with transaction.atomic():
        site.gateway_public_key = public_key.strip()
        site.enrolled_at = timezone.now()
        site.full_clean()
        site.save(update_fields=["gateway_public_key", "enrolled_at"])
        audit_record(actor=actor, action=AuditAction.SITE_KEY_REGISTER, obj=site, site_id=site.pk)
    return site


def site_custodian_grant(*, actor: User, site: Site, user: User) -> None:
    require_admin(actor=actor, action=AuditAction.SITE_PERMISSION_GRANT, obj=site)
    _require_role(user, Role.SITE_CUSTODIAN, "a site custodian")
    with transaction.atomic():
        assign_perm("annotations.administer_site", user, site)
        assign_perm("annotations.view_site", user, site)
        audit_record(
            actor=actor, action=AuditAction.SITE_PERMISSION_GRANT, obj=site, site_id=site.pk,
            detail={"user": user.pk, "permission": "administer_site"},
        )  # fmt: skip


def site_custodian_revoke(*, actor: User, site: Site, user: User) -> None:
    require_admin(actor=actor, action=AuditAction.SITE_PERMISSION_REVOKE, obj=site)
    with transaction.atomic():
        remove_perm("annotations.administer_site", user, site)
        remove_perm("annotations.view_site", user, site)
        audit_record(
            actor=actor, action=AuditAction.SITE_PERMISSION_REVOKE, obj=site, site_id=site.pk,
            detail={"user": user.pk, "permission": "administer_site"},
        )  # fmt: skip


def site_delete(*, actor: User, site: Site) -> None:
    require_admin(actor=actor, action=AuditAction.SITE_DELETE, obj=site)
    with transaction.atomic():
        if site.tasks.exists():
            raise ConflictError("The site still has tasks.")
        audit_record(actor=actor, action=AuditAction.SITE_DELETE, obj=site, site_id=site.pk)
        site.delete()
