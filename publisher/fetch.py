"""Import by URL: fetch an AsyncAPI document from the web without becoming a way into
the network behind the portal (SSRF).

http(s) only; every address the host name resolves to must be public unless
``TIDEGATE["IMPORT_URL_ALLOW_PRIVATE"]`` is set; redirects are followed by hand, at most
three, each hop checked the same way; the body is bounded in size and the whole fetch in
time. Left: a host whose DNS answer changes between the check and the connection
(rebinding) is not pinned to the checked address.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from portal.errors import ValidationFailed
from publisher.asyncapi import MAX_DOCUMENT_BYTES

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"Import by URL takes an http:// or https:// URL with a host (got {url!r})")
    if parts.username or parts.password:
        raise ValidationFailed("The URL must not carry a user name or password")
    if settings.TIDEGATE["IMPORT_URL_ALLOW_PRIVATE"]:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ValidationFailed(f"Cannot resolve host {parts.hostname!r}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise ValidationFailed(
                f"{parts.hostname} resolves to {address}, a loopback, private or reserved address: "
                "import by URL fetches from public addresses only (TIDEGATE_IMPORT_URL_ALLOW_PRIVATE=1 allows others)"
            )


def fetch_definition(url: str) -> bytes:
    """The body at ``url``, or ValidationFailed saying why not."""
    deadline = time.monotonic() + TOTAL_TIMEOUT
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(url)
        try:
            with requests.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, max(0.1, deadline - time.monotonic())),
                headers={"Accept": "application/yaml, application/json, text/plain, */*"},
            ) as resp:
                if resp.is_redirect:
                    url = urljoin(url, resp.headers.get("Location", ""))
                    continue
                if resp.status_code != 200:
                    raise ValidationFailed(f"Fetching {url} answered HTTP {resp.status_code}")
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                    raise ValidationFailed(f"The document at {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
                body = bytearray()
                for chunk in resp.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise ValidationFailed(f"The document at {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise ValidationFailed(f"Fetching {url} took longer than {TOTAL_TIMEOUT:.0f} s")
                return bytes(body)
        except requests.Timeout:
            raise ValidationFailed(f"Fetching {url} timed out") from None
        except requests.RequestException as exc:
            raise ValidationFailed(f"Fetching {url} failed: {type(exc).__name__}") from None
    raise ValidationFailed(f"More than {MAX_REDIRECTS} redirects")
