from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotations import viewer_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/<int:task_id>/view/", viewer_views.viewer, name="viewer"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/sites", views.healthz_sites, name="healthz-sites"),
    path("admin/", admin.site.urls),
    path("api/", include("annotations.api.urls")),
    path("console/", include("annotations.console.urls")),
    path("lead/", include("annotations.lead.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
