"""Faults: the database connection dies in the middle of a multi-step write.

The claim entry page writes a claim, its citations, their audit rows and the
recomputed confirmation in one transaction. Here the app's own connection is
terminated from a second connection after the claim is written and before its
citation is, as a database restart or a network cut would.
"""

import time

import psycopg2
import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from analysts.models import AuditEntry
from claims import actions
from claims.models import Citation, Claim
from tests.conftest import on_postgres
from tests.factories import AnalystFactory, DocumentFactory, SourceFactory
from tests.test_claim_entry import citation, entry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not on_postgres(), reason="pg_terminate_backend needs PostgreSQL"
    ),
]

STATEMENT = "About 1,500 soldiers were moved to Vladivostok"


def second_connection():
    db = connection.settings_dict
    return psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )


def terminate(pid: int) -> None:
    """End backend ``pid`` from outside and wait until it has gone."""
    killer = second_connection()
    killer.autocommit = True
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} outlived pg_terminate_backend")
    finally:
        killer.close()


@pytest.fixture
def world():
    # An earlier transactional test's flush took the roles the migrations made.
    call_command("setup_roles", verbosity=0)
    alice = AnalystFactory(username="alice", roles=["Analyst"])
    source = SourceFactory(name="National Intelligence Service", grade="B")
    document = DocumentFactory(publisher=source)
    return {"alice": alice, "source": source, "document": document}


def claim_entry(world) -> dict:
    return entry(
        statement=STATEMENT,
        confirm_new="on",
        citations=[
            citation(world["document"], world["source"], excerpt="1,500 moved"),
            citation(world["document"], world["source"], excerpt="by ship"),
        ],
    )


def test_a_connection_killed_mid_write_leaves_nothing_half_written(world, monkeypatch):
    real_add_citation = actions.add_citation
    killed = []

    def add_citation_after_a_cut(actor, cited):
        if not killed:
            # The claim row and its audit row are written by now, uncommitted.
            assert Claim.objects.filter(statement=STATEMENT).exists()
            pid = connection.connection.get_backend_pid()
            terminate(pid)
            killed.append(pid)
        return real_add_citation(actor, cited)

    monkeypatch.setattr(actions, "add_citation", add_citation_after_a_cut)
    audit_rows = AuditEntry.objects.count()
    client = Client(raise_request_exception=False)
    client.force_login(world["alice"])

    response = client.post(reverse("claims:claim_create"), claim_entry(world))

    assert killed, "the cut never happened"
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "Traceback" not in page and "psycopg2" not in page
    # Django dropped the broken connection; these queries use a new one.
    assert not Claim.objects.exists()
    assert not Citation.objects.exists()
    assert AuditEntry.objects.count() == audit_rows

    # The next request works, and the same entry saves whole.
    monkeypatch.setattr(actions, "add_citation", real_add_citation)
    assert client.get(reverse("claims:dashboard")).status_code == 200
    saved = client.post(reverse("claims:claim_create"), claim_entry(world))
    assert saved.status_code == 302
    claim = Claim.objects.get()
    assert claim.citations.count() == 2
    assert claim.level == "single_source"
    assert AuditEntry.objects.count() == audit_rows + 3


def test_a_connection_killed_between_requests_is_replaced_quietly(world):
    client = Client(raise_request_exception=False)
    client.force_login(world["alice"])
    assert client.get(reverse("claims:dashboard")).status_code == 200
    connection.ensure_connection()
    terminate(connection.connection.get_backend_pid())

    # What Django does when a request starts; the test client leaves it out so
    # that tests can run in one transaction. With CONN_HEALTH_CHECKS the first
    # query then finds the connection dead and opens a new one rather than
    # failing the request.
    close_old_connections()
    assert client.get(reverse("claims:dashboard")).status_code == 200
    assert client.get(reverse("healthz")).json() == {"status": "ok", "database": "ok"}
