"""Keeping the stored confirmation true: set-wise recomputation from the database.

``recompute_claims`` works in batches of claims. Per batch it reads, in three
queries run as raw SQL (the ORM compiles each once per process, ``sql_for_ids``;
its per-row work is skipped), the relations one step out, every citation of the
batch and of the related claims (with the citing source's current grade and
origin and the document's retraction), and the claims' stored results and
rulings; computes each claim with the pure engine from those rows as they are
(``claims.confirmation.compute_rows``, without the explanation, which is not
stored); and writes the claims whose result changed with one UPDATE joined to
the new values. Ids and values travel as one parameter per column (PostgreSQL
arrays, SQLite JSON), never one per claim, so a grade change that reaches
100,000 claims costs a few dozen queries. On PostgreSQL those queries run in a
second thread, on the same connection, while this one computes
(``_database_work``).

Writers take turns. On PostgreSQL every function here that reads what depends on
what, or writes results, first takes one transaction-scoped advisory lock
(``lock_writers``), so two transactions changing inputs of the same claim cannot
both compute from a snapshot that lacks the other's change and leave the last
writer's stale result stored: whoever takes the lock second sees the first one's
committed inputs. A transaction that locks claim rows itself must take this lock
first (claims.actions does), or it can deadlock with a recomputation. SQLite
already lets one writing transaction in at a time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from claims import confirmation
from claims.models import Citation, Claim, ClaimConfirmation, Level, Relation
from sources.models import Document

# Claims read and written per round trip: five queries a batch (four reads, one
# write). Bigger batches mean fewer round trips and more memory.
BATCH = 5000
STORED_FIELDS = (
    "level",
    "computed_level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
    "confirmation_version",
)
# Stored in the same pass for the lists: the claim's citations and their
# distinct origins (supporting or denying, retracted or not).
COUNT_FIELDS = ("report_count", "origin_count")
# Where each is stored: the level on the claim, the rest on its
# ClaimConfirmation (the narrow rows a recomputation rewrites).
ON_CONFIRMATION = (*STORED_FIELDS[1:], *COUNT_FIELDS)
LEVEL = STORED_FIELDS.index("level")
COMPUTED_LEVEL = STORED_FIELDS.index("computed_level")
LIKELIHOOD = STORED_FIELDS.index("likelihood")
# Results kept per call for reuse, bounding memory.
CACHE_LIMIT = 20_000
BELOW_CORROBORATED = {Level.UNSOURCED, Level.SINGLE_SOURCE, Level.CONTESTED}
# Read through sources.models' document_retracted_idx.
RETRACTED_DOCUMENTS = Document.objects.filter(retracted=True).values("pk")
# pg_advisory_xact_lock key for "one confirmation writer at a time" ("claims").
WRITER_LOCK = 0x636C61696D73


# Taking turns ---------------------------------------------------------------------


def lock_writers() -> None:
    """Wait for any other transaction that is recomputing confirmation (PostgreSQL).

    Held until the caller's transaction ends; taking it again in the same
    transaction does not wait, nor ask the database. Outside a transaction it
    protects nothing, which is why every caller in claims.actions runs in one.
    """
    if connection.vendor != "postgresql":
        return
    if connection.in_atomic_block and any(
        func is _writers_locked for _sids, func, _robust in connection.run_on_commit
    ):
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])
    if connection.in_atomic_block:
        transaction.on_commit(_writers_locked)


def _writers_locked() -> None:
    """Nothing to do on commit: lock_writers registers it as its mark. Django
    keeps it among the transaction's on-commit callbacks until the transaction
    ends, and drops it when the savepoint it was registered in is rolled back,
    which is when PostgreSQL releases a lock taken there: while it is there,
    the lock is held."""


# Binding many values as one ---------------------------------------------------------


def id_list(ids: Iterable[int]):
    """The right-hand side of an ``__in`` lookup binding the ids as one parameter.

    Django binds (and prepares) every id of a plain list separately: seconds of
    Python for 100,000 ids, more than SQLite's variable limit, and a query
    PostgreSQL takes long to plan.
    """
    ids = [int(pk) for pk in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [_ids_parameter(ids)])
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [_ids_parameter(ids)])
    return ids


def _compile(queryset: QuerySet) -> tuple[str, list]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def _ids_parameter(ids: list[int]) -> str:
    """id_list's one parameter: a PostgreSQL array literal, a SQLite JSON list."""
    if connection.vendor == "postgresql":
        return _pg_array(ids, "bigint")
    return json.dumps(ids)


# An id no record has: where a compiled query's parameters hold its id_list, the
# ids of each call go.
_MARKER = -0x5EED5EED
_ONE_PARAMETER = ("postgresql", "sqlite")
_compiled: dict[tuple[str, str, str], tuple[str, tuple, tuple[int, ...]]] = {}


def sql_for_ids(
    name: str, build: Callable[[object], QuerySet], ids: Iterable[int]
) -> tuple[str, list]:
    """``build(id_list(ids))`` compiled to (sql, params), by Django once per
    process, database and ``name``, then only given each call's ids.

    A query whose one varying input is an id list bound as one parameter has the
    same SQL every time; compiling it cost a logged claim a few milliseconds
    inside the writers' lock, which sets how many claims a second the team can
    log. ``name`` stands for the query ``build`` makes: one name, one query.
    """
    ids = [int(pk) for pk in ids]
    key = (name, connection.alias, connection.vendor)
    entry = _compiled.get(key)
    if entry is None:
        sql, params = _compile(build(id_list([_MARKER])))
        one = connection.vendor in _ONE_PARAMETER
        marker = _ids_parameter([_MARKER]) if one else None
        slots = tuple(i for i, value in enumerate(params) if value == marker)
        entry = _compiled[key] = (sql, tuple(params), slots)
    sql, params, slots = entry
    if not slots:  # the ids are not one parameter of it: compiled each time
        return _compile(build(id_list(ids)))
    params = list(params)
    value = _ids_parameter(ids)
    for slot in slots:
        params[slot] = value
    return sql, params


def _pg_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg_array(values: Sequence, array_type: str) -> str:
    """A PostgreSQL array literal, passed as one string: psycopg2 would adapt a
    list item by item into an ARRAY[...] expression that is slow to plan."""
    if array_type == "text":
        # Few distinct values (levels, terms, shared explanations): quote each once.
        quoted = {value: _pg_quoted(value) for value in set(values)}
        body = ",".join([quoted[value] for value in values])
    elif array_type == "boolean":
        body = ",".join(["t" if value else "f" for value in values])
    else:
        body = ",".join(map(repr, values))
    return "{" + body + "}"


def _chunks(ids: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Reading the inputs -------------------------------------------------------------------


class Stored(NamedTuple):
    """A claim's stored result and ruling, as read for comparison."""

    pk: int
    status: str
    needs_rereview: bool
    values: tuple  # in STORED_FIELDS order
    counts: tuple  # in COUNT_FIELDS order


# A citation as the engine takes it (confirmation.compute_rows), in the Report's
# field order: (citation_id, source_id, source_name, origin_id, origin_name, grade,
# credibility, supports, retracted).
Row = confirmation.Row


def fetch_for_ids(
    name: str, build: Callable[[object], QuerySet], ids: Iterable[int]
) -> list[tuple]:
    """_fetch(build(id_list(ids))), its SQL compiled once (sql_for_ids)."""
    return _rows(*sql_for_ids(name, build, ids))


def _fetch(queryset) -> list[tuple]:
    """The queryset's rows as the database driver gives them: its SQL, compiled by
    the ORM, run with one execute and one fetchall, without the ORM's per-row
    work (per-row conversion, on PostgreSQL none for the columns read here). The
    driver's values equal the ORM's for these columns: Django's SQLite backend
    has the sqlite3 module turn a "bool" column into a bool itself."""
    return _rows(*_compile(queryset))


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _shape(rows: Iterable[Row]) -> tuple:
    """The rows in the order of their citation ids, without the ids: the memo's
    key for one claim's citations (_Memo)."""
    return tuple([row[1:] for row in sorted(rows)])


# A batch's rows as read: relations, citations and stored results (_Batch.read).
_Read = tuple[list[tuple], list[tuple], list[tuple]]


class _Batch:
    """What one batch of claims needs from the database, read in three queries
    (and the related claims' statements in a fourth, for ``inputs()`` only: the
    engine does not read them)."""

    def __init__(self, ids: Sequence[int], read: _Read | None = None) -> None:
        """The batch from its rows: ``read`` if given (``_Batch.read(ids)`` run
        elsewhere, as a recomputation's database thread does), else read now."""
        relations, citations, stored = read if read is not None else self.read(ids)
        pairs = _related(relations, set(ids))
        self.related_of = {pk: sorted(others) for pk, others in pairs.items()}
        self.related_ids = {other for others in pairs.values() for other, _ in others}
        self.rows = _rows_by_claim(citations)

        self.stored = []
        for pk, status, needs_rereview, *counts_and_values in stored:
            counts = tuple(counts_and_values[: len(COUNT_FIELDS)])
            values = tuple(counts_and_values[len(COUNT_FIELDS) :])
            self.stored.append(Stored(pk, status, needs_rereview, values, counts))
        self._statements: dict[int, str] | None = None

    @staticmethod
    def read(
        ids: Sequence[int], names: bool = True, relations: list[tuple] | None = None
    ) -> _Read:
        """The batch's three queries, their rows as the driver gives them (but
        for SQLite's retracted flags, see ``_citation_rows``) and nothing more
        done with them: a recomputation runs this in its database
        thread, whose Python work holds up the queries that follow, and builds
        the batch from the rows in the computing thread. Without ``names`` the
        sources' and origins' names are read as empty: no stored value depends
        on them, only the explanation (a recomputation computes none), and two
        joins of each citations read go. ``relations``: the rows of
        ``_relations_of(ids)`` when the caller has read them."""
        if relations is None:
            relations = _relations_of(ids)
        wanted = set(ids)
        pairs = _related(relations, wanted).values()
        related = {other for others in pairs for other, _ in others}
        # The batch's citations and those of every claim one relation away.
        citations = _citation_rows(wanted | related, names)
        stored = fetch_for_ids(
            "stored results",
            lambda ids: Claim.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list(
                "pk",
                "status",
                "needs_rereview",
                *(f"confirmation__{name}" for name in COUNT_FIELDS),
                "level",
                *(f"confirmation__{name}" for name in STORED_FIELDS[1:]),
            ),
            ids,
        )
        return relations, citations, stored

    @property
    def statements(self) -> dict[int, str]:
        """The related claims' statements, read on first use."""
        if self._statements is None:
            self._statements = {}
            if self.related_ids:
                self._statements = dict(
                    fetch_for_ids(
                        "statements",
                        lambda ids: Claim.objects.filter(pk__in=ids)
                        .order_by()
                        .values_list("pk", "statement"),
                        self.related_ids,
                    )
                )
        return self._statements

    @staticmethod
    def unchanged(claim: Stored, fresh: tuple, counts: tuple) -> bool:
        """Whether the claim stores these fresh values and counts."""
        return claim.values == fresh and claim.counts == counts

    @staticmethod
    def ruling(claim: Stored) -> str | None:
        return claim.status if claim.status in confirmation.RULINGS else None

    def related(self, claim: Stored) -> list[tuple[int, str, bool, list[Row]]]:
        return [
            (other, self.statements.get(other, ""), corroborates, self.rows[other])
            for other, corroborates in self.related_of.get(claim.pk, ())
        ]

    def counts(self, claim: Stored) -> tuple[int, int]:
        """The claim's evidence counts (COUNT_FIELDS) from its citations."""
        rows = self.rows[claim.pk]
        return (len(rows), len({row[3] for row in rows}))

    def inputs(self, claim: Stored) -> confirmation.Inputs:
        def reports(claim_id: int) -> tuple[confirmation.Report, ...]:
            return tuple(confirmation.Report(*row) for row in self.rows[claim_id])

        return confirmation.Inputs(
            reports=reports(claim.pk),
            related=tuple(
                confirmation.RelatedClaim(
                    claim_id=other,
                    statement=statement,
                    corroborates=corroborates,
                    reports=reports(other),
                )
                for other, statement, corroborates, _rows in self.related(claim)
            ),
            ruling=self.ruling(claim),
        )

    def compute(self, claim: Stored, explain: bool = False) -> confirmation.Result:
        """The engine's result for the claim, from the rows as read; without its
        explanation unless asked (only a page shows it)."""
        return confirmation.compute_rows(
            self.rows[claim.pk],
            [
                (other, corroborates, self.rows[other])
                for other, corroborates in self.related_of.get(claim.pk, ())
            ],
            self.ruling(claim),
            explain=explain,
        )


def _related(
    relations: Iterable[tuple[int, int, str]], wanted: set[int]
) -> dict[int, set[tuple[int, bool]]]:
    """For each wanted claim, the claims one relation away, each with whether
    the relation corroborates; from (claim_a_id, claim_b_id, kind) rows."""
    pairs: dict[int, set[tuple[int, bool]]] = defaultdict(set)
    for a, b, kind in relations:
        corroborates = kind == Relation.Kind.CORROBORATES
        if a in wanted:
            pairs[a].add((b, corroborates))
        if b in wanted:
            pairs[b].add((a, corroborates))
    return pairs


def _rows_by_claim(citations: Iterable[tuple]) -> dict[int, list[Row]]:
    """``_citation_rows``' rows as each claim's list of Rows."""
    rows: dict[int, list[Row]] = defaultdict(list)
    for row in citations:
        rows[row[0]].append(row[1:])
    return rows


def _citation_rows(claim_ids: Iterable[int], names: bool = True) -> list[tuple]:
    """The claims' citations, each row the claim's id and then a Row, as the
    driver gives them but for the retracted flag, a bool on both databases; the
    names empty without ``names`` (see ``_Batch.read``). A source with no
    origin stored yet is its own origin. Whether the document is retracted is
    read from the few retracted ones (their partial index), not by joining
    every citation to its document: that join read all the documents for each
    batch, about half of the read's time in a grade change at a million
    claims."""
    rows = fetch_for_ids(
        "citation rows" if names else "citation rows without names",
        lambda ids: Citation.objects.filter(claim_id__in=ids)
        .order_by()
        .values_list(
            "claim_id",
            "id",
            "source_id",
            "source__name" if names else Value(""),
            Coalesce("source__origin_id", "source_id"),
            Coalesce("source__origin__name", "source__name") if names else Value(""),
            "source__grade",
            "credibility",
            "supports",
            ExpressionWrapper(
                Q(document_id__in=RETRACTED_DOCUMENTS), output_field=BooleanField()
            ),
        ),
        claim_ids,
    )
    if connection.vendor == "sqlite":
        # An expression's value has no declared type for sqlite3 to turn into a
        # bool: 0 or 1. (SQLite runs no database thread; see _database_work.)
        rows = [(*row[:-1], bool(row[-1])) for row in rows]
    return rows


def _relations_of(ids: Iterable[int]) -> list[tuple]:
    """The rows of _relations_touching(id_list(ids)), its SQL compiled once."""
    return fetch_for_ids("relations touching", _relations_touching, ids)


def _relations_touching(ids) -> QuerySet:
    """(claim_a_id, claim_b_id, kind) of every relation with an end among the
    ids, an id_list.

    A UNION ALL of one lookup per end (a relation with both ends among the ids
    comes twice), rather than an OR that makes PostgreSQL scan the table.
    """

    def ending(end: str):
        return (
            Relation.objects.filter(**{f"{end}__in": ids})
            .order_by()
            .values_list("claim_a_id", "claim_b_id", "kind")
        )

    return ending("claim_a_id").union(ending("claim_b_id"), all=True)


# Sharing one computation between claims with the same inputs --------------------------


class _Memo:
    """compute() shared by claims whose inputs differ only in citation ids.

    The engine reads a citation id only to break ties between otherwise equal
    reports of one claim (``confirmation``: the evidence's key), and it is
    order-free (rule 3). So inputs that agree once each claim's citations are put
    in the order of their ids and the ids dropped (``_shape``) have the same
    result: in an import, the claims that each cite one source once at one
    credibility are computed once. (A recomputation no longer uses it: see
    ``recompute_claims``.) (Citation ids are
    primary keys: a claim's are distinct, and two claims' lists never tie on
    anything but a citation id, since the evidence's key names the claim that
    carries it.) ``drift()`` never uses the memo, so a memo that ever gave a
    result the engine would not shows up as drift
    (tests/test_confirmation_store.py).
    """

    def __init__(self) -> None:
        self.results: dict[tuple, confirmation.Result] = {}

    @staticmethod
    def key(
        ruling: str | None,
        own: Iterable[Row],
        related: Iterable[tuple[int, bool, Iterable[Row]]],
    ) -> tuple:
        """The key of these inputs, in compute_rows()'s form."""
        return (
            ruling,
            _shape(own),
            tuple(
                sorted(
                    (other, corroborates, _shape(rows))
                    for other, corroborates, rows in related
                )
            ),
        )

    def compute(self, key: tuple, compute) -> confirmation.Result:
        """The result for this key; ``compute`` is called only on a miss."""
        result = self.results.get(key)
        if result is None:
            result = compute()
            if len(self.results) >= CACHE_LIMIT:
                self.results.clear()
            self.results[key] = result
        return result

    def compute_inputs(self, inputs: confirmation.Inputs) -> confirmation.Result:
        own = [confirmation.row_of(r) for r in inputs.reports]
        related = [
            (
                rel.claim_id,
                rel.corroborates,
                [confirmation.row_of(r) for r in rel.reports],
            )
            for rel in inputs.related
        ]
        return self.compute(
            self.key(inputs.ruling, own, related),
            lambda: confirmation.compute_rows(
                own, related, inputs.ruling, explain=False
            ),
        )


# Comparing and writing ----------------------------------------------------------------


def fresh_values(result: confirmation.Result) -> tuple:
    """The result as the stored fields hold it, in STORED_FIELDS order."""
    return (
        result.level,
        result.computed_level,
        result.likelihood,
        result.likelihood_term,
        result.confidence,
        result.summary_rating,
        result.version,
    )


def apply(claim: Claim, result: confirmation.Result, counts: tuple[int, int]) -> None:
    """Give a new claim, before it is inserted, its level and a ClaimConfirmation
    holding the rest of the result and the evidence counts (``counts``, in
    COUNT_FIELDS order), for a loader that inserts both (claims.imports)."""
    fresh = fresh_values(result)
    claim.level = fresh[LEVEL]
    claim.confirmation = ClaimConfirmation(
        **dict(zip(ON_CONFIRMATION, (*fresh[1:], *counts), strict=True))
    )


def ruling_now_questioned(
    status: str,
    before: str,
    after: str,
    likelihood_before: float | None = None,
    likelihood_after: float | None = None,
) -> bool:
    """New evidence turns against a standing ruling: a confirmed claim's support
    collapses below corroborated (or to nothing at all), a contradiction
    arrives, or a confirmed claim that was never corroborated loses weight (its
    one source downgraded, its document retracted, a citation withdrawn); a
    refuted claim becomes corroborated."""
    if status == Claim.Status.CONFIRMED:
        weakened = (
            after in BELOW_CORROBORATED
            and likelihood_before is not None
            and likelihood_after is not None
            and likelihood_after < likelihood_before - 1e-9
        )
        if before == after:
            return weakened
        return (
            (before == Level.CORROBORATED and after in BELOW_CORROBORATED)
            or after == Level.CONTESTED
            or after == Level.UNSOURCED
            or weakened
        )
    if status == Claim.Status.REFUTED:
        return before != after and after == Level.CORROBORATED
    return False


_COLUMN_TYPES = {
    "id": "bigint",
    "claim": "bigint",
    "level": "text",
    "computed_level": "text",
    "likelihood": "float8",
    "likelihood_term": "text",
    "confidence": "text",
    "summary_rating": "text",
    "confirmation_version": "text",
    "report_count": "integer",
    "origin_count": "integer",
    "needs_rereview": "boolean",
}


def _write(rows: list[tuple], claims: list[tuple]) -> None:
    """Store the changed results: ``rows`` (pk, *STORED_FIELDS, *COUNT_FIELDS,
    needs_rereview) on the claims' ClaimConfirmation rows, and ``claims`` (pk,
    level, needs_rereview), those of them whose level or flag changed, on the
    claims' own rows. One statement each."""
    _update(
        ClaimConfirmation,
        ["claim", *ON_CONFIRMATION],
        [(pk, *values) for pk, _level, *values, _flag in rows],
    )
    if claims:
        _update(Claim, ["id", "level", "needs_rereview"], claims)


def _update(model, names: list[str], rows: list[tuple]) -> None:
    """Set the fields ``names[1:]`` of the rows keyed by ``names[0]`` (the
    primary key) to the values in ``rows``, in one statement: the rows travel as
    one array per column (PostgreSQL) or one JSON document (SQLite) joined to
    the table on the key."""
    if connection.vendor not in ("postgresql", "sqlite"):
        _update_with_bulk_update(model, names, rows)
        return
    qn = connection.ops.quote_name
    columns = [qn(model._meta.get_field(name).column) for name in names]
    table = qn(model._meta.db_table)
    values = [f"v.{column}" for column in columns]
    if connection.vendor == "postgresql":
        types = [_COLUMN_TYPES[name] for name in names]
        source = (
            "unnest("
            + ", ".join(f"%s::{column_type}[]" for column_type in types)
            + f") AS v ({', '.join(columns)})"
        )
        params = [
            _pg_array(column, column_type)
            for column_type, column in zip(types, zip(*rows, strict=True), strict=True)
        ]
    else:
        picks = ", ".join(
            f"json_extract(value, '$[{i}]') AS {column}"
            for i, column in enumerate(columns)
        )
        source = f"(SELECT {picks} FROM json_each(%s)) AS v"  # noqa: S608
        params = [json.dumps(rows)]
    assignments = ", ".join(
        f"{column} = {value}"
        for column, value in zip(columns[1:], values[1:], strict=True)
    )
    sql = (
        f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608
        f"WHERE {table}.{columns[0]} = v.{columns[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _update_with_bulk_update(model, names: list[str], rows: list[tuple]) -> None:
    objects = []
    for key, *values in rows:
        obj = model(**{model._meta.get_field(names[0]).attname: key})
        for name, value in zip(names[1:], values, strict=True):
            setattr(obj, name, value)
        objects.append(obj)
    model.objects.bulk_update(objects, names[1:], batch_size=500)


class _Here:
    """Database work run at once, in this thread."""

    @staticmethod
    def submit(function, *args) -> Future:
        future: Future = Future()
        future.set_result(function(*args))
        return future


def _outcome(future: Future, writes: list[Future]):
    """The future's result. When it failed, the first failed write's error
    instead: a failed write aborts the transaction, and the work queued after
    it fails only for that reason."""
    try:
        return future.result()
    except Exception:
        for write in writes:
            if write.done() and not write.cancelled() and write.exception():
                raise write.exception() from None
        raise


@contextmanager
def _database_work(overlap: bool) -> Iterator[_Here | ThreadPoolExecutor]:
    """Where a recomputation sends its reads and writes: on PostgreSQL, one more
    thread that runs them in the order given, on this thread's connection (so
    inside its transaction and lock), while this thread computes. A batch's
    queries (PostgreSQL's time) and its computation (Python's) then overlap: a
    grade change reaching 100,000 claims spends about as long in each. The
    computing thread runs no query meanwhile. Elsewhere, or with one batch and
    so nothing to overlap, the work runs here."""
    if not overlap or connection.vendor != "postgresql":
        yield _Here()
        return
    shared = connections[DEFAULT_DB_ALIAS]
    shared.inc_thread_sharing()

    def adopt() -> None:
        connections[DEFAULT_DB_ALIAS] = shared

    executor = ThreadPoolExecutor(
        max_workers=1, initializer=adopt, thread_name_prefix="confirmation-db"
    )
    try:
        yield executor
    finally:
        # On an error here, what is queued is dropped and what runs finishes
        # before the caller's transaction rolls back.
        executor.shutdown(wait=True, cancel_futures=True)
        shared.dec_thread_sharing()


def recompute_claims(
    claim_ids: Iterable[int],
    flag_rereview: bool = True,
    *,
    relations: list[tuple] | None = None,
) -> int:
    """Recompute and store the confirmation of these claims; returns how many changed.

    A ruled claim whose evidence turns against the ruling is flagged "needs
    re-review" for the reviewers' queue; the flag is only ever raised here, never
    lowered (a reviewer's new ruling lowers it). ``relations``: the rows of
    ``_relations_of(claim_ids)``, when the caller has read them.
    """
    lock_writers()
    ids = sorted(set(claim_ids))
    changed = 0
    chunks = list(_chunks(ids, BATCH))
    if len(chunks) != 1:
        relations = None
    with _database_work(overlap=len(chunks) > 1) as database:
        reading = (
            database.submit(_Batch.read, chunks[0], False, relations)
            if chunks
            else None
        )
        writes = []
        for index in range(len(chunks)):
            rows = _outcome(reading, writes)
            if index + 1 < len(chunks):
                # Batches share no claim, and a batch reads nothing a write of
                # another changes: the next one is read while this one computes.
                reading = database.submit(_Batch.read, chunks[index + 1], False)
            batch = _Batch(chunks[index], rows)
            del rows
            dirty, claims = [], []
            for claim in batch.stored:
                # Each claim computed afresh: sharing results between claims
                # whose inputs differ only in citation ids (_Memo) cost more in
                # building keys than it saved once the explanation was left out
                # (session 7: 5 % hits in a grade change, 2.5 s of CPU more).
                result = batch.compute(claim)
                fresh = fresh_values(result)
                counts = batch.counts(claim)
                if batch.unchanged(claim, fresh, counts):
                    continue
                flag = claim.needs_rereview or (
                    flag_rereview
                    and ruling_now_questioned(
                        claim.status,
                        claim.values[COMPUTED_LEVEL],
                        result.computed_level,
                        claim.values[LIKELIHOOD],
                        fresh[LIKELIHOOD],
                    )
                )
                dirty.append((claim.pk, *fresh, *counts, flag))
                if fresh[LEVEL] != claim.values[LEVEL] or flag != claim.needs_rereview:
                    claims.append((claim.pk, fresh[LEVEL], flag))
            if dirty:
                writes.append(database.submit(_write, dirty, claims))
            changed += len(dirty)
            del batch
        for write in writes:
            _outcome(write, writes)
    # The reliability report's stored aggregates read the same inputs (and the
    # claims' rulings): kept in step here, in the same transaction.
    from sources import reliability

    reliability.refresh(ids)
    return changed


def recompute_all(flag_rereview: bool = False) -> tuple[int, int]:
    """Recompute every claim; returns (claims, changed). A claim without its
    ClaimConfirmation (made by a path that skipped Claim.save and the loaders:
    raw SQL, a restore of part of a database) gets one first."""
    lock_writers()
    missing = Claim.objects.filter(confirmation__isnull=True).values_list(
        "pk", flat=True
    )
    ClaimConfirmation.objects.bulk_create(
        [ClaimConfirmation(claim_id=pk) for pk in missing], batch_size=1000
    )
    ids = list(Claim.objects.order_by("pk").values_list("pk", flat=True))
    return len(ids), recompute_claims(ids, flag_rereview=flag_rereview)


# What depends on what ---------------------------------------------------------------


def with_related(claim_ids: Iterable[int]) -> set[int]:
    """These claims and every claim one relation away: a relation carries a
    claim's citations one step, so both ends depend on each other's citations."""
    return _with_related(claim_ids)[0]


def _with_related(claim_ids: Iterable[int]) -> tuple[set[int], list[tuple]]:
    """with_related's claims, and the relations it read."""
    lock_writers()
    ids = set(claim_ids)
    rows = []
    for chunk in _chunks(sorted(ids), BATCH):
        rows += _relations_of(chunk)
    for a, b, _kind in rows:
        ids.add(a)
        ids.add(b)
    return ids, rows


def recompute_with_related(claim_ids: Iterable[int]) -> int:
    """recompute_claims(with_related(claim_ids)). When no other claim is one
    relation away, the relations with_related read are all the recomputation
    needs of them: a logged claim's, inside the writers' lock, are read once."""
    claim_ids = set(claim_ids)
    ids, rows = _with_related(claim_ids)
    return recompute_claims(ids, relations=rows if ids == claim_ids else None)


def claims_depending_on_sources(source_ids: Iterable[int]) -> set[int]:
    """Claims citing any of these sources and the claims one relation away from
    them, in one query however many there are."""
    lock_writers()
    sources = list(source_ids)
    if not sources:
        return set()
    citing = Citation.objects.filter(source_id__in=sources).order_by()
    direct = citing.values_list("claim_id", flat=True)
    as_a = (
        Relation.objects.filter(claim_b_id__in=citing.values("claim_id"))
        .order_by()
        .values_list("claim_a_id", flat=True)
    )
    as_b = (
        Relation.objects.filter(claim_a_id__in=citing.values("claim_id"))
        .order_by()
        .values_list("claim_b_id", flat=True)
    )
    return set(direct.union(as_a, as_b, all=True))


# Checking -------------------------------------------------------------------------


def _differences(stored: tuple, fresh: tuple) -> str:
    return "; ".join(
        f"{name}: stored {old!r}, fresh {new!r}"
        for name, old, new in zip(
            [*STORED_FIELDS, *COUNT_FIELDS], stored, fresh, strict=True
        )
        if old != new
    )


def drift(claim_ids: Iterable[int] | None = None) -> list[tuple[int, str]]:
    """Claims whose stored result differs from a fresh computation by the engine
    itself (no shortcut), with what differs; empty when every stored result is
    true."""
    if claim_ids is None:
        claim_ids = Claim.objects.order_by("pk").values_list("pk", flat=True)
    ids = sorted(set(claim_ids))
    drifting = []
    for chunk in _chunks(ids, BATCH):
        batch = _Batch(chunk)
        for claim in batch.stored:
            fresh = (
                *fresh_values(confirmation.compute(batch.inputs(claim))),
                *batch.counts(claim),
            )
            stored = (*claim.values, *claim.counts)
            if stored != fresh:
                drifting.append((claim.pk, _differences(stored, fresh)))
    return drifting


# Reading the explanation ----------------------------------------------------------


def explanations(claim_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each claim's explanation, in words, of what its confirmation rests on.

    Not stored: it is computed by the engine from the claim's inputs as they are
    now, when a page shows it (one ``_Batch``, three queries whatever the number
    of claims). The stored result equals a fresh computation (``drift()``), so
    the explanation is the stored result's. Storing it made every recomputation
    rewrite a few hundred bytes per claim, and every claim row wider for the
    lists' reads.
    """
    found: dict[int, tuple[str, ...]] = {}
    for chunk in _chunks(sorted(set(claim_ids)), BATCH):
        batch = _Batch(chunk)
        for claim in batch.stored:
            found[claim.pk] = batch.compute(claim, explain=True).explanation
    return found


def explanation_on_page(
    claim: Claim, citations: Sequence[Citation], relations: Sequence[Relation]
) -> tuple[str, ...]:
    """``explanations()`` of one claim from what its page has already read: its
    citations (with their source, the source's origin and the document) and
    every one of its relations. Only the related claims' citations are read,
    in one query, where ``explanations()`` makes three."""
    own = [
        (
            citation.pk,
            citation.source_id,
            citation.source.name,
            citation.source.origin_id or citation.source_id,
            (citation.source.origin or citation.source).name,
            citation.source.grade,
            citation.credibility,
            citation.supports,
            citation.document.retracted,
        )
        for citation in citations
    ]
    others = sorted(
        _related([(r.claim_a_id, r.claim_b_id, r.kind) for r in relations], {claim.pk})[
            claim.pk
        ]
    )
    rows = _rows_by_claim(_citation_rows({o for o, _ in others}) if others else ())
    ruling = claim.status if claim.status in confirmation.RULINGS else None
    return confirmation.compute_rows(
        own,
        [(other, corroborates, rows[other]) for other, corroborates in others],
        ruling,
    ).explanation
