"""Issue 16: ids in URLs go through Django's path converters (``<uuid:>``, ``<int:>``) instead of
checks by hand in each view. A REST URL whose id is malformed then matches no pattern: it
must still answer the JSON error body (404), whether DEBUG is on or not, and change nothing;
the OpenAPI document says which ids are UUIDs."""

from __future__ import annotations

import base64
import re

import pytest
import yaml
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

NOT_FOUND = {"code": 404, "message": "Not Found", "description": "The requested resource does not exist"}


def id_routes() -> list[tuple[str, list[str]]]:
    """Each REST route with a <uuid:> or <int:> parameter, and the methods its view answers."""
    out = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/am/") and re.search(r"<(uuid|int):", route):
                    cls = p.callback.cls
                    out.append((route, [m.upper() for m in cls.http_method_names if hasattr(cls, m) and m != "head"]))

    walk(get_resolver().url_patterns, "")
    return out


def test_the_rest_urls_take_their_ids_through_converters():
    routes = dict(id_routes())
    assert len(routes) >= 25, sorted(routes)
    assert "api/am/publisher/v4/apis/<uuid:api_id>" in routes
    assert "api/am/admin/v4/environments/<int:environment_id>" in routes
    leftover = [
        str(p)
        for r in get_resolver().url_patterns
        if isinstance(r, URLResolver)
        for p in r.url_patterns
        if re.search(r"<str:\w*_id>", str(p.pattern)) and "connection_id" not in str(p.pattern)
    ]
    assert not leftover, leftover


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("malformed", ["not-an-id", "12ab", "1.5"])
def test_a_malformed_id_in_a_rest_url_is_the_json_404_and_changes_nothing(debug, malformed):
    """Every method of every REST route with an id, each id malformed in turn, as a superuser
    over HTTP Basic: 404 with the JSON error body, never Django's HTML page, nothing audited."""
    factories.user("root", superuser=True, password="pw-Root-123")
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=_basic("root", "pw-Root-123"))
    wrong = []
    with override_settings(DEBUG=debug):
        for route, methods in id_routes():
            for param in re.findall(r"<(?:uuid|int):(\w+)>", route):
                url = "/" + re.sub(
                    r"<(\w+):(\w+)>",
                    lambda m, p=param: malformed if m.group(2) == p else _good(m.group(1), m.group(2)),
                    route,
                )
                for method in methods:
                    before = AuditEvent.objects.count()
                    resp = client.generic(method, url, "{}", content_type="application/json")
                    body = resp.json() if resp.get("Content-Type", "").startswith("application/json") else None
                    if resp.status_code != 404 or not body or body.get("code") != 404:
                        wrong.append(f"{method} {url}: {resp.status_code} {resp.get('Content-Type')}")
                    if AuditEvent.objects.count() != before:
                        wrong.append(f"{method} {url}: audited")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_rest_path_is_the_json_404_and_an_unknown_page_is_not(debug):
    with override_settings(DEBUG=debug):
        for path in ("/api/am/publisher/v4/nothing-here", "/api/am/devportal/v3/apis/x/y/z", "/api/nothing"):
            resp = Client().get(path)
            assert resp.status_code == 404 and resp["Content-Type"] == "application/json", (path, resp.content[:200])
            assert resp.json() == NOT_FOUND
        page = Client().get("/publisher/apis/not-an-id/topics")
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_the_openapi_document_says_which_ids_are_uuids():
    document = yaml.safe_load(Client().get("/api/openapi.yaml").content)
    formats = {}
    for item in document["paths"].values():
        for op in item.values():
            for p in op.get("parameters", []) if isinstance(op, dict) else []:
                if p["in"] == "path":
                    formats.setdefault(p["name"], set()).add(p["schema"].get("format") or p["schema"].get("pattern"))
    for name in ("api_id", "revision_id", "application_id", "key_mapping_id", "subscription_id"):
        assert formats[name] == {"uuid"}, (name, formats[name])
    for name in ("policy_id", "environment_id", "issuer_id"):
        assert formats[name] == {"^[0-9]{1,18}$"}, (name, formats[name])


def _good(converter: str, name: str) -> str:
    """A well-formed value for a parameter: the 404 is then the malformed one's doing."""
    if converter == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return "1" if converter == "int" else {"level": "subscription", "policy_level": "subscription"}.get(name, "x")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
