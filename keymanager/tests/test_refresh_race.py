"""A refresh token is used once, even when several requests bring it at the same moment, and
a revocation racing a refresh leaves no usable new pair. On PostgreSQL, in a process of its
own (``race_probe``), with threads made to meet once each has read the token as live: the
moment the old read-then-update let every one of them through. No timing is involved: the
meeting is a barrier, the order after it is up to the database's row locks."""

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

    name = f"race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    env = {
        **os.environ,
        "TIDEGATE_DEBUG": "1",
        "TIDEGATE_DATA_DIR": str(tmp_path_factory.mktemp("race")),
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


def _probe(env, scenario: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "keymanager.tests.race_probe", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_one_refresh_token_brought_by_four_requests_at_once_gives_one_pair(race_env):
    seen = _probe(race_env, "refresh")
    assert sorted(a["status"] for a in seen["answers"]) == [200, 400, 400, 400], seen
    assert {a["error"] for a in seen["answers"] if a["status"] == 400} == {"invalid_grant"}
    assert seen["pairs_refreshing"] == [200]  # the one new pair works


def test_a_revocation_racing_a_refresh_leaves_no_usable_new_pair(race_env):
    seen = _probe(race_env, "revoke")
    assert seen["revoked"] == 200 and seen["old_access_active"] is False, seen
    # Whichever came first, nothing usable outlives the revocation.
    if seen["refreshed"] == 200:
        assert seen["new_access_active"] is False and seen["new_refresh"] == 400, seen
    else:
        assert seen["refreshed"] == 400 and seen["error"] == "invalid_grant", seen
