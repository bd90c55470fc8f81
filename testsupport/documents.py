"""The AsyncAPI documents the tests import: one writer of the shape they all share (flow
style, one OAuth2 implicit flow), each test saying only its channels and scopes."""

from __future__ import annotations

from pathlib import Path


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


# ---------------------------------------------------------------- AsyncAPI 3.0 twins


def asyncapi3_doc(title: str, url: str, channels: str, operations: str, *, scopes: str = "", bindings: str = "") -> str:
    """The AsyncAPI 3.0.0 form of :func:`asyncapi_doc`: ``channels`` and ``operations`` are
    the YAML under each (indented by two); the server is split into host and pathname."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    pathname = f"\n    pathname: /{path}" if slash else ""
    return f"""\
asyncapi: 3.0.0
info: {{title: {title}, version: 1.0.0}}
servers:
  production:
    host: '{host}'
    protocol: {scheme}{pathname}
channels:
{channels.rstrip()}
operations:
{operations.rstrip()}
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          availableScopes: {{{scopes}}}
          x-scopes-bindings: {{{bindings}}}
"""


CHAT_CHANNELS_V3 = """\
  notifications:
    address: /notifications
  rooms:
    address: /rooms/{roomID}
    parameters:
      roomID: {description: The room}
"""
CHAT_OPERATIONS_V3 = """\
  sendNotification:
    action: receive
    channel: {$ref: '#/channels/notifications'}
    x-uri-mapping: /notifications
  receiveNotifications:
    action: send
    channel: {$ref: '#/channels/notifications'}
    x-uri-mapping: /notifications
  sendToRoom:
    action: receive
    channel: {$ref: '#/channels/rooms'}
    x-uri-mapping: '/rooms?room={uri.var.roomID}'
"""


def chat_doc_v3(backend: str, title: str = "Chat") -> str:
    """:func:`chat_doc` written in AsyncAPI 3.0: the same topics, mappings, scopes and open
    topic, the scopes of ``/admin`` as security requirements (one per scope: either will do)."""
    channels = (
        CHAT_CHANNELS_V3
        + """\
  plain:
    address: /plain
  admin:
    address: /admin
  public:
    address: /public
"""
    )
    operations = (
        CHAT_OPERATIONS_V3
        + """\
  sendPlain:
    action: receive
    channel: {$ref: '#/channels/plain'}
  administer:
    action: receive
    channel: {$ref: '#/channels/admin'}
    security:
      - {type: oauth2, flows: {implicit: {authorizationUrl: 'http://localhost:9999', availableScopes: {}}}, scopes: [chat_admin]}
      - {type: oauth2, flows: {implicit: {authorizationUrl: 'http://localhost:9999', availableScopes: {}}}, scopes: [chat_owner]}
  sendPublic:
    action: receive
    channel: {$ref: '#/channels/public'}
    x-auth-type: None
"""
    )
    return asyncapi3_doc(title, f"{backend}/v2", channels, operations, scopes="chat_admin: Administer, chat_owner: Own")


# CHAT_ASYNCAPI in AsyncAPI 3.0, its scope named in x-scopes as WSO2 4.7 writes it.
CHAT_ASYNCAPI_V3 = asyncapi3_doc(
    "Chat",
    "ws://127.0.0.1:1/v2",
    CHAT_CHANNELS_V3 + "  admin:\n    address: /admin\n",
    CHAT_OPERATIONS_V3
    + "  administer:\n    action: receive\n    channel: {$ref: '#/channels/admin'}\n    x-scopes: [chat_admin]\n",
    scopes="chat_admin: Administer chats",
    bindings="chat_admin: admin",
)


def rooms_doc_v3(backend: str, title: str = "Rooms") -> str:
    """An AsyncAPI 3.0 API with messages, as AsyncAPI tools write them, for the Publisher's
    tabs and the Dev Portal: ``/rooms/{roomID}`` (the client sends; its message, referenced
    from components, has ``examples``; needs ``rooms_admin``, bound to no role) and ``/news``
    (both ways; its message's payload schema has ``examples``), in front of ``backend``'s ``/v2``."""
    doc = asyncapi3_doc(
        title,
        f"{backend}/v2",
        """\
  rooms:
    address: /rooms/{roomID}
    description: One chat room
    parameters:
      roomID: {description: The room}
    messages:
      chatMessage: {$ref: '#/components/messages/chat'}
      notice: {payload: {type: string}}
  news:
    address: /news
    messages:
      headline: {payload: {type: object, properties: {title: {type: string}}, examples: [{title: Hello}]}}
""",
        """\
  sendToRoom:
    action: receive
    channel: {$ref: '#/channels/rooms'}
    summary: Say something in a room
    messages: [{$ref: '#/channels/rooms/messages/chatMessage'}]
    x-uri-mapping: '/rooms?room={uri.var.roomID}'
    x-scopes: [rooms_admin]
  postNews:
    action: receive
    channel: {$ref: '#/channels/news'}
  readNews:
    action: send
    channel: {$ref: '#/channels/news'}
    messages: [{$ref: '#/channels/news/messages/headline'}]
""",
        scopes="rooms_admin: Administer rooms",
    )
    return doc.replace(
        "components:\n",
        """components:
  messages:
    chat:
      payload: {type: object, properties: {text: {type: string}}}
      examples:
        - {name: hello, payload: {text: hello room}}
""",
        1,
    )


# ---------------------------------------------------------------- twins on disk

# Real documents, each written in AsyncAPI 2.x and 3.0 with the same topics, scopes,
# mappings and security (tests/asyncapi/<name>.asyncapi2.yaml and .asyncapi3.yaml), and the
# demo's Notifications API in both (demo/notifications.asyncapi.yaml and .asyncapi3.yaml).
TWINS_DIR = Path(__file__).resolve().parent.parent / "tests" / "asyncapi"
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
TWIN_NAMES = ("chat-rooms", "market", "sensors", "public-feed", "notifications")
VERSIONS = ("2.x", "3.0")


def twin(name: str, version: str) -> str:
    """The text of the twin document ``name`` (one of TWIN_NAMES) in ``version`` (2.x or 3.0)."""
    if name == "notifications":
        path = DEMO_DIR / ("notifications.asyncapi.yaml" if version == "2.x" else "notifications.asyncapi3.yaml")
    else:
        path = TWINS_DIR / f"{name}.asyncapi{version[0]}.yaml"
    return path.read_text()


# ---------------------------------------------------------------- payload validation

ORDERS_COMPONENTS = """\
  schemas:
    Order:
      type: object
      required: [symbol, qty]
      properties:
        symbol: {type: string}
        qty: {type: integer, minimum: 1}
    Node:
      type: object
      properties:
        value: {type: integer}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
  messages:
    order: {payload: {$ref: '#/components/schemas/Order'}}
    fill: {payload: {type: object, required: [symbol, price], properties: {price: {type: number}}}}
    reject: {payload: {type: object, required: [reason], properties: {reason: {type: string}}}}
    node: {payload: {$ref: '#/components/schemas/Node'}}
    note: {contentType: text/plain, payload: {type: string}}
"""
ORDERS_CHANNELS_V2 = """\
  /orders:
    publish: {message: {$ref: '#/components/messages/order'}}
    subscribe:
      message:
        oneOf: [{$ref: '#/components/messages/fill'}, {$ref: '#/components/messages/reject'}]
  /tree:
    publish: {message: {$ref: '#/components/messages/node'}}
    subscribe: {message: {$ref: '#/components/messages/node'}}
  /notes:
    publish: {message: {$ref: '#/components/messages/note'}}
    subscribe: {message: {$ref: '#/components/messages/note'}}
"""
ORDERS_CHANNELS_V3 = """\
  orders:
    address: /orders
    messages:
      order: {$ref: '#/components/messages/order'}
      fill: {$ref: '#/components/messages/fill'}
      reject: {$ref: '#/components/messages/reject'}
  tree:
    address: /tree
    messages: {node: {$ref: '#/components/messages/node'}}
  notes:
    address: /notes
    messages: {note: {$ref: '#/components/messages/note'}}
"""
ORDERS_OPERATIONS_V3 = """\
  placeOrder:
    action: receive
    channel: {$ref: '#/channels/orders'}
    messages: [{$ref: '#/channels/orders/messages/order'}]
  orderUpdates:
    action: send
    channel: {$ref: '#/channels/orders'}
    messages: [{$ref: '#/channels/orders/messages/fill'}, {$ref: '#/channels/orders/messages/reject'}]
  sendTree: {action: receive, channel: {$ref: '#/channels/tree'}}
  readTree: {action: send, channel: {$ref: '#/channels/tree'}}
  sendNote: {action: receive, channel: {$ref: '#/channels/notes'}}
  readNote: {action: send, channel: {$ref: '#/channels/notes'}}
"""


def orders_doc(backend: str, version: str, title: str = "Orders") -> str:
    """An API whose messages have payload schemas, in AsyncAPI 2.x or 3.0 (``version`` as in
    VERSIONS), in front of ``backend``'s ``/v2``: ``/orders`` (the client sends an order, a
    ``$ref`` to a component schema; it receives a fill or a reject, two messages), ``/tree``
    (a recursive schema, both ways) and ``/notes`` (``text/plain``: not validated)."""
    if version == "2.x":
        doc = asyncapi_doc(title, f"{backend}/v2", ORDERS_CHANNELS_V2)
    else:
        doc = asyncapi3_doc(title, f"{backend}/v2", ORDERS_CHANNELS_V3, ORDERS_OPERATIONS_V3)
    return doc.replace("components:\n", "components:\n" + ORDERS_COMPONENTS, 1)
