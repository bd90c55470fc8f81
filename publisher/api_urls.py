"""The Publisher REST, ``/api/am/publisher/v4/`` (its pages are ``urls.py``). Its
subscription and analytics resources belong to the apps above (devportal/api_urls.py,
analytics/api_urls.py); tidegate/urls.py mounts them beside these."""

from django.urls import path

from publisher import apis, document_apis

urlpatterns = [
    path("apis", apis.ApiListCreateApi.as_view()),
    path("apis/import-asyncapi", apis.ApiImportAsyncApiApi.as_view()),
    path("apis/validate-asyncapi", apis.ApiValidateAsyncApiApi.as_view()),
    path("apis/validate-endpoint", apis.ValidateEndpointApi.as_view()),
    path("apis/change-lifecycle", apis.ApiChangeLifecycleApi.as_view()),
    path("apis/export", apis.ApiExportApi.as_view()),
    path("apis/import", apis.ApiImportApi.as_view()),
    path("apis/<uuid:api_id>", apis.ApiDetailApi.as_view()),
    path("apis/<uuid:api_id>/asyncapi", apis.ApiAsyncApiDefinitionApi.as_view()),
    path("apis/<uuid:api_id>/asyncapi/convert", apis.ApiAsyncApiConvertApi.as_view()),
    path("apis/<uuid:api_id>/revisions", apis.ApiRevisionListCreateApi.as_view()),
    path("apis/<uuid:api_id>/revisions/<uuid:revision_id>", apis.ApiRevisionDetailApi.as_view()),
    path("apis/<uuid:api_id>/restore-revision", apis.ApiRestoreRevisionApi.as_view()),
    path("apis/<uuid:api_id>/generate-key", apis.ApiGenerateKeyApi.as_view()),
    path("apis/<uuid:api_id>/deploy-revision", apis.ApiDeployRevisionApi.as_view()),
    path("apis/<uuid:api_id>/undeploy-revision", apis.ApiUndeployRevisionApi.as_view()),
    path("apis/<uuid:api_id>/deployments", apis.ApiDeploymentListApi.as_view()),
    path("apis/<uuid:api_id>/lifecycle-history", apis.ApiLifecycleHistoryApi.as_view()),
    path("apis/<uuid:api_id>/documents", document_apis.ApiDocumentListCreateApi.as_view()),
    path("apis/<uuid:api_id>/documents/<uuid:document_id>", document_apis.ApiDocumentDetailApi.as_view()),
    path("apis/<uuid:api_id>/documents/<uuid:document_id>/content", document_apis.ApiDocumentContentApi.as_view()),
    path("apis/<uuid:api_id>/thumbnail", document_apis.ApiThumbnailApi.as_view()),
    path("throttling-policies/streaming/subscription", apis.StreamingSubscriptionPoliciesApi.as_view()),
    path("settings", apis.SettingsApi.as_view()),
]
