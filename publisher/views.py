"""Publisher pages. Thin: a form, one service call, a redirect or a re-render."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from gateway_sync.services import config_version, gateways_await
from keymanager.server import internal_key_issue
from portal.errors import Conflict, ValidationFailed
from portal.pages import role_required, run_service
from portal.roles import CREATOR, PUBLISHER, has_role
from publisher import asyncapi, lifecycle, selectors, services
from publisher.archives import MAX_ARCHIVE_BYTES, import_archive
from publisher.design_views import page_context, warn_about
from publisher.dto import gateway_urls
from publisher.fetch import fetch_definition
from publisher.forms import ApiCreateForm, ApiImportForm, RevisionForm
from publisher.selectors import api_get_or_404
from publisher.tryout import wscat_commands


@role_required(CREATOR, PUBLISHER)
def index(request):
    query = request.GET.get("q", "")
    return render(request, "publisher/index.html", {"apis": selectors.api_list(query=query), "query": query})


@role_required(CREATOR, PUBLISHER)
def create(request):
    form = ApiCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        api = run_service(
            request,
            services.api_create,
            form=form,
            provider=request.user,
            name=d["name"],
            context=d["context"],
            version=d["version"],
            production_endpoint=d["endpoint"],
        )
        if api:
            messages.success(request, f"Created {api.name} {api.version} with the default topic /*.")
            return redirect("publisher:detail", api_id=api.id)
    return render(request, "publisher/create.html", {"form": form})


@role_required(CREATOR, PUBLISHER)
def import_asyncapi(request):
    form = ApiImportForm(request.POST or None, request.FILES or None)
    errors = []
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        props = {"name": d["name"], "context": d["context"], "version": d["version"]}
        if d["endpoint"]:
            props["endpointConfig"] = {"production_endpoints": {"url": d["endpoint"]}}
        try:
            if d["file"]:
                document = d["file"].read()
            elif d["url"]:
                document = fetch_definition(d["url"])
            else:
                document = d["definition"]
            api = services.api_import_asyncapi(provider=request.user, document=document, properties=props)
        except ValidationFailed as exc:
            errors = exc.details
            form.add_error(None, exc.description)
        except Conflict as exc:
            form.add_error(None, exc.description)
        else:
            messages.success(
                request, f"Imported {api.name} {api.version}: {len(asyncapi.topics(api.definition))} topics."
            )
            warn_about(request, api.definition)
            return redirect("publisher:detail", api_id=api.id)
    return render(request, "publisher/import.html", {"form": form, "definition_errors": errors})


def _detail_page(request, api, **shown):
    """The API's overview page, with what an action shows this once (an Internal-Key)."""
    can_publish = has_role(request.user, PUBLISHER)
    return render(
        request,
        "publisher/detail.html",
        {
            **page_context(request, api, "detail"),
            **shown,
            "operations": asyncapi.operations(api.definition),
            "revisions": selectors.revision_list(api=api),
            "deployments": selectors.deployment_list_with_gateways(api=api),
            "environments": selectors.environment_list(),
            "actions": lifecycle.allowed_actions(api.lifecycle_status) if can_publish else [],
            "history": selectors.lifecycle_history(api=api),
            "can_publish": can_publish,
            "revision_form": RevisionForm(),
            "max_revisions": services.MAX_REVISIONS,
            "checklist": lifecycle.CHECKLIST,
        },
    )


@role_required(CREATOR, PUBLISHER)
@require_safe
def detail(request, api_id):
    return _detail_page(request, api_get_or_404(api_id))


def _back(api):
    return redirect("publisher:detail", api_id=api.id)


def _await_gateways(request, environment: str, what: str) -> None:
    """The page's deploy and undeploy wait (unless unticked) for the environment's gateways."""
    if request.POST.get("wait") != "on":
        return
    pending = gateways_await(
        environments=[environment], version=config_version(), timeout=settings.TIDEGATE["DEPLOY_WAIT_TIMEOUT"]
    )
    if pending:
        names = ", ".join(g.gateway_id for g in pending)
        messages.warning(request, f"{what}, but not yet applied by these gateways of {environment}: {names}.")
    else:
        messages.info(request, f"{what}: every gateway of {environment} that reported lately has applied it.")


def _publisher_only(request) -> bool:
    """Deploying and the lifecycle are a publisher's; a creator is told so (and nothing changes)."""
    if has_role(request.user, PUBLISHER):
        return True
    messages.error(request, "Only publishers may deploy APIs or change their lifecycle.")
    return False


# One view per form of the overview page: each calls one service and redirects back to the
# page, or shows the page with what can be seen only once (an Internal-Key).


@role_required(CREATOR, PUBLISHER)
@require_POST
def internal_key(request, api_id):
    """Try it: an Internal-Key (WSO2's) for this API, shown once with a command per topic."""
    api = api_get_or_404(api_id)
    key = internal_key_issue(api=api, user=request.user, validity=3600)
    commands = wscat_commands(api, gateway_urls(api), "", internal_key=key)
    return _detail_page(request, api, internal_key=key, internal_commands=commands)


@role_required(CREATOR, PUBLISHER)
@require_POST
def revision_create(request, api_id):
    api = api_get_or_404(api_id)
    form = RevisionForm(request.POST)
    if form.is_valid():
        rev = run_service(
            request,
            services.api_revision_create,
            api=api,
            created_by=request.user,
            description=form.cleaned_data["description"],
        )
        if rev:
            messages.success(request, f"Created {rev.display_name}.")
    return _back(api)


def _revision_of(request, api, missing: str = "That revision no longer exists."):
    """The revision the form names; None (with ``missing`` as a message) when there is none."""
    rev = selectors.revision_get(api=api, revision_id=request.POST.get("revision"))
    if rev is None and missing:
        messages.error(request, missing)
    return rev


@role_required(CREATOR, PUBLISHER)
@require_POST
def revision_restore(request, api_id):
    api = api_get_or_404(api_id)
    rev = _revision_of(request, api)
    if rev and run_service(request, services.api_revision_restore, api=api, revision=rev, user=request.user):
        messages.success(request, f"The working copy is now what {rev.display_name} was.")
    return _back(api)


@role_required(CREATOR, PUBLISHER)
@require_POST
def revision_delete(request, api_id):
    api = api_get_or_404(api_id)
    rev = _revision_of(request, api)
    if rev and run_service(request, services.api_revision_delete, api=api, revision=rev, user=request.user):
        messages.success(request, f"Deleted {rev.display_name}.")
    return _back(api)


@role_required(CREATOR, PUBLISHER)
@require_POST
def revision_deploy(request, api_id):
    api = api_get_or_404(api_id)
    if not _publisher_only(request):
        return _back(api)
    rev = _revision_of(request, api, "Choose a revision to deploy.")
    env = request.POST.get("environment", "Default")
    if rev and run_service(
        request,
        services.api_revision_deploy,
        api=api,
        revision=rev,
        environments=[{"name": env}],
        deployed_by=request.user,
    ):
        messages.success(request, f"{rev.display_name} deployed to {env}.")
        _await_gateways(request, env, f"{rev.display_name} deployed")
    return _back(api)


@role_required(CREATOR, PUBLISHER)
@require_POST
def revision_undeploy(request, api_id):
    api = api_get_or_404(api_id)
    if not _publisher_only(request):
        return _back(api)
    rev = _revision_of(request, api)
    env = request.POST.get("environment", "")
    if rev is None:
        return _back(api)
    if not env:
        messages.error(request, "Choose the environment to undeploy from.")
        return _back(api)
    count = run_service(
        request, services.api_revision_undeploy, api=api, revision=rev, environments=[env], user=request.user
    )
    if count:
        messages.success(request, f"{rev.display_name} undeployed from {env}: gateways there close its connections.")
        _await_gateways(request, env, f"{rev.display_name} undeployed")
    elif count == 0:
        messages.info(request, f"{rev.display_name} was not deployed to {env}: nothing to undeploy.")
    return _back(api)


@role_required(CREATOR, PUBLISHER)
@require_POST
def lifecycle_change(request, api_id):
    api = api_get_or_404(api_id)
    if not _publisher_only(request):
        return _back(api)
    event = run_service(
        request,
        services.api_change_lifecycle,
        api=api,
        action=request.POST.get("action", ""),
        user=request.user,
        checklist={item: True for item in request.POST.getlist("checklist")},
    )
    if event:
        messages.success(request, f"Lifecycle: {event.previous_state} → {event.post_state}.")
    return _back(api)


@role_required(CREATOR, PUBLISHER)
def import_project(request):
    """Import an API project archive (apictl layout) from the API list page."""
    upload = request.FILES.get("file") if request.method == "POST" else None
    if upload is None:
        messages.error(request, "Choose an API project archive (.zip) to import.")
        return redirect("publisher:index")
    if upload.size > MAX_ARCHIVE_BYTES:
        messages.error(request, f"The archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB.")
        return redirect("publisher:index")
    api = run_service(request, import_archive, provider=request.user, content=upload.read())
    if api is None:
        return redirect("publisher:index")
    messages.success(request, f"Imported {api.name} {api.version} from the project archive.")
    return redirect("publisher:detail", api_id=api.id)
