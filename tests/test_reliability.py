"""The source reliability report: every figure of a hand-computed world.

The interval bounds written below were computed apart from the code under test,
from the exact identity for integer parameters
I_x(a, b) = P(Binomial(a + b - 1, x) >= a), inverted by bisection to 1e-12.
"""

import csv
import datetime as dt
import io
import math
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.models import Citation, Claim, Review
from sources import reliability
from sources.models import GradeChange, Source
from sources.reliability import (
    Record,
    Selection,
    beta_quantile,
    credible_interval,
    regularized_beta,
    suggest_grade,
)
from tests.factories import (
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    SourceFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db

REPORT = reverse("sources:reliability_report")
EXPORT = reverse("sources:reliability_report_export")
PRINT = reverse("sources:reliability_report_print")

CONFIRMED, REFUTED = Claim.Status.CONFIRMED, Claim.Status.REFUTED
OPEN, IN_REVIEW = Claim.Status.OPEN, Claim.Status.IN_REVIEW


# --- the Beta distribution ---------------------------------------------------


def binomial_tail_cdf(a: int, b: int, x: float) -> float:
    n = a + b - 1
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


def simpson_cdf(a: float, b: float, x: float, steps: int = 4000) -> float:
    """The Beta CDF by integrating its density with Simpson's rule."""
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)

    def density(t: float) -> float:
        if t <= 0.0 or t >= 1.0:
            return 0.0
        return math.exp(log_norm + (a - 1) * math.log(t) + (b - 1) * math.log1p(-t))

    h = x / steps
    total = density(0.0) + density(x)
    total += sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    return total * h / 3


def test_beta_2_1_has_the_closed_form_quantile():
    # The CDF of Beta(2, 1) is x squared.
    assert beta_quantile(0.05, 2, 1) == pytest.approx(math.sqrt(0.05), abs=1e-9)
    assert round(beta_quantile(0.05, 2, 1), 4) == 0.2236


def test_the_uniform_prior_quantiles_are_the_probabilities():
    assert beta_quantile(0.05, 1, 1) == pytest.approx(0.05, abs=1e-9)
    assert beta_quantile(0.95, 1, 1) == pytest.approx(0.95, abs=1e-9)
    assert credible_interval(0, 0) == pytest.approx((0.05, 0.95), abs=1e-9)


def test_beta_9_3_quantiles_agree_with_numerical_integration():
    low, high = beta_quantile(0.05, 9, 3), beta_quantile(0.95, 9, 3)
    assert simpson_cdf(9, 3, low) == pytest.approx(0.05, abs=1e-6)
    assert simpson_cdf(9, 3, high) == pytest.approx(0.95, abs=1e-6)
    assert round(low, 3) == 0.530
    assert round(high, 3) == 0.921


@pytest.mark.parametrize(
    "a, b, x",
    [(1, 1, 0.3), (7, 2, 0.5), (3, 8, 0.1), (30, 4, 0.9), (200, 180, 0.52)],
)
def test_the_regularized_incomplete_beta_matches_the_binomial_tail(a, b, x):
    assert regularized_beta(a, b, x) == pytest.approx(
        binomial_tail_cdf(a, b, x), abs=1e-10
    )


def test_the_incomplete_beta_handles_its_edges_and_refuses_nonsense():
    assert regularized_beta(3, 4, 0.0) == 0.0
    assert regularized_beta(3, 4, 1.0) == 1.0
    assert regularized_beta(0.5, 0.5, 0.5) == pytest.approx(0.5, abs=1e-12)
    with pytest.raises(ValueError):
        regularized_beta(0, 1, 0.5)
    with pytest.raises(ValueError):
        beta_quantile(1.5, 2, 2)


def test_a_long_record_still_gets_an_interval():
    low, high = credible_interval(5000, 5000)
    assert low < 0.5 < high
    assert high - low == pytest.approx(2 * 1.6449 * math.sqrt(0.25 / 10002), abs=1e-3)


# --- the suggested grade at every threshold -----------------------------------


@pytest.mark.parametrize(
    "rulings, lower, upper, grade",
    [
        (4, 0.99, 1.0, "F"),
        (5, 0.90, 0.99, "A"),
        (5, 0.8999, 0.99, "B"),
        (5, 0.75, 0.99, "B"),
        (5, 0.7499, 0.99, "C"),
        (5, 0.55, 0.99, "C"),
        (5, 0.5499, 0.99, "D"),
        (5, 0.10, 0.50, "D"),
        (5, 0.10, 0.4999, "E"),
        (0, 0.05, 0.95, "F"),
    ],
)
def test_the_grade_thresholds(rulings, lower, upper, grade):
    assert suggest_grade(rulings, lower, upper) == grade


@pytest.mark.parametrize(
    "confirmed, refuted, low, high, grade",
    [
        # Unblemished records: A needs 28 rulings, B 10, C 5; fewer than 5 is F.
        (28, 0, 0.9019, 0.9982, "A"),
        (27, 0, 0.8985, 0.9982, "B"),
        (10, 0, 0.7616, 0.9953, "B"),
        (9, 0, 0.7411, 0.9949, "C"),
        (5, 0, 0.6070, 0.9915, "C"),
        (4, 0, 0.5493, 0.9898, "F"),
        (8, 1, 0.6058, 0.9632, "C"),
        (4, 1, 0.4182, 0.9372, "D"),
        # E needs the upper end below one half.
        (0, 5, 0.0085, 0.3930, "E"),
        (1, 5, 0.0534, 0.5207, "D"),
    ],
)
def test_records_at_the_boundaries(confirmed, refuted, low, high, grade):
    record = Record(1, "S", "agency", "", "C", confirmed=confirmed, refuted=refuted)
    assert record.low == pytest.approx(low, abs=5e-5)
    assert record.high == pytest.approx(high, abs=5e-5)
    assert record.suggested == grade


# --- the hand-computed world ---------------------------------------------------


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def world(alice):
    """Six sources: an agency, part of a ministry, part of a government (one
    origin), and three independent ones. Every figure asserted below is counted
    by hand from this table."""
    troops, money = TopicFactory(name="Troops"), TopicFactory(name="Money")
    gov = SourceFactory(
        name="Government of Ruritania",
        kind="government",
        grade="B",
        country="Ruritania",
    )
    ministry = SourceFactory(
        name="Ministry of Defence", parent=gov, grade="C", country="Ruritania"
    )
    agency = SourceFactory(
        name="Intelligence Agency", parent=ministry, grade="A", country="Ruritania"
    )
    outlet = SourceFactory(
        name="Daily Outlet", kind="media", grade="D", country="Freedonia"
    )
    lonely = SourceFactory(name="Lone Blogger", kind="person", grade="F")
    wire = SourceFactory(
        name="Wire Service", kind="media", grade="C", country="Elbonia"
    )

    statuses = {
        1: CONFIRMED, 2: CONFIRMED, 3: CONFIRMED, 4: CONFIRMED, 5: CONFIRMED,
        6: REFUTED, 7: OPEN, 8: IN_REVIEW, 9: REFUTED, 10: OPEN,
        **{n: REFUTED for n in range(11, 16)},
        **{n: CONFIRMED for n in range(16, 21)},
    }  # fmt: skip
    topics = {n: money for n in (4, 5, 6, 10, 11, 12, 13, 14, 15)}
    claims = {
        n: ClaimFactory(
            statement=f"Claim {n}.",
            status=status,
            topic=topics.get(n, troops),
            logged_by=alice,
        )
        for n, status in statuses.items()
    }
    # Claim 9's event overlaps January 2024; claim 10's lies in December 2023.
    Claim.objects.filter(pk=claims[9].pk).update(
        time_start=day("2024-01-15"), time_end=day("2024-02-20")
    )
    Claim.objects.filter(pk=claims[10].pk).update(
        time_start=day("2023-12-01"), time_end=day("2023-12-31")
    )

    def cite(source, n, said_on, supports=True, published_on=None):
        document = DocumentFactory(publisher=source, published_on=published_on)
        CitationFactory(
            claim=claims[n],
            source=source,
            document=document,
            said_on=day(said_on) if said_on else None,
            supports=supports,
            created_by=alice,
        )

    cite(agency, 1, "2024-03-01")
    cite(agency, 1, "2024-03-05")  # a second report of the same claim
    cite(agency, 2, "2024-04-10")
    cite(agency, 3, "2024-05-01")
    cite(agency, 4, None, published_on=day("2024-06-15"))
    cite(agency, 5, "2024-07-01")
    cite(agency, 6, "2024-08-01")
    cite(agency, 17, "2024-01-12")
    cite(outlet, 1, "2024-03-04")
    cite(outlet, 2, "2024-04-01")
    cite(outlet, 3, "2024-05-01")
    cite(outlet, 7, "2024-09-01")
    cite(outlet, 8, "2024-09-02")
    cite(outlet, 16, "2024-01-08")
    cite(outlet, 6, "2024-08-02", supports=False)  # a denial counts for nothing
    cite(ministry, 1, "2024-03-11")
    cite(ministry, 9, "2024-02-01")
    cite(ministry, 18, "2024-01-04")
    cite(gov, 10, "2024-10-01")
    for n in range(11, 16):
        cite(lonely, n, f"2023-05-0{n - 10}")
    for n in range(16, 21):
        cite(wire, n, f"2024-01-0{n - 15}")
    # The factories write rows directly, past claims.actions: store the report's
    # aggregates as the write paths would, so that the report reads them.
    reliability.rebuild()
    return {
        "gov": gov,
        "ministry": ministry,
        "agency": agency,
        "outlet": outlet,
        "lonely": lonely,
        "wire": wire,
        "troops": troops,
        "money": money,
        "claims": claims,
    }


def figures(record: Record) -> dict:
    return {
        "supported": record.supported,
        "confirmed": record.confirmed,
        "refuted": record.refuted,
        "still_open": record.still_open,
        "rulings": record.rulings,
        "accuracy": round(record.accuracy, 3),
        "low": round(record.low, 3),
        "high": round(record.high, 3),
        "suggested": record.suggested,
        "agreement": record.agreement,
        "firsts": record.firsts,
        "median_lead": record.median_lead,
        "latest": record.latest,
    }


def report_rows(client, **params) -> dict[str, Record]:
    response = client.get(REPORT, params)
    assert response.status_code == 200
    return {record.name: record for record in response.context["rows"]}


EXPECTED_SOURCES = {
    "Intelligence Agency": {
        "supported": 7, "confirmed": 6, "refuted": 1, "still_open": 0, "rulings": 7,
        "accuracy": 0.778, "low": 0.529, "high": 0.954,
        "suggested": "D", "agreement": "suggests lower",
        "firsts": 4, "median_lead": 1.5, "latest": day("2024-08-01"),
    },
    "Daily Outlet": {
        "supported": 6, "confirmed": 4, "refuted": 0, "still_open": 2, "rulings": 4,
        "accuracy": 0.833, "low": 0.549, "high": 0.990,
        "suggested": "F", "agreement": "too few rulings",
        "firsts": 2, "median_lead": 4.5, "latest": day("2024-09-02"),
    },
    "Ministry of Defence": {
        "supported": 3, "confirmed": 2, "refuted": 1, "still_open": 0, "rulings": 3,
        "accuracy": 0.600, "low": 0.249, "high": 0.902,
        "suggested": "F", "agreement": "too few rulings",
        "firsts": 0, "median_lead": None, "latest": day("2024-03-11"),
    },
    "Government of Ruritania": {
        "supported": 1, "confirmed": 0, "refuted": 0, "still_open": 1, "rulings": 0,
        "accuracy": 0.500, "low": 0.050, "high": 0.950,
        "suggested": "F", "agreement": "too few rulings",
        "firsts": 0, "median_lead": None, "latest": day("2024-10-01"),
    },
    "Lone Blogger": {
        "supported": 5, "confirmed": 0, "refuted": 5, "still_open": 0, "rulings": 5,
        "accuracy": 0.143, "low": 0.009, "high": 0.393,
        "suggested": "E", "agreement": "suggests a grade",
        "firsts": 0, "median_lead": None, "latest": day("2023-05-05"),
    },
    "Wire Service": {
        "supported": 5, "confirmed": 5, "refuted": 0, "still_open": 0, "rulings": 5,
        "accuracy": 0.857, "low": 0.607, "high": 0.991,
        "suggested": "C", "agreement": "agrees",
        "firsts": 5, "median_lead": 7.0, "latest": day("2024-01-05"),
    },
}  # fmt: skip


def test_every_figure_per_source(world, as_user, max_):
    rows = report_rows(as_user(max_))
    assert {name: figures(record) for name, record in rows.items()} == (
        EXPECTED_SOURCES
    )
    assert rows["Intelligence Agency"].grade == "A"
    assert rows["Intelligence Agency"].mismatch
    assert rows["Lone Blogger"].mismatch
    assert not rows["Wire Service"].mismatch
    assert not rows["Daily Outlet"].mismatch


def test_the_origin_switch_folds_parts_into_their_origin(world, as_user, max_):
    rows = report_rows(as_user(max_), by="origin")
    assert set(rows) == {
        "Government of Ruritania",
        "Daily Outlet",
        "Lone Blogger",
        "Wire Service",
    }
    assert figures(rows["Government of Ruritania"]) == {
        "supported": 10, "confirmed": 7, "refuted": 2, "still_open": 1, "rulings": 9,
        "accuracy": 0.727, "low": 0.493, "high": 0.913,
        "suggested": "D", "agreement": "suggests lower",
        "firsts": 4, "median_lead": 1.5, "latest": day("2024-10-01"),
    }  # fmt: skip
    assert rows["Government of Ruritania"].grade == "B"
    # Claim 18 came from the ministry a day after the wire: one day's lead.
    assert figures(rows["Wire Service"]) == EXPECTED_SOURCES["Wire Service"]
    assert figures(rows["Daily Outlet"]) == EXPECTED_SOURCES["Daily Outlet"]


def test_the_topic_filter(world, as_user, max_):
    rows = report_rows(as_user(max_), topic=world["money"].pk)
    assert set(rows) == {
        "Intelligence Agency",
        "Government of Ruritania",
        "Lone Blogger",
    }
    agency = rows["Intelligence Agency"]
    assert (agency.supported, agency.confirmed, agency.refuted) == (3, 2, 1)
    assert (agency.firsts, agency.median_lead) == (2, None)
    assert agency.latest == day("2024-08-01")


def test_the_period_filter_takes_event_or_report_dates(world, as_user, max_):
    rows = report_rows(as_user(max_), period_from="2024-01-01", period_to="2024-01-31")
    assert set(rows) == {
        "Intelligence Agency",
        "Ministry of Defence",
        "Daily Outlet",
        "Wire Service",
    }
    # Claim 17 was reported in January; claims 18 (reported) and 9 (its event).
    assert (
        rows["Intelligence Agency"].supported,
        rows["Intelligence Agency"].confirmed,
    ) == (1, 1)
    ministry = rows["Ministry of Defence"]
    assert (ministry.supported, ministry.confirmed, ministry.refuted) == (2, 1, 1)
    assert rows["Wire Service"].firsts == 5
    assert rows["Wire Service"].median_lead == 7.0


def test_a_one_sided_period(world, as_user, max_):
    rows = report_rows(as_user(max_), period_to="2023-12-31")
    # Lone Blogger reported in 2023; the government's claim 10 happened in 2023.
    assert set(rows) == {"Lone Blogger", "Government of Ruritania"}


def test_the_kind_and_country_filters(world, as_user, max_):
    client = as_user(max_)
    assert set(report_rows(client, kind="media")) == {"Daily Outlet", "Wire Service"}
    assert set(report_rows(client, country="Ruritania")) == {
        "Government of Ruritania",
        "Ministry of Defence",
        "Intelligence Agency",
    }
    # Per origin, the filters apply to the origin: its parts come along.
    origins = report_rows(client, by="origin", kind="government")
    assert set(origins) == {"Government of Ruritania"}
    assert origins["Government of Ruritania"].supported == 10
    # First-to-report still sees every source: the wire beat the agency to 17.
    agency = report_rows(client, kind="agency")["Intelligence Agency"]
    assert agency.firsts == 4


def test_invalid_filters_are_shown_and_left_out(world, as_user, max_):
    client = as_user(max_)
    response = client.get(
        REPORT,
        {"period_from": "2024-02-01", "period_to": "2024-01-01", "kind": "wizard"},
    )
    assert response.status_code == 200
    assert "The period ends before it starts." in response.content.decode()
    # The period's end and the kind are left out; its valid start still counts.
    assert set(row.name for row in response.context["rows"]) == {
        "Intelligence Agency",
        "Daily Outlet",
        "Ministry of Defence",
        "Government of Ruritania",
    }
    assert client.get(EXPORT, {"kind": "wizard"}).status_code == 400
    for bad in ({"topic": "999999"}, {"page": "zzz"}, {"ordering": "nope"}):
        assert client.get(REPORT, bad).status_code == 200


# --- sorting -------------------------------------------------------------------


def names_sorted_by(client, ordering: str) -> list[str]:
    response = client.get(REPORT, {"ordering": ordering})
    return [record.name for record in response.context["rows"]]


def test_sorting_by_columns(world, as_user, max_):
    client = as_user(max_)
    assert names_sorted_by(client, "-accuracy") == [
        "Wire Service",
        "Daily Outlet",
        "Intelligence Agency",
        "Ministry of Defence",
        "Government of Ruritania",
        "Lone Blogger",
    ]
    assert names_sorted_by(client, "name")[0] == "Daily Outlet"
    # Equal values keep name order in both directions.
    by_firsts = names_sorted_by(client, "firsts")
    assert by_firsts == [
        "Government of Ruritania",
        "Lone Blogger",
        "Ministry of Defence",
        "Daily Outlet",
        "Intelligence Agency",
        "Wire Service",
    ]
    assert names_sorted_by(client, "-firsts") == [
        "Wire Service",
        "Intelligence Agency",
        "Daily Outlet",
        "Government of Ruritania",
        "Lone Blogger",
        "Ministry of Defence",
    ]
    # Rows without a median lead go last whichever the direction.
    assert names_sorted_by(client, "median_lead")[:3] == [
        "Intelligence Agency",
        "Daily Outlet",
        "Wire Service",
    ]
    assert names_sorted_by(client, "-median_lead")[:3] == [
        "Wire Service",
        "Daily Outlet",
        "Intelligence Agency",
    ]
    assert names_sorted_by(client, "low")[0] == "Lone Blogger"
    assert names_sorted_by(client, "suggested")[:2] == [
        "Wire Service",
        "Intelligence Agency",
    ]
    assert names_sorted_by(client, "agreement")[:2] == [
        "Intelligence Agency",
        "Lone Blogger",
    ]
    assert names_sorted_by(client, "-latest")[0] == "Government of Ruritania"
    assert names_sorted_by(client, "grade")[0] == "Intelligence Agency"


def test_every_column_sorts_both_ways(world, as_user, max_):
    client = as_user(max_)
    for column in reliability.COLUMNS:
        for ordering in (column.key, f"-{column.key}"):
            names = names_sorted_by(client, ordering)
            assert sorted(names) == sorted(EXPECTED_SOURCES), ordering


# --- what the page shows -----------------------------------------------------------


class TableParser(HTMLParser):
    """The text of each cell of the report table, action cells left out."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.header: list[str] = []
        self.in_table = self.in_body = self.in_head = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "reliability-table":
            self.in_table = True
        elif self.in_table and tag == "tbody":
            self.in_body = True
        elif self.in_table and tag == "thead":
            self.in_head = True
        elif self.in_table and tag == "tr" and self.in_body:
            self.rows.append([])
        elif (
            self.in_table
            and tag in ("td", "th")
            and "actions" not in (attrs.get("class") or "").split()
        ):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag == "tbody":
            self.in_body = False
        elif tag == "thead":
            self.in_head = False
        elif tag in ("td", "th") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            if self.in_body:
                self.rows[-1].append(text)
            elif self.in_head:
                self.header.append(text)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def screen_table(client, params: dict) -> tuple[list[str], list[list[str]]]:
    response = client.get(REPORT, params)
    assert response.status_code == 200
    parser = TableParser()
    parser.feed(response.content.decode())
    # "—" marks an empty cell on screen; the CSV leaves it empty.
    rows = [["" if cell == "—" else cell for cell in row] for row in parser.rows]
    return parser.header, rows


def csv_table(client, params: dict) -> tuple[list[str], list[list[str]]]:
    response = client.get(EXPORT, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"by": "origin"},
        {"topic": "money", "ordering": "-low"},
        {"period_from": "2024-01-01", "period_to": "2024-01-31", "ordering": "name"},
        {"kind": "media", "ordering": "-median_lead"},
        {"country": "Ruritania", "ordering": "latest"},
    ],
)
def test_the_csv_equals_the_table_on_screen(world, as_user, max_, params):
    client = as_user(max_)
    if params.get("topic") == "money":
        params = {**params, "topic": world["money"].pk}
    screen_header, screen_rows = screen_table(client, params)
    header, rows = csv_table(client, params)
    assert [label.rstrip(" ↕↑↓") for label in screen_header] == header
    assert rows == screen_rows
    assert rows


def test_the_table_shows_the_hand_computed_row(world, as_user, max_):
    _, rows = screen_table(as_user(max_), {"ordering": "name"})
    agency = next(row for row in rows if row[0] == "Intelligence Agency")
    assert agency == [
        "Intelligence Agency", "agency or organ", "Ruritania", "A", "D",
        "suggests lower", "7", "6", "1", "0", "7", "0.778", "0.529", "0.954",
        "4", "1.5", "2024-08-01",
    ]  # fmt: skip


def test_the_csv_defuses_formulas(world, as_user, max_):
    Source.objects.filter(pk=world["wire"].pk).update(name="=HYPERLINK(1)")
    _, rows = csv_table(as_user(max_), {"ordering": "name"})
    assert [row[0] for row in rows if "HYPERLINK" in row[0]] == ["'=HYPERLINK(1)"]


def test_mismatches_are_flagged_in_words_and_style(world, as_user, max_):
    response = as_user(max_).get(REPORT, {"ordering": "name"})
    html = response.content.decode()
    assert html.count('<tr class="mismatch">') == 2
    assert "agreement-suggests-lower" in html
    assert "suggests a grade" in html


def test_the_thresholds_are_written_on_the_page(world, as_user, max_):
    html = as_user(max_).get(REPORT).content.decode()
    for text in (
        "fewer than 5 rulings",
        "0.90 → A",
        "0.75 → B",
        "0.55 → C",
        "0.50 → E",
    ):
        assert text in html


def test_each_number_drills_down_to_the_claim_list(world, as_user, max_):
    client = as_user(max_)
    response = client.get(REPORT, {"topic": world["money"].pk})
    agency = next(
        r for r in response.context["rows"] if r.name == "Intelligence Agency"
    )
    confirmed = urlsplit(agency.links["confirmed"])
    assert confirmed.path == reverse("claims:claim_list")
    assert parse_qs(confirmed.query) == {
        "source": [str(world["agency"].pk)],
        "status": ["confirmed"],
        "topic": [str(world["money"].pk)],
    }
    assert f'href="{agency.links["confirmed"].replace("&", "&amp;")}"' in (
        response.content.decode()
    )
    # The claim list behind it holds the two confirmed claims on money.
    listed = client.get(agency.links["confirmed"])
    assert listed.status_code == 200
    origin = next(
        r
        for r in client.get(REPORT, {"by": "origin"}).context["rows"]
        if r.name == "Government of Ruritania"
    )
    assert parse_qs(urlsplit(origin.links["refuted"]).query) == {
        "origin": [str(world["gov"].pk)],
        "status": ["refuted"],
    }


def test_the_chart_draws_each_row_with_rulings_with_its_grade_letter(
    world, as_user, max_
):
    response = as_user(max_).get(REPORT, {"ordering": "name"})
    chart = response.context["chart"]
    assert [p.record.name for p in chart.points] == [
        "Daily Outlet",
        "Intelligence Agency",
        "Lone Blogger",
        "Ministry of Defence",
        "Wire Service",
    ]
    assert chart.left_out == 1  # the government has no ruling
    agency = chart.points[1]
    assert agency.x_low < agency.x_mean < agency.x_high
    html = response.content.decode()
    assert '<svg class="reliability-chart"' in html
    assert "chart-grade-A mismatch" in html
    assert ">A→D</text>" in html
    assert "Intelligence Agency: accuracy 0.778, 90 % interval 0.529–0.954" in html
    assert "style=" not in html.split('<svg class="reliability-chart"')[1]


def test_the_printable_view_lists_every_row_without_controls(world, as_user, max_):
    response = as_user(max_).get(PRINT, {"by": "origin"})
    assert response.status_code == 200
    html = response.content.decode()
    assert len(response.context["rows"]) == 4
    assert "Change grade" not in html
    assert 'class="report-filters"' not in html
    assert "one row per origin" in html


def test_a_hostile_source_name_is_escaped(world, as_user, max_):
    Source.objects.filter(pk=world["wire"].pk).update(
        name='<script>alert("x")</script>'
    )
    html = as_user(max_).get(REPORT).content.decode()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;" in html


def test_pages_hold_fifty_rows(as_user, max_, alice):
    claim = ClaimFactory(status=CONFIRMED, logged_by=alice)
    for n in range(55):
        CitationFactory(
            claim=claim, source=SourceFactory(name=f"S{n:02}"), created_by=alice
        )
    reliability.rebuild()
    client = as_user(max_)
    first = client.get(REPORT, {"ordering": "name"})
    assert len(first.context["rows"]) == 50
    second = client.get(REPORT, {"ordering": "name", "page": 2})
    assert [r.name for r in second.context["rows"]] == [
        "S50",
        "S51",
        "S52",
        "S53",
        "S54",
    ]
    _, rows = csv_table(client, {"ordering": "name"})
    assert len(rows) == 55


# --- permissions -----------------------------------------------------------------


@pytest.mark.parametrize("url", [REPORT, EXPORT, PRINT])
def test_managers_and_administrators_see_the_report(world, as_user, max_, ada, url):
    assert as_user(max_).get(url).status_code == 200
    assert as_user(ada).get(url).status_code == 200


@pytest.mark.parametrize("url", [REPORT, EXPORT, PRINT])
def test_analysts_reviewers_and_others_are_refused(
    world, as_user, alice, rita, nora, url
):
    for person in (alice, rita, nora):
        assert as_user(person).get(url).status_code == 403


# --- changing a grade from the report ------------------------------------------------


def test_the_report_links_to_the_grade_form_with_the_way_back(world, as_user, max_):
    client = as_user(max_)
    report_url = f"{REPORT}?kind=agency&ordering=name"
    html = client.get(report_url).content.decode()
    agency = world["agency"]
    link = (
        f"{reverse('sources:source_detail', args=[agency.pk])}?grade=D&amp;next="
        f"{report_url.replace('?', '%3F').replace('=', '%3D').replace('&', '%26')}"
    )
    assert link in html
    page = client.get(
        reverse("sources:source_detail", args=[agency.pk]),
        {"grade": "D", "next": report_url},
    )
    form_html = page.content.decode()
    assert f'name="next" value="{report_url.replace("&", "&amp;")}"' in form_html
    assert page.context["grade_form"].initial["grade"] == "D"


def test_a_grade_change_returns_to_the_report_with_its_filters(world, as_user, max_):
    client = as_user(max_)
    report_url = f"{REPORT}?topic={world['money'].pk}&ordering=name"
    agency = world["agency"]
    response = client.post(
        reverse("sources:source_grade", args=[agency.pk]),
        {
            "grade": "D",
            "rationale": "The record shows a refuted report.",
            "next": report_url,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == report_url
    agency.refresh_from_db()
    assert agency.grade == "D"
    assert GradeChange.objects.filter(source=agency, new_grade="D").count() == 1
    rows = report_rows(client, topic=world["money"].pk)
    assert rows["Intelligence Agency"].grade == "D"


def test_a_foreign_next_is_ignored(world, as_user, max_):
    agency = world["agency"]
    response = as_user(max_).post(
        reverse("sources:source_grade", args=[agency.pk]),
        {
            "grade": "B",
            "rationale": "A new assessment says so.",
            "next": "https://evil.example/steal",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == agency.get_absolute_url()


def test_an_invalid_grade_change_keeps_the_way_back(world, as_user, max_):
    report_url = f"{REPORT}?by=origin"
    response = as_user(max_).post(
        reverse("sources:source_grade", args=[world["gov"].pk]),
        {"grade": "A", "rationale": "short", "next": report_url},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="next" value="{report_url}"' in html
    assert "at least 3 words" in html
    assert "short" in html


# --- query count ----------------------------------------------------------------------


def build_sources(count: int, alice, prefix: str) -> None:
    for n in range(count):
        source = SourceFactory(name=f"{prefix} {n:02}", grade="BCDEFA"[n % 6])
        for status in (CONFIRMED, REFUTED, OPEN):
            claim = ClaimFactory(status=status, logged_by=alice)
            CitationFactory(claim=claim, source=source, created_by=alice)
    reliability.rebuild()


def queries_for(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", [REPORT, EXPORT, PRINT])
@pytest.mark.parametrize("params", [{}, {"by": "origin", "ordering": "-low"}])
def test_the_query_count_does_not_grow_with_sources(as_user, max_, alice, url, params):
    client = as_user(max_)
    build_sources(3, alice, "Few")
    few = queries_for(client, url, params)
    build_sources(27, alice, "Many")
    many = queries_for(client, url, params)
    assert many == few
    # Sign-in (3), the form's choices (2), the sources, the figures, and the
    # savepoint around the figures (2 statements).
    assert few <= 12


# --- the track record on the source page ------------------------------------------


def rule(claim, outcome: str, when: str, reviewer) -> None:
    """A review row written at a given moment (reviews are append-only, so the
    clock is set rather than the row changed)."""
    moment = timezone.make_aware(dt.datetime.fromisoformat(when))
    with mock.patch("django.utils.timezone.now", return_value=moment):
        Review.objects.create(
            claim=claim,
            reviewer=reviewer,
            outcome=outcome,
            rationale="Ruled in a test.",
        )


def test_the_source_page_shows_rulings_per_quarter(world, as_user, max_, rita):
    claims = world["claims"]
    rule(claims[1], "confirmed", "2024-02-10 10:00", rita)
    rule(claims[2], "confirmed", "2024-03-30 10:00", rita)
    # Confirmed, reopened, then refuted: the latest refuting ruling counts.
    rule(claims[6], "confirmed", "2024-01-10 10:00", rita)
    rule(claims[6], "reopened", "2024-02-01 10:00", rita)
    rule(claims[6], "refuted", "2024-07-05 10:00", rita)
    rule(claims[3], "confirmed", "2024-08-01 10:00", rita)
    rule(claims[4], "confirmed", "2024-08-02 10:00", rita)
    rule(claims[5], "confirmed", "2024-09-30 23:00", rita)
    rule(claims[17], "confirmed", "2024-10-01 09:00", rita)
    # Claim 8 is in review: not ruled, so not counted.
    rule(claims[8], "sent_back", "2024-10-02 09:00", rita)
    response = as_user(max_).get(world["agency"].get_absolute_url())
    quarters = [
        (q.label, q.confirmed, q.refuted)
        for q in response.context["track_record"]["quarters"]
    ]
    assert quarters == [
        ("2024 Q1", 2, 0),
        ("2024 Q2", 0, 0),
        ("2024 Q3", 3, 1),
        ("2024 Q4", 1, 0),
    ]
    html = response.content.decode()
    assert "Track record over time" in html
    assert "2024 Q3" in html
    assert "2024 Q3: 3 confirmed, 1 refuted" in html


def test_a_ruled_claim_without_a_review_counts_in_the_quarter_of_its_last_change(
    world, as_user, max_
):
    moment = timezone.make_aware(dt.datetime(2023, 5, 20, 12))
    Claim.objects.filter(pk__in=[c.pk for c in world["claims"].values()]).update(
        updated_at=moment
    )
    quarters = reliability.quarterly_rulings(max_, world["lonely"])
    assert [(q.label, q.confirmed, q.refuted) for q in quarters] == [("2023 Q2", 0, 5)]


def test_the_track_record_is_for_managers(world, as_user, alice):
    response = as_user(alice).get(world["agency"].get_absolute_url())
    assert response.context["track_record"] is None
    assert "Track record over time" not in response.content.decode()


def test_a_source_without_rulings_says_so(world, as_user, max_):
    response = as_user(max_).get(world["gov"].get_absolute_url())
    assert response.context["track_record"]["quarters"] == []
    assert "No claim this source supported has been ruled yet." in (
        response.content.decode()
    )


def test_selection_defaults_cover_every_source(world, max_):
    records = reliability.source_records(max_, Selection())
    assert len(records) == 6
    assert Citation.objects.filter(supports=True).count() == 28


class Cancelled(Exception):
    """Stands for psycopg2's QueryCanceled."""

    pgcode = "57014"


def cancelled_query(*args, **kwargs):
    raise OperationalError("canceling statement due to statement timeout") from (
        Cancelled()
    )


def test_a_report_the_database_gives_up_on_says_so(world, as_user, max_):
    client = as_user(max_)
    with mock.patch("sources.reliability.report_rows", cancelled_query):
        page = client.get(REPORT, {"by": "origin"})
        export = client.get(EXPORT)
    assert page.status_code == 503
    assert "The report took too long to compute" in page.content.decode()
    assert export.status_code == 503
    # The request's transaction is still usable afterwards.
    assert client.get(REPORT).status_code == 200


def test_the_report_sql_names_every_claim_status():
    # RECORD_SQL spells the statuses out; a renamed status must fail here.
    for status in Claim.Status.values:
        assert f"'{status}'" in reliability.RECORD_SQL
        assert f"'{status}'" in reliability.SUMS_SQL


def test_the_country_choices_are_every_named_country_once_in_order(db):
    for name, country in [
        ("a", "Ruritania"), ("b", "Freedonia"), ("c", ""), ("d", "Ruritania"),
        ("e", "Zembla"), ("f", "Bordurie"), ("g", "Freedonia"),
    ]:  # fmt: skip
        SourceFactory(name=name, country=country)
    expected = list(
        Source.objects.exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )
    assert reliability.countries() == expected == [
        "Bordurie", "Freedonia", "Ruritania", "Zembla",
    ]  # fmt: skip
