"""The standalone gateway's adapter API (``apictl mg``) as an ASGI app, fed hostile requests
(Hypothesis): random methods, paths, queries, credentials, content types, multipart bodies
and archives. Every answer is a documented status with a JSON error body, and a refused
request leaves the deployed archives as they were. The findings are regression tests."""

import asyncio
import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.standalone import ADAPTER_BASE, Adapter, ArchiveStore, standalone_gateway
from publisher.tests.test_fuzz_archives import archives
from testsupport.fuzz import forged_jwts
from testsupport.hypothesis_profiles import examples
from tidegate.snapshot.archives import api_from_archive

STATUSES = {200, 400, 401, 404, 405, 409, 413}
ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()


@pytest.fixture
def adapter(tmp_path):
    store = ArchiveStore(tmp_path / "apis", read=api_from_archive)
    return Adapter(standalone_gateway(store), store)


async def _call(app, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes):
    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers}
    sent = []
    chunks = [body]

    async def receive():
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start, body_message = sent
    return start["status"], dict(start["headers"]), body_message["body"]


def _multipart(content: bytes, boundary: str = "b0undary", name: str = "file") -> tuple[bytes, bytes]:
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="p.zip"\r\n'
            f"Content-Type: application/zip\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}".encode(), body


header_text = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def requests(draw):
    if draw(st.booleans()):  # a deploy as apictl sends it, with any archive
        ctype, body = _multipart(draw(archives()))
        query = draw(st.sampled_from([b"", b"override=true"]))
        return (
            "POST",
            f"{ADAPTER_BASE}/apis",
            query,
            [(b"authorization", ADMIN.encode()), (b"content-type", ctype)],
            body,
        )
    if draw(st.booleans()):  # a list or an undeploy, with any query
        query = draw(
            st.one_of(st.sampled_from([b"limit=\xb2", b"limit=1", b"apiName=Chat&version=1"]), st.binary(max_size=40))
        )
        method, path = draw(st.sampled_from([("GET", "/apis"), ("DELETE", "/apis"), ("POST", "/apis/delete")]))
        return method, ADAPTER_BASE + path, query, [(b"authorization", ADMIN.encode())], draw(st.binary(max_size=60))
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]))
    path = draw(
        st.one_of(
            st.sampled_from([f"{ADAPTER_BASE}/apis", f"{ADAPTER_BASE}/apis/", f"{ADAPTER_BASE}/apis/delete"]),
            st.sampled_from([f"{ADAPTER_BASE}/oauth2/token", f"{ADAPTER_BASE}/x", "/", ""]),
            st.text(max_size=30),
        )
    )
    query = draw(
        st.one_of(
            st.sampled_from([b"", b"override=true", b"limit=1", b"limit=\xc2\xb2", b"apiName=Chat&version=1"]),
            st.binary(max_size=40),
        )
    )
    auth = draw(
        st.one_of(
            st.just(ADMIN.encode()),
            st.sampled_from([b"Basic", b"Basic !!!", b"Bearer x.y.z", b"Bearer", b"basic " + b"\xff" * 4]),
            header_text,
        )
    )
    headers = [(b"authorization", auth)]
    kind = draw(st.integers(0, 3))
    if kind == 0:
        ctype, body = _multipart(draw(archives()))
    elif kind == 1:
        ctype, body = _multipart(
            draw(st.binary(max_size=100)),
            draw(st.text("abc-_", min_size=1, max_size=10)),
            draw(st.sampled_from(["file", "x"])),
        )
    elif kind == 2:
        ctype, body = draw(header_text), draw(st.binary(max_size=200))
    else:
        ctype, body = (
            b"application/json",
            json.dumps(draw(st.one_of(st.none(), st.dictionaries(st.text(max_size=8), st.text(max_size=8))))).encode(),
        )
    headers.append((b"content-type", ctype))
    return method, path, query, headers, body


@examples(150)
@given(requests())
def test_any_request_gets_a_documented_status_and_a_refusal_changes_nothing(adapter, request_):
    method, path, query, headers, body = request_
    store = adapter.store
    before = (dict(store.apis), sorted(p.name for p in store.directory.iterdir()))
    status, response_headers, payload = asyncio.run(_call(adapter, method, path, query, headers, body))
    assert status in STATUSES, payload[:300]
    assert response_headers[b"content-type"] == b"application/json"
    data = json.loads(payload)
    if status != 200:
        assert data["code"] == status and isinstance(data["description"], str), data
        assert (dict(store.apis), sorted(p.name for p in store.directory.iterdir())) == before


# ---------------------------------------------------------------- regressions (the fuzzer's findings)


def test_a_limit_that_is_a_digit_only_to_unicode_is_ignored(adapter):
    status, _, payload = asyncio.run(
        _call(
            adapter,
            "GET",
            f"{ADAPTER_BASE}/apis",
            "limit=²".encode("latin-1"),
            [(b"authorization", ADMIN.encode())],
            b"",
        )
    )
    assert status == 200 and json.loads(payload)["count"] == 0


def test_an_archive_whose_name_is_not_text_is_refused_and_not_deployed(adapter):
    from publisher.tests.test_fuzz_archives import DEFINITION, _zip

    content = _zip(
        {
            "Chat-1/api.yaml": b"type: api\ndata: {name: [a], version: '1', context: /chat}\n",
            "Chat-1/Definitions/asyncapi.yaml": DEFINITION,
        }
    )
    ctype, body = _multipart(content)
    status, _, payload = asyncio.run(
        _call(
            adapter,
            "POST",
            f"{ADAPTER_BASE}/apis",
            b"",
            [(b"authorization", ADMIN.encode()), (b"content-type", ctype)],
            body,
        )
    )
    assert status == 400 and "must be text" in json.loads(payload)["description"]
    assert adapter.store.apis == {} and list(adapter.store.directory.iterdir()) == []


@examples(60)
@given(token=forged_jwts())
def test_a_forged_bearer_token_of_any_shape_is_a_401_not_a_crash(adapter, token):
    """The review: ``{"alg": "RS256", "crit": 1}`` as the header made the JOSE library raise
    a TypeError before the adapter had checked anything (uvicorn's bare 500)."""
    status, _, payload = asyncio.run(
        _call(adapter, "GET", f"{ADAPTER_BASE}/apis", b"", [(b"authorization", f"Bearer {token}".encode())], b"")
    )
    assert status == 401 and json.loads(payload)["code"] == 401


def _archive(name: str, context: str) -> bytes:
    from publisher.tests.test_fuzz_archives import DEFINITION, _zip

    api_yaml = f"type: api\ndata: {{name: '{name}', version: '1.0.0', context: {context}}}\n"
    return _zip({"Chat-1/api.yaml": api_yaml.encode(), "Chat-1/Definitions/asyncapi.yaml": DEFINITION})


def test_apis_whose_names_read_the_same_once_made_safe_keep_files_of_their_own(tmp_path):
    """The review: "Chat Room" and "Chat_Room" shared one file, so a restart served one of
    them, and undeploying one deleted the other's archive."""
    directory = tmp_path / "apis"
    store = ArchiveStore(directory, read=api_from_archive)
    store.deploy(_archive("Chat Room", "/room"), override=False)
    store.deploy(_archive("Chat_Room", "/room2"), override=False)
    assert sorted(ArchiveStore(directory, read=api_from_archive).apis) == ["Chat Room:1.0.0", "Chat_Room:1.0.0"]
    store.undeploy("Chat Room", "1.0.0")
    assert sorted(ArchiveStore(directory, read=api_from_archive).apis) == ["Chat_Room:1.0.0"]


def test_an_archive_kept_under_an_older_file_name_is_replaced_and_undeployed(tmp_path):
    directory = tmp_path / "apis"
    directory.mkdir()
    (directory / "Chat_Room_1.0.0.zip").write_bytes(_archive("Chat Room", "/room"))  # the old naming
    store = ArchiveStore(directory, read=api_from_archive)
    store.deploy(_archive("Chat Room", "/room"), override=True)
    assert len(list(directory.glob("*.zip"))) == 1
    store.undeploy("Chat Room", "1.0.0")
    assert list(directory.glob("*.zip")) == []
