import time

from django.core.management.base import BaseCommand, CommandError

from sources import reliability


class Command(BaseCommand):
    help = (
        "Rebuild the reliability report's stored aggregates from the citations and "
        "rulings; with --check, only compare them with a fresh computation and "
        "fail if any drift."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; count drifting rows and exit non-zero if any.",
        )

    def handle(self, *args, check: bool, **options):
        started = time.monotonic()
        if check:
            drifting = reliability.drift()
            for table, count in drifting.items():
                self.stdout.write(f"{table}: {count} row(s) differ")
            if any(drifting.values()):
                raise CommandError(
                    "The stored reliability aggregates drift from a fresh "
                    "computation; run rebuild_reliability without --check to repair."
                )
            self.stdout.write("No drift: the stored aggregates equal fresh ones.")
            return
        counts = reliability.rebuild()
        figures = ", ".join(f"{count} {table}" for table, count in counts.items())
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Rebuilt the reliability aggregates: {figures} ({elapsed:.1f} s)."
        )
