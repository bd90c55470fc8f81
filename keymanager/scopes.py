"""Which of the scopes a client asks for it gets (RFC 6749 section 3.3).

A scope is granted when it is known and the token's subject may hold it:
- API scopes: declared by the DEPLOYED revision of an API the application subscribes to
  (never the working copy, which nobody has reviewed into a gateway yet); with role
  bindings (``x-scopes-bindings``) only a subject holding one of those roles gets it,
  without bindings anyone does. Strict when several deployed revisions declare one scope
  (one API in several environments, or several APIs of one provider; scope names are
  otherwise owned by one provider, see ``publisher.services``): every one of them must
  allow the subject, whether the application subscribes to it or not, since a later
  subscription would let the token in there too.
- WSO2's ``apim:*`` scopes for the REST APIs, by role (table below), and only so: an API
  definition cannot declare them.
API scopes come from the Publisher (``publisher.scopes``). Anything else is left out. When some scopes were asked for and none can be granted, the
request fails with ``invalid_scope``; otherwise the granted subset is issued and named in
the response's ``scope``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.roles import ADMIN, CREATOR, PUBLISHER, roles_of

ANYONE = "*"
APIM_SCOPES: dict[str, tuple[str, ...]] = {
    "apim:api_view": (CREATOR, PUBLISHER),
    "apim:api_create": (CREATOR, PUBLISHER),
    "apim:api_manage": (CREATOR, PUBLISHER),
    "apim:api_import_export": (CREATOR, PUBLISHER),
    "apim:api_publish": (PUBLISHER,),
    "apim:subscription_view": (PUBLISHER,),
    "apim:subscription_block": (PUBLISHER,),
    "apim:subscribe": (ANYONE,),
    "apim:app_manage": (ANYONE,),
    "apim:sub_manage": (ANYONE,),
    "apim:admin": (ADMIN,),
    "apim:tier_view": (ADMIN,),
    "apim:tier_manage": (ADMIN,),
}
APIM_SCOPE_DESCRIPTIONS = {
    "apim:api_view": "Read APIs (Publisher)",
    "apim:api_create": "Create and design APIs",
    "apim:api_manage": "Manage APIs",
    "apim:api_import_export": "Export and import API projects",
    "apim:api_publish": "Deploy and change the lifecycle",
    "apim:subscription_view": "List subscriptions (Publisher)",
    "apim:subscription_block": "Block and unblock subscriptions",
    "apim:subscribe": "Browse the Dev Portal",
    "apim:app_manage": "Manage applications and keys",
    "apim:sub_manage": "Manage subscriptions",
    "apim:admin": "Administer policies, environments and key managers",
    "apim:tier_view": "Read rate-limit policies",
    "apim:tier_manage": "Manage rate-limit policies",
}


class ScopeRefused(Exception):
    """Every requested scope was refused."""


# API scopes are declared by API definitions, which the Publisher owns: above this app, it
# registers at start-up (publisher/apps.py) what the deployed revisions allow
# (publisher/scopes.py). Without it no API scope is known, only the apim:* ones.
ApiScopeRoles = Callable[[Any], dict[str, list[set[str]]]]
_api_scope_source: ApiScopeRoles | None = None


def api_scope_source_register(source: ApiScopeRoles) -> None:
    """``source(application)``: scope name -> the roles each deployed revision declaring it
    allows, for the scopes of the APIs ``application`` subscribes to; a subject may hold a
    scope when it holds a role of every one of these sets (``ANYONE`` for anyone)."""
    global _api_scope_source
    _api_scope_source = source


def api_scope_roles(application) -> dict[str, list[set[str]]]:
    return _api_scope_source(application) if _api_scope_source is not None else {}


def narrow(*, application, subject, requested: str) -> str:
    """The space-separated scopes granted to ``subject`` (a user) for ``application``."""
    wanted = [s for s in dict.fromkeys((requested or "").split()) if s]
    if not wanted:
        return ""
    held = roles_of(subject) | {ANYONE}
    known = api_scope_roles(application)
    for name, roles in APIM_SCOPES.items():
        known[name] = [set(roles)]
    granted = [s for s in wanted if s in known and all(roles & held for roles in known[s])]
    if not granted:
        raise ScopeRefused(f"None of the requested scopes can be granted: {' '.join(wanted)}")
    return " ".join(granted)
