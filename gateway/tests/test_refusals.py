"""One refusal type, one token leeway, one route match per handshake, and the
connection-count decision, as plain functions over a ``State`` (issue 16, part G)."""

import dataclasses

import pytest

from gateway.decisions import Admission, State, admit, connection_refusal, rejudge
from gateway.refusals import OUTCOMES, Reason, Refusal
from gateway.registry import LiveConnection, Registry
from gateway.routing import RouteTable
from gateway.tests.test_decisions import NOW, bearer, claims, sign, state
from gateway_contract.snapshot import ApplicationConfig, PolicyConfig

PATH = "/chat/1.0.0/notifications"


def _with_leeway(st: State, leeway: float) -> State:
    return State.build(st.snapshot, leeway=leeway)


@pytest.mark.parametrize(("leeway", "admitted"), [(0, False), (30, True)])
def test_one_leeway_decides_expiry_at_the_handshake_on_rejudging_and_in_the_sweep(leeway, admitted):
    """A token that expired 10 s ago: with TIDEGATE_TOKEN_LEEWAY=30 it is admitted, kept open
    when connections are judged again and left alone by the expiry sweep; with 0 it is refused
    (401 900903), closed (4001) and swept, all three by the same rule."""
    st = _with_leeway(state(), leeway)
    token = sign(claims(iat=NOW - 100, exp=NOW - 10))
    decision = admit(st, PATH, "", bearer(token), now=NOW)
    assert isinstance(decision, Admission) is admitted
    if not admitted:
        assert (decision.status, decision.code) == (401, "900903")
    verified = st.verifier.verify(token, NOW - 20)  # checked while it was still valid
    close = rejudge(st, PATH, "", verified, "api-1", "app1", now=NOW)
    assert close is None if admitted else close == (4001, "Access token expired")

    async def closer(code, reason):
        return None

    registry = Registry()
    registry.add(LiveConnection(PATH, "", verified, "api-1", "app1", closer))
    swept = registry.expired(NOW, leeway=leeway)
    assert [close.code for _, close in swept] == ([] if admitted else [4001])


def test_a_token_past_its_leeway_is_refused_and_closed_whatever_the_leeway():
    st = _with_leeway(state(), 30)
    token = sign(claims(exp=NOW - 31))
    decision = admit(st, PATH, "", bearer(token), now=NOW)
    assert (decision.status, decision.code) == (401, "900903")


def test_every_reason_has_one_row_of_status_wso2_code_and_close_code():
    """The brief's handshake and live-enforcement tables, read from the one table."""
    rows = {reason: (o.status, o.code, o.close_code) for reason, o in OUTCOMES.items()}
    assert set(rows) == set(Reason)
    assert rows[Reason.TOKEN_EXPIRED] == (401, "900903", 4001)
    assert rows[Reason.APPLICATION_DELETED] == (401, "900901", 4002)
    assert rows[Reason.API_UNDEPLOYED] == (404, "404", 1001)
    assert rows[Reason.API_BLOCKED] == (503, "700700", 1001)
    assert rows[Reason.FORBIDDEN] == (403, "900908", 4002)
    assert rows[Reason.SCOPE_MISSING] == (403, "900910", 1008)
    assert rows[Reason.CONNECTION_LIMIT] == (429, "900803", 1008)
    refusal = Refusal(Reason.INVALID_CREDENTIALS, "x" * 200)
    assert refusal.headers and refusal.headers[0][0] == "www-authenticate"  # every 401 challenges
    assert refusal.close().code == 4001 and len(refusal.close().reason.encode()) <= 123


class CountingRoutes(RouteTable):
    """The real route table, counting how often a handshake asks it."""

    def __init__(self, snapshot):
        super().__init__(snapshot)
        self.matches = 0

    def match(self, path):
        self.matches += 1
        return super().match(path)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda: bearer(sign(claims())), id="admitted"),
        pytest.param(lambda: bearer(sign(claims(exp=NOW - 60))), id="refused-after-the-signature-check"),
    ],
)
def test_a_handshake_matches_its_route_once_and_a_refusal_carries_the_match(headers):
    st = state()
    routes = CountingRoutes(st.snapshot)
    st = dataclasses.replace(st, routes=routes)
    decision = admit(st, PATH, "", headers(), now=NOW)
    assert routes.matches == 1
    assert decision.match is not None and decision.match.api.id == "api-1"  # analytics needs no second match


def test_the_applications_connection_limit_is_decided_in_decisions():
    st = state()
    limited = PolicyConfig(level="application", name="Two", max_connections=2)
    st = State.build(dataclasses.replace(st.snapshot, policies={"application:Two": limited}))
    app = ApplicationConfig(id="app1", name="App", owner="dev", policy="Two", key_type="PRODUCTION")
    assert connection_refusal(st, app, 1) is None
    refusal = connection_refusal(st, app, 2)
    assert refusal is not None and (refusal.status, refusal.code) == (429, "900803")
    assert "limit of 2 concurrent connections" in refusal.description
    assert connection_refusal(st, None, 99) is None  # open topics: no application, no limit
