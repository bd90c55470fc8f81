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


# Regression tests for what Schemathesis found, each with the smallest request
# (tests/test_schemathesis.py runs it against a real portal).

BASE = "/api/am/publisher/v4"


def _doc(client):
    return yaml.safe_load(client.get("/api/openapi.yaml").content)


def test_basic_auth_is_a_documented_scheme_so_a_client_knows_how_to_sign_in(client):
    doc = _doc(client)
    assert doc["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}
    assert {"basicAuth": []} in doc["paths"][f"{BASE}/apis"]["get"]["security"]


def test_definition_uploads_are_multipart_and_say_what_is_required(client):
    doc = _doc(client)
    for path, method in (("/apis/validate-asyncapi", "post"), ("/apis/import-asyncapi", "post")):
        body = doc["paths"][BASE + path][method]["requestBody"]
        multipart = body["content"]["multipart/form-data"]["schema"]
        assert multipart["properties"]["file"] == {"type": "string", "format": "binary"}
        assert {"required": ["inlineAPIDefinition"]} in multipart["anyOf"]
        assert body["content"]["application/json"]["schema"]["anyOf"]  # {} is not valid by the schema
    archive = doc["paths"][BASE + "/apis/import"]["post"]["requestBody"]["content"]
    assert list(archive) == ["multipart/form-data"]
    assert archive["multipart/form-data"]["schema"]["required"] == ["file"]


def test_validate_asyncapi_with_an_empty_object_is_refused_as_the_schema_says(client):
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == 400


def test_every_status_an_operation_answers_is_documented_with_the_error_body(client):
    doc = _doc(client)
    for path in ("/subscriptions/block-subscription", "/subscriptions/unblock-subscription", "/apis/change-lifecycle"):
        op = doc["paths"][BASE + path]["post"]
        assert op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), path
        assert {"subscriptionId", "apiId"} & {p["name"] for p in op["parameters"]}, path
    assert client.post(f"{BASE}/subscriptions/block-subscription").status_code == 404
    export = doc["paths"][BASE + "/apis/export"]["get"]
    assert "404" in export["responses"] and "application/zip" in export["responses"]["200"]["content"]
    for path in ("/api/am/admin/v4/environments", "/api/am/admin/v4/key-managers"):
        post = doc["paths"][path]["post"]
        assert "201" in post["responses"] and "200" not in post["responses"], path
        assert post["requestBody"]["required"] is True, path


def test_create_operations_link_their_id_to_the_operations_that_take_it(client):
    doc = _doc(client)
    links = doc["paths"][f"{BASE}/apis"]["post"]["responses"]["201"]["links"]
    assert links["GetApi"] == {"operationId": "api_detail_get", "parameters": {"api_id": "$response.body#/id"}}
    operation_ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    for item in doc["paths"].values():
        for op in item.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operation_ids
    revision = doc["paths"][f"{BASE}/apis/{{api_id}}/revisions"]["post"]["responses"]["201"]["links"]
    assert revision["DeployRevision"]["parameters"]["revisionId"] == "$response.body#/id"


def test_undeploy_answers_json_as_documented(client, publisher):
    from tests import factories

    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    client.post(f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", [{"name": "Default"}], format="json")
    resp = client.post(f"{BASE}/apis/{api.id}/undeploy-revision?revisionId={rev['id']}&allEnvironments=true")
    assert resp.status_code == 201
    assert resp["Content-Type"] == "application/json" and resp.json() == []


def _deployed(client, publisher):
    from tests import factories

    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    client.post(f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", [{"name": "Default"}], format="json")
    return f"{BASE}/apis/{api.id}", rev["id"]


def _deployment_names(client, api_url):
    return [d["name"] for d in client.get(f"{api_url}/deployments").json()["list"]]


def test_undeploy_everywhere_still_checks_the_body_it_was_sent(client, publisher):
    """Schemathesis: with ``allEnvironments=true`` a malformed body was not looked at (201)."""
    api_url, rev = _deployed(client, publisher)
    bad = [{"name": "Default", "displayOnDevportal": {}}]
    resp = client.post(f"{api_url}/undeploy-revision?revisionId={rev}&allEnvironments=true", bad, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "displayOnDevportal"
    assert _deployment_names(client, api_url) == ["Default"]


@pytest.mark.parametrize("body", [None, []], ids=["no body", "empty list"])
def test_undeploy_naming_no_environment_is_refused_not_taken_as_everywhere(client, publisher, body):
    """A careless call without a body used to undeploy the revision from every environment."""
    api_url, rev = _deployed(client, publisher)
    url = f"{api_url}/undeploy-revision?revisionId={rev}"
    resp = client.post(url) if body is None else client.post(url, body, format="json")
    assert resp.status_code == 400 and "allEnvironments=true" in resp.json()["description"]
    assert _deployment_names(client, api_url) == ["Default"]


def test_undeploy_everywhere_with_an_empty_object_for_a_body_is_refused(client, publisher):
    """Schemathesis: ``{}`` beside ``allEnvironments=true`` was taken for no body."""
    api_url, rev = _deployed(client, publisher)
    resp = client.post(f"{api_url}/undeploy-revision?revisionId={rev}&allEnvironments=true", {}, format="json")
    assert resp.status_code == 400
    assert _deployment_names(client, api_url) == ["Default"]


def test_undeploy_all_environments_must_be_true_or_false(client, publisher):
    api_url, rev = _deployed(client, publisher)
    resp = client.post(f"{api_url}/undeploy-revision?revisionId={rev}&allEnvironments=1")
    assert resp.status_code == 400 and "allEnvironments" in resp.json()["description"]
    assert _deployment_names(client, api_url) == ["Default"]


def test_an_empty_inline_definition_beside_a_file_is_refused_not_ignored(client):
    """Schemathesis: an empty ``inlineAPIDefinition`` form part (the document says minLength 1)
    was skipped and the upload validated instead."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from testsupport.documents import CHAT_ASYNCAPI

    upload = SimpleUploadedFile("chat.yaml", CHAT_ASYNCAPI.encode(), content_type="application/yaml")
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {"file": upload, "inlineAPIDefinition": ""})
    assert resp.status_code == 400 and "inlineAPIDefinition is empty" in resp.json()["description"]


def test_validate_endpoint_without_a_url_is_refused(client):
    resp = client.post(f"{BASE}/apis/validate-endpoint")
    assert resp.status_code == 400
    assert "endpointUrl" in resp.json()["description"]


def test_request_strings_say_they_refuse_blank_and_nul(client):
    schema = _doc(client)["components"]["schemas"]["ApplicationListCreateRequest"]
    assert schema["properties"]["name"]["minLength"] == 1
    assert re.fullmatch(schema["properties"]["name"]["pattern"], "x\x00") is None
    assert re.fullmatch(schema["properties"]["name"]["pattern"], "   ") is None


def test_validate_asyncapi_refuses_a_return_content_that_is_not_a_boolean(client):
    resp = client.post(f"{BASE}/apis/validate-asyncapi?returnContent=0", {"inlineAPIDefinition": "x"}, format="json")
    assert resp.status_code == 400 and "returnContent" in resp.json()["description"]


def test_deploy_wait_timeout_is_documented_with_its_bounds(client):
    op = _doc(client)["paths"][BASE + "/apis/{api_id}/undeploy-revision"]["post"]
    timeout = next(p for p in op["parameters"] if p["name"] == "timeout")
    assert timeout["schema"]["maximum"] == 120 and timeout["schema"]["exclusiveMinimum"] is True


def test_additional_properties_sent_as_a_list_is_refused_not_a_server_error(client):
    body = {"additionalProperties": [None, None], "inlineAPIDefinition": "0"}
    resp = client.post(f"{BASE}/apis/validate-asyncapi", body, format="json")
    assert resp.status_code == 400 and "additionalProperties" in resp.json()["description"]


def test_names_with_their_own_pattern_say_it_so_a_client_does_not_send_unicode(client):
    schemas = _doc(client)["components"]["schemas"]
    for schema, field in (("EnvironmentInput", "name"), ("PolicyInput", "policyName")):
        pattern = schemas[schema]["properties"][field]["pattern"]
        assert re.fullmatch(pattern, "Gateway_2-eu"), schema
        assert re.fullmatch(pattern, "Zürich") is None, schema


def test_query_values_outside_their_enum_get_a_documented_400(client, publisher):
    from tests import factories

    op = _doc(client)["paths"][BASE + "/apis/{api_id}/analytics"]["get"]
    assert op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    resp = client.get(f"{BASE}/apis/{factories.api(publisher).id}/analytics?range=x")
    assert resp.status_code == 400 and resp.json()["code"] == 400


def test_an_api_description_longer_than_documented_is_refused(client):
    body = {
        "name": "Long",
        "context": "/long",
        "version": "1.0.0",
        "description": "x" * 5001,
        "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/x"}},
    }
    resp = client.post(f"{BASE}/apis", body, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "description"
    assert client.get(f"{BASE}/apis?query=Long").json()["count"] == 0


def test_an_environment_host_says_its_pattern(client):
    host = _doc(client)["components"]["schemas"]["_VhostInput"]["properties"]["host"]["pattern"]
    assert re.fullmatch(host, "gw-1.example.com") and re.fullmatch(host, "ÚîÈ") is None


def test_additional_properties_sent_as_null_is_refused_not_ignored(client):
    body = {"additionalProperties": None, "inlineAPIDefinition": "0"}
    resp = client.post(f"{BASE}/apis/validate-asyncapi", body, format="json")
    assert resp.status_code == 400 and "additionalProperties" in resp.json()["description"]


def test_a_revision_query_outside_its_enum_is_refused_not_ignored(client, publisher):
    from tests import factories

    resp = client.get(f"{BASE}/apis/{factories.api(publisher).id}/revisions?query=AAA")
    assert resp.status_code == 400 and "deployed:true" in resp.json()["description"]


def test_an_inline_definition_that_is_not_text_is_refused_not_a_server_error(client, publisher):
    from tests import factories

    body = {"inlineAPIDefinition": [None, None]}
    resp = client.post(f"{BASE}/apis/import-asyncapi", body, format="json")
    assert resp.status_code == 400 and "inlineAPIDefinition" in resp.json()["description"]
    assert client.get(f"{BASE}/apis").json()["count"] == 0
    api = factories.api(publisher)
    before = client.get(f"{BASE}/apis/{api.id}/asyncapi").json()
    resp = client.put(f"{BASE}/apis/{api.id}/asyncapi", body, format="json")
    assert resp.status_code == 400 and "inlineAPIDefinition" in resp.json()["description"]
    assert client.get(f"{BASE}/apis/{api.id}/asyncapi").json() == before


def test_an_empty_definition_url_is_refused_even_beside_an_inline_definition(client):
    body = {"inlineAPIDefinition": "0", "url": ""}
    resp = client.post(f"{BASE}/apis/validate-asyncapi", body, format="json")
    assert resp.status_code == 400 and "url" in resp.json()["description"]


def test_a_business_plan_that_is_not_a_name_is_refused_not_a_server_error(client, publisher):
    from tests import factories

    api = factories.api(publisher)
    resp = client.put(f"{BASE}/apis/{api.id}", {"policies": [{}]}, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "policies"
    assert client.get(f"{BASE}/apis/{api.id}").json()["policies"] == list(api.policies)


def test_an_analytics_format_outside_its_enum_is_refused_not_answered_as_json(client, publisher):
    from tests import factories

    api = factories.api(publisher)
    resp = client.get(f"{BASE}/apis/{api.id}/analytics?format=AAA")
    assert resp.status_code == 400 and "format" in resp.json()["description"]
    assert client.get(f"{BASE}/apis/{api.id}/analytics?format=csv")["Content-Type"] == "text/csv"
    assert client.get(f"{BASE}/apis/{api.id}/analytics?format=json").json()["range"] == "24h"


def test_an_empty_sandbox_url_is_refused_so_a_client_omits_the_sandbox_instead(client):
    body = {
        "name": "Sandboxed",
        "context": "/sandboxed",
        "version": "1.0.0",
        "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/x"}, "sandbox_endpoints": {"url": ""}},
    }
    resp = client.post(f"{BASE}/apis", body, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "endpointConfig.sandbox_endpoints.url"
    assert client.get(f"{BASE}/apis?query=Sandboxed").json()["count"] == 0
    del body["endpointConfig"]["sandbox_endpoints"]
    created = client.post(f"{BASE}/apis", body, format="json").json()
    assert "sandbox_endpoints" not in created["endpointConfig"]


def test_an_endpoint_url_longer_than_documented_is_refused(client):
    maximum = _doc(client)["paths"][BASE + "/apis/validate-endpoint"]["post"]["parameters"][0]["schema"]["maxLength"]
    resp = client.post(f"{BASE}/apis/validate-endpoint?endpointUrl={'0' * (maximum + 1)}")
    assert resp.status_code == 400 and "endpointUrl" in resp.json()["description"]


def test_a_display_on_devportal_that_is_not_a_boolean_is_refused(client, publisher):
    from tests import factories

    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    bad = [{"name": "Default", "displayOnDevportal": {}}]
    deployments = f"{BASE}/apis/{api.id}/deployments"
    resp = client.post(f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", bad, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "displayOnDevportal"
    assert client.get(deployments).json()["list"] == []
    client.post(f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", [{"name": "Default"}], format="json")
    resp = client.post(f"{BASE}/apis/{api.id}/undeploy-revision?revisionId={rev['id']}", bad, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "displayOnDevportal"
    assert [d["name"] for d in client.get(deployments).json()["list"]] == ["Default"]


def test_a_null_sandbox_is_refused_so_a_client_omits_it_instead(client):
    """Schemathesis: ``"sandbox_endpoints": null`` broke the documented object and was taken
    as no sandbox; omitting it is how an API says it has none."""
    body = {
        "name": "NullSandbox",
        "context": "/nullsandbox",
        "version": "1.0.0",
        "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/x"}, "sandbox_endpoints": None},
    }
    resp = client.post(f"{BASE}/apis", body, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "endpointConfig.sandbox_endpoints.url"
    assert client.get(f"{BASE}/apis?query=NullSandbox").json()["count"] == 0


def test_a_deployment_name_or_vhost_that_is_not_text_is_refused(client, publisher):
    """Schemathesis: ``"vhost": {}`` in a deploy body was accepted although the document says text."""
    from tests import factories

    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    for bad in ([{"name": "Default", "vhost": {}}], [{"name": ["Default"]}]):
        resp = client.post(f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", bad, format="json")
        assert resp.status_code == 400 and resp.json()["error"][0]["field"] in ("vhost", "name"), resp.content
    assert client.get(f"{BASE}/apis/{api.id}/deployments").json()["list"] == []


@pytest.mark.parametrize(
    "item",
    [
        {"name": "Default", "vhost": None},
        {"name": "Default", "vhost": "h" * 256},
        {"vhost": "localhost"},
        {"name": "no spaces please"},
    ],
    ids=["null vhost", "vhost too long", "no name", "name off pattern"],
)
@pytest.mark.parametrize("action", ["deploy-revision", "undeploy-revision?allEnvironments=true&"])
def test_an_environment_item_the_document_refuses_is_refused_and_changes_nothing(client, publisher, item, action):
    """Schemathesis: ``"vhost": null`` deployed with the environment's host, a 256-character vhost
    or a missing name was taken by undeploy (which does not use them)."""
    api_url, rev = _deployed(client, publisher)
    before = client.get(f"{api_url}/deployments").json()["list"]
    path = action if "?" in action else action + "?"
    resp = client.post(f"{api_url}/{path}revisionId={rev}", [item], format="json")
    assert resp.status_code == 400
    field = "vhost" if "name" in item and " " not in item["name"] else "name"
    assert resp.json()["error"][0]["field"] == field
    assert client.get(f"{api_url}/deployments").json()["list"] == before


def test_deploying_to_no_environment_is_refused(client, publisher):
    api_url, rev = _deployed(client, publisher)
    resp = client.post(f"{api_url}/deploy-revision?revisionId={rev}", [], format="json")
    assert resp.status_code == 400 and "environment" in resp.json()["description"]


def test_a_revision_number_that_is_a_digit_only_to_unicode_is_not_found(client, publisher):
    """The review: ``revisionNumber=²`` passed ``isdigit()`` and broke ``int()`` (500)."""
    api_url, _ = _deployed(client, publisher)
    api_id = api_url.rsplit("/", 1)[1]
    resp = client.get(f"{BASE}/apis/export", {"apiId": api_id, "revisionNumber": "²"})
    assert resp.status_code == 404 and resp.json()["code"] == 404


def test_an_analytics_range_with_a_line_break_is_refused_before_it_reaches_a_header(client, publisher):
    """The review: the CSV's file name took ``range`` before it was checked, and Django's
    header guard answered 500."""
    api_url, _ = _deployed(client, publisher)
    resp = client.get(f"{api_url}/analytics", {"format": "csv", "range": "\r\nX:1"})
    assert resp.status_code == 400 and "range" in resp.json()["description"]


def test_undeploy_from_an_environment_that_does_not_exist_is_refused(client, publisher):
    """The review: ``[{"name": "Nope"}]`` answered 201 and undeployed nothing, as if it had worked."""
    api_url, rev = _deployed(client, publisher)
    resp = client.post(f"{api_url}/undeploy-revision?revisionId={rev}", [{"name": "Nope"}], format="json")
    assert resp.status_code == 400 and "Unknown gateway environment 'Nope'" in resp.json()["description"]
    assert _deployment_names(client, api_url) == ["Default"]
