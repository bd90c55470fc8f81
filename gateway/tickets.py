"""Browser-safe credentials: one-time connect tickets and the token carried in
``Sec-WebSocket-Protocol`` (docs/gateway.md, "Connect tickets").

Browsers cannot set headers on a WebSocket, so a long-lived token would otherwise travel in
``?access_token=``, where it lands in history, proxy logs and ``Referer``s. Instead:

* ``POST /tickets`` on a gateway port, with the token in the ``Authorization`` header and the
  handshake path in the body, answers a ticket: a random string bound to that API (context and
  version), this gateway's environments and the token's verified claims, valid
  ``TICKET_VALIDITY`` seconds (30) and spent by the first handshake that presents it as
  ``?ticket=``, admitted or not. The ticket itself carries nothing: what it stands for is kept
  in the store under the ticket's SHA-256, never the token.
* ``Sec-WebSocket-Protocol: base64url.bearer.authorization.tidegate.<token>`` (the token
  base64url-encoded, as Kubernetes does) beside the real subprotocols: the entry is taken
  out before the backend is offered the rest, and never answered.

The store is this process's own, or Redis when ``REDIS_URL`` is set: ``SET NX PX`` to keep a
ticket and ``GETDEL`` to spend it, both atomic, so of any number of gateway processes sharing
Redis exactly one admits a given ticket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from redis.exceptions import RedisError

from gateway.redis_counters import RETRY_AFTER

log = logging.getLogger("tidegate.gateway")

TICKET_PARAM = "ticket"
# The subprotocol entry that carries a bearer token (Kubernetes' form, our name).
BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.tidegate."
DEFAULT_VALIDITY = 30.0
MAX_TICKET_VALIDITY = 3600.0  # seconds; a ticket is for a handshake about to happen
# An expired ticket is kept this many seconds more, so that its handshake is told it expired
# (rather than that it is unknown); it admits nothing meanwhile.
EXPIRED_KEPT = 60.0
MAX_TICKET_LENGTH = 128
# Tickets one token may be given per COUNT_WINDOW seconds (fixed windows;
# TIDEGATE_TICKETS_PER_TOKEN): each is kept until it expires and EXPIRED_KEPT after, so
# without a bound one valid token could fill the store (this process's memory, or Redis's)
# as fast as it can ask.
MAX_TICKETS_PER_TOKEN = 100
COUNT_WINDOW = 30.0
# Tickets this process keeps at most (its own store, and RedisTickets' while Redis is away):
# a bound on memory whoever asks, since anyone with client credentials can mint many tokens.
MAX_LOCAL_TICKETS = 100_000
MAX_TOKEN_LENGTH = 16 * 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")  # unpadded, as in a subprotocol token
_TO_STANDARD = str.maketrans("-_", "+/")


class MalformedBearerProtocol(ValueError):
    """A ``base64url.bearer.authorization.tidegate.`` entry that does not hold one token."""


def bearer_from_protocols(protocols: Iterable[str]) -> str | None:
    """The token a client offered as a subprotocol entry, None when it offered none. Raises
    ``MalformedBearerProtocol`` for an entry that is not base64url of a printable token, or
    for more than one entry (which one would count?)."""
    entries = [p for p in protocols if p.startswith(BEARER_PROTOCOL_PREFIX)]
    if not entries:
        return None
    if len(entries) > 1:
        raise MalformedBearerProtocol("more than one bearer entry in Sec-WebSocket-Protocol")
    encoded = entries[0][len(BEARER_PROTOCOL_PREFIX) :]
    if not encoded or len(encoded) > MAX_TOKEN_LENGTH or not _BASE64URL.fullmatch(encoded):
        raise MalformedBearerProtocol("the bearer entry in Sec-WebSocket-Protocol is not base64url")
    try:
        padded = encoded.translate(_TO_STANDARD) + "=" * (-len(encoded) % 4)
        token = base64.b64decode(padded, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        raise MalformedBearerProtocol("the bearer entry in Sec-WebSocket-Protocol is not base64url") from None
    if not token or not token.isprintable() or any(c.isspace() for c in token):
        raise MalformedBearerProtocol("the bearer entry in Sec-WebSocket-Protocol does not hold a token")
    return token


def real_protocols(protocols: Iterable[str]) -> list[str]:
    """The subprotocols offered, without the bearer entry: what the backend is offered."""
    return [p for p in protocols if not p.startswith(BEARER_PROTOCOL_PREFIX)]


def ticket_param(query: str) -> str | None:
    """The ``ticket`` query parameter of a handshake, or None."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == TICKET_PARAM:
            return value
    return None


@dataclass(frozen=True)
class TicketGrant:
    """What a ticket stands for: the verified claims of the token it was issued for (not the
    token), that token's issuer, the API and the environments it is bound to."""

    api_id: str
    environments: tuple[str, ...]
    issuer: str
    claims: dict[str, Any]
    expires_at: float

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def to_json(self) -> str:
        return json.dumps(
            {
                "api": self.api_id,
                "environments": list(self.environments),
                "issuer": self.issuer,
                "claims": self.claims,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> TicketGrant:
        data = json.loads(raw)
        return cls(data["api"], tuple(data["environments"]), data["issuer"], data["claims"], float(data["expires_at"]))


def _key(ticket: str) -> str:
    """The store's key of a ticket: its SHA-256, so the store never holds a usable ticket."""
    return hashlib.sha256(ticket.encode()).hexdigest()


def holder(issuer: str, claims: dict[str, Any]) -> str:
    """Whom a ticket is given to: the token, as its issuer and verified claims name it (two
    tokens with the same claims are the same credential)."""
    try:
        named = json.dumps([issuer, claims], sort_keys=True, separators=(",", ":"), default=str)
    except (RecursionError, ValueError):  # claims nested too deep to write out: their names, then
        named = json.dumps([issuer, str(claims.get("jti")), str(claims.get("sub")), str(claims.get("exp"))])
    return hashlib.sha256(named.encode()).hexdigest()


class TooManyTickets(Exception):
    """The token was given its tickets for this window already."""

    def __init__(self, retry_after: float):
        super().__init__(f"too many tickets for one token; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class TicketStoreFull(Exception):
    """This process keeps ``MAX_LOCAL_TICKETS`` unexpired tickets already."""


class TicketStore(Protocol):
    async def keep(self, key: str, grant: TicketGrant, validity: float) -> bool: ...

    async def take(self, key: str) -> TicketGrant | None: ...

    async def count(self, holder: str, window: int) -> int:
        """Count one more ticket for ``holder`` in fixed window number ``window`` (of
        ``COUNT_WINDOW`` seconds); the count so far, this one included."""
        ...


class LocalTickets:
    """This process's own store: a dict, swept of expired tickets as new ones arrive, from a
    heap of their deadlines (each keep looks only at tickets past theirs: a sweep of the
    whole dict on every keep made a flood of tickets cost quadratic CPU)."""

    def __init__(self, clock: Callable[[], float] = time.time, capacity: int = MAX_LOCAL_TICKETS):
        self.clock = clock
        self.capacity = capacity
        self._grants: dict[str, TicketGrant] = {}
        self._deadlines: list[tuple[float, str]] = []  # (when it is forgotten, key), a heap
        self._counts: dict[str, tuple[int, int]] = {}  # holder: (window, tickets in it)
        self._sweep_counts_at = 1024

    async def keep(self, key: str, grant: TicketGrant, validity: float) -> bool:
        now = self.clock()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, old = heapq.heappop(deadlines)
            kept = self._grants.get(old)
            if kept is not None and kept.expires_at + EXPIRED_KEPT <= now:
                del self._grants[old]
        if key in self._grants:
            return False
        if len(self._grants) >= self.capacity:
            raise TicketStoreFull()
        self._grants[key] = grant
        heapq.heappush(deadlines, (grant.expires_at + EXPIRED_KEPT, key))
        return True

    async def take(self, key: str) -> TicketGrant | None:
        return self._grants.pop(key, None)

    async def count(self, holder: str, window: int) -> int:
        counts = self._counts
        if len(counts) >= self._sweep_counts_at:  # drop past windows; twice the size before the next sweep
            for name in [name for name, (seen, _) in counts.items() if seen < window]:
                del counts[name]
            self._sweep_counts_at = max(1024, 2 * len(counts))
        seen, n = counts.get(holder, (window, 0))
        n = n + 1 if seen == window else 1
        counts[holder] = (window, n)
        return n


class RedisTickets:
    """Tickets shared by every gateway process through Redis: ``SET NX PX`` keeps one,
    ``GETDEL`` spends it (atomic: two processes never both get it). While Redis is
    unreachable, tickets are kept, spent and counted in this process's own store instead: a
    ticket is then in exactly one of the two places, and spent at most once either way. After
    a failure Redis is left alone for ``RETRY_AFTER`` seconds (as the rate limits do), so a
    ticket does not wait for a timeout at each step while Redis is away; a ticket kept in
    Redis before cannot be spent meanwhile."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, prefix: str = "tidegate:ticket:"):
        import redis.asyncio as redis

        self.prefix = prefix
        self.clock = clock
        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._local = LocalTickets(clock)
        self._down_until = 0.0

    def _reachable(self) -> bool:
        return self.clock() >= self._down_until

    def _unreachable(self, exc: Exception) -> None:
        self._down_until = self.clock() + RETRY_AFTER
        log.warning(
            "Redis unreachable for connect tickets, keeping them in this process for %.0f s: %s",
            RETRY_AFTER,
            type(exc).__name__,
        )

    async def keep(self, key: str, grant: TicketGrant, validity: float) -> bool:
        if self._reachable():
            try:
                stored = await self._redis.set(
                    self.prefix + key, grant.to_json(), nx=True, px=int((validity + EXPIRED_KEPT) * 1000)
                )
                return bool(stored)
            except (RedisError, OSError) as exc:
                self._unreachable(exc)
        return await self._local.keep(key, grant, validity)

    async def take(self, key: str) -> TicketGrant | None:
        raw = None
        if self._reachable():
            try:
                raw = await self._redis.getdel(self.prefix + key)
            except (RedisError, OSError) as exc:
                self._unreachable(exc)
        if raw is not None:
            try:
                return TicketGrant.from_json(raw)
            except (ValueError, KeyError, TypeError):
                return None
        return await self._local.take(key)

    async def count(self, holder: str, window: int) -> int:
        if self._reachable():
            key = f"{self.prefix}count:{holder}:{window}"
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.pexpire(key, int(COUNT_WINDOW * 2000))  # gone once its window has passed
                    n, _ = await pipe.execute()
                return int(n)
            except (RedisError, OSError) as exc:
                self._unreachable(exc)
        return await self._local.count(holder, window)


class Tickets:
    """Issue and spend connect tickets, over a store (``LocalTickets`` or ``RedisTickets``)."""

    def __init__(
        self,
        store: TicketStore,
        *,
        validity: float = DEFAULT_VALIDITY,
        clock: Callable[[], float] = time.time,
        per_token: int = MAX_TICKETS_PER_TOKEN,
    ):
        self.store = store
        self.validity = validity
        self.clock = clock
        self.per_token = per_token

    @classmethod
    def build(
        cls, redis_url: str, validity: float = DEFAULT_VALIDITY, per_token: int = MAX_TICKETS_PER_TOKEN
    ) -> Tickets:
        store: TicketStore = RedisTickets(redis_url) if redis_url else LocalTickets()
        return cls(store, validity=validity, per_token=per_token)

    async def issue(
        self, *, api_id: str, environments: Sequence[str], issuer: str, claims: dict[str, Any]
    ) -> tuple[str, TicketGrant]:
        """A new ticket for the token that ``issuer`` and ``claims`` name. Raises
        ``TooManyTickets`` once that token was given ``per_token`` in this window of
        ``COUNT_WINDOW`` seconds, ``TicketStoreFull`` when this process keeps
        ``MAX_LOCAL_TICKETS``."""
        now = self.clock()
        window = int(now // COUNT_WINDOW)
        if await self.store.count(holder(issuer, claims), window) > self.per_token:
            raise TooManyTickets((window + 1) * COUNT_WINDOW - now)
        expires_at = now + self.validity
        grant = TicketGrant(api_id, tuple(environments), issuer, claims, expires_at)
        while True:  # a collision of 256 random bits will not happen; SET NX makes sure
            ticket = secrets.token_urlsafe(32)
            if await self.store.keep(_key(ticket), grant, self.validity):
                return ticket, grant

    async def spend(self, ticket: str) -> TicketGrant | None:
        """The grant of a ticket presented at a handshake, which spends it; None when it is
        unknown or already spent. An expired grant is returned too: ``decisions.admit``
        refuses it (``TicketGrant.expired``) and says why."""
        if not ticket or len(ticket) > MAX_TICKET_LENGTH:
            return None
        return await self.store.take(_key(ticket))
