"""The Admin Portal's pages, ``/admin-portal/``: for the admin role only (every view is
``role_required(ADMIN)``; the authorization matrix checks each route)."""

from django.urls import path

from adminportal import deny, site_settings, tasks, views

app_name = "adminportal"

urlpatterns = [
    path("", views.index, name="index"),
    path("deny-policies", deny.deny_policies, name="deny-policies"),
    path("deny-policies/add/<str:condition_type>", deny.deny_policy_add, name="deny-policy-add"),
    path("deny-policies/<uuid:condition_id>/enable", deny.deny_policy_enable, name="deny-policy-enable"),
    path("deny-policies/<uuid:condition_id>/disable", deny.deny_policy_disable, name="deny-policy-disable"),
    path("deny-policies/<uuid:condition_id>/delete", deny.deny_policy_remove, name="deny-policy-delete"),
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/<uuid:reference_id>/decide", tasks.task_decide, name="task-decide"),
    path("settings/", site_settings.settings_page, name="settings"),
    path("settings/save", site_settings.settings_save, name="settings-save"),
]
