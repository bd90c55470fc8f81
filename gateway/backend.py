"""Where a connection goes upstream: the endpoint URL without the topic path, unless the
topic has a URL mapping (its path appended, ``{uri.var.X}`` filled, its query added).

Nothing the client sent can move the backend path above the endpoint's own: parameters
are percent-encoded whole (``/`` included) into the mapping's segments, and one that a
backend could still read as a dot segment or separator is refused (``admit`` answers 400
before this is reached; the check here keeps that true for any other caller). The
client's query can add parameters but not repeat the ones the endpoint or mapping set.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from gateway.routing import UnsafePath, unsafe_param

_VAR = re.compile(r"\{uri\.var\.([^}]+)\}")

# Never sent upstream: the gateway consumed them (a connect ticket too: gateway/tickets.py).
CREDENTIAL_QUERY_PARAMS = frozenset({"access_token", "apikey", "ticket"})


def _fill(template: str, params: dict[str, str], *, quoted: bool) -> str:
    def value(m: re.Match[str]) -> str:
        raw = params.get(m.group(1), "")
        if not quoted:
            return raw
        why = unsafe_param(raw)
        if why:
            raise UnsafePath(why)
        return quote(raw, safe="")

    return _VAR.sub(value, template)


def backend_url(endpoint: str, uri_mapping: str, params: dict[str, str], client_query: str) -> str:
    if not uri_mapping and not client_query:  # most handshakes: the endpoint alone
        return _endpoint_url(endpoint)
    return _build(endpoint, uri_mapping, params, client_query)


@functools.lru_cache(maxsize=256)
def _endpoint_url(endpoint: str) -> str:
    """An endpoint's URL with no mapping and no client query, built once per endpoint."""
    return _build(endpoint, "", {}, "")


def _build(endpoint: str, uri_mapping: str, params: dict[str, str], client_query: str) -> str:
    scheme, netloc, path, query, _ = urlsplit(endpoint)
    pairs = parse_qsl(query, keep_blank_values=True)
    if uri_mapping:
        map_path, _, map_query = uri_mapping.partition("?")
        path = path.rstrip("/") + _fill(map_path, params, quoted=True)
        for name, value in parse_qsl(map_query, keep_blank_values=True):
            pairs.append((name, _fill(value, params, quoted=False)))
    # The endpoint's and mapping's own parameters are not the client's to repeat: many
    # backends read the last of a repeated name, and some ignore the case of names.
    configured = {name.lower() for name, _ in pairs}
    pairs += [
        (k, v)
        for k, v in parse_qsl(client_query, keep_blank_values=True)
        if k not in CREDENTIAL_QUERY_PARAMS and k.lower() not in configured
    ]
    return urlunsplit((scheme, netloc, path or "/", urlencode(pairs), ""))
