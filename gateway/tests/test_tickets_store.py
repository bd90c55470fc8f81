"""The process's own ticket store (gateway/tickets.py ``LocalTickets``), on an injected clock:
each ticket is kept until its deadline (validity and EXPIRED_KEPT) and forgotten after it,
whatever the order tickets are kept, spent or issued with different validities; and how many
one token is given in a window."""

import logging

import pytest

from gateway.config import GatewayConfig
from gateway.redis_counters import RETRY_AFTER
from gateway.tickets import (
    EXPIRED_KEPT,
    LocalTickets,
    RedisTickets,
    TicketGrant,
    Tickets,
    TicketStoreFull,
    TooManyTickets,
    holder,
)
from testsupport.stack import free_port


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def grant(expires_at: float) -> TicketGrant:
    return TicketGrant("api", ("Default",), "iss", {"jti": "j"}, expires_at)


async def test_tickets_are_forgotten_after_their_deadline_and_not_before():
    clock = Clock()
    store = LocalTickets(clock)
    assert await store.keep("short", grant(clock.now + 10), 10)
    assert await store.keep("long", grant(clock.now + 30), 30)
    assert await store.keep("spent", grant(clock.now + 10), 10)
    assert (await store.take("spent")).api_id == "api"
    assert not await store.keep("long", grant(clock.now + 30), 30)  # a key is kept once

    clock.now += 10 + EXPIRED_KEPT  # past the short ticket's deadline only
    assert await store.keep("new", grant(clock.now + 30), 30)
    assert sorted(store._grants) == ["long", "new"]
    assert await store.take("short") is None

    clock.now += 20  # past the long one's too
    assert await store.keep("newer", grant(clock.now + 30), 30)
    assert sorted(store._grants) == ["new", "newer"]


async def test_a_flood_of_tickets_is_swept_as_it_expires():
    # Every keep swept the whole store before: 45,000 live tickets cost 3 ms a keep.
    clock = Clock()
    store = LocalTickets(clock)
    for i in range(5_000):
        clock.now += 0.02  # 50 a second for 100 s
        assert await store.keep(f"t{i}", grant(clock.now + 30), 30)
    alive = 30 + EXPIRED_KEPT
    assert len(store._grants) <= alive / 0.02 + 1
    assert len(store._deadlines) <= alive / 0.02 + 1


async def test_a_token_is_given_at_most_its_share_of_tickets_a_window():
    clock = Clock()
    clock.now = 3_000.0 + 12  # 12 s into a 30-second window
    tickets = Tickets(LocalTickets(clock), validity=0.5, clock=clock, per_token=3)  # windows of 30 s whatever it is
    mine = {"iss": "iss", "jti": "mine"}
    for _ in range(3):
        await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims=mine)
    with pytest.raises(TooManyTickets) as refused:
        await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims=mine)
    assert refused.value.retry_after == pytest.approx(18)
    # another token is not held back by this one, nor the same claims from another issuer
    await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims={"iss": "iss", "jti": "yours"})
    await tickets.issue(api_id="api", environments=["Default"], issuer="other", claims=mine)
    clock.now += 18  # the next window
    await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims=mine)


async def test_counts_of_past_windows_are_forgotten():
    clock = Clock()
    store = LocalTickets(clock)
    for window in range(50):
        for i in range(500):
            assert await store.count(f"token-{window}-{i}", window) == 1
    assert len(store._counts) < 2 * 1024 + 500


async def test_the_process_keeps_a_bounded_number_of_tickets_whoever_asks():
    clock = Clock()
    tickets = Tickets(LocalTickets(clock, capacity=5), validity=30, clock=clock)
    for n in range(5):  # five tokens, one ticket each
        await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims={"jti": str(n)})
    with pytest.raises(TicketStoreFull):
        await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims={"jti": "six"})
    clock.now += 30 + EXPIRED_KEPT  # the five are forgotten: room again
    await tickets.issue(api_id="api", environments=["Default"], issuer="iss", claims={"jti": "six"})


async def test_while_redis_is_away_tickets_are_counted_kept_and_spent_by_the_process(caplog):
    clock = Clock()
    store = RedisTickets(f"redis://127.0.0.1:{free_port()}", clock=clock)  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="tidegate.gateway"):
        assert [await store.count("token", 7) for _ in range(3)] == [1, 2, 3]
        assert await store.keep("k", grant(clock.now + 30), 30)
        assert (await store.take("k")).api_id == "api"
        tried = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(tried) == 1  # Redis was left alone after the first failure, not asked at each step
        clock.now += RETRY_AFTER
        assert await store.count("token", 7) == 4
        assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 2  # asked again


@pytest.mark.parametrize("validity", [0, -1, float("inf"), float("nan"), 3601])
def test_a_ticket_validity_that_makes_no_window_stops_the_start(tmp_path, validity):
    with pytest.raises(ValueError, match="TIDEGATE_TICKET_VALIDITY"):
        GatewayConfig(portal_url="http://127.0.0.1:1", token="t", testkey_path=tmp_path / "k", ticket_validity=validity)


def test_no_tickets_at_all_is_not_a_setting(tmp_path):
    with pytest.raises(ValueError, match="TIDEGATE_TICKETS_PER_TOKEN"):
        GatewayConfig(portal_url="http://127.0.0.1:1", token="t", testkey_path=tmp_path / "k", tickets_per_token=0)


def test_claims_nested_too_deep_to_write_out_still_name_a_holder():
    deep: dict = {}
    inner = deep
    for _ in range(5_000):
        inner["x"] = {}
        inner = inner["x"]
    one = holder("iss", {"jti": "a", "sub": "s", "nested": deep})
    assert one == holder("iss", {"jti": "a", "sub": "s", "nested": deep}) != holder("iss", {"jti": "b", "nested": deep})
