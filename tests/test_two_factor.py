"""Two-factor sign-in (TOTP) for staff, through the real URLconf and middleware: enrolment
from the page with the secret it shows, the code asked after the password, a wrong code
counted by django-axes like a wrong password (lockout), recovery codes used once, the
Admin Portal's "require for staff" sending staff to enrol, and HTTP Basic refused for those
accounts. The codes are computed here from the secret the page shows (django_otp.oath)."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django_otp.oath import totp

from devportal import services as dp
from keymanager.services import keys_generate
from portal.models import AuditEvent, SiteSettings
from portal.site_settings import site_settings
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "staff-Passw0rd-1"
APIS = "/api/am/publisher/v4/apis"
APPS = "/api/am/devportal/v3/applications"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.TIDEGATE = {
        **settings.TIDEGATE,
        "LOCKOUT_FAILURES": 5,
        "LOCKOUT_USERNAME_FAILURES": 20,
        "LOCKOUT_WINDOW": 900,
        "TRUSTED_PROXIES": (),
    }


def code(secret: str, drift: int = 0) -> str:
    """The authenticator app's code for ``secret`` (base32, as the page shows it); ``drift=1``
    is the next time step's, which the portal also accepts (one step of tolerance), so a
    test never reuses the code that confirmed the enrolment (refused as a replay)."""
    return f"{totp(base64.b32decode(secret), drift=drift):06d}"


def signed_in(username: str) -> Client:
    client = Client()
    resp = client.post("/login/", {"username": username, "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == "/", resp.content[:300]
    return client


def enrol(client: Client) -> tuple[str, list[str]]:
    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code, inline
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    resp = client.post("/account/two-factor/enrol", {"code": code(secret)})
    assert resp.status_code == 200, resp.content[:500]
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", resp.content.decode())
    assert len(codes) == 10
    return secret, codes


def basic(username: str) -> dict:
    token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def creator():
    return factories.user("carol", roles=["creator"], password=PASSWORD)


@pytest.fixture
def enrolled(creator):
    secret, codes = enrol(signed_in("carol"))
    return {"secret": secret, "codes": codes}


def require_two_factor(on: bool = True) -> None:
    SiteSettings.objects.filter(pk=site_settings().pk).update(staff_two_factor_required=on)


def test_enrolment_asks_for_a_code_at_the_next_sign_in(creator, enrolled):
    assert AuditEvent.objects.filter(action="user.two_factor.enrol", target_id=str(creator.pk)).exists()
    client = Client()
    resp = client.post("/login/", {"username": "carol", "password": PASSWORD, "next": "/publisher/"})
    assert resp.status_code == 302 and resp["Location"] == "/login/code"
    # The password alone signs no one in.
    assert client.get("/publisher/").status_code == 302
    resp = client.post("/login/code", {"code": code(enrolled["secret"], drift=1)})
    assert resp.status_code == 302 and resp["Location"] == "/publisher/"
    assert client.get("/publisher/").status_code == 200


def test_a_wrong_code_at_enrolment_turns_nothing_on(creator):
    client = signed_in("carol")
    client.get("/account/two-factor/")
    resp = client.post("/account/two-factor/enrol", {"code": "000000"})
    assert resp.status_code == 400 and "does not match" in resp.content.decode()
    assert signed_in("carol").get("/publisher/").status_code == 200  # still no code asked
    assert not AuditEvent.objects.filter(action__startswith="user.two_factor").exists()


def test_wrong_codes_count_like_wrong_passwords_and_lock_out(creator, enrolled):
    client = Client()
    client.post("/login/", {"username": "carol", "password": PASSWORD})
    statuses = [client.post("/login/code", {"code": "123456"}).status_code for _ in range(5)]
    assert statuses[:4] == [400] * 4 and statuses[4] == 429
    # Locked out: neither the password nor the right code gets in now.
    resp = client.post("/login/code", {"code": code(enrolled["secret"], drift=1)})
    assert resp.status_code == 429 and "Too many failed sign-ins" in resp.content.decode()
    assert Client().post("/login/", {"username": "carol", "password": PASSWORD}).status_code == 429
    assert AuditEvent.objects.filter(action="auth.lockout", target_id=str(creator.pk)).exists()


def test_a_recovery_code_signs_in_once(creator, enrolled):
    first = enrolled["codes"][0]
    client = Client()
    client.post("/login/", {"username": "carol", "password": PASSWORD})
    assert client.post("/login/code", {"code": first}).status_code == 302
    assert client.get("/publisher/").status_code == 200
    assert "9 unused recovery codes left" in client.get("/account/two-factor/").content.decode()

    again = Client()
    again.post("/login/", {"username": "carol", "password": PASSWORD})
    resp = again.post("/login/code", {"code": first})
    assert resp.status_code == 400 and "not right" in resp.content.decode()
    assert again.get("/publisher/").status_code == 302
    assert AuditEvent.objects.filter(action="user.two_factor.recovery_code_used").count() == 1


def test_recovery_codes_are_regenerated_and_the_device_removed_with_a_current_code(creator, enrolled):
    client = signed_in_with_code("carol", enrolled["codes"][0])
    resp = client.post("/account/two-factor/recovery-codes", {"code": "000000"})
    assert resp.status_code == 400
    resp = client.post("/account/two-factor/recovery-codes", {"code": code(enrolled["secret"], drift=1)})
    assert resp.status_code == 200
    fresh = re.findall(r"<li><code>([a-z2-7]+)</code></li>", resp.content.decode())
    assert len(fresh) == 10 and not set(fresh) & set(enrolled["codes"])

    assert client.post("/account/two-factor/remove", {"code": "nope"}).status_code == 400
    assert client.post("/account/two-factor/remove", {"code": enrolled["codes"][1]}).status_code == 400  # old
    resp = client.post("/account/two-factor/remove", {"code": fresh[0]})
    assert resp.status_code == 302
    assert signed_in("carol").get("/publisher/").status_code == 200  # the password alone again
    actions = set(AuditEvent.objects.filter(target_id=str(creator.pk)).values_list("action", flat=True))
    assert {"user.two_factor.recovery_regenerate", "user.two_factor.remove"} <= actions


def signed_in_with_code(username: str, second: str) -> Client:
    client = Client()
    client.post("/login/", {"username": username, "password": PASSWORD})
    assert client.post("/login/code", {"code": second}).status_code == 302
    return client


def test_required_sends_staff_without_it_to_enrol_and_nothing_else(creator):
    factories.user("dana", password=PASSWORD)
    require_two_factor()
    client = Client()
    resp = client.post("/login/", {"username": "carol", "password": PASSWORD}, follow=True)
    assert resp.redirect_chain[-1][0] == "/account/two-factor/"
    assert "requires two-factor sign-in for staff" in resp.content.decode()
    assert client.get("/publisher/")["Location"] == "/account/two-factor/"
    resp = client.get(APIS)  # REST with the session
    assert resp.status_code == 403 and "/account/two-factor/" in resp.json()["description"]
    # A developer (no staff role) is not asked.
    assert signed_in("dana").get("/devportal/").status_code == 200

    secret, _ = enrol(client)
    assert client.get("/publisher/").status_code == 200


def test_rest_basic_is_refused_for_staff_while_required_and_accepted_otherwise(creator):
    factories.user("dana", password=PASSWORD)
    client = Client()
    assert client.get(APIS, **basic("carol")).status_code == 200

    require_two_factor()
    resp = client.get(APIS, **basic("carol"))
    assert resp.status_code == 401
    body = resp.json()
    assert body["code"] == 401 and "OAuth2 tokens or API keys" in body["description"]
    assert client.get(APPS, **basic("dana")).status_code == 200  # developers keep Basic

    require_two_factor(False)
    assert client.get(APIS, **basic("carol")).status_code == 200


def test_rest_basic_is_refused_for_an_account_with_two_factor(creator, enrolled):
    resp = Client().get(APIS, **basic("carol"))
    assert resp.status_code == 401 and "OAuth2 tokens or API keys" in resp.json()["description"]


def test_the_admin_portal_setting_requires_it_and_is_audited():
    factories.user("root", roles=["admin"], password=PASSWORD)
    client = signed_in("root")
    resp = client.post(
        "/admin-portal/settings/save",
        {"signup_enabled": "on", "staff_two_factor_required": "on", "default_policies": ["AsyncUnlimited"]},
    )
    assert resp.status_code == 302
    assert site_settings().staff_two_factor_required is True
    event = AuditEvent.objects.get(action="settings.update")
    assert event.detail["staff_two_factor_required"] == {"from": False, "to": True}
    # The admin is staff too: sent to enrol.
    assert client.get("/admin-portal/settings/")["Location"] == "/account/two-factor/"


def test_the_password_grant_is_refused_for_an_account_with_two_factor(creator, enrolled):
    app = dp.application_create(owner=creator, name="Scripts")
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=creator)
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    form = {"grant_type": "password", "username": "carol", "password": PASSWORD}
    resp = Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=auth)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert "two-factor" in resp.json()["error_description"]
    # Scripts of the account's own application still get tokens.
    resp = Client().post("/oauth2/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth)
    assert resp.status_code == 200 and resp.json()["access_token"]
