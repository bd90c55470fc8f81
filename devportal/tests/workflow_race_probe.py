"""Run by ``tests/test_workflow_race.py`` as a process of its own on PostgreSQL
(``DATABASE_URL``, migrated), so that requests in threads have real connections and row
locks: two administrators decide the same waiting subscription at once, one approving and
one rejecting, through the real Admin v4 endpoint (Django's test client, the whole
middleware stack). Each request is made to wait, once it has looked the request up (still
waiting), until the other has too: the moment a read-then-write would let both decide.
Prints what was answered and what was recorded, as JSON, on its last line.

    python -m devportal.tests.workflow_race_probe
"""

import base64
import json
import threading
import uuid

import django

from testsupport.races import in_threads

PASSWORD = "race-Password-1"


def main() -> dict:
    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from devportal import selectors
    from devportal import services as dp
    from devportal.models import Subscription, Workflow
    from portal.models import AuditEvent, SiteSettings
    from tests import factories

    setup_test_environment()
    tag = uuid.uuid4().hex[:8]
    admins = [factories.user(f"admin{i}{tag}", roles=["admin"], password=PASSWORD) for i in (1, 2)]
    owner = factories.user(f"owner{tag}", roles=["creator", "publisher"], password=PASSWORD)
    dev = factories.user(f"dev{tag}", password=PASSWORD)
    SiteSettings.objects.update_or_create(pk=1, defaults={"subscription_approval": True})
    api = factories.published_api(owner, context=f"/race{tag}")
    app = dp.application_create(owner=dev, name="Race")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    wf = Workflow.objects.get(subject_id=str(sub.id))

    real_get = selectors.workflow_get
    both = threading.Barrier(2, timeout=60)

    def meeting(**kwargs):
        found = real_get(**kwargs)
        both.wait()
        return found

    selectors.workflow_get = meeting

    def decide(admin, status):
        basic = "Basic " + base64.b64encode(f"{admin.username}:{PASSWORD}".encode()).decode()
        response = Client().post(
            f"/api/am/admin/v4/workflows/update-workflow-status?workflowReferenceId={wf.reference_id}",
            json.dumps({"status": status, "description": f"{status} by {admin.username}"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic,
        )
        return {"status": response.status_code, "asked": status, **response.json()}

    try:
        answers = in_threads(lambda: decide(admins[0], "APPROVED"), lambda: decide(admins[1], "REJECTED"))
    finally:
        selectors.workflow_get = real_get
    wf.refresh_from_db()
    decisions = AuditEvent.objects.filter(target_type="Workflow", target_id=str(wf.pk)).exclude(
        action="workflow.create"
    )
    return {
        "answers": [{k: a.get(k) for k in ("status", "asked", "workflowStatus")} for a in answers],
        "workflow": wf.status,
        "decided_by": wf.decided_by.username if wf.decided_by else None,
        "subscription": Subscription.objects.get(pk=sub.pk).status,
        "decisions": [{"action": e.action, "actor": e.actor.username} for e in decisions],
    }


if __name__ == "__main__":
    print(json.dumps(main()))
