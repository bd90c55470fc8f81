"""Dev Portal REST v3, under ``/api/am/devportal/v3/`` (the pages are ``urls.py``)."""

from django.urls import path

from devportal import apis, community, document_apis, publisher_apis

urlpatterns = [
    path("apis", apis.CatalogListApi.as_view()),
    path("apis/<uuid:api_id>", apis.CatalogDetailApi.as_view()),
    path("apis/<uuid:api_id>/topics", apis.CatalogTopicsApi.as_view()),
    path("apis/<uuid:api_id>/documents", document_apis.CatalogDocumentListApi.as_view()),
    path("apis/<uuid:api_id>/documents/<uuid:document_id>", document_apis.CatalogDocumentDetailApi.as_view()),
    path("apis/<uuid:api_id>/documents/<uuid:document_id>/content", document_apis.CatalogDocumentContentApi.as_view()),
    path("apis/<uuid:api_id>/thumbnail", document_apis.CatalogThumbnailApi.as_view()),
    path("apis/<uuid:api_id>/ratings", community.ApiRatingListApi.as_view()),
    path("apis/<uuid:api_id>/user-rating", community.ApiUserRatingApi.as_view()),
    path("apis/<uuid:api_id>/comments", community.ApiCommentListApi.as_view()),
    path("apis/<uuid:api_id>/comments/<uuid:comment_id>", community.ApiCommentDetailApi.as_view()),
    path("api-categories", apis.CatalogCategoryListApi.as_view()),
    path("applications", apis.ApplicationListCreateApi.as_view()),
    path("applications/<uuid:application_id>", apis.ApplicationDetailApi.as_view()),
    path("applications/<uuid:application_id>/generate-keys", apis.ApplicationGenerateKeysApi.as_view()),
    path("applications/<uuid:application_id>/oauth-keys", apis.ApplicationOAuthKeysApi.as_view()),
    path(
        "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/generate-token",
        apis.ApplicationGenerateTokenApi.as_view(),
    ),
    path(
        "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/regenerate-secret",
        apis.ApplicationRegenerateSecretApi.as_view(),
    ),
    path(
        "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/clean-up",
        apis.ApplicationKeyCleanUpApi.as_view(),
    ),
    path(
        "applications/<uuid:application_id>/api-keys/<str:key_type>/generate",
        apis.ApplicationApiKeyGenerateApi.as_view(),
    ),
    path(
        "applications/<uuid:application_id>/api-keys/<str:key_type>/revoke",
        apis.ApplicationApiKeyRevokeApi.as_view(),
    ),
    path("subscriptions", apis.SubscriptionListCreateApi.as_view()),
    path("subscriptions/<uuid:subscription_id>", apis.SubscriptionDetailApi.as_view()),
    path("throttling-policies/<str:policy_level>", apis.ThrottlingPoliciesApi.as_view()),
]

# Mounted under the Publisher REST's prefix (tidegate/urls.py).
publisher_urlpatterns = [
    path("subscriptions", publisher_apis.SubscriptionListApi.as_view()),
    path("subscriptions/block-subscription", publisher_apis.SubscriptionBlockApi.as_view()),
    path("subscriptions/unblock-subscription", publisher_apis.SubscriptionUnblockApi.as_view()),
]
