"""The OAuth2 endpoints' form parsing (Hypothesis): random grants, fields, credentials,
content types and raw bodies against /oauth2/token, /oauth2/revoke and /oauth2/introspect.
Every answer is an OAuth2 status with a JSON body, never a server error; a refused request
issues no token. The findings are regression tests at the end."""

import base64
import json

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from keymanager.models import IssuedToken
from keymanager.services import keys_generate
from tests import factories
from testsupport.hypothesis_profiles import examples

pytestmark = pytest.mark.django_db
STATUSES = {200, 400, 401, 403, 405, 415, 429}


@pytest.fixture
def keys():
    dev = factories.user("dev", password="dev-Password-1")
    from devportal import services as dp

    app = dp.application_create(owner=dev, name="App")
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
    return client.client_id, secret


field_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "%00", "\x00", "a" * 5000, "openid apim:admin", "dev", "dev-Password-1"]),
)


@st.composite
def token_requests(draw, client_id, secret):
    form = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "grant_type",
                    "client_id",
                    "client_secret",
                    "scope",
                    "username",
                    "password",
                    "refresh_token",
                    "token",
                    "token_type_hint",
                    "code",
                    "redirect_uri",
                    "validity_period",
                ]
            ),
            field_text,
            max_size=6,
        )
    )
    if draw(st.booleans()):
        form["grant_type"] = draw(st.sampled_from(["client_credentials", "password", "refresh_token", "x", ""]))
    auth = draw(
        st.one_of(
            st.none(),
            st.just("Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()),
            st.just("Basic " + base64.b64encode(f"{client_id}:wrong".encode()).decode()),
            st.sampled_from(["Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "Bearer x"]),
            st.text(max_size=30).map(lambda t: "Basic " + t),
        )
    )
    raw = None
    if draw(st.integers(0, 4)) == 0:
        raw = (
            draw(
                st.sampled_from(
                    [
                        "application/x-www-form-urlencoded",
                        "application/json",
                        "text/plain",
                        "multipart/form-data; boundary=x",
                        "",
                    ]
                )
            ),
            draw(st.binary(max_size=100)),
        )
    path = draw(st.sampled_from(["/oauth2/token", "/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"]))
    return path, form, auth, raw


@examples(150)
@given(st.data())
def test_any_form_gets_an_oauth2_status_and_a_json_body(keys, data):
    client_id, secret = keys
    path, form, auth, raw = data.draw(token_requests(client_id, secret))
    extra = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    before = IssuedToken.objects.count()
    if raw is None:
        resp = Client().post(path, form, **extra)
    else:
        resp = Client().post(path, raw[1], content_type=raw[0], **extra)
    assert resp.status_code in STATUSES, resp.content[:300]
    body = json.loads(resp.content) if resp.content else {}
    if resp.status_code != 200:
        assert IssuedToken.objects.count() == before
        assert resp.status_code == 405 or "error" in body or "code" in body, body


# ---------------------------------------------------------------- regressions (the fuzzer's findings)


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"])
@pytest.mark.parametrize("auth", ["Basic ", "Basic \u00e9t\u00e9", "Basic  "])
def test_malformed_basic_credentials_are_invalid_client_not_a_server_error(keys, path, auth):
    resp = Client().post(path, {"grant_type": "client_credentials", "token": "x"}, HTTP_AUTHORIZATION=auth)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"
