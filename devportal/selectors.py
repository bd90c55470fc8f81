from collections import Counter
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Lower

from devportal.models import ApiRating, Application, Subscription, Workflow, WorkflowStatus, WorkflowType
from portal.errors import NotFound
from portal.roles import ADMIN, has_role, roles_of
from publisher import lifecycle
from publisher.models import Api, ApiCategory, PolicyLevel, ThrottlingPolicy, Visibility
from publisher.policies import SHOWN, PolicyUse

# Events an application used on an API in the current window: the analytics app counts them
# from the gateways' reports. It sits above this app and registers its counter at start-up
# (analytics/apps.py); without one, no use is known.
UsageCounter = Callable[..., int]
_usage_counter: UsageCounter | None = None


def usage_counter_register(counter: UsageCounter) -> None:
    """``counter(api_id=, application_id=, window_seconds=)``: events in the current window."""
    global _usage_counter
    _usage_counter = counter


def _sees_restricted(user) -> Callable[[Api], bool]:
    """Whether ``user`` sees each RESTRICTED API: holding one of its roles; admins (and
    superusers) see every API, its provider sees their own; anonymous visitors see none."""
    if not user or not user.is_authenticated:
        return lambda api: False
    if has_role(user, ADMIN):
        return lambda api: True
    held = roles_of(user)
    return lambda api: api.provider_id == user.pk or bool(held.intersection(api.visible_roles))


def api_visible_to(api: Api, user) -> bool:
    """Whether ``user`` (anonymous included) may see ``api`` in the Dev Portal at all: in the
    catalog, search, its pages, documentation and REST, and subscribe to it. An API they may
    not see is as unknown to them as a missing one (404). Lifecycle aside: see ``visible_apis``."""
    return api.visibility != Visibility.RESTRICTED or _sees_restricted(user)(api)


def visible_apis(user, *, query: str = "", category: str = "") -> QuerySet[Api]:
    """The Dev Portal's catalog as ``user`` sees it: published (discoverable) APIs they may
    see (``api_visible_to``), by name, each with its categories, its average rating
    (``avg_rating``) and how many rated it (``rating_count``); ``category`` (a name, any case)
    keeps those in that category, ``query`` is matched as ``_matches`` says."""
    qs = Api.objects.filter(lifecycle_status__in=lifecycle.DISCOVERABLE).select_related("provider")
    sees = _sees_restricted(user)
    hidden = [a.pk for a in qs.filter(visibility=Visibility.RESTRICTED) if not sees(a)]
    if hidden:
        qs = qs.exclude(pk__in=hidden)
    if category:
        qs = qs.filter(pk__in=Api.objects.filter(categories__name__iexact=category.strip()).values("pk"))
    qs = qs.prefetch_related("categories").annotate(
        avg_rating=Subquery(
            ApiRating.objects.filter(api=OuterRef("pk")).values("api").annotate(a=Avg("rating")).values("a")
        ),
        rating_count=Subquery(
            ApiRating.objects.filter(api=OuterRef("pk")).values("api").annotate(n=Count("id")).values("n")
        ),
    )
    if query:  # tags live in a JSON list, matched here the same way on SQLite and PostgreSQL
        qs = qs.filter(pk__in=[a.pk for a in qs if _matches(a, query)])
    return qs.order_by("name", "version")


def _matches(api: Api, query: str) -> bool:
    """``tag:x`` matches a tag exactly; other words match the name, context or a tag."""
    for word in query.lower().split():
        if word.startswith("tag:"):
            if word[4:] not in api.tags:
                return False
        elif word.startswith("api-category:"):  # WSO2's way; one word (?category= takes any name)
            if word[13:] not in {c.name.lower() for c in api.categories.all()}:
                return False
        elif not (word in api.name.lower() or word in api.context.lower() or any(word in t for t in api.tags)):
            return False
    return True


def catalog_get(api_id, *, user) -> Api | None:
    """A published API ``user`` may see, with the catalog's annotations (``visible_apis``), or None."""
    try:
        return visible_apis(user).filter(pk=api_id).first()
    except (ValueError, ValidationError):
        return None


def catalog_get_or_404(api_id, *, user) -> Api:
    """A published API ``user`` may see, or NotFound: a draft, or an API restricted to roles
    they do not hold, is as unknown as a missing one."""
    api = catalog_get(api_id, user=user)
    if api is None:
        raise NotFound(f"API {api_id} not found")
    return api


def application_list(*, owner) -> QuerySet[Application]:
    """The owner's applications by name, each with its owner, its keys and how many
    subscriptions it has (``subscription_count``) read in the same few queries."""
    return (
        Application.objects.filter(owner=owner)
        .select_related("owner")
        .prefetch_related("oauth_clients")
        .annotate(subscription_count=Count("subscriptions"))
        .order_by("name")
    )


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


def subscription_get(*, owner, subscription_id) -> Subscription | None:
    """One of ``owner``'s subscriptions; another's (or a malformed id) is simply not found."""
    try:
        return subscription_list(owner=owner).filter(pk=subscription_id).first()
    except (ValueError, ValidationError):
        return None


def api_subscription_list(*, api: Api | None = None) -> QuerySet[Subscription]:
    """Every application's subscriptions, as the Publisher sees them, oldest first; those to
    ``api`` when given."""
    qs = Subscription.objects.select_related("application__owner").order_by("created_time")
    return qs.filter(api=api) if api is not None else qs


def api_subscription_get(*, subscription_id, api: Api | None = None) -> Subscription | None:
    """One subscription by id (to ``api`` when given), as the Publisher sees them; a
    malformed id is simply not found."""
    try:
        return api_subscription_list(api=api).filter(pk=subscription_id).first()
    except (ValueError, ValidationError):
        return None


def subscription_usage(*, application: Application) -> dict:
    """Per subscription of ``application`` (by id): the events used in its plan's current
    window against the plan's quota (``limit`` 0: unlimited; a plan gone: a day, unlimited)."""
    plans = {p.name: p for p in ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION)}
    out = {}
    for sub in application.subscriptions.all():
        plan = plans.get(sub.throttling_policy)
        window = plan.window_seconds if plan else 86400
        used = (
            _usage_counter(api_id=sub.api_id, application_id=application.id, window_seconds=window)
            if _usage_counter is not None
            else 0
        )
        out[sub.id] = {
            "used": used,
            "limit": plan.limit if plan else 0,
            "window": f"{plan.unit_time} {plan.time_unit}" if plan else "1 day",
        }
    return out


def application_exists(owner: str, name: str) -> bool:
    """Whether ``owner`` (a username) has an application named ``name``: the Publisher's deny
    policies name applications this way (``publisher.deny_policies.application_lookup_register``)."""
    return Application.objects.filter(owner__username=owner, name=name).exists()


# ------------------------------------------------------------------ approval workflows


def workflow_list(*, workflow_type: str | None = None, pending: bool | None = None) -> QuerySet[Workflow]:
    """Requests, newest first: waiting ones (``pending=True``), decided ones (``False``) or all."""
    qs = Workflow.objects.select_related("requested_by", "decided_by")
    if workflow_type:
        qs = qs.filter(workflow_type=workflow_type)
    if pending is True:
        qs = qs.filter(status=WorkflowStatus.CREATED)
    elif pending is False:
        qs = qs.exclude(status=WorkflowStatus.CREATED).order_by("-decided_time", "-id")
    return qs


def workflow_get(*, reference_id) -> Workflow | None:
    try:
        return Workflow.objects.select_related("requested_by", "decided_by").filter(reference_id=reference_id).first()
    except ValidationError:  # not a UUID: no such reference
        return None


def workflows_of(subject_ids) -> dict[str, Workflow]:
    """The latest request about each of ``subject_ids`` (subscriptions, applications), for
    showing their owner the state and the administrator's comment."""
    out: dict[str, Workflow] = {}
    for wf in Workflow.objects.filter(subject_id__in=[str(i) for i in subject_ids]).order_by("created_time", "id"):
        out[wf.subject_id] = wf
    return out


def signup_state(*, user) -> str | None:
    """CREATED while an account's sign-up waits for approval, REJECTED once refused, else None."""
    wf = (
        Workflow.objects.filter(workflow_type=WorkflowType.USER_SIGNUP, subject_id=str(user.pk))
        .order_by("-created_time", "-id")
        .first()
    )
    if wf is None or wf.status == WorkflowStatus.APPROVED:
        return None
    return wf.status


DEFAULT_APPLICATION_POLICY = "Unlimited"  # devportal.services' default for new applications


def policy_uses(level: str, name: str) -> list[PolicyUse]:
    """What of the Dev Portal's uses a rate-limit policy (registered with
    ``publisher.policies.policy_use_source_register`` in apps.py): subscriptions on a
    business plan, applications limited by an application policy."""
    uses: list[PolicyUse] = []
    if level == PolicyLevel.SUBSCRIPTION:
        subs = Subscription.objects.filter(throttling_policy=name).select_related("application", "api")
        if subs.exists():
            names = tuple(f"{s.application.name} → {s.api}" for s in subs[:SHOWN])
            uses.append(PolicyUse("subscription", names, subs.count()))
    elif level == PolicyLevel.APPLICATION:
        if name == DEFAULT_APPLICATION_POLICY:
            uses.append(PolicyUse("the rate limit of new applications", (), 0))
        apps = Application.objects.filter(throttling_policy=name).select_related("owner")
        if apps.exists():
            names = tuple(f"{a.name} of {a.owner.get_username()}" for a in apps[:SHOWN])
            uses.append(PolicyUse("application", names, apps.count()))
    return uses


def signup_hold(user) -> str | None:
    """Why ``user`` may not be activated directly: its sign-up waits for approval (decide it
    under Admin Portal → Tasks) or was rejected (a decision is final)."""
    state = signup_state(user=user)
    if state == WorkflowStatus.CREATED:
        return f"{user.get_username()}'s sign-up waits for approval: approve or reject it under Admin Portal → Tasks"
    if state == WorkflowStatus.REJECTED:
        return f"{user.get_username()}'s sign-up was rejected, and a decision is final"
    return None


def catalog_categories(user) -> list[ApiCategory]:
    """The categories the catalog filters by, each with how many APIs ``user`` sees in it
    (``api_count``): an API restricted from them is not counted, so a category cannot tell
    them how many hidden APIs it holds."""
    counts = Counter(c.pk for api in visible_apis(user) for c in api.categories.all())
    categories = list(ApiCategory.objects.order_by(Lower("name")))
    for category in categories:
        category.api_count = counts.get(category.pk, 0)
    return categories
