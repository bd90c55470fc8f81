"""The Key Manager over HTTP: each grant, each RFC 6749 error, scope narrowing by role,
introspection (RFC 7662), the limit on failed attempts, and tokens verified against
/oauth2/jwks by an independent JOSE library (PyJWT), across a signing-key rotation."""

import base64
import datetime as dt

import jwt as pyjwt
import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from devportal import services as dp
from keymanager.models import IssuedToken, SigningKey
from keymanager.services import keys_generate
from publisher import services as pub
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def setup(owner):
    """An API declaring an unbound scope and one bound to admin; dev's application
    subscribed, with keys allowing every grant."""
    api = factories.published_api(owner)
    scopes = [
        {"name": "chat_read", "description": "Read", "bindings": []},
        {"name": "chat_admin", "description": "Administer", "bindings": ["admin"]},
    ]
    pub.api_update(api=api, user=owner, changes={"scopes": scopes})
    factories.redeploy(api, owner)  # tokens get the scopes of the deployed revision
    dev = factories.user("dev", password="dev-Password-1")
    app = dp.application_create(owner=dev, name="App")
    dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
    return {"api": api, "dev": dev, "app": app, "client": client, "secret": secret}


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token(setup, secret=None, **form):
    return Client().post(
        "/oauth2/token",
        form,
        HTTP_AUTHORIZATION=_basic(setup["client"].client_id, secret or setup["secret"]),
    )


def _verify(access_token):
    """PyJWT, not joserfc (which signs), checks the signature against the published JWKS."""
    jwks = pyjwt.PyJWKSet.from_dict(Client().get("/oauth2/jwks").json())
    kid = pyjwt.get_unverified_header(access_token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return pyjwt.decode(
        access_token,
        key.key,
        algorithms=["RS256"],
        audience="http://org.wso2.apimgt/gateway",
        issuer="https://localhost:9443/oauth2/token",
    )


def test_client_credentials_token_verifies_with_pyjwt(setup):
    resp = token(setup, grant_type="client_credentials", scope="chat_read")
    assert resp.status_code == 200, resp.content
    claims = _verify(resp.json()["access_token"])
    assert claims["sub"] == "dev" and claims["azp"] == setup["client"].client_id and claims["scope"] == "chat_read"
    assert "refresh_token" not in resp.json()  # RFC 6749 4.4.3


def test_every_grant_takes_the_client_secret_in_the_form_too(setup):
    """client_secret_post, as the password and refresh grants take it: client credentials
    used to answer "cannot authenticate with methods: ['client_secret_basic']"."""
    form = {"client_id": setup["client"].client_id, "client_secret": setup["secret"]}
    resp = Client().post("/oauth2/token", {"grant_type": "client_credentials", **form})
    assert resp.status_code == 200, resp.json()
    _verify(resp.json()["access_token"])
    password = {"grant_type": "password", "username": "dev", "password": "dev-Password-1", **form}
    refresh = Client().post("/oauth2/token", password).json()["refresh_token"]
    again = Client().post("/oauth2/token", {"grant_type": "refresh_token", "refresh_token": refresh, **form})
    assert again.status_code == 200


def test_password_grant_names_the_user_and_refresh_rotates(setup):
    resp = token(setup, grant_type="password", username="dev", password="dev-Password-1", scope="chat_read")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    claims = _verify(body["access_token"])
    assert claims["sub"] == "dev" and claims["aut"] == "APPLICATION_USER"
    first_refresh = body["refresh_token"]
    assert not IssuedToken.objects.filter(refresh_digest=first_refresh).exists()  # stored as a digest

    again = token(setup, grant_type="refresh_token", refresh_token=first_refresh)
    assert again.status_code == 200, again.content
    assert _verify(again.json()["access_token"])["scope"] == "chat_read"
    assert again.json()["refresh_token"] != first_refresh
    # A refresh token is used once.
    reuse = token(setup, grant_type="refresh_token", refresh_token=first_refresh)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"


def test_password_grant_with_a_wrong_password_is_refused(setup):
    resp = token(setup, grant_type="password", username="dev", password="nope")
    assert resp.status_code == 400 and resp.json()["error"] in ("invalid_grant", "invalid_request")
    assert not IssuedToken.objects.exists()


@pytest.mark.parametrize(
    "form, status, error",
    [
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),  # wrong secret (below)
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "chat_admin"}, 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "no_such_scope"}, 400, "invalid_scope"),
        ({"grant_type": "refresh_token", "refresh_token": "made-up"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "dev"}, 400, "invalid_request"),
    ],
)
def test_rfc6749_errors(setup, form, status, error):
    secret = "wrong" if error == "invalid_client" else None
    resp = token(setup, secret=secret, **form)
    assert (resp.status_code, resp.json()["error"]) == (status, error)
    assert not IssuedToken.objects.exists()


def test_a_grant_the_keys_do_not_allow_is_unauthorized_client(setup):
    setup["client"].grant_types = ["client_credentials"]
    setup["client"].save()
    resp = token(setup, grant_type="password", username="dev", password="dev-Password-1")
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client"


def test_scopes_are_narrowed_to_the_roles_the_subject_holds(setup, owner):
    resp = token(setup, grant_type="client_credentials", scope="chat_read chat_admin")
    assert resp.json()["scope"] == "chat_read"  # the allowed subset, named in the answer
    # The admin user's password-grant token may carry the admin-bound scope on the same keys.
    factories.user("boss", roles=["admin"], password="boss-Password-1")
    resp = token(setup, grant_type="password", username="boss", password="boss-Password-1", scope="chat_admin")
    assert _verify(resp.json()["access_token"])["scope"] == "chat_admin"


def test_introspection(setup):
    access = token(setup, grant_type="client_credentials", scope="chat_read").json()["access_token"]
    auth = _basic(setup["client"].client_id, setup["secret"])
    info = Client().post("/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=auth).json()
    assert info["active"] is True and info["client_id"] == setup["client"].client_id and info["scope"] == "chat_read"
    assert info["sub"] == "dev" and info["exp"] > info["iat"]
    # Without client credentials: refused.
    assert Client().post("/oauth2/introspect", {"token": access}).status_code == 401
    # Revoked: inactive.
    Client().post("/oauth2/revoke", {"token": access}, HTTP_AUTHORIZATION=auth)
    assert Client().post("/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=auth).json() == {"active": False}
    assert Client().post("/oauth2/introspect", {"token": "garbage"}, HTTP_AUTHORIZATION=auth).json() == {
        "active": False
    }


def test_another_applications_client_cannot_introspect_a_token(setup):
    access = token(setup, grant_type="client_credentials").json()["access_token"]
    other_app = dp.application_create(owner=factories.user("eve"), name="Eve")
    other, secret = keys_generate(application=other_app, key_type="PRODUCTION", grant_types=None, user=other_app.owner)
    resp = Client().post("/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=_basic(other.client_id, secret))
    assert resp.status_code in (400, 401, 403) or resp.json() == {"active": False}
    assert resp.json().get("active") is not True


def test_a_deactivated_admins_client_introspects_nothing(setup):
    # It could no longer get tokens, but still read any developer's token as "active".
    from keymanager.services import user_deactivate

    access = token(setup, grant_type="client_credentials").json()["access_token"]
    ada = factories.user("ada", roles=["admin"])
    factories.user("bo", roles=["admin"])  # not the last admin
    app = dp.application_create(owner=ada, name="Ops")
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=ada)
    auth = _basic(client.client_id, secret)
    assert Client().post("/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=auth).json()["active"] is True
    user_deactivate(user=ada, acting_user=None)
    resp = Client().post("/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=auth)
    assert resp.json().get("active") is not True


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"},
        {"grant_type": "password", "username": "u" * 300, "password": "x"},
        {"grant_type": "password", "username": "dev\x00", "password": "x"},
    ],
    ids=["nul-client-id", "long-username", "nul-username"],
)
def test_names_no_account_could_have_are_400_before_the_lockout_stores_them(setup, form):
    # PostgreSQL refuses a NUL in text and axes' username column holds 255 characters: a 500.
    auth = {} if "client_id" in form else {"HTTP_AUTHORIZATION": _basic(setup["client"].client_id, setup["secret"])}
    resp = Client().post("/oauth2/token", form, **auth)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", resp.content
    assert not AccessAttempt.objects.exists()


def test_failed_client_authentications_are_limited_per_client_and_address(setup, settings):
    settings.TIDEGATE = {**settings.TIDEGATE, "TOKEN_ENDPOINT_FAILURES": 3}
    for _ in range(2):
        assert token(setup, secret="guess", grant_type="client_credentials").status_code == 401
    assert token(setup, secret="guess", grant_type="client_credentials").status_code == 429  # the third
    limited = token(setup, grant_type="client_credentials")  # even the right secret waits now
    assert limited.status_code == 429 and limited.json()["error"] == "slow_down"
    assert 0 < int(limited["Retry-After"]) <= settings.TIDEGATE["LOCKOUT_WINDOW"]
    # A window after the latest failure, the client is let in again.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - dt.timedelta(seconds=settings.TIDEGATE["LOCKOUT_WINDOW"])
    )
    assert token(setup, grant_type="client_credentials").status_code == 200


def test_rotation_keeps_earlier_tokens_valid_until_they_expire(setup):
    before = token(setup, grant_type="client_credentials").json()["access_token"]
    old_kid = pyjwt.get_unverified_header(before)["kid"]
    call_command("rotate_signing_key", stdout=__import__("io").StringIO())
    after = token(setup, grant_type="client_credentials").json()["access_token"]
    assert pyjwt.get_unverified_header(after)["kid"] != old_kid
    assert _verify(before)["sub"] == _verify(after)["sub"] == "dev"  # both verify against the JWKS

    # Once every token the old key signed has expired, the key leaves the JWKS.
    long_ago = timezone.now() - dt.timedelta(days=2)
    SigningKey.objects.filter(kid=old_kid).update(retired_time=long_ago)
    IssuedToken.objects.filter(issued_at__lte=timezone.now()).exclude(
        jti=pyjwt.decode(after, options={"verify_signature": False})["jti"]
    ).update(issued_at=long_ago, expires_at=long_ago + dt.timedelta(hours=1))
    kids = [k["kid"] for k in Client().get("/oauth2/jwks").json()["keys"]]
    assert old_kid not in kids and pyjwt.get_unverified_header(after)["kid"] in kids


# ------------------------------------------------------------ the REST APIs with a bearer token


def test_rest_apis_take_bearer_tokens_with_apim_scopes(setup, owner):
    """WSO2's script flow: a password-grant token with apim:* scopes calls the Publisher."""
    owner.set_password("owner-Password-1")
    owner.save()
    resp = token(
        setup,
        grant_type="password",
        username="owner",
        password="owner-Password-1",
        scope="apim:api_view apim:admin",
    )
    body = resp.json()
    assert body["scope"] == "apim:api_view"  # owner is no admin: the subset
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {body['access_token']}"}
    api = Client().get("/api/am/publisher/v4/apis", **bearer)
    assert api.status_code == 200 and api.json()["count"] == 1
    create = Client().post("/api/am/publisher/v4/apis", {}, content_type="application/json", **bearer)
    assert create.status_code == 403 and "apim:api_create" in create.json()["description"]
    assert Client().get("/api/am/publisher/v4/apis", HTTP_AUTHORIZATION="Bearer not-a-jwt").status_code == 401
    auth = _basic(setup["client"].client_id, setup["secret"])
    assert Client().post("/oauth2/revoke", {"token": body["access_token"]}, HTTP_AUTHORIZATION=auth).status_code == 200
    assert Client().get("/api/am/publisher/v4/apis", **bearer).status_code == 401


def test_every_apim_scope_is_described_for_the_openapi_document():
    from keymanager.scopes import APIM_SCOPE_DESCRIPTIONS, APIM_SCOPES

    assert set(APIM_SCOPES) == set(APIM_SCOPE_DESCRIPTIONS)


def test_purge_forgets_long_expired_tokens_but_keeps_usable_refresh_tokens(setup):
    token(setup, grant_type="client_credentials")
    token(setup, grant_type="password", username="dev", password="dev-Password-1")
    long_ago = timezone.now() - dt.timedelta(days=3)
    IssuedToken.objects.update(issued_at=long_ago, expires_at=long_ago + dt.timedelta(hours=1))
    out = __import__("io").StringIO()
    call_command("purge_expired", stdout=out)
    # The client-credentials record goes; the password one stays while its refresh token works.
    assert "1 expired token records" in out.getvalue()
    assert list(IssuedToken.objects.values_list("grant_type", flat=True)) == ["password"]
