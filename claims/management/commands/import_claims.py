import os
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from claims import imports


class Command(BaseCommand):
    help = (
        "Import claims from a CSV or JSON file (docs/import-format.md). Every row "
        "is checked; one problem and nothing is written. Claims whose external id "
        "exists are left as they are, so a second run changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="A .csv or .json file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and show what it would do; write nothing.",
        )
        parser.add_argument(
            "--user",
            help="Import as this user (the audit trail's actor and the logger of "
            "rows that name none). Without it every row names its logged_by.",
        )
        parser.add_argument(
            "--quiet-rows",
            action="store_true",
            help="Print the problems and the summary only, not a line per row.",
        )

    def handle(self, *args, file: str, dry_run: bool, user: str | None, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"There is no user {user!r}.")
        try:
            size = os.path.getsize(file)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        quiet = options["quiet_rows"]
        started = time.monotonic()
        with open(file, "rb") as stream:
            parsed = imports.read_file(stream, file, size)
            # The operator runs the command: it may import any record, in anyone's
            # name, with its rulings and grades.
            report = imports.Importer(
                actor,
                trusted=True,
                may_grade=True,
                dry_run=dry_run,
                label=os.path.basename(file),
                keep_rows=False,
                on_row=None if quiet else self.show_row,
            ).run(parsed)
        seconds = time.monotonic() - started
        for problem in report.problems:
            self.stderr.write(f"{problem}")
        if report.more_problems:
            self.stderr.write(f"… and more (the first {imports.MAX_PROBLEMS} shown).")
        if not report.ok:
            raise CommandError(
                f"{len(report.problems)} problem(s) in {file}: nothing was imported."
            )
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {file}: {report.summary()} ({seconds:.1f} s).")
        )

    def show_row(self, row: imports.RowReport) -> None:
        notes = "; ".join(row.notes)
        self.stdout.write(f"{row.where} [{row.external_id}] {row.outcome}: {notes}")
