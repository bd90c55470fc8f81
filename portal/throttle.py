"""Limits on guessing credentials, on django-axes and its database handler (so every portal
process sees the same counts, and a Redis outage changes nothing).

Failures are counted wherever a password or a client secret is checked: ``/login/``, HTTP
Basic on the REST APIs, and ``/oauth2/token`` (the password grant's user, and the client's
own authentication, counted under ``client:<client id>``, a name no user can have).

A (name, client address) pair is refused for the window (``TIDEGATE_LOCKOUT_WINDOW``) once it
has failed ``TIDEGATE_LOCKOUT_FAILURES`` times (``TIDEGATE_TOKEN_ENDPOINT_FAILURES`` for a
client id). Once a name has failed ``TIDEGATE_LOCKOUT_USERNAME_FAILURES`` times across all
addresses, every address that has failed for it is refused for it too; an address that has
not failed gets a user's password checked only when that user's latest checked guess is
``TIDEGATE_LOCKOUT_USERNAME_INTERVAL`` seconds old (one guess per interval per user from all
fresh addresses together), so the owner still gets in, once the user's rate allows a try.
Addresses are counted as ``portal.clientip.lockout_address`` says (IPv6 by its /64). Every
refusal comes before the password or secret is checked. A refused attempt answers 429 with
``Retry-After`` (a page saying so on ``/login/``) and is written to the audit log; one refused
for a known-bad address counts as a failure (the window starts again), one refused for the
user's rate does not, so it leaves the address fresh.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.conf import settings as axes_settings
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed

from portal.audit import audit_record
from portal.clientip import lockout_label
from portal.errors import error_body
from portal.models import GuessRate

CLIENT_PREFIX = "client:"

# Where a password or secret is checked, by path; the label of the lockout metrics.
SURFACES = {"oauth2": "/oauth2/", "basic": "/api/", "login": "/login/"}


def surface(request) -> str:
    path = request.path_info
    return next((name for name, prefix in SURFACES.items() if path.startswith(prefix)), "login")


def now() -> dt.datetime:
    """The clock of the per-user guess rate (tests move it instead of waiting)."""
    return timezone.now()


def cool_off(request=None) -> dt.timedelta:
    """``AXES_COOLOFF_TIME``: read per call, so a changed setting applies at once."""
    return dt.timedelta(seconds=settings.TIDEGATE["LOCKOUT_WINDOW"])


def failure_limit(request, credentials) -> int:
    """``AXES_FAILURE_LIMIT``: failures of one (name, address) pair before it is refused."""
    name = get_client_username(request, credentials) or ""
    if name.startswith(CLIENT_PREFIX):
        # 0 switches the client limit off.
        return settings.TIDEGATE["TOKEN_ENDPOINT_FAILURES"] or 2**31
    return settings.TIDEGATE["LOCKOUT_FAILURES"]


# Longer than any client id (64) or user name (150) the portal makes.
MAX_NAME = 150


def name_unusable(name: str) -> bool:
    """A name no client or account has that the lockout's bookkeeping could not store either
    (a NUL, which PostgreSQL refuses in text, or over MAX_NAME characters): refused before
    it is counted."""
    return "\x00" in name or len(name) > MAX_NAME


def client_credentials(client_id: str) -> dict[str, str]:
    """What the client's own authentication is counted under."""
    return {"username": (CLIENT_PREFIX + client_id)[:255]}


def _name_failures(request, name: str) -> int:
    return (
        AccessAttempt.objects.filter(username=name, attempt_time__gte=get_cool_off_threshold(request)).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        or 0
    )


def _refusals(request) -> dict:
    """Why this request was refused, per name: "pair" (a known-bad address) or the seconds
    until the user's rate lets a fresh address try."""
    if not hasattr(request, "tidegate_refused"):
        request.tidegate_refused = {}
    return request.tidegate_refused


def _claim_guess(name: str, interval: int) -> int | None:
    """Take the user's next guess from a fresh address: None when taken (its time is now),
    else the seconds until it can be. One conditional UPDATE, so of two requests at the same
    instant only one gets it, in every portal process."""
    at = now()
    if GuessRate.objects.filter(name=name, checked_at__lte=at - dt.timedelta(seconds=interval)).update(checked_at=at):
        return None
    latest = GuessRate.objects.filter(name=name).values_list("checked_at", flat=True).first()
    if latest is None:
        try:
            with transaction.atomic():
                GuessRate.objects.create(name=name, checked_at=at)
            return None
        except IntegrityError:  # another request created it first: it has the guess
            latest = GuessRate.objects.filter(name=name).values_list("checked_at", flat=True).first() or at
    return max(1, math.ceil((latest - at).total_seconds() + interval))


def _record_guess(name: str) -> None:
    """A password was checked and was wrong: the user's rate counts from now."""
    at = now()
    if not GuessRate.objects.filter(name=name).update(checked_at=at):
        try:
            with transaction.atomic():
                GuessRate.objects.create(name=name, checked_at=at)
        except IntegrityError:
            GuessRate.objects.filter(name=name).update(checked_at=at)
    GuessRate.objects.filter(checked_at__lt=at - cool_off()).delete()


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, counting per (name, address) pair (``AXES_LOCKOUT_PARAMETERS``),
    with the per-name limit refusing the addresses that have failed for the name and rating
    the fresh ones (users only: client secrets are 256 random bits, and a client calls often)."""

    def get_failures(self, request, credentials=None) -> int:
        pair = super().get_failures(request, credentials)
        name = get_client_username(request, credentials)
        if not pair or name is None:
            return pair
        if _name_failures(request, name) >= settings.TIDEGATE["LOCKOUT_USERNAME_FAILURES"]:
            return max(pair, get_failure_limit(request, credentials))
        return pair

    def is_locked(self, request, credentials=None) -> bool:
        """Asked before the password or secret is checked (axes' backend, ``client_refused``)."""
        name = get_client_username(request, credentials)
        if super().is_locked(request, credentials):
            _refusals(request)[name] = "pair"
            return True
        interval = settings.TIDEGATE["LOCKOUT_USERNAME_INTERVAL"]
        if name is None or name.startswith(CLIENT_PREFIX) or interval <= 0:
            return False
        # Not refused: either below the per-name limit, or an address without failures past it.
        if _name_failures(request, name) < settings.TIDEGATE["LOCKOUT_USERNAME_FAILURES"]:
            return False
        wait = _claim_guess(name, interval)
        if wait is None:
            return False
        _refusals(request)[name] = wait
        return True

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        name = get_client_username(request, credentials) if request is not None else None
        refused = _refusals(request).get(name) if request is not None else None
        if refused is not None and refused != "pair":
            self._refused_for_rate(request, credentials, name, refused)
            return
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        if refused is None and name is not None and not name.startswith(CLIENT_PREFIX):
            _record_guess(name)  # checked, and wrong
        if getattr(request, "axes_locked_out", False):
            _audit_lockout(request, name)

    def _refused_for_rate(self, request, credentials, name: str, seconds: int) -> None:
        """Refused for the user's rate: counted in the failure log (metrics) and audited, not
        against the address, which stays fresh for the owner's next try."""
        request.axes_locked_out = True
        request.axes_credentials = credentials
        request.tidegate_retry_after = seconds
        if axes_settings.AXES_ENABLE_ACCESS_FAILURE_LOG:
            AccessFailureLog.objects.create(
                username=name,
                ip_address=request.axes_ip_address,
                user_agent=request.axes_user_agent,
                http_accept=request.axes_http_accept,
                path_info=request.axes_path_info,
                attempt_time=request.axes_attempt_time,
                locked_out=True,
            )
        _audit_lockout(request, name)


# Who a name counted under CLIENT_PREFIX is, for the audit log's target: the client id's
# owner knows. The Key Manager, above this module, registers its lookup at start-up
# (keymanager/apps.py); without one, the lockout is recorded against the attempt row.
_client_lookup: Callable[[str], Any] | None = None


def client_lookup_register(lookup: Callable[[str], Any]) -> None:
    """``lookup(client_id)``: the model instance that client id names, or None."""
    global _client_lookup
    _client_lookup = lookup


def _audit_lockout(request, name: str | None) -> None:
    name = name or ""
    detail = {"surface": surface(request), "address": lockout_label(request.axes_ip_address)}
    if name.startswith(CLIENT_PREFIX):
        client_id = name[len(CLIENT_PREFIX) :]
        detail["clientId"] = client_id
        target = _client_lookup(client_id) if _client_lookup is not None else None
    else:
        detail["username"] = name
        target = get_user_model().objects.filter(username=name).first()
    if target is None:
        target = AccessAttempt.objects.filter(username=name, ip_address=request.axes_ip_address).first()
    if target is None:  # refused for the rate from a fresh address: no attempt row of its own
        target = GuessRate.objects.filter(name=name).first()
    if target is not None:
        audit_record(actor=None, action="auth.lockout", target=target, detail=detail)


def retry_after(request, credentials) -> int:
    """Seconds until this pair is let in again (unless it fails meanwhile): its failures
    expire together, a window after the latest one, and a pair without failures is never
    refused, so this bounds the per-name lock as well. Refused for the user's rate: until
    the rate lets a fresh address try."""
    if getattr(request, "tidegate_retry_after", None):
        return request.tidegate_retry_after
    name = get_client_username(request, credentials)
    latest = AccessAttempt.objects.filter(username=name, ip_address=request.axes_ip_address).aggregate(
        t=Max("attempt_time")
    )["t"]
    window = cool_off(request).total_seconds()
    if latest is None:
        return int(window)
    return max(1, math.ceil((latest - timezone.now()).total_seconds() + window))


def client_refused(request, client_id: str) -> bool:
    """Whether this client id is locked out from this address. A refused attempt is counted
    (and audited) as a failure, as a refused password is."""
    credentials = client_credentials(client_id)
    if AxesProxyHandler.is_allowed(request, credentials):
        return False
    client_failed(request, client_id)
    return True


def client_failed(request, client_id: str) -> None:
    user_login_failed.send(sender=__name__, credentials=client_credentials(client_id), request=request)


def lockout_response(request, *args, **kwargs):
    """``AXES_LOCKOUT_CALLABLE``: the refusal in each surface's own shape. (Axes calls it
    with differing extra arguments in sync and async mode; it reads the request only.)
    Built once per request: a view may answer with it and the middleware ask again."""
    if getattr(request, "tidegate_lockout", None) is None:
        request.tidegate_lockout = _lockout_response(request)
    return request.tidegate_lockout


def _lockout_response(request):
    credentials = getattr(request, "axes_credentials", None) or {}
    seconds = retry_after(request, credentials)
    headers = {"Retry-After": str(seconds)}
    where = surface(request)
    description = f"Too many failed attempts; try again in {seconds} s"
    if where == "oauth2":
        body = {"error": "slow_down", "error_description": description}
        return JsonResponse(body, status=429, headers={**headers, "Cache-Control": "no-store"})
    if where == "basic":
        return JsonResponse(error_body(429, "Too Many Requests", description), status=429, headers=headers)
    name = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": name}),
        "locked_out": True,
        "retry_minutes": max(1, math.ceil(seconds / 60)),
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    response = render(request, "login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


class LockoutBasicAuthentication(BasicAuthentication):
    """DRF's HTTP Basic, handing Django's own request to ``authenticate`` so axes marks that
    request and its middleware answers 429 (DRF's wrapper would keep the mark to itself)."""

    def authenticate(self, request):
        # A browser sends the Basic credentials it keeps with every request to the portal,
        # one a hostile page makes included (a cross-site form POST), and Basic has no CSRF
        # check: such a request is not signed in by them. Scripts send no Sec-Fetch-Site.
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, userid, password, request=None):
        if name_unusable(userid):
            raise AuthenticationFailed("Invalid username/password.")
        user, auth = super().authenticate_credentials(userid, password, request=getattr(request, "_request", request))
        # Basic cannot carry a second factor (portal/twofactor.py): refused, not counted as a failure.
        from portal.twofactor import basic_refusal

        refusal = basic_refusal(user)
        if refusal:
            raise AuthenticationFailed(refusal)
        return user, auth
