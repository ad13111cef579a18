"""/console/: the staff console (issue 9). Mounted by rhino_web/urls.py."""

from __future__ import annotations

from django.urls import path

from annotations.console import manage, projects, views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("audit/", views.audit_log, {"view": "audit"}, name="audit"),
    path("grants/", views.audit_log, {"view": "grants"}, name="grants"),
    path("alerts/", views.audit_log, {"view": "alerts"}, name="alerts"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("sessions/", views.sessions, name="sessions"),
    path("gateways/", views.gateways, name="gateways"),
    path("site-access/", views.site_access, name="site-access"),
    path("users/", manage.users, name="users"),
    path("users/new/", manage.user_create, name="user-create"),
    path("users/<str:user_id>/", manage.user_detail, name="user"),
    path("users/<str:user_id>/roles/", manage.user_roles, name="user-roles"),
    path("users/<str:user_id>/password/", manage.user_password, name="user-password"),
    path("users/<str:user_id>/active/", manage.user_active, name="user-active"),
    path("sites/", manage.sites, name="sites"),
    path("sites/new/", manage.site_create, name="site-create"),
    path("sites/<str:site_id>/", manage.site_detail, name="site"),
    path("sites/<str:site_id>/rename/", manage.site_rename, name="site-rename"),
    path("sites/<str:site_id>/key/", manage.site_key, name="site-key"),
    path("sites/<str:site_id>/custodians/", manage.site_custodians, name="site-custodians"),
    path("projects/", projects.projects, name="projects"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<str:project_id>/", projects.project_detail, name="project"),
    path("projects/<str:project_id>/update/", projects.project_update, name="project-update"),
    path("projects/<str:project_id>/leads/", projects.project_leads, name="project-leads"),
    path("projects/<str:project_id>/members/", projects.project_members, name="project-members"),
    path("projects/<str:project_id>/sites/", projects.project_sites, name="project-sites"),
]
for _view in ("audit", "grants", "alerts"):
    urlpatterns += [
        path(
            f"{_view}/export.csv",
            views.audit_export,
            {"view": _view, "kind": "csv"},
            name=f"{_view}-export-csv",
        ),
        path(
            f"{_view}/export.xml",
            views.audit_export,
            {"view": _view, "kind": "dicom"},
            name=f"{_view}-export-dicom",
        ),
    ]
