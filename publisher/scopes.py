"""Who may hold the scopes API definitions declare, for the Key Manager's narrowing of a
token's scopes (``keymanager.scopes``, which asks through the source registered in
publisher/apps.py).

Only the DEPLOYED revision of an API counts (never the working copy, which nobody has
reviewed into a gateway yet); with role bindings (``x-scopes-bindings``) only a subject
holding one of those roles gets a scope, without bindings anyone does.
"""

from __future__ import annotations

from keymanager.scopes import ANYONE
from publisher import asyncapi
from publisher.models import Deployment

# WSO2 writes its roles with a domain; these mean everyone.
_EVERYONE = {"internal/everyone", "internal/subscriber"}


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
    subscribed = set(application.subscriptions.values_list("api_id", flat=True))
    offered: set[str] = set()
    allowed: dict[str, list[set[str]]] = {}
    seen = set()
    for api_id, revision_id, frozen in Deployment.objects.values_list("api_id", "revision_id", "revision__frozen"):
        if revision_id in seen:  # one revision in several environments
            continue
        seen.add(revision_id)
        declared = definition_scope_roles((frozen or {}).get("definition"))
        if api_id in subscribed:
            offered.update(declared)
        for name, roles in declared.items():
            allowed.setdefault(name, []).append(roles)
    return {name: allowed[name] for name in offered}
