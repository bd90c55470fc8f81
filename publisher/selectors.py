from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from gateway_sync.services import config_version, gateways_recent
from portal.errors import NotFound
from publisher import asyncapi
from publisher.models import Api, ApiRevision, Deployment, Environment, LifecycleEvent, ThrottlingPolicy


def api_list(*, query: str = "") -> QuerySet[Api]:
    qs = Api.objects.select_related("provider").order_by("name", "version")
    if query:
        qs = qs.filter(name__icontains=query) | qs.filter(context__icontains=query)
    return qs.prefetch_related("categories")


def api_get(api_id) -> Api | None:
    try:
        return Api.objects.select_related("provider").filter(pk=api_id).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is simply not found
        return None


def api_get_or_404(api_id) -> Api:
    """The API, or NotFound: the REST error body, or Django's 404 page on a page."""
    api = api_get(api_id)
    if api is None:
        raise NotFound(f"API {api_id} not found")
    return api


def revision_list(*, api: Api) -> QuerySet[ApiRevision]:
    return api.revisions.select_related("created_by").prefetch_related("deployments__environment").order_by("number")


def revision_get(*, api: Api, revision_id) -> ApiRevision | None:
    try:
        return api.revisions.filter(pk=revision_id).first()
    except (ValueError, TypeError, ValidationError):
        return None


def deployment_list(*, api: Api) -> QuerySet[Deployment]:
    return api.deployments.select_related("environment", "revision").order_by("environment__name")


def deployment_list_with_gateways(*, api: Api) -> list[Deployment]:
    """The API's deployments, each with the gateways of its environment that reported lately
    (``.gateways``): the configuration version each enforces (``.current`` when it is the
    latest) and how long its last change took to arrive."""
    deployments = list(deployment_list(api=api))
    if deployments:
        gateways = gateways_recent()
        current = config_version()
        for d in deployments:
            d.gateways = [g for g in gateways if d.environment.name in g.environments]
            for g in d.gateways:
                g.current = g.applied_version >= current
    return deployments


def lifecycle_history(*, api: Api) -> QuerySet[LifecycleEvent]:
    return api.lifecycle_events.select_related("user").order_by("-updated_time")


def topic_rows(*, api: Api) -> list[dict]:
    """The API's topics as the Topics tab lists and edits them: one row per topic with its
    URL mapping, whether it needs a token, and the scopes of each verb it has."""
    rows: dict[str, dict] = {}
    for op in asyncapi.operations(api.definition):
        row = rows.setdefault(
            op.target,
            {"target": op.target, "uriMapping": op.uri_mapping or "", "secured": op.auth_type != "None", "verbs": {}},
        )
        row["verbs"][op.verb] = list(op.scopes)
        if op.verb == "PUBLISH" and op.uri_mapping:
            row["uriMapping"] = op.uri_mapping
    return list(rows.values())


def scope_uses(*, api: Api) -> dict[str, list[str]]:
    """Each scope's uses by the API's topics, as ``"VERB /topic"``."""
    used: dict[str, list[str]] = {}
    for op in asyncapi.operations(api.definition):
        for s in op.scopes:
            used.setdefault(s, []).append(f"{op.verb} {op.target}")
    return used


def environment_list() -> QuerySet[Environment]:
    return Environment.objects.order_by("id")


def streaming_subscription_policies() -> QuerySet[ThrottlingPolicy]:
    return ThrottlingPolicy.objects.filter(level="subscription", is_streaming=True)


def role_names() -> list[str]:
    """Every role (group) by name: what a restricted API's ``visibleRoles`` may name."""
    return list(Group.objects.order_by("name").values_list("name", flat=True))
