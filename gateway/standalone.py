"""Standalone mode: a gateway without the portal, fed API project archives through an
adapter API compatible with ``apictl mg`` (``/api/mgw/adapter/0.1``).

The same ``Gateway`` as with a portal, fed by an ``ArchiveSource`` instead of the portal's
snapshots. The archives deployed are kept in the data directory and read again at start;
the snapshot the gateway enforces is built from them, with the gateway's own /testkey
issuer as the trusted issuer (no subscriptions in this mode, as in Choreo Connect
standalone). What an archive means (AsyncAPI validation, endpoints) is the control plane's
reading, handed in as an ``ArchiveReader`` (``tidegate.snapshot.archives.api_from_archive``, by
the ``standalone`` command).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import replace
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.accesslog import ACCESS
from gateway.asgitypes import Receive, Scope, Send, request_headers
from gateway.config import GatewayConfig
from gateway.process import Gateway
from gateway.sources import Fetched, NewSnapshot, Sync
from gateway_contract.archives import ArchiveReader, ArchiveRefused
from gateway_contract.snapshot import ApiConfig, Snapshot

log = logging.getLogger("tidegate.adapter")
ADAPTER_BASE = "/api/mgw/adapter/0.1"
MAX_UPLOAD = 10 * 1024 * 1024
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ArchiveStore:
    """Deployed archives, one file each, in ``directory``, read by ``read``."""

    def __init__(self, directory: Path, *, read: ArchiveReader):
        self.directory = directory
        self.read = read
        directory.mkdir(parents=True, exist_ok=True)
        self.apis: dict[str, ApiConfig] = {}
        # The file each API was read from: files written by older versions had other names.
        self.files: dict[str, Path] = {}
        for path in sorted(directory.glob("*.zip")):
            try:
                api = read(path.read_bytes())
                self.apis[api.id] = api
                self.files[api.id] = path
            except ArchiveRefused as exc:
                log.warning("skipping %s: %s", path.name, exc.description)

    def _path(self, api_id: str) -> Path:
        """A file name of its own for each API: readable, and told apart by a digest of the
        whole id (``Chat Room`` and ``Chat_Room`` read the same once made safe)."""
        digest = hashlib.sha256(api_id.encode()).hexdigest()[:16]
        return self.directory / f"{_SAFE.sub('_', api_id)[:80]}-{digest}.zip"

    def deploy(self, content: bytes, *, override: bool) -> tuple[ApiConfig, str]:
        api = self.read(content)
        clash = next(
            (a for a in self.apis.values() if a.context == api.context and a.version == api.version and a.id != api.id),
            None,
        )
        if clash:
            raise ArchiveRefused(
                f"{clash.name} {clash.version} already serves {api.context}/{api.version}",
                status=409,
                message="Refused",
            )
        exists = api.id in self.apis
        if exists and not override:
            raise ArchiveRefused(
                f"API {api.name} {api.version} is deployed already; use override", status=409, message="Refused"
            )
        path = self._path(api.id)
        path.write_bytes(content)
        old = self.files.get(api.id)
        if old is not None and old != path:  # written by an older version under another name
            old.unlink(missing_ok=True)
        self.apis[api.id] = api
        self.files[api.id] = path
        return api, "UPDATED" if exists else "CREATED"

    def undeploy(self, name: str, version: str) -> ApiConfig:
        api = self.apis.pop(f"{name}:{version}", None)
        if api is None:
            raise ArchiveRefused(f"API {name} {version} is not deployed", status=404, message="Refused")
        self.files.pop(api.id, self._path(api.id)).unlink(missing_ok=True)
        return api


class ArchiveSource:
    """The archive store as a gateway's snapshot source: every sync makes the next version
    of what is deployed. Always current, so nothing to watch and no miss to pull for; the
    adapter syncs the gateway after each deploy and undeploy."""

    name = "archives"
    confirms = False
    may_lag = False
    push_connected = False

    def __init__(self, store: ArchiveStore):
        self.store = store
        self.version = 0

    async def open(self, session: aiohttp.ClientSession) -> None:
        pass

    async def fetch(self, held: Snapshot | None, cause: str) -> Fetched:
        self.version += 1
        return NewSnapshot(
            Snapshot(version=self.version, environments=("Default",), apis=tuple(self.store.apis.values()))
        )

    async def watch(self, sync: Sync) -> None:
        pass


def standalone_config(config: GatewayConfig | None = None) -> GatewayConfig:
    """The gateway's settings in standalone mode: one environment, no portal to report to or
    keep a copy of (the archives are the copy), rate limits counted in this process."""
    return replace(
        config or GatewayConfig.from_settings(),
        token="",  # no control plane to present it to
        environments=("Default",),
        snapshot_path=None,
        redis_url="",
        analytics=False,
    )


def standalone_gateway(store: ArchiveStore, config: GatewayConfig | None = None) -> Gateway:
    """The one ``Gateway``, fed by ``store``'s archives."""
    return Gateway(standalone_config(config), source=ArchiveSource(store))


Response = tuple[int, bytes, bytes]  # status, body, content type


def _json(status: int, body: Any) -> Response:
    return status, json.dumps(body).encode(), b"application/json"


def _error(status: int, message: str, description: str) -> Response:
    return _json(status, {"code": status, "message": message, "description": description})


class Adapter:
    """The adapter REST API of Choreo Connect (the subset ``apictl mg`` uses), as ASGI."""

    TOKEN_VALIDITY = 3600

    def __init__(self, gateway: Gateway, store: ArchiveStore):
        self.gateway = gateway
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.gateway.ensure_started()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    ACCESS.flush()  # the access lines waiting (gateway/accesslog.py)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_UPLOAD + 65536:
                status, payload, ctype = _error(413, "Payload Too Large", "archives are limited to 10 MiB")
                break
            if not message.get("more_body"):
                status, payload, ctype = await self.handle(scope, body)
                break
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _authorized(self, headers: dict[str, str]) -> str | None:
        value = headers.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "basic":
            user, status, _ = self.gateway.testkey.authenticate(value)
            return user if status == 200 else None
        if scheme.lower() == "bearer":
            try:
                token = jwt.decode(credential.strip(), KeySet([self.gateway.testkey.key]), algorithms=["RS256"])
                jwt.JWTClaimsRegistry(exp={"essential": True}).validate(token.claims)
            except (JoseError, ValueError, TypeError):  # TypeError: odd header members ("crit": 1)
                return None
            if token.claims.get("scope") == "admin" and token.claims.get("aud") == "tidegate-adapter":
                return token.claims.get("sub")
        return None

    async def handle(self, scope: Scope, body: bytes) -> Response:
        headers = request_headers(scope)
        path, method = scope["path"].rstrip("/"), scope["method"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        if not path.startswith(ADAPTER_BASE):
            return _error(404, "Not Found", f"No resource at {path}")
        route = path[len(ADAPTER_BASE) :]
        if route == "/oauth2/token" and method == "POST":
            user, status, reason = self.gateway.testkey.authenticate(headers.get("authorization"))
            if user is None:
                return _error(401, "Unauthorized", reason)
            now = int(time.time())
            token = jwt.encode(
                {"alg": "RS256", "kid": self.gateway.testkey.key.kid},
                {
                    "sub": user,
                    "scope": "admin",
                    "aud": "tidegate-adapter",
                    "iat": now,
                    "exp": now + self.TOKEN_VALIDITY,
                },
                KeySet([self.gateway.testkey.key]),
            )
            return _json(200, {"accessToken": token})
        if self._authorized(headers) is None:
            return _error(401, "Unauthorized", "Basic credentials of a gateway user, or a token from /oauth2/token")
        try:
            if route == "/apis" and method == "GET":
                return self._list(query)
            if route == "/apis" and method == "POST":
                return await self._deploy(headers, body, query)
            if (route == "/apis" and method == "DELETE") or (route == "/apis/delete" and method == "POST"):
                return await self._undeploy(query, body)
        except ArchiveRefused as exc:
            return _error(exc.status, exc.message, exc.description)
        return _error(405 if route == "/apis" else 404, "Not Found", f"No {method} {path}")

    def _list(self, query: dict[str, str]) -> Response:
        apis = sorted(self.store.apis.values(), key=lambda a: (a.name, a.version))
        raw = query.get("limit", "")
        limit = int(raw) if raw.isascii() and raw.isdigit() else 0  # "²" is a digit to isdigit, not to int
        shown = apis[:limit] if limit else apis
        items = [
            {
                "apiName": a.name,
                "version": a.version,
                "apiType": "WS",
                "context": f"{a.context}/{a.version}",
                "gateway-envs": ["Default"],
                "vhost": "localhost",
            }
            for a in shown
        ]
        return _json(200, {"total": len(apis), "count": len(items), "list": items})

    async def _deploy(self, headers: dict[str, str], body: bytes, query: dict[str, str]) -> Response:
        content = _multipart_file(headers.get("content-type", ""), body)
        if content is None:
            return _error(400, "Bad Request", "send the API project archive as multipart 'file'")
        api, action = self.store.deploy(content, override=query.get("override", "").lower() == "true")
        await self.gateway.sync_once(cause="deploy")
        log.info("deployed %s %s (%s)", api.name, api.version, action)
        return _json(
            200, {"action": action, "info": f"API {api.name} {api.version} deployed at {api.context}/{api.version}"}
        )

    async def _undeploy(self, query: dict[str, str], body: bytes) -> Response:
        name, version = query.get("apiName"), query.get("version")
        if not (name and version) and body:
            try:
                data = json.loads(body)
                name, version = data.get("apiName"), data.get("version")
            except (ValueError, AttributeError):
                pass
        if not (name and version):
            return _error(400, "Bad Request", "apiName and version are required")
        api = self.store.undeploy(name, version)
        await self.gateway.sync_once(cause="undeploy")  # open connections of the API close with 1001
        return _json(200, {"action": "DELETED", "info": f"API {api.name} {api.version} undeployed"})


def _multipart_file(content_type: str, body: bytes) -> bytes | None:
    """The ``file`` part of a multipart/form-data body (the standard library parses it)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None
