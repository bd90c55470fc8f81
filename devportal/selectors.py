from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from devportal.models import Application, Subscription
from portal.errors import NotFound
from publisher import lifecycle
from publisher.models import Api


def catalog_list(*, query: str = "") -> QuerySet[Api]:
    qs = Api.objects.filter(lifecycle_status__in=lifecycle.DISCOVERABLE).select_related("provider")
    if query:  # tags live in a JSON list, matched here the same way on SQLite and PostgreSQL
        qs = qs.filter(pk__in=[a.pk for a in qs if _matches(a, query)])
    return qs.order_by("name", "version")


def _matches(api: Api, query: str) -> bool:
    """``tag:x`` matches a tag exactly; other words match the name, context or a tag."""
    for word in query.lower().split():
        if word.startswith("tag:"):
            if word[4:] not in api.tags:
                return False
        elif not (word in api.name.lower() or word in api.context.lower() or any(word in t for t in api.tags)):
            return False
    return True


def catalog_get(api_id) -> Api | None:
    try:
        return catalog_list().filter(pk=api_id).first()
    except (ValueError, ValidationError):
        return None


def catalog_get_or_404(api_id) -> Api:
    """A published API, or NotFound (a draft is as unknown as a missing one)."""
    api = catalog_get(api_id)
    if api is None:
        raise NotFound(f"API {api_id} not found")
    return api


def application_list(*, owner) -> QuerySet[Application]:
    return Application.objects.filter(owner=owner).order_by("name")


def application_get(*, owner, application_id) -> Application | None:
    """Another user's application is simply not found."""
    try:
        return Application.objects.filter(owner=owner, pk=application_id).first()
    except (ValueError, ValidationError):
        return None


def subscription_list(*, owner, api_id=None, application_id=None) -> QuerySet[Subscription]:
    qs = Subscription.objects.filter(application__owner=owner).select_related("api", "application")
    try:
        if api_id:
            qs = qs.filter(api_id=api_id)
        if application_id:
            qs = qs.filter(application_id=application_id)
        list(qs[:0])
    except (ValueError, ValidationError):
        return Subscription.objects.none()
    return qs
