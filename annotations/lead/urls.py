"""/lead/: the project lead's workspace pages (issue 8). Mounted by rhino_web/urls.py."""

from __future__ import annotations

from django.urls import path

from annotations.lead import views

app_name = "lead"

urlpatterns = [
    path("", views.index, name="index"),
    path("projects/<int:project_id>/", views.project_dashboard, name="project"),
]
