from django.urls import path

from devportal import publisher_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/<str:api_id>", views.api_detail, name="api"),
    path("apis/<str:api_id>/documentation", views.api_documentation, name="api-documentation"),
    path("applications", views.applications, name="applications"),
    path("applications/<str:application_id>", views.application_detail, name="application"),
    path("applications/<str:application_id>/update", views.application_update, name="application-update"),
    path("applications/<str:application_id>/delete", views.application_delete, name="application-delete"),
    path(
        "applications/<str:application_id>/keys/generate",
        views.application_keys_generate,
        name="application-keys-generate",
    ),
    path(
        "applications/<str:application_id>/keys/regenerate-secret",
        views.application_secret_regenerate,
        name="application-secret-regenerate",
    ),
    path(
        "applications/<str:application_id>/keys/remove", views.application_keys_remove, name="application-keys-remove"
    ),
    path(
        "applications/<str:application_id>/tokens/generate",
        views.application_token_generate,
        name="application-token-generate",
    ),
    path(
        "applications/<str:application_id>/tokens/revoke",
        views.application_token_revoke,
        name="application-token-revoke",
    ),
    path("subscriptions/<uuid:subscription_id>", views.subscription_action, name="subscription"),
]

# Mounted among the Publisher's pages, in its namespace (tidegate/urls.py).
publisher_urlpatterns = [
    path("apis/<str:api_id>/subscriptions", publisher_views.subscriptions, name="subscriptions"),
]
