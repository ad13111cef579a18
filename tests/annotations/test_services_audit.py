"""Every state-changing service writes exactly one audit event, with the right actor and object;
a refused attempt writes one failure event and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from annotations.audit_actions import AuditAction
from annotations.errors import PermissionDeniedError
from annotations.models import AuditEvent, AuditOutcome, Project, Site, Task, User
from annotations.services import projects, selections, sites, tasks, tokens, users
from tests.annotations.conftest import SCHEMA_ENTRIES, World, series_handle
from tests.annotations.lead.conftest import bare_selection, study_handle

Call = Callable[[World], Any]


def _inactive(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=False)
    return user


SERVICES: list[tuple[str, AuditAction, str, Call]] = [
    ("site_create", AuditAction.SITE_CREATE, "admin", lambda w: sites.site_create(actor=w.admin, name="X", slug="x")),
    ("site_rename", AuditAction.SITE_UPDATE, "custodian", lambda w: sites.site_rename(actor=w.custodian, site=w.site, name="Y")),
    ("site_register_gateway_key", AuditAction.SITE_KEY_REGISTER, "custodian",
     lambda w: sites.site_register_gateway_key(actor=w.custodian, site=w.site, public_key="B" * 43 + "=")),
    ("site_custodian_grant", AuditAction.SITE_PERMISSION_GRANT, "admin",
     lambda w: sites.site_custodian_grant(actor=w.admin, site=w.other_site, user=w.custodian)),
    ("site_custodian_revoke", AuditAction.SITE_PERMISSION_REVOKE, "admin",
     lambda w: sites.site_custodian_revoke(actor=w.admin, site=w.site, user=w.custodian)),
    ("site_delete", AuditAction.SITE_DELETE, "admin",
     lambda w: sites.site_delete(actor=w.admin, site=Site.objects.create(name="Z", slug="z"))),
    ("project_create", AuditAction.PROJECT_CREATE, "admin", lambda w: projects.project_create(actor=w.admin, name="N", slug="n")),
    ("project_update", AuditAction.PROJECT_UPDATE, "lead",
     lambda w: projects.project_update(actor=w.lead, project=w.project, changes={"description": "d"})),
    ("project_delete", AuditAction.PROJECT_DELETE, "admin",
     lambda w: projects.project_delete(actor=w.admin, project=Project.objects.create(name="E", slug="e"))),
    ("project_lead_add", AuditAction.PROJECT_LEAD_ADD, "admin",
     lambda w: projects.project_lead_add(actor=w.admin, project=w.other_project, user=w.lead)),
    ("project_lead_remove", AuditAction.PROJECT_LEAD_REMOVE, "admin",
     lambda w: projects.project_lead_remove(actor=w.admin, project=w.project, user=w.lead)),
    ("project_member_add", AuditAction.PROJECT_MEMBER_ADD, "lead",
     lambda w: projects.project_member_add(actor=w.lead, project=w.project, user=w.outsider)),
    ("project_member_remove", AuditAction.PROJECT_MEMBER_REMOVE, "lead",
     lambda w: projects.project_member_remove(actor=w.lead, project=w.project, user=w.other_annotator)),
    ("project_site_add", AuditAction.PROJECT_SITE_ADD, "admin",
     lambda w: projects.project_site_add(actor=w.admin, project=w.project, site=w.other_site)),
    ("project_site_remove", AuditAction.PROJECT_SITE_REMOVE, "admin",
     lambda w: projects.project_site_remove(actor=w.admin, project=w.other_project, site=w.site)),
    ("label_schema_create", AuditAction.SCHEMA_CREATE, "lead",
     lambda w: projects.label_schema_create(actor=w.lead, project=w.project, entries=SCHEMA_ENTRIES)),
    ("task_create", AuditAction.TASK_CREATE, "lead",
     lambda w: tasks.task_create(actor=w.lead, project=w.project, site=w.site, series_handle=series_handle(),
                                 label_schema=w.schema)),
    ("task_assign", AuditAction.TASK_ASSIGN, "lead",
     lambda w: tasks.task_assign(actor=w.lead, task=w.task, assignee=w.other_annotator)),
    ("task_change_status", AuditAction.TASK_STATUS_CHANGE, "annotator",
     lambda w: tasks.task_change_status(actor=w.annotator, task=w.task, status="in_progress")),
    ("task_delete", AuditAction.TASK_DELETE, "lead", lambda w: tasks.task_delete(actor=w.lead, task=w.task)),
    ("user_set_roles", AuditAction.USER_ROLES_CHANGE, "admin",
     lambda w: users.user_set_roles(actor=w.admin, user=w.outsider, roles=["annotator", "auditor"])),
    ("user_create", AuditAction.USER_CREATE, "admin",
     lambda w: users.user_create(actor=w.admin, username="new", password="a long enough passphrase 7")),
    ("user_set_password", AuditAction.USER_PASSWORD_SET, "admin",
     lambda w: users.user_set_password(actor=w.admin, user=w.lead, password="a long enough passphrase 7")),
    # No live session here; with one, each is revoked with its own session.revoke event.
    ("user_deactivate", AuditAction.USER_DEACTIVATE, "admin",
     lambda w: users.user_deactivate(actor=w.admin, user=w.outsider, reason="left")),
    ("user_reactivate", AuditAction.USER_REACTIVATE, "admin",
     lambda w: users.user_reactivate(actor=w.admin, user=_inactive(w.outsider))),
    ("user_update_preferences", AuditAction.USER_PREFERENCES_UPDATE, "annotator",
     lambda w: users.user_update_preferences(actor=w.annotator, preferences={"shortcuts": {"rectangle": "q"}})),
    ("selection_record", AuditAction.SELECTION_RECORD, "lead",
     lambda w: selections.selection_record(actor=w.lead, project=w.project, site=w.site,
                                           study_handle=study_handle(), series_handle=series_handle(),
                                           decision="include", reason="for_annotation")),
    ("selection_withdraw", AuditAction.SELECTION_WITHDRAW, "lead",
     lambda w: selections.selection_withdraw(actor=w.lead, selection=bare_selection(w))),
    ("token_issue", AuditAction.USER_TOKEN_ISSUE, "annotator",
     lambda w: tokens.token_issue(username="annotator", password="correct horse battery staple")),
]  # fmt: skip

# Services that change several things at once write the events of each change (tested in
# tests/annotations/lead/test_bulk_tasks.py), so they cannot be "exactly one event".
MULTI_EVENT_SERVICES = {"tasks_create_from_selections"}


@pytest.mark.parametrize(
    ("name", "action", "actor", "call"), SERVICES, ids=[s[0] for s in SERVICES]
)
def test_service_writes_exactly_one_event(
    name: str, action: AuditAction, actor: str, call: Call, world: World
) -> None:
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    call(world)
    new = list(AuditEvent.objects.filter(seq__gt=before))
    assert len(new) == 1, [e.action for e in new]
    event = new[0]
    assert event.action == action
    assert event.actor_id == getattr(world, actor).pk
    assert event.outcome == AuditOutcome.SUCCESS
    assert event.object_type and event.object_id


def test_every_service_module_function_is_covered() -> None:
    """A new state-changing service must be added to SERVICES above."""
    covered = {name for name, *_ in SERVICES} | MULTI_EVENT_SERVICES
    public = {
        name
        for module in (projects, selections, sites, tasks, tokens, users)
        for name in dir(module)
        if callable(getattr(module, name))
        and not isinstance(getattr(module, name), type)  # result classes such as BulkResult
        and getattr(getattr(module, name), "__module__", "") == module.__name__
        and not name.startswith("_")
        and not name.startswith("user_record_")  # sign-in events: covered in test_pages
    }
    assert public == covered


def test_refused_attempt_is_one_failure_event_and_changes_nothing(world: World) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDeniedError):
        tasks.task_assign(actor=world.annotator, task=world.task, assignee=world.other_annotator)
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [(e.action, e.outcome, e.actor_id) for e in events] == [
        (AuditAction.ACCESS_DENIED, AuditOutcome.MINOR_FAILURE, world.annotator.pk)
    ]
    assert events[0].detail["attempted"] == AuditAction.TASK_ASSIGN
    assert Task.objects.get(pk=world.task.pk).assignee_id == world.annotator.pk
