from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from claims.confirmation_store import drift, recompute_all
from claims.models import Claim


class Command(BaseCommand):
    help = (
        "Recompute every claim's stored confirmation; with --check, only compare "
        "stored results with fresh ones and fail if any drift."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; list drifting claims and exit non-zero if any.",
        )

    def handle(self, *args, check: bool, **options):
        if check:
            self.check_drift()
            return
        # A repair, not new evidence: it raises no "needs re-review" flags.
        with transaction.atomic():
            total, changed = recompute_all(flag_rereview=False)
        self.stdout.write(f"Recomputed {total} claims; {changed} changed.")

    def check_drift(self) -> None:
        drifting = drift()
        names = dict(
            Claim.objects.filter(pk__in=[pk for pk, _ in drifting])
            .exclude(external_id=None)
            .values_list("pk", "external_id")
        )
        for claim_id, detail in drifting:
            label = f"claim #{claim_id}"
            if claim_id in names:
                label += f" ({names[claim_id]})"
            self.stdout.write(f"{label}: {detail}")
        if drifting:
            raise CommandError(
                f"{len(drifting)} claim(s) drift from a fresh computation; "
                "run recompute_confirmation without --check to repair."
            )
        self.stdout.write("No drift: every stored confirmation equals a fresh one.")
