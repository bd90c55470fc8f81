"""The AsyncAPI documents the tests import: one writer of the shape they all share (flow
style, one OAuth2 implicit flow), each test saying only its channels and scopes."""

from __future__ import annotations


def asyncapi_doc(title: str, url: str, channels: str, *, scopes: str = "", bindings: str = "") -> str:
    """An AsyncAPI 2.0.0 document titled ``title`` (version 1.0.0) for the backend at ``url``.
    ``channels`` is the YAML under ``channels:`` (indented by two), ``scopes`` and
    ``bindings`` the inside of the flow mappings of the OAuth2 scopes and WSO2's
    ``x-scopes-bindings`` (``"read: Read things"``, ``"read: admin"``)."""
    return f"""\
asyncapi: 2.0.0
info: {{title: {title}, version: 1.0.0}}
servers:
  production: {{url: '{url}', protocol: ws}}
channels:
{channels.rstrip()}
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          scopes: {{{scopes}}}
          x-scopes-bindings: {{{bindings}}}
"""


CHAT_CHANNELS = """\
  /notifications:
    publish: {x-uri-mapping: /notifications}
    subscribe: {x-uri-mapping: /notifications}
  /rooms/{roomID}:
    parameters:
      roomID: {schema: {type: string}}
    publish: {x-uri-mapping: '/rooms?room={uri.var.roomID}'}
"""


def chat_doc(backend: str, title: str = "Chat") -> str:
    """The e2e suite's Chat API in front of ``backend`` (its ``/v2``): URL-mapped topics, a
    plain one, an ``/admin`` topic needing chat_admin or chat_owner (bound to no role) and a
    ``/public`` one without security. ``title`` when several tests import it (an API name
    is not unique, but it reads better in logs and pages)."""
    channels = (
        CHAT_CHANNELS
        + """\
  /plain:
    publish: {}
  /admin:
    publish: {x-scopes: [chat_admin, chat_owner]}
  /public:
    publish: {}
    x-auth-type: None
"""
    )
    return asyncapi_doc(title, f"{backend}/v2", channels, scopes="chat_admin: Administer, chat_owner: Own")


# The in-process tests' Chat API: no backend listens at its endpoint, and its one scope,
# chat_admin, is bound to the admin role.
CHAT_ASYNCAPI = asyncapi_doc(
    "Chat",
    "ws://127.0.0.1:1/v2",
    CHAT_CHANNELS + "  /admin:\n    publish: {x-scopes: [chat_admin]}\n",
    scopes="chat_admin: Administer chats",
    bindings="chat_admin: admin",
)
