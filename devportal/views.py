"""Dev Portal pages: catalog, API page with subscribe and Try Out, applications and keys."""

import shlex

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from devportal import selectors, services
from devportal.apis import gateway_urls
from devportal.forms import ApplicationForm, SubscribeForm
from keymanager.models import KeyType
from keymanager.server import token_issue
from keymanager.services import keys_generate
from portal.pages import run_service
from publisher import asyncapi
from publisher.models import PolicyLevel, ThrottlingPolicy

TRY_OUT_VALIDITY = 3600


@login_required
def index(request):
    query = request.GET.get("q", "")
    return render(request, "devportal/index.html", {"apis": selectors.catalog_list(query=query), "query": query})


def wscat_commands(api, urls, token: str, *, internal_key: str = "") -> list[dict]:
    """One ready command per topic and environment: the token in a header, and a variant
    with ``?access_token=`` for clients that cannot set headers. With ``internal_key``
    (the Publisher's Try it), the key in its own header instead."""
    header = api.authorization_header
    out = []
    shown = token or "$TOKEN"
    for topic in asyncapi.topics(api.definition):
        path = topic.name[:-2] if topic.name.endswith("/*") else topic.name
        for env in urls:
            url = env["URLs"]["ws"] + path
            secured = topic.secured and api.lifecycle_status != "PROTOTYPED"
            cmd = f"wscat -c {shlex.quote(url)}"
            if internal_key:
                cmd += " -H " + shlex.quote(f"Internal-Key: {internal_key}")
            elif secured:
                cmd += " -H " + shlex.quote(f"{header}: Bearer {shown}")
            out.append(
                {
                    "topic": topic.name,
                    "verbs": topic.verbs,
                    "environment": env["environmentName"],
                    "url": url,
                    "command": cmd,
                    "secured": secured,
                    "query_command": f"wscat -c {shlex.quote(url + '?access_token=' + shown)}"
                    if secured and not internal_key
                    else "",
                }
            )
    return out


@login_required
def api_detail(request, api_id):
    api = selectors.catalog_get(api_id)
    if api is None:
        raise Http404
    services.application_ensure_default(user=request.user)
    applications = list(selectors.application_list(owner=request.user))
    subscriptions = {str(s.application_id): s for s in selectors.subscription_list(owner=request.user, api_id=api.id)}
    form = SubscribeForm(
        request.POST if request.POST.get("do") == "subscribe" else None, applications=applications, plans=api.policies
    )
    token = ""
    tryout_app = request.POST.get("application") or (next(iter(subscriptions), None) or "")
    if request.method == "POST":
        if request.POST.get("do") == "subscribe" and form.is_valid():
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
            if sub:
                messages.success(request, f"{app.name} is subscribed to {api.name} with {sub.throttling_policy}.")
                return redirect("devportal:api", api_id=api.id)
        elif request.POST.get("do") == "testkey":
            token = _test_key(request, tryout_app)
    urls = gateway_urls(api)
    return render(
        request,
        "devportal/api.html",
        {
            "api": api,
            "operations": asyncapi.operations(api.definition),
            "urls": urls,
            "form": form,
            "applications": applications,
            "subscriptions": subscriptions,
            "tryout_app": tryout_app,
            "token": token,
            "commands": wscat_commands(api, urls, token),
        },
    )


def _test_key(request, application_id) -> str:
    """GET TEST KEY: a short-lived token for the chosen application's production keys."""
    app = selectors.application_get(owner=request.user, application_id=application_id)
    if app is None:
        messages.error(request, "Choose one of your applications.")
        return ""
    client = app.oauth_clients.filter(key_type=KeyType.PRODUCTION).first()
    if client is None:
        client, _ = keys_generate(application=app, key_type=KeyType.PRODUCTION, grant_types=None, user=request.user)
    return token_issue(client=client, validity=TRY_OUT_VALIDITY)["access_token"]


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
        if app:
            messages.success(request, f"Created application {app.name}.")
            return redirect("devportal:application", application_id=app.id)
    return render(
        request,
        "devportal/applications.html",
        {"applications": selectors.application_list(owner=request.user), "form": form},
    )


def subscription_usage(app) -> dict:
    """Per subscription: events used in the plan's current window against its quota."""
    from analytics.selectors import usage

    plans = {p.name: p for p in ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION)}
    out = {}
    for sub in app.subscriptions.all():
        plan = plans.get(sub.throttling_policy)
        window = plan.window_seconds if plan else 86400
        used = usage(api_id=sub.api_id, application_id=app.id, window_seconds=window)
        limit = plan.limit if plan else 0
        out[sub.id] = {
            "used": used,
            "limit": limit,
            "window": f"{plan.unit_time} {plan.time_unit}" if plan else "1 day",
        }
    return out


@login_required
def application_detail(request, application_id):
    app = selectors.application_get(owner=request.user, application_id=application_id)
    if app is None:
        raise Http404
    secret = token = None
    new_key = None
    if request.method == "POST":
        key_type = request.POST.get("key_type", KeyType.PRODUCTION)
        if request.POST.get("do") == "generate-keys":
            result = run_service(
                request, keys_generate, application=app, key_type=key_type, grant_types=None, user=request.user
            )
            if result:
                new_key, secret = result
        elif request.POST.get("do") == "generate-token":
            client = app.oauth_clients.filter(key_type=key_type).first()
            if client is None:
                messages.error(request, f"Generate {key_type.lower()} keys first.")
            else:
                token = token_issue(client=client, validity=TRY_OUT_VALIDITY)["access_token"]
                new_key = client
    return render(
        request,
        "devportal/application.html",
        {
            "usage": subscription_usage(app),
            "app": app,
            "keys": {c.key_type: c for c in app.oauth_clients.all()},
            "secret": secret,
            "token": token,
            "new_key": new_key,
            "subscriptions": selectors.subscription_list(owner=request.user, application_id=app.id),
            "key_types": KeyType.values,
        },
    )
