"""The process's own ticket store (gateway/tickets.py ``LocalTickets``), on an injected clock:
each ticket is kept until its deadline (validity and EXPIRED_KEPT) and forgotten after it,
whatever the order tickets are kept, spent or issued with different validities."""

from gateway.tickets import EXPIRED_KEPT, LocalTickets, TicketGrant


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
