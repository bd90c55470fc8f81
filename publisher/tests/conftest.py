"""A user with both Publisher roles, and a REST client signed in as that user."""

import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def publisher():
    return factories.user("pub", roles=["creator", "publisher"])


@pytest.fixture
def client(publisher):
    c = APIClient()
    c.force_authenticate(publisher)
    return c
