from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from devportal.selectors import signup_state
from devportal.services import signup_record
from portal.roles import CREATOR, PUBLISHER, roles_of
from portal.site_settings import anonymous_browsing, signup_open


def home(request):
    if not request.user.is_authenticated:
        return redirect("devportal:index" if anonymous_browsing() else "login")
    if roles_of(request.user) & {CREATOR, PUBLISHER}:
        return redirect("publisher:index")
    return redirect("devportal:index")


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "UP"})
    except Exception:  # noqa: BLE001 - any database failure means not healthy
        return JsonResponse({"status": "DOWN", "reason": "database unreachable"}, status=503)


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; for your own records")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


def signup(request):
    """Developer sign-up (``TIDEGATE_SIGNUP_ENABLED`` and the Admin Portal's Settings): an
    account with no Publisher role, its DefaultApplication, signed in; or, with sign-up
    approval on, held until an administrator approves it."""
    if not signup_open():
        raise Http404("Sign-up is switched off; ask an administrator for an account")
    back = _local_next(request)
    if request.user.is_authenticated:
        return redirect(back or "devportal:index")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            held = signup_record(user=user)
        if held is not None:
            return render(request, "signup_pending.html", {"username": user.get_username()})
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}. Your DefaultApplication is ready.")
        return redirect(back or "devportal:index")
    return render(request, "signup.html", {"form": form, "next": back})


def _local_next(request) -> str:
    """The page to come back to after signing up (``?next=``, or the form's ``next``): a
    path on this site only; anything else (another host, a scheme, ``//host``) is ignored."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return back


HELD = {
    "CREATED": "Your account is waiting for an administrator's approval. You can sign in once it is approved.",
    "REJECTED": "An administrator did not approve this account's sign-up, so it cannot sign in.",
}


class SignInForm(AuthenticationForm):
    """The sign-in form; an account held by sign-up approval is told so, but only when its
    password is right, so the page tells no one else more than a failed sign-in does."""

    held = ""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            self.held = self._held_message()
            if self.held:
                raise ValidationError(self.held, code="held") from None
            raise

    def _held_message(self) -> str:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return ""
        user = get_user_model().objects.filter(username=username, is_active=False).first()
        if user is None:
            return ""
        state = signup_state(user=user)
        if state is None or not user.check_password(password):
            return ""
        return HELD[state]
