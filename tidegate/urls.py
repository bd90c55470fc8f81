"""The portal's URLconf. Each app's URL modules are mounted here; the Publisher's REST and
pages also hold the resources of the apps above it (subscriptions from the Dev Portal,
analytics), which only this layer may put together."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

import analytics.api_urls
import analytics.urls
import devportal.api_urls
import devportal.urls
import publisher.api_urls
import publisher.urls
from analytics.apis import ingest_view
from gateway_contract.wire import SNAPSHOT_PATH
from keymanager.views import introspect_view, jwks_view, revoke_view, token_view
from portal.metrics import metrics_view
from tidegate import twofactor, views
from tidegate.snapshot.apis import snapshot_view

# Each app: urls.py for its pages, api_urls.py for its REST.
publisher_pages = publisher.urls.urlpatterns + devportal.urls.publisher_urlpatterns + analytics.urls.urlpatterns
publisher_rest = (
    publisher.api_urls.urlpatterns + devportal.api_urls.publisher_urlpatterns + analytics.api_urls.urlpatterns
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path(
        "login/",
        twofactor.SignInView.as_view(template_name="login.html", authentication_form=views.SignInForm),
        name="login",
    ),
    path("login/code", twofactor.sign_in_code, name="login-code"),
    path("account/two-factor/", twofactor.two_factor_page, name="two-factor"),
    path("account/two-factor/enrol", twofactor.two_factor_enrol, name="two-factor-enrol"),
    path(
        "account/two-factor/recovery-codes",
        twofactor.two_factor_recovery_regenerate,
        name="two-factor-recovery-codes",
    ),
    path("account/two-factor/remove", twofactor.two_factor_remove, name="two-factor-remove"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("publisher/", include((publisher_pages, "publisher"))),
    path("devportal/", include(("devportal.urls", "devportal"))),
    path("admin-portal/", include("adminportal.urls")),
    path("api/am/publisher/v4/", include(publisher_rest)),
    path("api/am/devportal/v3/", include("devportal.api_urls")),
    path("api/am/admin/v4/", include("tidegate.admin_urls")),
    path("api/openapi.yaml", SpectacularAPIView.as_view(), name="openapi"),
    path("oauth2/token", token_view, name="oauth2-token"),
    path("oauth2/revoke", revoke_view, name="oauth2-revoke"),
    path("oauth2/introspect", introspect_view, name="oauth2-introspect"),
    path("oauth2/jwks", jwks_view, name="oauth2-jwks"),
    path(SNAPSHOT_PATH.lstrip("/"), snapshot_view, name="gateway-snapshot"),  # also answered in tidegate/asgi.py
    path("internal/gateway/analytics", ingest_view, name="gateway-analytics"),
]
