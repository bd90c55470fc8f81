from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from portal.errors import NotFound
from publisher.models import Api, ApiRevision, Deployment, Environment, ThrottlingPolicy


def api_list(*, query: str = "") -> QuerySet[Api]:
    qs = Api.objects.select_related("provider").order_by("name", "version")
    if query:
        qs = qs.filter(name__icontains=query) | qs.filter(context__icontains=query)
    return qs


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


def environment_list() -> QuerySet[Environment]:
    return Environment.objects.order_by("id")


def streaming_subscription_policies() -> QuerySet[ThrottlingPolicy]:
    return ThrottlingPolicy.objects.filter(level="subscription", is_streaming=True)
