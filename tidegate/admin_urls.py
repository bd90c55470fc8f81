"""Admin REST v4, under ``/api/am/admin/v4/`` (mounted by ``urls.py``, the project's root URLconf)."""

from django.urls import path

from devportal import workflow_apis
from keymanager import apis as keymanager_apis
from publisher import categories, deny_policies, environments, policies
from tidegate import user_apis

urlpatterns = [
    path("throttling/policies/<str:level>", policies.PolicyListCreateApi.as_view()),
    path("throttling/policies/<str:level>/<int:policy_id>", policies.PolicyDetailApi.as_view()),
    # WSO2 writes the collection plural and one condition singular.
    path("throttling/deny-policies", deny_policies.DenyPolicyListCreateApi.as_view()),
    path("throttling/deny-policy/<uuid:condition_id>", deny_policies.DenyPolicyDetailApi.as_view()),
    path("environments", environments.EnvironmentListCreateApi.as_view()),
    path("environments/<int:environment_id>", environments.EnvironmentDetailApi.as_view()),
    path("key-managers", keymanager_apis.KeyManagerListCreateApi.as_view()),
    path("key-managers/<int:issuer_id>", keymanager_apis.KeyManagerDetailApi.as_view()),
    path("users/<str:username>/deactivate", user_apis.UserDeactivateApi.as_view()),
    path("users/<str:username>/activate", user_apis.UserActivateApi.as_view()),
    path("api-categories", categories.CategoryListCreateApi.as_view()),
    path("api-categories/<uuid:category_id>", categories.CategoryDetailApi.as_view()),
    path("workflows", workflow_apis.WorkflowListApi.as_view()),
    path("workflows/update-workflow-status", workflow_apis.WorkflowUpdateStatusApi.as_view()),
    path("workflows/<uuid:reference_id>", workflow_apis.WorkflowDetailApi.as_view()),
]
