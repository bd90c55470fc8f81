"""The served OpenAPI document is valid OpenAPI 3 and lists every REST route and method."""

import re

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db


def _routes(patterns=None, prefix=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def _rest_routes():
    out = {}
    for route, callback in _routes():
        view = getattr(callback, "cls", None)
        if not route.startswith("api/am/") or view is None or not issubclass(view, APIView):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        methods = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
        out[path] = methods
    return out


def test_openapi_document_is_valid_and_covers_every_rest_route(client):
    resp = client.get("/api/openapi.yaml")
    assert resp.status_code == 200
    schema = yaml.safe_load(resp.content)
    validate_schema(schema)  # raises on anything that is not OpenAPI 3

    routes = _rest_routes()
    assert len(routes) > 40  # the walk found the Publisher, Dev Portal and Admin APIs
    missing = [
        f"{method.upper()} {path}"
        for path, methods in routes.items()
        for method in methods
        if method not in schema["paths"].get(path, {})
    ]
    assert missing == []
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_its_errors(client):
    schema = yaml.safe_load(client.get("/api/openapi.yaml").content)
    for path, item in schema["paths"].items():
        if not path.startswith("/api/am/"):
            continue
        for method, op in item.items():
            assert "401" in op["responses"], f"{method} {path}"
            if method == "put":
                assert "412" in op["responses"], f"{method} {path}"
    put = schema["paths"]["/api/am/publisher/v4/apis/{api_id}"]["put"]
    assert put["responses"]["412"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_deploy_and_undeploy_document_the_wait_and_its_timeout_answer(client):
    schema = yaml.safe_load(client.get("/api/openapi.yaml").content)
    for name in ("deploy-revision", "undeploy-revision"):
        op = next(item["post"] for path, item in schema["paths"].items() if path.endswith(f"/{name}"))
        assert {"wait", "timeout", "revisionId"} <= {p["name"] for p in op["parameters"]}, name
        pending = op["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
        assert pending.endswith("/DeployPending"), name
