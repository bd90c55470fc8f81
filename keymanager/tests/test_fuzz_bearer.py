"""Bearer tokens on the REST APIs (Hypothesis): a forged JWT of any shape is a 401 with the
JSON error body, never a server error. The review's finding (``"crit": 1`` in the header made
the JOSE library raise a TypeError) is the regression test at the end."""

import pytest
from django.test import Client
from hypothesis import given

from testsupport.fuzz import forged_jwts
from testsupport.hypothesis_profiles import examples

pytestmark = pytest.mark.django_db
PATHS = ("/api/am/devportal/v3/apis", "/api/am/publisher/v4/apis", "/api/am/admin/v4/environments")


@examples(150)
@given(token=forged_jwts())
def test_a_forged_bearer_token_of_any_shape_is_a_401(token):
    for path in PATHS:
        resp = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert resp.status_code == 401, (path, token, resp.content[:200])
        assert resp.json()["code"] == 401


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiAiUlMyNTYiLCAiY3JpdCI6IDF9.e30.AAAA",  # {"alg": "RS256", "crit": 1}
        "eyJhbGciOiAiUlMyNTYiLCAiY3JpdCI6IFsxXX0.e30.AAAA",  # {"alg": "RS256", "crit": [1]}
    ],
)
def test_a_header_with_a_crit_that_is_not_a_list_of_names_is_a_401(token):
    for path in PATHS:
        assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
