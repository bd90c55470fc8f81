from django.urls import path

from publisher import policies

urlpatterns = [
    path("throttling/policies/<str:level>", policies.PolicyListCreateApi.as_view()),
    path("throttling/policies/<str:level>/<str:policy_id>", policies.PolicyDetailApi.as_view()),
]
