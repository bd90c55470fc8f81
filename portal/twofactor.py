"""Two-factor sign-in (TOTP) for staff: accounts with the creator, publisher or admin role.

On django-otp: a confirmed ``TOTPDevice`` (the authenticator app) and a ``StaticDevice``
holding the recovery codes, each usable once (stored as the library stores them). An account
enrols from ``/account/two-factor/`` (tidegate/twofactor.py): the secret stays in its
session until the first code confirms it, so an abandoned enrolment leaves nothing behind.

Sign-in asks for a code after the password for an account with a device; a wrong code is a
failed sign-in for django-axes (portal/throttle.py), counted and locked out like a wrong
password. With the Admin Portal's "require two-factor sign-in for staff" on, a staff account
without a device can only enrol (``TwoFactorRequiredMiddleware``), and HTTP Basic, which
cannot carry a code, is refused for staff (and always for an account with a device).
"""

from __future__ import annotations

import time
from base64 import b32encode
from binascii import unhexlify

from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from portal.audit import audit_record
from portal.errors import Conflict, ValidationFailed, error_body
from portal.roles import ADMIN, CREATOR, PUBLISHER, roles_of
from portal.site_settings import site_settings

STAFF_ROLES = frozenset({CREATOR, PUBLISHER, ADMIN})
RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"

BASIC_REFUSED = (
    "HTTP Basic is refused for this account: it signs in with two-factor authentication "
    "(on for it, or required for staff), which Basic cannot carry. Use OAuth2 tokens or API keys for scripts"
)


# ---------------------------------------------------------------- selectors


def is_staff(user) -> bool:
    return bool(roles_of(user) & STAFF_ROLES)


def totp_device(user) -> TOTPDevice | None:
    """The account's confirmed authenticator, if it has one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def required_for(user) -> bool:
    """Whether this account must have two-factor sign-in (staff, while the setting is on)."""
    return site_settings().staff_two_factor_required and is_staff(user)


def basic_refusal(user) -> str | None:
    """Why HTTP Basic is refused for this account, or None when it is accepted."""
    if has_two_factor(user) or required_for(user):
        return BASIC_REFUSED
    return None


def config_url(*, user, key: str) -> str:
    """The ``otpauth://`` URL an authenticator app reads from the QR code."""
    return TOTPDevice(user=user, key=key, name=DEVICE_NAME).config_url


def secret_text(key: str) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    text = b32encode(unhexlify(key)).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def new_secret() -> str:
    """A fresh TOTP secret (hex, as django-otp keeps it)."""
    return default_key()


# ---------------------------------------------------------------- checking codes


def _code(code: str) -> str:
    return "".join((code or "").split()).lower()


def _totp_step(key: str, code: str, after: int = -1) -> int | None:
    """The time step ``code`` matches for ``key`` (one step either side), or None."""
    code = _code(code)
    if not code.isdigit() or len(code) != 6:
        return None
    totp = TOTPDevice(key=key)
    checker = TOTP(totp.bin_key, totp.step, totp.t0, totp.digits, 0)
    checker.time = time.time()
    return checker.t() if checker.verify(int(code), totp.tolerance, after + 1) else None


def code_verify(*, user, code: str, recovery: bool = True):
    """The device that accepts ``code`` (the authenticator's current code, or, with
    ``recovery``, an unused recovery code, used up), or None. A recovery code used is audited."""
    code = _code(code)
    if not code:
        return None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return None
        if code.isdigit() and len(code) == device.digits and device.verify_token(code):
            return device
        if not recovery:
            return None
        static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if static is not None and static.verify_token(code):
            audit_record(
                actor=user,
                action="user.two_factor.recovery_code_used",
                target=user,
                detail={"left": static.token_set.count()},
            )
            return static
    return None


# ---------------------------------------------------------------- services


def _new_recovery_codes(device: StaticDevice) -> list[str]:
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def two_factor_enrol(*, user, key: str, code: str) -> list[str]:
    """Turn two-factor sign-in on with the secret the user's app was given, once ``code``
    shows the app has it; returns the recovery codes (shown once)."""
    if not is_staff(user):
        raise ValidationFailed("Two-factor sign-in is for creators, publishers and admins")
    if TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).exists():
        raise Conflict("Two-factor sign-in is already on for this account; remove it first to start again")
    if not key:
        raise ValidationFailed("The setup expired; scan the new QR code and enter its code")
    step = _totp_step(key, code)
    if step is None:
        raise ValidationFailed(
            "That code does not match the secret: enter the 6-digit code your authenticator app shows now",
            details=[{"field": "code", "message": "wrong code"}],
        )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, key=key, name=DEVICE_NAME, confirmed=True, last_t=step)
    static = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = _new_recovery_codes(static)
    audit_record(actor=user, action="user.two_factor.enrol", target=user, detail={"recoveryCodes": len(codes)})
    return codes


def _require_current_code(user, code: str, *, recovery: bool) -> None:
    if not has_two_factor(user):
        raise Conflict("Two-factor sign-in is not on for this account")
    if code_verify(user=user, code=code, recovery=recovery) is None:
        raise ValidationFailed(
            "That code is not right: enter the code your authenticator app shows now"
            + (" or an unused recovery code" if recovery else ""),
            details=[{"field": "code", "message": "wrong code"}],
        )


@transaction.atomic
def two_factor_recovery_regenerate(*, user, code: str) -> list[str]:
    """New recovery codes for the old ones, with the authenticator's current code."""
    _require_current_code(user, code, recovery=False)
    static, _ = StaticDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": RECOVERY_NAME})
    codes = _new_recovery_codes(static)
    audit_record(
        actor=user, action="user.two_factor.recovery_regenerate", target=user, detail={"recoveryCodes": len(codes)}
    )
    return codes


@transaction.atomic
def two_factor_remove(*, user, code: str) -> None:
    """Turn two-factor sign-in off, with a current code (or a recovery code)."""
    _require_current_code(user, code, recovery=True)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_record(actor=user, action="user.two_factor.remove", target=user, detail={})


# ---------------------------------------------------------------- enforcement


# What a staff account that must enrol may still reach.
ALLOWED_PREFIXES = ("/account/two-factor/", "/logout/", "/static/", "/healthz")


class TwoFactorRequiredMiddleware:
    """While two-factor sign-in is required for staff, a signed-in staff account without it
    is sent to enrol (pages) or refused (REST with its session) until it has."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path_info.startswith(ALLOWED_PREFIXES)
            and required_for(user)
            and not has_two_factor(user)
        ):
            description = "Set up two-factor sign-in first, at /account/two-factor/: it is required for staff accounts"
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body(403, "Forbidden", description), status=403)
            return redirect(reverse("two-factor"))
        return self.get_response(request)
