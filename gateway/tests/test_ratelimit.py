"""Rate limits with an injected clock: each policy kind and the check order."""

import pytest

from gateway.ratelimit import FrameLimiter, InMemoryCounters, Limit, limits_for
from gateway_contract.snapshot import ApplicationConfig, PolicyConfig, Snapshot, SubscriptionConfig
from testsupport.snapshots import api_config


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def limiter(*policies, clock=None):
    counters = InMemoryCounters(clock or Clock())
    return FrameLimiter(counters, [Limit(f"k{i}", p) for i, p in enumerate(policies)]), counters


@pytest.mark.parametrize("kind", ["EVENTCOUNTLIMIT", "REQUESTCOUNTLIMIT"])
def test_count_limits_pass_n_frames_per_window_then_refuse(kind):
    clock = Clock(60 * 1000)
    policy = PolicyConfig(level="subscription", name="5PerMin", limit_type=kind, limit=5, window=60)
    lim, _ = limiter(policy, clock=clock)
    assert [lim.check("x") for _ in range(5)] == [None] * 5
    assert lim.check("x") is policy
    clock.now += 59
    assert lim.check("x") is policy
    clock.now += 1  # next window
    assert lim.check("x") is None


def test_bandwidth_limits_count_payload_bytes():
    policy = PolicyConfig(level="application", name="1KB", limit_type="BANDWIDTHLIMIT", limit=1024, window=60)
    lim, _ = limiter(policy)
    assert lim.check(b"a" * 1000) is None
    assert lim.check("é" * 20) is policy  # 40 bytes, over what is left
    assert lim.check(b"a" * 24) is None


def test_a_refused_frame_consumes_nothing_anywhere():
    loose = PolicyConfig(level="advanced", name="loose", limit=100, window=60)
    tight = PolicyConfig(level="application", name="tight", limit=1, window=60)
    lim, counters = limiter(loose, tight)
    assert lim.check("a") is None
    assert lim.check("b") is tight
    assert counters._counts["k0"].used == 1  # the API counter did not count the refused frame


def test_limits_shared_by_key_across_connections():
    policy = PolicyConfig(level="subscription", name="2", limit=2, window=60)
    counters = InMemoryCounters(Clock())
    a = FrameLimiter(counters, [Limit("sub:s1", policy)])
    b = FrameLimiter(counters, [Limit("sub:s1", policy)])
    assert a.check("1") is None and b.check("2") is None
    assert a.check("3") is policy and b.check("4") is policy


def test_notify_once_per_window():
    clock = Clock(600.0)
    policy = PolicyConfig(level="subscription", name="1", limit=1, window=60)
    lim, _ = limiter(policy, clock=clock)
    assert lim.should_notify(policy) is True
    assert lim.should_notify(policy) is False
    clock.now = 660.0
    assert lim.should_notify(policy) is True


def test_limits_follow_wso2_order_and_skip_unlimited_and_non_stopping_plans():
    api = api_config(
        id="a",
        production_endpoint="ws://x",
        api_policy="10KPerMin",
    )
    policies = {
        "advanced:10KPerMin": PolicyConfig("advanced", "10KPerMin", limit=10_000, window=60),
        "subscription:Gold": PolicyConfig("subscription", "Gold", limit=50_000, window=86400),
        "subscription:Soft": PolicyConfig("subscription", "Soft", limit=5, window=60, stop_on_quota_reach=False),
        "application:Unlimited": PolicyConfig("application", "Unlimited", limit=0),
        "application:10PerMin": PolicyConfig("application", "10PerMin", limit=10, window=60),
    }
    snap = Snapshot(version=1, environments=(), policies=policies)
    app = ApplicationConfig(id="app", name="n", owner="o", policy="10PerMin", key_type="PRODUCTION")
    gold = SubscriptionConfig(id="s", api_id="a", policy="Gold", status="UNBLOCKED")
    keys = [lim.key for lim in limits_for(snapshot=snap, api=api, subscription=gold, application=app)]
    assert keys == ["api:a", "sub:s", "app:app"]
    soft = SubscriptionConfig(id="s", api_id="a", policy="Soft", status="UNBLOCKED")
    free = ApplicationConfig(id="app", name="n", owner="o", policy="Unlimited", key_type="PRODUCTION")
    assert [lim.key for lim in limits_for(snapshot=snap, api=api, subscription=soft, application=free)] == ["api:a"]


def test_counting_stays_exact_when_another_connection_turns_the_window_over():
    """A limiter counts without lookups while its windows last; a window turned over by
    another connection on the same counter, or a clock set back, must not let it count
    past the limit or against a stale window."""
    clock = Clock(60 * 1000)
    policy = PolicyConfig(level="subscription", name="3", limit=3, window=60)
    counters = InMemoryCounters(clock)
    a = FrameLimiter(counters, [Limit("sub:s1", policy)])
    b = FrameLimiter(counters, [Limit("sub:s1", policy)])
    assert [a.check("1"), a.check("2")] == [None, None]
    clock.now += 60  # the next window: b opens it
    assert [b.check("3"), b.check("4"), b.check("5")] == [None, None, None]
    assert a.check("6") is policy  # a's own window is over: it sees b's three
    clock.now -= 61  # the clock goes back into the window a counted in
    assert a.check("7") is None  # counted afresh in that window, as before
    assert counters._counts["sub:s1"].used == 1


def test_a_worker_counts_against_its_share_on_the_fast_path_too():
    """One of two workers without Redis passes its share of a limit (3 of 5), frame after
    frame, whether or not the frame was counted without lookups."""
    policy = PolicyConfig(level="subscription", name="5", limit=5, window=60)
    lim = FrameLimiter(InMemoryCounters(Clock(), share=(0, 2)), [Limit("sub:s1", policy)])
    assert [lim.check(str(i)) for i in range(4)] == [None, None, None, policy]
