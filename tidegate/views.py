from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render

from devportal.services import application_ensure_default
from portal.audit import audit_record
from portal.roles import CREATOR, PUBLISHER, roles_of


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
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
    """Developer sign-up (``TIDEGATE_SIGNUP_ENABLED``): an account with no Publisher role,
    its DefaultApplication, signed in."""
    if not settings.TIDEGATE["SIGNUP_ENABLED"]:
        raise Http404("Sign-up is switched off; ask an administrator for an account")
    if request.user.is_authenticated:
        return redirect("devportal:index")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            application_ensure_default(user=user)
            audit_record(actor=user, action="user.signup", target=user, detail={"username": user.get_username()})
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}. Your DefaultApplication is ready.")
        return redirect("devportal:index")
    return render(request, "signup.html", {"form": form})
