"""Backups: the demo database, backed up and restored into an empty database,
comes back whole: every claim, citation, ruling and audit record, and the same
confirmation results."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.conftest import on_postgres
from tests.test_foundation import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

# What must come back, row for row, in a stable order.
CONTENTS = {
    "claims": "SELECT id, statement, status, level, version FROM claims_claim "
    "ORDER BY id",
    "confirmations": "SELECT claim_id, computed_level, likelihood, confidence, "
    "summary_rating, report_count FROM claims_confirmation ORDER BY claim_id",
    "citations": "SELECT id, claim_id, source_id, document_id, excerpt, credibility, "
    "grade_at_citation FROM claims_citation ORDER BY id",
    "relations": "SELECT id, claim_a_id, claim_b_id, kind, rationale "
    "FROM claims_relation ORDER BY id",
    "rulings": "SELECT id, claim_id, reviewer_id, outcome, rationale, created_at "
    "FROM claims_review ORDER BY id",
    "audit": "SELECT id, actor_id, actor_username, at, action, model, object_id, "
    "note FROM analysts_auditentry ORDER BY id",
    "sources": "SELECT id, name, grade, parent_id, origin_id FROM sources_source "
    "ORDER BY id",
    "grade_changes": "SELECT id, source_id, old_grade, new_grade, rationale "
    "FROM sources_gradechange ORDER BY id",
    "users": "SELECT id, username, password, is_active FROM analysts_analyst "
    "ORDER BY id",
}


def contents(cursor) -> dict[str, list[tuple]]:
    found = {}
    for name, sql in CONTENTS.items():
        cursor.execute(sql)
        found[name] = [tuple(row) for row in cursor.fetchall()]
    return found


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a process of its own, as an operator runs it."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATA_DIR"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def demo_world() -> dict[str, list[tuple]]:
    call_command("load_demo", verbosity=0)
    with connection.cursor() as cursor:
        world = contents(cursor)
    assert len(world["claims"]) >= 10
    assert world["citations"] and world["rulings"] and world["audit"]
    return world


def pg_admin_connection():
    db = connection.settings_dict
    admin = psycopg2.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    admin.autocommit = True
    return admin


@pytest.fixture
def scratch_database():
    """An empty PostgreSQL database beside the test database, dropped after."""
    name = f"{connection.settings_dict['NAME']}_restore"
    admin = pg_admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def database_url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"


@pytest.mark.skipif(not on_postgres(), reason="pg_dump/pg_restore need PostgreSQL")
def test_a_postgresql_backup_restores_whole_into_an_empty_database(
    demo_world, scratch_database, tmp_path
):
    backup = tmp_path / "claims.dump"
    call_command("backup", str(backup), verbosity=0)
    assert backup.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    url = database_url(scratch_database)
    restored = manage("restore", str(backup), "--no-input", DATABASE_URL=url)
    assert restored.returncode == 0, restored.stderr

    db = connection.settings_dict
    copy = psycopg2.connect(
        dbname=scratch_database,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    try:
        with copy.cursor() as cursor:
            assert contents(cursor) == demo_world
            # The audit trail stays append-only in the copy.
            cursor.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = 'analysts_auditentry'::regclass AND NOT tgisinternal"
            )
            assert cursor.fetchall() == [("analysts_auditentry_append_only",)]
    finally:
        copy.close()
    # The copy's inputs give the stored results: no drift.
    check = manage("recompute_confirmation", "--check", DATABASE_URL=url)
    assert check.returncode == 0, check.stdout + check.stderr
    # Restoring again over the restored copy replaces it cleanly.
    again = manage("restore", str(backup), "--no-input", DATABASE_URL=url)
    assert again.returncode == 0, again.stderr


@pytest.mark.skipif(on_postgres(), reason="the SQLite backup API needs SQLite")
def test_a_sqlite_backup_restores_whole_into_an_empty_file(demo_world, tmp_path):
    backup = tmp_path / "claims.sqlite3"
    call_command("backup", str(backup), verbosity=0)

    data_dir = tmp_path / "restored"
    restored = manage("restore", str(backup), "--no-input", DATA_DIR=str(data_dir))
    assert restored.returncode == 0, restored.stderr

    # Read the way Django reads (its converters turn timestamps into datetimes).
    copy = sqlite3.connect(
        data_dir / "claims.sqlite3",
        detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
    )
    try:
        assert contents(copy.cursor()) == demo_world
        triggers = copy.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'analysts_auditentry'"
        ).fetchall()
        assert triggers == [("analysts_auditentry_append_only",)]
    finally:
        copy.close()
    check = manage("recompute_confirmation", "--check", DATA_DIR=str(data_dir))
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_file_that_is_no_backup_is_refused_and_changes_nothing(db, tmp_path):
    call_command("load_demo", verbosity=0)
    with connection.cursor() as cursor:
        before = contents(cursor)
    junk = tmp_path / "claims.dump"
    junk.write_bytes(b"not a backup at all" * 100)

    with pytest.raises(CommandError):
        call_command("restore", str(junk), interactive=False, verbosity=0)

    with connection.cursor() as cursor:
        assert contents(cursor) == before


def test_a_backup_never_overwrites_a_file(db, tmp_path):
    existing = tmp_path / "claims.dump"
    existing.write_bytes(b"an older backup")
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(existing), verbosity=0)
    assert existing.read_bytes() == b"an older backup"
    assert not list(Path(tmp_path).glob("*.partial"))
