"""Analytics over the Publisher REST, mounted under ``/api/am/publisher/v4/`` (tidegate/urls.py)."""

from django.urls import path

from analytics import apis

urlpatterns = [
    path("apis/<uuid:api_id>/analytics", apis.ApiAnalyticsApi.as_view()),
    path("apis/<uuid:api_id>/connections", apis.ApiConnectionsApi.as_view()),
    path("apis/<uuid:api_id>/connections/<str:connection_id>/disconnect", apis.ApiConnectionDisconnectApi.as_view()),
]
