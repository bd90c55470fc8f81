"""Origins as allow-lists hold them and the gateway compares them (gateway_contract.origins)."""

import pytest

from gateway_contract.origins import origin_allowed, origin_normalise

LIST = tuple(
    origin_normalise(o, wildcard=True)
    for o in ("https://app.example.com", "https://*.example.org", "http://localhost:3000", "http://[::1]:8080")
)


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),  # the default port is no port
        ("HTTPS://APP.EXAMPLE.COM", True),
        ("http://app.example.com", False),  # another scheme
        ("https://app.example.com:8443", False),  # another port
        ("https://api.example.com", False),
        ("https://a.example.org", True),
        ("https://a.b.example.org", True),  # any depth
        ("https://example.org", False),  # not a subdomain of itself
        ("https://evilexample.org", False),
        ("https://a.example.org.evil.net", False),
        ("https://a.example.org:444", False),
        ("http://localhost:3000", True),
        ("http://localhost", False),
        ("http://[::1]:8080", True),
        ("null", False),  # sandboxed frames, file: pages
        ("https://app.example.com/", False),
        ("", False),
    ],
)
def test_an_origin_is_on_the_list_or_not(origin, allowed):
    assert origin_allowed(origin, LIST) is allowed


@pytest.mark.parametrize(
    "text",
    [
        "app.example.com",
        "https://",
        "https://a.com/x",
        "https://a.com?x",
        "https://u@a.com",
        "https://a.com:0",
        "https://a.com:65536",
        "https://-a.com",
        "https://a..com",
        "https://a_b.com",
        "https://*.",
        "https://*.*.a.com",
        "https://a.*.com",
        "https://[::1",
        "https://[zz]",
        " https://a.com",
        "https://a.com\n",
        "1https://a.com",
    ],
)
def test_what_is_not_an_origin(text):
    assert origin_normalise(text, wildcard=True) is None


def test_a_wildcard_only_where_a_list_takes_one():
    assert origin_normalise("https://*.example.org") is None
    assert origin_normalise("https://*.example.org", wildcard=True) == "https://*.example.org"
