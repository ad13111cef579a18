"""Object permissions die with their object: a new object reusing a primary key inherits nothing."""

from __future__ import annotations

from annotations.models import Project, TaskUserObjectPermission
from annotations.services.projects import project_create, project_delete
from annotations.services.tasks import task_delete


def test_deleted_then_recreated_project_inherits_no_permissions(world, api) -> None:
    spare = project_create(actor=world.admin, name="Spare", slug="spare")
    from annotations.services.projects import project_lead_add

    project_lead_add(actor=world.admin, project=spare, user=world.lead)
    pk = spare.pk
    assert world.lead.has_perm("annotations.manage_project", spare)
    project_delete(actor=world.admin, project=spare)
    reborn = Project.objects.create(pk=pk, name="Reborn", slug="reborn")
    lead = type(world.lead).objects.get(pk=world.lead.pk)  # fresh object: no permission cache
    assert not lead.has_perm("annotations.manage_project", reborn)
    assert api(lead).get(f"/api/projects/{pk}/").status_code == 404


def test_deleting_a_task_removes_its_rows_from_the_permission_table(world) -> None:
    assert TaskUserObjectPermission.objects.filter(content_object=world.task).exists()
    task_pk = world.task.pk
    task_delete(actor=world.lead, task=world.task)
    assert not TaskUserObjectPermission.objects.filter(content_object_id=task_pk).exists()


def test_task_permissions_use_the_direct_foreign_key_table(world) -> None:
    """Not guardian's generic table: direct rows are joined by a real, indexed foreign key."""
    from guardian.models import UserObjectPermission

    assert TaskUserObjectPermission.objects.filter(user=world.annotator).count() == 2
    assert not UserObjectPermission.objects.exists()
