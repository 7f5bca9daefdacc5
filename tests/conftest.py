"""The cast: tests read as specifications about named people.

alice and bob are analysts, rita a reviewer, max a manager, ada an administrator,
and nora holds no role at all.
"""

import pytest
from django.db import connection

from tests.factories import AnalystFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Argon2 is deliberately slow; tests of hashing itself override this."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return AnalystFactory(username="alice", roles=["Analyst"])


@pytest.fixture
def bob(db):
    return AnalystFactory(username="bob", roles=["Analyst"])


@pytest.fixture
def rita(db):
    return AnalystFactory(username="rita", roles=["Reviewer"])


@pytest.fixture
def max_(db):
    return AnalystFactory(username="max", roles=["Manager"])


@pytest.fixture
def ada(db):
    return AnalystFactory(username="ada", is_superuser=True, is_staff=True)


@pytest.fixture
def nora(db):
    return AnalystFactory(username="nora")


@pytest.fixture
def as_user(client):
    """as_user(alice) -> the test client signed in as alice."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
