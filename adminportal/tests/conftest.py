import html

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def admin(db):
    return factories.user("root", roles=["admin"])


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


def text(response) -> str:
    """A page's HTML with entities decoded, for asserting on what a person reads."""
    return html.unescape(response.content.decode())
