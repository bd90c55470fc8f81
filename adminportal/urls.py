"""The Admin Portal's pages, ``/admin-portal/``: for the admin role only (every view is
``role_required(ADMIN)``; the authorization matrix checks each route)."""

from django.urls import path

from adminportal import site_settings, tasks, views

app_name = "adminportal"

urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/<uuid:reference_id>/decide", tasks.task_decide, name="task-decide"),
    path("settings/", site_settings.settings_page, name="settings"),
    path("settings/save", site_settings.settings_save, name="settings-save"),
]
