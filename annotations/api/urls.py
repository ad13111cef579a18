from __future__ import annotations

from django.urls import path

from annotations.api import audit, auth, lead, projects, sessions, sites, tasks, users

urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="api-auth-token"),
    path("audit/events/", audit.AuditEventListApi.as_view(), name="api-audit-events"),
    path("selection-reasons/", lead.SelectionReasonListApi.as_view(), name="api-selection-reasons"),
    path(
        "projects/<str:project_id>/sites/<str:site_id>/series/",
        lead.series_browse_api,
        name="api-project-site-series",
    ),
    path(
        "projects/<str:project_id>/sites/<str:site_id>/series/<str:series_handle>/thumbnail",
        lead.series_thumbnail_api,
        name="api-project-site-series-thumbnail",
    ),
    path(
        "projects/<str:project_id>/progress/labels/",
        lead.label_progress_api,
        name="api-project-label-progress",
    ),
    path(
        "projects/<str:project_id>/agreement/",
        lead.reader_agreement_api,
        name="api-project-agreement",
    ),
    path(
        "projects/<str:project_id>/selections/",
        lead.SelectionListCreateApi.as_view(),
        name="api-project-selections",
    ),
    path(
        "projects/<str:project_id>/selections/<str:selection_id>/",
        lead.SelectionDetailApi.as_view(),
        name="api-project-selection",
    ),
    path(
        "projects/<str:project_id>/withdrawals/",
        lead.WithdrawalListApi.as_view(),
        name="api-project-withdrawals",
    ),
    path(
        "projects/<str:project_id>/tasks/bulk/",
        lead.TaskBulkCreateApi.as_view(),
        name="api-project-tasks-bulk",
    ),
    path(
        "projects/<str:project_id>/progress/",
        lead.ProjectProgressApi.as_view(),
        name="api-project-progress",
    ),
    path("me/", users.MeApi.as_view(), name="api-me"),
    path("me/preferences/", users.MePreferencesApi.as_view(), name="api-me-preferences"),
    path("users/", users.UserListCreateApi.as_view(), name="api-users"),
    path("users/<str:user_id>/roles/", users.UserRolesApi.as_view(), name="api-user-roles"),
    path(
        "users/<str:user_id>/deactivate/",
        users.UserDeactivateApi.as_view(),
        name="api-user-deactivate",
    ),
    path(
        "users/<str:user_id>/reactivate/",
        users.UserReactivateApi.as_view(),
        name="api-user-reactivate",
    ),
    path("sites/", sites.SiteListCreateApi.as_view(), name="api-sites"),
    path("sites/<str:site_id>/", sites.SiteDetailApi.as_view(), name="api-site"),
    path(
        "sites/<str:site_id>/gateway-key/", sites.SiteGatewayKeyApi.as_view(), name="api-site-key"
    ),
    path(
        "sites/<str:site_id>/custodians/",
        sites.SiteCustodianAddApi.as_view(),
        name="api-site-custodians",
    ),
    path(
        "sites/<str:site_id>/custodians/<str:user_id>/",
        sites.SiteCustodianRemoveApi.as_view(),
        name="api-site-custodian",
    ),
    path("projects/", projects.ProjectListCreateApi.as_view(), name="api-projects"),
    path("projects/<str:project_id>/", projects.ProjectDetailApi.as_view(), name="api-project"),
    path(
        "projects/<str:project_id>/leads/",
        projects.ProjectLeadAddApi.as_view(),
        name="api-project-leads",
    ),
    path(
        "projects/<str:project_id>/leads/<str:user_id>/",
        projects.ProjectLeadRemoveApi.as_view(),
        name="api-project-lead",
    ),
    path(
        "projects/<str:project_id>/members/",
        projects.ProjectMemberAddApi.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<str:project_id>/members/<str:user_id>/",
        projects.ProjectMemberRemoveApi.as_view(),
        name="api-project-member",
    ),
    path(
        "projects/<str:project_id>/sites/",
        projects.ProjectSiteAddApi.as_view(),
        name="api-project-sites",
    ),
    path(
        "projects/<str:project_id>/sites/<str:site_id>/",
        projects.ProjectSiteRemoveApi.as_view(),
        name="api-project-site",
    ),
    path(
        "projects/<str:project_id>/label-schemas/",
        projects.LabelSchemaListCreateApi.as_view(),
        name="api-project-schemas",
    ),
    path(
        "label-schemas/<str:schema_id>/", projects.LabelSchemaDetailApi.as_view(), name="api-schema"
    ),
    path("tasks/", tasks.TaskListCreateApi.as_view(), name="api-tasks"),
    path("tasks/<str:task_id>/", tasks.TaskDetailApi.as_view(), name="api-task"),
    path("tasks/<str:task_id>/assign/", tasks.TaskAssignApi.as_view(), name="api-task-assign"),
    path("tasks/<str:task_id>/status/", tasks.TaskStatusApi.as_view(), name="api-task-status"),
    path(
        "tasks/<str:task_id>/sessions/",
        sessions.TaskSessionOpenApi.as_view(),
        name="api-task-sessions",
    ),
    path("sessions/", sessions.SessionListApi.as_view(), name="api-sessions"),
    path("sessions/<str:session_id>/", sessions.SessionDetailApi.as_view(), name="api-session"),
    path(
        "sessions/<str:session_id>/renew/",
        sessions.SessionRenewApi.as_view(),
        name="api-session-renew",
    ),
    path(
        "sessions/<str:session_id>/close/",
        sessions.SessionCloseApi.as_view(),
        name="api-session-close",
    ),
    path(
        "sessions/<str:session_id>/revoke/",
        sessions.SessionRevokeApi.as_view(),
        name="api-session-revoke",
    ),
]
