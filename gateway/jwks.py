"""Keys of external issuers, fetched from their JWKS URLs and cached.

A token whose ``kid`` the cache does not know makes the gateway fetch the issuer's JWKS
again, but at most once per ``min_interval`` per issuer, so a flood of tokens with made-up
key ids cannot turn the gateway into a load generator against the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger("tidegate.gateway")
MAX_JWKS_BYTES = 256 * 1024


class JwksCache:
    def __init__(self, *, min_interval: float = 30.0, timeout: float = 5.0):
        self.min_interval = min_interval
        self.timeout = timeout
        self._keys: dict[str, KeySet] = {}
        self._attempted: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Future[bool]] = {}

    def get(self, issuer: str) -> KeySet | None:
        return self._keys.get(issuer)

    async def refresh(self, session: aiohttp.ClientSession, issuer: str, url: str) -> bool:
        """Fetch ``url`` for ``issuer`` unless it was tried lately; True if keys changed."""
        if issuer in self._inflight:
            return await self._inflight[issuer]
        last = self._attempted.get(issuer, 0.0)
        if time.monotonic() - last < self.min_interval:
            return False
        self._attempted[issuer] = time.monotonic()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[issuer] = future
        changed = False
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                resp.raise_for_status()
                body = await resp.content.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS document too large")
            import json

            keys = KeySet.import_key_set(json.loads(body))
            previous = self._keys.get(issuer)
            changed = previous is None or {k.kid for k in previous.keys} != {k.kid for k in keys.keys}
            self._keys[issuer] = keys
            log.info("fetched %d keys of issuer %s", len(keys.keys), issuer)
        except (aiohttp.ClientError, TimeoutError, ValueError, JoseError) as exc:
            log.warning("could not fetch the JWKS of issuer %s: %s", issuer, exc)
        finally:
            future.set_result(changed)
            del self._inflight[issuer]
        return changed
