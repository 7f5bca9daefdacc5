"""Replace the database's contents with a backup made by ``backup``.

PostgreSQL: pg_restore into the DATABASE_URL database in one transaction, so
a failed restore leaves the database as it was. SQLite: the online backup API
copies the backup over the database file. Stop the app first; run ``migrate``
afterwards when the backup comes from an older release.
"""

import sqlite3
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from analysts.management.commands.backup import (
    check_sqlite_file,
    pg_environment,
    pg_tool,
    run_tool,
    sqlite_connection,
    vendor,
)


def restore(path: Path, alias: str = DEFAULT_DB_ALIAS) -> None:
    if vendor(alias) == "postgresql":
        db = connections[alias].settings_dict
        connections[alias].close()
        run_tool(
            [
                pg_tool("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--clean",
                "--if-exists",
                "--no-owner",
                f"--dbname={db['NAME']}",
                str(path),
            ],
            pg_environment(db),
        )
        return
    check_sqlite_file(path)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.backup(sqlite_connection(alias))
    finally:
        source.close()


class Command(BaseCommand):
    # A backup or restore must work even when the app's own checks fail.
    requires_system_checks = []
    help = (
        "Replace everything in the database (DATABASE_URL, or the SQLite file) "
        "with a backup made by the backup command."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="The backup file to restore.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args, path: str, interactive: bool = True, **options) -> None:
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"No backup file at {source}.")
        name = connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
        if interactive:
            answer = input(
                f"This replaces everything in the {vendor()} database {name} with "
                f"{source}. Type 'yes' to go on: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        restore(source)
        self.stdout.write(f"Restored {source} into the {vendor()} database {name}.")
