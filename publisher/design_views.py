"""Publisher pages for designing an API after it exists: topics, scopes, endpoints, plans
and security, the AsyncAPI definition, revision diffs and the audit log. The tabs of apps
above this one (subscriptions: devportal/publisher_views.py; analytics: analytics/views.py)
render with ``page_context`` too.

Every edit goes through ``services.api_update`` (or ``api_definition_update``) with the
ETag the page was rendered with, so two people editing at once cannot overwrite each other
unknowingly: the second gets a message and the page as it now is.
"""

from __future__ import annotations

import difflib
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render

from portal.errors import ApplicationError
from portal.models import AuditEvent
from portal.pages import role_required, run_service
from portal.roles import ADMIN, CREATOR, PUBLISHER, has_role
from publisher import asyncapi, selectors, services
from publisher.dto import api_dto
from publisher.endpoint_check import check_endpoint
from publisher.models import PolicyLevel, ThrottlingPolicy

TABS = (
    ("detail", "Overview"),
    ("topics", "Topics"),
    ("scopes", "Scopes"),
    ("endpoints", "Endpoints"),
    ("plans", "Plans & security"),
    ("definition", "AsyncAPI definition"),
    ("subscriptions", "Subscriptions"),
    ("analytics", "Analytics"),
)


def _api(api_id):
    api = selectors.api_get(api_id)
    if api is None:
        raise Http404
    return api


def page_context(request, api, tab: str, **extra) -> dict:
    """What every page of one API shows: its header, its tabs, who may do what."""
    return {
        "api": api,
        "tab": tab,
        "tabs": TABS,
        "etag": services.api_etag(api),
        # Edit controls only for the API's provider or an admin (services.may_change); others read.
        "can_design": has_role(request.user, CREATOR, PUBLISHER) and services.may_change(api, request.user),
        "can_publish": has_role(request.user, PUBLISHER),
        **extra,
    }


def _update(request, api, changes: dict, done: str) -> bool:
    result = run_service(
        request, services.api_update, api=api, user=request.user, changes=changes, if_match=request.POST.get("etag")
    )
    if result is not None:
        messages.success(request, done)
    return result is not None


# ---------------------------------------------------------------- topics


def _operations_without(ops: list[dict], target: str) -> tuple[list[dict], int]:
    """The operations without ``target``'s, and where ``target`` stood (for editing in place)."""
    index = next((i for i, o in enumerate(ops) if o["target"] == target), len(ops))
    kept = [o for o in ops if o["target"] != target]
    return kept, min(index, len(kept))


@role_required(CREATOR, PUBLISHER)
def topics(request, api_id):
    api = _api(api_id)
    ops = [op.as_dict() for op in asyncapi.operations(api.definition)]
    if request.method == "POST":
        action = request.POST.get("do")
        if action == "delete":
            target = request.POST.get("target", "")
            kept, _ = _operations_without(ops, target)
            if len(kept) == len(ops):
                messages.error(request, f"There is no topic {target}.")
            elif not kept:
                messages.error(request, "An API needs at least one topic: add another before deleting this one.")
            else:
                _update(request, api, {"operations": kept}, f"Deleted topic {target}.")
            return redirect("publisher:topics", api_id=api.id)
        if action == "save":
            return _topic_save(request, api, ops)
    edit = request.GET.get("edit")
    by_target: dict[str, dict] = {}
    for op in ops:
        entry = by_target.setdefault(
            op["target"],
            {
                "target": op["target"],
                "uriMapping": op["uriMapping"] or "",
                "secured": op["authType"] != "None",
                "verbs": {},
            },
        )
        entry["verbs"][op["verb"]] = op["scopes"]
        if op["verb"] == "PUBLISH" and op["uriMapping"]:
            entry["uriMapping"] = op["uriMapping"]
    form = by_target.get(edit) if edit else None
    return render(
        request,
        "publisher/topics.html",
        page_context(
            request,
            api,
            "topics",
            topics=list(by_target.values()),
            form=form or {"target": "", "uriMapping": "", "secured": True, "verbs": {"PUBLISH": [], "SUBSCRIBE": []}},
            editing=form is not None,
            declared=asyncapi.declared_scopes(api.definition),
        ),
    )


def _topic_save(request, api, ops):
    original = request.POST.get("original", "")
    target = request.POST.get("target", "").strip()
    if target and not target.startswith("/"):
        target = "/" + target
    mapping = request.POST.get("uri_mapping", "").strip()
    secured = request.POST.get("secured") == "on"
    new_ops = []
    for verb in asyncapi.VERBS:
        if request.POST.get(verb.lower()) == "on":
            new_ops.append(
                {
                    "target": target,
                    "verb": verb,
                    "scopes": request.POST.getlist(f"scopes_{verb.lower()}"),
                    "uriMapping": mapping or None,
                    "authType": "Any" if secured else "None",
                }
            )
    back = redirect(f"/publisher/apis/{api.id}/topics" + (f"?edit={original}" if original else ""))
    if not target:
        messages.error(request, "Name the topic, e.g. /rooms/{roomId}.")
        return back
    if not new_ops:
        messages.error(request, f"Tick publish, subscribe or both for {target}.")
        return back
    if target != original and any(o["target"] == target for o in ops):
        messages.error(request, f"There is already a topic {target}: edit that one instead.")
        return back
    kept, at = _operations_without(ops, original or target)
    changed = kept[:at] + new_ops + kept[at:]
    done = f"Saved topic {target}." if original else f"Added topic {target}."
    if _update(request, api, {"operations": changed}, done):
        return redirect("publisher:topics", api_id=api.id)
    return back


# ---------------------------------------------------------------- scopes


@role_required(CREATOR, PUBLISHER)
def scopes(request, api_id):
    api = _api(api_id)
    if request.method == "POST":
        action = request.POST.get("do")
        original = request.POST.get("original", "")
        etag = request.POST.get("etag")
        if action == "delete":
            if run_service(
                request, services.api_scope_delete, api=api, user=request.user, name=original, if_match=etag
            ):
                messages.success(request, f"Deleted scope {original}.")
        elif action == "save":
            name = request.POST.get("name", "").strip()
            if run_service(
                request,
                services.api_scope_save,
                api=api,
                user=request.user,
                original=original,
                name=name,
                description=request.POST.get("description", "").strip(),
                bindings=[r.strip() for r in request.POST.get("bindings", "").split(",") if r.strip()],
                if_match=etag,
            ):
                messages.success(request, f"Saved scope {name}.")
        return redirect("publisher:scopes", api_id=api.id)
    current = [s["scope"] for s in api_dto(api)["scopes"]]
    used: dict[str, list[str]] = {}
    for op in asyncapi.operations(api.definition):
        for s in op.scopes:
            used.setdefault(s, []).append(f"{op.verb} {op.target}")
    edit = next((s for s in current if s["name"] == request.GET.get("edit")), None)
    return render(
        request,
        "publisher/scopes.html",
        page_context(request, api, "scopes", scopes=current, used=used, edit=edit),
    )


# ---------------------------------------------------------------- endpoints


@role_required(CREATOR, PUBLISHER)
def endpoints(request, api_id):
    api = _api(api_id)
    check = None
    values = {"production": api.production_endpoint, "sandbox": api.sandbox_endpoint}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        if request.POST.get("do") == "save":
            config = {"production_endpoints": {"url": values["production"]}}
            if values["sandbox"]:
                config["sandbox_endpoints"] = {"url": values["sandbox"]}
            if _update(request, api, {"endpointConfig": config}, "Saved the endpoints."):
                return redirect("publisher:endpoints", api_id=api.id)
        elif request.POST.get("do", "").startswith("test-"):
            which = "sandbox" if request.POST["do"] == "test-sandbox" else "production"
            check = {"which": which, **check_endpoint(values[which]).as_dict()}
    return render(
        request, "publisher/endpoints.html", page_context(request, api, "endpoints", values=values, check=check)
    )


# ---------------------------------------------------------------- plans and security


@role_required(CREATOR, PUBLISHER)
def plans(request, api_id):
    api = _api(api_id)
    if request.method == "POST":
        changes = {
            "policies": request.POST.getlist("policies"),
            "apiThrottlingPolicy": request.POST.get("api_throttling_policy", ""),
            "securityScheme": ["oauth2"] if request.POST.get("secured") == "on" else [],
            "authorizationHeader": request.POST.get("authorization_header", "").strip() or "Authorization",
            "description": request.POST.get("description", ""),
            "tags": request.POST.get("tags", ""),
        }
        if _update(request, api, changes, "Saved plans and security."):
            return redirect("publisher:plans", api_id=api.id)
    return render(
        request,
        "publisher/plans.html",
        page_context(
            request,
            api,
            "plans",
            plans=selectors.streaming_subscription_policies(),
            api_limits=ThrottlingPolicy.objects.filter(level=PolicyLevel.ADVANCED),
            secured=asyncapi.is_secured(api.definition),
        ),
    )


# ---------------------------------------------------------------- definition


@role_required(CREATOR, PUBLISHER)
def definition(request, api_id):
    api = _api(api_id)
    as_json = request.GET.get("format") == "json"
    text = json.dumps(api.definition, indent=2) if as_json else asyncapi.to_yaml(api.definition)
    errors: list[dict] = []
    if request.method == "POST":
        text = request.POST.get("definition", "")
        try:
            services.api_definition_update(api=api, document=text, user=request.user, if_match=request.POST.get("etag"))
        except ApplicationError as exc:
            errors = exc.details or [{"message": exc.description}]
            messages.error(request, exc.description)
        else:
            messages.success(request, "Saved the definition; topics and scopes now follow it.")
            return redirect("publisher:definition", api_id=api.id)
    return render(
        request,
        "publisher/definition.html",
        page_context(request, api, "definition", text=text, as_json=as_json, definition_errors=errors),
    )


# ---------------------------------------------------------------- revisions


def _revision_text(data: dict) -> list[str]:
    """A revision (or the working copy) as YAML lines, the settings first, then the definition."""
    settings_part = {
        k: data.get(k)
        for k in ("name", "description", "endpointConfig", "policies", "apiThrottlingPolicy", "authorizationHeader")
    }
    return asyncapi.to_yaml({**settings_part, "definition": data.get("definition")}).splitlines()


@role_required(CREATOR, PUBLISHER)
def revision_diff(request, api_id):
    api = _api(api_id)
    revisions = list(selectors.revision_list(api=api))
    choices = [("working", "Working copy")] + [(str(r.id), r.display_name) for r in revisions]

    def side(key):
        if key == "working":
            return "Working copy", services.api_revision_snapshot(api)
        rev = next((r for r in revisions if str(r.id) == key), None)
        return (rev.display_name, rev.snapshot) if rev else (None, None)

    left_key = request.GET.get("from") or (str(revisions[-1].id) if revisions else "working")
    right_key = request.GET.get("to") or "working"
    (left_name, left), (right_name, right) = side(left_key), side(right_key)
    if left is None or right is None:
        raise Http404
    diff = list(
        difflib.unified_diff(_revision_text(left), _revision_text(right), left_name, right_name, lineterm="", n=3)
    )
    return render(
        request,
        "publisher/revision_diff.html",
        page_context(
            request,
            api,
            "detail",
            choices=choices,
            left_key=left_key,
            right_key=right_key,
            diff=diff,
        ),
    )


# ---------------------------------------------------------------- audit


@role_required(PUBLISHER, ADMIN)
def audit(request):
    events = AuditEvent.objects.select_related("actor")
    target = request.GET.get("target", "")
    if target:
        events = events.filter(target_id=target)
    action = request.GET.get("action", "")
    if action:
        events = events.filter(action__startswith=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "publisher/audit.html", {"page": page, "target": target, "action": action})
