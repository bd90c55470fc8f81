"""The gateway contract: pure (no Django, nothing of the project but itself), and the delta
types travel as exactly the JSON gateways already read."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_contract.deltas import (
    SubscriptionChanged,
    SubscriptionRemoved,
    TokensRevoked,
    apply_deltas,
    delta_from_dict,
    delta_to_dict,
    deltas_from_list,
)
from gateway_contract.snapshot import ApplicationConfig, Snapshot, SnapshotError, SubscriptionConfig

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("portal", "publisher", "devportal", "keymanager", "analytics", "gateway_sync", "gateway", "demo", "tidegate")

IMPORT_ALL_AND_REPORT = """
import importlib, json, pkgutil, sys
import gateway_contract
for info in pkgutil.walk_packages(gateway_contract.__path__, "gateway_contract."):
    if ".tests" not in info.name:
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_contract_imports_no_django_and_nothing_of_either_side():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL_AND_REPORT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "gateway_contract.snapshot" in loaded and "gateway_contract.deltas" in loaded
    assert [m for m in loaded if m == "django" or m.startswith("django.")] == []
    assert [m for m in loaded if m.split(".")[0] in PROJECT] == []


SUB = SubscriptionConfig(id="s1", api_id="a1", policy="Gold", status="BLOCKED")
# Each delta kind the control plane produces, and the JSON it has always been sent as.
WIRE = [
    (TokensRevoked(jtis=("j1", "j2")), '{"kind": "revoke", "jtis": ["j1", "j2"]}'),
    (
        SubscriptionChanged(application="app1", subscription=SUB),
        '{"kind": "subscription", "application": "app1", '
        '"subscription": {"id": "s1", "api_id": "a1", "policy": "Gold", "status": "BLOCKED"}}',
    ),
    (
        SubscriptionRemoved(application="app1", subscription="s1"),
        '{"kind": "unsubscribe", "application": "app1", "subscription": "s1"}',
    ),
]


@pytest.mark.parametrize(("delta", "wire"), WIRE, ids=["revoke", "subscription", "unsubscribe"])
def test_each_delta_kind_is_sent_as_the_json_gateways_read_and_read_back_the_same(delta, wire):
    assert json.dumps(delta_to_dict(delta)) == wire
    assert delta_from_dict(json.loads(wire)) == delta


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "full"},
        {"kind": ["revoke"]},  # unhashable: still a SnapshotError, not a TypeError
        {"kind": "revoke"},
        {"kind": "unsubscribe", "application": "app1", "subscription": {"id": "s1"}},
        "revoke",
    ],
)
def test_a_delta_of_another_shape_is_a_snapshot_error(data):
    with pytest.raises(SnapshotError):
        delta_from_dict(data)


def test_typed_deltas_apply_in_order_to_the_snapshot_held():
    held = Snapshot(
        version=4,
        environments=("Default",),
        applications={
            "key": ApplicationConfig(id="app1", name="A", owner="o", policy="P", key_type="PRODUCTION"),
        },
        revoked=("j1",),
    )
    after = apply_deltas(held, deltas_from_list([json.loads(wire) for _, wire in WIRE]), 7)
    assert after.version == 7 and after.revoked == ("j1", "j2")
    assert after.applications["key"].subscriptions == ()  # made, then removed
    assert apply_deltas(held, [WIRE[1][0]], 5).applications["key"].subscriptions == (SUB,)
