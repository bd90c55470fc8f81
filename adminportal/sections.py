"""The Admin Portal's sections, in the order its navigation shows them. A section is one
module of pages (``adminportal/<module>.py``, its URLs in ``urls.py``); its entry here names
the page the navigation links to and says in a line what it is for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    url_name: str  # adminportal:<url_name>
    title: str
    summary: str


SECTIONS: list[Section] = [
    Section("index", "Overview", "What needs an administrator's attention."),
    Section("tasks", "Tasks", "Subscriptions, applications and sign-ups waiting for approval, and the decisions made."),
    Section(
        "policies",
        "Rate limits",
        "Advanced (API), application and subscription policies: events, requests or bandwidth per time unit.",
    ),
    Section(
        "deny-policies",
        "Deny policies",
        "Cut off an API, an application, a user or an IP address or range at every gateway at once.",
    ),
    Section("environments", "Environments", "Gateway environments and the APIs deployed on each."),
    Section("key-managers", "Key managers", "External token issuers gateways trust, and a test of their JWKS."),
    Section("categories", "API categories", "Group APIs in the Dev Portal's catalog; creators put their APIs in them."),
    Section("users", "Users and roles", "Find users, deactivate or activate them, grant and take back roles."),
    Section("settings", "Settings", "Sign-up, which approval workflows are on, and new APIs' default business plans."),
    Section("audit", "Audit log", "Every change: who, what, when; filtered by action, actor or object."),
]
