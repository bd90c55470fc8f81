"""Deactivating a user (issue 14 item 4) over the Admin REST: their tokens are revoked
(those of applications they own and their password-grant tokens), their applications leave
the gateway snapshot, it is audited, and activating brings the applications back. The live gateway side is in tests/test_user_deactivation.py."""

import base64
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from devportal import services as dp
from gateway_contract.wire import SNAPSHOT_PATH
from keymanager.models import IssuedToken
from keymanager.services import keys_generate
from portal.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
ADMIN = "/api/am/admin/v4"


def _token(client, secret, **form) -> dict:
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    resp = Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=auth)
    assert resp.status_code == 200, resp.content
    return resp.json()


@pytest.fixture
def world():
    """dev owns an application with a token; dev also holds a password-grant token on
    other's application, which has a token of its own."""
    owner = factories.user("owner", roles=["creator", "publisher"])
    api = factories.published_api(owner)
    dev = factories.user("dev", password="dev-Password-1")
    other = factories.user("other")
    apps = {}
    for user in (dev, other):
        app = dp.application_create(owner=user, name=f"{user.username}-app")
        dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=user)
        client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=user)
        apps[user.username] = {"app": app, "client": client, "secret": secret}
    own = _token(apps["dev"]["client"], apps["dev"]["secret"], grant_type="client_credentials")
    other_app = apps["other"]
    as_dev = _token(
        other_app["client"], other_app["secret"], grant_type="password", username="dev", password="dev-Password-1"
    )
    theirs = _token(other_app["client"], other_app["secret"], grant_type="client_credentials")
    boss = factories.user("boss", roles=["admin"])
    return {"dev": dev, "apps": apps, "own": own, "as_dev": as_dev, "theirs": theirs, "boss": boss, "api": api}


def _rest(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def _snapshot() -> dict:
    resp = Client().get(SNAPSHOT_PATH, HTTP_AUTHORIZATION="Bearer dev-gateway-token")
    assert resp.status_code == 200
    return resp.json()


def _app_ids_in_snapshot() -> set[str]:
    snap = _snapshot()
    return set(snap["application_ids"]) | {a["id"] for a in snap["applications"].values()}


def _revoked(token: dict) -> bool:
    part = token["access_token"].split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["jti"]
    return IssuedToken.objects.get(jti=jti).revoked


def test_admin_rest_deactivate_revokes_their_tokens_and_drops_their_applications(world):
    dev_app, other_app = str(world["apps"]["dev"]["app"].id), str(world["apps"]["other"]["app"].id)
    assert {dev_app, other_app} <= _app_ids_in_snapshot()

    resp = _rest(world["boss"]).post(f"{ADMIN}/users/dev/deactivate")
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"username": "dev", "isActive": False, "tokensRevoked": 2}
    assert _revoked(world["own"]) and _revoked(world["as_dev"]) and not _revoked(world["theirs"])
    in_snapshot = _app_ids_in_snapshot()
    assert dev_app not in in_snapshot and other_app in in_snapshot
    # The refresh token of their password-grant token is refused too.
    other = world["apps"]["other"]
    auth = "Basic " + base64.b64encode(f"{other['client'].client_id}:{other['secret']}".encode()).decode()
    refreshed = Client().post(
        "/oauth2/token",
        {"grant_type": "refresh_token", "refresh_token": world["as_dev"]["refresh_token"]},
        HTTP_AUTHORIZATION=auth,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(action="user.deactivate")
    assert event.actor == world["boss"] and event.detail["tokensRevoked"] == 2

    resp = _rest(world["boss"]).post(f"{ADMIN}/users/dev/activate")
    assert resp.status_code == 200 and resp.json() == {"username": "dev", "isActive": True}
    assert dev_app in _app_ids_in_snapshot()
    assert _revoked(world["own"])  # they get new tokens
    assert AuditEvent.objects.filter(action="user.activate", actor=world["boss"]).exists()


def _try_out_key(user, api) -> str:
    """A Publisher try-out key (Internal-Key) for ``api``, through the Publisher REST; its jti."""
    resp = _rest(user).post(f"/api/am/publisher/v4/apis/{api.id}/generate-key")
    assert resp.status_code == 200, resp.content
    part = resp.json()["apikey"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["jti"]


def test_deactivating_a_publisher_revokes_their_try_out_keys(world):
    # A self-contained key the gateway checks by signature alone: without a record it
    # kept opening the API for the hour of its validity after its user was shut out.
    pia, kim = (factories.user(name, roles=["creator", "publisher"]) for name in ("pia", "kim"))
    pia_key, kim_key = _try_out_key(pia, world["api"]), _try_out_key(kim, world["api"])
    assert not {pia_key, kim_key} & set(_snapshot()["revoked"])

    resp = _rest(world["boss"]).post(f"{ADMIN}/users/pia/deactivate")
    assert resp.status_code == 200 and resp.json()["tokensRevoked"] == 1
    revoked = set(_snapshot()["revoked"])
    assert pia_key in revoked and kim_key not in revoked
    # Activated again, they make a new key; the old one stays revoked.
    assert _rest(world["boss"]).post(f"{ADMIN}/users/pia/activate").status_code == 200
    assert pia_key in set(_snapshot()["revoked"])

    kim.delete()  # a user removed outright (manage.py shell): their keys go with them
    assert kim_key in set(_snapshot()["revoked"])


def test_deleting_a_user_tells_the_gateways(world, django_capture_on_commit_callbacks):
    # Deactivation says so itself; a deletion (manage.py shell, a cascade) said nothing, so
    # gateways kept the snapshot with the user's applications and live try-out keys.
    from gateway_sync.services import config_version

    before = config_version()
    with django_capture_on_commit_callbacks(execute=True):
        world["dev"].delete()
    assert config_version() == before + 1
    assert str(world["apps"]["dev"]["app"].id) not in _app_ids_in_snapshot()


def test_a_try_out_key_issued_to_a_user_deactivated_meanwhile_is_recorded_revoked(world):
    # The request's sign-in check passed before the deactivation committed.
    from keymanager.models import InternalKey
    from keymanager.server import internal_key_issue

    pia = factories.user("pia", roles=["creator", "publisher"])
    type(pia).objects.filter(pk=pia.pk).update(is_active=False)
    key = internal_key_issue(api=world["api"], user=pia)
    part = key.split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["jti"]
    assert InternalKey.objects.get(jti=jti).revoked
    assert jti in set(_snapshot()["revoked"])


def test_deactivation_revokes_the_api_keys_of_their_applications_for_good(world):
    # Hidden from the snapshot while the owner was inactive, the keys worked again on
    # reactivation, unlike their tokens.
    from keymanager.models import ApiKey
    from keymanager.services import api_key_generate

    record, _ = api_key_generate(
        application=world["apps"]["dev"]["app"], key_type="PRODUCTION", validity_period=-1, user=world["dev"]
    )
    resp = _rest(world["boss"]).post(f"{ADMIN}/users/dev/deactivate")
    assert resp.json()["tokensRevoked"] == 3  # two tokens and the key
    assert _rest(world["boss"]).post(f"{ADMIN}/users/dev/activate").status_code == 200
    assert ApiKey.objects.get(pk=record.pk).revoked
    assert record.jti in set(_snapshot()["revoked"])


def test_admin_rest_user_actions_need_the_admin_role_and_a_known_user(world):
    dev, boss = world["dev"], world["boss"]
    refused = _rest(factories.user("pub", roles=["publisher"])).post(f"{ADMIN}/users/dev/deactivate")
    assert refused.status_code == 403 and refused.json()["code"] == 403
    assert APIClient().post(f"{ADMIN}/users/dev/deactivate").status_code == 401
    missing = _rest(boss).post(f"{ADMIN}/users/nobody/deactivate")
    assert missing.status_code == 404 and missing.json()["description"] == "User 'nobody' not found"
    itself = _rest(boss).post(f"{ADMIN}/users/boss/deactivate")
    assert itself.status_code == 409 and "yourself" in itself.json()["description"]
    dev.refresh_from_db()
    boss.refresh_from_db()
    assert dev.is_active and boss.is_active
    assert not _revoked(world["own"]) and not AuditEvent.objects.filter(action="user.deactivate").exists()


def test_the_django_admin_is_no_way_in(world):
    """Users are managed through the Admin REST and manage.py, both through the
    services that audit and tell gateways; Django's generic admin, which would edit models
    around them, is not part of the product: not installed, nothing answers at /admin/."""
    from django.apps import apps

    boss = world["boss"]
    boss.is_staff = boss.is_superuser = True
    boss.save()
    web = Client()
    web.force_login(boss)
    assert not apps.is_installed("django.contrib.admin")
    assert web.get(f"/admin/auth/user/{world['dev'].pk}/change/").status_code == 404


def test_a_revoked_token_stays_listed_until_gateways_would_refuse_it_as_expired(world, settings):
    # Dropped the moment its exp passed by the portal's clock, while gateways accept a token
    # until exp + their leeway by theirs: a snapshot built meanwhile let it in again.
    import datetime as dt

    from django.utils import timezone

    settings.TIDEGATE = {**settings.TIDEGATE, "TOKEN_LEEWAY": 30}
    part = world["own"]["access_token"].split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["jti"]
    token = IssuedToken.objects.get(jti=jti)
    for seconds_ago, listed in ((80, True), (100, False)):  # 30 s of leeway and 60 of skew
        token.expires_at, token.revoked = timezone.now() - dt.timedelta(seconds=seconds_ago), True
        token.save()
        assert (jti in set(_snapshot()["revoked"])) is listed, seconds_ago
