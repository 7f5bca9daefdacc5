"""How each source's reporting has held up against reviewers' rulings.

The source reliability report (DESIGN.md) and the track record on a source's page.
Every figure is counted in the database with aggregates; Python only walks the
per-source rows. The report reads stored aggregates (SourceSupport, ReportDay,
SourceRecord: see "the stored aggregates" below), kept in step with their inputs
in the transaction that changes them; fresh_source_records computes the same
figures from the citations themselves, and ``manage.py rebuild_reliability
--check`` compares the two.

Definitions, as the report page states them:

- A source *supported* a claim when it has a supporting citation on it (a denial
  does not count). Citations in retracted documents still count: a source is
  judged on what it said.
- A claim is *ruled* when its status is confirmed or refuted; *still open* covers
  open and in review.
- *Observed accuracy* is the posterior mean of a Beta(1, 1) (uniform) prior
  updated with the rulings, (confirmed + 1) / (confirmed + refuted + 2), with the
  equal-tailed 90 % credible interval: the 5 % and 95 % quantiles of
  Beta(confirmed + 1, refuted + 1).
- A claim's *report date* is the citation's date said, else its document's
  publication date, else the day the citation was entered.
- *First to report*: among the supporting citations of a claim later confirmed,
  the source (or origin) with the earliest report date; sources tied on that day
  all count as first. Its *lead* on that claim is the number of days from its
  report to the next source's first report of it (0 when tied); claims no other
  source reported have no lead. The *median lead* is the median of those leads.
- *Latest report*: the most recent report date among its supporting citations.

Suggested grade (the Admiralty letters, from the 90 % interval):

- fewer than MIN_RULINGS (5) rulings: F, reliability cannot be judged. Three
  rulings prove little: even three confirmations out of three leave a 90 %
  interval of 0.47–0.99.
- lower bound >= 0.90: A. The record shows it right at least nine times in ten
  (an unblemished record needs 28 rulings for that).
- lower bound >= 0.75: B, right at least three times in four.
- lower bound >= 0.55: C, right more often than not, with a margin.
- upper bound < 0.50: E. Even the optimistic end says it is wrong more often
  than right: evidence of unreliability, not merely of too little evidence.
- anything else: D. The record cannot show it right more often than not.

So A to C need evidence of reliability, E needs evidence of unreliability, and a
mixed or thin record lands on D; the lower bound rather than the mean keeps a
short lucky streak from earning a high grade.

Filters: topic (the claim's), period (claims whose event time overlaps it, or
that any source reported within it), kind and country (of the row's source; of
the origin in the per-origin view). First-to-report looks at every supporting
citation of the selected claims, whatever the kind and country filters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    Collate,
    ExtractQuarter,
    ExtractYear,
    Lower,
    NullIf,
)
from django.template.defaultfilters import floatformat
from django.utils.translation import get_language

from claims.confirmation_store import id_list, lock_writers, sql_for_ids
from claims.models import Citation, Claim, Review, Topic, labels
from sources.models import Grade, ReportDay, Source, SourceRecord, SourceSupport

PRIOR_CONFIRMED = 1
PRIOR_REFUTED = 1
INTERVAL_MASS = 0.90
MIN_RULINGS = 5
# (grade, least lower bound), best first: the bands A to C of the docstring.
LOWER_BOUND_GRADES = (("A", 0.90), ("B", 0.75), ("C", 0.55))
UNRELIABLE_UPPER_BOUND = 0.50

GRADE_ORDER = {grade: rank for rank, grade in enumerate(g.value for g in Grade)}
RULED = (Claim.Status.CONFIRMED, Claim.Status.REFUTED)


# --- the Beta distribution, in pure Python --------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function by the modified
    Lentz method (Numerical Recipes, betacf)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) >= tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) >= tiny else tiny
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"betacf did not converge for a={a}, b={b}, x={x}")


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b): the cumulative distribution of Beta(a, b) at x."""
    if a <= 0 or b <= 0:
        raise ValueError("Beta parameters must be positive.")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The fraction converges fast only left of the mean; use the symmetry beyond.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def beta_quantile(p: float, a: float, b: float, tolerance: float = 1e-10) -> float:
    """The x with I_x(a, b) = p, by bisection: the CDF is monotonic, so bisection
    cannot miss, and 34 halvings reach the tolerance."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("A quantile's probability lies in [0, 1].")
    low, high = 0.0, 1.0
    while high - low > tolerance:
        middle = (low + high) / 2.0
        if regularized_beta(a, b, middle) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


# Bounded so that a worker's memory stays flat: about 2 MiB when full.
@lru_cache(maxsize=8_192)
def credible_interval(confirmed: int, refuted: int) -> tuple[float, float]:
    """The equal-tailed 90 % interval of the accuracy after these rulings."""
    a, b = confirmed + PRIOR_CONFIRMED, refuted + PRIOR_REFUTED
    tail = (1.0 - INTERVAL_MASS) / 2.0
    return beta_quantile(tail, a, b), beta_quantile(1.0 - tail, a, b)


def posterior_mean(confirmed: int, refuted: int) -> float:
    return (confirmed + PRIOR_CONFIRMED) / (
        confirmed + refuted + PRIOR_CONFIRMED + PRIOR_REFUTED
    )


def suggest_grade(rulings: int, lower: float, upper: float) -> str:
    """The grade the record suggests; the thresholds are the module docstring's."""
    if rulings < MIN_RULINGS:
        return Grade.F
    for grade, least in LOWER_BOUND_GRADES:
        if lower >= least:
            return grade
    if upper < UNRELIABLE_UPPER_BOUND:
        return Grade.E
    return Grade.D


# --- one row of the report -----------------------------------------------


@lru_cache(maxsize=4_096)
def _places(value: float, places: int, language: str) -> str:
    return str(floatformat(value, places))


def figure(value: float, places: int, language: str) -> str:
    """floatformat(value, places) in that language, remembered."""
    return _places(value, places, language)


TOO_FEW = "too few rulings"
AGREES = "agrees"
SUGGESTS_HIGHER = "suggests higher"
SUGGESTS_LOWER = "suggests lower"
SUGGESTS_A_GRADE = "suggests a grade"
AGREEMENT_ORDER = {
    SUGGESTS_HIGHER: 0,
    SUGGESTS_LOWER: 1,
    SUGGESTS_A_GRADE: 2,
    AGREES: 3,
    TOO_FEW: 4,
}


KIND_LABELS = labels(Source, "kind")  # Record.get_kind_display


@dataclass(slots=True)
class Record:
    """One source's (or origin's) track record under the report's filters."""

    id: int
    name: str
    kind: str
    country: str
    grade: str
    supported: int = 0
    confirmed: int = 0
    refuted: int = 0
    open: int = 0
    in_review: int = 0
    latest: dt.date | None = None
    firsts: int = 0
    median_lead: float | None = None
    # Claim list URLs behind the counts, set for the rows a page shows.
    links: dict[str, str] = field(default_factory=dict, repr=False)
    # The interval and suggestion as stored (fill_intervals computed them with
    # the functions below); None: computed when read.
    stored_interval: tuple[float, float] | None = field(
        default=None, repr=False, compare=False
    )
    stored_suggested: str | None = field(default=None, repr=False, compare=False)

    @property
    def rulings(self) -> int:
        return self.confirmed + self.refuted

    @property
    def still_open(self) -> int:
        return self.open + self.in_review

    @property
    def accuracy(self) -> float:
        return posterior_mean(self.confirmed, self.refuted)

    @property
    def interval(self) -> tuple[float, float]:
        if self.stored_interval is not None:
            return self.stored_interval
        return credible_interval(self.confirmed, self.refuted)  # remembered

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    @property
    def suggested(self) -> str:
        if self.stored_suggested is not None:
            return self.stored_suggested
        return suggest_grade(self.rulings, self.low, self.high)

    @property
    def agreement(self) -> str:
        """How the record compares with the grade assigned, in words."""
        if self.rulings < MIN_RULINGS:
            return TOO_FEW
        if self.suggested == self.grade:
            return AGREES
        if self.grade == Grade.F:
            return SUGGESTS_A_GRADE
        better = GRADE_ORDER[self.suggested] < GRADE_ORDER[self.grade]
        return SUGGESTS_HIGHER if better else SUGGESTS_LOWER

    @property
    def mismatch(self) -> bool:
        return self.agreement not in (AGREES, TOO_FEW)

    def texts(self, language: str | None = None) -> tuple[str, str, str]:
        """The accuracy and the interval's ends as the page, the chart and the
        CSV write them (floatformat, three places); ``language``: the active
        one, when the caller has it already."""
        language = language or get_language()
        low, high = self.interval
        return (
            _places(self.accuracy, 3, language),
            _places(low, 3, language),
            _places(high, 3, language),
        )

    def get_kind_display(self) -> str:
        # A lookup: `in Source.Kind` walks the members on every call, a few
        # per cent of a report page of a few hundred rows.
        return KIND_LABELS.get(self.kind, self.kind)

    def get_grade_display(self) -> str:
        return Grade(self.grade).label


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False
    # Sorting by these needs the interval of every row, not only the page's.
    needs_interval: bool = False
    sort_value: Callable[[Record], object] | None = None


def _casefold(value: str) -> str:
    """Names sort by their lower case, code point by code point: the order
    SQL gives with LOWER(...) in the "C" collation (stored_order below)."""
    return value.lower()


COLUMNS = (
    Column("name", "Source", sort_value=lambda r: _casefold(r.name)),
    Column("kind", "Kind", sort_value=lambda r: r.get_kind_display()),
    Column("country", "Country", sort_value=lambda r: _casefold(r.country) or None),
    Column("grade", "Grade", sort_value=lambda r: GRADE_ORDER[r.grade]),
    Column(
        "suggested",
        "Suggested",
        needs_interval=True,
        sort_value=lambda r: GRADE_ORDER[r.suggested],
    ),
    Column(
        "agreement",
        "Record vs grade",
        needs_interval=True,
        sort_value=lambda r: AGREEMENT_ORDER[r.agreement],
    ),
    Column("supported", "Supported", numeric=True),
    Column("confirmed", "Confirmed", numeric=True),
    Column("refuted", "Refuted", numeric=True),
    Column("still_open", "Still open", numeric=True),
    Column("rulings", "Rulings", numeric=True),
    Column("accuracy", "Accuracy", numeric=True),
    Column("low", "90% from", numeric=True, needs_interval=True),
    Column("high", "90% to", numeric=True, needs_interval=True),
    Column("firsts", "First to report", numeric=True),
    Column("median_lead", "Median lead (days)", numeric=True),
    Column("latest", "Latest report", numeric=True),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
DEFAULT_ORDERING = "-rulings"
ORDERING_CHOICES = [
    (f"{sign}{column.key}", f"{column.label}, {word}")
    for column in COLUMNS
    for sign, word in (("", "ascending"), ("-", "descending"))
]


def sort_records(records: list[Record], ordering: str) -> list[Record]:
    """Sorted by one column; rows without a value go last either way, and equal
    values keep name-then-id order, so pages never shuffle."""
    descending = ordering.startswith("-")
    column = COLUMN_BY_KEY.get(ordering.lstrip("-"), COLUMN_BY_KEY["rulings"])
    value = column.sort_value or attrgetter(column.key)
    ordered = sorted(records, key=lambda r: (r.name.lower(), r.id))  # _casefold
    keyed = [(value(r), r) for r in ordered]  # each value computed once
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [r for key, r in keyed if key is None]
    # sort() is stable in both directions, so ties keep the order above.
    present.sort(key=itemgetter(0), reverse=descending)
    return [r for _, r in present] + missing


# --- the report's query ---------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The report's filters, as validated by ReliabilityFilterForm."""

    by_origin: bool = False
    topic: Topic | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    kind: str = ""
    country: str = ""

    @property
    def subject(self) -> str:
        """The citation's path to the row's source."""
        return "source__origin" if self.by_origin else "source"


class DayNumber(Func):
    """Days since 1970-01-01 as an integer, so that leads are plain subtraction
    on both databases."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"DayNumber has no SQL for {connection.vendor}.")

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)"
        return super().as_sql(compiler, connection, template=template)

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "(%(expressions)s - DATE '1970-01-01')"
        return super().as_sql(compiler, connection, template=template)


def report_date(prefix: str = "") -> Coalesce:
    """When a citation's report was made: date said, else the document's date,
    else the day it was entered."""
    return Coalesce(
        F(f"{prefix}said_on"),
        F(f"{prefix}document__published_on"),
        Cast(f"{prefix}created_at", DateField()),
        output_field=DateField(),
    )


def event_overlaps(start: dt.date | None, end: dt.date | None) -> Q:
    """The claim's event time overlaps the period; on any model with the claim's
    time_start and time_end."""
    event = Q()
    if start is not None:
        # With one date a claim's event is a point; with two, a span to overlap.
        event &= Q(time_end__gte=start) | Q(
            time_end__isnull=True, time_start__gte=start
        )
    if end is not None:
        event &= Q(time_start__lte=end) | Q(time_start__isnull=True, time_end__lte=end)
    return event


def selected_claims(selection: Selection) -> Q:
    """The topic and period filters, on a claim queryset."""
    condition = Q()
    if selection.topic is not None:
        condition &= Q(topic=selection.topic)
    start, end = selection.period_from, selection.period_to
    if start is None and end is None:
        return condition
    reports = Citation.objects.filter(claim=OuterRef("pk"), supports=True)
    reports = reports.annotate(reported_on=report_date())
    if start is not None:
        reports = reports.filter(reported_on__gte=start)
    if end is not None:
        reports = reports.filter(reported_on__lte=end)
    return condition & (event_overlaps(start, end) | Exists(reports))


def _pairs(user, selection: Selection) -> QuerySet:
    """One row per (selected claim, source or origin supporting it): the claim's
    status and the subject's first and last report day. Driven from the claims so
    that the access queryset filters the claims table itself."""
    day = DayNumber(report_date("citations__"))
    return (
        Claim.objects.visible_to(user)
        .filter(selected_claims(selection))
        .filter(citations__supports=True)
        .annotate(
            claim_ref=F("pk"),
            subject=F(f"citations__{selection.subject}_id"),
            claim_status=F("status"),
        )
        .values("claim_ref", "subject", "claim_status")
        .annotate(first_day=Min(day), last_day=Max(day))
        .order_by()
    )


# Over the (claim, subject) pairs: the counts per subject; and, on confirmed
# claims, each claim's first reporters (RANK, ties share it), their lead to the
# next reporter (NTH_VALUE), and per subject the median lead from the middle one
# or two of its ordered leads. Statuses are the Claim.Status values.
RECORD_SQL = """
WITH pairs AS (
    SELECT claim_ref AS claim, subject, claim_status AS status, first_day, last_day
    FROM ({pairs}) AS grouped
),
counts AS (
    SELECT subject,
        COUNT(*) AS supported,
        COUNT(CASE WHEN status = 'confirmed' THEN 1 END) AS confirmed,
        COUNT(CASE WHEN status = 'refuted' THEN 1 END) AS refuted,
        COUNT(CASE WHEN status = 'open' THEN 1 END) AS still_open,
        COUNT(CASE WHEN status = 'in_review' THEN 1 END) AS in_review,
        MAX(last_day) AS latest
    FROM pairs
    GROUP BY subject
),
ranked AS (
    SELECT subject,
        RANK() OVER (PARTITION BY claim ORDER BY first_day) AS place,
        NTH_VALUE(first_day, 2) OVER (
            PARTITION BY claim ORDER BY first_day
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) - first_day AS lead_days
    FROM pairs
    WHERE status = 'confirmed'
),
ordered AS (
    SELECT subject, lead_days,
        ROW_NUMBER() OVER (
            PARTITION BY subject
            ORDER BY (CASE WHEN lead_days IS NULL THEN 1 ELSE 0 END), lead_days
        ) AS n,
        COUNT(lead_days) OVER (PARTITION BY subject) AS m
    FROM ranked
    WHERE place = 1
),
firsts AS (
    SELECT subject, COUNT(*) AS firsts,
        AVG(CASE WHEN lead_days IS NOT NULL AND (n = (m + 1) / 2 OR n = (m + 2) / 2)
            THEN lead_days END) AS median_lead
    FROM ordered
    GROUP BY subject
)
SELECT counts.subject, supported, confirmed, refuted, still_open, in_review, latest,
    COALESCE(firsts.firsts, 0), firsts.median_lead
FROM counts LEFT JOIN firsts ON firsts.subject = counts.subject
"""
EPOCH = dt.date(1970, 1, 1)


def _visible_subjects(user, selection: Selection) -> QuerySet:
    """The sources (or origins) a row may stand for, under the kind and country
    filters."""
    sources = Source.objects.visible_to(user)
    if selection.by_origin:
        sources = sources.filter(origin_id=F("id"))
    if selection.kind:
        sources = sources.filter(kind=selection.kind)
    if selection.country:
        sources = sources.filter(country=selection.country)
    return sources


# Record's first fields, as each subject gives them.
SUBJECT_FIELDS = ("id", "name", "kind", "country", "grade")


def _subject_values(user, selection: Selection) -> QuerySet:
    return _visible_subjects(user, selection).values_list(*SUBJECT_FIELDS)


def _subject_rows(user, selection: Selection) -> tuple[tuple, ...]:
    """Record's first fields (id, name, kind, country, grade) of every subject,
    by id: read with one cursor rather than through the ORM's row iterator (ten
    thousand sources at the benchmark's scale)."""
    values = _subject_values(user, selection).order_by("id")
    sql, params = values.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchall())


# The subjects' fields as one digest, made by PostgreSQL: each row's text form
# quotes its fields, so no two lists of rows make the same text. A remembered
# report compares this (64 characters) rather than reading ten thousand rows
# per request to compare them, which cost a worker its CPU and, through the
# objects made and freed, its memory.
SUBJECTS_DIGEST_SQL = """
SELECT encode(sha256(convert_to(COALESCE(
    string_agg(ROW(s.id, s.name, s.kind, s.country, s.grade)::text, ',' ORDER BY s.id),
    ''), 'UTF8')), 'hex')
FROM ({subjects}) AS s
"""


def _subjects_digest(user, selection: Selection) -> str:
    """What the records' subject fields (id, name, kind, country, grade of every
    subject) are now, as a digest: equal digests, equal subjects."""
    if connection.vendor != "postgresql":
        rows = _subject_rows(user, selection)
        return hashlib.sha256(repr(rows).encode()).hexdigest()
    sql, params = _subject_values(user, selection).order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(SUBJECTS_DIGEST_SQL.format(subjects=sql), params)
        return cursor.fetchone()[0]


def _subjects(user, selection: Selection) -> dict[int, tuple]:
    """Record's first fields (id, name, kind, country, grade) per subject; the
    few distinct kinds, countries and grades as one string each, not one per
    row, for the records a worker remembers."""
    same: dict = {}
    return {
        subject: (subject, name, *(same.setdefault(v, v) for v in rest))
        for subject, name, *rest in _subject_rows(user, selection)
    }


def fresh_source_records(user, selection: Selection) -> list[Record]:
    """One record per source (or origin) that supported a selected claim, in no
    particular order, computed from the citations themselves: what the stored
    path (source_records) must always equal. Two queries, but each reads every
    supporting citation of the selected claims.

    First-to-report looks at every source, whatever the kind and country
    filters: those only choose which rows are shown."""
    subjects = _subjects(user, selection)
    sql, params = _pairs(user, selection).query.sql_with_params()
    with connection.cursor() as cursor:
        # Only Django's compiled SQL is spliced in; every value stays a parameter.
        cursor.execute(RECORD_SQL.format(pairs=sql), params)
        rows = cursor.fetchall()
    records = []
    for row in rows:
        source = subjects.get(row[0])
        if source is None:
            continue
        supported, confirmed, refuted, opened, in_review, latest, firsts, median = row[
            1:
        ]
        records.append(
            Record(
                *source,
                supported=supported,
                confirmed=confirmed,
                refuted=refuted,
                open=opened,
                in_review=in_review,
                latest=None if latest is None else EPOCH + dt.timedelta(days=latest),
                firsts=firsts,
                median_lead=None if median is None else float(median),
            )
        )
    return records


# --- the stored aggregates -------------------------------------------------------
#
# Reading every supporting citation on each request grows with the archive, so
# the report reads three tables kept in step with their inputs instead:
#
# - SourceSupport: one row per (claim, source) and per (claim, origin) with
#   supporting citations: the claim's status, the first and last report day,
#   and whether the subject was among the claim's first reporters (with its
#   lead). First reports depend only on the claim's own supporters, never on the
#   report's filters, so they can be stored per claim.
# - ReportDay: the days on which any source reported a claim, for the period
#   filter.
# - SourceRecord: each subject's sums over its SourceSupport rows, for the
#   unfiltered report (one row per source).
#
# refresh(claim_ids) rewrites the rows of those claims and the SourceRecord rows
# of every subject they touch, set-wise. claims.confirmation_store calls it at
# the end of each recompute_claims pass, which every change of a citation, a
# document's date, a ruling or a "part of" goes through, in that change's
# transaction; claims.actions calls it on a submission (open → in review).


def _ids_sql(ids: list[int]) -> tuple[str, list]:
    """An IN right-hand side binding every id as one parameter."""
    raw = id_list(ids)
    if isinstance(raw, list):  # no single-parameter form for this database
        return ", ".join(["%s"] * len(raw)) or "NULL", raw
    return raw.sql, list(raw.params)


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _cited_sql(claim_ids: list[int] | None) -> tuple[str, list]:
    """The supporting citations of these claims (all with None), each with its
    claim, source, origin and report day; compiled by Django so the report day
    is the same expression the fresh computation uses."""

    def cited(ids=None):
        citations = Citation.objects.filter(supports=True)
        if ids is not None:
            citations = citations.filter(claim_id__in=ids)
        return (
            citations.annotate(
                c_claim=F("claim_id"),
                c_source=F("source_id"),
                c_origin=F("source__origin_id"),
                c_day=report_date(),
            )
            .values("c_claim", "c_source", "c_origin", "c_day")
            .order_by()
        )

    if claim_ids is None:
        return cited().query.sql_with_params()
    return sql_for_ids("reliability cited", cited, claim_ids)


SUPPORT_COLUMNS = (
    "claim_id, subject_id, by_origin, status, topic_id, time_start, time_end, "
    "first_day, last_day, is_first, lead_days"
)
# Per claim: each supporting source's and origin's first and last report day;
# RANK makes every subject tied on the earliest day a first reporter, and
# NTH_VALUE is the next first report (the same day when tied).
SUPPORT_SQL = """
WITH cited AS ({cited}),
grouped AS (
    SELECT c_claim AS claim_id, c_source AS subject_id, {false} AS by_origin,
        MIN(c_day) AS first_day, MAX(c_day) AS last_day
    FROM cited GROUP BY c_claim, c_source
    UNION ALL
    SELECT c_claim, c_origin, {true}, MIN(c_day), MAX(c_day)
    FROM cited WHERE c_origin IS NOT NULL GROUP BY c_claim, c_origin
),
ranked AS (
    SELECT claim_id, subject_id, by_origin, first_day, last_day,
        RANK() OVER (PARTITION BY claim_id, by_origin ORDER BY first_day) AS place,
        NTH_VALUE(first_day, 2) OVER (
            PARTITION BY claim_id, by_origin ORDER BY first_day
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS next_day
    FROM grouped
)
SELECT ranked.claim_id, ranked.subject_id, ranked.by_origin, claim.status,
    claim.topic_id, claim.time_start, claim.time_end, ranked.first_day,
    ranked.last_day, (ranked.place = 1) AS is_first,
    CASE WHEN ranked.place = 1 THEN {lead} END AS lead_days
FROM ranked JOIN claims_claim claim ON claim.id = ranked.claim_id
"""
DAYS_SQL = """
SELECT DISTINCT cited.c_claim, claim.topic_id, cited.c_day
FROM ({cited}) AS cited JOIN claims_claim claim ON claim.id = cited.c_claim
"""

# The sums of a subject's pairs, from a CTE named pairs with the columns
# (subject, by_origin, status, last_day, is_first, lead_days); the median lead is
# the mean of the middle one or two of its ordered leads.
SUMS_SQL = """
counts AS (
    SELECT subject, by_origin,
        COUNT(*) AS supported,
        COUNT(CASE WHEN status = 'confirmed' THEN 1 END) AS confirmed,
        COUNT(CASE WHEN status = 'refuted' THEN 1 END) AS refuted,
        COUNT(CASE WHEN status = 'open' THEN 1 END) AS still_open,
        COUNT(CASE WHEN status = 'in_review' THEN 1 END) AS in_review,
        MAX(last_day) AS latest,
        COUNT(CASE WHEN status = 'confirmed' AND is_first THEN 1 END) AS firsts
    FROM pairs
    GROUP BY subject, by_origin
),
leads AS (
    SELECT subject, by_origin, lead_days,
        ROW_NUMBER() OVER (
            PARTITION BY subject, by_origin ORDER BY lead_days
        ) AS n,
        COUNT(*) OVER (PARTITION BY subject, by_origin) AS m
    FROM pairs
    WHERE status = 'confirmed' AND is_first AND lead_days IS NOT NULL
),
medians AS (
    SELECT subject, by_origin, AVG(lead_days) AS median_lead
    FROM leads WHERE n = (m + 1) / 2 OR n = (m + 2) / 2
    GROUP BY subject, by_origin
)
SELECT counts.subject, counts.by_origin, supported, confirmed, refuted,
    still_open, in_review, latest, firsts, medians.median_lead
FROM counts LEFT JOIN medians
    ON medians.subject = counts.subject AND medians.by_origin = counts.by_origin
"""
RECORD_COLUMNS = (
    "subject_id, by_origin, supported, confirmed, refuted, open, in_review, "
    "latest, firsts, median_lead"
)
STORED_PAIRS = """pairs AS (
    SELECT subject_id AS subject, by_origin, status, last_day, is_first, lead_days
    FROM sources_sourcesupport {where}
)"""
SELECTED_SUMS_SQL = """WITH pairs AS (
    SELECT subject_id AS subject, by_origin, status, last_day, is_first, lead_days
    FROM ({pairs}) AS selected
),
{sums}"""
# A refresh computes the claims' rows afresh into temporary tables and writes
# only the difference, so a change that moves nothing the report counts (a
# grade change reaching 100,000 claims) writes nothing; each source's record
# then moves by the difference's sums. Slices bound the temporary tables.
REFRESH_SLICE = 100_000
ANY_CHANGE_SQL = (
    "SELECT 1 FROM reliability_changed UNION ALL SELECT 1 FROM reliability_days LIMIT 1"
)
TEMPORARY = ("reliability_cited", "reliability_changed", "reliability_days")
CHANGED_SQL = """
SELECT gone.*, -1 AS sign FROM (
    SELECT {columns} FROM sources_sourcesupport WHERE claim_id IN ({ids})
    EXCEPT SELECT {columns} FROM ({fresh}) AS fresh
) AS gone
UNION ALL
SELECT came.*, 1 AS sign FROM (
    SELECT {columns} FROM ({fresh}) AS fresh
    EXCEPT SELECT {columns} FROM sources_sourcesupport WHERE claim_id IN ({ids})
) AS came
"""
DAYS_CHANGED_SQL = """
SELECT gone.*, -1 AS sign FROM (
    SELECT claim_id, topic_id, day FROM sources_reportday WHERE claim_id IN ({ids})
    EXCEPT {fresh}
) AS gone
UNION ALL
SELECT came.*, 1 AS sign FROM (
    {fresh}
    EXCEPT SELECT claim_id, topic_id, day FROM sources_reportday
    WHERE claim_id IN ({ids})
) AS came
"""
INSERT_CHANGED_SQL = (
    f"INSERT INTO sources_sourcesupport ({SUPPORT_COLUMNS}) "  # noqa: S608
    f"SELECT {SUPPORT_COLUMNS} FROM reliability_changed WHERE sign = 1"
)
WRITE_CHANGES_SQL = (
    """DELETE FROM sources_sourcesupport WHERE (claim_id, by_origin, subject_id) IN (
        SELECT claim_id, by_origin, subject_id FROM reliability_changed
        WHERE sign = -1)""",
    INSERT_CHANGED_SQL,
    """DELETE FROM sources_reportday WHERE (claim_id, day) IN (
        SELECT claim_id, day FROM reliability_days WHERE sign = -1)""",
    """INSERT INTO sources_reportday (claim_id, topic_id, day)
        SELECT claim_id, topic_id, day FROM reliability_days WHERE sign = 1""",
    # Every subject the difference touches has a record to move.
    """INSERT INTO sources_sourcerecord (subject_id, by_origin, supported,
            confirmed, refuted, open, in_review, latest, firsts, median_lead)
        SELECT subject_id, by_origin, 0, 0, 0, 0, 0, CAST(NULL AS DATE), 0,
            CAST(NULL AS DOUBLE PRECISION)
        FROM reliability_changed changed
        WHERE NOT EXISTS (
            SELECT 1 FROM sources_sourcerecord record
            WHERE record.subject_id = changed.subject_id
                AND record.by_origin = changed.by_origin)
        GROUP BY subject_id, by_origin""",
    """WITH d AS (
        SELECT subject_id, by_origin, SUM(sign) AS supported,
            SUM(CASE WHEN status = 'confirmed' THEN sign ELSE 0 END) AS confirmed,
            SUM(CASE WHEN status = 'refuted' THEN sign ELSE 0 END) AS refuted,
            SUM(CASE WHEN status = 'open' THEN sign ELSE 0 END) AS still_open,
            SUM(CASE WHEN status = 'in_review' THEN sign ELSE 0 END) AS in_review,
            SUM(CASE WHEN status = 'confirmed' AND is_first THEN sign ELSE 0 END)
                AS firsts,
            -- Rows gone or come that the median lead counts.
            SUM(CASE WHEN status = 'confirmed' AND is_first
                AND lead_days IS NOT NULL THEN 1 ELSE 0 END) AS lead_rows
        FROM reliability_changed GROUP BY subject_id, by_origin
    )
    UPDATE sources_sourcerecord SET
        supported = sources_sourcerecord.supported + d.supported,
        confirmed = sources_sourcerecord.confirmed + d.confirmed,
        refuted = sources_sourcerecord.refuted + d.refuted,
        open = sources_sourcerecord.open + d.still_open,
        in_review = sources_sourcerecord.in_review + d.in_review,
        firsts = sources_sourcerecord.firsts + d.firsts,
        -- NULL until the statement below, when its leads moved.
        median_lead = CASE WHEN d.lead_rows = 0
            THEN sources_sourcerecord.median_lead END,
        -- NULL until fill_intervals, when the rulings moved.
        low = CASE WHEN d.confirmed = 0 AND d.refuted = 0
            THEN sources_sourcerecord.low END,
        latest = (
            SELECT MAX(pair.last_day) FROM sources_sourcesupport pair
            WHERE pair.by_origin = sources_sourcerecord.by_origin
                AND pair.subject_id = sources_sourcerecord.subject_id)
    FROM d
    WHERE sources_sourcerecord.subject_id = d.subject_id
        AND sources_sourcerecord.by_origin = d.by_origin""",
    # The median of the leads of the subjects whose leads moved (a claim logged
    # or edited while open moves none), read from their partial index.
    """WITH touched AS (
        SELECT DISTINCT subject_id, by_origin FROM reliability_changed
        WHERE status = 'confirmed' AND is_first AND lead_days IS NOT NULL
    ),
    leads AS (
        SELECT pair.subject_id, pair.by_origin, pair.lead_days,
            ROW_NUMBER() OVER (
                PARTITION BY pair.subject_id, pair.by_origin ORDER BY pair.lead_days
            ) AS n,
            COUNT(*) OVER (PARTITION BY pair.subject_id, pair.by_origin) AS m
        FROM touched JOIN sources_sourcesupport pair
            ON pair.subject_id = touched.subject_id
            AND pair.by_origin = touched.by_origin
        WHERE pair.status = 'confirmed' AND pair.is_first
            AND pair.lead_days IS NOT NULL
    ),
    medians AS (
        SELECT subject_id, by_origin, AVG(lead_days) AS median_lead
        FROM leads WHERE n = (m + 1) / 2 OR n = (m + 2) / 2
        GROUP BY subject_id, by_origin
    )
    UPDATE sources_sourcerecord SET median_lead = medians.median_lead
    FROM medians
    WHERE sources_sourcerecord.subject_id = medians.subject_id
        AND sources_sourcerecord.by_origin = medians.by_origin""",
    # Only a record the difference touched can have dropped to nothing.
    """DELETE FROM sources_sourcerecord WHERE supported = 0 AND EXISTS (
        SELECT 1 FROM reliability_changed changed
        WHERE changed.subject_id = sources_sourcerecord.subject_id
            AND changed.by_origin = sources_sourcerecord.by_origin)""",
)


def _literals() -> dict[str, str]:
    return {"true": "TRUE", "false": "FALSE"}


def support_sql(claim_ids: list[int] | None, cited: str = "") -> tuple[str, list]:
    """Fresh SourceSupport rows of these claims (of every claim with None), from
    their citations (or the query ``cited`` when given)."""
    params: list = []
    if not cited:
        cited, params = _cited_sql(claim_ids)
    lead = _days_between("ranked.next_day", "ranked.first_day")
    return SUPPORT_SQL.format(cited=cited, lead=lead, **_literals()), list(params)


def days_sql(claim_ids: list[int] | None, cited: str = "") -> tuple[str, list]:
    params: list = []
    if not cited:
        cited, params = _cited_sql(claim_ids)
    return DAYS_SQL.format(cited=cited), list(params)


def _subjects_where(subjects: set[tuple[bool, int]] | None) -> tuple[str, list]:
    if subjects is None:
        return "", []
    parts, params = [], []
    for by_origin in (False, True):
        ids = sorted(pk for flag, pk in subjects if flag == by_origin)
        if ids:
            sql, ids_params = _ids_sql(ids)
            literal = _literals()["true" if by_origin else "false"]
            parts.append(f"(by_origin = {literal} AND subject_id IN ({sql}))")
            params += ids_params
    return "WHERE " + (" OR ".join(parts) or "1 = 0"), params


def records_sql(subjects: set[tuple[bool, int]] | None) -> tuple[str, list]:
    """Fresh SourceRecord rows of these (by_origin, subject) pairs, from the
    stored SourceSupport rows (of every subject with None)."""
    where, params = _subjects_where(subjects)
    pairs = STORED_PAIRS.format(where=where)
    return f"WITH {pairs},\n{SUMS_SQL}", params


def _refresh_records(cursor, subjects: set[tuple[bool, int]] | None) -> None:
    if subjects is not None and not subjects:
        return
    where, params = _subjects_where(subjects)
    cursor.execute(f"DELETE FROM sources_sourcerecord {where}", params)  # noqa: S608
    sql, params = records_sql(subjects)
    cursor.execute(f"INSERT INTO sources_sourcerecord ({RECORD_COLUMNS}) {sql}", params)


NEW_VERSION_SQL = "UPDATE sources_storedversion SET token = %s WHERE id = 1"


def _new_version(cursor) -> None:
    """A new token for the stored pairs and days, in the writer's transaction
    (StoredVersion): the filtered report's remembered sums of the old one are
    no longer read."""
    cursor.execute(NEW_VERSION_SQL, [secrets.token_hex(16)])


def _stored_version() -> str | None:
    """The stored pairs' current token; None without its row (a flushed test
    database), and nothing is remembered then."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM sources_storedversion WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


class SumsMemory:
    """The filtered report's sums per (token, filters), the last few, in this
    process: the SQL over a large topic's pairs takes 100–200 ms at a million
    claims, and every manager reading the same selection would repeat it. A
    plain dict rather than Django's cache, which would pickle thousands of rows
    on every read. The token makes an entry unreadable once the pairs change.
    RECORDS_MEMORY keeps the records built from them the same way."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self.lock:
            rows = self.entries.get(key)
            if rows is not None:
                self.entries.move_to_end(key)
            return rows

    def put(self, key: tuple, rows: Any) -> None:
        with self.lock:
            self.entries[key] = rows
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


# A large topic's sums are a few MiB: four of them at most per worker.
SUMS_MEMORY = SumsMemory(size=4)


INTERVAL_BATCH = 500


UNFILLED_SQL = (
    "SELECT DISTINCT confirmed, refuted FROM sources_sourcerecord WHERE low IS NULL"
)


def fill_intervals(cursor, pairs: list[tuple] | None = None) -> int:
    """Store the interval and suggested grade of every record whose rulings
    changed (the statements above leave its ``low`` NULL): computed here, once
    per distinct (confirmed, refuted), by the functions the report's fresh
    path uses. ``pairs``: those of UNFILLED_SQL, when the caller has read them.
    Returns the number of distinct pairs filled."""
    if pairs is None:
        cursor.execute(UNFILLED_SQL)
        pairs = cursor.fetchall()
    for start in range(0, len(pairs), INTERVAL_BATCH):
        batch = pairs[start : start + INTERVAL_BATCH]
        params: list = []
        for confirmed, refuted in batch:
            params += [confirmed, refuted, *_interval_row(confirmed, refuted)]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(batch))
        # VALUES columns are column1... on both PostgreSQL and SQLite.
        cursor.execute(
            f"""UPDATE sources_sourcerecord SET low = v.column3,
                high = v.column4, suggested = v.column5
            FROM (VALUES {values}) AS v
            WHERE sources_sourcerecord.low IS NULL
                AND sources_sourcerecord.confirmed = v.column1
                AND sources_sourcerecord.refuted = v.column2""",  # noqa: S608
            params,
        )
    return len(pairs)


def _drop_temporary(cursor) -> None:
    for table in TEMPORARY:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _create_temporary_sql(table: str, select: str, if_missing: str = "") -> str:
    """PostgreSQL's kept temporary table with the columns of ``select``."""
    assert table in TEMPORARY, table  # a name of ours, never input
    return (
        f"CREATE TEMP TABLE {if_missing}{table} ON COMMIT DELETE ROWS "
        f"AS {select} WITH NO DATA"
    )


def _fill_temporary(cursor, table: str, select: str, params: list) -> None:
    """The temporary table ``table`` holding the rows of ``select``. On
    PostgreSQL each connection makes it once, emptied at every commit, and a
    refresh empties and refills it: creating and dropping three tables per
    refresh cost about 3 ms of every logged claim, inside the writers' lock,
    and churned the system catalogs. Elsewhere it is made afresh."""
    assert table in TEMPORARY, table  # a name of ours, never input
    if connection.vendor == "postgresql":
        cursor.execute(_create_temporary_sql(table, select, "IF NOT EXISTS "), params)
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - an earlier slice's rows
        cursor.execute(f"INSERT INTO {table} {select}", params)
    else:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {table} AS {select}", params)


# Claims in a slice from which its temporary tables are analyzed (PostgreSQL);
# smaller slices run their statements prepared.
ANALYZE_FROM = 1000
_PLACEHOLDER = re.compile(r"%(s|%)")


class _Prepared:
    """A small slice's statements, prepared on the connection and sent in few
    round trips (PostgreSQL).

    Planning the refresh's statements afresh cost a logged claim about 5 ms,
    all of it inside the writers' lock; a prepared statement is planned once
    per connection and its plan kept while the tables it reads keep their
    definition (PostgreSQL replans it when they change). Large slices (an
    import's) are planned each time: their temporary tables are analyzed, and
    a plan made for a few rows would not suit 100,000.

    What the connection has made already (the temporary tables, the prepared
    statements) is asked of it in one query at the start, not remembered here:
    a rollback takes the tables, and a connection pooler may hand over another
    server connection between transactions. ``add`` queues a statement,
    preparing it if the connection lacks it; ``run`` sends the queue at once.
    """

    def __init__(self, cursor, fills: dict[str, tuple[str, list]]) -> None:
        assert set(fills) <= set(TEMPORARY), fills  # names of ours, never input
        self.cursor = cursor
        missing = ", ".join(
            f"to_regclass('pg_temp.{table}') IS NULL" for table in fills
        )
        cursor.execute(
            f"SELECT {missing}, ARRAY(SELECT name FROM pg_prepared_statements "  # noqa: S608 - our table names
            "WHERE name LIKE 'reliability\\_%')"
        )
        *absent, prepared = cursor.fetchone()
        self.known = set(prepared)
        made = []
        for (table, (select, params)), make in zip(fills.items(), absent, strict=True):
            if make:
                cursor.execute(_create_temporary_sql(table, select), params)
                made.append(table)
        if made:
            # Analyzed empty, they are planned as the few rows a slice puts in
            # them; never analyzed, PostgreSQL assumed hundreds of rows and
            # read whole tables to join them (about 2 ms of each logged claim).
            cursor.execute(f"ANALYZE {', '.join(made)}")
        # Each statement planned once for every slice: PostgreSQL planned those
        # with parameters afresh on every execution (custom plans), about 1 ms
        # of each logged claim. For the rest of the transaction.
        self.queued: list[str] = ["SET LOCAL plan_cache_mode = force_generic_plan"]
        self.params: list = []

    def add(self, sql: str, params: Sequence | None = None) -> None:
        """Queue ``sql``: with ``params``, a statement with %s placeholders."""
        digest = hashlib.sha1(sql.encode()).hexdigest()[:16]  # noqa: S324 - a name
        name = f"reliability_{digest}"
        if name not in self.known:
            body = sql
            if params is not None:
                numbers = iter(range(1, len(params) + 1))
                body = _PLACEHOLDER.sub(
                    lambda m: "%" if m.group(1) == "%" else f"${next(numbers)}", sql
                )
            self.cursor.execute(f"PREPARE {name} AS {body}")
            self.known.add(name)
        if params:
            self.queued.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})")
            self.params += params
        else:
            self.queued.append(f"EXECUTE {name}")

    def run(self) -> None:
        if self.queued:
            self.cursor.execute("; ".join(self.queued), self.params or None)
        self.queued, self.params = [], []


def _fills(claim_ids: list[int]) -> dict[str, tuple[str, list]]:
    """The slice's temporary tables, each with the query and parameters that
    fill it, in order: the other two read the first."""
    ids_sql, ids_params = _ids_sql(claim_ids)
    cited, cited_params = _cited_sql(claim_ids)
    from_table = "SELECT * FROM reliability_cited"
    fresh, _ = support_sql(claim_ids, cited=from_table)
    changed = CHANGED_SQL.format(columns=SUPPORT_COLUMNS, ids=ids_sql, fresh=fresh)
    fresh, _ = days_sql(claim_ids, cited=from_table)
    days = DAYS_CHANGED_SQL.format(ids=ids_sql, fresh=fresh)
    return {
        "reliability_cited": (cited, cited_params),
        "reliability_changed": (changed, ids_params * 2),
        "reliability_days": (days, ids_params * 2),
    }


def _refresh_prepared(cursor, fills: dict[str, tuple[str, list]]) -> list[tuple]:
    """The slice's statements, prepared; returns the rows of UNFILLED_SQL, read
    by the writes' round trip. Without a change there are none: every refresh
    and rebuild fills the intervals it leaves NULL before it ends."""
    statements = _Prepared(cursor, fills)
    for table, (select, params) in fills.items():
        statements.add(f"DELETE FROM {table}")  # noqa: S608 - an earlier slice's rows
        statements.add(f"INSERT INTO {table} {select}", params)
    statements.add(ANY_CHANGE_SQL)
    statements.run()
    if cursor.fetchone() is None:
        return []
    for statement in WRITE_CHANGES_SQL:
        statements.add(statement)
    statements.add(NEW_VERSION_SQL, [secrets.token_hex(16)])
    statements.add(UNFILLED_SQL)
    statements.run()
    return cursor.fetchall()


def _refresh_slice(cursor, claim_ids: list[int]) -> list[tuple] | None:
    """Refresh one slice; returns the rows of UNFILLED_SQL when it read them."""
    fills = _fills(claim_ids)
    postgresql = connection.vendor == "postgresql"
    if postgresql and len(claim_ids) < ANALYZE_FROM:
        return _refresh_prepared(cursor, fills)
    for table, (select, params) in fills.items():
        _fill_temporary(cursor, table, select, params)
        if table == "reliability_cited" and postgresql:
            # A temporary table has no statistics: for an import's 10,000
            # claims the days' join then read every claim through an index
            # (3 s) instead of looking up 10,000 (50 ms).
            cursor.execute("ANALYZE reliability_cited")
    cursor.execute(ANY_CHANGE_SQL)
    if cursor.fetchone() is not None:
        for statement in WRITE_CHANGES_SQL:
            cursor.execute(statement)
        _new_version(cursor)
    if postgresql:
        # Emptied and analyzed, as the small slices' plans take them (_Prepared).
        for table in fills:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - names of ours
        cursor.execute(f"ANALYZE {', '.join(fills)}")
    else:
        _drop_temporary(cursor)
    return None


_unaffected: ContextVar[bool] = ContextVar("reliability_unaffected", default=False)


@contextmanager
def unaffected() -> Iterator[None]:
    """A block whose recomputations change nothing the stored rows hold (a
    grade is no input of theirs): refresh() skips them rather than compare
    every dependent claim's rows to find no difference."""
    token = _unaffected.set(True)
    try:
        yield
    finally:
        _unaffected.reset(token)


def refresh(claim_ids) -> None:
    """Bring the stored aggregates of these claims, and the records of every
    source and origin that supports (or supported) them, up to date. Set-wise:
    a few statements per slice of claims, whatever their number."""
    if _unaffected.get():
        return
    ids = sorted({int(pk) for pk in claim_ids})
    if not ids:
        return
    # No savepoint of its own inside a caller's transaction (two round trips
    # inside the writers' lock): whatever fails here fails the caller's change.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One writer at a time, as for the confirmation: two refreshes of one
        # source's record would each insert it.
        lock_writers()
        for start in range(0, len(ids), REFRESH_SLICE):
            unfilled = _refresh_slice(cursor, ids[start : start + REFRESH_SLICE])
        # One slice's read is every interval to fill; several leave it to a read.
        fill_intervals(cursor, unfilled if len(ids) <= REFRESH_SLICE else None)


def claim_edited(claim: Claim) -> None:
    """Copy an edited claim's topic and event time to its stored rows (the
    sums do not depend on them, only the filtered report's selection)."""
    with transaction.atomic():
        pairs = SourceSupport.objects.filter(claim_id=claim.pk).update(
            topic_id=claim.topic_id,
            time_start=claim.time_start,
            time_end=claim.time_end,
        )
        days = ReportDay.objects.filter(claim_id=claim.pk).update(
            topic_id=claim.topic_id
        )
        if pairs or days:
            with connection.cursor() as cursor:
                _new_version(cursor)


STORED_TABLES = ("sources_sourcerecord", "sources_sourcesupport", "sources_reportday")


def rebuild() -> dict[str, int]:
    """Recompute every stored aggregate from the citations; returns row counts."""
    # A transaction of its own (the command, bench/generate) may TRUNCATE; inside
    # a caller's, deferred foreign-key checks on earlier rows forbid it.
    outermost = connection.get_autocommit()
    with transaction.atomic(), connection.cursor() as cursor:
        lock_writers()
        if connection.vendor == "postgresql":
            # A rebuild reads every citation: longer than a request may take,
            # and its window functions sort every pair.
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute("SET LOCAL work_mem = '128MB'")
        if connection.vendor == "postgresql" and outermost:
            # No dead rows left behind, as DELETE would.
            cursor.execute(f"TRUNCATE {', '.join(STORED_TABLES)}")
        else:
            for table in STORED_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        sql, params = days_sql(None)
        cursor.execute(
            f"INSERT INTO sources_reportday (claim_id, topic_id, day) {sql}", params
        )
        sql, params = support_sql(None)
        cursor.execute(
            f"INSERT INTO sources_sourcesupport ({SUPPORT_COLUMNS}) {sql}", params
        )
        _refresh_records(cursor, None)
        fill_intervals(cursor)
        _new_version(cursor)
    if connection.vendor == "postgresql" and outermost:
        # The filtered report reads the pairs by index-only scans, which need
        # the visibility map that only VACUUM sets; the planner, statistics.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            for table in STORED_TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("RESET statement_timeout")
    return {
        "pairs": SourceSupport.objects.count(),
        "report days": ReportDay.objects.count(),
        "records": SourceRecord.objects.count(),
    }


def drift() -> dict[str, int]:
    """For each stored table, how many rows differ from a fresh computation (rows
    stored but not fresh plus rows fresh but not stored)."""
    checks = {
        "pairs": (
            support_sql(None),
            f"SELECT {SUPPORT_COLUMNS} FROM sources_sourcesupport",  # noqa: S608
        ),
        "report days": (
            days_sql(None),
            "SELECT claim_id, topic_id, day FROM sources_reportday",
        ),
        "records": (
            records_sql(None),
            f"SELECT {RECORD_COLUMNS} FROM sources_sourcerecord",  # noqa: S608
        ),
    }
    found = {}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A check reads every citation, as a rebuild does.
            cursor.execute("SET LOCAL statement_timeout = 0")
        for name, ((fresh, params), stored) in checks.items():
            total = 0
            for first, second, first_params, second_params in (
                (fresh, stored, params, []),
                (stored, fresh, [], params),
            ):
                # A leading WITH cannot sit inside a compound SELECT everywhere.
                cursor.execute(
                    f"SELECT COUNT(*) FROM (SELECT * FROM ({first}) AS a "  # noqa: S608
                    f"EXCEPT SELECT * FROM ({second}) AS b) AS diff",
                    first_params + second_params,
                )
                total += cursor.fetchone()[0]
            found[name] = total
        cursor.execute(
            "SELECT confirmed, refuted, low, high, suggested FROM sources_sourcerecord"
        )
        found["intervals"] = sum(
            1
            for confirmed, refuted, low, high, suggested in cursor.fetchall()
            if (low, high, suggested) != _interval_row(confirmed, refuted)
        )
    return found


def _interval_row(confirmed: int, refuted: int) -> tuple[float, float, str]:
    low, high = credible_interval(confirmed, refuted)
    return low, high, suggest_grade(confirmed + refuted, low, high)


def selected_pairs(selection: Selection) -> QuerySet:
    """The stored pairs of the claims the topic and period filters select: the
    same selection as selected_claims, from SourceSupport and ReportDay alone."""
    pairs = SourceSupport.objects.filter(by_origin=selection.by_origin)
    days = ReportDay.objects.all()
    if selection.topic is not None:
        pairs = pairs.filter(topic=selection.topic)
        days = days.filter(topic=selection.topic)
    start, end = selection.period_from, selection.period_to
    if start is not None or end is not None:
        if start is not None:
            days = days.filter(day__gte=start)
        if end is not None:
            days = days.filter(day__lte=end)
        reported = Q(claim_id__in=days.values("claim_id"))
        pairs = pairs.filter(event_overlaps(start, end) | reported)
    return pairs.order_by().values(
        "subject_id", "by_origin", "status", "last_day", "is_first", "lead_days"
    )


def _stored_selection_sql(selection: Selection) -> tuple[str, list]:
    """The report's sums over the stored pairs of the selected claims."""
    sql, params = selected_pairs(selection).query.sql_with_params()
    return SELECTED_SUMS_SQL.format(pairs=sql, sums=SUMS_SQL), list(params)


def _sums_key(selection: Selection) -> tuple:
    """What the filtered sums depend on: the stored pairs' version (None: none
    stored yet) and the topic and period filters."""
    return (
        _stored_version(),
        selection.by_origin,
        selection.topic.pk if selection.topic is not None else None,
        selection.period_from,
        selection.period_to,
    )


def selected_sums(selection: Selection, key: tuple | None = None) -> Sequence[tuple]:
    """The stored pairs' sums per subject for the topic and period filters
    (kind and country apply to the subjects afterwards), remembered per
    version of the pairs; ``key``: _sums_key(selection), when read already."""
    key = key or _sums_key(selection)
    version = key[0]
    rows = SUMS_MEMORY.get(key) if version else None
    if rows is None:
        sql, params = _stored_selection_sql(selection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = PackedSums(cursor.fetchall())
        if version:
            SUMS_MEMORY.put(key, rows)
    return rows


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class PackedSums(Sequence):
    """SUMS_SQL's rows as machine numbers, nine to a row, the median apart:
    what a worker keeps of a large topic's sums is then 80 bytes a subject
    rather than about 280 as a tuple of Python objects (1.5 MiB less for the
    benchmark's topic), so that the memory stays small and the worker's heap
    flat. Each row reads back as the tuple it was, the day as a date and the
    median as a float."""

    NO_DAY = -1
    WIDTH = 9

    def __init__(self, rows: list[tuple]):
        self.numbers = array("q")
        self.medians = array("d")
        for (
            subject,
            by_origin,
            supported,
            confirmed,
            refuted,
            opened,
            in_review,
            latest,
            firsts,
            median,
        ) in rows:
            day = _as_date(latest)
            self.numbers.extend(
                (
                    subject,
                    bool(by_origin),
                    supported,
                    confirmed,
                    refuted,
                    opened,
                    in_review,
                    self.NO_DAY if day is None else day.toordinal(),
                    firsts,
                )
            )
            self.medians.append(math.nan if median is None else float(median))

    def __len__(self) -> int:
        return len(self.medians)

    def __getitem__(self, index: int) -> tuple:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = self.WIDTH * index
        subject, by_origin, *counts, day, firsts = self.numbers[
            start : start + self.WIDTH
        ]
        median = self.medians[index]
        return (
            subject,
            bool(by_origin),
            *counts,
            None if day == self.NO_DAY else dt.date.fromordinal(day),
            firsts,
            None if math.isnan(median) else median,
        )


def _may_read_stored(user) -> bool:
    """The stored rows count every claim: right for a reader who sees every
    claim (today's rule: staff see all, others none), never for a narrower one."""
    return Claim.objects.visible_to(user).is_every_claim()


STORED_FIGURES = (
    "supported", "confirmed", "refuted", "open", "in_review", "latest", "firsts",
    "median_lead",
)  # fmt: skip


def _stored_records(user, selection: Selection) -> list[Record]:
    """Unfiltered: the stored record of each source (or origin), read with its
    source in one query."""
    rows = stored_order(user, selection, DEFAULT_ORDERING)
    return list(StoredRecords(rows))


def _sort_key(expression):
    """Text compared code point by code point, as Python compares strings."""
    if connection.vendor == "postgresql":
        return Collate(expression, "C")
    return expression  # SQLite's default collation (BINARY) already does


def _agreement_rank() -> Case:
    """AGREEMENT_ORDER of Record.agreement, from the stored suggestion."""
    return Case(
        When(rulings__lt=MIN_RULINGS, then=Value(AGREEMENT_ORDER[TOO_FEW])),
        When(suggested=F("subject__grade"), then=Value(AGREEMENT_ORDER[AGREES])),
        When(subject__grade=Grade.F, then=Value(AGREEMENT_ORDER[SUGGESTS_A_GRADE])),
        # Letters sort as the grades do: A best.
        When(
            suggested__lt=F("subject__grade"),
            then=Value(AGREEMENT_ORDER[SUGGESTS_HIGHER]),
        ),
        default=Value(AGREEMENT_ORDER[SUGGESTS_LOWER]),
        output_field=IntegerField(),
    )


def _stored_sort_expressions() -> dict:
    """Each column's sort value in SQL, equal to its Column.sort_value (or the
    Record attribute) in Python: sort_records and stored_order agree, which
    tests/test_reliability.py checks column by column."""
    as_float = FloatField()
    return {
        "name": _sort_key(Lower("subject__name")),
        "kind": Case(
            *(
                When(subject__kind=value, then=Value(str(label)))
                for value, label in Source.Kind.choices
            ),
            default=F("subject__kind"),
            output_field=CharField(),
        ),
        "country": _sort_key(NullIf(Lower("subject__country"), Value(""))),
        "grade": F("subject__grade"),
        "suggested": F("suggested"),
        "agreement": _agreement_rank(),
        "still_open": F("open") + F("in_review"),
        "rulings": F("rulings"),
        "accuracy": (Cast("confirmed", as_float) + Value(float(PRIOR_CONFIRMED)))
        / (
            Cast("confirmed", as_float)
            + Cast("refuted", as_float)
            + Value(float(PRIOR_CONFIRMED + PRIOR_REFUTED))
        ),
    }


# The columns whose value may be missing (None in Python, NULL in SQL).
NULLABLE_COLUMNS = {"country", "median_lead", "latest", "low", "high"}
STORED_COLUMNS = (
    "subject_id", "subject__name", "subject__kind", "subject__country",
    "subject__grade", *STORED_FIGURES, "low", "high", "suggested",
)  # fmt: skip


def _stored_record(row: tuple) -> Record:
    (
        pk, name, kind, country, grade,
        supported, confirmed, refuted, opened, in_review, latest, firsts, median,
        low, high, suggested,
    ) = row  # fmt: skip
    return Record(
        id=pk,
        name=name,
        kind=kind,
        country=country,
        grade=grade,
        supported=supported,
        confirmed=confirmed,
        refuted=refuted,
        open=opened,
        in_review=in_review,
        latest=latest,
        firsts=firsts,
        median_lead=median,
        stored_interval=(low, high),
        stored_suggested=suggested,
    )


def _stored_selection(user, selection: Selection) -> QuerySet:
    """The stored records the unfiltered report shows this reader."""
    records = SourceRecord.objects.filter(by_origin=selection.by_origin)
    subjects = _visible_subjects(user, selection)
    if subjects.query.where:
        records = records.filter(subject__in=subjects)
    return records


def stored_order(user, selection: Selection, ordering: str) -> QuerySet:
    """The unfiltered report's stored records in the report's order, as rows
    for _stored_record: sorted and paged by the database, like sort_records
    (rows without a value last either way, ties by name then id)."""
    descending = ordering.startswith("-")
    key = ordering.lstrip("-")
    key = key if key in COLUMN_BY_KEY else "rulings"
    expression = _stored_sort_expressions().get(key, F(key))
    direction = expression.desc if descending else expression.asc
    # NULLS LAST only where a value may be missing: a plain DESC lets the
    # default order (rulings) read its index backwards.
    nulls = {"nulls_last": True} if key in NULLABLE_COLUMNS else {}
    return (
        _stored_selection(user, selection)
        .alias(rulings=F("confirmed") + F("refuted"))
        .order_by(
            direction(**nulls),
            _sort_key(Lower("subject__name")).asc(),
            "subject_id",
        )
        .values_list(*STORED_COLUMNS)
    )


class StoredRecords:
    """The stored records in the report's order, read a slice at a time: what
    Paginator, the printable view and the CSV export take in place of a list,
    so that a page reads its 50 rows, not 10,000."""

    def __init__(self, rows: QuerySet, selected: QuerySet | None = None):
        self.rows = rows
        # The same records without the joins the rows need: what count() counts.
        self.selected = rows if selected is None else selected

    @cached_property
    def total(self) -> int:
        return self.selected.count()

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_stored_record(row) for row in self.rows[index]]
        return _stored_record(self.rows[index])

    def __iter__(self) -> Iterator[Record]:
        for row in self.rows.iterator(chunk_size=2000):
            yield _stored_record(row)


def _reads_stored_records(user, selection: Selection) -> bool:
    unfiltered = selection.topic is None and not (
        selection.period_from or selection.period_to
    )
    return unfiltered and _may_read_stored(user)


def report_rows(user, selection: Selection, ordering: str):
    """The report's rows in its order: unfiltered, the stored records sorted
    and sliced by the database; otherwise the records computed for the filters,
    sorted here."""
    if _reads_stored_records(user, selection):
        return StoredRecords(
            stored_order(user, selection, ordering),
            _stored_selection(user, selection),
        )
    if _may_read_stored(user):
        return remembered_records(user, selection, ordering)
    return sort_records(source_records(user, selection), ordering)


class _Built(NamedTuple):
    """A filtered report's records, built from the sums and the subjects, and
    their orders as sorted so far."""

    records: list[Record]
    orders: dict[str, list[Record]]


class SharedRecords(Sequence):
    """Remembered records handed out as copies, so that a page setting its
    rows' links never touches what the next request reads."""

    def __init__(self, records: list[Record]):
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [replace(record, links={}) for record in self._records[index]]
        return replace(self._records[index], links={})


# The filtered report's built and sorted records, the last few, in this process:
# building and sorting thousands of records cost 60-100 ms of a request at a
# million claims. An entry serves a request only if the stored pairs' version
# (through the sums' key) and every field of every subject it shows are those
# it was built with (the subjects' digest is in the key): a renamed or regraded
# source, or a reader who sees other sources, builds afresh.
RECORDS_MEMORY = SumsMemory(size=4)


def remembered_records(user, selection: Selection, ordering: str) -> SharedRecords:
    """sort_records(source_records(user, selection), ordering) for a filtered
    selection that a reader of the stored rows asks for, built and sorted once
    per version of the pairs and of the subjects."""
    sums_key = _sums_key(selection)
    digest = _subjects_digest(user, selection)
    key = (*sums_key, digest)
    built = RECORDS_MEMORY.get(key) if key[0] else None
    if built is None:
        rows = selected_sums(selection, sums_key)
        built = _Built(_records_from_sums(rows, _subjects(user, selection)), {})
        # Kept only if the subjects read are those the digest was made of: a
        # source changed between the two reads leaves nothing remembered.
        if key[0] and _subjects_digest(user, selection) == digest:
            RECORDS_MEMORY.put(key, built)
    ordering = ordering if ordering.lstrip("-") in COLUMN_BY_KEY else DEFAULT_ORDERING
    ordered = built.orders.get(ordering)
    if ordered is None:
        ordered = built.orders[ordering] = sort_records(built.records, ordering)
    return SharedRecords(ordered)


def source_records(user, selection: Selection) -> list[Record]:
    """One record per source (or origin) that supported a selected claim, in no
    particular order, from the stored aggregates: unfiltered, one row per
    subject; filtered by topic or period, the sums over the stored pairs of the
    selected claims. Equal to fresh_source_records, which the tests check."""
    if Claim.objects.visible_to(user).query.is_empty():
        return []
    if not _may_read_stored(user):
        return fresh_source_records(user, selection)
    if selection.topic is None and not (selection.period_from or selection.period_to):
        return _stored_records(user, selection)
    return _records_from_sums(selected_sums(selection), _subjects(user, selection))


# The links of a record not yet on a page: one empty mapping for all, which a
# page replaces (SharedRecords hands out copies with a dict of their own).
NO_LINKS = MappingProxyType({})


def _records_from_sums(
    rows: Sequence[tuple], subjects: dict[int, tuple]
) -> list[Record]:
    """The filtered report's records: the stored pairs' sums per subject
    (selected_sums) with the subjects' own fields; a sum whose subject is not
    among them (not visible, or another kind or country) is left out."""
    records = []
    for subject, _, supported, confirmed, refuted, opened, in_review, *rest in rows:
        source = subjects.get(subject)
        if source is None:
            continue
        latest, firsts, median = rest
        records.append(
            Record(
                *source,
                links=NO_LINKS,
                supported=supported,
                confirmed=confirmed,
                refuted=refuted,
                open=opened,
                in_review=in_review,
                latest=_as_date(latest),
                firsts=firsts,
                median_lead=None if median is None else float(median),
            )
        )
    return records


# The distinct countries in order, one index probe each (the source_country
# index) rather than a scan of every source: a "loose index scan".
COUNTRIES_SQL = """
WITH RECURSIVE found (country) AS (
    SELECT MIN(country) FROM sources_source WHERE country > ''
    UNION ALL
    SELECT (SELECT MIN(country) FROM sources_source WHERE country > found.country)
    FROM found WHERE found.country IS NOT NULL
)
SELECT country FROM found WHERE country IS NOT NULL
"""


def countries() -> list[str]:
    """Every country a source names, in the database's order."""
    with connection.cursor() as cursor:
        cursor.execute(COUNTRIES_SQL)
        return [country for (country,) in cursor.fetchall()]


# --- the chart ----------------------------------------------------------------


@dataclass
class ChartPoint:
    record: Record
    y: float
    x_low: float
    x_mean: float
    x_high: float
    # As the table shows them, formatted once rather than per use.
    accuracy: str = ""
    low: str = ""
    high: str = ""


@dataclass
class Chart:
    """Geometry of the accuracy chart, in the SVG's own units."""

    points: list[ChartPoint]
    width: int
    height: int
    plot_left: int
    plot_right: int
    top: int
    bottom: int
    ticks: list[tuple[float, str]] = field(default_factory=list)
    thresholds: list[tuple[float, str]] = field(default_factory=list)
    left_out: int = 0


CHART_WIDTH = 760
CHART_ROW = 20
CHART_LABEL_WIDTH = 240
CHART_GRADE_WIDTH = 48
CHART_LIMIT = 50


def accuracy_chart(records: list[Record]) -> Chart:
    """The accuracy and interval of each record with at least one ruling, the
    first CHART_LIMIT of them."""
    with_rulings = [r for r in records if r.rulings]
    plotted = with_rulings[:CHART_LIMIT]
    left, right = CHART_LABEL_WIDTH, CHART_WIDTH - CHART_GRADE_WIDTH
    top = 34
    bottom = top + CHART_ROW * len(plotted)

    def x(value: float) -> float:
        return round(left + value * (right - left), 1)

    points = [
        ChartPoint(
            record=record,
            y=top + CHART_ROW * index + CHART_ROW / 2,
            x_low=x(record.low),
            x_mean=x(record.accuracy),
            x_high=x(record.high),
        )
        for index, record in enumerate(plotted)
    ]
    language = get_language()
    for point in points:
        point.accuracy, point.low, point.high = point.record.texts(language)
    return Chart(
        points=points,
        width=CHART_WIDTH,
        height=bottom + 30,
        plot_left=left,
        plot_right=right,
        top=top,
        bottom=bottom,
        ticks=[(x(v), f"{v:g}") for v in (0, 0.25, 0.5, 0.75, 1)],
        thresholds=[(x(least), grade) for grade, least in LOWER_BOUND_GRADES],
        left_out=len(records) - len(with_rulings),
    )


# --- a source's track record over time ------------------------------------------


@dataclass
class Quarter:
    year: int
    quarter: int
    confirmed: int = 0
    refuted: int = 0

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.quarter}"

    @property
    def total(self) -> int:
        return self.confirmed + self.refuted


def quarterly_rulings(user, source: Source) -> list[Quarter]:
    """Claims the source supported, now ruled, counted by the calendar quarter of
    their latest ruling (the claim's last change when no ruling was recorded);
    quarters without rulings in between are listed with zeros. One query."""
    latest_ruling = (
        Review.objects.filter(claim=OuterRef("pk"), outcome=OuterRef("status"))
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    supported = Citation.objects.filter(
        claim=OuterRef("pk"), source=source, supports=True
    )
    rows = (
        Claim.objects.visible_to(user)
        .filter(status__in=RULED)
        .filter(Exists(supported))
        .annotate(ruled_at=Coalesce(Subquery(latest_ruling), F("updated_at")))
        .annotate(year=ExtractYear("ruled_at"), quarter=ExtractQuarter("ruled_at"))
        .values("year", "quarter")
        .annotate(
            confirmed=Count("pk", filter=Q(status=Claim.Status.CONFIRMED)),
            refuted=Count("pk", filter=Q(status=Claim.Status.REFUTED)),
        )
        .order_by("year", "quarter")
    )
    counted = {(row["year"], row["quarter"]): row for row in rows}
    if not counted:
        return []
    (year, quarter), last = min(counted), max(counted)
    quarters = []
    while (year, quarter) <= last:
        row = counted.get((year, quarter), {})
        quarters.append(
            Quarter(year, quarter, row.get("confirmed", 0), row.get("refuted", 0))
        )
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return quarters


@dataclass
class QuarterBar:
    quarter: Quarter
    x: float
    y_confirmed: float
    h_confirmed: float
    y_refuted: float
    h_refuted: float


def quarter_bars(quarters: list[Quarter], height: int = 90) -> dict:
    """Stacked bars, confirmed below refuted, on a shared scale."""
    tallest = max((q.total for q in quarters), default=0) or 1
    step = 26
    base = height
    bars = []
    for index, quarter in enumerate(quarters):
        h_confirmed = round(quarter.confirmed / tallest * (height - 10), 1)
        h_refuted = round(quarter.refuted / tallest * (height - 10), 1)
        bars.append(
            QuarterBar(
                quarter=quarter,
                x=index * step + 4,
                y_confirmed=base - h_confirmed,
                h_confirmed=h_confirmed,
                y_refuted=base - h_confirmed - h_refuted,
                h_refuted=h_refuted,
            )
        )
    return {
        "bars": bars,
        "width": max(len(quarters) * step + 8, 60),
        "height": height + 18,
        "base": base,
        "tallest": tallest,
    }
