from django.urls import path

from analytics import views as analytics_views
from publisher import views

urlpatterns = [
    path("", views.index, name="index"),
    path("apis/create", views.create, name="create"),
    path("apis/import", views.import_asyncapi, name="import"),
    path("apis/import-project", views.import_project, name="import-project"),
    path("apis/<str:api_id>", views.detail, name="detail"),
    path("apis/<str:api_id>/analytics", analytics_views.api_analytics, name="analytics"),
]
