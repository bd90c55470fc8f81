"""Key managers (trusted external token issuers): list, add, delete (Admin REST
``/key-managers``'s services, ``keymanager.apis``), and "Test JWKS": the portal fetches the
issuer's JWKS URL through the SSRF guard of import by URL (``publisher.fetch.fetch_url``:
public addresses only unless ``TIDEGATE_IMPORT_URL_ALLOW_PRIVATE``) and shows the keys it
holds, or why it could not. Testing changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from adminportal.forms import KeyManagerForm
from adminportal.views import done
from keymanager.apis import external_issuer_create, external_issuer_delete
from keymanager.jwks_check import MAX_JWKS_BYTES, jwks_keys
from keymanager.models import ExternalIssuer
from portal.errors import ApplicationError
from portal.pages import role_required, run_service
from portal.roles import ADMIN
from publisher.fetch import fetch_url


def _render(request, form: KeyManagerForm, **extra):
    return render(
        request,
        "adminportal/key_managers.html",
        {"issuers": ExternalIssuer.objects.all(), "form": form, **extra},
    )


@role_required(ADMIN)
@require_safe
def key_managers(request):
    return _render(request, KeyManagerForm())


@role_required(ADMIN)
@require_POST
def key_manager_create_view(request):
    form = KeyManagerForm(request.POST)
    data = form.key_manager_data()
    issuer = data and run_service(request, external_issuer_create, form=form, data=data, user=request.user)
    if issuer:
        messages.success(request, f"Added the key manager {issuer.name}; gateways accept its tokens within a second.")
        return redirect("adminportal:key-managers")
    return _render(request, form)


@role_required(ADMIN)
@require_POST
def key_manager_delete_view(request, issuer_id):
    issuer = get_object_or_404(ExternalIssuer, pk=issuer_id)
    name = issuer.name
    if run_service(request, done(external_issuer_delete), issuer=issuer, user=request.user):
        messages.success(request, f"Deleted the key manager {name}; gateways refuse its tokens from now on.")
    return redirect("adminportal:key-managers")


@role_required(ADMIN)
@require_POST
def key_manager_test_jwks(request, issuer_id):
    """Fetch the issuer's JWKS now and show what it holds (on the list page, beside it)."""
    issuer = get_object_or_404(ExternalIssuer, pk=issuer_id)
    try:
        body = fetch_url(issuer.jwks_url, purpose="Test JWKS", max_bytes=MAX_JWKS_BYTES, accept="application/json")
        result = {"issuer": issuer, "keys": jwks_keys(body), "error": ""}
    except ApplicationError as exc:
        result = {"issuer": issuer, "keys": [], "error": exc.description}
    return _render(request, KeyManagerForm(), jwks=result)
