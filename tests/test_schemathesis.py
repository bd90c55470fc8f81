"""Schemathesis against a real portal's served /api/openapi.yaml: coverage, fuzzing and
stateful phases with every check. Zero failures, and every operation of the document
answered 2xx at least once (reached with real data).

In the suite the run is bounded by a number of examples per operation, with a fixed seed:
the same cases every run, however loaded the machine (a time budget would let a busy
machine starve some operations and fail the test by chance). ``make fuzz`` sets
``FUZZ_SECONDS`` (default 10 minutes): a time budget instead, with many more examples.

The portal it starts hashes passwords with the test settings' cheap hasher: every call signs
in with HTTP Basic, and PBKDF2 made the run twenty minutes instead of one.
The regression tests below it pin each failure Schemathesis found, with the smallest request.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from testsupport.stack import ROOT, Stack

ADMIN = ("admin", "admin")
PUBLISHER = "/api/am/publisher/v4"
DEVPORTAL = "/api/am/devportal/v3"
VICTIM = "fuzzvictim"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
    "negative_data_rejection,positive_data_acceptance,use_after_free,ensure_resource_availability,ignored_auth"
)
# Operations whose valid input depends on content or state a schema cannot state; schema-valid
# input may get 400 there. Each with the reason:
CONTENT_DEPENDENT = [
    "api_list_create_post",  # policies / apiThrottlingPolicy must name existing plans and rate limits
    "api_detail_put",  # the same names
    "api_import_async_api_post",  # the definition (upload, text or URL) must be a valid AsyncAPI document
    "api_async_api_definition_put",  # the same
    "api_validate_async_api_post",  # a definition URL must be fetchable
    "api_import_post",  # the upload must be an apictl archive
    "api_deploy_revision_post",  # environment names must exist
    "api_undeploy_revision_post",  # the body must name environments unless allEnvironments=true
    "api_change_lifecycle_post",  # the move must be allowed from the API's state; checklist items are named
    "application_list_create_post",  # throttlingPolicy must name an application plan
    "application_detail_put",  # the same
    "application_generate_token_post",  # scopes must be ones the API's definition declares
    "subscription_list_create_post",  # throttlingPolicy must be a plan the API offers
    "subscription_detail_put",  # the same
    "policy_list_create_post",  # defaultLimit's shape depends on its type (REQUESTCOUNTLIMIT, ...)
    "policy_detail_put",  # the same, and policyName cannot change
    "key_manager_list_create_post",  # certificates must be {"type": "JWKS", "value": an http(s) URL}
    "deny_policy_list_create_post",  # names must exist, a range start first; the same condition twice is 409
    "workflow_update_status_post",  # a decided request takes only the decision it has (409 for the other)
    "api_document_list_create_post",  # OTHER needs otherTypeName, URL an http(s) sourceUrl; a name twice is 409
    "api_document_detail_put",  # the same
    "api_document_content_post",  # a file must be of an allowed type for a FILE document, text for the others
    "category_list_create_post",  # names are unique whatever their case: the same name twice is 409
    "category_detail_put",  # the same
    "api_comment_list_post",  # parentCommentId must name a comment at the top of a thread of that API
    "application_api_key_generate_post",  # validityPeriod -1 or 1..315360000 s; permittedIP IPs or CIDRs
    "application_api_key_revoke_post",  # the apikey must be one this application holds for that key type
]

SEED = r"""
import json
from django.contrib.auth import get_user_model
from devportal.models import Application, Subscription
from devportal.services import application_create, subscription_create
from analytics.models import GatewayReport
from keymanager.models import ExternalIssuer
from keymanager.services import api_key_generate, keys_generate
from publisher import services
from publisher.deny_policies import deny_policy_create
from publisher.models import Api, Environment, PolicyLevel, ThrottlingPolicy

User = get_user_model()
admin = User.objects.get(username="admin")
User.objects.create_user("%(victim)s", password="victim-password-1")
api = Api.objects.get(context="/notifications")
revision = api.revisions.order_by("number").first()
extra_revision = services.api_revision_create(api=api, created_by=admin, description="to delete")
endpoint = api.production_endpoint

def new_api(name, context):
    return services.api_create(
        provider=admin, name=name, context=context, version="1.0.0", description="", tags=[],
        policies=None, api_throttling_policy="", production_endpoint=endpoint, sandbox_endpoint="",
    )

lifecycle_api = new_api("Lifecycle", "/lifecycle")
doomed_api = new_api("Doomed", "/doomed")
app = Application.objects.filter(owner=admin).first()
client = app.oauth_clients.first() or keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=admin)[0]
doomed_app = application_create(owner=admin, name="Doomed", throttling_policy="Unlimited", description="")
doomed_client, _ = keys_generate(application=doomed_app, key_type="PRODUCTION", grant_types=None, user=admin)
keyless_app = application_create(owner=admin, name="Keyless", throttling_policy="Unlimited", description="")
token_app = application_create(owner=admin, name="Tokens", throttling_policy="Unlimited", description="")
token_client, token_secret = keys_generate(application=token_app, key_type="PRODUCTION", grant_types=None, user=admin)
subscriber_app = application_create(owner=admin, name="Subscriber", throttling_policy="Unlimited", description="")
subscription = Subscription.objects.filter(application=app, api=api).first()
# Objects an operation deletes live in applications of their own: deleting doomed_app (its own
# operation) would take them along and leave their operations only 404s.
cleanup_app = application_create(owner=admin, name="CleanUp", throttling_policy="Unlimited", description="")
cleanup_client, _ = keys_generate(application=cleanup_app, key_type="PRODUCTION", grant_types=None, user=admin)
# An API key of the application every operation works on, for the revoke (given to the hooks).
_, apikey = api_key_generate(application=app, key_type="PRODUCTION", validity_period=-1, user=admin)
unsubscribing_app = application_create(owner=admin, name="Unsubscribing", throttling_policy="Unlimited", description="")
doomed_subscription = subscription_create(
    application=unsubscribing_app, api=api, throttling_policy=subscription.throttling_policy, user=admin
)
# A subscription waiting for an administrator (approval on for it alone), for /workflows.
from devportal.models import Workflow
from portal.models import SiteSettings
SiteSettings.objects.update_or_create(pk=1, defaults={"subscription_approval": True})
waiting_app = application_create(owner=admin, name="Waiting", throttling_policy="Unlimited", description="")
waiting = subscription_create(application=waiting_app, api=api, throttling_policy=subscription.throttling_policy, user=admin)
SiteSettings.objects.filter(pk=1).update(subscription_approval=False)
workflow = Workflow.objects.get(subject_id=str(waiting.id))
# A live connection as a gateway reports it, for disconnect.
GatewayReport.objects.create(gateway_id="fuzz-gateway", connections=[{"id": "fuzz-connection", "apiId": str(api.id)}])
policy = ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION).first()
environment = Environment.objects.get(name="Default")
doomed_environment = Environment.objects.create(name="Doomed", display_name="Doomed", vhost="localhost")
doomed_policy = ThrottlingPolicy.objects.create(level=PolicyLevel.SUBSCRIPTION, name="Doomed", display_name="Doomed")
issuer = ExternalIssuer.objects.create(name="Kept", issuer="https://kept.example", jwks_url="https://kept.example/jwks")
doomed_issuer = ExternalIssuer.objects.create(
    name="Doomed", issuer="https://doomed.example", jwks_url="https://doomed.example/jwks"
)
deny = deny_policy_create(condition_type="IP", value={"fixedIp": "192.0.2.1"}, enabled=False, user=admin)
doomed_deny = deny_policy_create(condition_type="IP", value={"fixedIp": "192.0.2.2"}, enabled=False, user=admin)
# Documents: one read by every GET, one each for the operations that change or delete one; a thumbnail.
import io
from PIL import Image
from publisher.documents import document_create, thumbnail_set
def new_document(name):
    return document_create(api=api, user=admin, fields={"name": name, "sourceType": "MARKDOWN"}, inline_content="# Hi")
document, edited_document, doomed_document = new_document("Read"), new_document("Edited"), new_document("Doomed")
png = io.BytesIO()
Image.new("RGB", (4, 4)).save(png, format="PNG")
thumbnail_set(api=api, user=admin, data=png.getvalue())
# Categories, a rating and comments (the admin's own: it edits them) on the published API.
from devportal.community import comment_create, rating_set
from publisher.categories import category_create
category = category_create(name="Kept", description="", user=admin)
doomed_category = category_create(name="Doomed", description="", user=admin)
rating_set(api=api, user=admin, rating=4)
comment = comment_create(api=api, user=admin, content="Kept")
doomed_comment = comment_create(api=api, user=admin, content="Doomed")
print(json.dumps({
    "api": str(api.id), "revision": str(revision.id), "extra_revision": str(extra_revision.id),
    "lifecycle_api": str(lifecycle_api.id), "doomed_api": str(doomed_api.id),
    "app": str(app.id), "key": str(client.key_mapping_id), "keyless_app": str(keyless_app.id),
    "doomed_app": str(doomed_app.id), "doomed_key": str(doomed_client.key_mapping_id),
    "token_app": str(token_app.id), "token_key": str(token_client.key_mapping_id), "token_secret": token_secret,
    "subscriber_app": str(subscriber_app.id), "plan": subscription.throttling_policy,
    "cleanup_app": str(cleanup_app.id), "cleanup_key": str(cleanup_client.key_mapping_id),
    "apikey": apikey,
    "definition": json.dumps(api.definition),
    "subscription": str(subscription.id), "doomed_subscription": str(doomed_subscription.id),
    "policy": str(policy.id), "policy_name": policy.name, "environment": str(environment.id), "doomed_environment": str(doomed_environment.id),
    "doomed_policy": str(doomed_policy.id),
    "issuer": str(issuer.id), "doomed_issuer": str(doomed_issuer.id),
    "deny": str(deny.id), "doomed_deny": str(doomed_deny.id),
    "workflow": str(workflow.reference_id),
    "document": str(document.id), "edited_document": str(edited_document.id),
    "doomed_document": str(doomed_document.id),
    "category": str(category.id), "doomed_category": str(doomed_category.id),
    "comment": str(comment.id), "doomed_comment": str(doomed_comment.id),
}))
"""


LIMIT = {"type": "REQUESTCOUNTLIMIT", "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 10}}


def _toml(value) -> str:
    if isinstance(value, dict):  # an inline table
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # TOML's basic strings and arrays read JSON's


def _config(ids: dict) -> str:
    """Real ids for every operation that takes one; each DELETE gets an object of its own."""
    keep = {
        "api_id": ids["api"],
        "apiId": ids["api"],
        "revision_id": ids["revision"],
        "revisionId": ids["revision"],
        "application_id": ids["app"],
        "applicationId": ids["app"],
        "key_mapping_id": ids["key"],
        "subscription_id": ids["subscription"],
        "subscriptionId": ids["subscription"],
        "policy_id": ids["policy"],
        "level": "subscription",
        "policy_level": "subscription",
        "issuer_id": ids["issuer"],
        "condition_id": ids["deny"],
        "username": VICTIM,
        "reference_id": ids["workflow"],
        "workflowReferenceId": ids["workflow"],
        "document_id": ids["document"],
        "category_id": ids["category"],
        "comment_id": ids["comment"],
    }
    own = {
        "api_detail_delete": {"api_id": ids["doomed_api"]},
        "api_revision_detail_delete": {"revision_id": ids["extra_revision"]},
        "application_detail_delete": {"application_id": ids["doomed_app"]},
        "application_generate_keys_post": {"application_id": ids["keyless_app"]},
        "application_key_clean_up_post": {"application_id": ids["cleanup_app"], "key_mapping_id": ids["cleanup_key"]},
        "subscription_detail_delete": {"subscription_id": ids["doomed_subscription"]},
        "environment_detail_delete": {"environment_id": ids["doomed_environment"]},
        "policy_detail_delete": {"policy_id": ids["doomed_policy"]},
        "key_manager_detail_delete": {"issuer_id": ids["doomed_issuer"]},
        "deny_policy_detail_delete": {"condition_id": ids["doomed_deny"]},
        "api_document_detail_delete": {"document_id": ids["doomed_document"]},
        "api_document_detail_put": {"document_id": ids["edited_document"]},
        "api_document_content_post": {"document_id": ids["edited_document"]},
        "category_detail_delete": {"category_id": ids["doomed_category"]},
        "api_comment_detail_delete": {"comment_id": ids["doomed_comment"]},
        # An address no gateway of the run sees: the first case creates it, the rest are 409.
        "deny_policy_list_create_post": {"body.conditionType": "IP", "body.conditionValue": {"fixedIp": "192.0.2.77"}},
        # Bodies that carry ids or secrets: a key of its own (regenerate-secret changes the shared
        # one's secret), and an application not yet subscribed to the published API.
        "application_generate_token_post": {
            "application_id": ids["token_app"],
            "key_mapping_id": ids["token_key"],
            "body.consumerSecret": ids["token_secret"],
        },
        "api_connection_disconnect_post": {"connection_id": "fuzz-connection"},
        # The seeded API's own definition is a valid one, and imported again under another context.
        "api_async_api_definition_put": {"body.inlineAPIDefinition": ids["definition"]},
        "api_import_async_api_post": {
            "body.inlineAPIDefinition": ids["definition"],
            "body.additionalProperties": json.dumps({"name": "Imported", "context": "/imported"}),
        },
        # A move allowed from the state the seeded API is in, and again from the one it leads to.
        "api_change_lifecycle_post": {
            "apiId": ids["lifecycle_api"],
            "action": "Deploy as a Prototype",
            "lifecycleChecklist": "",
        },
        "subscription_detail_put": {"body.throttlingPolicy": ids["plan"]},
        "policy_list_create_post": {"body.defaultLimit": LIMIT},
        "policy_detail_put": {"body.defaultLimit": LIMIT, "body.policyName": ids["policy_name"]},
        "key_manager_list_create_post": {"body.certificates": {"type": "JWKS", "value": "https://fuzz.example/jwks"}},
        "subscription_list_create_post": {
            "body.applicationId": ids["subscriber_app"],
            "body.apiId": ids["api"],
            "body.throttlingPolicy": ids["plan"],
        },
    }
    lines = ["[parameters]"] + [f"{k} = {_toml(v)}" for k, v in keep.items()]
    for op, params in own.items():
        lines += ["", "[[operations]]", f"include-operation-id = {_toml(op)}"]
        lines.append("parameters = { " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in params.items()) + " }")
    lines += ["", "[[operations]]", f"include-operation-id = {_toml(CONTENT_DEPENDENT)}"]
    lines.append('checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409"]')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("schemathesis"),
        # ignored_auth sends wrong credentials on purpose: keep the sign-in lockout out of the way.
        extra_env={
            "TIDEGATE_LOCKOUT_FAILURES": "1000000",
            "TIDEGATE_LOCKOUT_USERNAME_FAILURES": "1000000",
            # Every call signs in with HTTP Basic: with the production hasher (PBKDF2, about 0.24 s
            # of CPU a call) hashing, not the API, took most of the run. The contract is the same.
            "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        },
    )
    try:
        stack.start_portal()
        stack.ids = json.loads(stack.manage("shell", "-c", SEED % {"victim": VICTIM}).strip().splitlines()[-1])
        yield stack
    finally:
        for proc in stack.processes.values():
            proc.stop()


def _operations(document: dict) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/api/am/")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _reached(report: Path, operations: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The operations that answered 2xx at least once, from Schemathesis' NDJSON events."""
    patterns = [(m, p, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$")) for m, p in operations]
    reached = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        for interaction in finished["recorder"].get("interactions", {}).values():
            response = interaction.get("response") or {}
            if not 200 <= response.get("status_code", 0) < 300:
                continue
            method = interaction["request"]["method"]
            path = urlsplit(interaction["request"]["uri"]).path
            for m, template, regex in patterns:
                if m == method and regex.match(path):
                    reached.add((m, template))
    return reached


def _renamed_export(portal) -> bytes:
    """The seeded API's export, as another API (name and context), for the import operation."""
    resp = requests.get(
        f"{portal.portal_url}{PUBLISHER}/apis/export", params={"apiId": portal.ids["api"]}, headers=_auth(), timeout=30
    )
    resp.raise_for_status()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(resp.content)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.rsplit("/", 1)[-1] in ("api.yaml", "api.json"):
                api = yaml.safe_load(data)
                api["data"].update(name="Archived", context="/archived")
                data = yaml.safe_dump(api).encode()
            dst.writestr(item, data)
    return out.getvalue()


def test_schemathesis_finds_nothing_and_reaches_every_operation(portal, tmp_path):
    seconds = int(os.environ.get("FUZZ_SECONDS", "0"))
    if seconds:  # make fuzz: as many examples as the time allows
        budget = ("--max-time", str(seconds), "--max-examples", "1000")
    else:  # the suite: the same bounded set of cases every run
        budget = ("--max-examples", "5")
    document = yaml.safe_load(requests.get(f"{portal.portal_url}/api/openapi.yaml", timeout=10).content)
    operations = _operations(document)
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(portal.ids))
    reports = tmp_path / "reports"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        f"{portal.portal_url}/api/openapi.yaml",
        *("--include-path-regex", "^/api/am/"),
        *("--auth", ":".join(ADMIN), "--checks", CHECKS),
        *("--phases", "coverage,fuzzing,stateful", *budget),
        # One worker: two threads drawing at once hit a CPython 3.11 bug in ast.parse (gh-106905,
        # "AST constructor recursion depth mismatch") inside Hypothesis, a runtime error of the tool.
        *("--seed", "20261130", "--workers", "1", "--no-shrink"),
        *("--request-timeout", "30", "--report", "json,ndjson", "--report-dir", str(reports)),
    ]
    archive = tmp_path / "archive.zip"
    archive.write_bytes(_renamed_export(portal))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "TIDEGATE_FUZZ_ARCHIVE": str(archive),
        "TIDEGATE_FUZZ_APIKEY": portal.ids["apikey"],
    }
    out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=(seconds or 600) + 600)
    summary = json.loads(next(reports.glob("*.json")).read_text())
    assert summary["operations"]["total"] == len(operations), out.stdout[-3000:]
    assert summary["failures"] == [] and summary["errors"] == [], out.stdout[-20000:]
    reached = _reached(next(reports.glob("*.ndjson")), operations)
    missing = sorted(set(operations) - reached)
    print(f"operations: {len(operations)}; reached with a 2xx: {len(reached)}")
    assert missing == [], out.stdout[-5000:]


# Regression tests: each failure Schemathesis found, with the smallest request.


def _auth() -> dict:
    return {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def test_document_declares_basic_auth_so_unauthenticated_calls_are_checked(portal):
    document = yaml.safe_load(requests.get(f"{portal.portal_url}/api/openapi.yaml", timeout=10).content)
    assert document["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}
    op = document["paths"]["/api/am/admin/v4/environments"]["get"]
    assert {"basicAuth": []} in op["security"]
    assert requests.get(f"{portal.portal_url}/api/am/admin/v4/environments", timeout=10).status_code == 401


def test_a_definition_sent_as_a_json_list_is_refused_not_a_server_error(portal):
    resp = requests.post(
        f"{portal.portal_url}/api/am/publisher/v4/apis/import-asyncapi", json=[None, None], headers=_auth(), timeout=30
    )
    assert resp.status_code == 400 and resp.json()["code"] == 400


def _post(portal, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
    return requests.post(f"{portal.portal_url}{path}", headers={**_auth(), **(headers or {})}, timeout=30, **kwargs)


def _application_names(portal) -> list[str]:
    listed = requests.get(f"{portal.portal_url}{DEVPORTAL}/applications", headers=_auth(), timeout=30).json()
    return sorted(a["name"] for a in listed["list"])


def test_a_number_where_the_document_says_string_is_refused_not_turned_into_text(portal):
    # The portal is the one Schemathesis ran against (it may have made an application "0"):
    # what counts is that this call added nothing.
    before = _application_names(portal)
    resp = _post(portal, f"{DEVPORTAL}/applications", json={"name": 7})
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "name"
    assert _application_names(portal) == before
    resp = _post(
        portal,
        f"{DEVPORTAL}/applications/{portal.ids['keyless_app']}/generate-keys",
        json={"keyType": "SANDBOX", "scopes": [0]},
    )
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "scopes"


def test_an_endpoint_type_other_than_ws_is_refused_not_ignored(portal):
    body = {
        "name": "Typed",
        "context": "/typed",
        "version": "1.0.0",
        "endpointConfig": {"endpoint_type": "AAA", "production_endpoints": {"url": "ws://127.0.0.1:1/x"}},
    }
    resp = _post(portal, f"{PUBLISHER}/apis", json=body)
    assert resp.status_code == 400 and resp.json()["error"][0]["field"] == "endpointConfig.endpoint_type"
    listed = requests.get(f"{portal.portal_url}{PUBLISHER}/apis?query=Typed", headers=_auth(), timeout=10).json()
    assert listed["count"] == 0
    resp = requests.put(
        f"{portal.portal_url}{PUBLISHER}/apis/{portal.ids['api']}",
        json={"endpointConfig": {**body["endpointConfig"], "endpoint_type": "http"}},
        headers=_auth(),
        timeout=30,
    )
    assert resp.status_code == 400 and "endpoint_type" in resp.json()["description"]


def test_updating_an_api_without_a_body_is_refused(portal):
    resp = requests.put(f"{portal.portal_url}{PUBLISHER}/apis/{portal.ids['api']}", headers=_auth(), timeout=30)
    assert resp.status_code == 400 and resp.json()["code"] == 400


def test_a_multipart_body_with_no_parts_gets_the_json_error_body(portal):
    resp = _post(
        portal,
        f"{PUBLISHER}/apis/validate-asyncapi",
        data=b"--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "application/json" and resp.json()["code"] == 400
