"""Where a connection goes upstream: the endpoint URL without the topic path, unless the
topic has a URL mapping (its path appended, ``{uri.var.X}`` filled, its query added)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

_VAR = re.compile(r"\{uri\.var\.([^}]+)\}")

# Never sent upstream: the gateway consumed them.
CREDENTIAL_QUERY_PARAMS = frozenset({"access_token"})


def _fill(template: str, params: dict[str, str], *, quoted: bool) -> str:
    def value(m: re.Match[str]) -> str:
        raw = params.get(m.group(1), "")
        return quote(raw, safe="") if quoted else raw

    return _VAR.sub(value, template)


def backend_url(endpoint: str, uri_mapping: str, params: dict[str, str], client_query: str) -> str:
    scheme, netloc, path, query, _ = urlsplit(endpoint)
    pairs = parse_qsl(query, keep_blank_values=True)
    if uri_mapping:
        map_path, _, map_query = uri_mapping.partition("?")
        path = path.rstrip("/") + _fill(map_path, params, quoted=True)
        for name, value in parse_qsl(map_query, keep_blank_values=True):
            pairs.append((name, _fill(value, params, quoted=False)))
    pairs += [(k, v) for k, v in parse_qsl(client_query, keep_blank_values=True) if k not in CREDENTIAL_QUERY_PARAMS]
    return urlunsplit((scheme, netloc, path or "/", urlencode(pairs), ""))
