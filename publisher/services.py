"""Writes for the Publisher: every function validates first, changes nothing on error,
records who did it, and tells gateways after commit."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import Group
from django.db import transaction

from gateway_contract.origins import origin_normalise
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.csp import is_host_name
from portal.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed, create_or_conflict
from portal.roles import ADMIN, PUBLISHER, has_role
from portal.site_settings import FALLBACK_POLICIES, site_settings
from publisher import asyncapi, lifecycle
from publisher.categories import categories_resolve
from publisher.dto import CREDENTIAL_KINDS, api_dto, endpoint_urls
from publisher.models import (
    Api,
    ApiRevision,
    Deployment,
    Environment,
    LifecycleEvent,
    LifecycleStatus,
    PayloadValidation,
    PolicyLevel,
    ThrottlingPolicy,
    Visibility,
)
from publisher.signals import api_published

MAX_REVISIONS = 5
# Fields of the API's JSON that gateways read from the API itself, not from its deployed
# revision: a change applies within a second, without a new revision.
# Who sees the API in the Dev Portal is read live too: restoring a revision never changes it.
LIVE_FIELDS = ("originConfiguration", "backendJWTConfiguration", "visibility", "visibleRoles")
# Read live by the Dev Portal's catalog, not from a revision either.
CATALOG_FIELDS = ("categories",)
_CONTEXT_RE = re.compile(r"/[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)*")
_VERSION_RE = re.compile(r"[A-Za-z0-9_\-.]{1,30}")
# Whole-string patterns, used with fullmatch: ``$`` alone would let a final newline through.
_NAME_RE = re.compile(r"[^~!@#;:%^*()+={}|\\<>\"',&$\[\]/\x00-\x1f\x7f]{1,60}")


def may_change(api: Api, user) -> bool:
    """Whether ``user`` may change ``api``'s content (its fields, topics, scopes, endpoints,
    definition) or delete it: its provider, or an admin (superusers are admins). Everyone
    else with a Publisher role reads it, and publishers run its revisions, deployments,
    lifecycle and subscriptions, whose content is the provider's own."""
    if user is None or not user.is_authenticated:
        return False
    return user.pk == api.provider_id or has_role(user, ADMIN)


def _assert_may_change(api: Api, user) -> None:
    """403 unless :func:`may_change`: nobody edits another provider's API, so nobody can
    unbind its scopes or move its endpoint (issue 14 follow-up, F1)."""
    if not may_change(api, user):
        raise Forbidden(
            f"This API belongs to {api.provider.get_username()}; only its provider or an admin may change it"
        )


def _assert_may_run_revisions(api: Api, user) -> None:
    """Revisions of an API (make, restore, delete) are its provider's, an admin's, or a
    publisher's, who runs every API's revisions and deployments; restoring one rewrites the
    working copy, so another creator may not."""
    if not (may_change(api, user) or has_role(user, PUBLISHER)):
        raise Forbidden(
            f"This API belongs to {api.provider.get_username()}; only its provider, an admin or a publisher "
            "may make, restore or delete its revisions"
        )


def _errors(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def validate_endpoint(url: str, field: str = "endpointConfig") -> list[dict[str, str]]:
    if not url:
        return [_errors(field, "an endpoint URL is required")]
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return [_errors(field, f"endpoint must be a ws:// or wss:// URL with a host (got {url!r})")]
    if parts.fragment:
        return [_errors(field, "endpoint must not have a #fragment")]
    return []


_TAG_RE = re.compile(r"[a-z0-9][a-z0-9_\-.]{0,29}")


def clean_tags(tags) -> tuple[list[str], list[dict[str, str]]]:
    """Tags lower-cased and de-duplicated, or the errors that make them unusable."""
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list):
        return [], [_errors("tags", "tags must be a list of words")]
    out = list(dict.fromkeys(str(t).strip().lower() for t in tags if str(t).strip()))
    bad = [t for t in out if not _TAG_RE.fullmatch(t)]
    errors = [_errors("tags", f"tag {t!r}: letters, digits, - _ . (at most 30)") for t in bad]
    if len(out) > 20:
        errors.append(_errors("tags", "at most 20 tags"))
    return out, errors


def normalise_context(context: str) -> str:
    context = (context or "").strip()
    if context and not context.startswith("/"):
        context = "/" + context
    return context.rstrip("/")


def normalise_topic(target: str) -> str:
    """A topic as typed, as a path: ``rooms`` is ``/rooms``; blank stays blank."""
    target = target.strip()
    return "/" + target if target and not target.startswith("/") else target


def _validate_api_fields(
    *,
    name: str,
    context: str,
    version: str,
    production_endpoint: str,
    sandbox_endpoint: str,
    policies: list[str],
    api_throttling_policy: str,
) -> list[dict[str, str]]:
    """The problems with an API's own fields (create and update alike), all at once."""
    errors = []
    if not _NAME_RE.fullmatch(name or ""):
        errors.append(_errors("name", "name is required, at most 60 characters, without special characters"))
    if not _CONTEXT_RE.fullmatch(context or ""):
        errors.append(_errors("context", "context must look like /path/segments (letters, digits, - _ .)"))
    if not _VERSION_RE.fullmatch(version or ""):
        errors.append(_errors("version", "version is required: letters, digits, - _ . (at most 30)"))
    errors += validate_endpoint(production_endpoint, "endpointConfig.production_endpoints.url")
    if sandbox_endpoint:
        errors += validate_endpoint(sandbox_endpoint, "endpointConfig.sandbox_endpoints.url")
    known = set(
        ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION, is_streaming=True).values_list(
            "name", flat=True
        )
    )
    for plan in policies:
        if plan not in known:
            errors.append(_errors("policies", f"unknown business plan {plan!r}; choose from {sorted(known)}"))
    if (
        api_throttling_policy
        and not ThrottlingPolicy.objects.filter(level=PolicyLevel.ADVANCED, name=api_throttling_policy).exists()
    ):
        errors.append(_errors("apiThrottlingPolicy", f"unknown API-level rate limit {api_throttling_policy!r}"))
    return errors


def _scope_owner_errors(definition: dict[str, Any] | None, *, provider, api: Api | None = None) -> list[dict[str, str]]:
    """The scopes ``definition`` declares that an API of another provider declares already,
    in its working copy or one of its revisions: a scope name belongs to the provider who
    declared it first, so nobody can widen who holds it (publisher.scopes)."""
    declared = set(asyncapi.declared_scopes(definition or {}))
    if not declared:
        return []
    owners: dict[str, Api] = {}
    others = Api.objects.exclude(provider=provider).select_related("provider")
    if api is not None:
        others = others.exclude(pk=api.pk)
    for other in others.order_by("created_time"):
        for name in declared & set(asyncapi.declared_scopes(other.definition)) - owners.keys():
            owners[name] = other
    if declared - owners.keys():
        revisions = (
            ApiRevision.objects.filter(api__in=others.values("pk"))
            .select_related("api__provider")
            .order_by("created_time")
        )
        for rev in revisions:
            found = set(asyncapi.declared_scopes((rev.frozen or {}).get("definition") or {}))
            for name in declared & found - owners.keys():
                owners[name] = rev.api
    return [
        {
            "message": f"Scope '{name}' belongs to the API {owner.name} {owner.version} "
            f"(context {owner.context}) of provider {owner.provider.get_username()}: choose another scope name",
            "pointer": "/components/securitySchemes/oauth2/flows/implicit/scopes/"
            + name.replace("~", "~0").replace("/", "~1"),
        }
        for name, owner in sorted(owners.items())
    ]


def _check_scope_owners(definition: dict[str, Any] | None, *, provider, api: Api | None = None) -> None:
    errors = _scope_owner_errors(definition, provider=provider, api=api)
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), details=errors)


@transaction.atomic
def api_create(
    *,
    provider,
    name: str,
    context: str,
    version: str,
    production_endpoint: str,
    sandbox_endpoint: str = "",
    policies: list[str] | None = None,
    description: str = "",
    definition: dict[str, Any] | None = None,
    api_throttling_policy: str = "",
    tags: list[str] | None = None,
    categories: list[str] | None = None,
) -> Api:
    """Create an API from a form (one ``/*`` topic) or from a validated AsyncAPI document.
    Without ``policies`` it offers the administrator's default plans (Admin Portal, Settings)."""
    context = normalise_context(context)
    policies = list(policies or site_settings().default_policies or FALLBACK_POLICIES)
    errors = _validate_api_fields(
        name=name,
        context=context,
        version=version,
        production_endpoint=production_endpoint,
        sandbox_endpoint=sandbox_endpoint,
        policies=policies,
        api_throttling_policy=api_throttling_policy,
    )
    tags, tag_errors = clean_tags(tags or [])
    errors += tag_errors
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), details=errors)
    in_categories = categories_resolve(categories)
    if Api.objects.filter(context=context, version=version).exists():
        raise Conflict(f"An API with context {context} and version {version} already exists")
    if definition is None:
        definition = asyncapi.blank_definition(name=name, version=version, endpoint=production_endpoint)
    _check_scope_owners(definition, provider=provider)
    definition = asyncapi.with_servers(definition, production=production_endpoint, sandbox=sandbox_endpoint)
    api = create_or_conflict(
        Api,
        conflict=f"An API with context {context} and version {version} already exists",
        name=name,
        context=context,
        version=version,
        description=description,
        provider=provider,
        production_endpoint=production_endpoint,
        sandbox_endpoint=sandbox_endpoint,
        policies=policies,
        definition=definition,
        api_throttling_policy=api_throttling_policy,
        tags=tags,
    )
    if in_categories:
        api.categories.set(in_categories)
    audit_record(actor=provider, action="api.create", target=api, detail={"context": context, "version": version})
    return api


_IMPORT_TEXT = ("name", "version", "context", "description", "apiThrottlingPolicy")


def _check_import_properties(properties: dict[str, Any]) -> None:
    """WSO2's ``additionalProperties`` (or an archive's api.yaml) hold what a client wrote:
    each field the type it must have, or a 400 naming it."""
    errors = [
        _errors(key, f"{key} must be text")
        for key in _IMPORT_TEXT
        if properties.get(key) is not None and not isinstance(properties[key], str)
    ]
    for key in ("policies", "tags"):
        value = properties.get(key)
        if value is not None and not (
            (isinstance(value, list) and all(isinstance(v, str) for v in value))
            or (key == "tags" and isinstance(value, str))
        ):
            errors.append(_errors(key, f"{key} must be a list of names"))
    if properties.get("endpointConfig") is not None and not isinstance(properties["endpointConfig"], dict):
        errors.append(_errors("endpointConfig", "endpointConfig must be an object"))
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), details=errors)


def api_import_asyncapi(*, provider, document: str | bytes, properties: dict[str, Any]) -> Api:
    """Create an API from an AsyncAPI document plus WSO2's ``additionalProperties``.

    The endpoint comes from ``endpointConfig`` when given, else from the document's
    ``servers.production``; name and version default to the document's ``info``.
    """
    _check_import_properties(properties)
    try:
        definition = asyncapi.parse_and_validate(document)
    except asyncapi.InvalidDefinition as exc:
        raise ValidationFailed(
            "The AsyncAPI definition is invalid", details=[e.as_dict() for e in exc.errors]
        ) from None
    production, sandbox = endpoint_urls(properties.get("endpointConfig"))
    production = production or asyncapi.server_url(definition, "production")
    sandbox = sandbox or asyncapi.server_url(definition, "sandbox")
    info = definition.get("info") or {}
    return api_create(
        provider=provider,
        name=properties.get("name") or info.get("title", ""),
        context=properties.get("context", ""),
        version=properties.get("version") or info.get("version", ""),
        production_endpoint=production,
        sandbox_endpoint=sandbox,
        policies=properties.get("policies"),
        description=properties.get("description") or str(info.get("description") or "")[:5000],
        definition=definition,
        api_throttling_policy=properties.get("apiThrottlingPolicy") or "",
        # 2.x keeps tags at the root, 3.0 under info.
        categories=properties.get("categories"),
        tags=properties.get("tags")
        or [t["name"] for t in definition.get("tags") or info.get("tags") or [] if isinstance(t, dict) and "name" in t],
    )


@transaction.atomic
def api_delete(*, api: Api, user) -> None:
    _assert_may_change(api, user)
    if api.deployments.exists():
        raise Conflict("Undeploy every revision of this API before deleting it")
    if api.subscriptions.exists():
        raise Conflict("This API has subscriptions; it cannot be deleted")
    audit_record(actor=user, action="api.delete", target=api, detail={"context": api.context, "version": api.version})
    api.delete()
    config_changed()


@transaction.atomic
def api_revision_create(*, api: Api, created_by, description: str = "") -> ApiRevision:
    _assert_may_run_revisions(api, created_by)
    if len(description) > 255:
        raise ValidationFailed("description must be at most 255 characters")
    api = Api.objects.select_for_update().get(pk=api.pk)
    if api.revisions.count() >= MAX_REVISIONS:
        raise Conflict(f"An API can have at most {MAX_REVISIONS} revisions: delete one that is not deployed first")
    last = api.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    _check_payload_schemas(api)
    revision = ApiRevision.objects.create(
        api=api,
        number=last + 1,
        description=description,
        frozen=api_revision_freeze(api),
        created_by=created_by,
    )
    audit_record(actor=created_by, action="api.revision.create", target=revision, detail={"number": revision.number})
    return revision


def _check_payload_schemas(api: Api) -> None:
    """A revision that validates payloads pairs its setting with the definition's schemas: each
    schema the gateway would validate with must compile, or the revision is refused (400)
    naming where the schema is."""
    if api.payload_validation == PayloadValidation.OFF:
        return
    directions = ("PUBLISH",) if api.payload_validation == PayloadValidation.CLIENT else ("PUBLISH", "SUBSCRIBE")
    problems = asyncapi.payload_errors(api.definition, directions)
    if problems:
        details = [p.as_dict() for p in problems]
        raise ValidationFailed(
            "Payload validation is on, and the gateway cannot validate with these schemas: "
            + "; ".join(d["message"] for d in details[:3])
            + (" …" if len(details) > 3 else ""),
            details=details,
        )


def api_revision_freeze(api: Api) -> dict[str, Any]:
    """What a revision keeps of ``api``'s working copy (``ApiRevision.frozen``): its WSO2 JSON,
    its AsyncAPI definition and its sandbox endpoint, as they are now. Not the gateway
    policies read live from the API (``LIVE_FIELDS``): a revision does not carry them."""
    data = {k: v for k, v in api_dto(api).items() if k not in LIVE_FIELDS + CATALOG_FIELDS}
    data["definition"] = api.definition
    data["sandboxEndpoint"] = api.sandbox_endpoint
    return data


@transaction.atomic
def api_revision_deploy(
    *, api: Api, revision: ApiRevision, environments: list[dict[str, Any]], deployed_by
) -> list[Deployment]:
    """Deploy ``revision`` to each named environment, replacing what ran there before."""
    if revision.api_id != api.pk:
        raise NotFound("No such revision of this API")
    api = Api.objects.select_for_update().get(pk=api.pk)  # a Retire racing this deploy wins or waits
    if api.lifecycle_status == LifecycleStatus.RETIRED:
        raise Conflict("A retired API cannot be deployed")
    if not environments:
        raise ValidationFailed('Name at least one environment, e.g. [{"name": "Default"}]')
    named = _environments_named([item.get("name") if isinstance(item, dict) else None for item in environments])
    targets = []
    for item in environments:
        env = named[item["name"]]
        vhost = item.get("vhost")
        if vhost in (None, ""):  # not given: the environment's; anything else must be a host name
            vhost = env.vhost
        if not is_host_name(vhost):  # it goes into URLs, commands and the pages' CSP header
            raise ValidationFailed(
                f"vhost must be a host name: letters, digits, '.' and '-' (got {vhost!r})",
                details=[_errors("vhost", "not a host name")],
            )
        targets.append((item, env, vhost))
    deployments = []
    for item, env, vhost in targets:
        deployment, _ = Deployment.objects.update_or_create(
            api=api,
            environment=env,
            defaults={
                "revision": revision,
                "vhost": vhost,
                "display_on_devportal": bool(item.get("displayOnDevportal", True)),
                "deployed_by": deployed_by,
            },
        )
        deployments.append(deployment)
        audit_record(
            actor=deployed_by,
            action="api.deploy",
            target=api,
            detail={"revision": revision.number, "environment": env.name},
        )
    config_changed()
    return deployments


def _environments_named(names: list) -> dict[str, Environment]:
    """The environments ``names`` names, by name, in one query; the first name that is none
    (or not a name at all) is a 400, for deploy and undeploy alike."""
    found = {env.name: env for env in Environment.objects.filter(name__in=[n for n in names if isinstance(n, str)])}
    for name in names:
        if not isinstance(name, str) or name not in found:
            raise ValidationFailed(f"Unknown gateway environment {name!r}", details=[_errors("name", "unknown")])
    return found


@transaction.atomic
def api_revision_undeploy(*, api: Api, revision: ApiRevision, environments: list[str], user) -> int:
    """Take ``revision`` off ``environments`` (all of them when empty); returns how many
    deployments went. An environment that does not exist is an error, as it is for deploy;
    one the revision is not deployed to is nothing to do."""
    _environments_named(environments)
    qs = Deployment.objects.filter(api=api, revision=revision)
    if environments:
        qs = qs.filter(environment__name__in=environments)
    count = qs.count()
    qs.delete()
    audit_record(
        actor=user,
        action="api.undeploy",
        target=api,
        detail={"revision": revision.number, "environments": environments},
    )
    config_changed()
    return count


@transaction.atomic
def api_change_lifecycle(*, api: Api, action: str, user, checklist: dict[str, bool] | None = None) -> LifecycleEvent:
    """Move an API along WSO2's lifecycle. On Publish, the checklist items (WSO2's) act on
    the API's other versions (same name and provider): "Deprecate old versions after
    publishing the API" deprecates the published ones; unless "Requires re-subscription
    when publishing the API" is ticked, their subscriptions are copied to this version."""
    checklist = checklist or {}
    unknown = set(checklist) - set(lifecycle.CHECKLIST)
    if unknown:
        raise ValidationFailed(
            f"Unknown checklist item {sorted(unknown)[0]!r}; items are: {'; '.join(lifecycle.CHECKLIST)}"
        )
    api = Api.objects.select_for_update().get(pk=api.pk)
    if action not in lifecycle.ACTIONS:
        raise ValidationFailed(f"Unknown lifecycle action {action!r}; actions are {', '.join(lifecycle.ACTIONS)}")
    target = lifecycle.next_state(api.lifecycle_status, action)
    if target is None:
        allowed = lifecycle.allowed_actions(api.lifecycle_status)
        raise Conflict(
            f"Action '{action}' is not allowed from state {api.lifecycle_status}; "
            f"allowed: {', '.join(allowed) if allowed else 'none'}",
            details=[{"field": "action", "message": a} for a in allowed],
        )
    event = _move(api, action, target, user)
    if target == LifecycleStatus.RETIRED:
        api.deployments.all().delete()
    if action == "Publish" and event.previous_state != target:
        _after_publish(api, user, checklist)
    config_changed()
    return event


def _move(api: Api, action: str, target: str, user, **why) -> LifecycleEvent:
    """Put ``api`` in ``target`` state, with its history entry and audit record."""
    event = LifecycleEvent.objects.create(
        api=api, previous_state=api.lifecycle_status, post_state=target, action=action, user=user
    )
    api.lifecycle_status = target
    api.save(update_fields=["lifecycle_status", "last_updated_time"])
    audit_record(actor=user, action="api.lifecycle", target=api, detail={"action": action, "to": target, **why})
    return event


def _after_publish(api: Api, user, checklist: dict[str, bool]) -> None:
    others = Api.objects.filter(name=api.name, provider=api.provider).exclude(pk=api.pk)
    api_published.send(sender=Api, api=api, user=user, other_versions=others, checklist=checklist)
    if checklist.get(lifecycle.DEPRECATE_OLD_VERSIONS):
        for old in others.filter(lifecycle_status=LifecycleStatus.PUBLISHED):
            _move(old, "Deprecate", LifecycleStatus.DEPRECATED, user, because=f"{api.version} was published")


@transaction.atomic
def api_scope_save(
    *, api: Api, user, original: str, name: str, description: str, bindings: list[str], if_match: str | None = None
) -> Api:
    """Add a scope to the API's definition, or replace the one named ``original``; renaming
    it renames it in the topics that use it too. Validated and recorded by ``api_update``."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    kept = [s for s in _declared_scopes(api) if s["name"] != original]
    changes: dict[str, Any] = {"scopes": kept + [{"name": name, "description": description, "bindings": bindings}]}
    if original and name != original:
        changes["operations"] = [
            {**op.as_dict(), "scopes": [name if s == original else s for s in op.scopes]}
            for op in asyncapi.operations(api.definition)
        ]
    return api_update(api=api, user=user, changes=changes, if_match=if_match)


@transaction.atomic
def api_scope_delete(*, api: Api, user, name: str, if_match: str | None = None) -> Api:
    """Remove the scope ``name`` from the API's definition."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    kept = [s for s in _declared_scopes(api) if s["name"] != name]
    return api_update(api=api, user=user, changes={"scopes": kept}, if_match=if_match)


def api_endpoints_update(*, api: Api, user, production: str, sandbox: str = "", if_match: str | None = None) -> Api:
    """Set the API's production endpoint and its sandbox endpoint (none when blank)."""
    config: dict[str, Any] = {"production_endpoints": {"url": production}}
    if sandbox:
        config["sandbox_endpoints"] = {"url": sandbox}
    return api_update(api=api, user=user, changes={"endpointConfig": config}, if_match=if_match)


def _operations_without(ops: list[dict[str, Any]], target: str) -> tuple[list[dict[str, Any]], int]:
    """The operations without ``target``'s, and where ``target`` stood (for editing in place)."""
    index = next((i for i, o in enumerate(ops) if o["target"] == target), len(ops))
    kept = [o for o in ops if o["target"] != target]
    return kept, min(index, len(kept))


@transaction.atomic
def api_topic_save(
    *,
    api: Api,
    user,
    original: str,
    target: str,
    uri_mapping: str,
    secured: bool,
    verbs: dict[str, list[str]],
    if_match: str | None = None,
) -> Api:
    """Add a topic, or replace the one named ``original`` where it stood. ``verbs`` maps
    each verb the topic offers (PUBLISH, SUBSCRIBE) to the scopes it requires. Validated and
    recorded by ``api_update``."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    target = normalise_topic(target)
    if not target:
        raise ValidationFailed("Name the topic, e.g. /rooms/{roomId}.")
    new_ops = [
        {
            "target": target,
            "verb": verb,
            "scopes": list(verbs[verb]),
            "uriMapping": uri_mapping.strip() or None,
            "authType": "Any" if secured else "None",
        }
        for verb in asyncapi.VERBS
        if verb in verbs
    ]
    if not new_ops:
        raise ValidationFailed(f"Tick publish, subscribe or both for {target}.")
    ops = [op.as_dict() for op in asyncapi.operations(api.definition)]
    if target != original and any(o["target"] == target for o in ops):
        raise Conflict(f"There is already a topic {target}: edit that one instead.")
    kept, at = _operations_without(ops, original or target)
    return api_update(api=api, user=user, changes={"operations": kept[:at] + new_ops + kept[at:]}, if_match=if_match)


@transaction.atomic
def api_topic_delete(*, api: Api, user, target: str, if_match: str | None = None) -> Api:
    """Remove the topic ``target``; an API keeps at least one."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    ops = [op.as_dict() for op in asyncapi.operations(api.definition)]
    kept, _ = _operations_without(ops, target)
    if len(kept) == len(ops):
        raise NotFound(f"There is no topic {target}.")
    if not kept:
        raise ValidationFailed("An API needs at least one topic: add another before deleting this one.")
    return api_update(api=api, user=user, changes={"operations": kept}, if_match=if_match)


def _declared_scopes(api: Api) -> list[dict[str, Any]]:
    """The API's scopes as ``api_update`` takes them (name, description, bindings)."""
    return [s["scope"] for s in api_dto(api)["scopes"]]


@transaction.atomic
def api_definition_update(*, api: Api, document: str | bytes, user, if_match: str | None = None) -> Api:
    """Replace the working copy's AsyncAPI definition (its topics). Gateways see it once a
    revision of it is deployed. The API's endpoints stay those of the API."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    _assert_may_change(api, user)
    _check_if_match(api, if_match)
    try:
        definition = asyncapi.parse_and_validate(document)
    except asyncapi.InvalidDefinition as exc:
        raise ValidationFailed(
            "The AsyncAPI definition is invalid", details=[e.as_dict() for e in exc.errors]
        ) from None
    _check_scope_owners(definition, provider=api.provider, api=api)
    api.definition = asyncapi.with_servers(definition, production=api.production_endpoint, sandbox=api.sandbox_endpoint)
    api.save(update_fields=["definition", "last_updated_time"])
    audit_record(
        actor=user,
        action="api.definition.update",
        target=api,
        detail={"topics": [t.name for t in asyncapi.topics(api.definition)]},
    )
    return api


CONVERT_TARGETS = ("3.0.0",)


@transaction.atomic
def api_definition_convert(*, api: Api, user, to: str, if_match: str | None = None) -> Api:
    """Convert the working copy's AsyncAPI 2.x definition to ``to`` (3.0.0) in place: the
    same topics, scopes, URL mappings and security (``asyncapi.to_v3``), or 400 naming each
    part that 3.0 cannot say and nothing changed. A definition already in ``to`` is left as
    it is (no change, nothing recorded), so a repeated call answers as the first did."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    _assert_may_change(api, user)
    _check_if_match(api, if_match)
    if to not in CONVERT_TARGETS:
        raise ValidationFailed(
            f"to must be {' or '.join(CONVERT_TARGETS)} (got {str(to)[:40]!r})",
            details=[_errors("to", f"one of {', '.join(CONVERT_TARGETS)}")],
        )
    before = api.definition.get("asyncapi") if isinstance(api.definition, dict) else None
    if before == to:
        return api
    try:
        definition = asyncapi.to_v3(api.definition)
    except asyncapi.InvalidDefinition as exc:
        details = [e.as_dict() for e in exc.errors]
        raise ValidationFailed(
            f"The definition cannot be converted to AsyncAPI {to} faithfully: {details[0]['message']}"
            + (f" (and {len(details) - 1} more)" if len(details) > 1 else ""),
            details=details,
        ) from None
    api.definition = asyncapi.with_servers(definition, production=api.production_endpoint, sandbox=api.sandbox_endpoint)
    api.save(update_fields=["definition", "last_updated_time"])
    audit_record(
        actor=user,
        action="api.definition.convert",
        target=api,
        detail={"from": before, "to": to, "topics": [t.name for t in asyncapi.topics(api.definition)]},
    )
    return api


def api_etag(api: Api) -> str:
    """The version of an API's working copy, for If-Match: it changes with every save."""
    stamp = api.last_updated_time.isoformat() if api.last_updated_time else ""
    return '"' + hashlib.sha256(f"{api.pk}:{stamp}".encode()).hexdigest()[:20] + '"'


def _check_if_match(api: Api, if_match: str | None) -> None:
    if if_match and if_match.strip() not in ("*", api_etag(api)):
        raise PreconditionFailed(
            "This API was changed by someone else since you read it: reload it and make your change again"
        )


def _definition_or_errors(doc: dict[str, Any], *, operations, scopes) -> dict[str, Any]:
    problems = asyncapi.design_errors(operations, scopes)
    if not problems:
        try:
            return asyncapi.validate_document(doc)
        except asyncapi.InvalidDefinition as exc:
            problems = exc.errors
    details = [p.as_dict() for p in problems]
    raise ValidationFailed(
        "; ".join(d["message"] for d in details[:3]) + (" …" if len(details) > 3 else ""), details=details
    )


UPDATABLE = (
    "name",
    "tags",
    "categories",
    "description",
    "endpointConfig",
    "policies",
    "apiThrottlingPolicy",
    "authorizationHeader",
    "payloadValidation",
    "securityScheme",
    "scopes",
    "operations",
    "originConfiguration",
    "backendJWTConfiguration",
    "visibility",
    "visibleRoles",
)
# payloadValidation: each key, its values, and the Api field it sets.
PAYLOAD_VALIDATION = {
    "mode": (("off", "client", "both"), "payload_validation"),
    "onClientFailure": (("error", "close"), "payload_client_failure"),
    "onBackendFailure": (("drop", "close"), "payload_backend_failure"),
}


def _payload_validation(value: Any) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The Api fields a ``payloadValidation`` object sets (keys left out keep their value),
    or the errors that refuse it."""
    if not isinstance(value, dict):
        return {}, [
            _errors(
                "payloadValidation",
                'payloadValidation must be an object, e.g. {"mode": "client", "onClientFailure": "close"}',
            )
        ]
    errors = [
        _errors(
            f"payloadValidation.{str(key)[:60]}",
            f"payloadValidation.{str(key)[:60]} is not a field; the fields are {', '.join(PAYLOAD_VALIDATION)}",
        )
        for key in value
        if key not in PAYLOAD_VALIDATION
    ]
    fields = {}
    for key, (allowed, field) in PAYLOAD_VALIDATION.items():
        if key not in value:
            continue
        if value[key] not in allowed:
            errors.append(
                _errors(
                    f"payloadValidation.{key}",
                    f"payloadValidation.{key} must be one of {', '.join(allowed)} (got {str(value[key])[:40]!r})",
                )
            )
        else:
            fields[field] = value[key]
    return fields, errors


_HEADER_RE = re.compile(r"[A-Za-z0-9\-]{1,60}")
MAX_ORIGINS = 100
# Headers the gateway writes itself on the backend handshake: no backend JWT may take their name.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "keep-alive",
        "te",
        "trailer",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "x-forwarded-for",
        "internal-key",
        "origin",
    }
)


# Not a header clients may send their token in: the gateway's own, or the API key's.
_NOT_AUTH_HEADERS = _RESERVED_HEADERS | {"apikey"}


def _subobject(changes: dict[str, Any], name: str, fields: dict[str, Any], errors: list) -> dict[str, Any]:
    """``changes[name]`` (an object of ``fields``, each optional) over the current ``fields``;
    a field it does not know, or anything but an object, is an error."""
    if name not in changes:
        return fields
    given = changes[name]
    if not isinstance(given, dict):
        errors.append(_errors(name, f"{name} must be an object"))
        return fields
    for key in given:
        if key not in fields:
            shown = str(key)[:60]
            errors.append(_errors(f"{name}.{shown}", f"{name}.{shown} is not a field; {name} has {', '.join(fields)}"))
    return {key: given.get(key, value) for key, value in fields.items()}


def _visibility(api: Api, changes: dict[str, Any], errors: list) -> tuple[str, list[str]]:
    """The API's ``visibility`` and ``visibleRoles`` after ``changes``, checked: RESTRICTED
    names at least one role, every role is one that exists (a group), PUBLIC names none."""
    visibility = changes.get("visibility", api.visibility)
    roles = changes.get("visibleRoles", api.visible_roles)
    if visibility not in Visibility.values:
        errors.append(_errors("visibility", "visibility must be PUBLIC or RESTRICTED"))
        return api.visibility, list(api.visible_roles)
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        errors.append(_errors("visibleRoles", "visibleRoles must be a list of role names"))
        return visibility, list(api.visible_roles)
    roles = list(dict.fromkeys(r.strip() for r in roles if r.strip()))
    if visibility == Visibility.PUBLIC:
        if roles and "visibleRoles" in changes:
            errors.append(_errors("visibleRoles", "visibleRoles apply only to a RESTRICTED API; send [] with PUBLIC"))
        return visibility, []
    if not roles:
        errors.append(_errors("visibleRoles", "a RESTRICTED API needs at least one role in visibleRoles"))
        return visibility, []
    known = set(Group.objects.filter(name__in=roles).values_list("name", flat=True))
    for role in roles:
        if role not in known:
            errors.append(_errors("visibleRoles", f"visibleRoles: no role named {role[:60]!r}"))
    return visibility, roles


def _gateway_policies(api: Api, changes: dict[str, Any], errors: list, auth_header: str) -> dict[str, Any]:
    """The API's Origin allow-list and backend JWT after ``changes``
    (``originConfiguration``, ``backendJWTConfiguration``), checked; model field names."""
    origin = _subobject(
        changes,
        "originConfiguration",
        {"allowedOrigins": list(api.allowed_origins), "browsersOnly": api.origin_required},
        errors,
    )
    origins = origin["allowedOrigins"]
    allowed: list[str] = []
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
        errors.append(
            _errors(
                "originConfiguration.allowedOrigins",
                f"originConfiguration.allowedOrigins must be a list of at most {MAX_ORIGINS} origins",
            )
        )
    else:
        for i, text in enumerate(origins):
            normal = origin_normalise(text, wildcard=True) if isinstance(text, str) else None
            if normal is None:
                errors.append(
                    _errors(
                        f"originConfiguration.allowedOrigins[{i}]",
                        f"originConfiguration.allowedOrigins[{i}]: {str(text)[:80]!r} is not an origin: "
                        "scheme://host[:port], "
                        "with '*.' before the host for its subdomains (https://*.example.com)",
                    )
                )
            elif normal not in allowed:
                allowed.append(normal)
    if not isinstance(origin["browsersOnly"], bool):
        errors.append(
            _errors("originConfiguration.browsersOnly", "originConfiguration.browsersOnly must be true or false")
        )
    jwt = _subobject(
        changes,
        "backendJWTConfiguration",
        {"enabled": api.backend_jwt_enabled, "header": api.backend_jwt_header},
        errors,
    )
    if not isinstance(jwt["enabled"], bool):
        errors.append(
            _errors("backendJWTConfiguration.enabled", "backendJWTConfiguration.enabled must be true or false")
        )
    header = jwt["header"]
    if not isinstance(header, str) or not _HEADER_RE.fullmatch(header) or header.lower() in _RESERVED_HEADERS:
        errors.append(
            _errors(
                "backendJWTConfiguration.header",
                "backendJWTConfiguration.header must be a header name of letters, digits and '-' that the "
                "gateway does not write itself (e.g. X-JWT-Assertion)",
            )
        )
    elif header.lower() == auth_header.lower():
        errors.append(
            _errors(
                "backendJWTConfiguration.header",
                "backendJWTConfiguration.header cannot be the header clients send their token in",
            )
        )
    return {
        "allowed_origins": allowed,
        "origin_required": origin["browsersOnly"],
        "backend_jwt_enabled": jwt["enabled"],
        "backend_jwt_header": header,
    }


# The model fields of LIVE_FIELDS' Origin list and backend JWT: gateways read them from the
# API row, not from a deployed revision, so a change to them is told to gateways at once.
LIVE_SETTINGS = ("allowed_origins", "origin_required", "backend_jwt_enabled", "backend_jwt_header")
# What an API project's api.yaml says about enforcement besides its topics: WSO2's
# ``authorizationHeader`` and ``securityScheme``, Tidegate's ``payloadValidation``,
# ``originConfiguration`` and ``backendJWTConfiguration`` (import and standalone read them).
ENFORCEMENT_FIELDS = (
    "authorizationHeader",
    "securityScheme",
    "payloadValidation",
    "originConfiguration",
    "backendJWTConfiguration",
)


def _enforcement_settings(api: Api, changes: dict[str, Any], errors: list) -> dict[str, Any]:
    """The Api fields of ENFORCEMENT_FIELDS after ``changes`` (one left out keeps ``api``'s
    value), checked; what is wrong goes to ``errors``."""
    header = changes.get("authorizationHeader", api.authorization_header) or "Authorization"
    if not isinstance(header, str) or not _HEADER_RE.fullmatch(header) or header.lower() in _NOT_AUTH_HEADERS:
        errors.append(
            _errors(
                "authorizationHeader",
                "authorizationHeader must be a header name of letters, digits and '-' other than the ones the "
                "gateway reads or writes itself (Internal-Key, apikey, Host, Origin, Sec-WebSocket-*, ...)",
            )
        )
        header = api.authorization_header
    fields: dict[str, Any] = {"authorization_header": header, **_gateway_policies(api, changes, errors, header)}
    if "payloadValidation" in changes:
        validation, validation_errors = _payload_validation(changes["payloadValidation"])
        errors += validation_errors
        fields.update(validation)
    if "securityScheme" in changes:
        scheme = changes["securityScheme"]
        if not isinstance(scheme, list) or any(not isinstance(k, str) or k not in CREDENTIAL_KINDS for k in scheme):
            errors.append(
                _errors(
                    "securityScheme",
                    'securityScheme must be a list of "oauth2" and "api_key", e.g. ["oauth2"], '
                    '["oauth2", "api_key"] or [] (no credential)',
                )
            )
        elif scheme:  # [] (no credential) keeps the kinds for when the API is secured again
            fields["security_schemes"] = [k for k in CREDENTIAL_KINDS if k in scheme]
    return fields


def api_enforcement_apply(api: Api, changes: dict[str, Any]) -> list[str]:
    """Set on ``api`` (an unsaved ``Api()`` for the defaults) what an API project's
    ENFORCEMENT_FIELDS say (other keys are not read), checked as ``PUT /apis/{apiId}``
    checks them; the Api fields set, or ValidationFailed naming each wrong one and setting
    nothing."""
    errors: list = []
    fields = _enforcement_settings(api, changes, errors)
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), details=errors)
    for name, value in fields.items():
        setattr(api, name, value)
    return list(fields)


@transaction.atomic
def api_update(*, api: Api, user, changes: dict[str, Any], if_match: str | None = None) -> Api:
    """Change an API's working copy with WSO2's ``PUT /apis/{apiId}`` fields.

    Only the fields present in ``changes`` change. Topics and scopes are written into the
    AsyncAPI definition, which stays the one place they live; the whole result is validated
    before anything is saved. ``if_match`` (an ETag from :func:`api_etag`) refuses a stale
    edit with 412. Gateways see the change once a revision of it is deployed.
    """
    api = Api.objects.select_for_update().get(pk=api.pk)
    _assert_may_change(api, user)
    _check_if_match(api, if_match)
    for field in ("context", "version"):
        if field in changes and changes[field] not in (None, getattr(api, field)):
            raise ValidationFailed(
                f"{field} cannot change on an existing API; create a new version instead",
                details=[_errors(field, "read-only")],
            )
    unknown = set(changes) - set(UPDATABLE) - {"context", "version", "id", "type", "lifeCycleStatus", "provider"}
    changes = {k: v for k, v in changes.items() if k in UPDATABLE}

    name = changes.get("name", api.name)
    endpoint_config = changes.get("endpointConfig")
    production, sandbox = api.production_endpoint, api.sandbox_endpoint
    if endpoint_config is not None:
        if not isinstance(endpoint_config, dict):
            raise ValidationFailed("endpointConfig must be an object")
        production, sandbox = endpoint_urls(endpoint_config)
    policies = changes.get("policies", api.policies)
    if not isinstance(policies, list) or not policies:
        raise ValidationFailed("Offer at least one business plan", details=[_errors("policies", "at least one plan")])
    if not all(isinstance(p, str) for p in policies):
        raise ValidationFailed(
            "policies must be a list of business plan names", details=[_errors("policies", "a list of names")]
        )
    api_policy = changes.get("apiThrottlingPolicy", api.api_throttling_policy) or ""
    errors = _validate_api_fields(
        name=name,
        context=api.context,
        version=api.version,
        production_endpoint=production,
        sandbox_endpoint=sandbox,
        policies=policies,
        api_throttling_policy=api_policy,
    )
    description = changes.get("description", api.description) or ""
    if not isinstance(description, str) or len(description) > 5000:
        errors.append(_errors("description", "text of at most 5000 characters"))
    tags, tag_errors = clean_tags(changes.get("tags", api.tags))
    errors += tag_errors
    settings_now = _enforcement_settings(api, changes, errors)
    visibility, visible_roles = _visibility(api, changes, errors)
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), details=errors)
    in_categories = categories_resolve(changes["categories"]) if "categories" in changes else None

    secured = None
    if "securityScheme" in changes:
        secured = bool(changes["securityScheme"])
    operations = changes.get("operations")
    scopes = changes.get("scopes")
    if operations is not None and not isinstance(operations, list):
        raise ValidationFailed("operations must be a list of {target, verb, scopes, uriMapping, authType}")
    if scopes is not None and not isinstance(scopes, list):
        raise ValidationFailed("scopes must be a list of {scope: {name, description, bindings}}")
    definition = api.definition
    if operations is not None or scopes is not None or secured is not None:
        definition = asyncapi.with_design(definition, operations=operations, scopes=scopes, secured=secured)
        definition = _definition_or_errors(definition, operations=operations, scopes=scopes)
    if scopes is not None:
        _check_scope_owners(definition, provider=api.provider, api=api)

    before = api_dto(api)
    api.name = name
    api.description = description
    api.tags = tags
    api.production_endpoint, api.sandbox_endpoint = production, sandbox
    api.policies = list(policies)
    api.api_throttling_policy = api_policy
    api.visibility, api.visible_roles = visibility, visible_roles
    api.definition = asyncapi.with_servers(definition, production=production, sandbox=sandbox)
    live = any(getattr(api, name) != settings_now[name] for name in LIVE_SETTINGS)
    for name, value in settings_now.items():
        setattr(api, name, value)
    api.save()
    if in_categories is not None:
        api.categories.set(in_categories)
    after = api_dto(api)
    changed = sorted(k for k in after if k != "lastUpdatedTime" and before.get(k) != after.get(k))
    audit_record(actor=user, action="api.update", target=api, detail={"changed": changed, "ignored": sorted(unknown)})
    if live:  # the Origin list and backend JWT are read live, not from a revision: tell gateways now
        config_changed()
    return api


@transaction.atomic
def api_revision_restore(*, api: Api, revision: ApiRevision, user) -> Api:
    """Make the working copy what ``revision`` was (WSO2's restore-revision)."""
    if revision.api_id != api.pk:
        raise NotFound("No such revision of this API")
    _assert_may_run_revisions(api, user)
    api = Api.objects.select_for_update().get(pk=api.pk)
    frozen = revision.frozen
    _check_scope_owners(frozen.get("definition"), provider=api.provider, api=api)
    production, sandbox = endpoint_urls(frozen.get("endpointConfig"))
    api.name = frozen.get("name", api.name)
    api.description = frozen.get("description", api.description) or ""
    api.tags = list(frozen.get("tags") or [])
    api.production_endpoint = production or api.production_endpoint
    api.sandbox_endpoint = sandbox
    api.policies = list(frozen.get("policies") or api.policies)
    api.api_throttling_policy = frozen.get("apiThrottlingPolicy") or ""
    api.authorization_header = frozen.get("authorizationHeader") or "Authorization"
    api.security_schemes = [k for k in CREDENTIAL_KINDS if k in (frozen.get("securityScheme") or [])] or ["oauth2"]
    for field, value in _payload_validation(frozen.get("payloadValidation") or {})[0].items():
        setattr(api, field, value)
    api.definition = frozen["definition"]
    api.save()
    audit_record(actor=user, action="api.revision.restore", target=api, detail={"number": revision.number})
    return api


@transaction.atomic
def api_revision_delete(*, api: Api, revision: ApiRevision, user) -> int:
    """Delete a revision that runs nowhere; returns its number."""
    if revision.api_id != api.pk:
        raise NotFound("No such revision of this API")
    _assert_may_run_revisions(api, user)
    deployed = list(revision.deployments.values_list("environment__name", flat=True))
    if deployed:
        raise Conflict(f"{revision.display_name} is deployed to {', '.join(deployed)}: undeploy it before deleting it")
    audit_record(actor=user, action="api.revision.delete", target=api, detail={"number": revision.number})
    number = revision.number
    revision.delete()
    return number
