"""Which of the scopes a client asks for it gets (RFC 6749 section 3.3).

A scope is granted when it is known and the token's subject may hold it:
- API scopes: declared by an API the application subscribes to; with role bindings
  (``x-scopes-bindings``) only a subject holding one of those roles gets it, without
  bindings anyone does.
- WSO2's ``apim:*`` scopes for the REST APIs, by role (table below).
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


def api_scope_roles(application) -> dict[str, set[str]]:
    """Scope name -> roles allowed (ANYONE when unbound), over the application's subscribed APIs."""
    out: dict[str, set[str]] = {}
    for sub in application.subscriptions.select_related("api"):
        doc = sub.api.definition
        bindings = asyncapi.implicit_flow(doc).get("x-scopes-bindings") or {}
        for name in asyncapi.declared_scopes(doc):
            roles = {_role(r) for r in str(bindings.get(name, "")).split(",") if r.strip()}
            out.setdefault(name, set()).update(roles or {ANYONE})
    return out


def narrow(*, application, subject, requested: str) -> str:
    """The space-separated scopes granted to ``subject`` (a user) for ``application``."""
    wanted = [s for s in dict.fromkeys((requested or "").split()) if s]
    if not wanted:
        return ""
    held = roles_of(subject) | {ANYONE}
    known = api_scope_roles(application)
    for name, roles in APIM_SCOPES.items():
        known.setdefault(name, set()).update(roles)
    granted = [s for s in wanted if known.get(s, set()) & held]
    if not granted:
        raise ScopeRefused(f"None of the requested scopes can be granted: {' '.join(wanted)}")
    return " ".join(granted)
