"""The Publisher's pages, under ``/publisher/`` (its REST API is ``api_urls.py``)."""

from django.urls import path

from analytics import views as analytics_views
from publisher import design_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/create", views.create, name="create"),
    path("apis/import", views.import_asyncapi, name="import"),
    path("apis/import-project", views.import_project, name="import-project"),
    path("apis/<uuid:api_id>", views.detail, name="detail"),
    path("audit", design_views.audit, name="audit"),
    path("apis/<uuid:api_id>/topics", design_views.topics, name="topics"),
    path("apis/<uuid:api_id>/scopes", design_views.scopes, name="scopes"),
    path("apis/<uuid:api_id>/endpoints", design_views.endpoints, name="endpoints"),
    path("apis/<uuid:api_id>/plans", design_views.plans, name="plans"),
    path("apis/<uuid:api_id>/definition", design_views.definition, name="definition"),
    path("apis/<uuid:api_id>/revisions/diff", design_views.revision_diff, name="revision-diff"),
    path("apis/<uuid:api_id>/subscriptions", design_views.subscriptions, name="subscriptions"),
    path("apis/<uuid:api_id>/analytics", analytics_views.api_analytics, name="analytics"),
]
