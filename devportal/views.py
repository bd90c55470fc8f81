"""Dev Portal pages: catalog, API page with subscribe and Try Out, applications and keys."""

from functools import wraps

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe

from devportal import selectors, services
from devportal.community_views import community_context
from devportal.forms import ApplicationForm, SubscribeForm
from keymanager.models import KeyType
from keymanager.scopes import ScopeRefused
from keymanager.selectors import api_key_get, api_key_list_live, token_get, token_list_live
from keymanager.server import token_issue
from keymanager.services import SUPPORTED_GRANTS, api_key_revoke, keys_remove, secret_regenerate, token_revoke
from portal.csp import DOCUMENTATION_FRAME, allow_websockets
from portal.errors import ApplicationError
from portal.pages import run_service
from portal.site_settings import anonymous_browsing
from publisher import asyncapi
from publisher.dto import gateway_urls
from publisher.models import PolicyLevel, ThrottlingPolicy
from publisher.tryout import console_topics, wscat_commands

TRY_OUT_VALIDITY = 3600


def browsable(view):
    """The catalog's pages: anyone signed in, and visitors who are not while the Admin
    Portal's Settings allow anonymous browsing (the sign-in page otherwise, coming back here)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated and not anonymous_browsing():
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


@browsable
def index(request):
    query = request.GET.get("q", "")
    category = request.GET.get("category", "").strip()
    return render(
        request,
        "devportal/index.html",
        {
            "apis": selectors.visible_apis(request.user, query=query, category=category),
            "query": query,
            "category": category,
            "categories": selectors.catalog_categories(request.user),
        },
    )


def _payload_validation(api) -> dict:
    """How the deployed revision validates messages (its ``payloadValidation``), for one line
    of the page: the first environment shown on the Dev Portal; off when none is deployed."""
    dep = api.deployments.select_related("revision").filter(display_on_devportal=True).order_by("id").first()
    found = (dep.revision.frozen.get("payloadValidation") if dep else None) or {}
    return {"mode": "off", "onClientFailure": "error", **found}


def _api_page(request, api, *, form=None, token="", tryout_app=None, key_type=KeyType.PRODUCTION, community=None):
    """The API page, with a subscribe form that did not validate or a test key got this once.
    A visitor who is not signed in reads it all but is asked to sign in (or sign up) to
    subscribe, get a test key or use the live console, and comes back here."""
    urls = gateway_urls(api)
    if not request.user.is_authenticated:
        return render(
            request,
            "devportal/api.html",
            {
                "api": api,
                "operations": asyncapi.operations(api.definition),
                "urls": urls,
                "anonymous": True,
                "validation": _payload_validation(api),
                **community_context(request, api),
                "commands": wscat_commands(api, urls, ""),
            },
        )
    services.application_ensure_default(user=request.user)
    applications = list(selectors.application_list(owner=request.user))
    subscriptions = {str(s.application_id): s for s in selectors.subscription_list(owner=request.user, api_id=api.id)}
    approvals = _approvals(subscriptions.values())
    response = render(
        request,
        "devportal/api.html",
        {
            "api": api,
            "operations": asyncapi.operations(api.definition),
            "urls": urls,
            "validation": _payload_validation(api),
            "form": form or SubscribeForm(applications=applications, plans=api.policies),
            "applications": applications,
            "subscriptions": subscriptions,
            "approvals": approvals,
            "tryout_app": tryout_app or next(iter(subscriptions), ""),
            "key_type": key_type,
            "key_types": KeyType.values,
            "token": token,
            "commands": wscat_commands(api, urls, token),
            "console_topics": console_topics(api, urls),
            **community_context(request, api, **(community or {})),
        },
    )
    # The live console connects to the gateway URLs shown (portal/csp.py).
    return allow_websockets(response, [u for env in urls for u in env["URLs"].values()])


@browsable
@require_safe
def api_detail(request, api_id):
    return _api_page(request, selectors.catalog_get_or_404(api_id, user=request.user))


# One view per form of the API page: Subscribe redirects back to the page; GET TEST KEY
# shows the page with the token, once.


@login_required
@require_POST
def api_subscribe(request, api_id):
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    services.application_ensure_default(user=request.user)
    applications = list(selectors.application_list(owner=request.user))
    form = SubscribeForm(request.POST, applications=applications, plans=api.policies)
    if form.is_valid():
        app = selectors.application_get(owner=request.user, application_id=form.cleaned_data["application"])
        sub = run_service(
            request,
            services.subscription_create,
            form=form,
            application=app,
            api=api,
            throttling_policy=form.cleaned_data["plan"],
            user=request.user,
        )
        if sub and sub.status == "ON_HOLD":
            messages.info(
                request,
                f"{app.name}'s subscription to {api.name} with {sub.throttling_policy} is waiting for an "
                "administrator's approval; the gateway refuses it until then.",
            )
            return redirect("devportal:api", api_id=api.id)
        if sub:
            messages.success(request, f"{app.name} is subscribed to {api.name} with {sub.throttling_policy}.")
            return redirect("devportal:api", api_id=api.id)
    return _api_page(request, api, form=form)


@login_required
@require_POST
def api_test_key(request, api_id):
    """GET TEST KEY: a short-lived token for the chosen application's keys of that type."""
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    application_id = request.POST.get("application", "")
    key_type = request.POST.get("key_type") if request.POST.get("key_type") in KeyType.values else KeyType.PRODUCTION
    app = selectors.application_get(owner=request.user, application_id=application_id)
    token = ""
    if app is None:
        messages.error(request, "Choose one of your applications.")
    else:
        token = (
            run_service(
                request,
                services.tryout_token_issue,
                application=app,
                key_type=key_type,
                validity=TRY_OUT_VALIDITY,
                user=request.user,
            )
            or ""
        )
    return _api_page(request, api, token=token, tryout_app=application_id, key_type=key_type)


@browsable
@require_safe
@xframe_options_sameorigin
@csp_replace(DOCUMENTATION_FRAME)
def api_documentation(request, api_id):
    """The AsyncAPI definition rendered, in a sandboxed frame of the API page (portal/csp.py)."""
    api = selectors.catalog_get_or_404(api_id, user=request.user)
    # The stored servers are the backend's endpoints, which developers must not learn (they
    # would reach the backend around the gateway): shown are the gateway's URLs, as WSO2's
    # Dev Portal does. Only http(s) links: a definition stored before they were checked may hold others.
    urls = gateway_urls(api)
    definition = asyncapi.with_servers(api.definition, production=urls[0]["URLs"]["wss"] if urls else "")
    return render(
        request,
        "devportal/api_documentation.html",
        {"api": api, "docs_definition": asyncapi.without_unsafe_links(definition)},
    )


@login_required
def applications(request):
    services.application_ensure_default(user=request.user)
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        app = run_service(
            request,
            services.application_create,
            form=form,
            owner=request.user,
            name=d["name"],
            throttling_policy=d["throttling_policy"],
            description=d["description"],
        )
        if app and app.status == "CREATED":
            messages.info(request, f"Created {app.name}; it waits for an administrator's approval before it gets keys.")
        elif app:
            messages.success(request, f"Created application {app.name}.")
            return redirect("devportal:application", application_id=app.id)
    return render(
        request,
        "devportal/applications.html",
        {"applications": selectors.application_list(owner=request.user), "form": form},
    )


def _scope_choices(app) -> dict[str, str]:
    """The scopes of the APIs ``app`` subscribes to, for the token form."""
    out: dict[str, str] = {}
    for sub in app.subscriptions.select_related("api"):
        out.update(asyncapi.declared_scopes(sub.api.definition))
    return out


def _own_application(request, application_id):
    """One of the signed-in user's applications; anyone else's is not found (404)."""
    app = selectors.application_get(owner=request.user, application_id=application_id)
    if app is None:
        raise Http404
    return app


def _approvals(subscriptions) -> dict:
    """Each subscription's latest approval request (its state and the administrator's comment)."""
    subscriptions = list(subscriptions)
    found = selectors.workflows_of([s.id for s in subscriptions])
    return {s.id: found.get(str(s.id)) for s in subscriptions}


def _application_page(request, app, **shown):
    """The application page, with what an action shows this once (a secret, a token)."""
    clients = list(app.oauth_clients.all())
    subscriptions = list(selectors.subscription_list(owner=request.user, application_id=app.id))
    return render(
        request,
        "devportal/application.html",
        {
            "usage": selectors.subscription_usage(application=app),
            "app": app,
            "keys": {c.key_type: c for c in clients},
            "subscriptions": subscriptions,
            "approvals": _approvals(subscriptions),
            "app_workflow": selectors.workflows_of([app.id]).get(str(app.id)),
            "key_types": KeyType.values,
            "grant_types": SUPPORTED_GRANTS,
            "scope_choices": _scope_choices(app),
            "tokens": token_list_live(clients=clients),
            "api_keys": api_key_list_live(application=app),
            "app_policies": ThrottlingPolicy.objects.filter(level=PolicyLevel.APPLICATION),
            "validity": TRY_OUT_VALIDITY,
            **shown,
        },
    )


def _back(app):
    return redirect("devportal:application", application_id=app.id)


def _client_of(request, app):
    """The application's keys of the form's ``key_type``; None (with a message) when it has none."""
    client = app.oauth_clients.filter(key_type=request.POST.get("key_type", KeyType.PRODUCTION)).first()
    if client is None:
        messages.error(request, "Generate keys of that type first.")
    return client


@login_required
@require_safe
def application_detail(request, application_id):
    return _application_page(request, _own_application(request, application_id))


# One view per form of the application page: each calls one service and redirects back to
# the page, or shows the page with what can be seen only once (a new secret, a token).


@login_required
@require_POST
def application_update(request, application_id):
    app = _own_application(request, application_id)
    if run_service(
        request,
        services.application_update,
        application=app,
        user=request.user,
        name=request.POST.get("name"),
        throttling_policy=request.POST.get("throttling_policy"),
        description=request.POST.get("description", ""),
    ):
        messages.success(request, "Saved the application.")
    return _back(app)


@login_required
@require_POST
def application_delete(request, application_id):
    app = _own_application(request, application_id)
    name = run_service(request, services.application_delete, application=app, user=request.user)
    if name:
        messages.success(request, f"Deleted {name}; its keys and subscriptions are gone.")
        return redirect("devportal:applications")
    return _back(app)


@login_required
@require_POST
def application_keys_generate(request, application_id):
    app = _own_application(request, application_id)
    result = run_service(
        request,
        services.application_keys_generate,
        application=app,
        key_type=request.POST.get("key_type", KeyType.PRODUCTION),
        grant_types=request.POST.getlist("grant_types") or None,
        user=request.user,
    )
    if result is None:
        return _back(app)
    client, secret = result
    return _application_page(request, app, new_key=client, secret=secret)


@login_required
@require_POST
def application_secret_regenerate(request, application_id):
    app = _own_application(request, application_id)
    client = _client_of(request, app)
    secret = client and run_service(request, secret_regenerate, client=client, user=request.user)
    if not secret:
        return _back(app)
    messages.success(request, "New consumer secret: tokens made with the old one no longer work.")
    return _application_page(request, app, new_key=client, secret=secret)


@login_required
@require_POST
def application_keys_remove(request, application_id):
    app = _own_application(request, application_id)
    client = _client_of(request, app)
    if client is not None:
        run_service(request, keys_remove, client=client, user=request.user)
        messages.success(request, f"Removed the {client.key_type.lower()} keys; their tokens no longer work.")
    return _back(app)


@login_required
@require_POST
def application_token_generate(request, application_id):
    app = _own_application(request, application_id)
    client = _client_of(request, app)
    if client is None:
        return _back(app)
    try:
        validity = int(request.POST.get("validity") or TRY_OUT_VALIDITY)
    except ValueError:
        validity = 0
    if not 60 <= validity <= 365 * 86400:
        messages.error(request, "Validity: between 60 seconds and a year.")
        return _back(app)
    try:
        token = token_issue(client=client, scope=" ".join(request.POST.getlist("scopes")), validity=validity)
    except ScopeRefused as exc:
        messages.error(request, f"{exc}: your roles do not allow them.")
        return _back(app)
    return _application_page(
        request, app, new_key=client, token=token["access_token"], token_scope=token.get("scope", "")
    )


@login_required
@require_POST
def application_token_revoke(request, application_id):
    app = _own_application(request, application_id)
    issued = token_get(application=app, jti=request.POST.get("jti", ""))
    if issued is None:
        messages.error(request, "No such token.")
    else:
        token_revoke(token=issued, user=request.user)
        messages.success(request, "Revoked the token: connections using it are closed (4001).")
    return _back(app)


@login_required
@require_POST
def application_api_key_generate(request, application_id):
    app = _own_application(request, application_id)
    try:
        validity = int(request.POST.get("validity") or -1)
    except ValueError:
        validity = 0  # the service refuses it with its message
    result = run_service(
        request,
        services.application_api_key_generate,
        application=app,
        key_type=request.POST.get("key_type", KeyType.PRODUCTION),
        validity_period=validity,
        permitted_ip=request.POST.get("permitted_ip", ""),
        permitted_referer=request.POST.get("permitted_referer", ""),
        user=request.user,
    )
    if result is None:
        return _back(app)
    record, apikey = result
    return _application_page(request, app, new_api_key=record, api_key=apikey)


@login_required
@require_POST
def application_api_key_revoke(request, application_id):
    app = _own_application(request, application_id)
    record = api_key_get(application=app, jti=request.POST.get("jti", ""))
    if record is None:
        messages.error(request, "No such API key.")
    else:
        api_key_revoke(api_key=record, user=request.user)
        messages.success(request, "Revoked the API key: connections using it are closed (4001).")
    return _back(app)


def _own_subscription(request, subscription_id):
    """One of the signed-in user's subscriptions; anyone else's is not found (404)."""
    sub = selectors.subscription_get(owner=request.user, subscription_id=subscription_id)
    if sub is None:
        raise Http404
    return sub


# The subscription rows of the application page: change the plan, unsubscribe.


@login_required
@require_POST
def subscription_plan_change(request, subscription_id):
    sub = _own_subscription(request, subscription_id)
    plan = request.POST.get("plan", "")
    if run_service(
        request, services.subscription_change_plan, subscription=sub, throttling_policy=plan, user=request.user
    ):
        messages.success(request, f"{sub.api.name} is now on {plan}.")
    return redirect("devportal:application", application_id=sub.application_id)


@login_required
@require_POST
def subscription_unsubscribe(request, subscription_id):
    sub = _own_subscription(request, subscription_id)
    try:
        services.subscription_delete(subscription=sub, user=request.user)
    except ApplicationError as exc:  # a blocked subscription stays (409)
        messages.error(request, exc.description)
    else:
        messages.success(request, f"Unsubscribed {sub.application.name} from {sub.api.name}.")
    return redirect("devportal:application", application_id=sub.application_id)
