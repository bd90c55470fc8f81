from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from analytics.apis import ingest_view
from gateway_sync.apis import snapshot_view
from gateway_sync.snapshot import SNAPSHOT_PATH
from keymanager.views import introspect_view, jwks_view, revoke_view, token_view
from portal import views
from portal.metrics import metrics_view

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("publisher/", include(("publisher.urls", "publisher"))),
    path("devportal/", include(("devportal.urls", "devportal"))),
    path("api/am/publisher/v4/", include("publisher.api_urls")),
    path("api/am/devportal/v3/", include("devportal.api_urls")),
    path("api/am/admin/v4/", include("portal.api_urls")),
    path("api/openapi.yaml", SpectacularAPIView.as_view(), name="openapi"),
    path("oauth2/token", token_view, name="oauth2-token"),
    path("oauth2/revoke", revoke_view, name="oauth2-revoke"),
    path("oauth2/introspect", introspect_view, name="oauth2-introspect"),
    path("oauth2/jwks", jwks_view, name="oauth2-jwks"),
    path(SNAPSHOT_PATH.lstrip("/"), snapshot_view, name="gateway-snapshot"),  # also answered in portal/asgi.py
    path("internal/gateway/analytics", ingest_view, name="gateway-analytics"),
]
