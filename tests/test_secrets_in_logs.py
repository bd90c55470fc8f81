"""No log of any process holds a token or secret that the tests were given. Serially this
runs after the others (by name); in a parallel run the ``stack`` fixture checks its logs
again once all its tests are done."""

import pytest

from testsupport import flow
from testsupport.stack import wait_until

pytestmark = pytest.mark.e2e


def test_no_log_line_contains_a_token_or_secret(stack, chat):
    assert flow.SECRETS, "the suite handed out tokens and secrets before this test"
    gateway_log = stack.data_dir / "gateway.log"
    # The gateway writes access lines in batches, within 50 ms (gateway/accesslog.py).
    wait_until(lambda: '"event": "connection"' in gateway_log.read_text(errors="replace"), 10, what="an access line")
    logs = {path.name: path.read_text(errors="replace") for path in stack.data_dir.glob("*.log")}
    assert "gateway.log" in logs and "portal.log" in logs
    for name, text in logs.items():
        for secret in flow.SECRETS:
            assert secret not in text, f"{name} holds a credential"
    # The gateway does write its access lines: the check above looked at real output.
    assert '"event": "connection"' in logs["gateway.log"]
