from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from claims.confirmation_store import drift, recompute_claims
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
            drifting = drift()
            for claim_id, detail in drifting:
                self.stdout.write(f"claim #{claim_id}: {detail}")
            if drifting:
                raise CommandError(
                    f"{len(drifting)} claim(s) drift from a fresh computation."
                )
            self.stdout.write("No drift: every stored confirmation equals a fresh one.")
            return
        ids = Claim.objects.order_by("pk").values_list("pk", flat=True)
        with transaction.atomic():
            changed = recompute_claims(ids, flag_rereview=False)
        self.stdout.write(f"Recomputed {len(ids)} claims; {changed} changed.")
