"""The reliability report's rows and chart marks from Python equal the template
markup they replaced (tests/reference/report_*.html): rows, chart, column
heads and filter fields."""

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
from django.template import Context, Engine, RequestContext
from django.test import RequestFactory
from django.test.html import parse_html
from django.urls import reverse

from claims.templatetags.filter_fields import filter_field
from sources import reliability
from sources.forms import ReliabilityFilterForm
from sources.models import Source
from sources.reliability import Record, Selection
from sources.templatetags.report_rows import (
    chart_axes,
    chart_description,
    chart_points,
    report_header,
    report_rows,
)
from sources.views import DrillDown, report_columns
from tests.factories import TopicFactory
from tests.hostile import HOSTILE

REFERENCES = Path(__file__).parent / "reference"


def reference(name: str, **context) -> str:
    template = Engine.get_default().from_string((REFERENCES / name).read_text())
    return template.render(Context(context))


def reference_rows(records, actions: bool) -> str:
    return "".join(
        reference("report_row.html", record=record, actions=actions)
        for record in records
    )


def shapes(name: str = "Daily Outlet") -> list[Record]:
    """Rows of every shape: no rulings, too few, each agreement, open and in
    review apart and together, leads and dates present and absent."""
    base = {"kind": "media", "country": "Ruritania", "name": name}
    records = [
        Record(id=1, grade="F", supported=0, **base),
        Record(id=2, grade="C", supported=3, confirmed=2, refuted=1, **base),
        Record(id=3, grade="D", supported=40, confirmed=30, open=5, **base),
        Record(id=4, grade="A", supported=20, confirmed=4, refuted=12, **base),
        Record(id=5, grade="F", supported=9, confirmed=8, in_review=1, **base),
        Record(
            id=6,
            grade="C",
            supported=12,
            confirmed=3,
            refuted=3,
            open=2,
            in_review=4,
            firsts=2,
            median_lead=2.5,
            latest=dt.date(2024, 3, 1),
            **{**base, "country": "", "kind": "sensor"},
        ),  # fmt: skip
        Record(
            id=7,
            grade="B",
            supported=1,
            confirmed=1,
            firsts=1,
            median_lead=3.0,
            latest=dt.date(2023, 12, 31),
            **base,
        ),  # fmt: skip
        Record(id=8, grade="E", supported=30, refuted=30, **base),
    ]
    drill_down = DrillDown(Selection(), back="/sources/x/?a=1")
    for record in records:
        record.links = drill_down.links(record)
    return records


def assert_same_html(ours: str, theirs: str) -> None:
    assert parse_html(ours) == parse_html(theirs)


@pytest.mark.parametrize("actions", [True, False])
def test_rows_of_every_shape_are_the_reference_markup(db, actions):
    records = shapes()
    assert {r.agreement for r in records} == set(reliability.AGREEMENT_ORDER)
    assert_same_html(report_rows(records, actions), reference_rows(records, actions))


@pytest.mark.parametrize(
    "hostile",
    [
        *HOSTILE,
        "Cafe\u0301 de\u0301composed",
        "N" * 36 + "e\u0301",
        "x" * 80,
        "Ministry of Defence of the Russian Federation (official)",
        "x" * 36,
        "x" * 37,
        "Éditions " * 6,
    ],
)
def test_hostile_names_are_the_reference_markup(db, hostile):
    records = shapes(name=hostile)
    ours = report_rows(records)
    assert_same_html(ours, reference_rows(records, True))
    chart = reliability.accuracy_chart(records)
    assert_same_html(
        chart_points(chart), reference("report_chart_points.html", chart=chart)
    )
    assert_same_html(
        f'<desc id="chart-desc">{chart_description(chart)}</desc>',
        reference("report_chart_desc.html", chart=chart),
    )
    assert "<script>" not in ours + chart_points(chart)


def test_the_chart_marks_are_the_reference_markup(db):
    chart = reliability.accuracy_chart(shapes())
    assert len(chart.points) == 7  # every record with a ruling
    assert_same_html(
        chart_points(chart), reference("report_chart_points.html", chart=chart)
    )
    assert_same_html(
        f'<desc id="chart-desc">{chart_description(chart)}</desc>',
        reference("report_chart_desc.html", chart=chart),
    )


def test_the_printed_report_has_no_grade_links(as_user, max_, db):
    page = as_user(max_).get(reverse("sources:reliability_report_print"))
    assert page.status_code == 200
    assert "Change the grade" not in page.content.decode()


def reference_links(record, selection, back: str) -> dict[str, str]:
    """The drill-down links as first written: one reverse and urlencode per link."""
    base = reverse("claims:claim_list")
    params = {"origin" if selection.by_origin else "source": record.id}
    if selection.topic is not None:
        params["topic"] = selection.topic.pk
    if selection.period_from:
        params["time_from"] = selection.period_from.isoformat()
    if selection.period_to:
        params["time_to"] = selection.period_to.isoformat()

    def link(status: str = "") -> str:
        query = {**params, "status": status} if status else params
        return f"{base}?{urlencode(query)}"

    detail = reverse("sources:source_detail", args=[record.id])
    proposal = f"grade={record.suggested}&" if record.mismatch else ""
    return {
        "detail": detail,
        "change_grade": f"{detail}?{proposal}next={quote(back, safe='/')}#change-grade",
        "supported": link(),
        "confirmed": link("confirmed"),
        "refuted": link("refuted"),
        "open": link("open"),
        "in_review": link("in_review"),
    }


def test_the_links_equal_their_query_encoded_whole(db):
    topic = TopicFactory(name="Troops & money")
    day = dt.date(2024, 1, 31)
    back = "/sources/reliability/?topic=1&ordering=-low&q=a b/ü"
    for selection in (
        Selection(),
        Selection(by_origin=True),
        Selection(topic=topic, period_from=day),
        Selection(by_origin=True, period_to=day, kind="media"),
    ):
        for record in shapes():
            ours = DrillDown(selection, back).links(record)
            assert ours == reference_links(record, selection, back)


def test_the_chart_axes_are_the_reference_markup(db):
    for records in (shapes(), shapes()[:2], []):
        chart = reliability.accuracy_chart(records)
        assert_same_html(
            f"<svg>{chart_axes(chart)}</svg>",
            f"<svg>{reference('report_chart_axes.html', chart=chart)}</svg>",
        )


QUERIES = [
    {},
    {"ordering": "-accuracy", "page": "3"},
    {"by": "origin", "topic": "7", "period_from": "2024-01-01"},
    {"q": HOSTILE[1], "ordering": HOSTILE[0], "page": "2", "kind": "a&b=c"},
    {"country": HOSTILE[2], "by": "origin"},
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("subject", ["source", "origin"])
@pytest.mark.parametrize("links", [True, False])
def test_the_column_heads_are_the_reference_markup(query, subject, links):
    request = RequestFactory().get("/sources/reliability/", query)
    for ordering in ("", "rulings", "-accuracy", "name", "-latest", HOSTILE[0]):
        columns = report_columns(ordering or reliability.DEFAULT_ORDERING)
        context = {"columns": columns, "subject": subject, "links": links}
        template = Engine.get_default().from_string(
            (REFERENCES / "report_header.html").read_text()
        )
        theirs = template.render(RequestContext(request, context))
        ours = report_header(RequestContext(request), columns, subject, links)
        assert_same_html(f"<tr>{ours}</tr>", f"<tr>{theirs}</tr>")
    assert ("<a href" in ours) is links


FORM_DATA = [
    {},
    {"topic": "", "kind": "media", "country": "Ruritania", "ordering": "-rulings"},
    {"topic": "999999", "kind": "nonsense", "country": HOSTILE[0]},
    {"ordering": HOSTILE[1], "period_from": "2024-02-01", "period_to": "2024-01-01"},
]


@pytest.mark.parametrize("data", FORM_DATA)
def test_the_report_filters_are_the_reference_markup(db, data):
    topics = [TopicFactory(name=name) for name in ["Troops", *HOSTILE[:3]]]
    data = {**data, "topic": data.get("topic", str(topics[1].pk))}
    form = ReliabilityFilterForm(
        data,
        countries=["Ruritania", HOSTILE[2]],
        orderings=reliability.ORDERING_CHOICES,
    )
    # Help text and errors of every kind, hostile ones included.
    form.fields["kind"].help_text = HOSTILE[0]
    form.valid_data()
    form.add_error("country", HOSTILE[4])
    template = Engine.get_default().from_string(
        (REFERENCES / "report_field.html").read_text()
    )
    for name in ("topic", "kind", "country", "ordering", "period_from"):
        field = form[name]
        ours = filter_field(field, alert=True)
        theirs = template.render(Context({"field": field}))
        assert_same_html(ours, theirs)
        assert "<script>" not in ours
    assert "&lt;script&gt;alert(1)" in filter_field(form["kind"], alert=True)


@pytest.mark.parametrize("kind", [*Source.Kind.values, "", "not-a-kind"])
def test_a_record_shows_its_kind_as_a_source_does(kind):
    record = SimpleNamespace(kind=kind)
    assert Record.get_kind_display(record) == Source(kind=kind).get_kind_display()
