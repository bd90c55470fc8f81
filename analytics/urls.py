"""The Publisher's Analytics tab, mounted among its pages in the ``publisher`` namespace
(tidegate/urls.py)."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("apis/<uuid:api_id>/analytics", views.api_analytics, name="analytics"),
    # The page's form (POST only; it redirects back to the page).
    path("apis/<uuid:api_id>/analytics/disconnect", views.connection_disconnect, name="analytics-disconnect"),
]
