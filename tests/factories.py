"""Test data made through the same services the product uses."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from publisher import services


def user(username="dev", *, roles=(), superuser=False, password="pw-Secret-123"):
    u = get_user_model().objects.create_user(username=username, password=password, is_superuser=superuser)
    for role in roles:
        u.groups.add(Group.objects.get(name=role))
    return u


def api(provider, *, context="/chat", version="1.0.0", endpoint="ws://127.0.0.1:1/v2", policies=None):
    return services.api_create(
        provider=provider,
        name="Chat",
        context=context,
        version=version,
        production_endpoint=endpoint,
        policies=policies or ["AsyncUnlimited", "AsyncGold"],
    )


def redeploy(api, user, environment="Default"):
    """A revision of ``api``'s working copy, deployed: what tokens and gateways go by."""
    rev = services.api_revision_create(api=api, created_by=user)
    services.api_revision_deploy(api=api, revision=rev, environments=[{"name": environment}], deployed_by=user)
    return rev


def published_api(provider, **kwargs):
    a = api(provider, **kwargs)
    rev = services.api_revision_create(api=a, created_by=provider)
    services.api_revision_deploy(api=a, revision=rev, environments=[{"name": "Default"}], deployed_by=provider)
    services.api_change_lifecycle(api=a, action="Publish", user=provider)
    a.refresh_from_db()
    return a
