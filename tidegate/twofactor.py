"""The two-factor sign-in pages (portal/twofactor.py holds the rules): the code asked after
the password at sign-in, and ``/account/two-factor/`` where staff enrol, see how many
recovery codes are left, regenerate them and remove the device."""

from __future__ import annotations

import time

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal import twofactor
from portal.pages import role_required, run_service
from portal.roles import ADMIN, CREATOR, PUBLISHER
from portal.throttle import lockout_response

# The session keys: a sign-in waiting for its code, and a secret waiting for its first code.
PENDING = "two_factor_pending"
SECRET = "two_factor_secret"
# A sign-in whose password was right waits this long (seconds) for its code.
PENDING_SECONDS = 300

STAFF = (CREATOR, PUBLISHER, ADMIN)


class SignInView(auth_views.LoginView):
    """Django's sign-in; for an account with two-factor sign-in, the right password leads to
    the code page instead of signing in."""

    def form_valid(self, form):
        user = form.get_user()
        if not twofactor.has_two_factor(user):
            return super().form_valid(form)
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("login-code")


def _pending_user(request):
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return user, pending


@require_http_methods(["GET", "POST"])
def sign_in_code(request):
    """The second step of sign-in: the authenticator's code or a recovery code. A wrong code
    is a failed sign-in for django-axes, as a wrong password is."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING, None)
        messages.info(request, "Sign in with your password first.")
        return redirect("login")
    error = ""
    if request.method == "POST":
        credentials = {"username": user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            return lockout_response(request)
        device = twofactor.code_verify(user=user, code=request.POST.get("code", ""))
        if device is not None:
            del request.session[PENDING]
            auth_login(request, user, backend=pending["backend"])
            return redirect(pending["next"])
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            return lockout_response(request)
        error = "That code is not right. Enter the code your authenticator app shows now, or a recovery code."
    return render(request, "login_code.html", {"error": error}, status=400 if error else 200)


def _qr_svg(url: str) -> str:
    return mark_safe(  # noqa: S308 - segno's own SVG of our otpauth:// URL, no user markup
        segno.make(url, error="m").svg_inline(scale=5, title="QR code for your authenticator app", border=2)
    )


def _page(request, *, status: int = 200):
    user = request.user
    context = {"enrolled": twofactor.has_two_factor(user), "required": twofactor.required_for(user)}
    if context["enrolled"]:
        context["codes_left"] = twofactor.recovery_codes_left(user)
    else:
        key = request.session.get(SECRET) or twofactor.new_secret()
        request.session[SECRET] = key
        context["qr"] = _qr_svg(twofactor.config_url(user=user, key=key))
        context["secret"] = twofactor.secret_text(key)
    return render(request, "two_factor.html", context, status=status)


def _codes(request, codes: list[str], message: str):
    messages.success(request, message)
    response = render(request, "two_factor_codes.html", {"codes": codes})
    response["Cache-Control"] = "no-store"
    return response


@role_required(*STAFF)
@require_safe
def two_factor_page(request):
    return _page(request)


@role_required(*STAFF)
@require_POST
def two_factor_enrol(request):
    codes = run_service(
        request,
        twofactor.two_factor_enrol,
        user=request.user,
        key=request.session.get(SECRET, ""),
        code=request.POST.get("code", ""),
    )
    if codes is None:
        return _page(request, status=400)
    request.session.pop(SECRET, None)
    return _codes(request, codes, "Two-factor sign-in is on. Keep these recovery codes somewhere safe.")


@role_required(*STAFF)
@require_POST
def two_factor_recovery_regenerate(request):
    codes = run_service(
        request, twofactor.two_factor_recovery_regenerate, user=request.user, code=request.POST.get("code", "")
    )
    if codes is None:
        return _page(request, status=400)
    return _codes(request, codes, "New recovery codes: the old ones no longer work.")


@role_required(*STAFF)
@require_POST
def two_factor_remove(request):
    done = run_service(request, _remove, user=request.user, code=request.POST.get("code", ""))
    if done is None:
        return _page(request, status=400)
    messages.success(request, "Two-factor sign-in is off for your account.")
    return redirect("two-factor")


def _remove(*, user, code: str) -> bool:
    twofactor.two_factor_remove(user=user, code=code)
    return True
