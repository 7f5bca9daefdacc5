from django.conf import settings
from django.core.management.base import BaseCommand

from claims.demo import credentials, is_loaded, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo world (claims from JINF Speaking Out #1192) and its demo "
        "users. Idempotent: a second run changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do nothing if the demo is already loaded (still print the users).",
        )

    def handle(self, *args, once: bool = False, **options) -> None:
        if not settings.DEBUG:
            # The passwords are printed and published; a real deployment must
            # not hold these accounts.
            self.stderr.write(
                self.style.WARNING(
                    "DEBUG is off: the demo users' passwords are public. Do not "
                    "load the demo into a database real people use."
                )
            )
        if once and is_loaded():
            self.stdout.write("Demo data already loaded; nothing to do.")
        else:
            load_demo(stdout=self.stdout)
        self.stdout.write(
            "Demo users (published passwords; an account that existed before the "
            "demo keeps its own):"
        )
        for user in credentials():
            self.stdout.write(
                f"  {user['username']:<7} {user['password']:<18} {user['role']}"
            )
