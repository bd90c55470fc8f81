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
    Section(
        "deny-policies",
        "Deny policies",
        "Cut off an API, an application, a user or an IP address or range at every gateway at once.",
    ),
    Section("tasks", "Tasks", "Subscriptions, applications and sign-ups waiting for approval, and the decisions made."),
    Section("settings", "Settings", "Sign-up, which approval workflows are on, and new APIs' default business plans."),
]
