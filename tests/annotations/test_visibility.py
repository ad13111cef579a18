"""List endpoints never show an object the user may not see, whatever the grants are."""

from __future__ import annotations

from typing import Any

import pytest
from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations.models import LabelSchema, Project, Site, Task, User
from tests.annotations.conftest import series_handle

N_PROJECTS, N_SITES, N_TASKS = 3, 3, 4
PROJECT_PERMS = [
    "view_project",
    "manage_project",
    "change_project",
]  # change_: irrelevant, must not leak
SITE_PERMS = ["view_site", "administer_site", "change_site"]
TASK_PERMS = ["view_task", "annotate_task", "review_task", "change_task"]

grants = st.fixed_dictionaries(
    {
        "projects": st.lists(
            st.tuples(st.integers(0, N_PROJECTS - 1), st.sampled_from(PROJECT_PERMS)), max_size=4
        ),
        "sites": st.lists(
            st.tuples(st.integers(0, N_SITES - 1), st.sampled_from(SITE_PERMS)), max_size=4
        ),
        "tasks": st.lists(
            st.tuples(st.integers(0, N_TASKS - 1), st.sampled_from(TASK_PERMS)), max_size=4
        ),
    }
)


def _build() -> tuple[list[Project], list[Site], list[Task]]:
    sites = [Site.objects.create(name=f"S{i}", slug=f"s{i}") for i in range(N_SITES)]
    projects = [Project.objects.create(name=f"P{i}", slug=f"p{i}") for i in range(N_PROJECTS)]
    tasks = []
    for i, project in enumerate(projects):
        project.sites.add(sites[i])
        schema = LabelSchema.objects.create(project=project, version=1)
        if i < N_TASKS:
            tasks.append(
                Task.objects.create(
                    project=project,
                    site=sites[i],
                    series_handle=series_handle(),
                    label_schema=schema,
                )
            )
    tasks.append(
        Task.objects.create(
            project=projects[0],
            site=sites[0],
            series_handle=series_handle(),
            label_schema=projects[0].label_schemas.get(),
        )
    )
    return projects, sites, tasks


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(matrix=grants)
def test_lists_show_exactly_what_the_grants_allow(matrix: dict[str, Any], api) -> None:
    from django.db import transaction

    with transaction.atomic():
        projects, sites, tasks = _build()
        user = User.objects.create_user(username="probe")
        for index, perm in matrix["projects"]:
            assign_perm(f"annotations.{perm}", user, projects[index])
        for index, perm in matrix["sites"]:
            assign_perm(f"annotations.{perm}", user, sites[index])
        for index, perm in matrix["tasks"]:
            assign_perm(f"annotations.{perm}", user, tasks[index])

        visible_projects = {
            projects[i].pk for i, p in matrix["projects"] if p in {"view_project", "manage_project"}
        }
        managed = {projects[i].pk for i, p in matrix["projects"] if p == "manage_project"}
        visible_sites = {
            sites[i].pk for i, p in matrix["sites"] if p in {"view_site", "administer_site"}
        }
        visible_sites |= set(
            Site.objects.filter(projects__in=visible_projects).values_list("pk", flat=True)
        )
        visible_tasks = {tasks[i].pk for i, p in matrix["tasks"] if p != "change_task"}
        visible_tasks |= {t.pk for t in tasks if t.project_id in managed}

        client = api(user)
        assert {p["id"] for p in client.get("/api/projects/").json()} == visible_projects
        assert {s["id"] for s in client.get("/api/sites/").json()} == visible_sites
        assert {
            t["id"] for t in client.get("/api/tasks/?page_size=200").json()["results"]
        } == visible_tasks
        for task in tasks:
            status = client.get(f"/api/tasks/{task.pk}/").status_code
            assert status == (200 if task.pk in visible_tasks else 404)
        transaction.set_rollback(True)
