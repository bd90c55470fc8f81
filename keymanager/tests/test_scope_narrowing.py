"""Which API scopes /oauth2/token grants (issue 14 item 2): those of the DEPLOYED revisions,
never of the working copy, strictly when several deployed APIs declare one scope, and never
an apim: scope from a definition."""

import base64

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from devportal import services as dp
from keymanager.services import keys_generate
from publisher import services as pub
from publisher.models import ApiRevision
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "dev-Password-1"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def dev():
    return factories.user("dev", password=PASSWORD)  # no roles


def _scoped_api(owner, context, *, bindings):
    api = factories.published_api(owner, context=context)
    scope = {"name": "ops_admin", "description": "Administer", "bindings": bindings}
    pub.api_update(api=api, user=owner, changes={"scopes": [scope]})
    factories.redeploy(api, owner)
    return api


def _keys(dev, *apis):
    app = dp.application_create(owner=dev, name=f"App{len(apis)}")
    for api in apis:
        dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
    return "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()


def _granted(auth, **form) -> str | None:
    """The scope the token endpoint granted, or None when it answered invalid_scope."""
    resp = Client().post("/oauth2/token", form, HTTP_AUTHORIZATION=auth)
    if resp.status_code == 400 and resp.json()["error"] == "invalid_scope":
        return None
    assert resp.status_code == 200, resp.content
    return resp.json()["scope"]


def test_working_copy_bindings_are_not_used_before_deployment(owner, dev):
    api = _scoped_api(owner, "/ops", bindings=["admin"])
    auth = _keys(dev, api)
    # The creator unbinds the scope in the working copy: nothing changes until it is deployed.
    unbound = {"name": "ops_admin", "description": "Administer", "bindings": []}
    pub.api_update(api=api, user=owner, changes={"scopes": [unbound]})
    assert _granted(auth, grant_type="client_credentials", scope="ops_admin") is None
    assert _granted(auth, grant_type="password", username="dev", password=PASSWORD, scope="ops_admin") is None

    factories.redeploy(api, owner)
    assert _granted(auth, grant_type="client_credentials", scope="ops_admin") == "ops_admin"


def test_a_scope_only_in_the_working_copy_is_not_granted(owner, dev):
    api = factories.published_api(owner, context="/fresh")
    auth = _keys(dev, api)
    pub.api_update(api=api, user=owner, changes={"scopes": [{"name": "fresh_read", "description": "", "bindings": []}]})
    assert _granted(auth, grant_type="client_credentials", scope="fresh_read") is None
    factories.redeploy(api, owner)
    assert _granted(auth, grant_type="client_credentials", scope="fresh_read") == "fresh_read"


def test_one_providers_apis_binding_a_scope_differently_grant_it_strictly(owner, dev):
    _scoped_api(owner, "/ops", bindings=["admin"])
    loose = _scoped_api(owner, "/loose", bindings=[])
    # Subscribed to the unbound API only: still refused, since the bound one says admin only
    # and a later subscription to it would let this token in.
    auth = _keys(dev, loose)
    assert _granted(auth, grant_type="client_credentials", scope="ops_admin") is None
    dev.groups.add(Group.objects.get(name="admin"))
    assert _granted(auth, grant_type="client_credentials", scope="ops_admin") == "ops_admin"


def test_an_apim_scope_in_a_stored_definition_is_never_granted(owner, dev):
    # A definition stored and deployed before definitions were checked, declaring apim:admin unbound.
    api = factories.published_api(owner, context="/old")
    revision = ApiRevision.objects.get(api=api)
    frozen = revision.frozen
    frozen["definition"]["components"]["securitySchemes"]["oauth2"]["flows"]["implicit"]["scopes"] = {
        "apim:admin": "Stored before the fix"
    }
    ApiRevision.objects.filter(pk=revision.pk).update(frozen=frozen)
    type(api).objects.filter(pk=api.pk).update(definition=frozen["definition"])
    auth = _keys(dev, api)
    assert _granted(auth, grant_type="client_credentials", scope="apim:admin apim:subscribe") == "apim:subscribe"


@pytest.mark.parametrize("bindings", [{"Ops_Admin": "admin"}, {"ops_admin ": "admin"}, {"ops_admin": " "}, "ops_admin"])
def test_a_stored_binding_that_is_mistyped_or_blank_grants_nobody_the_scope(owner, dev, bindings):
    # Deployed before validation refused such bindings: a plain developer must not get the scope.
    api = _scoped_api(owner, "/ops", bindings=["admin"])
    for model in (ApiRevision.objects.filter(api=api), type(api).objects.filter(pk=api.pk)):
        for row in model:
            holder = row.frozen["definition"] if isinstance(row, ApiRevision) else row.definition
            holder["components"]["securitySchemes"]["oauth2"]["flows"]["implicit"]["x-scopes-bindings"] = bindings
            row.save()
    auth = _keys(dev, api)
    assert _granted(auth, grant_type="client_credentials", scope="ops_admin") is None
    assert _granted(auth, grant_type="password", username="dev", password=PASSWORD, scope="ops_admin") is None
    if isinstance(bindings, dict) and any(str(v).strip() for v in bindings.values() if v is not None):
        # A near miss still binds the scope to its role, so an admin holds it.
        dev.groups.add(Group.objects.get(name="admin"))
        assert _granted(auth, grant_type="client_credentials", scope="ops_admin") == "ops_admin"
