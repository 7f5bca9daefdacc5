from types import SimpleNamespace

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from claims.exports import write_export
from claims.filters import ClaimFilter
from claims.models import Claim


class Operator:
    """Whoever runs the command sees every record, as an administrator does: the
    filters' choices (sources, loggers) come from the access querysets."""

    pk = None
    is_authenticated = True
    is_superuser = True
    is_staff_member = True
    is_analyst = is_reviewer = is_manager = True


class Command(BaseCommand):
    help = (
        "Export claims in the import format (docs/import-format.md), all of them "
        "or those the claim list's filters select, to standard output or a file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--output", "-o", help="A file to write; default stdout.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A claim list filter, e.g. level=corroborated or topic=3; may be "
            "repeated, or given as one query string (level=a&level=b).",
        )

    def handle(self, *args, format: str, output: str | None, **options) -> None:
        query = QueryDict(mutable=True)
        for item in options["filter"]:
            if "=" not in item:
                raise CommandError(f"Give filters as NAME=VALUE, not {item!r}.")
            for name, values in QueryDict(item).lists():
                for value in values:
                    query.appendlist(name, value)
        request = SimpleNamespace(user=Operator(), GET=query)
        filterset = ClaimFilter(query, queryset=Claim.objects.all(), request=request)
        if not filterset.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(errors)}"
                for name, errors in filterset.errors.items()
            )
            raise CommandError(f"The filters are not valid: {problems}")
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                write_export(filterset.qs, format, out.write)
        else:
            write_export(
                filterset.qs, format, lambda text: self.stdout.write(text, ending="")
            )
