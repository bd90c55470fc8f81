"""The gateway's readers of what the portal sends (Hypothesis): a full snapshot and the
deltas applied to one. Either the snapshot, every field of the type it declares, or a
SnapshotError (a ValueError, which the gateway catches and keeps serving what it has);
never another exception. The findings are plain regression tests at the end."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_contract import (
    ApiConfig,
    ApplicationConfig,
    IssuerConfig,
    PolicyConfig,
    Snapshot,
    SnapshotError,
    SubscriptionConfig,
    TopicConfig,
    snapshot_apply,
    snapshot_from_dict,
    snapshot_to_dict,
)
from testsupport.fuzz import json_values, mutated
from testsupport.hypothesis_profiles import examples

SUB = SubscriptionConfig(id="s1", api_id="a1", policy="AsyncUnlimited", status="UNBLOCKED")
SNAPSHOT = Snapshot(
    version=7,
    environments=("Default",),
    apis=(
        ApiConfig(
            id="a1",
            name="Chat",
            context="/chat",
            version="1.0.0",
            lifecycle_status="PUBLISHED",
            revision=1,
            production_endpoint="ws://backend:80",
            topics=(TopicConfig(name="/rooms", publish_scopes=("a",), uri_mapping="/r"),),
        ),
    ),
    applications={
        "key": ApplicationConfig(
            id="app1", name="App", owner="dev", policy="10PerMin", key_type="PRODUCTION", subscriptions=(SUB,)
        )
    },
    issuers=(IssuerConfig(issuer="https://km", jwks={"keys": []}),),
    policies={"subscription:Gold": PolicyConfig(level="subscription", name="Gold", limit=10)},
    revoked=("jti1",),
    application_ids=("app1",),
    disconnect=("c1",),
)
VALID = snapshot_to_dict(SNAPSHOT)
DELTAS = [
    {"kind": "revoke", "jtis": ["jti2"]},
    {"kind": "subscription", "application": "app1", "subscription": {**vars(SUB), "status": "BLOCKED"}},
    {"kind": "unsubscribe", "application": "app1", "subscription": "s1"},
]


def broken(base):
    """``base`` with one to three values replaced by anything, or removed, anywhere (the root too)."""
    return mutated(base, json_values, root=True)


def _well_typed(snapshot: Snapshot) -> None:
    """A snapshot read back is what the gateway builds its state from: the same again."""
    assert isinstance(snapshot, Snapshot)
    assert snapshot_from_dict(snapshot_to_dict(snapshot)) == snapshot
    for api in snapshot.apis:
        assert all(isinstance(t.name, str) and isinstance(t.secured, bool) for t in api.topics)


@examples(200)
@given(broken(VALID))
def test_a_snapshot_of_any_shape_is_read_or_refused_with_a_snapshot_error(data):
    try:
        snapshot = snapshot_from_dict(data)
    except SnapshotError:
        return
    _well_typed(snapshot)


@examples(200)
@given(st.one_of(broken({"deltas": DELTAS}), st.just({"deltas": DELTAS})), st.one_of(st.just(8), json_values))
def test_deltas_of_any_shape_apply_or_are_refused_with_a_snapshot_error(data, version):
    deltas = data.get("deltas") if isinstance(data, dict) else data
    try:
        snapshot = snapshot_apply(SNAPSHOT, deltas, version)
    except SnapshotError:
        return
    _well_typed(snapshot)


def test_the_valid_snapshot_and_deltas_read_as_sent():
    assert snapshot_from_dict(VALID) == SNAPSHOT
    after = snapshot_apply(SNAPSHOT, DELTAS, 8)
    assert after.revoked == ("jti1", "jti2") and after.applications["key"].subscriptions == ()


# ---------------------------------------------------------------- regressions (the fuzzer's findings)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {**VALID, "apis": [{**VALID["apis"][0], "topics": [{**VALID["apis"][0]["topics"][0], "name": 7}]}]},
        {**VALID, "version": "7"},
        {**VALID, "revoked": "jti1"},
        {**VALID, "applications": {"key": {**VALID["applications"]["key"], "subscriptions": [None]}}},
    ],
)
def test_a_misshapen_snapshot_is_a_snapshot_error(data):
    with pytest.raises(SnapshotError):
        snapshot_from_dict(data)


@pytest.mark.parametrize(
    "deltas",
    [
        [None],
        [{"kind": "revoke", "jtis": 7}],
        [{"kind": "subscription", "application": "app1", "subscription": {}}],
        [{"kind": []}],
    ],
)
def test_a_misshapen_delta_is_a_snapshot_error(deltas):
    with pytest.raises(SnapshotError):
        snapshot_apply(SNAPSHOT, deltas, 8)
