"""A refresh token is used once, even when several requests bring it at the same moment, and
a revocation racing a refresh leaves no usable new pair. On PostgreSQL, in a process of its
own (``race_probe``), with threads made to meet once each has read the token as live: the
moment the old read-then-update let every one of them through. No timing is involved: the
meeting is a barrier, the order after it is up to the database's row locks."""

import pytest

from testsupport.races import migrated_database, run_probe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def race_env(postgres_url, tmp_path_factory):
    return migrated_database(postgres_url, tmp_path_factory.mktemp("race"), "race")


def _probe(env, scenario: str) -> dict:
    return run_probe(env, "keymanager.tests.race_probe", scenario)


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
