"""Issue 16: the apim:* scope each REST call needs is declared on its view and checked by one
permission (portal/rest.py), and a view that declares none is refused (fail closed).

The WSO2 scope of every (route, method) is pinned below as it was under the old URL-prefix
table of the old portal/auth.py; each is called through the real URLconf with Key Manager bearer
tokens: one holding every apim:* scope but that one is refused with the scope named, one
holding only that one is not refused for want of a scope.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework.response import Response

from devportal import services as dp
from keymanager.scopes import APIM_SCOPES
from keymanager.server import token_issue
from keymanager.services import keys_generate
from portal.models import AuditEvent
from portal.rest import RequiredScope, ScopedAPIView
from tests import factories

pytestmark = pytest.mark.django_db

V = "apim:api_view"
C = "apim:api_create"
P = "apim:api_publish"
IE = "apim:api_import_export"
SV = "apim:subscription_view"
SB = "apim:subscription_block"
S = "apim:subscribe"
AM = "apim:app_manage"
SM = "apim:sub_manage"
A = "apim:admin"
TV = "apim:tier_view"

PUB = "api/am/publisher/v4/"
DEV = "api/am/devportal/v3/"
ADM = "api/am/admin/v4/"

# fmt: off
# Route (its parameters as {name}) -> the scope of each method; OPTIONS (and HEAD) need the read scope.
EXPECTED: dict[str, dict[str, str]] = {
    PUB + "apis":                                     {"GET": V, "POST": C, "OPTIONS": V},
    PUB + "apis/import-asyncapi":                     {"POST": C, "OPTIONS": V},
    PUB + "apis/validate-asyncapi":                   {"POST": C, "OPTIONS": V},
    PUB + "apis/validate-endpoint":                   {"POST": C, "OPTIONS": V},
    PUB + "apis/change-lifecycle":                    {"POST": P, "OPTIONS": V},
    PUB + "apis/export":                              {"GET": IE, "OPTIONS": IE},
    PUB + "apis/import":                              {"POST": IE, "OPTIONS": V},
    PUB + "apis/{api_id}":                            {"GET": V, "PUT": C, "DELETE": C, "OPTIONS": V},
    PUB + "apis/{api_id}/asyncapi":                   {"GET": V, "PUT": C, "OPTIONS": V},
    PUB + "apis/{api_id}/asyncapi/convert":           {"POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/revisions":                  {"GET": V, "POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/revisions/{revision_id}":    {"GET": V, "DELETE": C, "OPTIONS": V},
    PUB + "apis/{api_id}/restore-revision":           {"POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/generate-key":               {"POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/analytics":                  {"GET": V, "OPTIONS": V},
    PUB + "apis/{api_id}/connections":                {"GET": V, "OPTIONS": V},
    PUB + "apis/{api_id}/connections/{connection_id}/disconnect": {"POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/deploy-revision":            {"POST": P, "OPTIONS": V},
    PUB + "apis/{api_id}/undeploy-revision":          {"POST": P, "OPTIONS": V},
    PUB + "apis/{api_id}/deployments":                {"GET": V, "OPTIONS": V},
    PUB + "apis/{api_id}/lifecycle-history":          {"GET": V, "OPTIONS": V},
    PUB + "apis/{api_id}/documents":                  {"GET": V, "POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/documents/{document_id}":    {"GET": V, "PUT": C, "DELETE": C, "OPTIONS": V},
    PUB + "apis/{api_id}/documents/{document_id}/content": {"GET": V, "POST": C, "OPTIONS": V},
    PUB + "apis/{api_id}/thumbnail":                  {"GET": V, "PUT": C, "OPTIONS": V},
    PUB + "throttling-policies/streaming/subscription": {"GET": V, "OPTIONS": V},
    PUB + "settings":                                 {"GET": V, "OPTIONS": V},
    PUB + "subscriptions":                            {"GET": SV, "OPTIONS": SV},
    PUB + "subscriptions/block-subscription":         {"POST": SB, "OPTIONS": SV},
    PUB + "subscriptions/unblock-subscription":       {"POST": SB, "OPTIONS": SV},
    DEV + "apis":                                     {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}":                            {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/topics":                     {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/documents":                  {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/documents/{document_id}":    {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/documents/{document_id}/content": {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/thumbnail":                  {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/ratings":                    {"GET": S, "OPTIONS": S},
    DEV + "apis/{api_id}/user-rating":                {"GET": S, "PUT": S, "DELETE": S, "OPTIONS": S},
    DEV + "apis/{api_id}/comments":                   {"GET": S, "POST": S, "OPTIONS": S},
    DEV + "apis/{api_id}/comments/{comment_id}":      {"GET": S, "PATCH": S, "DELETE": S, "OPTIONS": S},
    DEV + "api-categories":                           {"GET": S, "OPTIONS": S},
    DEV + "applications":                             {"GET": S, "POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}":            {"GET": S, "PUT": AM, "DELETE": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/generate-keys": {"POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/oauth-keys": {"GET": S, "OPTIONS": S},
    DEV + "applications/{application_id}/oauth-keys/{key_mapping_id}/generate-token": {"POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/oauth-keys/{key_mapping_id}/regenerate-secret": {"POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/oauth-keys/{key_mapping_id}/clean-up": {"POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/api-keys/{key_type}/generate": {"POST": AM, "OPTIONS": S},
    DEV + "applications/{application_id}/api-keys/{key_type}/revoke": {"POST": AM, "OPTIONS": S},
    DEV + "subscriptions":                            {"GET": S, "POST": SM, "OPTIONS": S},
    DEV + "subscriptions/{subscription_id}":          {"GET": S, "PUT": SM, "DELETE": SM, "OPTIONS": S},
    DEV + "throttling-policies/{policy_level}":       {"GET": S, "OPTIONS": S},
    ADM + "throttling/policies/{level}":              {"GET": TV, "POST": A, "OPTIONS": TV},
    ADM + "throttling/policies/{level}/{policy_id}":  {"GET": TV, "PUT": A, "DELETE": A, "OPTIONS": TV},
    ADM + "throttling/deny-policies":                 {"GET": A, "POST": A, "OPTIONS": A},
    ADM + "throttling/deny-policy/{condition_id}":    {"GET": A, "PATCH": A, "DELETE": A, "OPTIONS": A},
    ADM + "api-categories":                           {"GET": A, "POST": A, "OPTIONS": A},
    ADM + "api-categories/{category_id}":             {"PUT": A, "DELETE": A, "OPTIONS": A},
    ADM + "workflows":                                {"GET": A, "OPTIONS": A},
    ADM + "workflows/{reference_id}":                 {"GET": A, "OPTIONS": A},
    ADM + "workflows/update-workflow-status":         {"POST": A, "OPTIONS": A},
    ADM + "environments":                             {"GET": A, "POST": A, "OPTIONS": A},
    ADM + "environments/{environment_id}":            {"DELETE": A, "OPTIONS": A},
    ADM + "key-managers":                             {"GET": A, "POST": A, "OPTIONS": A},
    ADM + "key-managers/{issuer_id}":                 {"GET": A, "DELETE": A, "OPTIONS": A},
    ADM + "users/{username}/deactivate":              {"POST": A, "OPTIONS": A},
    ADM + "users/{username}/activate":                {"POST": A, "OPTIONS": A},
}
# fmt: on


def rest_routes() -> dict[str, tuple[str, object]]:
    """Every URL pattern under /api/am/: its route with parameters as {name}, its route text
    as written (converters and all) and its view."""
    out = {}

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and (prefix + str(p.pattern)).startswith("api/am/"):
                route = prefix + str(p.pattern)
                out[re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = (route, p.callback)

    walk(get_resolver().url_patterns, "")
    return out


def answered_methods(view) -> list[str]:
    cls = view.cls
    return sorted(m.upper() for m in cls.http_method_names if hasattr(cls, m) and m != "head")


def test_every_rest_route_has_its_scopes_pinned_here():
    assert sorted(rest_routes()) == sorted(EXPECTED)
    for name, (_, view) in rest_routes().items():
        assert answered_methods(view) == sorted(EXPECTED[name]), name


def test_every_rest_view_declares_the_scope_of_each_method_it_answers():
    """Fail closed is the backstop; this keeps it from being reached: each view under /api/am/
    is a ScopedAPIView (so RequiredScope runs first) declaring a known apim:* scope for every
    method it answers, HEAD and OPTIONS included."""
    missing = []
    for name, (_, view) in rest_routes().items():
        cls = view.cls
        if not issubclass(cls, ScopedAPIView) or not isinstance(cls().get_permissions()[0], RequiredScope):
            missing.append(f"{name}: {cls.__name__} is no ScopedAPIView")
            continue
        methods = answered_methods(view) + (["HEAD"] if hasattr(cls, "get") else [])
        for method in methods:
            if cls.required_scopes.get(method) not in APIM_SCOPES:
                missing.append(f"{method} /{name}: {cls.__name__} declares {cls.required_scopes.get(method)!r}")
    assert not missing, "\n".join(missing)


@pytest.fixture
def tokens():
    """Bearer tokens of a superuser (every role): ``only[s]`` holds the scope s alone,
    ``all_but[s]`` every apim:* scope except s."""
    owner = factories.user("root", superuser=True)
    app = dp.application_ensure_default(user=owner)
    client, _ = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=owner)

    def issue(scope_set):
        token = token_issue(client=client, scope=" ".join(sorted(scope_set)))
        assert set(token["scope"].split()) == set(scope_set)
        return token["access_token"]

    return {
        "only": {s: issue({s}) for s in APIM_SCOPES},
        "all_but": {s: issue(set(APIM_SCOPES) - {s}) for s in APIM_SCOPES},
    }


def _url(route: str) -> str:
    """The route with well-formed ids of nothing: the scope is judged before any lookup."""
    values = {"uuid": str(uuid.uuid4()), "int": "424242", "str": "nothing"}
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: values[m.group(1) or "str"], route)


def test_a_token_without_the_scope_a_call_needs_is_refused_naming_it(tokens):
    """Each (route, method): a token with every other apim:* scope is refused, 403 with the
    WSO2 scope named, and nothing is recorded; a token with that scope alone gets past it."""
    wrong = []
    for name, (route, _) in sorted(rest_routes().items()):
        for method, scope in EXPECTED[name].items():
            before = AuditEvent.objects.count()
            refused = Client().generic(method, _url(route), HTTP_AUTHORIZATION=f"Bearer {tokens['all_but'][scope]}")
            body = refused.json()
            if (refused.status_code, body) != (
                403,
                {"code": 403, "message": "Forbidden", "description": f"This call needs a token with the {scope} scope"},
            ):
                wrong.append(f"{method} /{name} without {scope}: {refused.status_code} {body}")
            if AuditEvent.objects.count() != before:
                wrong.append(f"{method} /{name} without {scope}: refused but audited")
            allowed = Client().generic(method, _url(route), HTTP_AUTHORIZATION=f"Bearer {tokens['only'][scope]}")
            if allowed.status_code in (401, 403) or allowed.status_code >= 500:
                wrong.append(f"{method} /{name} with only {scope}: {allowed.status_code} {allowed.content[:200]}")
    assert not wrong, "\n".join(wrong)


class _Undeclared(ScopedAPIView):
    def get(self, request):
        return Response({"reached": True})


class _GetOnly(ScopedAPIView):
    required_scopes = {"GET": "apim:api_view"}

    def get(self, request):
        return Response({"reached": True})

    def post(self, request):
        return Response({"reached": True})


urlpatterns = [path("undeclared", _Undeclared.as_view()), path("get-only", _GetOnly.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_a_method_whose_view_declares_no_scope_is_refused_to_everyone(tokens):
    """Fail closed: a view (or a method of one) that says nothing about scopes answers 403 to
    a superuser, signed in or with a token holding every scope, and 401 to nobody signed in."""
    session = Client()
    session.force_login(factories.user("session", superuser=True))
    everything = tokens["all_but"]["apim:tier_manage"]  # the one scope no view asks for
    for method, route in (("GET", "/undeclared"), ("POST", "/get-only")):
        for client, headers in ((session, {}), (Client(), {"HTTP_AUTHORIZATION": f"Bearer {everything}"})):
            resp = client.generic(method, route, **headers)
            assert resp.status_code == 403, (method, route, resp.content)
            assert resp.json()["description"] == f"{method} here declares no required scope, so it is refused"
        assert Client().generic(method, route).status_code == 401
    assert Client().get("/get-only", HTTP_AUTHORIZATION=f"Bearer {everything}").json() == {"reached": True}
