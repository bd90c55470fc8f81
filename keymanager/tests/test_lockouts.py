"""Guessing credentials, over HTTP against the real URLconf: every place a password or a client
secret is checked counts failures per (name, client address) and per name, in the database;
the client address follows only trusted proxies; refresh tokens can be revoked; an inactive
user gets nothing; and /metrics counts what was refused."""

import base64
import datetime as dt
import os
import subprocess
import sys

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from devportal import services as dp
from keymanager.models import IssuedToken
from keymanager.services import keys_generate
from portal import throttle
from portal.models import AuditEvent
from tests import factories
from testsupport.stack import ROOT, free_port

pytestmark = pytest.mark.django_db

PASSWORD = "dev-Password-1"
APPS = "/api/am/devportal/v3/applications"


@pytest.fixture(autouse=True)
def limits(settings):
    """The limits spelled out, so the tests read the same whatever the defaults become."""
    settings.TIDEGATE = {
        **settings.TIDEGATE,
        "LOCKOUT_FAILURES": 5,
        "LOCKOUT_USERNAME_FAILURES": 20,
        "LOCKOUT_WINDOW": 900,
        "LOCKOUT_USERNAME_INTERVAL": 10,
        "LOCKOUT_IPV6_PREFIX": 64,
        "TOKEN_ENDPOINT_FAILURES": 10,
        "TRUSTED_PROXIES": (),
    }
    return settings.TIDEGATE


class Clock:
    """The per-user guess rate's clock, moved by the test instead of waiting."""

    def __init__(self):
        self.offset = dt.timedelta()

    def __call__(self):
        return timezone.now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    moved = Clock()
    monkeypatch.setattr(throttle, "now", moved)
    return moved


@pytest.fixture
def dev():
    return factories.user("dev", password=PASSWORD)


def _keys(owner, name="App"):
    app = dp.application_create(owner=owner, name=name)
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=owner)
    return client, secret


@pytest.fixture
def keys(dev):
    return _keys(dev)


def basic(user, secret):
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def token(keys, address="127.0.0.1", secret=None, **form):
    client, right = keys
    return Client(REMOTE_ADDR=address).post(
        "/oauth2/token", form, HTTP_AUTHORIZATION=basic(client.client_id, secret or right)
    )


def password_grant(keys, password, address="127.0.0.1", username="dev"):
    return token(keys, address, grant_type="password", username=username, password=password)


# ------------------------------------------------------------------ item 1: password guessing


def test_25_wrong_password_grant_guesses_then_the_right_one_get_429_not_a_token(keys):
    first = password_grant(keys, "guess-0")
    assert first.status_code == 400 and first.json()["error"] == "invalid_grant"  # RFC 6749 5.2
    answers = [password_grant(keys, f"guess-{i}").status_code for i in range(1, 25)]
    assert set(answers) <= {400, 429} and answers[-1] == 429
    right = password_grant(keys, PASSWORD)
    assert right.status_code == 429 and "access_token" not in right.json()
    assert right.json()["error"] == "slow_down" and int(right["Retry-After"]) > 0
    assert not IssuedToken.objects.exists()
    assert AuditEvent.objects.filter(action="auth.lockout", detail__surface="oauth2", detail__username="dev").exists()


def test_login_page_locks_after_failures_with_a_plain_message(dev):
    browser = Client()
    for i in range(5):
        browser.post("/login/", {"username": "dev", "password": f"guess-{i}"})
    page = browser.post("/login/", {"username": "dev", "password": PASSWORD})
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in browser.session  # the right password did not sign in
    assert AuditEvent.objects.filter(action="auth.lockout", detail__surface="login").exists()


def test_rest_basic_answers_429_with_retry_after_after_failures(dev):
    for i in range(4):
        assert Client().get(APPS, HTTP_AUTHORIZATION=basic("dev", f"guess-{i}")).status_code == 401
    assert Client().get(APPS, HTTP_AUTHORIZATION=basic("dev", "guess-5")).status_code == 429  # the fifth
    locked = Client().get(APPS, HTTP_AUTHORIZATION=basic("dev", PASSWORD))
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert locked.json()["code"] == 429 and "try again" in locked.json()["description"]


def test_the_owner_from_a_clean_address_still_gets_in(keys, dev, clock):
    """Guessing from many addresses passes the per-name limit: every guessing address is refused
    for the name even with the right password; the owner's clean address gets in once the
    user's rate allows a try (one per LOCKOUT_USERNAME_INTERVAL from clean addresses)."""
    # 5 addresses x 4 failures: each under the pair limit; together at the per-name one,
    # which the last guess reaches.
    answers = [
        password_grant(keys, f"guess-{i}", address=f"10.0.0.{n}").status_code for n in range(5) for i in range(4)
    ]
    assert answers == [400] * 19 + [429]
    assert password_grant(keys, PASSWORD, address="10.0.0.1").status_code == 429
    login = Client(REMOTE_ADDR="10.0.0.2").post("/login/", {"username": "dev", "password": PASSWORD})
    assert login.status_code == 429

    # The last guess was checked just now: the clean address waits, and is told how long.
    early = password_grant(keys, PASSWORD, address="192.0.2.50")
    assert early.status_code == 429 and 0 < int(early["Retry-After"]) <= 10
    clock.advance(10)
    assert password_grant(keys, PASSWORD, address="192.0.2.50").status_code == 200
    clock.advance(10)
    assert Client(REMOTE_ADDR="192.0.2.51").get(APPS, HTTP_AUTHORIZATION=basic("dev", PASSWORD)).status_code == 200
    clock.advance(10)
    owner = Client(REMOTE_ADDR="192.0.2.52")
    assert owner.post("/login/", {"username": "dev", "password": PASSWORD}).status_code == 302


def _rest(address, password, **extra):
    return Client(REMOTE_ADDR=address, **extra).get(APPS, HTTP_AUTHORIZATION=basic("dev", password))


def test_guesses_from_one_ipv6_64_count_as_one_address(dev, clock):
    """A host takes any address of its /64 at will: a new address per guess is still one
    client, refused after the pair limit, right password or not, before it is checked."""
    answers = [_rest(f"2001:db8::{n:x}", f"guess-{n}").status_code for n in range(1, 31)]
    assert answers == [401] * 4 + [429] * 26
    assert _rest("2001:db8::ffff", PASSWORD).status_code == 429
    assert _rest("2001:db8:0:0:ffff:ffff:ffff:ffff", PASSWORD).status_code == 429
    event = AuditEvent.objects.filter(action="auth.lockout", detail__username="dev").latest("id")
    assert event.detail["address"] == "2001:db8::/64"
    # Another /64 is another client; the refused attempts took dev past the per-name limit,
    # so it waits for the user's rate (the last checked guess was just now).
    clock.advance(10)
    assert _rest("2001:db8:0:1::1", PASSWORD).status_code == 200


def test_password_grant_guesses_from_one_64_behind_a_trusted_proxy_count_as_one(keys, limits, settings):
    settings.TIDEGATE = {**limits, "TRUSTED_PROXIES": ("127.0.0.0/8",)}

    def guess(n, password):
        client, secret = keys
        form = {"grant_type": "password", "username": "dev", "password": password}
        browser = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"2001:db8:5::{n:x}")
        return browser.post("/oauth2/token", form, HTTP_AUTHORIZATION=basic(client.client_id, secret)).status_code

    assert [guess(n, f"guess-{n}") for n in range(1, 11)] == [400] * 4 + [429] * 6
    assert guess(0xFFFF, PASSWORD) == 429
    # IPv4 clients still count one address each.
    assert password_grant(keys, PASSWORD, address="127.0.0.1").status_code == 200


def test_past_the_per_name_limit_clean_addresses_share_one_checked_guess_per_interval(dev, clock):
    """One guess from each of many addresses: past the per-name limit, a clean address has
    its password checked only once per interval for the user, so the right password from
    the 21st..50th address in the same moment is refused like a wrong one."""
    answers = [_rest(f"198.51.100.{n}", f"guess-{n}").status_code for n in range(20)]
    assert answers == [401] * 19 + [429]
    refused = [_rest(f"203.0.113.{n}", f"guess-{n}") for n in range(30)]
    right = _rest("203.0.113.200", PASSWORD)
    # Refused before the password is checked: the right one looks like every wrong one.
    assert {r.status_code for r in refused} == {429} and right.status_code == 429
    assert right.json()["code"] == refused[0].json()["code"] and 0 < int(right["Retry-After"]) <= 10
    assert AuditEvent.objects.filter(action="auth.lockout", detail__address="203.0.113.200").exists()

    clock.advance(10)
    assert _rest("203.0.113.201", "guess-next").status_code == 429  # checked (the one guess), wrong
    assert _rest("203.0.113.200", PASSWORD).status_code == 429  # the interval's guess is spent
    clock.advance(10)
    # An address refused only for the rate was not counted against: it is still clean.
    assert _rest("203.0.113.200", PASSWORD).status_code == 200


def test_a_bad_ipv6_prefix_stops_the_portal_at_start(tmp_path):
    env = {**os.environ, "TIDEGATE_DEBUG": "1", "TIDEGATE_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "TIDEGATE_LOCKOUT_IPV6_PREFIX": "129"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "TIDEGATE_LOCKOUT_IPV6_PREFIX" in run.stderr


# ------------------------------------------------------------------ the client address


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(keys, limits, settings):
    settings.TIDEGATE = {**limits, "TRUSTED_PROXIES": ("127.0.0.0/8", "10.1.0.0/16")}

    def via_proxy(forwarded, password, proxy="127.0.0.1"):
        browser = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)
        return browser.get(APPS, HTTP_AUTHORIZATION=basic("dev", password)).status_code

    # Behind the proxies, each client is its own address: the guesser is refused, the owner not.
    for i in range(5):
        via_proxy("198.51.100.7, 10.1.2.3", f"guess-{i}")
    assert via_proxy("198.51.100.7, 10.1.2.3", PASSWORD) == 429
    assert via_proxy("198.51.100.8, 10.1.2.3", PASSWORD) == 200
    # Left of the first untrusted entry is the client's own say: it changes nothing.
    assert via_proxy("192.0.2.1, 198.51.100.7, 10.1.2.3", PASSWORD) == 429

    # From an address that is no trusted proxy the header is ignored: a new X-Forwarded-For
    # per guess does not escape the limit.
    for i in range(5):
        via_proxy(f"192.0.2.{i}", f"guess-{i}", proxy="203.0.113.9")
    assert via_proxy("192.0.2.99", PASSWORD, proxy="203.0.113.9") == 429
    assert via_proxy("192.0.2.99", PASSWORD, proxy="203.0.113.10") == 200


def test_a_bad_trusted_proxy_entry_stops_the_portal_at_start(tmp_path):
    env = {**os.environ, "TIDEGATE_DEBUG": "1", "TIDEGATE_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "TIDEGATE_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "TIDEGATE_TRUSTED_PROXIES: 'proxy.internal'" in run.stderr


# ------------------------------------------------------------------ item 7: per client


def test_one_clients_bad_secrets_never_get_another_client_429(keys, dev):
    other = _keys(factories.user("other"), name="Other")
    for _ in range(12):
        assert token(keys, secret="guess", grant_type="client_credentials").status_code in (401, 429)
    assert token(keys, grant_type="client_credentials").status_code == 429  # A waits
    assert token(other, grant_type="client_credentials").status_code == 200  # B, same address, does not
    assert password_grant(other, PASSWORD).status_code == 200  # nor does dev's password through B


def test_bad_client_secrets_at_introspection_and_revocation_count_too(keys):
    client, secret = keys
    for _ in range(10):
        Client().post("/oauth2/introspect", {"token": "x"}, HTTP_AUTHORIZATION=basic(client.client_id, "guess"))
    for endpoint in ("/oauth2/introspect", "/oauth2/revoke", "/oauth2/token"):
        form = {"token": "x", "grant_type": "client_credentials"}
        refused = Client().post(endpoint, form, HTTP_AUTHORIZATION=basic(client.client_id, secret))
        assert refused.status_code == 429 and refused.json()["error"] == "slow_down"


@pytest.mark.parametrize("endpoint", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
def test_a_decoy_basic_name_does_not_carry_another_clients_secret_guesses(keys, endpoint):
    """Basic naming a decoy (no secret) plus the victim's id and a guessed secret in the form:
    two ways of authenticating (RFC 6749 2.3), refused and counted under both names, so the
    victim's limit holds and its right secret, sent either way, is then refused."""
    client, secret = keys
    base = {"grant_type": "client_credentials", "token": "x"}

    def decoy(n, guess):
        form = {**base, "client_id": client.client_id, "client_secret": guess}
        return Client().post(endpoint, form, HTTP_AUTHORIZATION=basic(f"decoy{n}", ""))

    answers = [decoy(n, f"guess-{n}") for n in range(30)]
    assert answers[0].status_code == 400 and answers[0].json()["error"] == "invalid_request"
    assert [a.status_code for a in answers] == [400] * 9 + [429] * 21
    assert decoy(99, secret).status_code == 429
    proper = Client().post(endpoint, base, HTTP_AUTHORIZATION=basic(client.client_id, secret))
    assert proper.status_code == 429 and proper.json()["error"] == "slow_down"


def test_a_basic_header_only_authlib_can_read_still_counts_under_its_client(keys):
    """Authlib decodes Basic leniently (characters outside base64 are dropped): the limit
    reads the header the same way, so a stray '!' does not move the guesses elsewhere."""
    client, secret = keys
    form = {"grant_type": "client_credentials"}
    sloppy = [
        Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=basic(client.client_id, f"guess-{n}") + "!")
        for n in range(10)
    ]
    assert [r.status_code for r in sloppy] == [401] * 9 + [429]
    assert Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=basic(client.client_id, secret)).status_code == 429


def test_one_client_sending_its_id_in_the_form_and_basic_still_works(keys):
    client, secret = keys
    form = {"grant_type": "client_credentials", "client_id": client.client_id}
    assert Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=basic(client.client_id, secret)).status_code == 200
    both = Client().post(
        "/oauth2/token", {**form, "client_secret": secret}, HTTP_AUTHORIZATION=basic(client.client_id, secret)
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


# ------------------------------------------------------------------ item 5: revocation


def _password_tokens(keys):
    body = password_grant(keys, PASSWORD).json()
    return body["access_token"], body["refresh_token"]


def _revoke(keys, value, hint=None):
    client, secret = keys
    form = {"token": value, **({"token_type_hint": hint} if hint else {})}
    return Client().post("/oauth2/revoke", form, HTTP_AUTHORIZATION=basic(client.client_id, secret))


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_revoking_either_token_of_a_pair_revokes_both(keys, hint):
    access, refresh = _password_tokens(keys)
    assert _revoke(keys, refresh, hint).status_code == 200
    again = token(keys, grant_type="refresh_token", refresh_token=refresh)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert Client().get(APPS, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    # And the other way round: the access token takes its refresh token along.
    access, refresh = _password_tokens(keys)
    assert _revoke(keys, access, hint).status_code == 200
    assert token(keys, grant_type="refresh_token", refresh_token=refresh).json()["error"] == "invalid_grant"


def test_revocation_keeps_rfc7009s_rules(keys):
    access, refresh = _password_tokens(keys)
    assert _revoke(keys, "no-such-token", "refresh_token").status_code == 200  # unknown: 200
    other = _keys(factories.user("other"), name="Other")
    refused = _revoke(other, refresh, "refresh_token")  # not other's to revoke
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert token(keys, grant_type="refresh_token", refresh_token=refresh).status_code == 200


# ------------------------------------------------------------------ item 4: inactive users


def test_an_inactive_user_gets_no_token_and_no_rest_access(keys, dev):
    access, refresh = _password_tokens(keys)
    browser = Client()
    browser.force_login(dev)
    dev.is_active = False
    dev.save()
    issued = IssuedToken.objects.count()
    refreshed = token(keys, grant_type="refresh_token", refresh_token=refresh)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert password_grant(keys, PASSWORD).json()["error"] == "invalid_grant"
    # dev owns the application: its own client credentials get nothing either.
    assert token(keys, grant_type="client_credentials").json()["error"] == "unauthorized_client"
    assert IssuedToken.objects.count() == issued
    assert Client().get(APPS, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    client, secret = keys
    introspected = Client().post(
        "/oauth2/introspect", {"token": access}, HTTP_AUTHORIZATION=basic(client.client_id, secret)
    )
    assert introspected.json() == {"active": False}
    assert Client(REMOTE_ADDR="192.0.2.1").get(APPS, HTTP_AUTHORIZATION=basic("dev", PASSWORD)).status_code == 401
    assert browser.get(APPS).status_code in (401, 403)


def test_an_inactive_owners_keys_issue_no_token_to_anyone(keys, dev):
    """Another user's password grant through a deactivated owner's keys is refused too."""
    factories.user("carol", password="carol-Password-1")
    dev.is_active = False
    dev.save()
    resp = password_grant(keys, "carol-Password-1", username="carol")
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client"


# ------------------------------------------------------------------ metrics and outages


def _lockouts(text):
    for family in text_string_to_metric_families(text):
        if family.name == "tidegate_auth_lockouts":
            return {s.labels["surface"]: s.value for s in family.samples if s.name.endswith("_total")}
    raise AssertionError("no tidegate_auth_lockouts in /metrics")


def test_lockouts_are_counted_in_metrics(keys, dev, settings):
    scraper = {"HTTP_AUTHORIZATION": f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}"}
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    signed_in = Client()
    signed_in.force_login(dev)
    assert signed_in.get("/metrics").status_code == 403
    before = _lockouts(Client().get("/metrics", **scraper).content.decode())
    assert before == {"oauth2": 0, "basic": 0, "login": 0}

    # A guess is a guess wherever it is made: one address per surface keeps the counts apart.
    for i in range(6):
        password_grant(keys, f"guess-{i}", address="10.0.1.1")
        Client(REMOTE_ADDR="10.0.2.1").get(APPS, HTTP_AUTHORIZATION=basic("dev", f"guess-{i}"))
        Client(REMOTE_ADDR="10.0.3.1").post("/login/", {"username": "dev", "password": f"guess-{i}"})
    # Each surface: the fifth failure crosses the limit, the sixth is refused.
    after = _lockouts(Client().get("/metrics", **scraper).content.decode())
    assert after == {"oauth2": 2, "basic": 2, "login": 2}
    admin = Client()
    admin.force_login(factories.user("boss", roles=["admin"]))
    assert _lockouts(admin.get("/metrics").content.decode()) == after


def test_a_redis_outage_does_not_turn_failed_attempts_into_errors(keys, dev, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    assert token(keys, secret="guess", grant_type="client_credentials").status_code == 401
    assert password_grant(keys, "guess").status_code == 400
    assert Client().get(APPS, HTTP_AUTHORIZATION=basic("dev", "guess")).status_code == 401
    assert token(keys, grant_type="client_credentials").status_code == 200


def test_basic_credentials_sign_in_no_request_another_site_made(dev):
    # A browser keeps Basic credentials once it has asked for them and sends them with a
    # hostile page's form POST too; Basic has no CSRF check. The 401 no longer makes
    # browsers ask (Bearer challenge), and a cross-site request is not signed in by Basic.
    auth = "Basic " + base64.b64encode(b"dev:" + PASSWORD.encode()).decode()
    url = "/api/am/devportal/v3/applications"
    assert Client().get(url, HTTP_AUTHORIZATION=auth).status_code == 200
    assert Client().get(url, HTTP_AUTHORIZATION=auth, HTTP_SEC_FETCH_SITE="same-origin").status_code == 200
    crossed = Client().post(url, {"name": "Planted"}, HTTP_AUTHORIZATION=auth, HTTP_SEC_FETCH_SITE="cross-site")
    assert crossed.status_code == 401
    assert crossed["WWW-Authenticate"].startswith("Bearer")


def test_a_refresh_token_of_the_password_grant_ends_once_the_account_has_two_factor(dev):
    # The password grant is refused to such an account; its refresh tokens, rotated for a
    # day each, kept a chain started with a stolen password alive indefinitely.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client, secret = _keys(dev)
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    first = Client().post(
        "/oauth2/token", {"grant_type": "password", "username": "dev", "password": PASSWORD}, HTTP_AUTHORIZATION=auth
    )
    assert first.status_code == 200, first.content
    TOTPDevice.objects.create(user=dev, name="phone", confirmed=True)
    refreshed = Client().post(
        "/oauth2/token",
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        HTTP_AUTHORIZATION=auth,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert "two-factor" in refreshed.json()["error_description"]


def test_no_token_is_logged_with_the_log_level_at_debug(dev, caplog):
    # Authlib logs "Issue token {...}", access and refresh token whole, at DEBUG.
    import logging

    caplog.set_level(logging.DEBUG)
    client, secret = _keys(dev)
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    issued = Client().post("/oauth2/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth).json()
    assert issued["access_token"] not in caplog.text


@pytest.mark.parametrize("name", ["dev\x00", "d" * 300], ids=["nul", "long"])
def test_a_basic_name_no_account_could_have_is_401_and_not_stored(name):
    # The lockout stored it first: PostgreSQL refuses a NUL, axes' column holds 255 characters.
    from axes.models import AccessAttempt

    auth = "Basic " + base64.b64encode(f"{name}:password".encode()).decode()
    assert Client().get("/api/am/devportal/v3/applications", HTTP_AUTHORIZATION=auth).status_code == 401
    assert not AccessAttempt.objects.exists()
