"""What a production deployment needs beyond the defaults (docs/deploy.md): settings that
must agree, checked at start; public gateway URLs; a cache that survives a Redis outage; and
logs that stay quiet for what is expected.

Nothing here reads the environment: portal/settings does, and calls these.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.http import is_same_domain

log = logging.getLogger("tidegate.deployment")


# -- settings that must agree -------------------------------------------------------------
def _host_of(url: str) -> str:
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()
    if netloc.startswith("["):  # [::1]:8000, as ALLOWED_HOSTS spells it
        return netloc[: netloc.find("]") + 1]
    return netloc.rsplit(":", 1)[0].rstrip(".")


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """Whether Django would accept requests to ``url`` (its Host) under ``allowed_hosts``."""
    host = _host_of(url)
    return bool(host) and any(p == "*" or is_same_domain(host, p.lower()) for p in allowed_hosts)


def check_portal_url(portal_url: str, allowed_hosts: list[str]) -> None:
    """Gateways pull from TIDEGATE_PORTAL_URL with its host in the Host header: a host the
    portal does not allow would answer every pull with 400, and no gateway would ever
    serve. Refused at start instead, naming both settings."""
    parts = urlsplit(portal_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"TIDEGATE_PORTAL_URL must be an http:// or https:// URL, not {portal_url!r}")
    if not host_allowed(portal_url, allowed_hosts):
        raise ImproperlyConfigured(
            f"TIDEGATE_PORTAL_URL ({portal_url}) names host {_host_of(portal_url)!r}, which "
            f"TIDEGATE_ALLOWED_HOSTS ({','.join(allowed_hosts)}) does not allow: the portal would refuse "
            "every gateway pull with 400. Add that host to TIDEGATE_ALLOWED_HOSTS, or point "
            "TIDEGATE_PORTAL_URL at an allowed host name."
        )


def public_url(name: str, value: str | None, scheme: str) -> str:
    """A public gateway URL setting (``ws://host:port`` or ``wss://host``): an origin, no path."""
    value = (value or "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme != scheme or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name} must be a {scheme}:// origin such as {scheme}://gateway.example.com")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ImproperlyConfigured(f"{name}: {value!r} has no valid port") from None
    return value


# -- a cache that outlives Redis -----------------------------------------------------------
def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, shared by every portal process, that falls back to this
    process's own memory while Redis does not answer (counting locally, with one warning
    per outage) instead of failing the request with a 500. Redis is tried again every
    ``RETRY_SECONDS``."""

    RETRY_SECONDS = 5.0

    def __init__(self, server, params):
        super().__init__(server, params)
        self._local = LocMemCache("tidegate-fallback", {})
        self._down_since: float | None = None
        self.clock = time.monotonic  # injectable for tests

    def _call(self, name: str, *args, **kwargs):
        if self._down_since is not None and self.clock() - self._down_since < self.RETRY_SECONDS:
            return getattr(self._local, name)(*args, **kwargs)
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except _redis_errors() as exc:
            if self._down_since is None:
                log.warning("Redis cache unavailable, counting in this process until it answers: %s", exc)
            self._down_since = self.clock()
            return getattr(self._local, name)(*args, **kwargs)
        if self._down_since is not None:
            log.info("Redis cache available again")
            self._down_since = None
        return result

    def add(self, *args, **kwargs):
        return self._call("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._call("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._call("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._call("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._call("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._call("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._call("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._call("delete_many", *args, **kwargs)

    def clear(self):
        return self._call("clear")


# -- quiet logs ----------------------------------------------------------------------------
class ExpectedRefusal(logging.Filter):
    """A request refused for its Host header (``django.security.DisallowedHost``) is an
    expected condition, not a fault: one WARNING line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
