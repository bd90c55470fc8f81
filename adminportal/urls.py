"""The Admin Portal's pages, ``/admin-portal/``: for the admin role only (every view is
``role_required(ADMIN)``; the authorization matrix checks each route)."""

from django.urls import path

from adminportal import views

app_name = "adminportal"

urlpatterns = [
    path("", views.index, name="index"),
]
