"""The claim list: each filter, sorting, pagination, CSV export, access and cost."""

import csv
import datetime
import html
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims.models import Claim, Relation
from tests.factories import (
    CitationFactory,
    ClaimFactory,
    PlaceFactory,
    RelationFactory,
    SourceFactory,
    TopicFactory,
)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The factories make a user per claim; Argon2 would make that slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def list_url() -> str:
    return reverse("claims:claim_list")


def export_url() -> str:
    return reverse("claims:claim_export")


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [claim.pk for claim in response.context["page"].object_list]


def exported(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# Each case builds a claim the filter must keep, one it must drop, and the query.


def by_search(alice):
    keep = ClaimFactory(statement="Troops were shipped to Vladivostok in October.")
    drop = ClaimFactory(statement="Grain exports fell sharply.")
    return keep, drop, {"q": "Vladivostok"}


def by_search_in_actors(alice):
    keep = ClaimFactory(statement="A decree was signed.", actors="Kim Jong Un")
    drop = ClaimFactory(statement="A decree was signed.", actors="Vladimir Putin")
    return keep, drop, {"q": "Kim"}


def by_level(alice):
    keep = ClaimFactory(level="corroborated")
    drop = ClaimFactory(level="single_source")
    return keep, drop, {"level": "corroborated"}


def by_confidence(alice):
    keep = ClaimFactory(confidence="high")
    drop = ClaimFactory(confidence="low")
    return keep, drop, {"confidence": "high"}


def by_status(alice):
    keep = ClaimFactory(status=Claim.Status.IN_REVIEW)
    drop = ClaimFactory(status=Claim.Status.OPEN)
    return keep, drop, {"status": "in_review"}


def by_kind(alice):
    keep = ClaimFactory(kind=Claim.Kind.FORECAST)
    drop = ClaimFactory(kind=Claim.Kind.REPORTED_FACT)
    return keep, drop, {"kind": "forecast"}


def by_topic(alice):
    topic = TopicFactory()
    keep = ClaimFactory(topic=topic)
    drop = ClaimFactory(topic=TopicFactory())
    return keep, drop, {"topic": topic.pk}


def by_citing_source(alice):
    source = SourceFactory()
    keep = CitationFactory(source=source).claim
    drop = CitationFactory().claim
    return keep, drop, {"source": source.pk}


def by_origin(alice):
    government = SourceFactory(name="Government of Korea")
    agency = SourceFactory(name="Korean intelligence service", parent=government)
    keep = CitationFactory(source=agency).claim
    drop = CitationFactory(source=SourceFactory()).claim
    return keep, drop, {"origin": government.pk}


def by_place(alice):
    vladivostok = PlaceFactory(name="Vladivostok")
    keep = ClaimFactory()
    keep.places.add(vladivostok, PlaceFactory())
    drop = ClaimFactory()
    drop.places.add(PlaceFactory())
    return keep, drop, {"place": vladivostok.pk}


def by_time_window(alice):
    keep = ClaimFactory(
        time_start=datetime.date(2024, 10, 8), time_end=datetime.date(2024, 10, 13)
    )
    drop = ClaimFactory(
        time_start=datetime.date(2024, 5, 1), time_end=datetime.date(2024, 5, 10)
    )
    return keep, drop, {"time_from": "2024-10-12", "time_to": "2024-12-31"}


def by_time_window_start_only(alice):
    keep = ClaimFactory(time_start=datetime.date(2024, 11, 1))
    drop = ClaimFactory(time_start=datetime.date(2025, 2, 1))
    return keep, drop, {"time_to": "2024-12-31"}


def by_quantity_range(alice):
    keep = ClaimFactory(quantity_low=Decimal(1500), quantity_high=Decimal(1500))
    drop = ClaimFactory(quantity_low=Decimal(10000), quantity_high=Decimal(12000))
    return keep, drop, {"quantity_min": "1000", "quantity_max": "2000"}


def by_quantity_open_above(alice):
    keep = ClaimFactory(quantity_low=Decimal(1000), quantity_qualifier="at_least")
    drop = ClaimFactory(quantity_low=Decimal(1000), quantity_qualifier="about")
    return keep, drop, {"quantity_min": "5000"}


def by_logged_by(alice):
    keep = ClaimFactory(logged_by=alice)
    drop = ClaimFactory()
    return keep, drop, {"logged_by": alice.pk}


def by_contradictions_on_a(alice):
    keep, other = ClaimFactory(), ClaimFactory()
    RelationFactory(claim_a=keep, claim_b=other, kind=Relation.Kind.CONTRADICTS)
    drop = ClaimFactory()
    RelationFactory(claim_a=drop, claim_b=ClaimFactory(), kind="corroborates")
    return keep, drop, {"has_contradictions": "true"}


def by_contradictions_on_b(alice):
    other, keep = ClaimFactory(), ClaimFactory()
    RelationFactory(claim_a=other, claim_b=keep, kind=Relation.Kind.CONTRADICTS)
    drop = ClaimFactory()
    return keep, drop, {"has_contradictions": "true"}


def by_no_contradictions(alice):
    keep = ClaimFactory()
    drop = ClaimFactory()
    RelationFactory(claim_a=ClaimFactory(), claim_b=drop, kind="contradicts")
    return keep, drop, {"has_contradictions": "false"}


def by_needs_rereview(alice):
    keep = ClaimFactory(needs_rereview=True)
    drop = ClaimFactory(needs_rereview=False)
    return keep, drop, {"needs_rereview": "true"}


CASES = [
    by_search,
    by_search_in_actors,
    by_level,
    by_confidence,
    by_status,
    by_kind,
    by_topic,
    by_citing_source,
    by_origin,
    by_place,
    by_time_window,
    by_time_window_start_only,
    by_quantity_range,
    by_quantity_open_above,
    by_logged_by,
    by_contradictions_on_a,
    by_contradictions_on_b,
    by_no_contradictions,
    by_needs_rereview,
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_each_filter_keeps_what_matches_and_drops_what_does_not(case, alice, as_user):
    keep, drop, params = case(alice)
    ids = listed(as_user(alice).get(list_url(), params))
    assert keep.pk in ids
    assert drop.pk not in ids


def test_level_takes_several_values(alice, as_user):
    corroborated = ClaimFactory(level="corroborated")
    contested = ClaimFactory(level="contested")
    single = ClaimFactory(level="single_source")
    ids = listed(
        as_user(alice).get(list_url(), {"level": ["corroborated", "contested"]})
    )
    assert set(ids) == {corroborated.pk, contested.pk}
    assert single.pk not in ids


def test_filters_combine(alice, as_user):
    topic = TopicFactory()
    both = ClaimFactory(topic=topic, level="corroborated")
    ClaimFactory(topic=topic, level="single_source")
    ClaimFactory(level="corroborated")
    ids = listed(
        as_user(alice).get(list_url(), {"topic": topic.pk, "level": "corroborated"})
    )
    assert ids == [both.pk]


def test_a_claim_cited_twice_by_the_origin_is_listed_once(alice, as_user):
    government = SourceFactory()
    claim = ClaimFactory()
    CitationFactory(claim=claim, source=government)
    CitationFactory(claim=claim, source=SourceFactory(parent=government))
    place = PlaceFactory()
    claim.places.add(place)
    ids = listed(
        as_user(alice).get(list_url(), {"origin": government.pk, "place": place.pk})
    )
    assert ids == [claim.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text ranking needs PostgreSQL"
)
def test_search_ranks_statement_matches_above_actor_matches(alice, as_user):
    in_actors = ClaimFactory(statement="Ships left port.", actors="Pacific Fleet")
    in_statement = ClaimFactory(statement="The Pacific Fleet carried the troops.")
    ids = listed(as_user(alice).get(list_url(), {"q": "Pacific Fleet"}))
    assert ids == [in_statement.pk, in_actors.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text stemming needs PostgreSQL"
)
def test_search_matches_other_forms_of_a_word(alice, as_user):
    claim = ClaimFactory(statement="A soldier was wounded.")
    assert listed(as_user(alice).get(list_url(), {"q": "soldiers"})) == [claim.pk]


def test_search_needs_every_word(alice, as_user):
    both = ClaimFactory(statement="Engineers were sent to Russia.")
    ClaimFactory(statement="Engineers stayed home.")
    assert listed(as_user(alice).get(list_url(), {"q": "engineers Russia"})) == [
        both.pk
    ]


# Ordering -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-likelihood", ["high", "mid_b", "mid_a", "low"]),
        ("likelihood", ["low", "mid_a", "mid_b", "high"]),
    ],
)
def test_it_sorts_by_likelihood_with_ties_broken_by_id(
    alice, as_user, ordering, expected
):
    claims = {
        "low": ClaimFactory(likelihood=0.2),
        "mid_a": ClaimFactory(likelihood=0.6),
        "mid_b": ClaimFactory(likelihood=0.6),
        "high": ClaimFactory(likelihood=0.9),
    }
    ids = listed(as_user(alice).get(list_url(), {"ordering": ordering}))
    assert ids == [claims[name].pk for name in expected]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("time_start", ["may", "october", "undated"]),
        ("-time_start", ["october", "may", "undated"]),
    ],
)
def test_it_sorts_by_time_of_event_with_undated_claims_last(
    alice, as_user, ordering, expected
):
    claims = {
        "undated": ClaimFactory(),
        "october": ClaimFactory(time_start=datetime.date(2024, 10, 8)),
        "may": ClaimFactory(time_start=datetime.date(2024, 5, 1)),
    }
    ids = listed(as_user(alice).get(list_url(), {"ordering": ordering}))
    assert ids == [claims[name].pk for name in expected]


def test_it_sorts_by_last_change(alice, as_user):
    older, newer = ClaimFactory(), ClaimFactory()
    Claim.objects.filter(pk=older.pk).update(
        updated_at=newer.updated_at - datetime.timedelta(days=1)
    )
    client = as_user(alice)
    assert listed(client.get(list_url(), {"ordering": "updated_at"})) == [
        older.pk,
        newer.pk,
    ]
    assert listed(client.get(list_url(), {"ordering": "-updated_at"})) == [
        newer.pk,
        older.pk,
    ]
    assert listed(client.get(list_url())) == [newer.pk, older.pk]


# Pagination and shareable URLs --------------------------------------------------


def link(response, rel: str) -> str:
    """The query string of the page's rel="next"/"prev"/"first" link."""
    match = re.search(rf'<a href="\?([^"]*)" rel="{rel}">', response.content.decode())
    assert match, f"no {rel} link"
    return html.unescape(match.group(1))


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def test_pages_hold_fifty_and_links_keep_the_filters(alice, as_user):
    topic = TopicFactory()
    ClaimFactory.create_batch(55, topic=topic, level="single_source")
    ClaimFactory.create_batch(3, level="single_source")
    client = as_user(alice)
    params = {"topic": topic.pk, "level": "single_source", "ordering": "likelihood"}
    first = client.get(list_url(), params)
    assert len(listed(first)) == 50
    assert first.context["page"].total.number == 55
    assert first.context["page"].total.exact
    assert "55 claims match the filters" in text_of(first)
    older = link(first, "next")
    assert older.startswith(
        f"topic={topic.pk}&level=single_source&ordering=likelihood&after="
    )
    second = client.get(f"{list_url()}?{older}")
    assert len(listed(second)) == 5
    assert set(listed(first)).isdisjoint(listed(second))
    assert "Next" in second.content.decode()
    assert 'rel="next"' not in second.content.decode()
    # Back from the second page is the first page again, filters kept.
    back = client.get(f"{list_url()}?{link(second, 'prev')}")
    assert listed(back) == listed(first)
    assert link(second, "first") == (
        f"topic={topic.pk}&level=single_source&ordering=likelihood"
    )


def test_the_filter_form_shows_the_filters_in_use(alice, as_user):
    topic = TopicFactory(name="Troops abroad")
    html = (
        as_user(alice)
        .get(list_url(), {"topic": topic.pk, "q": "Vladivostok", "level": "contested"})
        .content.decode()
    )
    assert 'value="Vladivostok"' in html
    assert f'<option value="{topic.pk}" selected>Troops abroad</option>' in html
    assert 'value="contested" id="id_level_3" checked' in html


def test_a_hand_edited_cursor_or_page_number_shows_the_first_page(alice, as_user):
    claim = ClaimFactory()
    client = as_user(alice)
    for params in (
        {"page": 99},
        {"page": "x"},
        {"after": "x"},
        {"after": "nan~1"},
        {"before": "2026-01-01~x"},
        {"after": "2026-01-01T00:00:00~1"},  # no time zone
        {"after": "~1"},
        {"ordering": "-time_start", "after": "99999-01-01~1"},
        {"ordering": "likelihood", "before": "1e999~1"},
    ):
        assert listed(client.get(list_url(), params)) == [claim.pk], params


# Bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"level": "bogus"},
        {"confidence": "certain"},
        {"topic": "99999"},
        {"topic": "abc"},
        {"source": "-1"},
        {"origin": "1e9"},
        {"time_from": "not a date"},
        {"time_from": "2024-12-31", "time_to": "2024-01-01"},
        {"quantity_min": "lots"},
        {"quantity_min": "2000", "quantity_max": "1000"},
        {"quantity_max": "1e400"},
        {"quantity_min": "NaN"},
        {"logged_by": "99999"},
        {"ordering": "password"},
        {"q": "x" * 5000},
    ],
    ids=lambda params: ",".join(params),
)
def test_invalid_filters_show_an_error_not_a_500(alice, as_user, params):
    ClaimFactory()
    response = as_user(alice).get(list_url(), params)
    assert response.status_code == 200
    assert response.context["filter"].errors
    assert listed(response) == []
    assert "Some filters are not valid" in response.content.decode()


def test_export_refuses_invalid_filters_with_a_400(alice, as_user):
    response = as_user(alice).get(export_url(), {"time_from": "yesterday"})
    assert response.status_code == 400
    assert "time_from" in response.content.decode()


def test_odd_but_valid_search_text_is_harmless(alice, as_user):
    claim = ClaimFactory(statement='It\'s "quoted" & (bracketed): 50% | !')
    client = as_user(alice)
    for text in ["'", '"', "&", "(", "!", "|", ":*", "50%", "\\", "%_"]:
        assert client.get(list_url(), {"q": text}).status_code == 200
    assert claim.pk in listed(client.get(list_url(), {"q": "bracketed"}))


def test_html_in_a_statement_is_escaped(alice, as_user):
    ClaimFactory(
        statement="<script>alert('x')</script> <b>bold</b>",
        actors="<img src=x onerror=alert(1)>",
    )
    html = as_user(alice).get(list_url()).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


# CSV export ------------------------------------------------------------------------


def test_export_holds_exactly_the_filtered_list_in_its_order(alice, as_user):
    topic = TopicFactory(name="North Korean troops in Russia")
    place = PlaceFactory(name="Vladivostok")
    claims = [
        ClaimFactory(
            topic=topic,
            likelihood=likelihood,
            logged_by=alice,
            quantity_low=Decimal(1500),
            quantity_high=Decimal(1500),
            quantity_unit="soldiers",
            quantity_qualifier="about",
            time_text="between 8 and 13 October 2024",
        )
        for likelihood in (0.3, 0.9, 0.6)
    ]
    claims[0].places.add(place)
    ClaimFactory(likelihood=0.99)
    params = {"topic": topic.pk, "ordering": "-likelihood"}
    client = as_user(alice)
    rows = exported(client.get(export_url(), params))
    assert [int(row["id"]) for row in rows] == listed(client.get(list_url(), params))
    assert [int(row["id"]) for row in rows] == [
        claims[1].pk,
        claims[2].pk,
        claims[0].pk,
    ]
    assert list(rows[0]) == [
        "id",
        "statement",
        "kind",
        "level",
        "likelihood",
        "likelihood_term",
        "confidence",
        "summary_rating",
        "status",
        "quantity",
        "time",
        "places",
        "topic",
        "logged_by",
        "updated_at",
    ]
    last = rows[-1]
    assert last["quantity"] == "about 1,500 soldiers"
    assert last["time"] == "between 8 and 13 October 2024"
    assert last["places"] == "Vladivostok"
    assert last["topic"] == "North Korean troops in Russia"
    assert last["logged_by"] == "alice"
    assert last["likelihood"] == "0.3"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_export_neutralizes_spreadsheet_formulas(alice, as_user, start):
    claim = ClaimFactory(
        statement=f'{start}HYPERLINK("http://evil.example","click")',
        time_text=f"{start}1+1",
    )
    [row] = exported(as_user(alice).get(export_url()))
    assert row["id"] == str(claim.pk)
    assert row["statement"] == f'\'{start}HYPERLINK("http://evil.example","click")'
    assert row["time"] == f"'{start}1+1"


def test_export_is_streamed(alice, as_user):
    ClaimFactory()
    response = as_user(alice).get(export_url())
    assert response.streaming
    assert "attachment" in response["Content-Disposition"]


# Access ----------------------------------------------------------------------------


def test_nora_without_a_role_sees_an_empty_list_and_export(nora, as_user):
    ClaimFactory()
    client = as_user(nora)
    assert listed(client.get(list_url())) == []
    assert exported(client.get(export_url())) == []


@pytest.mark.parametrize("name", ["claims:claim_list", "claims:claim_export"])
def test_anonymous_visitors_are_sent_to_sign_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_filter_choices_list_only_origins_as_origins(alice, as_user):
    government = SourceFactory(name="Government of Korea")
    SourceFactory(name="Korean intelligence service", parent=government)
    form = as_user(alice).get(list_url()).context["filter"].form
    origins = [str(choice) for choice in form.fields["origin"].queryset]
    assert origins == ["Government of Korea"]


# Cost ------------------------------------------------------------------------------


def make_claims(count: int, alice) -> None:
    topic = TopicFactory()
    for _ in range(count):
        claim = ClaimFactory(topic=topic, logged_by=alice)
        claim.places.add(PlaceFactory(), PlaceFactory())
        CitationFactory(claim=claim)
        CitationFactory(claim=claim)


def count_queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(queries)


@pytest.mark.parametrize(
    "params", [{}, {"q": "Claim", "ordering": "-likelihood", "level": "unsourced"}]
)
def test_the_list_costs_the_same_for_3_or_30_claims(alice, as_user, params):
    client = as_user(alice)
    make_claims(3, alice)
    few = count_queries(client, list_url(), params)
    make_claims(27, alice)
    many = count_queries(client, list_url(), params)
    assert len(listed(client.get(list_url(), params))) == 30
    assert few == many


def test_the_export_costs_the_same_for_3_or_30_claims(alice, as_user):
    client = as_user(alice)
    make_claims(3, alice)
    few = count_queries(client, export_url(), {})
    make_claims(27, alice)
    many = count_queries(client, export_url(), {})
    assert few == many


def test_filtersets_share_no_filter_field_widget_or_queryset(alice, rf):
    """ClaimFilter copies its filters one level deep per request
    (claims.filters.CheapCopyFilterSet): each filterset still has filters,
    fields, widgets and querysets of its own, its method filters call it, and
    the request's choices are its own request's."""
    from claims.filters import ClaimFilter

    signed_in = rf.get("/claims/")
    signed_in.user = alice
    first = ClaimFilter(
        {"q": "troops", "level": ["contested"]},
        queryset=Claim.objects.all(),
        request=None,
    )
    second = ClaimFilter({}, queryset=Claim.objects.all(), request=signed_in)
    assert first.is_valid() and second.is_valid()
    for name, base in ClaimFilter.base_filters.items():
        one, other = first.filters[name], second.filters[name]
        assert len({id(base), id(one), id(other)}) == 3, name
        assert one.extra is not other.extra and one.extra is not base.extra, name
        assert (one.parent, other.parent) == (first, second), name
        if one.method is not None:
            assert (one.filter.f, other.filter.f) == (one, other), name
        field, other_field = first.form.fields[name], second.form.fields[name]
        assert field is not other_field, name
        assert field.widget is not other_field.widget, name
        if hasattr(field, "queryset"):
            assert field.queryset is not other_field.queryset, name
    # Without a request no source is offered; with alice's, hers are.
    assert first.form.fields["source"].queryset.query.is_empty()
    assert not second.form.fields["source"].queryset.query.is_empty()
    assert "search" in str(first.qs.query).lower() or connection.vendor != "postgresql"
    assert first.form.cleaned_data["level"] == ["contested"]
