"""The Admin Portal's Key managers section: add, delete, and "Test JWKS", which fetches the
issuer's JWKS URL from a real HTTP server through import by URL's SSRF guard."""

import http.server
import json
import threading

import pytest
from django.conf import settings
from django.test import override_settings
from joserfc.jwk import ECKey, RSAKey

from adminportal.tests.conftest import text
from keymanager.models import ExternalIssuer
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db
ALLOW_PRIVATE = override_settings(TIDEGATE={**settings.TIDEGATE, "IMPORT_URL_ALLOW_PRIVATE": True})


@pytest.fixture
def jwks_server():
    """A real HTTP server on loopback (a port the system picks) serving JWKS documents."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "idp-2024", "alg": "RS256", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "idp-ec"})
    private = RSAKey.generate_key(2048, parameters={"kid": "oops"})
    routes = {
        "/jwks": (200, {"keys": [rsa.as_dict(private=False), ec.as_dict(private=False)]}),
        "/leaky": (200, {"keys": [private.as_dict(private=True)]}),
        "/not-jwks": (200, {"hello": "world"}),
        "/html": (200, "<html>login</html>"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, doc = routes.get(self.path, (404, "not here"))
            body = (json.dumps(doc) if isinstance(doc, dict) else doc).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _issuer(url, name="idp"):
    return ExternalIssuer.objects.create(name=name, issuer=f"https://{name}.example", jwks_url=url)


def _test_jwks(client, issuer) -> str:
    resp = client.post(f"/admin-portal/key-managers/{issuer.id}/test-jwks")
    assert resp.status_code == 200
    page = text(resp)
    return page[page.index('id="jwks-result"') :].split("</article>")[0]


@ALLOW_PRIVATE
def test_test_jwks_shows_the_keys_the_issuer_publishes(admin_client, jwks_server):
    issuer = _issuer(f"{jwks_server}/jwks")
    result = _test_jwks(admin_client, issuer)
    assert "Found 2 keys." in result
    rsa_row = result[result.index("idp-2024") :].split("</tr>")[0]
    assert "RSA" in rsa_row and "RS256" in rsa_row and "usable" in rsa_row
    ec_row = result[result.index("idp-ec") :].split("</tr>")[0]
    assert "not an RSA key: gateways verify RS256 only" in ec_row
    assert not AuditEvent.objects.exists()  # testing changes nothing


@ALLOW_PRIVATE
@pytest.mark.parametrize(
    "path,error",
    [
        ("/missing", "answered HTTP 404"),
        ("/not-jwks", 'no JWKS document: it has no "keys" list'),
        ("/html", "not JSON"),
    ],
)
def test_test_jwks_says_why_a_url_is_no_usable_jwks(admin_client, jwks_server, path, error):
    result = _test_jwks(admin_client, _issuer(f"{jwks_server}{path}"))
    assert "Could not use this JWKS" in result and error in result


@ALLOW_PRIVATE
def test_test_jwks_warns_of_private_keys_in_a_jwks(admin_client, jwks_server):
    result = _test_jwks(admin_client, _issuer(f"{jwks_server}/leaky"))
    assert "holds PRIVATE key material" in result


def test_test_jwks_refuses_loopback_unless_private_addresses_are_allowed(admin_client, jwks_server):
    result = _test_jwks(admin_client, _issuer(f"{jwks_server}/jwks"))
    assert "a loopback, private or reserved address: test JWKS fetches from public addresses only" in result
    assert "TIDEGATE_IMPORT_URL_ALLOW_PRIVATE=1" in result and "Found" not in result


def test_adding_a_key_manager(admin_client, admin):
    resp = admin_client.post(
        "/admin-portal/key-managers/create",
        {
            "name": "corp-idp",
            "issuer": "https://login.corp.example",
            "jwks_url": "https://login.corp.example/keys",
            "consumer_key_claim": "client_id",
        },
        follow=True,
    )
    assert "Added the key manager corp-idp" in text(resp)
    km = ExternalIssuer.objects.get(name="corp-idp")
    assert (km.issuer, km.jwks_url, km.consumer_key_claim, km.validate_subscription) == (
        "https://login.corp.example",
        "https://login.corp.example/keys",
        "client_id",
        False,  # the box was not ticked
    )
    assert AuditEvent.objects.get(action="key-manager.create").actor == admin
    assert admin_client.get("/api/am/admin/v4/key-managers").json()["count"] == 1


@pytest.mark.parametrize(
    "overrides,error",
    [
        ({"jwks_url": "ftp://idp.example/keys"}, "certificates.value must be an http(s) URL"),
        ({"jwks_url": "not a url"}, "Enter a valid URL."),
        ({"issuer": ""}, "This field is required."),
        ({"name": "idp"}, "A key manager with this name or issuer already exists"),
        # Named as the built-in Key Manager, it took its place at the gateways.
        ({"issuer": "https://localhost:9443/oauth2/token"}, "is this deployment's own"),
        ({"issuer": "https://localhost:9095/testkey/"}, "is this deployment's own"),
    ],
)
def test_bad_input_is_explained_and_adds_nothing(admin_client, overrides, error):
    _issuer("https://idp.example/keys")
    form = {
        "name": "new",
        "issuer": "https://new.example",
        "jwks_url": "https://new.example/k",
        "consumer_key_claim": "azp",
    }
    resp = admin_client.post("/admin-portal/key-managers/create", {**form, **overrides})
    assert resp.status_code == 200 and error in text(resp)
    assert ExternalIssuer.objects.count() == 1 and not AuditEvent.objects.exists()


def test_deleting_a_key_manager(admin_client):
    issuer = _issuer("https://idp.example/keys")
    resp = admin_client.post(f"/admin-portal/key-managers/{issuer.id}/delete", follow=True)
    assert "Deleted the key manager idp" in text(resp)
    assert not ExternalIssuer.objects.exists()
    assert AuditEvent.objects.get(action="key-manager.delete").detail == {"issuer": "https://idp.example"}
    assert admin_client.post(f"/admin-portal/key-managers/{issuer.id}/delete").status_code == 404
