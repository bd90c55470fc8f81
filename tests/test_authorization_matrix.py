"""Issue 14: who may call what, for every route of the portal's URLconf.

The routes are found by walking ``django.urls.get_resolver()``; each (route, method) the view
accepts must have a row in ``MATRIX`` below, and each row a route. A row is called by every
caller on fresh data (each call in its own savepoint, rolled back), through the real URLconf,
middleware and authentication (the Django test client, in process): REST with HTTP Basic,
pages with a signed-in session. Ids in URLs name objects owned by "developer" (application,
key mapping, subscription) or by "creator" (API, revisions), so other callers meet objects that
are not theirs: "publisher" is not the API's provider, so it runs the API's revisions,
deployments, lifecycle and subscriptions but may not change its content. A call whose expected status refuses the caller (4xx, or a ``R200``/``R302``
page answer) must also leave no audit record: refused means nothing changed.

Rows that are wrong today hold the status that SHOULD be there, carry a ``# HOLE:`` comment and
are listed in ``HOLES``; their callers run as a separate strict xfail case.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from analytics.models import GatewayReport
from devportal import services as dp
from devportal.community import comment_create, rating_set
from devportal.models import Workflow
from keymanager.models import ExternalIssuer, IssuedToken
from keymanager.server import token_issue
from keymanager.services import api_key_generate, keys_generate
from portal.models import AuditEvent, SiteSettings
from publisher import asyncapi
from publisher import documents as api_documents
from publisher import services as pub
from publisher.archives import export_archive
from publisher.categories import category_create
from publisher.deny_policies import deny_policy_create
from publisher.models import Api, Environment, PolicyLevel, ThrottlingPolicy
from tests import factories
from testsupport import documents
from testsupport.flow import jwt_claims as flow_claims
from testsupport.stack import free_port

# Every test runs inside pytest-django's transaction, itself inside the module's (``world``).
pytestmark = pytest.mark.django_db

PASSWORD = "pw-Matrix-123"

PUB = "api/am/publisher/v4/"
DEV = "api/am/devportal/v3/"
ADM = "api/am/admin/v4/"

# Who calls. "developer" signed up (no role) and owns an application, its keys and a
# subscription; "other_developer" likewise owns nothing of the developer's; "creator" owns the API.
CALLERS = ("anonymous", "developer", "other_developer", "creator", "publisher", "admin")
# Extra callers for the rows that are not user-facing: the gateway's endpoints and OAuth2.
GATEWAY_CALLERS = ("wrong_token", "gateway")
CLIENT_CALLERS = ("client", "other_client")

# A page that answers 200 or 302 but refuses the action (a message instead of the change).
R200 = "200 refused"
R302 = "302 refused"


def row(anonymous, developer, other_developer, creator, publisher, admin, **extra) -> dict[str, Any]:
    return {
        "anonymous": anonymous,
        "developer": developer,
        "other_developer": other_developer,
        "creator": creator,
        "publisher": publisher,
        "admin": admin,
        **extra,
    }


# fmt: off
# (route pattern, method):                    anonymous, developer, other_developer, creator, publisher, admin
MATRIX: dict[tuple[str, str], dict[str, Any]] = {
    # ---- Publisher v4: creators and publishers; deploy, lifecycle, subscriptions and disconnect: publishers only.
    # An admin holds neither Publisher role (portal/roles.py), so it is refused like a developer.
    # An API's content (PUT, asyncapi PUT, DELETE, the design pages' edits) is its provider's
    # ("creator") or an admin's: "publisher", another user, gets 403 (services.may_change).
    (PUB + "apis", "GET"):                                        row(401, 403, 403, 200, 200, 403),
    (PUB + "apis", "POST"):                                       row(401, 403, 403, 201, 201, 403),
    (PUB + "apis/import-asyncapi", "POST"):                       row(401, 403, 403, 201, 201, 403),
    (PUB + "apis/validate-asyncapi", "POST"):                     row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/validate-endpoint", "POST"):                     row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/change-lifecycle", "POST"):                      row(401, 403, 403, 403, 200, 403),
    (PUB + "apis/export", "GET"):                                 row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/import", "POST"):                                row(401, 403, 403, 201, 201, 403),
    (PUB + "apis/<uuid:api_id>", "GET"):                           row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>", "PUT"):                           row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>", "DELETE"):                        row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>/asyncapi", "GET"):                  row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/asyncapi", "PUT"):                  row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>/asyncapi/convert", "POST"):         row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>/revisions", "GET"):                 row(401, 403, 403, 200, 200, 403),
    # Revisions, restore and deploy stay open on any API: a revision holds the provider's content.
    (PUB + "apis/<uuid:api_id>/revisions", "POST"):                row(401, 403, 403, 201, 201, 403),
    (PUB + "apis/<uuid:api_id>/revisions/<uuid:revision_id>", "GET"):    row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/revisions/<uuid:revision_id>", "DELETE"): row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/restore-revision", "POST"):         row(401, 403, 403, 201, 201, 403),
    (PUB + "apis/<uuid:api_id>/generate-key", "POST"):             row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/analytics", "GET"):                 row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/connections", "GET"):               row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/connections/<str:connection_id>/disconnect", "POST"):
                                                                  row(401, 403, 403, 403, 202, 403),
    (PUB + "apis/<uuid:api_id>/deploy-revision", "POST"):          row(401, 403, 403, 403, 201, 403),
    (PUB + "apis/<uuid:api_id>/undeploy-revision", "POST"):        row(401, 403, 403, 403, 201, 403),
    (PUB + "apis/<uuid:api_id>/deployments", "GET"):               row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/lifecycle-history", "GET"):         row(401, 403, 403, 200, 200, 403),
    # Documents and the thumbnail: read by every Publisher user, changed by the API's provider.
    (PUB + "apis/<uuid:api_id>/documents", "GET"):                 row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/documents", "POST"):                row(401, 403, 403, 201, 403, 403),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>", "GET"):    row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>", "PUT"):    row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>", "DELETE"): row(401, 403, 403, 200, 403, 403),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>/content", "GET"):  row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>/content", "POST"): row(401, 403, 403, 201, 403, 403),
    (PUB + "apis/<uuid:api_id>/thumbnail", "GET"):                 row(401, 403, 403, 200, 200, 403),
    (PUB + "apis/<uuid:api_id>/thumbnail", "PUT"):                 row(401, 403, 403, 200, 403, 403),
    (PUB + "throttling-policies/streaming/subscription", "GET"):  row(401, 403, 403, 200, 200, 403),
    (PUB + "settings", "GET"):                                    row(401, 403, 403, 200, 200, 403),
    (PUB + "subscriptions", "GET"):                               row(401, 403, 403, 403, 200, 403),
    (PUB + "subscriptions/block-subscription", "POST"):           row(401, 403, 403, 403, 200, 403),
    (PUB + "subscriptions/unblock-subscription", "POST"):         row(401, 403, 403, 403, 200, 403),
    # ---- Dev Portal v3: anyone signed in; an application, its keys and its subscriptions are
    # their owner's only: 404 for everyone else, roles or not. The catalog of public APIs is
    # open to visitors too (anonymous browsing, on by default: Admin Portal Settings).
    (DEV + "apis", "GET"):                                        row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>", "GET"):                           row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/topics", "GET"):                    row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/documents", "GET"):                 row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/documents/<uuid:document_id>", "GET"):         row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/documents/<uuid:document_id>/content", "GET"): row(200, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/thumbnail", "GET"):                 row(200, 200, 200, 200, 200, 200),
    # Ratings and comments: anyone signed in; a comment is edited by its author ("developer")
    # only, deleted by its author, the API's provider ("creator") or an admin.
    (DEV + "apis/<uuid:api_id>/ratings", "GET"):                   row(401, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/user-rating", "GET"):               row(401, 200, 404, 404, 404, 404),
    (DEV + "apis/<uuid:api_id>/user-rating", "PUT"):               row(401, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/user-rating", "DELETE"):            row(401, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/comments", "GET"):                  row(401, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/comments", "POST"):                 row(401, 201, 201, 201, 201, 201),
    (DEV + "apis/<uuid:api_id>/comments/<uuid:comment_id>", "GET"):    row(401, 200, 200, 200, 200, 200),
    (DEV + "apis/<uuid:api_id>/comments/<uuid:comment_id>", "PATCH"):  row(401, 200, 403, 403, 403, 403),
    (DEV + "apis/<uuid:api_id>/comments/<uuid:comment_id>", "DELETE"): row(401, 200, 403, 200, 403, 200),
    (DEV + "api-categories", "GET"):                              row(401, 200, 200, 200, 200, 200),
    (DEV + "applications", "GET"):                                row(401, 200, 200, 200, 200, 200),
    (DEV + "applications", "POST"):                               row(401, 201, 201, 201, 201, 201),
    (DEV + "applications/<uuid:application_id>", "GET"):           row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>", "PUT"):           row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>", "DELETE"):        row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/generate-keys", "POST"): row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/oauth-keys", "GET"):     row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/generate-token", "POST"):
                                                                  row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/regenerate-secret", "POST"):
                                                                  row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/clean-up", "POST"):
                                                                  row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/api-keys/<str:key_type>/generate", "POST"):
                                                                  row(401, 200, 404, 404, 404, 404),
    (DEV + "applications/<uuid:application_id>/api-keys/<str:key_type>/revoke", "POST"):
                                                                  row(401, 200, 404, 404, 404, 404),
    # Listed by the developer's applicationId: another's application is unknown (404), as
    # everywhere (see test_listing_by_another_developers_application_is_not_found).
    (DEV + "subscriptions", "GET"):                               row(401, 200, 404, 404, 404, 404),
    # Subscribes the developer's DefaultApplication: nobody else's to subscribe.
    (DEV + "subscriptions", "POST"):                              row(401, 201, 404, 404, 404, 404),
    (DEV + "subscriptions/<uuid:subscription_id>", "GET"):         row(401, 200, 404, 404, 404, 404),
    (DEV + "subscriptions/<uuid:subscription_id>", "PUT"):         row(401, 200, 404, 404, 404, 404),
    (DEV + "subscriptions/<uuid:subscription_id>", "DELETE"):      row(401, 200, 404, 404, 404, 404),
    (DEV + "throttling-policies/<str:policy_level>", "GET"):      row(401, 200, 200, 200, 200, 200),
    # ---- Admin v4: admins only.
    (ADM + "throttling/policies/<str:level>", "GET"):             row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/policies/<str:level>", "POST"):            row(401, 403, 403, 403, 403, 201),
    (ADM + "throttling/policies/<str:level>/<int:policy_id>", "GET"): row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/policies/<str:level>/<int:policy_id>", "PUT"): row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/deny-policies", "GET"):                    row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/deny-policies", "POST"):                   row(401, 403, 403, 403, 403, 201),
    (ADM + "throttling/deny-policy/<uuid:condition_id>", "GET"):    row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/deny-policy/<uuid:condition_id>", "PATCH"):  row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/deny-policy/<uuid:condition_id>", "DELETE"): row(401, 403, 403, 403, 403, 200),
    (ADM + "throttling/policies/<str:level>/<int:policy_id>", "DELETE"): row(401, 403, 403, 403, 403, 200),
    (ADM + "environments", "GET"):                                row(401, 403, 403, 403, 403, 200),
    (ADM + "environments", "POST"):                               row(401, 403, 403, 403, 403, 201),
    (ADM + "environments/<int:environment_id>", "DELETE"):        row(401, 403, 403, 403, 403, 200),
    (ADM + "key-managers", "GET"):                                row(401, 403, 403, 403, 403, 200),
    (ADM + "key-managers", "POST"):                               row(401, 403, 403, 403, 403, 201),
    (ADM + "key-managers/<int:issuer_id>", "GET"):                row(401, 403, 403, 403, 403, 200),
    (ADM + "key-managers/<int:issuer_id>", "DELETE"):             row(401, 403, 403, 403, 403, 200),
    (ADM + "users/<str:username>/deactivate", "POST"):            row(401, 403, 403, 403, 403, 200),
    (ADM + "users/<str:username>/activate", "POST"):              row(401, 403, 403, 403, 403, 200),
    (ADM + "api-categories", "GET"):                              row(401, 403, 403, 403, 403, 200),
    (ADM + "api-categories", "POST"):                             row(401, 403, 403, 403, 403, 201),
    (ADM + "api-categories/<uuid:category_id>", "PUT"):            row(401, 403, 403, 403, 403, 200),
    (ADM + "api-categories/<uuid:category_id>", "DELETE"):         row(401, 403, 403, 403, 403, 200),
    (ADM + "workflows", "GET"):                                   row(401, 403, 403, 403, 403, 200),
    (ADM + "workflows/<uuid:reference_id>", "GET"):               row(401, 403, 403, 403, 403, 200),
    (ADM + "workflows/update-workflow-status", "POST"):           row(401, 403, 403, 403, 403, 200),
    # ---- The OpenAPI document of the REST APIs: public, like WSO2's published swagger (no data in it).
    ("api/openapi.yaml", "GET"):                                  row(200, 200, 200, 200, 200, 200),
    # ---- OAuth2: client authentication, not a user's; a user's Basic credentials are no client's.
    # "client" is the developer's consumer key and secret, "other_client" the other developer's;
    # the token and the one revoked or introspected is the developer's.
    ("oauth2/token", "POST"):      row(401, 401, 401, 401, 401, 401, client=200, other_client=200),
    ("oauth2/revoke", "POST"):     row(401, 401, 401, 401, 401, 401, client=200, other_client=400),
    # 200 with {"active": false} for the other client (test_another_client_cannot_introspect_the_token).
    ("oauth2/introspect", "POST"): row(401, 401, 401, 401, 401, 401, client=200, other_client=200),
    ("oauth2/jwks", "GET"):        row(200, 200, 200, 200, 200, 200, client=200, other_client=200),
    # ---- The gateway's endpoints: the gateway token only, no user's credentials.
    ("internal/gateway/snapshot", "GET"):   row(401, 401, 401, 401, 401, 401, wrong_token=401, gateway=200),
    ("internal/gateway/analytics", "POST"): row(401, 401, 401, 401, 401, 401, wrong_token=401, gateway=200),
    # Prometheus text for the portal: the gateway token (a scraper) or an admin's session.
    ("metrics", "GET"):                     row(401, 403, 403, 403, 403, 200, wrong_token=401, gateway=200),
    # ---- Pages. Anonymous: 302 to the login page. Signed in: 403 without the role, 404 for
    # another's object; R302/R200 where the page answers but refuses the action with a message.
    ("", "GET"):                                                  row(302, 302, 302, 302, 302, 302),
    ("", "POST"):                                                 row(302, 302, 302, 302, 302, 302),
    ("healthz", "GET"):                                           row(200, 200, 200, 200, 200, 200),
    ("healthz", "POST"):                                          row(200, 200, 200, 200, 200, 200),
    ("login/", "GET"):                                            row(200, 200, 200, 200, 200, 200),
    ("login/", "POST"):                                           row(302, 302, 302, 302, 302, 302),
    ("login/", "PUT"):                                            row(200, 200, 200, 200, 200, 200),
    ("logout/", "POST"):                                          row(302, 302, 302, 302, 302, 302),
    # Sign-in's second step: only after a right password (none here), so back to the login page.
    ("login/code", "GET"):                                        row(302, 302, 302, 302, 302, 302),
    ("login/code", "POST"):                                       row(302, 302, 302, 302, 302, 302),
    # Two-factor sign-in: staff only. No one here has it on or a secret to confirm: the code
    # sent is wrong, and the form shows why (400).
    ("account/two-factor/", "GET"):                               row(302, 403, 403, 200, 200, 200),
    ("account/two-factor/enrol", "POST"):                         row(302, 403, 403, 400, 400, 400),
    ("account/two-factor/recovery-codes", "POST"):                row(302, 403, 403, 400, 400, 400),
    ("account/two-factor/remove", "POST"):                        row(302, 403, 403, 400, 400, 400),
    ("signup/", "GET"):                                           row(200, 302, 302, 302, 302, 302),
    ("signup/", "POST"):                                          row(302, 302, 302, 302, 302, 302),
    ("publisher/", "GET"):                                        row(302, 403, 403, 200, 200, 403),
    ("publisher/", "POST"):                                       row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/create", "GET"):                             row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/create", "POST"):                            row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/import", "GET"):                             row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/import", "POST"):                            row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/import-project", "GET"):                     row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/import-project", "POST"):                    row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/<uuid:api_id>", "GET"):                       row(302, 403, 403, 200, 200, 403),
    ("publisher/audit", "GET"):                                   row(302, 403, 403, 403, 200, 200),
    ("publisher/audit", "POST"):                                  row(302, 403, 403, 403, 200, 200),
    ("publisher/apis/<uuid:api_id>/topics", "GET"):                row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/scopes", "GET"):                row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/endpoints", "GET"):             row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/plans", "GET"):                 row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/definition", "GET"):            row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/documents", "GET"):             row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/revisions/diff", "GET"):        row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/revisions/diff", "POST"):       row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/subscriptions", "GET"):         row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/analytics", "GET"):             row(302, 403, 403, 200, 200, 403),
    # The Admin Portal: admins only.
    ("admin-portal/", "GET"):                                     row(302, 403, 403, 403, 403, 200),
    ("admin-portal/", "POST"):                                    row(302, 403, 403, 403, 403, 200),
    ("admin-portal/deny-policies", "GET"):                        row(302, 403, 403, 403, 403, 200),
    ("admin-portal/deny-policies/add/<str:condition_type>", "POST"): row(302, 403, 403, 403, 403, 302),
    ("admin-portal/deny-policies/<uuid:condition_id>/enable", "POST"):  row(302, 403, 403, 403, 403, 302),
    ("admin-portal/deny-policies/<uuid:condition_id>/disable", "POST"): row(302, 403, 403, 403, 403, 302),
    ("admin-portal/deny-policies/<uuid:condition_id>/delete", "POST"):  row(302, 403, 403, 403, 403, 302),
    ("admin-portal/tasks/", "GET"):                               row(302, 403, 403, 403, 403, 200),
    ("admin-portal/tasks/<uuid:reference_id>/decide", "POST"):    row(302, 403, 403, 403, 403, 302),
    ("admin-portal/settings/", "GET"):                            row(302, 403, 403, 403, 403, 200),
    ("admin-portal/settings/save", "POST"):                       row(302, 403, 403, 403, 403, 302),
    # Its sections: each page answers GET, each form posts to its own URL (302 back to the page,
    # or the page again with the result: Test JWKS changes nothing).
    ("admin-portal/policies", "GET"):                             row(302, 403, 403, 403, 403, 200),
    ("admin-portal/policies/<str:level>/create", "POST"):         row(302, 403, 403, 403, 403, 302),
    ("admin-portal/policies/<int:policy_id>", "GET"):             row(302, 403, 403, 403, 403, 200),
    ("admin-portal/policies/<int:policy_id>/update", "POST"):     row(302, 403, 403, 403, 403, 302),
    ("admin-portal/policies/<int:policy_id>/delete", "POST"):     row(302, 403, 403, 403, 403, 302),
    ("admin-portal/environments", "GET"):                         row(302, 403, 403, 403, 403, 200),
    ("admin-portal/environments/create", "POST"):                 row(302, 403, 403, 403, 403, 302),
    ("admin-portal/environments/<int:environment_id>/delete", "POST"): row(302, 403, 403, 403, 403, 302),
    ("admin-portal/key-managers", "GET"):                         row(302, 403, 403, 403, 403, 200),
    ("admin-portal/key-managers/create", "POST"):                 row(302, 403, 403, 403, 403, 302),
    ("admin-portal/key-managers/<int:issuer_id>/delete", "POST"): row(302, 403, 403, 403, 403, 302),
    ("admin-portal/key-managers/<int:issuer_id>/test-jwks", "POST"): row(302, 403, 403, 403, 403, 200),
    ("admin-portal/users", "GET"):                                row(302, 403, 403, 403, 403, 200),
    ("admin-portal/users/<int:user_id>/deactivate", "POST"):      row(302, 403, 403, 403, 403, 302),
    ("admin-portal/users/<int:user_id>/activate", "POST"):        row(302, 403, 403, 403, 403, 302),
    ("admin-portal/users/<int:user_id>/roles/grant", "POST"):     row(302, 403, 403, 403, 403, 302),
    ("admin-portal/users/<int:user_id>/roles/revoke", "POST"):    row(302, 403, 403, 403, 403, 302),
    ("admin-portal/audit", "GET"):                                row(302, 403, 403, 403, 403, 200),
    ("admin-portal/api-categories", "GET"):                       row(302, 403, 403, 403, 403, 200),
    ("admin-portal/api-categories/create", "POST"):               row(302, 403, 403, 403, 403, 302),
    ("admin-portal/api-categories/<uuid:category_id>/update", "POST"): row(302, 403, 403, 403, 403, 302),
    ("admin-portal/api-categories/<uuid:category_id>/delete", "POST"): row(302, 403, 403, 403, 403, 302),
    # The catalog and a public API's pages: visitors too (anonymous browsing).
    ("devportal/", "GET"):                                        row(200, 200, 200, 200, 200, 200),
    ("devportal/", "POST"):                                       row(200, 200, 200, 200, 200, 200),
    ("devportal/apis/<uuid:api_id>", "GET"):                       row(200, 200, 200, 200, 200, 200),
    # The AsyncAPI documentation, framed by the API page.
    ("devportal/apis/<uuid:api_id>/documentation", "GET"):         row(200, 200, 200, 200, 200, 200),
    ("devportal/apis/<uuid:api_id>/documents/<uuid:document_id>", "GET"): row(200, 200, 200, 200, 200, 200),
    ("devportal/applications", "GET"):                            row(302, 200, 200, 200, 200, 200),
    ("devportal/applications", "POST"):                           row(302, 302, 302, 302, 302, 302),
    ("devportal/applications/<uuid:application_id>", "GET"):       row(302, 200, 404, 404, 404, 404),
    # The application page's forms, one view each: the owner's; another's application is not found.
    ("devportal/applications/<uuid:application_id>/update", "POST"):                   row(302, 302, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/delete", "POST"):                   row(302, 302, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/keys/generate", "POST"):            row(302, 200, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/keys/regenerate-secret", "POST"):   row(302, 200, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/keys/remove", "POST"):              row(302, 302, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/tokens/generate", "POST"):          row(302, 200, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/tokens/revoke", "POST"):            row(302, 302, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/api-keys/generate", "POST"):        row(302, 200, 404, 404, 404, 404),
    ("devportal/applications/<uuid:application_id>/api-keys/revoke", "POST"):          row(302, 302, 404, 404, 404, 404),
    # The API page's forms, one view each. Subscribe: the developer's DefaultApplication, not
    # one of the others' to choose (the form is shown again). GET TEST KEY: for the developer's
    # application; the others are told to choose one of theirs.
    ("devportal/apis/<uuid:api_id>/subscribe", "POST"):            row(302, 302, R200, R200, R200, R200),
    ("devportal/apis/<uuid:api_id>/test-key", "POST"):             row(302, 200, R200, R200, R200, R200),
    ("devportal/apis/<uuid:api_id>/rate", "POST"):                 row(302, 302, 302, 302, 302, 302),
    # Only the developer has a rating to take back: the others' answer changes nothing.
    ("devportal/apis/<uuid:api_id>/rating/remove", "POST"):        row(302, 302, R302, R302, R302, R302),
    ("devportal/apis/<uuid:api_id>/comments", "POST"):             row(302, 302, 302, 302, 302, 302),
    ("devportal/apis/<uuid:api_id>/comments/<uuid:comment_id>/edit", "POST"):   row(302, 302, R302, R302, R302, R302),
    ("devportal/apis/<uuid:api_id>/comments/<uuid:comment_id>/delete", "POST"): row(302, 302, R302, 302, R302, 302),
    # The application page's subscription rows: the owner's; another's subscription is not found.
    ("devportal/subscriptions/<uuid:subscription_id>/plan", "POST"):        row(302, 302, 404, 404, 404, 404),
    ("devportal/subscriptions/<uuid:subscription_id>/unsubscribe", "POST"): row(302, 302, 404, 404, 404, 404),
    # The Publisher's pages' forms, one view each (the pages themselves answer GET only).
    # The overview: an Internal-Key, revisions (anyone with a Publisher role, like REST);
    # deploy, undeploy and the lifecycle (Block) a publisher's: a creator is told so.
    ("publisher/apis/<uuid:api_id>/internal-key", "POST"):         row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/revisions/create", "POST"):     row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/<uuid:api_id>/revisions/restore", "POST"):    row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/<uuid:api_id>/revisions/delete", "POST"):     row(302, 403, 403, 302, 302, 403),
    ("publisher/apis/<uuid:api_id>/deploy", "POST"):               row(302, 403, 403, R302, 302, 403),
    ("publisher/apis/<uuid:api_id>/undeploy", "POST"):             row(302, 403, 403, R302, 302, 403),
    ("publisher/apis/<uuid:api_id>/lifecycle", "POST"):            row(302, 403, 403, R302, 302, 403),
    # The design tabs' edits: the provider's; "publisher" (not the provider) gets the reason as
    # a message, on the tab shown again where the form's values stay (R200).
    ("publisher/apis/<uuid:api_id>/topics/save", "POST"):          row(302, 403, 403, 302, R302, 403),
    ("publisher/apis/<uuid:api_id>/topics/delete", "POST"):        row(302, 403, 403, 302, R302, 403),
    ("publisher/apis/<uuid:api_id>/scopes/save", "POST"):          row(302, 403, 403, 302, R302, 403),
    ("publisher/apis/<uuid:api_id>/scopes/delete", "POST"):        row(302, 403, 403, 302, R302, 403),
    ("publisher/apis/<uuid:api_id>/endpoints/save", "POST"):       row(302, 403, 403, 302, R200, 403),
    # Test connection changes nothing: anyone with a Publisher role.
    ("publisher/apis/<uuid:api_id>/endpoints/test", "POST"):       row(302, 403, 403, 200, 200, 403),
    ("publisher/apis/<uuid:api_id>/plans/save", "POST"):           row(302, 403, 403, 302, R200, 403),
    ("publisher/apis/<uuid:api_id>/definition/save", "POST"):      row(302, 403, 403, 302, R200, 403),
    ("publisher/apis/<uuid:api_id>/definition/convert", "POST"):   row(302, 403, 403, 302, R200, 403),
    ("publisher/apis/<uuid:api_id>/documents/save", "POST"):       row(302, 403, 403, 302, R200, 403),
    ("publisher/apis/<uuid:api_id>/documents/delete", "POST"):     row(302, 403, 403, 302, R302, 403),
    ("publisher/apis/<uuid:api_id>/thumbnail", "POST"):            row(302, 403, 403, 302, R302, 403),
    # The Subscriptions tab's form: block the developer's subscription, a publisher's.
    ("publisher/apis/<uuid:api_id>/subscriptions/block", "POST"):  row(302, 403, 403, R302, 302, 403),
    # The Analytics tab's form: disconnect a live connection, a publisher's.
    ("publisher/apis/<uuid:api_id>/analytics/disconnect", "POST"): row(302, 403, 403, R302, 302, 403),
}
# fmt: on

# Rows wrong today: (route, method) -> (callers whose cell is wrong, why). Each is an xfail(strict=True).
HOLES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}


# ---------------------------------------------------------------- the routes


def url_routes() -> dict[str, Any]:
    """Every URL pattern of the portal, as its full route text, with its view."""
    out: dict[str, Any] = {}

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out[prefix + str(p.pattern)] = p.callback

    walk(get_resolver().url_patterns, "")
    return out


def view_methods(callback) -> list[str]:
    """The methods a view answers: a class view's handlers (HEAD and OPTIONS aside: Django
    answers HEAD as GET, OPTIONS is DRF's metadata), the methods of a function view's
    ``require_http_methods`` decorator, or GET and POST for an undecorated function view."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return sorted(m.upper() for m in cls.http_method_names if m not in ("head", "options") and hasattr(cls, m))
    f = callback
    while f is not None:
        code = getattr(f, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cells = dict(zip(code.co_freevars, f.__closure__, strict=True))
            return sorted(m for m in cells["request_method_list"].cell_contents if m not in ("HEAD", "OPTIONS"))
        f = getattr(f, "__wrapped__", None)
    return ["GET", "POST"]


def discovered_rows() -> set[tuple[str, str]]:
    return {(route, method) for route, view in url_routes().items() for method in view_methods(view)}


def test_every_route_and_method_has_a_row():
    missing = sorted(discovered_rows() - set(MATRIX))
    assert not missing, "Routes without a row in MATRIX (add one per route and method):\n" + "\n".join(
        f"    ({route!r}, {method!r})" for route, method in missing
    )


def test_every_row_has_a_route():
    stale = sorted(set(MATRIX) - discovered_rows())
    assert not stale, "Rows of MATRIX without a route (remove them or fix the route):\n" + "\n".join(
        f"    ({route!r}, {method!r})" for route, method in stale
    )


def test_every_hole_is_a_row_and_every_row_names_each_caller():
    assert set(HOLES) <= set(MATRIX), sorted(set(HOLES) - set(MATRIX))
    for key, cells in MATRIX.items():
        assert set(CALLERS) <= set(cells), f"{key}: a cell per caller"


# ---------------------------------------------------------------- the data


CHAT = documents.CHAT_ASYNCAPI


def _archive(creator) -> bytes:
    """An API project archive of an API that no longer exists, so importing it succeeds."""
    gone = factories.api(creator, context="/archived")
    _, content = export_archive(api=gone, user=creator)
    pub.api_delete(api=gone, user=creator)
    return content


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(out, format="PNG")
    return out.getvalue()


def _thumbnail(w):
    return {"file": SimpleUploadedFile("t.png", _png(), "image/png")}


def build_world() -> SimpleNamespace:
    users = {
        "developer": factories.user("developer", password=PASSWORD),
        "other_developer": factories.user("other_developer", password=PASSWORD),
        "creator": factories.user("creator", roles=["creator"], password=PASSWORD),
        "publisher": factories.user("publisher", roles=["publisher"], password=PASSWORD),
        "admin": factories.user("admin", roles=["admin"], password=PASSWORD),
    }
    creator, developer, other = users["creator"], users["developer"], users["other_developer"]
    for u in (developer, other):
        dp.application_ensure_default(user=u)  # as sign-up does
    api = factories.published_api(creator)
    deployed = api.revisions.get()
    # A second topic and a scope no topic uses, for the design tabs' delete forms.
    api = pub.api_update(
        api=api,
        user=creator,
        changes={
            "operations": [op.as_dict() for op in asyncapi.operations(api.definition)]
            + [{"target": "/spare", "verb": "SUBSCRIBE", "scopes": [], "uriMapping": None, "authType": "Any"}],
            "scopes": [{"name": "spare_scope", "description": "Unused", "bindings": []}],
        },
    )
    spare = pub.api_revision_create(api=api, created_by=creator, description="not deployed")
    draft = factories.api(creator, context="/draft")
    guide = api_documents.document_create(
        api=api, user=creator, fields={"name": "Guide", "sourceType": "MARKDOWN"}, inline_content="# Guide"
    )
    api_documents.thumbnail_set(api=api, user=creator, data=_png())
    app = dp.application_create(owner=developer, name="DevApp")
    rating_set(api=api, user=developer, rating=3)
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=developer)
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=developer)
    other_app = dp.application_create(owner=other, name="OtherApp")
    other_client, other_secret = keys_generate(
        application=other_app, key_type="PRODUCTION", grant_types=None, user=other
    )
    GatewayReport.objects.create(gateway_id="gw-1", connections=[{"id": "conn-1", "apiId": str(api.id)}])
    # A subscription waiting for an administrator (subscription approval on for it alone).
    SiteSettings.objects.update_or_create(pk=1, defaults={"subscription_approval": True})
    held = dp.subscription_create(application=other_app, api=api, throttling_policy="AsyncUnlimited", user=other)
    SiteSettings.objects.filter(pk=1).update(subscription_approval=False)
    return SimpleNamespace(
        reference_id=str(Workflow.objects.get(subject_id=str(held.id)).reference_id),
        users=users,
        username="developer",  # a user named in a URL (Admin REST's users/<username>/...) is the developer
        user_id=str(users["developer"].pk),  # and in the Admin Portal's (users/<user_id>/...)
        creator_user_id=str(creator.pk),
        api_id=str(api.id),
        draft_api_id=str(draft.id),
        document_id=str(guide.id),
        revision_id=str(deployed.id),
        spare_revision_id=str(spare.id),
        application_id=str(app.id),
        default_application_id=str(dp.application_ensure_default(user=developer).id),
        key_mapping_id=str(client.key_mapping_id),
        consumer_key=client.client_id,
        consumer_secret=secret,
        other_consumer_key=other_client.client_id,
        other_consumer_secret=other_secret,
        token=token_issue(client=client)["access_token"],
        key_type="PRODUCTION",
        api_key=api_key_generate(application=app, key_type="PRODUCTION", validity_period=-1, user=developer)[1],
        subscription_id=str(sub.id),
        connection_id="conn-1",
        policy_level=PolicyLevel.SUBSCRIPTION,
        level=PolicyLevel.SUBSCRIPTION,
        policy_id=str(ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncGold").id),
        spare_policy_id=str(ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncBronze").id),
        environment_id=str(Environment.objects.create(name="Spare", display_name="Spare", vhost="spare").id),
        issuer_id=str(
            ExternalIssuer.objects.create(name="idp", issuer="https://idp.example", jwks_url="https://idp.example/j").id
        ),
        # Test JWKS on it is refused before any connection (loopback, private addresses off).
        loopback_issuer_id=str(
            ExternalIssuer.objects.create(
                name="loopback", issuer="https://loopback.example", jwks_url="http://127.0.0.1:1/jwks"
            ).id
        ),
        etag=pub.api_etag(api),
        archive=_archive(creator),
        condition_type="user",
        category_id=str(category_create(name="Spare", description="", user=users["admin"]).id),
        comment_id=str(comment_create(api=api, user=developer, content="The developer's comment").id),
        # A deny policy, disabled (so enabling it changes something): it denies the other developer.
        condition_id=str(
            deny_policy_create(condition_type="USER", value="other_developer", enabled=False, user=users["admin"]).id
        ),
    )


# ---------------------------------------------------------------- the requests


@dataclass
class Req:
    """What a row sends: ``path`` maps URL parameters to other world attributes; ``query``,
    ``json`` and ``form`` are dicts or callables of the world."""

    path: dict[str, str] = field(default_factory=dict)
    query: Any = None
    json: Any = None
    form: Any = None
    files: Any = None


def _limit(count=10):
    return {"type": "EVENTCOUNTLIMIT", "eventCount": {"timeUnit": "min", "unitTime": 1, "eventCount": count}}


def _policy_form(name: str) -> dict:
    return {
        "policy_name": name,
        "limit_type": "EVENTCOUNTLIMIT",
        "amount": 10,
        "data_unit": "KB",
        "unit_time": 1,
        "time_unit": "min",
        "throttle_action": "notify",
    }


def _zip(w):
    return {"file": SimpleUploadedFile("project.zip", w.archive, "application/zip")}


REQUESTS: dict[tuple[str, str], Req] = {
    # Publisher v4
    (PUB + "apis", "POST"): Req(
        json={
            "name": "New",
            "context": "/new",
            "version": "1.0.0",
            "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/new"}},
        }
    ),
    (PUB + "apis/import-asyncapi", "POST"): Req(
        json={"inlineAPIDefinition": CHAT, "additionalProperties": {"context": "/imported"}}
    ),
    (PUB + "apis/validate-asyncapi", "POST"): Req(json={"inlineAPIDefinition": CHAT}),
    (PUB + "apis/validate-endpoint", "POST"): Req(query=lambda w: {"endpointUrl": f"ws://127.0.0.1:{free_port()}/"}),
    (PUB + "apis/change-lifecycle", "POST"): Req(query=lambda w: {"apiId": w.api_id, "action": "Block"}),
    (PUB + "apis/export", "GET"): Req(query=lambda w: {"apiId": w.api_id}),
    (PUB + "apis/import", "POST"): Req(files=_zip),
    (PUB + "apis/<uuid:api_id>", "PUT"): Req(json={"description": "changed"}),
    (PUB + "apis/<uuid:api_id>", "DELETE"): Req(path={"api_id": "draft_api_id"}),
    (PUB + "apis/<uuid:api_id>/asyncapi", "PUT"): Req(json={"inlineAPIDefinition": CHAT}),
    (PUB + "apis/<uuid:api_id>/asyncapi/convert", "POST"): Req(query={"to": "3.0.0"}),
    (PUB + "apis/<uuid:api_id>/revisions", "POST"): Req(json={"description": "matrix"}),
    (PUB + "apis/<uuid:api_id>/revisions/<uuid:revision_id>", "DELETE"): Req(path={"revision_id": "spare_revision_id"}),
    (PUB + "apis/<uuid:api_id>/restore-revision", "POST"): Req(query=lambda w: {"revisionId": w.revision_id}),
    (PUB + "apis/<uuid:api_id>/deploy-revision", "POST"): Req(
        query=lambda w: {"revisionId": w.spare_revision_id}, json=[{"name": "Default"}]
    ),
    (PUB + "apis/<uuid:api_id>/undeploy-revision", "POST"): Req(
        query=lambda w: {"revisionId": w.revision_id}, json=[{"name": "Default"}]
    ),
    (PUB + "apis/<uuid:api_id>/documents", "POST"): Req(json={"name": "Matrix", "sourceType": "MARKDOWN"}),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>", "PUT"): Req(json={"summary": "changed"}),
    (PUB + "apis/<uuid:api_id>/documents/<uuid:document_id>/content", "POST"): Req(form={"inlineContent": "# new"}),
    (PUB + "apis/<uuid:api_id>/thumbnail", "PUT"): Req(files=_thumbnail),
    (PUB + "subscriptions/block-subscription", "POST"): Req(
        query=lambda w: {"subscriptionId": w.subscription_id, "blockState": "BLOCKED"}
    ),
    (PUB + "subscriptions/unblock-subscription", "POST"): Req(query=lambda w: {"subscriptionId": w.subscription_id}),
    # Dev Portal v3
    (DEV + "applications", "POST"): Req(json={"name": "NewApp"}),
    (DEV + "apis/<uuid:api_id>/user-rating", "PUT"): Req(json={"rating": 4}),
    (DEV + "apis/<uuid:api_id>/comments", "POST"): Req(json={"content": "From the matrix"}),
    (DEV + "apis/<uuid:api_id>/comments/<uuid:comment_id>", "PATCH"): Req(json={"content": "Edited"}),
    (DEV + "applications/<uuid:application_id>", "PUT"): Req(json={"description": "changed"}),
    (DEV + "applications/<uuid:application_id>/generate-keys", "POST"): Req(json={"keyType": "SANDBOX"}),
    (DEV + "applications/<uuid:application_id>/oauth-keys/<uuid:key_mapping_id>/generate-token", "POST"): Req(
        json=lambda w: {"consumerSecret": w.consumer_secret}
    ),
    (DEV + "applications/<uuid:application_id>/api-keys/<str:key_type>/generate", "POST"): Req(
        json={"validityPeriod": 3600}
    ),
    (DEV + "applications/<uuid:application_id>/api-keys/<str:key_type>/revoke", "POST"): Req(
        json=lambda w: {"apikey": w.api_key}
    ),
    (DEV + "subscriptions", "GET"): Req(query=lambda w: {"applicationId": w.application_id}),
    (DEV + "subscriptions", "POST"): Req(
        json=lambda w: {"applicationId": w.default_application_id, "apiId": w.api_id, "throttlingPolicy": "AsyncGold"}
    ),
    (DEV + "subscriptions/<uuid:subscription_id>", "PUT"): Req(json={"throttlingPolicy": "AsyncGold"}),
    # Admin v4
    (ADM + "throttling/policies/<str:level>", "POST"): Req(json={"policyName": "Matrix", "defaultLimit": _limit()}),
    (ADM + "throttling/policies/<str:level>/<int:policy_id>", "PUT"): Req(
        json={"policyName": "AsyncGold", "defaultLimit": _limit(50)}
    ),
    (ADM + "throttling/deny-policies", "POST"): Req(
        json={"conditionType": "IP", "conditionValue": {"fixedIp": "10.9.9.9"}}
    ),
    (ADM + "throttling/deny-policy/<uuid:condition_id>", "PATCH"): Req(json={"conditionStatus": True}),
    (ADM + "api-categories", "POST"): Req(json={"name": "Matrix"}),
    (ADM + "api-categories/<uuid:category_id>", "PUT"): Req(json={"name": "Renamed", "description": "d"}),
    (ADM + "throttling/policies/<str:level>/<int:policy_id>", "DELETE"): Req(path={"policy_id": "spare_policy_id"}),
    (ADM + "environments", "POST"): Req(json={"name": "Matrix"}),
    (ADM + "key-managers", "POST"): Req(
        json={
            "name": "other-idp",
            "issuer": "https://other.example",
            "certificates": {"type": "JWKS", "value": "https://other.example/jwks"},
        }
    ),
    (ADM + "workflows/update-workflow-status", "POST"): Req(
        query=lambda w: {"workflowReferenceId": w.reference_id}, json={"status": "APPROVED", "description": "ok"}
    ),
    # OAuth2 and the gateway's endpoints
    ("oauth2/token", "POST"): Req(form={"grant_type": "client_credentials"}),
    ("oauth2/revoke", "POST"): Req(form=lambda w: {"token": w.token}),
    ("oauth2/introspect", "POST"): Req(form=lambda w: {"token": w.token}),
    ("internal/gateway/analytics", "POST"): Req(json={"gatewayId": "gw-matrix", "rows": [], "connections": []}),
    # Pages
    ("login/", "POST"): Req(form={"username": "developer", "password": PASSWORD}),
    ("login/", "PUT"): Req(form={"username": "developer", "password": PASSWORD}),
    ("login/code", "POST"): Req(form={"code": "000000"}),
    ("account/two-factor/enrol", "POST"): Req(form={"code": "000000"}),
    ("account/two-factor/recovery-codes", "POST"): Req(form={"code": "000000"}),
    ("account/two-factor/remove", "POST"): Req(form={"code": "000000"}),
    ("signup/", "POST"): Req(
        form={"username": "newcomer", "password1": "pw-Newcomer-123", "password2": "pw-Newcomer-123"}
    ),
    ("publisher/apis/create", "POST"): Req(
        form={"name": "Paged", "context": "/paged", "version": "1.0.0", "endpoint": "ws://127.0.0.1:1/paged"}
    ),
    ("publisher/apis/import", "POST"): Req(form={"definition": CHAT, "context": "/page-imported"}),
    ("publisher/apis/import-project", "POST"): Req(files=_zip),
    ("publisher/apis/<uuid:api_id>/revisions/create", "POST"): Req(form={"description": "matrix"}),
    ("publisher/apis/<uuid:api_id>/revisions/restore", "POST"): Req(form=lambda w: {"revision": w.revision_id}),
    ("publisher/apis/<uuid:api_id>/revisions/delete", "POST"): Req(form=lambda w: {"revision": w.spare_revision_id}),
    ("publisher/apis/<uuid:api_id>/deploy", "POST"): Req(
        form=lambda w: {"revision": w.spare_revision_id, "environment": "Default"}
    ),
    ("publisher/apis/<uuid:api_id>/undeploy", "POST"): Req(
        form=lambda w: {"revision": w.revision_id, "environment": "Default"}
    ),
    ("publisher/apis/<uuid:api_id>/lifecycle", "POST"): Req(form={"action": "Block"}),
    ("publisher/apis/<uuid:api_id>/topics/save", "POST"): Req(
        form=lambda w: {"target": "/matrix", "publish": "on", "secured": "on", "etag": w.etag}
    ),
    ("publisher/apis/<uuid:api_id>/topics/delete", "POST"): Req(form=lambda w: {"target": "/spare", "etag": w.etag}),
    ("publisher/apis/<uuid:api_id>/scopes/save", "POST"): Req(
        form=lambda w: {"name": "matrix_scope", "description": "d", "etag": w.etag}
    ),
    ("publisher/apis/<uuid:api_id>/scopes/delete", "POST"): Req(
        form=lambda w: {"original": "spare_scope", "etag": w.etag}
    ),
    ("publisher/apis/<uuid:api_id>/endpoints/save", "POST"): Req(
        form=lambda w: {"production": "ws://127.0.0.1:1/v3", "sandbox": "", "etag": w.etag}
    ),
    ("publisher/apis/<uuid:api_id>/endpoints/test", "POST"): Req(
        form=lambda w: {"production": f"ws://127.0.0.1:{free_port()}/", "which": "production"}
    ),
    ("publisher/apis/<uuid:api_id>/plans/save", "POST"): Req(
        form=lambda w: {"policies": ["AsyncUnlimited"], "secured": "on", "etag": w.etag}
    ),
    ("publisher/apis/<uuid:api_id>/definition/save", "POST"): Req(form=lambda w: {"definition": CHAT, "etag": w.etag}),
    ("publisher/apis/<uuid:api_id>/definition/convert", "POST"): Req(form=lambda w: {"etag": w.etag}),
    ("publisher/apis/<uuid:api_id>/documents/save", "POST"): Req(
        form={
            "name": "Paged",
            "type": "HOWTO",
            "sourceType": "MARKDOWN",
            "visibility": "API_LEVEL",
            "inlineContent": "x",
        }
    ),
    ("publisher/apis/<uuid:api_id>/documents/delete", "POST"): Req(form=lambda w: {"document": w.document_id}),
    ("publisher/apis/<uuid:api_id>/thumbnail", "POST"): Req(files=_thumbnail),
    ("publisher/apis/<uuid:api_id>/subscriptions/block", "POST"): Req(
        form=lambda w: {"subscription": w.subscription_id, "state": "BLOCKED"}
    ),
    ("publisher/apis/<uuid:api_id>/analytics/disconnect", "POST"): Req(form=lambda w: {"connection": w.connection_id}),
    ("devportal/apis/<uuid:api_id>/subscribe", "POST"): Req(
        form=lambda w: {"application": w.default_application_id, "plan": "AsyncGold"}
    ),
    ("devportal/apis/<uuid:api_id>/test-key", "POST"): Req(
        form=lambda w: {"application": w.application_id, "key_type": "PRODUCTION"}
    ),
    ("devportal/applications", "POST"): Req(form={"name": "PageApp", "throttling_policy": "Unlimited"}),
    ("devportal/applications/<uuid:application_id>/update", "POST"): Req(
        form={"name": "Renamed", "throttling_policy": "Unlimited", "description": ""}
    ),
    ("devportal/applications/<uuid:application_id>/keys/generate", "POST"): Req(form={"key_type": "SANDBOX"}),
    ("devportal/applications/<uuid:application_id>/keys/regenerate-secret", "POST"): Req(
        form={"key_type": "PRODUCTION"}
    ),
    ("devportal/applications/<uuid:application_id>/keys/remove", "POST"): Req(form={"key_type": "PRODUCTION"}),
    ("devportal/applications/<uuid:application_id>/tokens/generate", "POST"): Req(
        form={"key_type": "PRODUCTION", "validity": "3600"}
    ),
    ("devportal/applications/<uuid:application_id>/tokens/revoke", "POST"): Req(
        form=lambda w: {"jti": IssuedToken.objects.get(client__key_mapping_id=w.key_mapping_id).jti}
    ),
    ("devportal/applications/<uuid:application_id>/api-keys/generate", "POST"): Req(
        form={"key_type": "SANDBOX", "validity": "-1"}
    ),
    ("devportal/applications/<uuid:application_id>/api-keys/revoke", "POST"): Req(
        form=lambda w: {"jti": flow_claims(w.api_key)["jti"]}
    ),
    ("devportal/subscriptions/<uuid:subscription_id>/plan", "POST"): Req(form={"plan": "AsyncGold"}),
    ("admin-portal/deny-policies/add/<str:condition_type>", "POST"): Req(form={"user-username": "developer"}),
    ("admin-portal/api-categories/create", "POST"): Req(form={"name": "Matrix", "description": ""}),
    ("admin-portal/api-categories/<uuid:category_id>/update", "POST"): Req(form={"edit-name": "Renamed"}),
    ("devportal/apis/<uuid:api_id>/rate", "POST"): Req(form={"rating": "4"}),
    ("devportal/apis/<uuid:api_id>/comments", "POST"): Req(form={"content": "From the matrix"}),
    ("devportal/apis/<uuid:api_id>/comments/<uuid:comment_id>/edit", "POST"): Req(form={"content": "Edited"}),
    ("admin-portal/tasks/<uuid:reference_id>/decide", "POST"): Req(form={"status": "APPROVED", "comment": "ok"}),
    ("admin-portal/settings/save", "POST"): Req(
        form={"signup_enabled": "on", "application_approval": "on", "default_policies": ["AsyncUnlimited"]}
    ),
    # The Admin Portal's forms
    ("admin-portal/policies/<str:level>/create", "POST"): Req(form=_policy_form("Matrix")),
    ("admin-portal/policies/<int:policy_id>/update", "POST"): Req(form=_policy_form("AsyncGold")),
    ("admin-portal/policies/<int:policy_id>/delete", "POST"): Req(path={"policy_id": "spare_policy_id"}),
    ("admin-portal/environments/create", "POST"): Req(
        form={"name": "Matrix", "host": "matrix", "ws_port": 9090, "wss_port": 9095}
    ),
    ("admin-portal/key-managers/create", "POST"): Req(
        form={
            "name": "page-idp",
            "issuer": "https://page.example",
            "jwks_url": "https://page.example/jwks",
            "consumer_key_claim": "azp",
        }
    ),
    ("admin-portal/key-managers/<int:issuer_id>/test-jwks", "POST"): Req(path={"issuer_id": "loopback_issuer_id"}),
    ("admin-portal/users/<int:user_id>/roles/grant", "POST"): Req(form={"role": "creator"}),
    ("admin-portal/users/<int:user_id>/roles/revoke", "POST"): Req(
        path={"user_id": "creator_user_id"}, form={"role": "creator"}
    ),
}


def _value(v, w):
    return v(w) if callable(v) else v


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def is_page(route: str) -> bool:
    return not route.startswith(("api/", "oauth2/", "internal/"))


def _path(route: str, w, overrides: dict[str, str]) -> str:
    def fill(m):
        name = overrides.get(m.group(1), m.group(1))
        if not hasattr(w, name):
            raise LookupError(f"/{route}: no object for <{m.group(1)}>; add {name} to build_world()")
        return str(getattr(w, name))

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)


def call(w, caller: str, route: str, method: str, *, send_body: bool = True):
    """One request as ``caller``; the response."""
    spec = REQUESTS.get((route, method), Req()) if send_body else Req()
    client = Client(raise_request_exception=False)
    headers: dict[str, str] = {}
    if caller in w.users:
        if is_page(route):
            client.force_login(w.users[caller])
        else:
            headers["Authorization"] = _basic(caller, PASSWORD)
    elif caller == "wrong_token":
        headers["Authorization"] = "Bearer not-the-gateway-token"
    elif caller == "gateway":
        headers["Authorization"] = f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}"
    elif caller == "client":
        headers["Authorization"] = _basic(w.consumer_key, w.consumer_secret)
    elif caller == "other_client":
        headers["Authorization"] = _basic(w.other_consumer_key, w.other_consumer_secret)
    path = _path(route, w, spec.path)
    query = _value(spec.query, w)
    if query:
        path += "?" + urlencode(query)
    kwargs: dict[str, Any] = {"headers": headers}
    if spec.json is not None:
        kwargs.update(data=json.dumps(_value(spec.json, w)), content_type="application/json")
    elif spec.files is not None:
        kwargs.update(data=encode_multipart(BOUNDARY, _value(spec.files, w)), content_type=MULTIPART_CONTENT)
    elif spec.form is not None:
        kwargs.update(
            data=urlencode(_value(spec.form, w), doseq=True), content_type="application/x-www-form-urlencoded"
        )
    return client.generic(method, path, **kwargs)


def observe(w, route: str, method: str, callers, **kwargs) -> dict[str, tuple[int, int, str]]:
    """Each caller's status, the audit records it left and where it was sent (a redirect's
    Location), each on fresh data: the call runs in a savepoint that is rolled back."""
    out = {}
    for caller in callers:
        cache.clear()  # the token endpoint counts failed attempts per address
        with transaction.atomic():
            before = AuditEvent.objects.count()
            response = call(w, caller, route, method, **kwargs)
            out[caller] = (response.status_code, AuditEvent.objects.count() - before, response.get("Location", ""))
            transaction.set_rollback(True)
    return out


def refuses(cell) -> bool:
    return isinstance(cell, str) or cell >= 400


# Pages for anonymous callers; every other page sends them to the login page (302).
ANONYMOUS_PAGES = {"", "healthz", "login/", "logout/", "signup/"}


def sent_to_login(route: str, caller: str, cell) -> bool:
    return caller == "anonymous" and is_page(route) and route not in ANONYMOUS_PAGES and cell == 302


def mismatches(route: str, method: str, observed: dict[str, tuple[int, int, str]]) -> list[str]:
    wrong = []
    for caller, (status, audited, location) in observed.items():
        want = MATRIX[(route, method)][caller]
        if status != int(str(want).split()[0]):
            wrong.append(f"{caller}: expected {want}, got {status}")
        elif refuses(want) and audited:
            wrong.append(f"{caller}: refused with {status} but left {audited} audit record(s): it changed something")
        elif sent_to_login(route, caller, want) and not location.startswith(settings.LOGIN_URL):
            wrong.append(f"anonymous: sent to {location!r}, not to the login page")
    return wrong


# ---------------------------------------------------------------- the matrix


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The data every row is called on, made once for the module inside a transaction that is
    rolled back at the end; each call runs in its own savepoint inside it (the test settings'
    password hasher is a cheap one: HTTP Basic checks a password on every request)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            yield build_world()
            transaction.set_rollback(True)


def _cases():
    for key, cells in MATRIX.items():
        route, method = key
        hole_callers, reason = HOLES.get(key, ((), ""))
        kept = tuple(c for c in cells if c not in hole_callers)
        name = f"{method} /{route}"
        if kept:
            yield pytest.param(route, method, kept, id=name)
        if hole_callers:
            yield pytest.param(
                route, method, hole_callers, id=f"{name} [HOLE]", marks=pytest.mark.xfail(strict=True, reason=reason)
            )


@pytest.mark.parametrize("route,method,callers", list(_cases()))
def test_authorization_matrix(world, route, method, callers):
    observed = observe(world, route, method, callers)
    crashed = {c: s for c, (s, _, _) in observed.items() if s >= 500}
    assert not crashed, f"{method} /{route} crashed: {crashed}"
    wrong = mismatches(route, method, observed)
    assert not wrong, f"{method} /{route}:\n    " + "\n    ".join(wrong)


def _refused_everywhere(route: str, caller: str) -> bool:
    cells = [cells[caller] for (r, _), cells in MATRIX.items() if r == route]
    return bool(cells) and all(refuses(c) or sent_to_login(route, caller, c) for c in cells)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_open_nothing_the_other_methods_refuse(world, method):
    """HEAD (Django runs GET for it) and OPTIONS (DRF's metadata) have no rows of their own:
    to a caller every row of a route refuses, they must refuse too (never 2xx, never 5xx)."""
    wrong = []
    for route in sorted(url_routes()):
        for caller in ("anonymous", "developer"):
            if not _refused_everywhere(route, caller):
                continue
            status, _, _ = observe(world, route, method, [caller], send_body=False)[caller]
            if status < 300 or status >= 500:
                wrong.append(f"{method} /{route} as {caller}: {status}")
    assert not wrong, "\n".join(wrong)


def test_listing_by_another_developers_application_is_not_found(world):
    """The subscription list filtered by the developer's application id lists its one
    subscription to the developer and answers 404 to the other developer, who learns nothing."""
    response = call(world, "developer", DEV + "subscriptions", "GET")
    assert response.status_code == 200 and response.json()["count"] == 1, response.content
    response = call(world, "other_developer", DEV + "subscriptions", "GET")
    assert response.status_code == 404, response.content


def test_another_client_cannot_introspect_the_token(world):
    """RFC 7662: the other developer's client learns nothing of the developer's token."""
    mine = call(world, "client", "oauth2/introspect", "POST").json()
    assert mine["active"] is True and mine["sub"] == "developer"
    assert call(world, "other_client", "oauth2/introspect", "POST").json() == {"active": False}


def test_rest_reads_answer_a_signed_in_session_as_they_answer_basic(world):
    """The browser's way into REST (a session) grants what HTTP Basic grants, no more."""
    wrong = []
    for (route, method), cells in MATRIX.items():
        if is_page(route) or method != "GET" or not route.startswith("api/am/"):
            continue
        for caller, user in world.users.items():
            client = Client(raise_request_exception=False)
            client.force_login(user)
            spec = REQUESTS.get((route, method), Req())
            query = _value(spec.query, world)
            path = _path(route, world, spec.path) + ("?" + urlencode(query) if query else "")
            status = client.get(path).status_code
            if status != cells[caller]:
                wrong.append(f"GET /{route} as {caller} (session): {status}, with Basic {cells[caller]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "route",
    [
        DEV + "apis/<uuid:api_id>",
        DEV + "apis/<uuid:api_id>/topics",
        "devportal/apis/<uuid:api_id>",
        "devportal/apis/<uuid:api_id>/documentation",
    ],
)
def test_dev_portal_hides_an_api_that_is_not_published(world, route):
    """The matrix's API is published; the creator's draft is nobody's business in the Dev Portal."""
    draft = SimpleNamespace(**{**vars(world), "api_id": world.draft_api_id})
    for caller in ("anonymous", "developer", "other_developer", "creator", "publisher", "admin"):
        assert call(draft, caller, route, "GET", send_body=False).status_code == 404, caller


@pytest.mark.parametrize(
    "route",
    [
        DEV + "apis/<uuid:api_id>",
        DEV + "apis/<uuid:api_id>/topics",
        "devportal/apis/<uuid:api_id>",
        "devportal/apis/<uuid:api_id>/documentation",
    ],
)
def test_dev_portal_hides_a_restricted_api_from_those_without_its_role(world, route):
    """Restricted to the publisher role: not found (404, not 403) for visitors and developers;
    the holder of the role, the API's provider and admins see it."""
    api = Api.objects.get(pk=world.api_id)
    pub.api_update(
        api=api, user=world.users["creator"], changes={"visibility": "RESTRICTED", "visibleRoles": ["publisher"]}
    )
    expected = row(404, 404, 404, 200, 200, 200)
    for caller, status in expected.items():
        assert call(world, caller, route, "GET", send_body=False).status_code == status, caller


@pytest.mark.parametrize(
    "route,method",
    [
        (PUB + "apis/<uuid:api_id>", "PUT"),
        (PUB + "apis/<uuid:api_id>/asyncapi", "PUT"),
        (PUB + "apis/<uuid:api_id>", "DELETE"),
    ],
)
def test_another_creator_cannot_change_or_delete_the_creators_api(world, route, method):
    """A third user with the creator role, like "creator" but not the API's provider: 403
    naming the provider, and the API (the working copy or the draft) is as it was."""
    from publisher.dto import api_dto
    from publisher.models import Api

    with transaction.atomic():
        other = factories.user("other_creator", roles=["creator"], password=PASSWORD)
        w = SimpleNamespace(**{**vars(world), "users": {**world.users, "other_creator": other}})
        target = world.draft_api_id if method == "DELETE" else world.api_id
        before = api_dto(Api.objects.get(pk=target)), Api.objects.get(pk=target).definition
        audits = AuditEvent.objects.count()
        response = call(w, "other_creator", route, method)
        assert response.status_code == 403, response.content
        assert response.json() == {
            "code": 403,
            "message": "Forbidden",
            "description": "This API belongs to creator; only its provider or an admin may change it",
        }
        api = Api.objects.get(pk=target)
        assert (api_dto(api), api.definition) == before
        assert AuditEvent.objects.count() == audits
        transaction.set_rollback(True)
