"""Two administrators deciding the same request at once, one approving and one rejecting,
end in one decision, recorded once, and the subscription follows it. On PostgreSQL, in a
process of its own (``devportal/tests/workflow_race_probe.py``), the two requests made to
meet once each has looked the request up as waiting: no timing is involved, the order
after the meeting is the database's row lock's."""

import pytest

from testsupport.races import migrated_database, run_probe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def race_env(postgres_url, tmp_path_factory):
    return migrated_database(postgres_url, tmp_path_factory.mktemp("wfrace"), "wfrace")


def test_approve_and_reject_at_once_end_in_one_recorded_decision(race_env):
    seen = run_probe(race_env, "devportal.tests.workflow_race_probe")
    answers = sorted(seen["answers"], key=lambda a: a["status"])
    assert [a["status"] for a in answers] == [200, 409], seen
    winner = answers[0]["asked"]
    assert seen["workflow"] == winner and answers[0]["workflowStatus"] == winner, seen
    assert seen["subscription"] == ("UNBLOCKED" if winner == "APPROVED" else "REJECTED"), seen
    assert len(seen["decisions"]) == 1, seen
    assert seen["decisions"][0]["action"] == f"workflow.{'approve' if winner == 'APPROVED' else 'reject'}"
    assert seen["decisions"][0]["actor"] == seen["decided_by"], seen
