"""How each source's reporting has held up against reviewers' rulings.

The source reliability report (DESIGN.md) and the track record on a source's page.
Every figure is counted in the database with aggregates over supporting citations;
Python only walks the per-source aggregate rows.

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
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from django.db import connection
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractQuarter,
    ExtractYear,
)

from claims.models import Citation, Claim, Review, Topic
from sources.models import Grade, Source

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


@lru_cache(maxsize=65_536)
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


@dataclass
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

    @property
    def rulings(self) -> int:
        return self.confirmed + self.refuted

    @property
    def still_open(self) -> int:
        return self.open + self.in_review

    @property
    def accuracy(self) -> float:
        return posterior_mean(self.confirmed, self.refuted)

    @cached_property
    def interval(self) -> tuple[float, float]:
        return credible_interval(self.confirmed, self.refuted)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    @cached_property
    def suggested(self) -> str:
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

    def get_kind_display(self) -> str:
        return Source.Kind(self.kind).label if self.kind in Source.Kind else self.kind

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
    return value.casefold()


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
    value = column.sort_value or (lambda record: getattr(record, column.key))
    ordered = sorted(records, key=lambda r: (_casefold(r.name), r.id))
    present = [r for r in ordered if value(r) is not None]
    missing = [r for r in ordered if value(r) is None]
    # sorted() is stable in both directions, so ties keep the order above.
    return sorted(present, key=value, reverse=descending) + missing


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


def selected_claims(selection: Selection) -> Q:
    """The topic and period filters, on a claim queryset."""
    condition = Q()
    if selection.topic is not None:
        condition &= Q(topic=selection.topic)
    start, end = selection.period_from, selection.period_to
    if start is None and end is None:
        return condition
    event = Q()
    reports = Citation.objects.filter(claim=OuterRef("pk"), supports=True)
    reports = reports.annotate(reported_on=report_date())
    if start is not None:
        # With one date a claim's event is a point; with two, a span to overlap.
        event &= Q(time_end__gte=start) | Q(
            time_end__isnull=True, time_start__gte=start
        )
        reports = reports.filter(reported_on__gte=start)
    if end is not None:
        event &= Q(time_start__lte=end) | Q(time_start__isnull=True, time_end__lte=end)
        reports = reports.filter(reported_on__lte=end)
    return condition & (event | Exists(reports))


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


def _subjects(user, selection: Selection) -> dict[int, dict]:
    """The sources (or origins) a row may stand for, under the kind and country
    filters."""
    sources = Source.objects.visible_to(user)
    if selection.by_origin:
        sources = sources.filter(origin_id=F("id"))
    if selection.kind:
        sources = sources.filter(kind=selection.kind)
    if selection.country:
        sources = sources.filter(country=selection.country)
    fields = ("id", "name", "kind", "country", "grade")
    return {row["id"]: row for row in sources.order_by().values(*fields)}


def source_records(user, selection: Selection) -> list[Record]:
    """One record per source (or origin) that supported a selected claim, in no
    particular order; two queries, whatever the number of sources and claims.

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
                **source,
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


def countries() -> list[str]:
    return list(
        Source.objects.exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )


# --- the chart ----------------------------------------------------------------


@dataclass
class ChartPoint:
    record: Record
    y: float
    x_low: float
    x_mean: float
    x_high: float


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
