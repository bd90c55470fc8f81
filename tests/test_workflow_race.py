"""Two administrators deciding the same request at once, one approving and one rejecting,
end in one decision, recorded once, and the subscription follows it. On PostgreSQL, in a
process of its own (``devportal/tests/workflow_race_probe.py``), the two requests made to
meet once each has looked the request up as waiting: no timing is involved, the order
after the meeting is the database's row lock's."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from testsupport.stack import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def race_env(postgres_url, tmp_path_factory):
    """A fresh, migrated database on the run's PostgreSQL, and the environment to reach it."""
    import psycopg

    name = f"wfrace_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    env = {
        **os.environ,
        "TIDEGATE_DEBUG": "1",
        "TIDEGATE_DATA_DIR": str(tmp_path_factory.mktemp("wfrace")),
        "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + f"/{name}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrate.returncode == 0, migrate.stderr
    return env


def test_approve_and_reject_at_once_end_in_one_recorded_decision(race_env):
    run = subprocess.run(
        [sys.executable, "-m", "devportal.tests.workflow_race_probe"],
        cwd=ROOT,
        env=race_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    answers = sorted(seen["answers"], key=lambda a: a["status"])
    assert [a["status"] for a in answers] == [200, 409], seen
    winner = answers[0]["asked"]
    assert seen["workflow"] == winner and answers[0]["workflowStatus"] == winner, seen
    assert seen["subscription"] == ("UNBLOCKED" if winner == "APPROVED" else "REJECTED"), seen
    assert len(seen["decisions"]) == 1, seen
    assert seen["decisions"][0]["action"] == f"workflow.{'approve' if winner == 'APPROVED' else 'reject'}"
    assert seen["decisions"][0]["actor"] == seen["decided_by"], seen
