"""Deny policies in the handshake decision and in the re-judgement of open connections, as
plain functions: every condition type, IPv4 and IPv6, inverted conditions, and the client's
address taken from the peer only. The same through a real gateway: tests/test_deny_policies.py."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

import pytest

from gateway.decisions import Admission, Refusal, State, admit, rejudge
from gateway.deny import client_address
from gateway.tests.test_decisions import NOW, TESTKEY, TESTKEY_ISS, bearer, claims, sign, state
from gateway_contract.snapshot import DenyConditionConfig, Snapshot, snapshot_from_dict, snapshot_to_dict

PATH = "/chat/1.0.0/notifications"
V4 = ip_address("198.51.100.7")
V6 = ip_address("2001:db8::7")


def denying(*conditions: DenyConditionConfig) -> State:
    base = state()
    return State.build(replace(base.snapshot, deny=conditions))


def cond(kind: str, value: str = "", start: str = "", end: str = "", invert: bool = False) -> DenyConditionConfig:
    return DenyConditionConfig(id=f"d-{kind}", kind=kind, value=value, start_ip=start, end_ip=end, invert=invert)


def refused(decision) -> tuple[int, str, str] | None:
    if isinstance(decision, Refusal):
        return decision.status, decision.code, decision.message
    assert isinstance(decision, Admission)
    return None


BLOCKED = (403, "900805", "Message blocked")


@pytest.mark.parametrize(
    "condition, client",
    [
        (cond("API", "/chat/1.0.0"), V4),
        (cond("APPLICATION", "dev:App"), V4),
        (cond("USER", "dev"), V4),
        (cond("IP", start="198.51.100.7"), V4),
        (cond("IP", start="2001:db8::7"), V6),
        (cond("IP_RANGE", start="198.51.100.0", end="198.51.100.255"), V4),
        (cond("IP_RANGE", start="2001:db8::", end="2001:db8::ffff"), V6),
        (cond("IP", start="203.0.113.1", invert=True), V4),  # everyone but 203.0.113.1
        (cond("IP_RANGE", start="203.0.113.0", end="203.0.113.9", invert=True), V6),  # another version is outside
    ],
)
def test_each_condition_refuses_the_handshake_with_wso2s_blocked_code(condition, client):
    decision = admit(denying(condition), PATH, "", bearer(sign(claims())), now=NOW, client=client)
    assert refused(decision) == BLOCKED
    assert decision.sync_miss  # a policy just disabled is read at once, like other changes letting clients in


@pytest.mark.parametrize(
    "condition, client",
    [
        (cond("API", "/chat/2.0.0"), V4),
        (cond("APPLICATION", "dev:Other"), V4),
        (cond("APPLICATION", "other:App"), V4),
        (cond("USER", "someone-else"), V4),
        (cond("IP", start="198.51.100.8"), V4),
        (cond("IP", start="198.51.100.7"), V6),
        (cond("IP_RANGE", start="198.51.100.8", end="198.51.100.255"), V4),
        (cond("IP", start="198.51.100.7", invert=True), V4),  # the one address let in
        (cond("IP_RANGE", start="2001:db8::", end="2001:db8::ffff", invert=True), V6),
    ],
)
def test_conditions_that_do_not_match_let_the_handshake_in(condition, client):
    assert refused(admit(denying(condition), PATH, "", bearer(sign(claims())), now=NOW, client=client)) is None


def test_a_denied_address_is_refused_before_its_credentials_are_read():
    st = denying(cond("IP", start="198.51.100.7"))
    assert refused(admit(st, PATH, "", {}, now=NOW, client=V4)) == BLOCKED
    assert refused(admit(st, PATH, "", bearer("not-a-jwt"), now=NOW, client=V4)) == BLOCKED
    # Another address meets the credential checks as usual.
    assert refused(admit(st, PATH, "", {}, now=NOW, client=ip_address("198.51.100.6")))[1] == "900902"


def test_an_ipv4_client_on_an_ipv6_socket_is_judged_by_its_ipv4_address():
    assert client_address("::ffff:198.51.100.7") == V4
    assert client_address("2001:db8::7") == V6
    assert client_address(None) is None and client_address("unix-socket") is None
    st = denying(cond("IP", start="198.51.100.7"))
    assert refused(admit(st, PATH, "", {}, now=NOW, client=client_address("::ffff:198.51.100.7"))) == BLOCKED


def test_an_inverted_condition_refuses_a_client_without_an_address():
    st = denying(cond("IP", start="198.51.100.7", invert=True))
    assert refused(admit(st, PATH, "", bearer(sign(claims())), now=NOW, client=None)) == BLOCKED


def test_x_forwarded_for_is_not_the_clients_address():
    st = denying(cond("IP", start="198.51.100.7"))
    headers = {**bearer(sign(claims())), "x-forwarded-for": "198.51.100.7"}
    assert refused(admit(st, PATH, "", headers, now=NOW, client=ip_address("192.0.2.1"))) is None


def test_topics_open_without_a_token_meet_only_the_address_and_api_conditions():
    public = "/chat/1.0.0/public"
    assert refused(admit(denying(cond("USER", "dev")), public, "", {}, now=NOW, client=V4)) is None
    assert refused(admit(denying(cond("API", "/chat/1.0.0")), public, "", {}, now=NOW, client=V4)) == BLOCKED


def test_a_user_condition_matches_tokens_of_any_issuer_by_their_subject():
    testkey_token = sign({"iss": TESTKEY_ISS, "sub": "dev", "iat": NOW - 1, "exp": NOW + 60, "jti": "t"}, TESTKEY)
    decision = admit(denying(cond("USER", "dev")), PATH, "", bearer(testkey_token), now=NOW, client=V4)
    assert refused(decision) == BLOCKED


@pytest.mark.parametrize(
    "condition",
    [
        cond("API", "/chat/1.0.0"),
        cond("APPLICATION", "dev:App"),
        cond("USER", "dev"),
        cond("IP", start="198.51.100.7"),
        cond("IP_RANGE", start="198.51.100.0", end="198.51.100.9"),
        cond("IP", start="10.0.0.1", invert=True),
    ],
)
def test_an_open_connection_that_a_new_condition_matches_closes_with_4004(condition):
    token = state().verifier.verify(sign(claims()), NOW)
    assert rejudge(state(), PATH, "", token, "api-1", "app1", now=NOW, client=V4) is None
    assert rejudge(denying(condition), PATH, "", token, "api-1", "app1", now=NOW, client=V4) == (
        4004,
        "Blocked by a deny policy",
    )


def test_an_unreadable_address_in_a_snapshot_is_skipped_not_a_crash():
    st = denying(cond("IP", start="not-an-address"), cond("IP_RANGE", start="10.0.0.1", end="::1"))
    assert not st.deny
    assert refused(admit(st, PATH, "", bearer(sign(claims())), now=NOW, client=V4)) is None


def test_deny_policies_travel_in_the_snapshot_and_an_older_snapshot_reads_without_them():
    snap = replace(state().snapshot, deny=(cond("IP_RANGE", start="10.0.0.0", end="10.0.0.9", invert=True),))
    assert snapshot_from_dict(snapshot_to_dict(snap)) == snap
    older = snapshot_to_dict(state().snapshot)
    del older["deny"]
    older["schema"] = 4  # what a gateway kept on disk before deny policies
    assert snapshot_from_dict(older) == state().snapshot
    assert isinstance(snapshot_from_dict(older), Snapshot)
