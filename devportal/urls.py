"""The Dev Portal's pages, under ``/devportal/`` (its REST API is ``api_urls.py``)."""

from django.urls import path

from devportal import views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/<uuid:api_id>", views.api_detail, name="api"),
    path("apis/<uuid:api_id>/documentation", views.api_documentation, name="api-documentation"),
    path("applications", views.applications, name="applications"),
    path("applications/<uuid:application_id>", views.application_detail, name="application"),
    path("subscriptions/<uuid:subscription_id>", views.subscription_action, name="subscription"),
]
