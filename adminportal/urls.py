"""The Admin Portal's pages, ``/admin-portal/``: for the admin role only (every view is
``role_required(ADMIN)``; the authorization matrix checks each route). A section's page
answers GET; each of its forms posts to a URL of its own beside it."""

from django.urls import path

from adminportal import audit, categories, deny, environments, keymanagers, policies, site_settings, tasks, users, views

app_name = "adminportal"

urlpatterns = [
    path("", views.index, name="index"),
    # Rate-limiting policies (adminportal/policies.py)
    path("policies", policies.policies, name="policies"),
    path("policies/<str:level>/create", policies.policy_create_view, name="policy-create"),
    path("policies/<int:policy_id>", policies.policy_edit, name="policy-edit"),
    path("policies/<int:policy_id>/update", policies.policy_update_view, name="policy-update"),
    path("policies/<int:policy_id>/delete", policies.policy_delete_view, name="policy-delete"),
    # Gateway environments (adminportal/environments.py)
    path("environments", environments.environments, name="environments"),
    path("environments/create", environments.environment_create_view, name="environment-create"),
    path("environments/<int:environment_id>/delete", environments.environment_delete_view, name="environment-delete"),
    # Key managers (adminportal/keymanagers.py)
    path("key-managers", keymanagers.key_managers, name="key-managers"),
    path("key-managers/create", keymanagers.key_manager_create_view, name="key-manager-create"),
    path("key-managers/<int:issuer_id>/delete", keymanagers.key_manager_delete_view, name="key-manager-delete"),
    path("key-managers/<int:issuer_id>/test-jwks", keymanagers.key_manager_test_jwks, name="key-manager-test-jwks"),
    # Users and roles (adminportal/users.py)
    path("users", users.users, name="users"),
    path("users/<int:user_id>/deactivate", users.user_deactivate_view, name="user-deactivate"),
    path("users/<int:user_id>/activate", users.user_activate_view, name="user-activate"),
    path("users/<int:user_id>/roles/grant", users.user_role_grant_view, name="user-role-grant"),
    path("users/<int:user_id>/roles/revoke", users.user_role_revoke_view, name="user-role-revoke"),
    # Audit log (adminportal/audit.py)
    path("audit", audit.audit, name="audit"),
    # Deny policies (adminportal/deny.py)
    path("deny-policies", deny.deny_policies, name="deny-policies"),
    path("deny-policies/add/<str:condition_type>", deny.deny_policy_add, name="deny-policy-add"),
    path("deny-policies/<uuid:condition_id>/enable", deny.deny_policy_enable, name="deny-policy-enable"),
    path("deny-policies/<uuid:condition_id>/disable", deny.deny_policy_disable, name="deny-policy-disable"),
    path("deny-policies/<uuid:condition_id>/delete", deny.deny_policy_remove, name="deny-policy-delete"),
    # API categories (adminportal/categories.py)
    path("api-categories", categories.categories, name="categories"),
    path("api-categories/create", categories.category_create_view, name="category-create"),
    path("api-categories/<uuid:category_id>/update", categories.category_update_view, name="category-update"),
    path("api-categories/<uuid:category_id>/delete", categories.category_delete_view, name="category-delete"),
    # Approval workflows and settings (adminportal/tasks.py, site_settings.py)
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/<uuid:reference_id>/decide", tasks.task_decide, name="task-decide"),
    path("settings/", site_settings.settings_page, name="settings"),
    path("settings/save", site_settings.settings_save, name="settings-save"),
]
