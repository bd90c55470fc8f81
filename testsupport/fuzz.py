"""Hypothesis strategies every parser's property tests share: values of any JSON-like shape
(with hostile text) and a valid value with a few of its parts replaced or removed."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from hypothesis import strategies as st

# Text of every kind: any code point (lone surrogates and NUL included).
any_text = st.text(st.characters(exclude_categories=[]), max_size=20)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.sampled_from(["", "7", "true", "null", "/", "{}", "[]", "~", "\x00", "\ud800"]),
    st.builds(lambda n: "a" * n, st.sampled_from([65_536, 65_537, 200_000])),  # past the text limit
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)


def paths(value: Any, path: tuple = ()):
    """Every position in ``value`` (the root is ``()``)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*path, i))


@st.composite
def mutated(draw, base, values=json_values, *, root: bool = False):
    """``base`` (a value, or a strategy for one) with one to three values replaced by one of
    ``values``, or a key removed, at any position; the whole of it too when ``root``."""
    data = draw(base) if isinstance(base, st.SearchStrategy) else copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(data))))
        if not path:
            if root:
                return draw(values)
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return data


def _b64url(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@st.composite
def forged_jwts(draw) -> str:
    """Three-part tokens whose header and payload are any JSON value (or raw bytes), the
    header mostly an RS256 one with odd members (``crit`` as a number, a list of numbers, ...):
    what a JOSE library's happy path never sees."""
    header = draw(
        st.one_of(
            st.fixed_dictionaries({"alg": st.just("RS256")}, optional={"crit": json_values, "kid": json_values}),
            json_values,
        )
    )
    payload = draw(st.one_of(json_values, st.binary(max_size=20)))
    signature = draw(st.sampled_from(["AAAA", "", "x" * 342]))
    return f"{_b64url(header)}.{_b64url(payload)}.{signature}"
