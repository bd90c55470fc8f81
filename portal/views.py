from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect

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
