"""Import by URL: fetch an AsyncAPI document from the web without becoming a way into
the network behind the portal (SSRF). The Admin Portal's "Test JWKS" of a key manager
fetches through the same guard (``fetch_url``).

http(s) only; every address the host name resolves to must be public unless
``TIDEGATE["IMPORT_URL_ALLOW_PRIVATE"]`` is set; the connection goes to the address that
was checked (the name is resolved once per hop, so a DNS answer that changes between the
check and the connection, rebinding, cannot send it elsewhere; TLS still verifies the
certificate against the host name, with the system's trust store, which SSL_CERT_FILE
overrides); redirects are followed by hand, at most three, each hop
checked the same way; the body is bounded in size and the whole fetch in time. The fetch
connects directly: HTTP proxy settings of the environment are not used, since a proxy would
resolve the name again on its side.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from urllib.parse import SplitResult, urljoin, urlsplit

import urllib3
from django.conf import settings

from portal.errors import ValidationFailed
from publisher.asyncapi import MAX_DOCUMENT_BYTES

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
ACCEPT = "application/yaml, application/json, text/plain, */*"


def _checked_addresses(parts: SplitResult, purpose: str) -> list[str]:
    """The addresses to connect to for the URL, in the resolver's order: its host name
    resolved once, every answer checked."""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"{purpose} takes an http:// or https:// URL with a host (got {parts.geturl()!r})")
    if parts.username or parts.password:
        raise ValidationFailed("The URL must not carry a user name or password")
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise ValidationFailed(f"Cannot resolve host {parts.hostname!r}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not settings.TIDEGATE["IMPORT_URL_ALLOW_PRIVATE"]:
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise ValidationFailed(
                    f"{parts.hostname} resolves to {address}, a loopback, private or reserved address: "
                    f"{purpose[0].lower() + purpose[1:]} fetches from public addresses only (TIDEGATE_IMPORT_URL_ALLOW_PRIVATE=1 "
                    "allows others)"
                )
    return list(dict.fromkeys(str(a) for a in addresses))


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _pool(parts: SplitResult, address: str, deadline: float) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to ``address`` that speaks to the URL's host (Host header, and
    for https the SNI name and the certificate check)."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=max(0.1, deadline - time.monotonic()))
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            _port(parts),
            timeout=timeout,
            retries=False,
            ssl_context=ssl.create_default_context(),  # the system's trust store, as the gateway's wss legs
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    return urllib3.HTTPConnectionPool(address, _port(parts), timeout=timeout, retries=False)


def fetch_definition(url: str) -> bytes:
    """The AsyncAPI document at ``url``, or ValidationFailed saying why not."""
    return fetch_url(url, purpose="Import by URL", max_bytes=MAX_DOCUMENT_BYTES, accept=ACCEPT)


def fetch_url(url: str, *, purpose: str, max_bytes: int, accept: str = "*/*") -> bytes:
    """The body at ``url``, at most ``max_bytes``, fetched under the guards above, or
    ValidationFailed saying why not (``purpose`` names the feature in its messages)."""
    deadline = time.monotonic() + TOTAL_TIMEOUT
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        addresses = _checked_addresses(parts, purpose)
        try:
            body, location = _get(parts, addresses, deadline, max_bytes, accept)
        except urllib3.exceptions.NewConnectionError:  # a subclass of the timeout error: first
            raise ValidationFailed(f"Fetching {url} failed: could not connect to the host") from None
        except urllib3.exceptions.TimeoutError:
            raise ValidationFailed(f"Fetching {url} timed out") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ValidationFailed(f"Fetching {url} failed: {type(exc).__name__}") from None
        if location is None:
            return body
        url = urljoin(url, location)
    raise ValidationFailed(f"More than {MAX_REDIRECTS} redirects")


def _get(
    parts: SplitResult, addresses: list[str], deadline: float, max_bytes: int, accept: str
) -> tuple[bytes, str | None]:
    """GET the URL from the first of ``addresses`` that accepts a connection: the body, or
    the Location of a redirect."""
    *others, last = addresses
    for address in others:
        try:
            return _get_from(parts, address, deadline, max_bytes, accept)
        except urllib3.exceptions.NewConnectionError:
            continue  # the next address the name resolved to
    return _get_from(parts, last, deadline, max_bytes, accept)


def _get_from(
    parts: SplitResult, address: str, deadline: float, max_bytes: int, accept: str
) -> tuple[bytes, str | None]:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with _pool(parts, address, deadline) as pool:
        resp = pool.urlopen(
            "GET",
            target,
            headers={"Host": parts.netloc, "Accept": accept},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                return b"", resp.headers["Location"]
            return _body(parts.geturl(), resp, deadline, max_bytes), None
        finally:
            resp.release_conn()


def _body(url: str, resp: urllib3.BaseHTTPResponse, deadline: float, max_bytes: int) -> bytes:
    if resp.status != 200:
        raise ValidationFailed(f"Fetching {url} answered HTTP {resp.status}")
    declared = resp.headers.get("Content-Length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise ValidationFailed(f"The document at {url} is larger than {max_bytes} bytes")
    body = bytearray()
    for chunk in resp.stream(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise ValidationFailed(f"The document at {url} is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ValidationFailed(f"Fetching {url} took longer than {TOTAL_TIMEOUT:.0f} s")
    return bytes(body)
