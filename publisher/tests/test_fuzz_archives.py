"""Hostile API project archives (Hypothesis) through ``POST /apis/import``: random zips,
trees and YAML in each file. Each is imported whole (the API, its definition and its
properties as api.yaml says) or refused with a reason, changing nothing. The findings are
plain regression tests at the end."""

import io
import json
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st

from portal.models import AuditEvent
from publisher import asyncapi
from publisher.models import Api
from publisher.tests.fuzz_strategies import YAML_ODDITIES, definition_texts, names, valid_documents
from testsupport.fuzz import json_values
from testsupport.hypothesis_profiles import examples

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


def _zip(files: dict[str, bytes], symlinks=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


VALID_DATA = {
    "name": names,
    "version": st.one_of(names, st.integers(0, 9), st.floats(0, 9, allow_nan=False)),
    "context": names.map(lambda n: "/" + n),
    "type": st.sampled_from(["WS", "ws"]),
    "description": names,
    "tags": st.lists(names.map(str.lower), max_size=3),
    "policies": st.just(["AsyncUnlimited"]),
    "apiThrottlingPolicy": st.just(""),
    "endpointConfig": st.just({"production_endpoints": {"url": "ws://backend.example:80"}}),
    # How the gateway enforces it (imported, and read by standalone gateways, since round 3).
    "authorizationHeader": st.sampled_from(["Authorization", "X-Token", "apikey", "X Token", ""]),
    "securityScheme": st.lists(
        st.sampled_from(["oauth2", "api_key", "oauth_basic_auth_api_key_mandatory", "basic_auth"]), max_size=3
    ),
    "payloadValidation": st.fixed_dictionaries(
        {},
        optional={
            "mode": st.sampled_from(["off", "client", "both", "sometimes"]),
            "onClientFailure": st.sampled_from(["error", "close"]),
            "onBackendFailure": st.sampled_from(["drop", "close"]),
        },
    ),
    "originConfiguration": st.fixed_dictionaries(
        {},
        optional={
            "allowedOrigins": st.lists(
                st.sampled_from(["https://a.example", "https://*.example.org", "http://localhost:3000", "a b"]),
                max_size=3,
            ),
            "browsersOnly": st.booleans(),
        },
    ),
    "backendJWTConfiguration": st.fixed_dictionaries(
        {}, optional={"enabled": st.booleans(), "header": st.sampled_from(["X-JWT-Assertion", "X-Caller", "Host"])}
    ),
}


@st.composite
def api_data(draw) -> dict:
    """api.yaml's data: each field usually right, sometimes absent or anything at all."""
    data = {}
    for key, valid in VALID_DATA.items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue
        data[key] = draw(json_values) if choice == 1 else draw(valid)
    return data


def _dump(value) -> bytes:
    try:
        return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")
    except yaml.YAMLError:
        return json.dumps(value).encode()


@st.composite
def archives(draw) -> bytes:
    """A project archive, valid or broken in any of its parts."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=300))  # not a zip at all
    root = "Chat-1.0.0"
    if draw(st.integers(0, 9)) == 0:
        root = draw(st.sampled_from(["a", "../up", "/abs", "C:", "x\\y", "Chat-1.0.0/../.."]))
    data = draw(api_data())
    api_yaml = {"type": "api" if draw(st.integers(0, 9)) else "other", "version": "v4.2.0", "data": data}
    definition = draw(valid_documents().map(asyncapi.to_yaml) if draw(st.integers(0, 2)) else definition_texts())
    files = {
        f"{root}/api.yaml": _dump(api_yaml)
        if draw(st.integers(0, 3))
        else draw(
            st.one_of(
                st.sampled_from(YAML_ODDITIES).map(lambda odd: _dump(api_yaml) + odd.encode("utf-8", "surrogatepass")),
                json_values.map(_dump),
                st.binary(max_size=100),
            )
        ),
        f"{root}/Definitions/asyncapi.{draw(st.sampled_from(['yaml', 'json']))}": (
            definition if isinstance(definition, bytes) else definition.encode("utf-8", "surrogatepass")
        ),
        f"{root}/api_meta.yaml": b"name: x\n",
    }
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        action = draw(st.integers(0, 2))
        path = draw(st.sampled_from(sorted(files)))
        if action == 0:
            del files[path]
        elif action == 1:
            files[draw(st.sampled_from(["other/x.yaml", "../x", f"{root}/Docs/a.md", "/etc/x"]))] = b"x"
        else:
            files[path] = draw(st.binary(max_size=100))
    symlinks = {draw(st.sampled_from(sorted(files)))} if files and draw(st.integers(0, 9)) == 0 else set()
    content = _zip(files, symlinks)
    if draw(st.integers(0, 9)) == 0:
        content = content[: draw(st.integers(0, len(content)))]  # cut short
    return content


def _state():
    return list(Api.objects.order_by("pk").values()), AuditEvent.objects.count()


@examples(120)
@given(archives())
def test_an_archive_is_imported_whole_or_refused_with_a_reason_changing_nothing(client, content):
    before = _state()
    resp = client.post(f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", content)}, format="multipart")
    assert resp.status_code in (201, 400, 409), resp.content[:300]
    body = resp.json()
    if resp.status_code == 201:
        api = Api.objects.get(pk=body["id"])
        asyncapi.validate_document(api.definition)  # the whole definition, valid
        assert AuditEvent.objects.count() == before[1] + 1
        Api.objects.filter(pk=api.pk).delete()  # the next example may import the same context
    else:
        assert isinstance(body["message"], str) and body["description"], body
        assert _state() == before


# ---------------------------------------------------------------- regressions (the fuzzer's findings)

DEFINITION = (
    b"asyncapi: 2.0.0\ninfo: {title: Chat, version: '1'}\n"
    b"servers: {production: {url: 'ws://backend.example:80', protocol: ws}}\nchannels:\n  /a: {publish: {}}\n"
)


def _import(client, api_yaml: bytes):
    content = _zip({"Chat-1/api.yaml": api_yaml, "Chat-1/Definitions/asyncapi.yaml": DEFINITION})
    return client.post(f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", content)}, format="multipart")


def test_a_version_written_as_a_number_is_read_as_text(client):
    resp = _import(client, b"type: api\ndata: {name: Chat, version: 2, context: /chat}\n")
    assert resp.status_code == 201, resp.content
    assert (resp.json()["version"], resp.json()["context"]) == ("2", "/chat")


@pytest.mark.parametrize(
    "data, field",
    [
        ("{name: [a], version: '1', context: /chat}", "name"),
        ("{name: Chat, version: {a: 1}, context: /chat}", "version"),
        ("{name: Chat, version: '1', context: /chat, policies: [[x]]}", "policies"),
    ],
)
def test_api_yaml_fields_of_the_wrong_type_are_400_naming_the_field(client, data, field):
    before = _state()
    resp = _import(client, f"type: api\ndata: {data}\n".encode())
    assert resp.status_code == 400, resp.content
    assert field in [e["field"] for e in resp.json()["error"]]
    assert _state() == before


def test_api_yaml_nested_5000_levels_deep_is_refused_with_a_reason(client):
    before = _state()
    resp = _import(client, b"type: api\ndata: {name: Chat}\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert resp.status_code == 400, resp.content
    assert "api.yaml" in resp.json()["description"] and "nested deeper than 64" in resp.json()["description"]
    assert _state() == before


def test_import_asyncapi_properties_of_the_wrong_type_are_400_naming_the_field(client):
    before = _state()
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": DEFINITION.decode(), "additionalProperties": json.dumps({"name": 7, "context": "/c"})},
        format="multipart",
    )
    assert resp.status_code == 400, resp.content
    assert [e["field"] for e in resp.json()["error"]] == ["name"]
    assert _state() == before


@pytest.mark.parametrize(
    "data",
    [
        '{name: Chat, version: "1", context: /chat, description: "\\ud90b"}',
        '{name: Chat, version: "1", context: /chat, tags: ["\\ud800x"]}',
        '{name: Chat, version: "1", context: /chat, "\\udfff": 1}',
    ],
    ids=["description", "tag", "key"],
)
def test_api_yaml_text_with_a_lone_surrogate_is_refused_not_a_server_error(client, data):
    """make fuzz (1000 examples): a ``"\\ud90b"`` escape in api.yaml made text UTF-8 cannot
    carry; the import answered 500 when it rendered that text back."""
    before = _state()
    resp = _import(client, f"type: api\ndata: {data}\n".encode())
    assert resp.status_code == 400, resp.content
    assert "no lone surrogates" in resp.json()["description"]
    assert _state() == before
