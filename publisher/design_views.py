"""Publisher pages for designing an API after it exists: topics, scopes, endpoints, plans
and security, the AsyncAPI definition, revision diffs and the audit log. The tabs of apps
above this one (subscriptions: devportal/publisher_views.py; analytics: analytics/views.py)
render with ``page_context`` too.

Each tab is a GET view and each of its forms posts to a view of its own. Every edit goes
through ``services.api_update`` (directly or through ``api_topic_save``, ``api_scope_save``,
``api_endpoints_update`` and the like, or ``api_definition_update``) with the ETag the page
was rendered with, so two people editing at once cannot overwrite each other
unknowingly: the second gets a message and the page as it now is.
"""

from __future__ import annotations

import difflib
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from portal.errors import ApplicationError
from portal.pages import audit_log_context, role_required, run_service
from portal.roles import ADMIN, CREATOR, PUBLISHER, has_role
from publisher import asyncapi, selectors, services
from publisher.dto import api_dto
from publisher.endpoint_check import check_endpoint
from publisher.models import ApiCategory, PolicyLevel, ThrottlingPolicy

TABS = (
    ("detail", "Overview"),
    ("topics", "Topics"),
    ("scopes", "Scopes"),
    ("endpoints", "Endpoints"),
    ("plans", "Plans & security"),
    ("definition", "AsyncAPI definition"),
    ("documents", "Documents"),
    ("subscriptions", "Subscriptions"),
    ("analytics", "Analytics"),
)


def definition_version(doc) -> str:
    """The AsyncAPI version a definition says it is, as the pages show it ("" when none)."""
    version = doc.get("asyncapi") if isinstance(doc, dict) else None
    return version if isinstance(version, str) else ""


def warn_about(request, doc) -> None:
    """Show what a valid definition says that the gateway will not act on (a 3.0 channel
    without an address is no topic) beside the success message."""
    for warning in asyncapi.warnings(doc):
        messages.warning(request, f"Note: {warning.message}.")


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
        # "3.0.0", "2.6.0": the definition tab and the overview show it; the Topics tab words
        # the directions for 3.0 (receive = publish).
        "asyncapi_version": definition_version(api.definition),
        "is_v3": asyncapi.is_v3(api.definition),
        **extra,
    }


# Each tab is one GET view; each of its forms posts to its own view below it, which calls one
# service and redirects back to the tab (or shows the tab with what the form gave).

# ---------------------------------------------------------------- topics


@role_required(CREATOR, PUBLISHER)
@require_safe
def topics(request, api_id):
    api = selectors.api_get_or_404(api_id)
    rows = selectors.topic_rows(api=api)
    edit = request.GET.get("edit")
    form = next((t for t in rows if t["target"] == edit), None) if edit else None
    return render(
        request,
        "publisher/topics.html",
        page_context(
            request,
            api,
            "topics",
            topics=rows,
            form=form or {"target": "", "uriMapping": "", "secured": True, "verbs": {"PUBLISH": [], "SUBSCRIBE": []}},
            editing=form is not None,
            declared=asyncapi.declared_scopes(api.definition),
        ),
    )


@role_required(CREATOR, PUBLISHER)
@require_POST
def topic_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    original = request.POST.get("original", "")
    target = services.normalise_topic(request.POST.get("target", ""))
    verbs = {
        verb: request.POST.getlist(f"scopes_{verb.lower()}")
        for verb in asyncapi.VERBS
        if request.POST.get(verb.lower()) == "on"
    }
    done = f"Saved topic {target}." if original else f"Added topic {target}."
    saved = run_service(
        request,
        services.api_topic_save,
        api=api,
        user=request.user,
        original=original,
        target=target,
        uri_mapping=request.POST.get("uri_mapping", ""),
        secured=request.POST.get("secured") == "on",
        verbs=verbs,
        if_match=request.POST.get("etag"),
    )
    if saved:
        messages.success(request, done)
        return redirect("publisher:topics", api_id=api.id)
    back = reverse("publisher:topics", kwargs={"api_id": api.id})
    return redirect(back + (f"?{urlencode({'edit': original})}" if original else ""))


@role_required(CREATOR, PUBLISHER)
@require_POST
def topic_delete(request, api_id):
    api = selectors.api_get_or_404(api_id)
    target = request.POST.get("target", "")
    if run_service(
        request, services.api_topic_delete, api=api, user=request.user, target=target, if_match=request.POST.get("etag")
    ):
        messages.success(request, f"Deleted topic {target}.")
    return redirect("publisher:topics", api_id=api.id)


# ---------------------------------------------------------------- scopes


@role_required(CREATOR, PUBLISHER)
@require_safe
def scopes(request, api_id):
    api = selectors.api_get_or_404(api_id)
    current = [s["scope"] for s in api_dto(api)["scopes"]]
    edit = next((s for s in current if s["name"] == request.GET.get("edit")), None)
    return render(
        request,
        "publisher/scopes.html",
        page_context(request, api, "scopes", scopes=current, used=selectors.scope_uses(api=api), edit=edit),
    )


@role_required(CREATOR, PUBLISHER)
@require_POST
def scope_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    name = request.POST.get("name", "").strip()
    if run_service(
        request,
        services.api_scope_save,
        api=api,
        user=request.user,
        original=request.POST.get("original", ""),
        name=name,
        description=request.POST.get("description", "").strip(),
        bindings=[r.strip() for r in request.POST.get("bindings", "").split(",") if r.strip()],
        if_match=request.POST.get("etag"),
    ):
        messages.success(request, f"Saved scope {name}.")
    return redirect("publisher:scopes", api_id=api.id)


@role_required(CREATOR, PUBLISHER)
@require_POST
def scope_delete(request, api_id):
    api = selectors.api_get_or_404(api_id)
    name = request.POST.get("original", "")
    if run_service(
        request, services.api_scope_delete, api=api, user=request.user, name=name, if_match=request.POST.get("etag")
    ):
        messages.success(request, f"Deleted scope {name}.")
    return redirect("publisher:scopes", api_id=api.id)


# ---------------------------------------------------------------- endpoints


def _endpoints_page(request, api, values: dict[str, str] | None = None, check: dict | None = None):
    """The Endpoints tab, with what was typed (when a save failed or a test ran) and the test's outcome."""
    values = values or {"production": api.production_endpoint, "sandbox": api.sandbox_endpoint}
    return render(
        request, "publisher/endpoints.html", page_context(request, api, "endpoints", values=values, check=check)
    )


def _typed_endpoints(request) -> dict[str, str]:
    return {k: request.POST.get(k, "").strip() for k in ("production", "sandbox")}


@role_required(CREATOR, PUBLISHER)
@require_safe
def endpoints(request, api_id):
    return _endpoints_page(request, selectors.api_get_or_404(api_id))


@role_required(CREATOR, PUBLISHER)
@require_POST
def endpoints_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    values = _typed_endpoints(request)
    if run_service(
        request,
        services.api_endpoints_update,
        api=api,
        user=request.user,
        production=values["production"],
        sandbox=values["sandbox"],
        if_match=request.POST.get("etag"),
    ):
        messages.success(request, "Saved the endpoints.")
        return redirect("publisher:endpoints", api_id=api.id)
    return _endpoints_page(request, api, values)


@role_required(CREATOR, PUBLISHER)
@require_POST
def endpoints_test(request, api_id):
    """Test connection: a WebSocket handshake from the portal to the endpoint typed (not yet saved)."""
    api = selectors.api_get_or_404(api_id)
    values = _typed_endpoints(request)
    which = "sandbox" if request.POST.get("which") == "sandbox" else "production"
    check = {"which": which, **check_endpoint(values[which]).as_dict()}
    return _endpoints_page(request, api, values, check)


# ---------------------------------------------------------------- plans and security


def _plans_page(request, api):
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
            roles=selectors.role_names(),
            all_categories=ApiCategory.objects.order_by("name"),
            api_categories={c.name for c in api.categories.all()},
            schemes=api.security_schemes or ["oauth2"],
        ),
    )


@role_required(CREATOR, PUBLISHER)
@require_safe
def plans(request, api_id):
    return _plans_page(request, selectors.api_get_or_404(api_id))


@role_required(CREATOR, PUBLISHER)
@require_POST
def plans_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    changes = {
        "policies": request.POST.getlist("policies"),
        "apiThrottlingPolicy": request.POST.get("api_throttling_policy", ""),
        # The credential kinds ticked; OAuth2 when none is (or the form predates API keys).
        "securityScheme": ([k for k in ("oauth2", "api_key") if request.POST.get(f"scheme_{k}") == "on"] or ["oauth2"])
        if request.POST.get("secured") == "on"
        else [],
        "authorizationHeader": request.POST.get("authorization_header", "").strip() or "Authorization",
        "payloadValidation": {
            "mode": request.POST.get("payload_validation", "off"),
            "onClientFailure": request.POST.get("payload_client_failure", "error"),
            "onBackendFailure": request.POST.get("payload_backend_failure", "drop"),
        },
        "description": request.POST.get("description", ""),
        "tags": request.POST.get("tags", ""),
        **({"categories": request.POST.getlist("categories")} if request.POST.get("categories_shown") else {}),
        # One origin a line (commas and spaces separate them too).
        "originConfiguration": {
            "allowedOrigins": request.POST.get("allowed_origins", "").replace(",", " ").split(),
            "browsersOnly": request.POST.get("browsers_only") == "on",
        },
        "backendJWTConfiguration": {
            "enabled": request.POST.get("backend_jwt") == "on",
            "header": request.POST.get("backend_jwt_header", "").strip() or "X-JWT-Assertion",
        },
        "visibility": request.POST.get("visibility", "PUBLIC"),
        # The role boxes count only for a restricted API (a public one names no roles).
        "visibleRoles": request.POST.getlist("visible_roles") if request.POST.get("visibility") == "RESTRICTED" else [],
    }
    if run_service(
        request, services.api_update, api=api, user=request.user, changes=changes, if_match=request.POST.get("etag")
    ):
        messages.success(request, "Saved plans and security.")
        return redirect("publisher:plans", api_id=api.id)
    return _plans_page(request, api)


# ---------------------------------------------------------------- definition


def _definition_page(
    request, api, text: str, errors: list[dict] | None = None, as_json: bool = False, converting: bool = False
):
    return render(
        request,
        "publisher/definition.html",
        page_context(
            request,
            api,
            "definition",
            text=text,
            as_json=as_json,
            definition_errors=errors or [],
            convertible=not asyncapi.is_v3(api.definition),
            converting=converting,
        ),
    )


@role_required(CREATOR, PUBLISHER)
@require_safe
def definition(request, api_id):
    api = selectors.api_get_or_404(api_id)
    as_json = request.GET.get("format") == "json"
    text = json.dumps(api.definition, indent=2) if as_json else asyncapi.to_yaml(api.definition)
    return _definition_page(request, api, text, as_json=as_json)


@role_required(CREATOR, PUBLISHER)
@require_POST
def definition_save(request, api_id):
    api = selectors.api_get_or_404(api_id)
    text = request.POST.get("definition", "")
    try:
        api = services.api_definition_update(
            api=api, document=text, user=request.user, if_match=request.POST.get("etag")
        )
    except ApplicationError as exc:
        messages.error(request, exc.description)
        return _definition_page(request, api, text, exc.details or [{"message": exc.description}])
    messages.success(request, "Saved the definition; topics and scopes now follow it.")
    warn_about(request, api.definition)
    return redirect("publisher:definition", api_id=api.id)


@role_required(CREATOR, PUBLISHER)
@require_POST
def definition_convert(request, api_id):
    api = selectors.api_get_or_404(api_id)
    try:
        services.api_definition_convert(api=api, user=request.user, to="3.0.0", if_match=request.POST.get("etag"))
    except ApplicationError as exc:
        messages.error(request, exc.description)
        return _definition_page(request, api, asyncapi.to_yaml(api.definition), exc.details, converting=True)
    messages.success(
        request, "Converted the definition to AsyncAPI 3.0.0; its topics, scopes and security are as they were."
    )
    return redirect("publisher:definition", api_id=api.id)


# ---------------------------------------------------------------- revisions


def _revision_text(data: dict) -> list[str]:
    """A revision (or the working copy) as YAML lines, the settings first, then the definition."""
    settings_part = {
        k: data.get(k)
        for k in (
            "name",
            "description",
            "endpointConfig",
            "policies",
            "apiThrottlingPolicy",
            "authorizationHeader",
            "payloadValidation",
        )
    }
    return asyncapi.to_yaml({**settings_part, "definition": data.get("definition")}).splitlines()


@role_required(CREATOR, PUBLISHER)
def revision_diff(request, api_id):
    api = selectors.api_get_or_404(api_id)
    revisions = list(selectors.revision_list(api=api))
    choices = [("working", "Working copy")] + [(str(r.id), r.display_name) for r in revisions]

    def side(key):
        if key == "working":
            return "Working copy", services.api_revision_freeze(api)
        rev = next((r for r in revisions if str(r.id) == key), None)
        return (rev.display_name, rev.frozen) if rev else (None, None)

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
    return render(request, "publisher/audit.html", audit_log_context(request))
