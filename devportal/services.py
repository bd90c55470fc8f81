from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from devportal.models import (
    Application,
    ApplicationStatus,
    Subscription,
    SubscriptionStatus,
    Workflow,
    WorkflowStatus,
    WorkflowType,
)
from devportal.selectors import api_visible_to
from gateway_contract.deltas import SubscriptionChanged, SubscriptionRemoved
from gateway_contract.snapshot import SubscriptionConfig
from keymanager.server import token_issue
from keymanager.services import api_key_generate, keys_generate, user_activate
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import Conflict, NotFound, ValidationFailed, create_or_conflict
from portal.site_settings import site_settings
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
    held = site_settings().application_approval
    app = create_or_conflict(
        Application,
        conflict=f"You already have an application named {name!r}",
        owner=owner,
        name=name,
        throttling_policy=throttling_policy,
        description=description,
        status=ApplicationStatus.CREATED if held else ApplicationStatus.APPROVED,
    )
    audit_record(actor=owner, action="application.create", target=app, detail={"name": name, "status": app.status})
    if held:
        _workflow_open(
            workflow_type=WorkflowType.APPLICATION_CREATION,
            subject_id=str(app.id),
            subject=f"Application {name} of {owner.get_username()} with rate limit {throttling_policy}",
            properties={
                "applicationId": str(app.id),
                "applicationName": name,
                "applicationTier": throttling_policy,
                "owner": owner.get_username(),
            },
            requested_by=owner,
        )
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
        if other.status not in STRICTNESS:  # waiting for or refused approval: no block to carry
            continue
        if strictest is None or STRICTNESS.index(other.status) > STRICTNESS.index(strictest.status):
            strictest = other
    if strictest is None or strictest.status == SubscriptionStatus.UNBLOCKED:
        return SubscriptionStatus.UNBLOCKED, None
    return strictest.status, strictest


@transaction.atomic
def subscription_create(*, application: Application, api: Api, throttling_policy: str, user) -> Subscription:
    """Subscribe ``application`` to ``api``, with the strictest status the application holds
    on another version of the same API (a block there holds here too). An API the
    application's owner may not see (``selectors.api_visible_to``) is not found for them."""
    if not api_visible_to(api, application.owner):
        raise NotFound(f"API {api.id} not found")
    if api.lifecycle_status not in lifecycle.SUBSCRIBABLE:
        raise Conflict(f"API {api.name} is {api.lifecycle_status} and does not accept new subscriptions")
    if throttling_policy not in api.policies:
        raise ValidationFailed(
            f"Business plan {throttling_policy!r} is not offered by {api.name}; choose from {', '.join(api.policies)}"
        )
    status, source = _inherited_status(application=application, api=api)
    held = _subscription_needs_approval(throttling_policy)
    if held:
        status = SubscriptionStatus.ON_HOLD  # approval then gives what it inherits at that moment
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
    if held:
        _subscription_approval_ask(sub, user=user)
    config_changed(_subscription_delta(sub))
    return sub


def _subscription_approval_ask(sub: Subscription, *, user) -> None:
    """Open the administrator's task for ``sub`` (ON_HOLD until it is decided)."""
    application, api = sub.application, sub.api
    _workflow_open(
        workflow_type=WorkflowType.SUBSCRIPTION_CREATION,
        subject_id=str(sub.id),
        subject=(
            f"Subscription of {application.name} ({application.owner.get_username()}) "
            f"to {api.name} {api.version} with {sub.throttling_policy}"
        ),
        properties={
            "subscriptionId": str(sub.id),
            "applicationId": str(application.id),
            "applicationName": application.name,
            "apiId": str(api.id),
            "apiName": api.name,
            "apiVersion": api.version,
            "apiContext": api.context,
            "subscriber": application.owner.get_username(),
            "throttlingPolicy": sub.throttling_policy,
        },
        requested_by=user,
    )


def _subscription_needs_approval(plan: str) -> bool:
    """Subscription approval is on for every plan (Settings) or for this one (its policy's
    ``requires_approval``)."""
    if site_settings().subscription_approval:
        return True
    return ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION, name=plan, requires_approval=True).exists()


@transaction.atomic
def subscriptions_copy_to_version(*, api: Api, other_versions, user) -> None:
    """A newly published version of an API takes the subscriptions of its other versions
    (``other_versions``; the Publisher's "Requires re-subscription" leaves them behind), each
    application once, with its plan when the new version offers it (else the first plan).
    A block is about the application and the API, whichever version: it is copied too, the
    strictest when an application is subscribed to several older versions. Nothing is
    carried to an application whose owner may not see the new version (a RESTRICTED one);
    one moved to another plan that needs approval waits for it (ON_HOLD, a task), as a new
    subscription with that plan would. The caller tells gateways (the lifecycle change does)."""
    subscribed = set(api.subscriptions.values_list("application_id", flat=True))
    # One waiting for approval, or refused, is not a subscription in force: nothing to carry.
    old_subs = list(
        Subscription.objects.filter(api__in=other_versions, status__in=STRICTNESS)
        .select_related("application__owner")
        .order_by("created_time")
    )
    status_of: dict = {}
    for sub in old_subs:
        known = status_of.get(sub.application_id, SubscriptionStatus.UNBLOCKED)
        status_of[sub.application_id] = max(known, sub.status, key=STRICTNESS.index)
    for sub in old_subs:
        if sub.application_id in subscribed:
            continue
        subscribed.add(sub.application_id)
        if not api_visible_to(api, sub.application.owner):
            continue
        plan = sub.throttling_policy if sub.throttling_policy in api.policies else api.policies[0]
        status = status_of[sub.application_id]
        held = plan != sub.throttling_policy and _subscription_needs_approval(plan)
        if held:
            status = SubscriptionStatus.ON_HOLD
        copy = Subscription.objects.create(application=sub.application, api=api, throttling_policy=plan, status=status)
        audit_record(actor=user, action="subscription.copy", target=api, detail={"from": str(sub.id), "status": status})
        if held:
            _subscription_approval_ask(copy, user=user)


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
    # Requests about it that nobody decided yet go with it; decided ones stay as history.
    subjects = [str(application.id), *(str(i) for i in application.subscriptions.values_list("id", flat=True))]
    Workflow.objects.filter(subject_id__in=subjects, status=WorkflowStatus.CREATED).delete()
    application.delete()
    config_changed()
    return name


@transaction.atomic
def subscription_delete(*, subscription: Subscription, user) -> None:
    """Unsubscribe. A blocked subscription (``BLOCKED``, ``PROD_ONLY_BLOCKED``) cannot be
    deleted (409) until the publisher unblocks it: the block is a fact about the application
    and the API, and deleting then subscribing again must not clear it. A ``REJECTED`` one
    stays too (an administrator's refusal is final); an ``ON_HOLD`` one may be withdrawn,
    and its request goes with it."""
    subscription = Subscription.objects.select_for_update().select_related("api").get(pk=subscription.pk)
    if subscription.status == SubscriptionStatus.REJECTED:
        raise Conflict(
            f"The subscription to {subscription.api.name} was rejected by an administrator: "
            "it stays as it is and cannot be removed"
        )
    if subscription.status not in (SubscriptionStatus.UNBLOCKED, SubscriptionStatus.ON_HOLD):
        raise Conflict(
            f"The subscription to {subscription.api.name} is {subscription.status}: "
            "it cannot be removed until the API's publisher unblocks it"
        )
    Workflow.objects.filter(subject_id=str(subscription.id), status=WorkflowStatus.CREATED).delete()
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
    if state not in STRICTNESS:
        raise ValidationFailed(f"blockState must be one of {', '.join(STRICTNESS)} (got {state!r})")
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status not in STRICTNESS:
        # Only an administrator's decision moves a subscription out of ON_HOLD, and nothing
        # moves one out of REJECTED: unblocking must not open either.
        raise Conflict(
            f"The subscription is {subscription.status}: it is an administrator's to decide, "
            "not the publisher's to block or unblock"
        )
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
    if sub.status in (SubscriptionStatus.ON_HOLD, SubscriptionStatus.REJECTED):
        word = "waits for an administrator's approval" if sub.status == SubscriptionStatus.ON_HOLD else "was rejected"
        raise Conflict(f"The subscription to {sub.api.name} {word}: its plan cannot change")
    if (
        throttling_policy != sub.throttling_policy
        and ThrottlingPolicy.objects.filter(
            level=PolicyLevel.SUBSCRIPTION, name=throttling_policy, requires_approval=True
        ).exists()
    ):
        # Moving onto a plan that needs approval would skip the approval.
        raise Conflict(
            f"Business plan {throttling_policy} needs an administrator's approval: "
            "unsubscribe and subscribe again with it to ask for one"
        )
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
    _check_approved(application)
    client = application.oauth_clients.filter(key_type=key_type).first()
    if client is None:
        client, _ = keys_generate(application=application, key_type=key_type, grant_types=None, user=user)
    return token_issue(client=client, validity=validity)["access_token"]


def _check_approved(application: Application) -> None:
    if application.status == ApplicationStatus.CREATED:
        raise Conflict(
            f"Application {application.name} is waiting for an administrator's approval: "
            "it can get keys and tokens once approved"
        )
    if application.status == ApplicationStatus.REJECTED:
        raise Conflict(f"Application {application.name} was rejected by an administrator: it cannot get keys or tokens")


@transaction.atomic
def application_keys_generate(*, application: Application, key_type: str, grant_types: list[str] | None, user):
    """The Key Manager's ``keys_generate`` for an approved application (409 for one that waits
    for approval or was rejected). Returns the client and its secret, shown once."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    _check_approved(application)
    return keys_generate(application=application, key_type=key_type, grant_types=grant_types, user=user)


@transaction.atomic
def application_api_key_generate(
    *, application: Application, key_type: str, validity_period: int, permitted_ip: str, permitted_referer: str, user
):
    """The Key Manager's ``api_key_generate`` for an approved application (409 otherwise).
    Returns the record and the key, shown once."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    _check_approved(application)
    return api_key_generate(
        application=application,
        key_type=key_type,
        validity_period=validity_period,
        permitted_ip=permitted_ip,
        permitted_referer=permitted_referer,
        user=user,
    )


# ------------------------------------------------------------------ approval workflows


def _workflow_open(*, workflow_type: str, subject_id: str, subject: str, properties: dict, requested_by) -> Workflow:
    wf = Workflow.objects.create(
        workflow_type=workflow_type,
        subject_id=subject_id,
        subject=subject[:255],
        properties=properties,
        requested_by=requested_by,
    )
    audit_record(
        actor=requested_by,
        action="workflow.create",
        target=wf,
        detail={"workflowType": workflow_type, "referenceId": str(wf.reference_id), "subject": subject_id},
    )
    return wf


@transaction.atomic
def signup_record(*, user) -> Workflow | None:
    """A new account from the sign-up page: its DefaultApplication and the audit record; when
    sign-up approval is on (Settings), the account is held (it cannot sign in) and a request
    waits for an administrator, returned."""
    application_ensure_default(user=user)
    audit_record(actor=user, action="user.signup", target=user, detail={"username": user.get_username()})
    if not site_settings().signup_approval:
        return None
    user.is_active = False
    user.save(update_fields=["is_active"])
    return _workflow_open(
        workflow_type=WorkflowType.USER_SIGNUP,
        subject_id=str(user.pk),
        subject=f"Sign-up of {user.get_username()}" + (f" <{user.email}>" if user.email else ""),
        properties={"userName": user.get_username(), "email": user.email or ""},
        requested_by=user,
    )


DECISIONS = (WorkflowStatus.APPROVED, WorkflowStatus.REJECTED)


@transaction.atomic
def workflow_decide(*, workflow: Workflow, status: str, comment: str = "", acting_user) -> Workflow:
    """Approve or reject a waiting request, and apply it to its subject: a subscription
    becomes usable (or keeps the block its application holds on another version) or
    ``REJECTED``; an application ``APPROVED`` or ``REJECTED``; an account may sign in, or
    stays held. Deciding as it was already decided changes nothing (the same answer, no
    second record); the other decision on a decided request is 409. Two administrators
    deciding at once: the row lock makes one of them second."""
    if status not in DECISIONS:
        raise ValidationFailed(
            f"status must be APPROVED or REJECTED (got {status!r})",
            details=[{"field": "status", "message": "APPROVED or REJECTED"}],
        )
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise ValidationFailed(
            "The comment is too long (at most 1000 characters)",
            details=[{"field": "description", "message": "at most 1000 characters"}],
        )
    wf = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if wf.status == status:
        return wf
    if wf.status != WorkflowStatus.CREATED:
        who = wf.decided_by.get_username() if wf.decided_by else "an administrator"
        raise Conflict(f"This request was already {wf.status.lower()} by {who}; a decision is final")
    try:
        applied = _workflow_apply(wf, approved=status == WorkflowStatus.APPROVED, acting_user=acting_user)
    except _SubjectGone as gone:
        if status == WorkflowStatus.APPROVED:
            raise Conflict(f"The {gone} this request is about no longer exists: reject it to close it") from None
        applied = {"subjectGone": True}
    wf.status, wf.comment, wf.decided_by, wf.decided_time = status, comment, acting_user, timezone.now()
    wf.save(update_fields=["status", "comment", "decided_by", "decided_time"])
    audit_record(
        actor=acting_user,
        action="workflow.approve" if status == WorkflowStatus.APPROVED else "workflow.reject",
        target=wf,
        detail={
            "workflowType": wf.workflow_type,
            "referenceId": str(wf.reference_id),
            "subject": wf.subject_id,
            "comment": comment,
            **applied,
        },
    )
    return wf


def _workflow_apply(wf: Workflow, *, approved: bool, acting_user) -> dict:
    """Carry a decision over to the request's subject; returns what changed, for the audit."""
    if wf.workflow_type == WorkflowType.SUBSCRIPTION_CREATION:
        sub = Subscription.objects.select_for_update().select_related("api", "application").filter(pk=wf.subject_id)
        sub = _subject_or_gone(sub.first(), "subscription")
        if approved:
            sub.status, _ = _inherited_status(application=sub.application, api=sub.api)
        else:
            sub.status = SubscriptionStatus.REJECTED
        sub.save(update_fields=["status"])
        config_changed(_subscription_delta(sub))
        return {"subscriptionStatus": sub.status}
    if wf.workflow_type == WorkflowType.APPLICATION_CREATION:
        app = _subject_or_gone(Application.objects.select_for_update().filter(pk=wf.subject_id).first(), "application")
        app.status = ApplicationStatus.APPROVED if approved else ApplicationStatus.REJECTED
        app.save(update_fields=["status"])
        return {"applicationStatus": app.status}
    user = _subject_or_gone(get_user_model().objects.filter(pk=wf.subject_id).first(), "account")
    if approved:
        user_activate(user=user, acting_user=acting_user, approving_signup=True)
    return {"userActive": approved}


class _SubjectGone(Exception):
    pass


def _subject_or_gone(subject, what: str):
    """A request's subject, gone when its API, owner or account was deleted while it waited."""
    if subject is None:
        raise _SubjectGone(what)
    return subject
