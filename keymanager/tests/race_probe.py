"""Run by ``test_refresh_race.py`` as a process of its own on PostgreSQL (``DATABASE_URL``,
migrated), so that requests in threads have real connections and row locks: sends requests
to the real token and revocation endpoints (Django's test client, the whole middleware
stack), with every request made to wait, once it has read the token, until the others have
read it too, the moment a read-then-update lets each of them through. Prints what was
answered, as JSON, on its last line.

    python -m keymanager.tests.race_probe refresh|revoke
"""

import base64
import json
import sys
import threading
import uuid

import django

from testsupport.races import in_threads

PASSWORD = "race-Password-1"


def _meet_after(cls, name, barrier):
    """``cls.name`` runs, then waits at ``barrier``; returns how to put it back."""
    real = getattr(cls, name)

    def meeting(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        barrier.wait()
        return result

    setattr(cls, name, meeting)
    return lambda: setattr(cls, name, real)


def main(scenario: str) -> dict:
    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from devportal import services as dp
    from keymanager import server
    from keymanager.services import keys_generate
    from tests import factories

    setup_test_environment()
    name = f"dev{uuid.uuid4().hex[:8]}"
    dev = factories.user(name, password=PASSWORD)
    app = dp.application_create(owner=dev, name="Race")
    client, secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
    keys = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()

    def post(path, **form):
        response = Client().post(path, form, HTTP_AUTHORIZATION=keys)
        return {"status": response.status_code, **response.json()}

    def active(access):
        return post("/oauth2/introspect", token=access)["active"]

    def refresh(token):
        return post("/oauth2/token", grant_type="refresh_token", refresh_token=token)

    first = post("/oauth2/token", grant_type="password", username=name, password=PASSWORD)
    if scenario == "refresh":
        undo = _meet_after(server.RefreshGrant, "authenticate_refresh_token", threading.Barrier(4, timeout=60))
        answers = in_threads(*[lambda: refresh(first["refresh_token"])] * 4)
        undo()
        return {
            "answers": [{k: a.get(k) for k in ("status", "error")} for a in answers],
            "pairs_refreshing": [refresh(a["refresh_token"])["status"] for a in answers if a["status"] == 200],
        }
    # The refresh has read the token as live, and the revocation has found it: then both go on.
    both = threading.Barrier(2, timeout=60)
    undo = [
        _meet_after(server.RefreshGrant, "authenticate_refresh_token", both),
        _meet_after(server.TokenRevocation, "query_token", both),
    ]
    refreshed, revoked = in_threads(
        lambda: refresh(first["refresh_token"]),
        lambda: post("/oauth2/revoke", token=first["refresh_token"], token_type_hint="refresh_token"),
    )
    for u in undo:
        u()
    out = {"refreshed": refreshed["status"], "error": refreshed.get("error"), "revoked": revoked["status"]}
    out["old_access_active"] = active(first["access_token"])
    if refreshed["status"] == 200:
        out["new_access_active"] = active(refreshed["access_token"])
        out["new_refresh"] = refresh(refreshed["refresh_token"])["status"]
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
