"""Benchmark: downgrade a source cited by N claims and time the recomputation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_bench \\
        .venv/bin/python bench/grade_change.py --claims 100000

It EMPTIES the claim and source tables of the database it is pointed at, so it
refuses any database whose name does not contain "bench". A child process
migrates and fills the database (PostgreSQL COPY; bulk_create elsewhere) and
computes the initial confirmation; this process then times one
``actions.change_grade(manager, S, "E", ...)`` and reports claims touched,
seconds, claims per second, queries issued and its own peak RSS, which therefore
covers Django and the grade change, not the fill.

The world: a source S (grade B, its own origin) cited by every claim; an agency P,
part of a government G (another origin), also cited by a fraction of the claims,
so that downgrading S drops those from corroborated to single source; a few of
those are ruled confirmed, so the discrediting flag is exercised; and a few
corroborating and contradicting relations between neighbouring claims.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
if not os.environ.get("SECRET_KEY"):
    # Throwaway: the benchmark signs nothing that outlives the process.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402

from analysts.models import Analyst, AuditEntry  # noqa: E402
from claims import actions  # noqa: E402
from claims.confirmation_store import (  # noqa: E402
    claims_depending_on_sources,
    recompute_claims,
)
from claims.imports import copy_rows  # noqa: E402
from claims.models import (  # noqa: E402
    Citation,
    Claim,
    ClaimConfirmation,
    Relation,
    Review,
    excerpt_digest,
)
from sources.models import Document, GradeChange, Source  # noqa: E402

S_NAME = "Bench source S"
BATCH = 5000


def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def refuse_unless_bench() -> None:
    name = database_name()
    if "bench" not in Path(name).name.lower() and "bench" not in name.lower():
        sys.exit(
            f"Refusing to run against database {name!r}: the benchmark empties "
            "the claim and source tables; use a database whose name contains "
            "'bench'."
        )


# Filling ------------------------------------------------------------------------------


def empty_tables() -> None:
    """Remove every claim, source and audit row (users stay)."""
    ordered = [
        AuditEntry,
        Review,
        Relation,
        Citation,
        Claim.places.through,
        ClaimConfirmation,
        Claim,
        GradeChange,
        Document,
        Source,
    ]
    tables = [model._meta.db_table for model in ordered]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            # CASCADE reaches tables added later that point at these.
            cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608


def _db_value(field: models.Field, obj: models.Model):
    value = field.pre_save(obj, add=True)
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    return field.get_db_prep_save(value, connection)


def insert_rows(model: type[models.Model], template: models.Model, rows: list[dict]):
    """Insert one row per dict, each the template with the dict's attributes set.

    PostgreSQL gets one COPY; other databases bulk_create in batches. Only the
    columns that vary are converted per row, so schema additions with defaults
    need no change here.
    """
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    if connection.vendor != "postgresql":
        objs = []
        for row in rows:
            obj = model(**{f.attname: getattr(template, f.attname) for f in fields})
            for name, value in row.items():
                setattr(obj, name, value)
            objs.append(obj)
        # The base manager's, which adds no rows of its own: a claim's
        # ClaimConfirmation is inserted by the caller, as on PostgreSQL.
        model._base_manager.bulk_create(objs, batch_size=BATCH)
        return
    fixed = {f.attname: _db_value(f, template) for f in fields}
    by_attname = {f.attname: f for f in fields}
    probe = model()
    lines = []
    for row in rows:
        values = dict(fixed)
        for name, value in row.items():
            setattr(probe, name, value)
            values[name] = _db_value(by_attname[name], probe)
        lines.append([values[f.attname] for f in fields])
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        copy_rows(cursor, f"{table} ({columns})", lines)


def fill(n: int, corroborated_share: float, related_share: float, ruled_share: float):
    started = time.perf_counter()
    empty_tables()
    user = Analyst.objects.filter(username="bench-manager").first()
    if user is None:
        user = Analyst.objects.create_user("bench-manager", password=None)
    s = Source(name=S_NAME, kind=Source.Kind.AGENCY, grade="B")
    s.save()
    government = Source(name="Bench government G", kind="government", grade="B")
    government.save()
    agency = Source(name="Bench agency P", kind="agency", grade="C", parent=government)
    agency.save()
    document = Document(title="Bench document", publisher=s, kind="report")
    document.save()

    every = max(1, round(1 / ruled_share)) if ruled_share else 0
    insert_rows(
        Claim,
        Claim(statement="", logged_by=user),
        [
            {
                "statement": f"Bench claim {i} happened.",
                "status": "confirmed" if every and i % every == 0 else "open",
            }
            for i in range(n)
        ],
    )
    claim_ids = list(Claim.objects.order_by("pk").values_list("pk", flat=True))
    insert_rows(
        ClaimConfirmation, ClaimConfirmation(), [{"claim_id": pk} for pk in claim_ids]
    )
    excerpt = "The bench source says so."
    template = Citation(
        document=document,
        source=s,
        supports=True,
        excerpt=excerpt,
        excerpt_digest=excerpt_digest(excerpt),
        credibility=2,
        grade_at_citation="B",
        created_by=user,
    )
    second = round(1 / corroborated_share) if corroborated_share else 0
    citations = [{"claim_id": pk} for pk in claim_ids]
    citations += [
        {"claim_id": pk, "source_id": agency.pk, "grade_at_citation": "C"}
        for i, pk in enumerate(claim_ids)
        if second and i % second == 0
    ]
    insert_rows(Citation, template, citations)

    pairs = int(n * related_share / 2)
    relations = [
        Relation(
            claim_a_id=claim_ids[2 * k],
            claim_b_id=claim_ids[2 * k + 1],
            kind="corroborates" if k % 2 == 0 else "contradicts",
            rationale="Benchmark relation.",
            created_by=user,
        )
        for k in range(pairs)
    ]
    Relation.objects.bulk_create(relations, batch_size=BATCH)
    filled = time.perf_counter() - started

    started = time.perf_counter()
    with transaction.atomic():
        recompute_claims(claim_ids, flag_rereview=False)
    initial = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # As autovacuum would have by the time anyone changes a grade: the
        # initial recompute left a dead version of every claim row behind.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(
        f"filled {n:,} claims, {len(citations):,} citations, {pairs:,} relations "
        f"in {filled:.1f} s; initial recompute of {n:,} claims in {initial:.1f} s "
        f"({n / initial:,.0f} claims/s)"
    )


# Timing -------------------------------------------------------------------------------


class QueryCounter:
    """Counts statements and the time spent waiting for them, without keeping
    them: CaptureQueriesContext holds every SQL string, too heavy at this scale."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def time_grade_change(new_grade: str) -> None:
    manager = Analyst.objects.get(username="bench-manager")
    s = Source.objects.get(name=S_NAME)
    dependent = len(claims_depending_on_sources([s.pk]))
    rss_before = rss_kib()
    counter = QueryCounter()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(counter), transaction.atomic():
        changed = actions.change_grade(manager, s, new_grade, "Benchmark downgrade.")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    flagged = Claim.objects.filter(needs_rereview=True).count()
    print(f"database: {connection.vendor} {database_name()}")
    print(f"change_grade(S, {new_grade}): {dependent:,} dependent claims recomputed")
    print(f"  claims whose stored confirmation changed: {changed:,}")
    print(f"  flagged for re-review: {flagged:,}")
    print(f"  seconds: {seconds:.2f}")
    print(f"  claims/second: {dependent / seconds:,.0f}")
    print(
        f"  of which waiting for queries: {counter.seconds:.2f} s; "
        f"CPU of this process: {cpu:.2f} s"
    )
    print(f"  queries: {counter.count}")
    print(
        f"  RSS before: {rss_before / 1024:.0f} MiB; "
        f"peak RSS of this process: {peak / 1024:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument(
        "--corroborated",
        type=float,
        default=0.3,
        help="share of claims with a second, independent origin (default 0.3)",
    )
    parser.add_argument(
        "--related",
        type=float,
        default=0.02,
        help="share of claims in a relation with a neighbour (default 0.02)",
    )
    parser.add_argument(
        "--ruled",
        type=float,
        default=0.05,
        help="share of claims ruled confirmed (default 0.05)",
    )
    parser.add_argument("--grade", default="E", help="the new grade of S")
    parser.add_argument(
        "--fill-only", action="store_true", help=argparse.SUPPRESS
    )  # the child process
    parser.add_argument(
        "--no-fill",
        action="store_true",
        help="reuse the data of an earlier run (S must not have the new grade yet)",
    )
    args = parser.parse_args()
    refuse_unless_bench()
    if args.fill_only:
        call_command("migrate", verbosity=0, interactive=False)
        fill(args.claims, args.corroborated, args.related, args.ruled)
        return
    if not args.no_fill:
        # Filled in a child so that this process's peak RSS is the grade change's.
        subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--fill-only", *sys.argv[1:]], check=True
        )
    time_grade_change(args.grade)


if __name__ == "__main__":
    main()
