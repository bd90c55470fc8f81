from django.db import transaction

from devportal.models import Application, Subscription, SubscriptionStatus
from gateway_contract.deltas import SubscriptionChanged, SubscriptionRemoved
from gateway_contract.snapshot import SubscriptionConfig
from keymanager.server import token_issue
from keymanager.services import keys_generate
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import Conflict, ValidationFailed, create_or_conflict
from publisher import lifecycle
from publisher.models import Api, PolicyLevel, ThrottlingPolicy

DEFAULT_APPLICATION = "DefaultApplication"


def application_ensure_default(*, user) -> Application:
    """Every user has a DefaultApplication, made the first time it is needed."""
    app, _ = Application.objects.get_or_create(
        owner=user,
        name=DEFAULT_APPLICATION,
        defaults={"throttling_policy": "Unlimited", "description": "This is the default application"},
    )
    return app


@transaction.atomic
def application_create(*, owner, name: str, throttling_policy: str = "Unlimited", description: str = "") -> Application:
    name = (name or "").strip()
    if not name or len(name) > 70:
        raise ValidationFailed("Application name is required (at most 70 characters)")
    if not ThrottlingPolicy.objects.filter(level=PolicyLevel.APPLICATION, name=throttling_policy).exists():
        raise ValidationFailed(f"Unknown application throttling policy {throttling_policy!r}")
    app = create_or_conflict(
        Application,
        conflict=f"You already have an application named {name!r}",
        owner=owner,
        name=name,
        throttling_policy=throttling_policy,
        description=description,
    )
    audit_record(actor=owner, action="application.create", target=app, detail={"name": name})
    return app


# Least to most strict: a new subscription takes the strictest its application holds elsewhere.
STRICTNESS = (SubscriptionStatus.UNBLOCKED, SubscriptionStatus.PROD_ONLY_BLOCKED, SubscriptionStatus.BLOCKED)
BLOCKED_STATES = (SubscriptionStatus.BLOCKED, SubscriptionStatus.PROD_ONLY_BLOCKED)


def _inherited_status(*, application: Application, api: Api) -> tuple[str, Subscription | None]:
    """The strictest status ``application`` holds on any version of ``api`` (same name and
    provider), and the subscription it comes from: a block is about the application and the
    API, whichever version, so subscribing to another version does not clear it."""
    others = (
        Subscription.objects.select_for_update()
        .filter(application=application, api__name=api.name, api__provider_id=api.provider_id)
        .exclude(api=api)
        .order_by("created_time")
    )
    strictest: Subscription | None = None
    for other in others:
        if strictest is None or STRICTNESS.index(other.status) > STRICTNESS.index(strictest.status):
            strictest = other
    if strictest is None or strictest.status == SubscriptionStatus.UNBLOCKED:
        return SubscriptionStatus.UNBLOCKED, None
    return strictest.status, strictest


@transaction.atomic
def subscription_create(*, application: Application, api: Api, throttling_policy: str, user) -> Subscription:
    """Subscribe ``application`` to ``api``, with the strictest status the application holds
    on another version of the same API (a block there holds here too)."""
    if api.lifecycle_status not in lifecycle.SUBSCRIBABLE:
        raise Conflict(f"API {api.name} is {api.lifecycle_status} and does not accept new subscriptions")
    if throttling_policy not in api.policies:
        raise ValidationFailed(
            f"Business plan {throttling_policy!r} is not offered by {api.name}; choose from {', '.join(api.policies)}"
        )
    status, source = _inherited_status(application=application, api=api)
    sub = create_or_conflict(
        Subscription,
        conflict=f"Application {application.name} is already subscribed to {api.name}",
        application=application,
        api=api,
        throttling_policy=throttling_policy,
        status=status,
    )
    detail = {"api": str(api.id), "application": str(application.id), "status": status}
    if source is not None:
        detail["statusFrom"] = {"subscription": str(source.id), "api": str(source.api_id)}
    audit_record(actor=user, action="subscription.create", target=sub, detail=detail)
    config_changed(_subscription_delta(sub))
    return sub


@transaction.atomic
def subscriptions_copy_to_version(*, api: Api, other_versions, user) -> None:
    """A newly published version of an API takes the subscriptions of its other versions
    (``other_versions``; the Publisher's "Requires re-subscription" leaves them behind), each
    application once, with its plan when the new version offers it (else the first plan).
    A block is about the application and the API, whichever version: it is copied too, the
    strictest when an application is subscribed to several older versions. The caller tells
    gateways (the lifecycle change does)."""
    subscribed = set(api.subscriptions.values_list("application_id", flat=True))
    old_subs = list(Subscription.objects.filter(api__in=other_versions).order_by("created_time"))
    status_of: dict = {}
    for sub in old_subs:
        known = status_of.get(sub.application_id, SubscriptionStatus.UNBLOCKED)
        status_of[sub.application_id] = max(known, sub.status, key=STRICTNESS.index)
    for sub in old_subs:
        if sub.application_id in subscribed:
            continue
        plan = sub.throttling_policy if sub.throttling_policy in api.policies else api.policies[0]
        status = status_of[sub.application_id]
        Subscription.objects.create(application_id=sub.application_id, api=api, throttling_policy=plan, status=status)
        subscribed.add(sub.application_id)
        audit_record(actor=user, action="subscription.copy", target=api, detail={"from": str(sub.id), "status": status})


@transaction.atomic
def application_delete(*, application: Application, user) -> str:
    """Delete an application with its keys and subscriptions; its connections close (4002).
    Returns the name it had. An application with a blocked subscription (``BLOCKED`` or
    ``PROD_ONLY_BLOCKED``) cannot be deleted (409): deleting it and making a new one of the
    same name would subscribe again unblocked."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    blocked = list(
        application.subscriptions.select_for_update()
        .filter(status__in=BLOCKED_STATES)
        .select_related("api")
        .order_by("created_time")
    )
    if blocked:
        which = ", ".join(f"{s.api.name} {s.api.version} ({s.status})" for s in blocked)
        raise Conflict(
            f"{application.name} has blocked subscriptions ({which}): it cannot be deleted until "
            "the API's publisher unblocks them, since a block holds for the application",
            details=[
                {
                    "field": "subscriptions",
                    "message": f"subscription {s.id} to {s.api.name} {s.api.version}: {s.status}",
                }
                for s in blocked
            ],
        )
    name = application.name
    audit_record(actor=user, action="application.delete", target=application, detail={"name": name})
    application.delete()
    config_changed()
    return name


@transaction.atomic
def subscription_delete(*, subscription: Subscription, user) -> None:
    """Unsubscribe. A blocked subscription (``BLOCKED``, ``PROD_ONLY_BLOCKED``) cannot be
    deleted (409) until the publisher unblocks it: the block is a fact about the application
    and the API, and deleting then subscribing again must not clear it."""
    subscription = Subscription.objects.select_for_update().select_related("api").get(pk=subscription.pk)
    if subscription.status != SubscriptionStatus.UNBLOCKED:
        raise Conflict(
            f"The subscription to {subscription.api.name} is {subscription.status}: "
            "it cannot be removed until the API's publisher unblocks it"
        )
    audit_record(
        actor=user,
        action="subscription.delete",
        target=subscription,
        detail={"api": str(subscription.api_id), "application": str(subscription.application_id)},
    )
    delta = SubscriptionRemoved(application=str(subscription.application_id), subscription=str(subscription.id))
    subscription.delete()
    config_changed(delta)


@transaction.atomic
def subscription_block(*, subscription: Subscription, state: str, acting_user) -> Subscription:
    """Block (``BLOCKED`` or ``PROD_ONLY_BLOCKED``) or unblock (``UNBLOCKED``) a subscription;
    the gateway closes the connections it no longer allows (4002)."""
    if state not in SubscriptionStatus.values:
        raise ValidationFailed(f"blockState must be one of {', '.join(SubscriptionStatus.values)} (got {state!r})")
    previous = subscription.status
    subscription.status = state
    subscription.save(update_fields=["status"])
    audit_record(
        actor=acting_user, action="subscription.block", target=subscription, detail={"from": previous, "to": state}
    )
    config_changed(_subscription_delta(subscription))
    return subscription


def _subscription_delta(sub: Subscription) -> SubscriptionChanged:
    """What gateways need to know of one subscription."""
    return SubscriptionChanged(
        application=str(sub.application_id),
        subscription=SubscriptionConfig(
            id=str(sub.id), api_id=str(sub.api_id), policy=sub.throttling_policy, status=sub.status
        ),
    )


@transaction.atomic
def application_update(
    *, application: Application, user, name: str | None = None, throttling_policy: str | None = None, description=None
) -> Application:
    """Rename an application, change its rate limit or its description; gateways apply a
    new rate limit to the connections already open."""
    app = Application.objects.select_for_update().get(pk=application.pk)
    name = app.name if name is None else (name or "").strip()
    policy = app.throttling_policy if throttling_policy is None else throttling_policy
    if not name or len(name) > 70:
        raise ValidationFailed("Application name is required (at most 70 characters)")
    if not ThrottlingPolicy.objects.filter(level=PolicyLevel.APPLICATION, name=policy).exists():
        raise ValidationFailed(f"Unknown application throttling policy {policy!r}")
    if description is not None and len(description) > 512:
        raise ValidationFailed("Description: at most 512 characters")
    if name != app.name and Application.objects.filter(owner=app.owner, name=name).exists():
        raise Conflict(f"You already have an application named {name!r}")
    before = {"name": app.name, "throttlingPolicy": app.throttling_policy}
    app.name, app.throttling_policy = name, policy
    if description is not None:
        app.description = description
    app.save()
    audit_record(
        actor=user,
        action="application.update",
        target=app,
        detail={"from": before, "to": {"name": name, "throttlingPolicy": policy}},
    )
    config_changed()
    return app


@transaction.atomic
def subscription_change_plan(*, subscription: Subscription, throttling_policy: str, user) -> Subscription:
    """Move a subscription to another of the API's plans; a blocked one stays blocked."""
    sub = Subscription.objects.select_for_update().select_related("api").get(pk=subscription.pk)
    if throttling_policy not in sub.api.policies:
        raise ValidationFailed(
            f"Business plan {throttling_policy!r} is not offered by {sub.api.name}; choose from {', '.join(sub.api.policies)}"
        )
    if sub.api.lifecycle_status not in lifecycle.SUBSCRIBABLE:
        raise Conflict(f"API {sub.api.name} is {sub.api.lifecycle_status}: its subscriptions cannot change plan")
    previous = sub.throttling_policy
    sub.throttling_policy = throttling_policy
    sub.save(update_fields=["throttling_policy"])
    audit_record(actor=user, action="subscription.plan", target=sub, detail={"from": previous, "to": throttling_policy})
    config_changed(_subscription_delta(sub))
    return sub


@transaction.atomic
def tryout_token_issue(*, application: Application, key_type: str, validity: int, user) -> str:
    """Try Out's GET TEST KEY: a short-lived access token for ``application``'s keys of
    ``key_type``, made on the spot when it has none (their secret is then never shown)."""
    client = application.oauth_clients.filter(key_type=key_type).first()
    if client is None:
        client, _ = keys_generate(application=application, key_type=key_type, grant_types=None, user=user)
    return token_issue(client=client, validity=validity)["access_token"]
