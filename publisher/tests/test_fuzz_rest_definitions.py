"""Hostile definitions and design edits through the Publisher REST API (Hypothesis): every
answer is a documented status with the usual JSON body, and a refusal changes nothing.
Definitions are AsyncAPI 2.x and 3.0 (valid, broken, misshapen); the API the design edits
change is a new one, so 3.0.
The findings are plain regression tests at the end."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.models import AuditEvent
from publisher.models import Api
from publisher.tests.fuzz_strategies import definition_texts, names, valid_documents, valid_documents_v3
from tests import factories
from testsupport.fuzz import any_text, json_values
from testsupport.hypothesis_profiles import examples

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


def _state():
    return list(Api.objects.order_by("pk").values()), AuditEvent.objects.count()


def _error_body(resp):
    body = resp.json()
    assert isinstance(body["code"], int) and isinstance(body["message"], str), body
    return body


@examples(100)
@given(definition_texts())
def test_validate_asyncapi_answers_a_report_for_any_text(client, text):
    if isinstance(text, str) and not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a form field is UTF-8: what it cannot carry travels as raw bytes
            text = text.encode("utf-8", "surrogatepass")
    if isinstance(text, bytes):
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"file": SimpleUploadedFile("d.yaml", text)}
    else:
        data = {"inlineAPIDefinition": text}
    before = _state()
    resp = client.post(f"{BASE}/apis/validate-asyncapi", data, format="multipart")
    if resp.status_code == 400:  # no definition sent at all: an empty form field
        assert not isinstance(text, bytes) and not text.strip()
        _error_body(resp)
        return
    assert resp.status_code == 200, resp.content[:300]
    report = resp.json()
    assert isinstance(report["isValid"], bool)
    for error in report["errors"]:
        assert error["pointer"] == "" or error["pointer"].startswith("/")
    assert _state() == before


@examples(60)
@given(st.one_of(definition_texts(), valid_documents_v3().map(json.dumps)), st.integers(0, 10**6))
def test_import_asyncapi_creates_the_whole_api_or_refuses_and_changes_nothing(client, text, n):
    from django.core.files.uploadedfile import SimpleUploadedFile

    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    before = _state()
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"file": SimpleUploadedFile("d.yaml", raw), "additionalProperties": json.dumps({"context": f"/f{n}"})},
        format="multipart",
    )
    assert resp.status_code in (201, 400, 409), resp.content[:300]
    if resp.status_code == 201:
        from publisher import asyncapi

        api = Api.objects.get(pk=resp.json()["id"])
        asyncapi.validate_document(api.definition)  # what was stored is a valid definition
        assert resp.json()["operations"] == [o.as_dict() for o in asyncapi.operations(api.definition)]
        assert AuditEvent.objects.count() == before[1] + 1
    else:
        _error_body(resp)
        assert _state() == before


operation_items = st.one_of(
    st.fixed_dictionaries(
        {
            "target": st.one_of(names.map(lambda n: "/" + n), json_values),
            "verb": st.one_of(st.sampled_from(["PUBLISH", "SUBSCRIBE"]), json_values),
        },
        optional={
            "scopes": st.one_of(st.lists(names, max_size=2), json_values),
            "uriMapping": st.one_of(names.map(lambda n: "/" + n), json_values),
            "authType": st.one_of(st.sampled_from(["Any", "None"]), json_values),
        },
    ),
    json_values,
)
scope_items = st.one_of(
    st.fixed_dictionaries(
        {
            "scope": st.fixed_dictionaries(
                {"name": st.one_of(names, json_values)},
                optional={
                    "description": st.one_of(any_text, json_values),
                    "bindings": st.one_of(st.lists(names, max_size=2), any_text, json_values),
                },
            )
        }
    ),
    st.fixed_dictionaries({"name": st.one_of(names, json_values)}),
    json_values,
)


@examples(100)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "operations": st.one_of(st.lists(operation_items, max_size=4), json_values),
            "scopes": st.one_of(st.lists(scope_items, max_size=3), json_values),
            "securityScheme": st.one_of(st.sampled_from([["oauth2"], []]), json_values),
        },
    )
)
def test_design_edits_save_a_valid_definition_or_refuse_and_change_nothing(client, publisher, changes):
    api = Api.objects.filter(context="/design").first() or factories.api(publisher, context="/design")
    before = _state()
    # Encoded here: JSON escapes carry what UTF-8 cannot (lone surrogates), as a hostile client sends them.
    resp = client.put(f"{BASE}/apis/{api.id}", json.dumps(changes), content_type="application/json")
    assert resp.status_code in (200, 400, 409), resp.content[:300]
    if resp.status_code == 200:
        from publisher import asyncapi

        api.refresh_from_db()
        asyncapi.validate_document(api.definition)  # what was saved is a valid definition
        assert resp.json()["operations"] == [o.as_dict() for o in asyncapi.operations(api.definition)]
    else:
        _error_body(resp)
        assert _state() == before


@examples(60)
@given(st.one_of(definition_texts(), valid_documents().map(json.dumps), valid_documents_v3().map(json.dumps)))
def test_definition_replacement_saves_a_valid_definition_or_refuses_and_changes_nothing(client, publisher, text):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api = Api.objects.filter(context="/replace").first() or factories.api(publisher, context="/replace")
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    before = _state()
    resp = client.put(f"{BASE}/apis/{api.id}/asyncapi", {"file": SimpleUploadedFile("d.yaml", raw)}, format="multipart")
    assert resp.status_code in (200, 400), resp.content[:300]
    if resp.status_code == 400:
        _error_body(resp)
        assert _state() == before


# ---------------------------------------------------------------- regressions (the fuzzer's findings)


@pytest.mark.parametrize(
    "changes, pointer",
    [
        ({"operations": [7]}, "/operations/0"),
        ({"operations": [{"target": [], "verb": "PUBLISH"}]}, "/operations/0/target"),
        ({"operations": [{"target": "/a", "verb": "PUBLISH", "scopes": [[1]]}]}, "/operations/0/scopes"),
        ({"scopes": [{"scope": 7}]}, "/scopes/0"),
        ({"scopes": [{"name": []}, {"name": []}]}, "/scopes/0/name"),
        ({"scopes": [{"scope": {"name": "a", "bindings": [1]}}]}, "/scopes/0/bindings"),
    ],
)
def test_misshapen_design_edits_are_400_with_a_pointer_and_change_nothing(client, publisher, changes, pointer):
    api = factories.api(publisher)
    before = _state()
    resp = client.put(f"{BASE}/apis/{api.id}", changes, format="json")
    assert resp.status_code == 400, resp.content[:300]
    assert pointer in [d["pointer"] for d in _error_body(resp)["error"]]
    assert _state() == before


def test_a_lone_surrogate_in_a_definition_is_refused_with_a_readable_error(client):
    text = '{"asyncapi": "2.0.0", "info": {"title": "x", "version": "1"}, "channels": {"/\\ud800": {"publish": {}}}}'
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {"inlineAPIDefinition": text}, format="multipart")
    assert resp.status_code == 200
    [error] = resp.json()["errors"]
    assert error["pointer"] == "/channels/~1\\ud800" and "lone surrogates" in error["message"]
