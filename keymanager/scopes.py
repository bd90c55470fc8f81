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
Anything else is left out. When some scopes were asked for and none can be granted, the
request fails with ``invalid_scope``; otherwise the granted subset is issued and named in
the response's ``scope``.
"""

from __future__ import annotations

from portal.roles import ADMIN, CREATOR, PUBLISHER, roles_of
from publisher import asyncapi

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
# WSO2 writes its roles with a domain; these mean everyone.
_EVERYONE = {"internal/everyone", "internal/subscriber"}


class ScopeRefused(Exception):
    """Every requested scope was refused."""


def _role(name: str) -> str:
    name = name.strip().lower()
    return ANYONE if name in _EVERYONE else name.removeprefix("internal/")


def definition_scope_roles(definition) -> dict[str, set[str]]:
    """Scope name -> roles allowed (ANYONE when unbound, none when the binding is blank or
    malformed), as one definition declares them; ``apim:*`` names are left out (they are the
    portal's)."""
    if not isinstance(definition, dict):
        return {}
    implicit = asyncapi.implicit_flow(definition)
    bindings = implicit.get("x-scopes-bindings", {}) if isinstance(implicit, dict) else {}
    out = {}
    for name in asyncapi.declared_scopes(definition):
        if asyncapi.is_reserved_scope(name):
            continue
        out[name] = _bound_roles(name, bindings)
    return out


def _bound_roles(name: str, bindings) -> set[str]:
    """The roles allowed a declared scope. Fails closed for definitions stored before
    validation refused such bindings: bindings that are not a mapping, a binding whose key
    matches the scope only up to case or spaces, or one naming no role, grant nobody."""
    if not isinstance(bindings, dict):
        return set()
    if name in bindings:
        values = [bindings[name]]
    else:
        values = [v for k, v in bindings.items() if str(k).strip().lower() == name.strip().lower()]
        if not values:
            return {ANYONE}  # unbound: anyone subscribed may hold it
    roles: set[str] = set()
    for value in values:
        named = asyncapi.binding_roles(value)
        if not named:
            return set()
        roles |= {_role(r) for r in named}
    return roles


def api_scope_roles(application) -> dict[str, list[set[str]]]:
    """Scope name -> the roles each deployed revision declaring it allows, for the scopes the
    deployed revisions of the application's subscribed APIs declare. A subject may hold a
    scope when it holds a role of every one of these sets."""
    from publisher.models import Deployment

    subscribed = set(application.subscriptions.values_list("api_id", flat=True))
    offered: set[str] = set()
    allowed: dict[str, list[set[str]]] = {}
    seen = set()
    for api_id, revision_id, snapshot in Deployment.objects.values_list("api_id", "revision_id", "revision__snapshot"):
        if revision_id in seen:  # one revision in several environments
            continue
        seen.add(revision_id)
        declared = definition_scope_roles((snapshot or {}).get("definition"))
        if api_id in subscribed:
            offered.update(declared)
        for name, roles in declared.items():
            allowed.setdefault(name, []).append(roles)
    return {name: allowed[name] for name in offered}


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
