"""Back up the whole database to one file, while the app keeps running.

PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot; restore with
pg_restore). SQLite: the online backup API, which copies a consistent snapshot
even while other connections write. ``restore`` reads either kind back.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

SUFFIX = {"postgresql": ".dump", "sqlite": ".sqlite3"}


def vendor(alias: str = DEFAULT_DB_ALIAS) -> str:
    name = connections[alias].vendor
    if name not in SUFFIX:
        raise CommandError(f"Backups support PostgreSQL and SQLite, not {name}.")
    return name


def pg_environment(db: dict) -> dict[str, str]:
    """libpq's variables for the Django connection settings ``db``: the password
    travels in the environment, never on a command line others can read."""
    env = dict(os.environ)
    values = {
        "PGDATABASE": db.get("NAME"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGHOST": db.get("HOST"),
        "PGPORT": db.get("PORT"),
    }
    options = db.get("OPTIONS") or {}
    for option, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ):
        values[variable] = options.get(option)
    for variable, value in values.items():
        if value not in (None, ""):
            env[variable] = str(value)
    # The app's statement_timeout (OPTIONS["options"]) must not cut a long dump
    # or restore short, so libpq is given none of the app's "options".
    env.pop("PGOPTIONS", None)
    return env


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CommandError(
            f"{name} is not installed: install the PostgreSQL client tools "
            "(postgresql-client) of the server's major version or newer."
        )
    return path


def run_tool(command: list[str], env: dict[str, str]) -> None:
    # The command is pg_dump or pg_restore with arguments built here, no shell.
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise CommandError(
            f"{Path(command[0]).name} failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()}"
        )


def sqlite_connection(alias: str = DEFAULT_DB_ALIAS) -> sqlite3.Connection:
    connection = connections[alias]
    connection.ensure_connection()
    return connection.connection


def check_sqlite_file(path: Path) -> None:
    """Refuses a file that is not a sound SQLite database."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = db.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise CommandError(f"{path} is not a SQLite database: {exc}") from None
    if not result or result[0] != "ok":
        raise CommandError(f"{path} is damaged: {result}")


def back_up(path: Path, alias: str = DEFAULT_DB_ALIAS) -> None:
    # Written beside the target and renamed at the end: a failed backup never
    # leaves a partial file under the name of a good one.
    partial = path.with_name(path.name + ".partial")
    try:
        if vendor(alias) == "postgresql":
            run_tool(
                [pg_tool("pg_dump"), "--format=custom", f"--file={partial}"],
                pg_environment(connections[alias].settings_dict),
            )
        else:
            target = sqlite3.connect(partial)
            try:
                sqlite_connection(alias).backup(target)
            finally:
                target.close()
            check_sqlite_file(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def default_path() -> Path:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return settings.DATA_DIR / "backups" / f"claims-{stamp}{SUFFIX[vendor()]}"


class Command(BaseCommand):
    # A backup or restore must work even when the app's own checks fail.
    requires_system_checks = []
    help = (
        "Back up the database (DATABASE_URL, or the SQLite file) to one file: "
        "pg_dump's custom format for PostgreSQL, a SQLite file otherwise."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            help="Where to write the backup (default: DATA_DIR/backups/"
            "claims-<UTC time>.dump or .sqlite3).",
        )

    def handle(self, *args, path: str | None = None, **options) -> None:
        target = Path(path) if path else default_path()
        if target.exists():
            raise CommandError(f"{target} exists already; choose another name.")
        target.parent.mkdir(parents=True, exist_ok=True)
        back_up(target)
        size = target.stat().st_size
        self.stdout.write(
            f"Backed up the {vendor()} database to {target} ({size:,} bytes)."
        )
