"""Small changes travel as deltas; anything else, or a gap, means a full snapshot."""

import pytest
from django.test import Client

from devportal.services import application_ensure_default, subscription_block, subscription_create
from gateway_contract.deltas import snapshot_apply
from gateway_sync.models import ConfigChange
from gateway_sync.services import config_deltas, config_version
from keymanager.services import keys_generate
from tests import factories
from tidegate.snapshot.builder import snapshot_build

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # deltas are recorded after commit


@pytest.fixture
def world():
    owner = factories.user("owner", roles=["creator", "publisher"])
    api = factories.published_api(owner)
    app = application_ensure_default(user=owner)
    keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=owner)
    return owner, api, app


def test_subscription_changes_are_deltas_that_rebuild_the_same_snapshot(world):
    owner, api, app = world
    before = config_version()
    old = snapshot_build(environments=["Default"], version=before)
    sub = subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=owner)
    subscription_block(subscription=sub, state="BLOCKED", acting_user=owner)
    now = config_version()
    deltas = config_deltas(since=before, version=now)
    assert [d["kind"] for d in deltas] == ["subscription", "subscription"]
    patched = snapshot_apply(old, deltas, now)
    full = snapshot_build(environments=["Default"], version=now)
    assert patched.applications == full.applications and patched.version == full.version


def test_other_changes_and_gaps_need_a_full_snapshot(world):
    owner, api, app = world
    before = config_version()
    sub = subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=owner)
    assert config_deltas(since=before, version=config_version()) is not None
    factories.api(owner, context="/another")  # creating an API records no change...
    from publisher.services import api_change_lifecycle

    api_change_lifecycle(api=api, action="Block", user=owner)  # ...but a lifecycle change is a full one
    assert config_deltas(since=before, version=config_version()) is None
    later = config_version()
    subscription_block(subscription=sub, state="UNBLOCKED", acting_user=owner)
    ConfigChange.objects.filter(version=later + 1).delete()  # a purged change: a gap
    assert config_deltas(since=later, version=config_version()) is None


def test_the_snapshot_endpoint_answers_deltas_when_it_can(world, settings):
    owner, api, app = world
    before = config_version()
    subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=owner)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}")
    data = client.get("/internal/gateway/snapshot", {"since": before}).json()
    assert data["since"] == before and data["deltas"][0]["kind"] == "subscription"
    assert "apis" in client.get("/internal/gateway/snapshot", {"since": before - 1}).json()  # lifecycle change: full


def test_revocations_and_unsubscriptions_reach_gateways_as_the_json_they_read(world, settings):
    """Each kind of delta the apps name (typed, since issue 16) is answered to a gateway as
    the same bytes it has always read: the wire format did not move with the types."""
    import base64

    from devportal.services import subscription_delete
    from keymanager.models import IssuedToken

    owner, api, app = world
    sub = subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=owner)
    client, secret = keys_generate(application=app, key_type="SANDBOX", grant_types=None, user=owner)
    keys = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    access = Client().post("/oauth2/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=keys).json()
    jti = IssuedToken.objects.get(client=client).jti
    before = config_version()
    assert (
        Client().post("/oauth2/revoke", {"token": access["access_token"]}, HTTP_AUTHORIZATION=keys).status_code == 200
    )
    subscription_delete(subscription=sub, user=owner)

    gateway = Client(HTTP_AUTHORIZATION=f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}")
    body = gateway.get("/internal/gateway/snapshot", {"since": before}).content.decode()
    assert (
        '"deltas": [{"kind": "revoke", "jtis": ["' + jti + '"]}, '
        '{"kind": "unsubscribe", "application": "' + str(app.id) + '", "subscription": "' + str(sub.id) + '"}]'
    ) in body


def test_a_since_that_is_a_digit_only_to_unicode_gets_the_full_snapshot(world, settings):
    """The review: ``since=²`` passed ``isdigit()`` and broke ``int()`` (500)."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}")
    resp = client.get("/internal/gateway/snapshot", {"since": "²"})
    assert resp.status_code == 200 and "apis" in resp.json()
