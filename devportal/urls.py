"""The Dev Portal's pages, under ``/devportal/`` (its REST API is ``api_urls.py``)."""

from django.urls import path

from devportal import community_views, document_views, publisher_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/<uuid:api_id>", views.api_detail, name="api"),
    path("apis/<uuid:api_id>/documentation", views.api_documentation, name="api-documentation"),
    path("apis/<uuid:api_id>/documents/<uuid:document_id>", document_views.document, name="api-document"),
    path("applications", views.applications, name="applications"),
    path("applications/<uuid:application_id>", views.application_detail, name="application"),
    path("applications/<uuid:application_id>/update", views.application_update, name="application-update"),
    path("applications/<uuid:application_id>/delete", views.application_delete, name="application-delete"),
    path(
        "applications/<uuid:application_id>/keys/generate",
        views.application_keys_generate,
        name="application-keys-generate",
    ),
    path(
        "applications/<uuid:application_id>/keys/regenerate-secret",
        views.application_secret_regenerate,
        name="application-secret-regenerate",
    ),
    path(
        "applications/<uuid:application_id>/keys/remove", views.application_keys_remove, name="application-keys-remove"
    ),
    path(
        "applications/<uuid:application_id>/tokens/generate",
        views.application_token_generate,
        name="application-token-generate",
    ),
    path(
        "applications/<uuid:application_id>/api-keys/generate",
        views.application_api_key_generate,
        name="application-api-key-generate",
    ),
    path(
        "applications/<uuid:application_id>/api-keys/revoke",
        views.application_api_key_revoke,
        name="application-api-key-revoke",
    ),
    path(
        "applications/<uuid:application_id>/tokens/revoke",
        views.application_token_revoke,
        name="application-token-revoke",
    ),
]

# Mounted among the Publisher's pages, in its namespace (tidegate/urls.py).
publisher_urlpatterns = [
    path("apis/<uuid:api_id>/subscriptions", publisher_views.subscriptions, name="subscriptions"),
]

# One view per form of the pages above (POST only): the API page's Subscribe and GET TEST
# KEY, the application page's subscription rows, the Publisher's Subscriptions tab.
urlpatterns += [
    path("apis/<uuid:api_id>/subscribe", views.api_subscribe, name="api-subscribe"),
    path("apis/<uuid:api_id>/test-key", views.api_test_key, name="api-test-key"),
    path("subscriptions/<uuid:subscription_id>/plan", views.subscription_plan_change, name="subscription-plan"),
    path(
        "subscriptions/<uuid:subscription_id>/unsubscribe",
        views.subscription_unsubscribe,
        name="subscription-unsubscribe",
    ),
]
# The API page's Ratings and comments section (devportal/community_views.py).
urlpatterns += [
    path("apis/<uuid:api_id>/rate", community_views.api_rate, name="api-rate"),
    path("apis/<uuid:api_id>/rating/remove", community_views.api_rating_remove, name="api-rating-remove"),
    path("apis/<uuid:api_id>/comments", community_views.api_comment, name="api-comment"),
    path("apis/<uuid:api_id>/comments/<uuid:comment_id>/edit", community_views.comment_edit, name="api-comment-edit"),
    path(
        "apis/<uuid:api_id>/comments/<uuid:comment_id>/delete",
        community_views.comment_remove,
        name="api-comment-delete",
    ),
]
publisher_urlpatterns += [
    path("apis/<uuid:api_id>/subscriptions/block", publisher_views.subscription_block, name="subscription-block"),
]
