from django.apps import apps
from django.core.management.base import BaseCommand

from analysts.roles import ROLE_PERMISSIONS, ensure_roles


class Command(BaseCommand):
    help = "Create or repair the Analyst, Reviewer and Manager groups (idempotent)."

    def handle(self, *args, **options):
        ensure_roles(apps)
        self.stdout.write(f"Roles ready: {', '.join(ROLE_PERMISSIONS)}.")
