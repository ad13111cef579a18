"""/console/: the staff console (issue 9). Mounted by rhino_web/urls.py."""

from __future__ import annotations

from django.urls import path

from annotations.console import views

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
