"""The Admin Portal's frame: for admins only, reached from every portal's navigation."""

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


def _signed_in(*roles):
    client = Client()
    client.force_login(factories.user("u-" + "-".join(roles or ("none",)), roles=list(roles)))
    return client


def test_an_admin_reaches_the_admin_portal_from_the_navigation():
    client = _signed_in("admin")
    home = client.get("/devportal/")
    assert 'href="/admin-portal/"' in home.content.decode()
    page = client.get("/admin-portal/")
    assert page.status_code == 200
    assert "<h1>Admin Portal</h1>" in page.content.decode()


@pytest.mark.parametrize("roles", [(), ("creator",), ("publisher",), ("creator", "publisher")])
def test_no_one_else_sees_the_link_or_the_page(roles):
    client = _signed_in(*roles)
    assert 'href="/admin-portal/"' not in client.get("/devportal/").content.decode()
    assert client.get("/admin-portal/").status_code == 403
