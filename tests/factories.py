"""Test data made through the same services the product uses."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from publisher import services

CHAT_ASYNCAPI = """\
asyncapi: 2.0.0
info: {title: Chat, version: 1.0.0}
servers:
  production: {url: 'ws://127.0.0.1:1/v2', protocol: ws}
channels:
  /notifications:
    publish: {x-uri-mapping: /notifications}
    subscribe: {x-uri-mapping: /notifications}
  /rooms/{roomID}:
    parameters:
      roomID: {schema: {type: string}}
    publish: {x-uri-mapping: '/rooms?room={uri.var.roomID}'}
  /admin:
    publish: {x-scopes: [chat_admin]}
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          scopes: {chat_admin: Administer chats}
          x-scopes-bindings: {chat_admin: admin}
"""


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
