"""Payload validation through the real gateway (Uvicorn) in front of the echo backend: an API
imported over REST in AsyncAPI 2.x and 3.0, its validation set with the Publisher's REST field,
deployed as a revision, and messages checked in each direction with each failure action.

The echo backend sends back what it gets, so a message valid for the client's direction
(PUBLISH) but not for the backend's (SUBSCRIBE) comes back invalid: that is how these tests
make a backend send what its schema does not allow.
"""

import json
import re

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import PUB, call
from testsupport.stack import marked, wait_until

pytestmark = pytest.mark.e2e

ORDER = {"symbol": "ACME", "qty": 2}
FILL = {"symbol": "ACME", "qty": 2, "price": 9.5}
REJECT = {"symbol": "ACME", "qty": 2, "reason": "market closed"}
_counter = iter(range(1, 1000))


def _api(stack, admin_http, version: str, **validation) -> dict:
    """The Orders API in ``version``, its payload validation set to ``validation``, deployed
    and published; with an application subscribed to it and its token's headers."""
    n = next(_counter)
    context = f"/pv{n}-v{version[0]}"
    api = flow.import_api(admin_http, documents.orders_doc(stack.backend_url, version), context=context)
    if validation:
        call(admin_http, "PUT", f"{PUB}/apis/{api['id']}", json={"payloadValidation": validation})
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, f"PayloadClient{n}", api["id"])
    return {"id": api["id"], "url": f"{stack.gateway_ws}{context}/1.0.0", "headers": app["headers"]}


def _counts(stack, api_id: str) -> dict[tuple[str, str, str], int]:
    """``tidegate_messages_validated_total`` of one API: (topic, direction, result) -> count."""
    text = requests.get(f"{stack.gateway_http}/metrics", timeout=5).text
    out = {}
    for labels, value in re.findall(r"^tidegate_messages_validated_total\{([^}]*)\} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if found["api"] == api_id:
            out[found["topic"], found["direction"], found["result"]] = int(float(value))
    return out


def _recv_json(ws) -> dict:
    return json.loads(ws.recv(timeout=10))


@pytest.mark.parametrize("version", documents.VERSIONS)
def test_a_client_message_that_fails_is_dropped_with_an_error_frame(stack, admin_http, version):
    """Client messages only, the default action: a message that does not match the topic's
    schema (a ``$ref`` to a component) never reaches the backend, and the client is told the
    topic, the JSON pointer of the first error and what is wrong; valid ones pass; text that
    is not JSON fails like any other; binary messages pass unvalidated."""
    api = _api(stack, admin_http, version, mode="client")
    with connect(f"{api['url']}/orders", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send(json.dumps(ORDER))
        assert _recv_json(ws) == ORDER  # echoed: the backend had it
        ws.send(json.dumps({"symbol": "ACME", "qty": "two"}))
        assert _recv_json(ws) == {
            "error": "invalid_message",
            "topic": "/orders",
            "pointer": "/qty",
            "message": "must be integer",
        }
        ws.send(json.dumps({"symbol": "ACME"}))
        error = _recv_json(ws)
        assert (error["pointer"], error["message"]) == ("", "must contain ['qty'] properties")
        ws.send("two of ACME please")
        error = _recv_json(ws)
        assert error["pointer"] == "" and error["message"].startswith("the message is not JSON")
        ws.send(b"\x00\x01binary")
        assert ws.recv(timeout=10) == b"\x00\x01binary"
        ws.send(json.dumps({**ORDER, "qty": 3}))
        # The next thing back is this echo: none of the refused messages reached the backend.
        assert _recv_json(ws) == {**ORDER, "qty": 3}
    # Client messages only: what the backend sent is neither validated nor counted.
    assert _counts(stack, api["id"]) == {
        ("/orders", "in", "valid"): 2,
        ("/orders", "in", "invalid"): 3,
        ("/orders", "in", "unvalidated"): 1,
    }


def test_a_client_message_that_fails_closes_1007_when_the_api_says_so(stack, admin_http):
    api = _api(stack, admin_http, "2.x", mode="client", onClientFailure="close")
    marker, headers = marked(api["headers"])
    with connect(f"{api['url']}/orders", additional_headers=headers, open_timeout=30) as ws:
        ws.send(json.dumps(ORDER))
        assert _recv_json(ws) == ORDER
        ws.send(json.dumps({"symbol": 7, "qty": 1}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1007
    assert closed.value.rcvd.reason == "Invalid message: /symbol must be string"
    (backend_close,) = stack.backend_events(marker, "close")
    assert backend_close["code"] == 1001  # the gateway closed the backend leg too
    assert _counts(stack, api["id"]) == {("/orders", "in", "valid"): 1, ("/orders", "in", "invalid"): 1}


@pytest.mark.parametrize("version", documents.VERSIONS)
def test_a_backend_message_that_fails_is_dropped_and_counted(stack, admin_http, version):
    """Both directions: the client receives a fill or a reject (two messages, any one of them
    matches, even both at once); an echoed order is neither and is dropped, counted invalid."""
    api = _api(stack, admin_http, version, mode="both")
    with connect(f"{api['url']}/orders", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send(json.dumps(ORDER))  # valid to send, not valid to receive: dropped on the way back
        ws.send(json.dumps(FILL))
        assert _recv_json(ws) == FILL
        ws.send(json.dumps(REJECT))
        assert _recv_json(ws) == REJECT
        ws.send(json.dumps({**FILL, "reason": "both"}))  # a fill and a reject at once
        assert _recv_json(ws) == {**FILL, "reason": "both"}
        ws.send(b"raw")
        assert ws.recv(timeout=10) == b"raw"
    assert _counts(stack, api["id"]) == {
        ("/orders", "in", "valid"): 4,
        ("/orders", "in", "unvalidated"): 1,
        ("/orders", "out", "valid"): 3,
        ("/orders", "out", "invalid"): 1,
        ("/orders", "out", "unvalidated"): 1,
    }

    def shipped():
        data = call(admin_http, "GET", f"{PUB}/apis/{api['id']}/analytics", params={"range": "1h"})
        return data["totals"]["validation"] == {
            "in": {"valid": 4, "invalid": 0, "unvalidated": 1},
            "out": {"valid": 3, "invalid": 1, "unvalidated": 1},
        }

    wait_until(shipped, 30, what="the validation counts in the Publisher's analytics")


def test_a_backend_message_that_fails_closes_1011_when_the_api_says_so(stack, admin_http):
    api = _api(stack, admin_http, "3.0", mode="both", onBackendFailure="close")
    with connect(f"{api['url']}/orders", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send(json.dumps(FILL))
        assert _recv_json(ws) == FILL
        ws.send(json.dumps(ORDER))  # comes back as neither a fill nor a reject
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1011
    assert closed.value.rcvd.reason == "Invalid message from the backend"


@pytest.mark.parametrize("version", documents.VERSIONS)
def test_a_recursive_schema_validates_at_any_depth(stack, admin_http, version):
    api = _api(stack, admin_http, version, mode="both")
    tree = {"value": 1, "children": [{"value": 2, "children": [{"value": 3, "children": []}]}]}
    bad = {"value": 1, "children": [{"value": 2, "children": [{"value": "three"}]}]}
    with connect(f"{api['url']}/tree", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send(json.dumps(tree))
        assert _recv_json(ws) == tree
        ws.send(json.dumps(bad))
        error = _recv_json(ws)
        assert (error["topic"], error["pointer"], error["message"]) == (
            "/tree",
            "/children/0/children/0/value",
            "must be integer",
        )
    assert _counts(stack, api["id"]) == {
        ("/tree", "in", "valid"): 1,
        ("/tree", "in", "invalid"): 1,
        ("/tree", "out", "valid"): 1,
    }


def test_messages_of_another_content_type_pass_unvalidated(stack, admin_http):
    """``/notes`` carries ``text/plain``: its messages are not JSON and pass both ways, counted."""
    api = _api(stack, admin_http, "3.0", mode="both", onClientFailure="close", onBackendFailure="close")
    with connect(f"{api['url']}/notes", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send("remember the milk")
        assert ws.recv(timeout=10) == "remember the milk"
    assert _counts(stack, api["id"]) == {("/notes", "in", "unvalidated"): 1, ("/notes", "out", "unvalidated"): 1}


def test_validation_off_checks_nothing(stack, admin_http):
    """The default, as the API says it: every message passes, none is counted."""
    api = _api(stack, admin_http, "2.x")
    assert call(admin_http, "GET", f"{PUB}/apis/{api['id']}")["payloadValidation"]["mode"] == "off"
    with connect(f"{api['url']}/orders", additional_headers=api["headers"], open_timeout=30) as ws:
        ws.send("not an order")
        assert ws.recv(timeout=10) == "not an order"
    assert _counts(stack, api["id"]) == {}
