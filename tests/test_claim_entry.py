"""Logging and editing a claim: one page with the statement, its facets, its
citations and its relations, saved as one through claims.actions."""

import copy
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.models import CheckConstraint
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analysts.models import AuditEntry
from claims import actions
from claims import forms as forms_module
from claims.confirmation import MODEL_VERSION
from claims.confirmation_store import explanations
from claims.forms import (
    CitationForm,
    ClaimEntry,
    ClaimForm,
    RelationForm,
    parse_time_text,
    similar_claims,
)
from claims.models import Citation, Claim, Place, Relation, Topic
from sources import reliability
from sources.models import Document, Source
from tests.conftest import on_postgres
from tests.factories import (
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    RelationFactory,
    SourceFactory,
)

SAMPLE = (
    "About 1,500 North Korean soldiers were moved to Vladivostok on Russian Navy "
    "transport ships between 8 and 13 October 2024"
)
NIS_EXCERPT = (
    "South Korea's National Intelligence Service announced that North Korea had "
    "decided to dispatch about 12,000 special operation forces of the 11th Corps to "
    "Russia and that about 1,500 among them were transferred to Vladivostok in the "
    "Russian Far East on Russian Navy transport ships between October 8 and 13."
)
CREATE = reverse("claims:claim_create")


def edit_url(claim: Claim) -> str:
    return reverse("claims:claim_update", args=[claim.pk])


def rows(prefix: str, forms: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(forms)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "50",
    }
    for index, form in enumerate(forms):
        for name, value in form.items():
            data[f"{prefix}-{index}-{name}"] = "" if value is None else str(value)
    return data


def entry(
    statement: str = SAMPLE,
    citations: list[dict] | None = None,
    relations: list[dict] | None = None,
    initial_citations: int = 0,
    initial_relations: int = 0,
    **fields,
) -> dict:
    data = {"statement": statement, "kind": "reported_fact", "version": "1"}
    data.update({name: str(value) for name, value in fields.items()})
    data.update(rows("citations", citations or [], initial_citations))
    data.update(rows("relations", relations or [], initial_relations))
    return data


def citation(document: Document | None, source: Source, **fields) -> dict:
    row = {
        "document": document.pk if document else "",
        "source": source.pk,
        "supports": "True",
        "excerpt": "An excerpt, verbatim.",
        "locator": "",
        "said_on": "",
        "credibility": "3",
    }
    row.update(fields)
    return row


@pytest.fixture
def nis(db):
    return SourceFactory(name="National Intelligence Service (South Korea)", grade="B")


@pytest.fixture
def jinf(db):
    return SourceFactory(
        name="Japan Institute for National Fundamentals",
        kind=Source.Kind.ORGANIZATION,
        grade="C",
    )


@pytest.fixture
def nishioka(db):
    return SourceFactory(
        name="Tsutomu Nishioka's sources inside North Korea",
        kind=Source.Kind.UNNAMED,
        grade="F",
    )


@pytest.fixture
def essay(jinf):
    return DocumentFactory(
        title="Reality of North Korea's Participation in Ukraine War",
        publisher=jinf,
        published_on=date(2024, 10, 24),
    )


# The whole page ---------------------------------------------------------------


def test_alice_logs_the_sample_claim_with_two_citations_and_a_relation(
    as_user, alice, bob, nis, jinf, nishioka, essay
):
    twelve_thousand = ClaimFactory(
        logged_by=bob,
        statement="North Korea decided to dispatch about 12,000 special operation "
        "forces of the 11th Corps to Russia",
    )
    data = entry(
        quantity_qualifier="about",
        quantity_low="1,500",
        quantity_unit="soldiers",
        time_text="between 8 and 13 October 2024",
        new_places="Vladivostok, Russian Far East",
        new_topic="North Korean troops in Russia",
        actors="North Korea, Russian Navy",
        confirm_new="on",
        citations=[
            citation(
                essay,
                nis,
                excerpt=NIS_EXCERPT,
                locator="para. 1",
                said_on="2024-10-18",
                credibility="2",
            ),
            citation(
                None,
                nishioka,
                new_title="NIS briefing to the National Assembly",
                new_publisher=nis.pk,
                new_published_on="2024-10-18",
                new_url="https://example.org/nis-briefing",
                new_kind="briefing",
                excerpt="About 1,500 soldiers were transferred to Vladivostok.",
                credibility="3",
            ),
        ],
        relations=[
            {
                "other_claim": twelve_thousand.pk,
                "kind": "corroborates",
                "rationale": "The 1,500 are the first part of the 12,000.",
            }
        ],
    )

    response = as_user(alice).post(CREATE, data)

    claim = Claim.objects.get(statement=SAMPLE)
    assert response.status_code == 302
    assert response["Location"] == claim.get_absolute_url()
    assert claim.logged_by == alice
    assert claim.quantity_qualifier == "about"
    assert claim.quantity_low == claim.quantity_high == Decimal("1500")
    assert claim.quantity_unit == "soldiers"
    assert (claim.time_start, claim.time_end) == (date(2024, 10, 8), date(2024, 10, 13))
    assert claim.time_precision == "day"
    assert claim.time_text == "between 8 and 13 October 2024"
    assert sorted(p.name for p in claim.places.all()) == [
        "Russian Far East",
        "Vladivostok",
    ]
    assert claim.topic.name == "North Korean troops in Russia"
    assert claim.version == 1
    citations = list(claim.citations.order_by("pk"))
    assert len(citations) == 2
    assert citations[0].source == nis and citations[0].document == essay
    assert citations[0].excerpt == NIS_EXCERPT
    assert citations[0].said_on == date(2024, 10, 18)
    assert citations[0].grade_at_citation == "B"
    assert citations[0].created_by == alice
    briefing = citations[1].document
    assert briefing.title.startswith("NIS briefing") and briefing.publisher == nis
    assert briefing.kind == "briefing"
    assert citations[1].source == nishioka
    relation = Relation.objects.get()
    assert {relation.claim_a_id, relation.claim_b_id} == {claim.pk, twelve_thousand.pk}
    assert relation.created_by == alice
    assert relation.kind == "corroborates"

    audit = AuditEntry.objects.filter(actor=alice)
    assert audit.filter(model="claims.claim", action="create").count() == 1
    assert audit.filter(model="claims.citation", action="create").count() == 2
    assert audit.filter(model="sources.document", action="create").count() == 1
    assert audit.filter(model="claims.relation", action="create").count() == 1

    claim.refresh_from_db()
    assert claim.confirmation_version == MODEL_VERSION
    assert claim.level != "unsourced"
    assert explanations([claim.pk])[claim.pk]


def test_an_invalid_citation_row_saves_nothing_and_keeps_what_was_typed(
    as_user, alice, nis, essay
):
    data = entry(
        citations=[
            citation(
                None,
                nis,
                new_title="A document that must not be created",
                new_publisher=nis.pk,
                new_kind="article",
                excerpt="",
            )
        ],
        confirm_new="on",
    )

    response = as_user(alice).post(CREATE, data)

    assert response.status_code == 200
    assert not Claim.objects.exists()
    assert not Document.objects.filter(title__startswith="A document").exists()
    assert not AuditEntry.objects.exists()
    page = response.content.decode()
    assert "This field is required." in page
    assert 'id="id_citations-0-excerpt_error"' in page
    assert 'href="#id_citations-0-excerpt"' in page
    assert "Vladivostok on Russian Navy transport ships" in page
    assert 'value="A document that must not be created"' in page


def test_the_empty_page_renders_for_an_analyst(as_user, alice, essay):
    response = as_user(alice).get(CREATE)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="citations-0-excerpt"' in page
    assert 'id="citations-template"' in page
    assert "4 – doubtful" in page
    # Tradecraft: the source picker does not show grades before credibility.
    assert "usually reliable" not in page
    assert "<script>" not in page.replace('<script src="', "")


def test_adding_a_row_without_javascript_keeps_everything_and_saves_nothing(
    as_user, alice, nis, essay
):
    data = entry(
        citations=[citation(essay, nis, excerpt="Typed before adding a row.")],
        add_citation="1",
    )

    response = as_user(alice).post(CREATE, data)

    page = response.content.decode()
    assert response.status_code == 200
    assert not Claim.objects.exists()
    assert 'name="citations-1-excerpt"' in page
    assert 'name="citations-TOTAL_FORMS" value="2"' in page
    assert "Typed before adding a row." in page
    assert "problem" not in page  # no error summary for a row being added


def test_adding_a_relation_row_without_javascript(as_user, alice):
    data = entry(
        relations=[{"other_claim": "", "kind": "contradicts", "rationale": "Half"}],
        add_relation="1",
    )

    page = as_user(alice).post(CREATE, data).content.decode()

    assert 'name="relations-1-other_claim"' in page
    assert "Half</textarea>" in page
    assert not Claim.objects.exists()


# Facets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "precision"),
    [
        ("early May 2024", date(2024, 5, 1), date(2024, 5, 10), "day"),
        ("May 2024", date(2024, 5, 1), date(2024, 5, 31), "month"),
        ("2024", date(2024, 1, 1), date(2024, 12, 31), "year"),
        (
            "between 8 and 13 October 2024",
            date(2024, 10, 8),
            date(2024, 10, 13),
            "day",
        ),
        ("8–13 October 2024", date(2024, 10, 8), date(2024, 10, 13), "day"),
        ("8-13 Oct 2024", date(2024, 10, 8), date(2024, 10, 13), "day"),
        ("October 8–13, 2024", date(2024, 10, 8), date(2024, 10, 13), "day"),
        ("end of 2024", date(2024, 12, 1), date(2024, 12, 31), "month"),
        ("by the end of the year 2024", None, date(2024, 12, 31), "month"),
        ("mid-August 2024", date(2024, 8, 11), date(2024, 8, 20), "day"),
        ("late 2024", date(2024, 9, 1), date(2024, 12, 31), "month"),
        ("2024-10-08", date(2024, 10, 8), date(2024, 10, 8), "day"),
        ("late February 2024", date(2024, 2, 21), date(2024, 2, 29), "day"),
        ("in early October 2024", date(2024, 10, 1), date(2024, 10, 10), "day"),
        ("18 October 2024", date(2024, 10, 18), date(2024, 10, 18), "day"),
        ("May–August 2024", date(2024, 5, 1), date(2024, 8, 31), "month"),
    ],
)
def test_it_reads_time_phrases(text, start, end, precision):
    span = parse_time_text(text)

    assert span is not None, text
    assert (span.start, span.end, span.precision) == (start, end, precision)


@pytest.mark.parametrize(
    "text", ["", "soon", "early May", "31 February 2024", "13-8 October 2024"]
)
def test_it_does_not_guess_unreadable_times(text):
    assert parse_time_text(text) is None


def test_a_time_phrase_fills_start_end_and_precision_on_save(
    as_user, alice, nis, essay
):
    as_user(alice).post(
        CREATE, entry(time_text="by the end of the year 2024", confirm_new="on")
    )

    claim = Claim.objects.get()
    assert claim.time_start is None
    assert claim.time_end == date(2024, 12, 31)
    assert claim.time_precision == "month"


def test_explicit_dates_win_over_the_time_phrase(as_user, alice):
    as_user(alice).post(
        CREATE,
        entry(
            time_text="early October 2024",
            time_start="2024-10-03",
            time_end="2024-10-05",
            confirm_new="on",
        ),
    )

    claim = Claim.objects.get()
    assert (claim.time_start, claim.time_end) == (date(2024, 10, 3), date(2024, 10, 5))
    assert claim.time_precision == "day"
    assert claim.time_text == "early October 2024"


def test_an_unreadable_time_without_dates_is_a_field_error(as_user, alice):
    response = as_user(alice).post(
        CREATE, entry(time_text="around Chuseok", confirm_new="on")
    )

    assert response.status_code == 200
    assert "This time could not be read" in response.content.decode()
    assert not Claim.objects.exists()


def test_an_end_before_the_start_is_refused(as_user, alice):
    response = as_user(alice).post(
        CREATE,
        entry(time_start="2024-10-13", time_end="2024-10-08", confirm_new="on"),
    )

    assert "The end is before the start." in response.content.decode()
    assert not Claim.objects.exists()


def test_a_low_above_the_high_is_refused(as_user, alice):
    response = as_user(alice).post(
        CREATE, entry(quantity_low="2000", quantity_high="1500", confirm_new="on")
    )

    assert response.status_code == 200
    assert "The upper bound is below the lower one." in response.content.decode()
    assert not Claim.objects.exists()


def test_a_negative_count_is_refused(as_user, alice):
    response = as_user(alice).post(
        CREATE, entry(quantity_low="-5", quantity_unit="soldiers", confirm_new="on")
    )

    assert "A count cannot be negative." in response.content.decode()
    assert not Claim.objects.exists()


def test_a_range_is_kept_and_picked_places_join_typed_ones(as_user, alice):
    vladivostok = Place.objects.create(name="Vladivostok")
    as_user(alice).post(
        CREATE,
        entry(
            quantity_qualifier="about",
            quantity_low="1 500",
            quantity_high="2,000.50",
            quantity_unit="USD a month",
            places=vladivostok.pk,
            new_places="vladivostok, Donetsk region,  Donetsk region",
            confirm_new="on",
        ),
    )

    claim = Claim.objects.get()
    assert (claim.quantity_low, claim.quantity_high) == (
        Decimal("1500"),
        Decimal("2000.50"),
    )
    assert sorted(p.name for p in claim.places.all()) == [
        "Donetsk region",
        "Vladivostok",
    ]
    assert Place.objects.count() == 2


def test_a_logged_claims_audit_entry_lists_the_places_it_was_given(as_user, alice):
    """A new claim's places are added and recorded as given, not read back:
    the same place picked and typed is listed once."""
    vladivostok = Place.objects.create(name="Vladivostok")
    data = entry(places=vladivostok.pk, new_places="vladivostok, Wonsan")
    as_user(alice).post(CREATE, {**data, "confirm_new": "on"})
    claim = Claim.objects.get()
    logged = AuditEntry.objects.get(model="claims.claim", action="create")
    assert logged.after["places"] == sorted(claim.places.values_list("pk", flat=True))
    assert len(logged.after["places"]) == 2

    with CaptureQueriesContext(connection) as queries:
        as_user(alice).post(CREATE, entry(statement="No place.", confirm_new="on"))
    claim = Claim.objects.get(statement="No place.")
    logged = AuditEntry.objects.get(object_id=str(claim.pk), action="create")
    assert logged.after["places"] == []
    assert not [q for q in queries if "claims_claim_places" in q["sql"]]


def test_an_existing_topic_is_reused_whatever_its_case(as_user, alice):
    topic = Topic.objects.create(name="North Korean troops in Russia")
    as_user(alice).post(
        CREATE, entry(new_topic="north korean troops in russia", confirm_new="on")
    )

    assert Claim.objects.get().topic == topic
    assert Topic.objects.count() == 1


# Relations --------------------------------------------------------------------


def test_a_relation_to_the_claim_itself_is_a_field_error(as_user, alice):
    claim = ClaimFactory(logged_by=alice)
    data = entry(
        statement=claim.statement,
        relations=[
            {"other_claim": claim.pk, "kind": "corroborates", "rationale": "Same."}
        ],
    )

    response = as_user(alice).post(edit_url(claim), data)

    assert response.status_code == 200
    assert "A claim cannot be related to itself." in response.content.decode()
    assert not Relation.objects.exists()


def test_a_pair_already_related_is_a_field_error(as_user, alice, bob):
    claim = ClaimFactory(logged_by=alice)
    other = ClaimFactory(logged_by=bob)
    existing = RelationFactory(claim_a=claim, claim_b=other, created_by=alice)
    data = entry(
        statement=claim.statement,
        relations=[
            {
                "id": existing.pk,
                "other_claim": other.pk,
                "kind": "corroborates",
                "rationale": existing.rationale,
            },
            {"other_claim": f"#{other.pk}", "kind": "contradicts", "rationale": "No."},
        ],
        initial_relations=1,
    )

    response = as_user(alice).post(edit_url(claim), data)

    assert response.status_code == 200
    assert "This claim is already related above." in response.content.decode()
    assert Relation.objects.count() == 1


def test_an_unknown_claim_number_is_a_field_error(as_user, alice):
    data = entry(
        relations=[{"other_claim": "999999", "kind": "contradicts", "rationale": "x"}],
        confirm_new="on",
    )

    response = as_user(alice).post(CREATE, data)

    assert "There is no claim #999999." in response.content.decode()
    assert not Claim.objects.exists()


def test_the_lookup_finds_visible_claims_by_words_or_number(as_user, alice, nora):
    target = ClaimFactory(statement="About 10,000 soldiers will be dispatched")
    ClaimFactory.create_batch(25, statement="Soldiers moved again")
    url = reverse("claims:claim_lookup")

    by_words = as_user(alice).get(url, {"q": "10,000 dispatched"}).json()
    by_number = as_user(alice).get(url, {"q": f"#{target.pk}"}).json()
    many = as_user(alice).get(url, {"q": "soldiers"}).json()

    assert by_words == [
        {
            "id": target.pk,
            "statement": target.statement,
            "level": "unsourced",
            "level_display": "unsourced",
        }
    ]
    assert by_number[0]["id"] == target.pk
    assert len(many) == 20
    assert as_user(nora).get(url, {"q": "soldiers"}).json() == []


# Editing ----------------------------------------------------------------------


def test_editing_updates_removes_and_adds_citations_through_the_actions(
    as_user, alice, nis, jinf, essay
):
    claim = ClaimFactory(logged_by=alice, statement=SAMPLE)
    kept = CitationFactory(claim=claim, document=essay, source=nis, created_by=alice)
    removed = CitationFactory(claim=claim, document=essay, source=jinf)
    data = entry(
        citations=[
            citation(essay, nis, id=kept.pk, excerpt="Corrected excerpt."),
            citation(essay, jinf, id=removed.pk, excerpt=removed.excerpt, DELETE="on"),
            citation(essay, jinf, excerpt="A new one."),
        ],
        initial_citations=2,
    )

    response = as_user(alice).post(edit_url(claim), data)

    assert response.status_code == 302
    assert sorted(claim.citations.values_list("excerpt", flat=True)) == [
        "A new one.",
        "Corrected excerpt.",
    ]
    assert not Citation.objects.filter(pk=removed.pk).exists()
    citation_audit = AuditEntry.objects.filter(model="claims.citation", actor=alice)
    assert sorted(citation_audit.values_list("action", flat=True)) == [
        "create",
        "delete",
        "update",
    ]
    claim.refresh_from_db()
    assert claim.version == 2
    assert claim.confirmation_version == MODEL_VERSION


def test_the_edit_page_shows_saved_rows(as_user, alice, bob, nis, essay):
    claim = ClaimFactory(logged_by=alice)
    CitationFactory(claim=claim, document=essay, source=nis, excerpt="Saved words.")
    other = ClaimFactory(logged_by=bob, statement="The other claim's words")
    RelationFactory(claim_a=claim, claim_b=other, created_by=alice)

    page = as_user(alice).get(edit_url(claim)).content.decode()

    assert "Saved words." in page
    assert f'name="relations-0-other_claim" value="{other.pk}"' in page
    assert "The other claim&#x27;s words" in page
    assert 'name="citations-0-DELETE"' in page


def test_the_edit_page_costs_the_same_whatever_the_rows(
    as_user, alice, nis, essay, django_assert_num_queries
):
    def queries_for(citations: int) -> int:
        claim = ClaimFactory(logged_by=alice)
        for _ in range(citations):
            CitationFactory(claim=claim, document=essay, source=nis)
        for _ in range(citations):
            RelationFactory(claim_a=claim, created_by=alice)
        client = as_user(alice)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(edit_url(claim)).status_code == 200
        return len(queries)

    assert queries_for(2) == queries_for(12)


def statements(queries: CaptureQueriesContext) -> int:
    """The statements run, less those that make the reliability refresh's
    temporary tables, analyze them and prepare its statements (once per
    connection) and the writers' lock (once per transaction, and the test's two
    saves share one), whatever the rows."""
    once = (
        "PREPARE ",
        "CREATE TEMP TABLE reliability_",
        "ANALYZE reliability_",
        "SELECT pg_advisory_xact_lock",
    )
    return sum(not q["sql"].startswith(once) for q in queries)


def logging_with(rows: int, bob, essay) -> dict:
    """The entry page's POST with this many citations and relations."""
    sources = [SourceFactory() for _ in range(rows)]
    others = [ClaimFactory(logged_by=bob) for _ in range(rows)]
    return entry(
        statement=f"A claim logged with {rows} citations and relations.",
        confirm_new="on",
        citations=[
            citation(essay, source, excerpt=f"Excerpt {i}.")
            for i, source in enumerate(sources)
        ],
        relations=[
            {"other_claim": other.pk, "kind": "corroborates", "rationale": "Same."}
            for other in others
        ],
    )


def test_saving_a_logged_claim_costs_the_same_queries_for_1_or_5_citations(
    alice, bob, essay
):
    def queries_for(rows: int) -> int:
        page = ClaimEntry(alice, Claim(), logging_with(rows, bob, essay))
        assert page.is_valid()
        with CaptureQueriesContext(connection) as queries:
            claim = page.save()
        assert claim.citations.count() == rows
        assert Relation.objects.involving(claim).count() == rows
        assert AuditEntry.objects.filter(model="claims.citation").count() >= rows
        assert claim_recomputed(claim)
        return statements(queries)

    assert queries_for(1) == queries_for(5)


def claim_recomputed(claim: Claim) -> bool:
    claim.refresh_from_db()
    return claim.level != "unsourced" and claim.confirmation_version == MODEL_VERSION


def test_logging_a_claim_costs_the_same_queries_for_1_or_5_citations(
    as_user, alice, bob, essay
):
    def queries_for(rows: int) -> int:
        data = logging_with(rows, bob, essay)
        client = as_user(alice)
        with CaptureQueriesContext(connection) as queries:
            assert client.post(CREATE, data).status_code == 302
        claim = Claim.objects.get(statement=data["statement"])
        assert claim.citations.count() == rows
        assert Relation.objects.involving(claim).count() == rows
        return statements(queries)

    assert queries_for(1) == queries_for(5)


def test_logging_a_claim_asks_the_database_nothing_its_forms_checked(
    as_user, alice, bob, essay
):
    """The entry's forms check their own constraints (the quantity and time
    ranges, the credibility's choices, a relation's other end); Django would ask
    the database about each one, a savepoint and a query apiece."""
    data = logging_with(2, bob, essay)
    data.update(
        quantity_low="1500", quantity_high="2000", quantity_unit="troops",
        time_start="2024-10-08", time_end="2024-10-13",
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        assert as_user(alice).post(CREATE, data).status_code == 302
    claim = Claim.objects.get(statement=data["statement"])
    assert (claim.quantity_low, claim.time_end) == (1500, date(2024, 10, 13))
    assert not [q["sql"] for q in queries if '"_check"' in q["sql"]]


def test_logging_a_claim_asks_for_the_writers_lock_once(as_user, alice, essay):
    """Finding the related claims, recomputing and refreshing the reliability
    report each need the writers' lock (PostgreSQL): the post asks for it once,
    and inside it the refresh opens no savepoint, the relations of a claim
    with none are read once, and the intervals to fill are read with the
    refresh's writes."""
    data = entry(
        statement="A claim logged with one citation and no relations.",
        confirm_new="on",
        citations=[citation(essay, SourceFactory())],
    )
    with CaptureQueriesContext(connection) as queries:
        assert as_user(alice).post(CREATE, data).status_code == 302
    assert claim_recomputed(Claim.objects.get(statement=data["statement"]))
    sql = [q["sql"] for q in queries]
    relations = [text for text in sql if 'FROM "claims_relation"' in text]
    assert len(relations) == 1
    locks = [i for i, text in enumerate(sql) if "pg_advisory_xact_lock" in text]
    if connection.vendor != "postgresql":
        assert locks == []  # SQLite lets one writer in at a time
        return
    assert len(locks) == 1
    assert [text for text in sql[locks[0] :] if text.startswith("SAVEPOINT")] == []
    assert not any(text.startswith(reliability.UNFILLED_SQL) for text in sql)


def test_logging_a_claim_reads_its_sources_once(as_user, alice, essay):
    """The form reads the cited sources with their grades, and the citations
    keep those grades "as cited" without reading the sources again."""
    graded = [SourceFactory(grade="B"), SourceFactory(grade="E")]
    data = entry(
        statement="A claim logged with two sources of different grades.",
        confirm_new="on",
        citations=[
            citation(essay, source, excerpt=f"Excerpt {i}.")
            for i, source in enumerate(graded)
        ],
    )
    with CaptureQueriesContext(connection) as queries:
        assert as_user(alice).post(CREATE, data).status_code == 302
    claim = Claim.objects.get(statement=data["statement"])
    kept = claim.citations.values_list("source__grade", "grade_at_citation")
    assert sorted(kept) == [("B", "B"), ("E", "E")]
    reads = [q["sql"] for q in queries if 'FROM "sources_source"' in q["sql"]]
    assert len(reads) == 1, reads


def test_the_constraints_a_form_vouches_for_are_its_models_checks():
    for form in (ClaimForm, CitationForm, RelationForm):
        checks = {
            constraint.name
            for constraint in form._meta.model._meta.constraints
            if isinstance(constraint, CheckConstraint)
        }
        assert form.checked_by_form <= checks, form


@pytest.mark.parametrize("credibility", ["1", "7", "x"])
def test_a_credibility_outside_the_scale_is_a_field_error(
    as_user, alice, essay, nis, credibility
):
    data = entry(
        confirm_new="on", citations=[citation(essay, nis, credibility=credibility)]
    )
    response = as_user(alice).post(CREATE, data)

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not Claim.objects.exists()


def test_a_second_editor_is_refused_and_told_who_changed_what(as_user, alice, ada):
    claim = ClaimFactory(logged_by=alice, statement="Original statement.")
    loaded = entry(statement="Alice's wording.", version=claim.version)
    first = entry(statement="Ada's wording.", actors="Russia", version=claim.version)

    assert as_user(ada).post(edit_url(claim), first).status_code == 302
    response = as_user(alice).post(edit_url(claim), loaded)

    page = response.content.decode()
    claim.refresh_from_db()
    assert response.status_code == 409
    assert claim.statement == "Ada's wording."
    assert "ada changed this claim after you opened it" in page
    assert "Ada&#x27;s wording." in page  # what is stored now
    assert "Alice&#x27;s wording." in page  # what alice typed, kept
    assert AuditEntry.objects.filter(actor=alice).count() == 0
    assert f'name="version" value="{claim.version}"' in page

    # Having seen the difference, saving again is a decision, not an accident.
    loaded["version"] = str(claim.version)
    assert as_user(alice).post(edit_url(claim), loaded).status_code == 302
    claim.refresh_from_db()
    assert claim.statement == "Alice's wording."


def test_bob_cannot_edit_alices_claim(as_user, alice, bob):
    claim = ClaimFactory(logged_by=alice, statement="Alice's claim.")

    client = as_user(bob)
    assert client.get(edit_url(claim)).status_code == 404
    assert client.post(edit_url(claim), entry(statement="Bob's")).status_code == 404
    claim.refresh_from_db()
    assert claim.statement == "Alice's claim."


def test_a_ruled_claim_cannot_be_edited(as_user, alice):
    claim = ClaimFactory(logged_by=alice, status=Claim.Status.CONFIRMED)

    assert as_user(alice).get(edit_url(claim)).status_code == 404


@pytest.mark.parametrize("person", ["rita", "max_", "nora"])
def test_only_analysts_open_the_entry_page(as_user, person, request):
    user = request.getfixturevalue(person)

    assert as_user(user).get(CREATE).status_code == 403
    assert as_user(user).post(CREATE, entry(confirm_new="on")).status_code == 403
    assert not Claim.objects.exists()


def test_an_administrator_may_log_a_claim(as_user, ada):
    response = as_user(ada).post(CREATE, entry(confirm_new="on"))

    assert response.status_code == 302
    assert Claim.objects.get().logged_by == ada


def test_signing_in_comes_first(client, db):
    response = client.get(CREATE)

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# Bad input --------------------------------------------------------------------


def test_html_in_a_statement_is_stored_verbatim_and_shown_escaped(as_user, alice):
    statement = '<script>alert("x")</script> <b>1,500</b> soldiers moved'
    as_user(alice).post(CREATE, entry(statement=statement, confirm_new="on"))

    claim = Claim.objects.get()
    page = as_user(alice).get(edit_url(claim)).content.decode()
    assert claim.statement == statement
    assert '<script>alert("x")' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    fragment = (
        as_user(alice)
        .get(reverse("claims:claim_similar"), {"statement": statement})
        .content.decode()
    )
    assert "<b>1,500</b>" not in fragment and "&lt;b&gt;1,500&lt;/b&gt;" in fragment


def test_a_3_mb_statement_is_refused_with_a_message(as_user, alice):
    response = as_user(alice).post(
        CREATE, entry(statement="x" * (3 * 1024 * 1024), confirm_new="on")
    )

    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert not Claim.objects.exists()


def test_a_3_mb_statement_is_a_field_error_when_the_request_can_be_read(
    as_user, alice, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
    response = as_user(alice).post(
        CREATE, entry(statement="x" * (3 * 1024 * 1024), confirm_new="on")
    )

    assert response.status_code == 200
    assert "Ensure this value has at most 2000 characters" in response.content.decode()
    assert not Claim.objects.exists()


def test_tampered_row_counts_and_ids_give_errors_not_crashes(as_user, alice, bob):
    others = CitationFactory(claim=ClaimFactory(logged_by=bob))
    claim = ClaimFactory(logged_by=alice)
    data = entry(statement=claim.statement)
    data.update({"citations-TOTAL_FORMS": "abc", "relations-TOTAL_FORMS": "100000"})
    data.update({"citations-INITIAL_FORMS": "1", "citations-0-id": others.pk})

    response = as_user(alice).post(edit_url(claim), data)

    assert response.status_code == 200
    assert Citation.objects.get() == others


def test_a_row_the_database_refuses_leaves_nothing_saved(
    as_user, alice, nis, essay, monkeypatch
):
    def refuse(actor, citation):
        raise IntegrityError("citation_unique_excerpt")

    monkeypatch.setattr(actions, "add_citation", refuse)
    data = entry(
        citations=[citation(None, nis, new_title="Briefing", new_publisher=nis.pk)],
        new_places="Vladivostok",
        confirm_new="on",
    )

    response = as_user(alice).post(CREATE, data)

    assert response.status_code == 200
    assert "the database refused a row" in response.content.decode()
    assert not Claim.objects.exists()
    assert not Document.objects.filter(title="Briefing").exists()
    assert not Place.objects.exists()
    assert not AuditEntry.objects.exists()


# Similar claims ----------------------------------------------------------------


def test_a_similar_claim_is_shown_before_a_new_one_is_saved(as_user, alice, bob):
    existing = ClaimFactory(
        logged_by=bob,
        statement="About 1,500 North Korean soldiers were transferred to "
        "Vladivostok on Russian Navy transport ships in October 2024",
    )
    client = as_user(alice)

    held = client.post(CREATE, entry())

    page = held.content.decode()
    assert held.status_code == 200
    assert Claim.objects.count() == 1
    assert reverse("claims:claim_detail", args=[existing.pk]) in page
    assert 'name="confirm_new"' in page
    assert "Vladivostok on Russian Navy transport ships between 8 and 13" in page

    logged = client.post(CREATE, entry(confirm_new="on"))

    assert logged.status_code == 302
    assert Claim.objects.count() == 2


def test_the_similar_fragment_lists_look_alikes_only(as_user, alice, nora):
    existing = ClaimFactory(
        statement="North Korean soldiers were moved to Vladivostok on Russian ships"
    )
    ClaimFactory(statement="The Kremlin denied any North Korean presence")
    url = reverse("claims:claim_similar")

    fragment = as_user(alice).get(url, {"statement": SAMPLE}).content.decode()
    nothing = as_user(nora).get(url, {"statement": SAMPLE}).content.decode()

    assert f"#{existing.pk} North Korean soldiers" in fragment
    assert "Kremlin" not in fragment
    assert "Vladivostok" not in nothing


def test_the_word_overlap_fallback_ranks_by_shared_words(alice):
    close = ClaimFactory(
        statement="About 1,500 North Korean soldiers moved to Vladivostok on ships"
    )
    ClaimFactory(statement="Vladivostok harbour was closed for a week")

    found = similar_claims(alice, SAMPLE)

    assert [claim.pk for claim in found] == [close.pk]


@pytest.mark.postgres_only
def test_trigram_similarity_is_used_when_pg_trgm_is_installed(alice):
    if not on_postgres():
        pytest.skip("pg_trgm needs PostgreSQL; SQLite uses the word-overlap fallback")
    with connection.cursor() as cursor:
        # Rolled back with the test's transaction.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    close = ClaimFactory(
        statement="About 1,500 North Korean soldiers were moved to Vladivostok"
    )
    ClaimFactory(statement="The Kremlin denied any presence")

    found = similar_claims(alice, SAMPLE)

    assert [claim.pk for claim in found] == [close.pk]
    assert 0.3 <= found[0].similarity <= 1


@pytest.mark.parametrize("form_class", [ClaimForm, CitationForm, RelationForm])
def test_entry_forms_copy_their_fields_as_django_would_sharing_only_choices(
    form_class, alice, monkeypatch
):
    """The entry forms copy their fields with forms.field_copy, not Django's
    deep copy: two forms still share no field, widget, attribute dict, message
    dict, validator list or queryset, only a choice field's choices; and each
    form renders exactly as with Django's copies."""
    claim = Claim(logged_by=alice)
    kwargs = {
        ClaimForm: {"instance": claim, "user": alice},
        CitationForm: {"user": alice},
        RelationForm: {"user": alice, "claim": claim},
    }[form_class]
    one, other = form_class(**kwargs), form_class(**kwargs)
    for name, base in form_class.base_fields.items():
        field, other_field = one.fields[name], other.fields[name]
        assert len({id(base), id(field), id(other_field)}) == 3, name
        assert field.widget is not other_field.widget, name
        assert field.widget is not base.widget, name
        assert field.widget.attrs is not other_field.widget.attrs, name
        assert field.error_messages is not other_field.error_messages, name
        assert field.validators is not other_field.validators, name
        if getattr(field, "queryset", None) is not None:
            assert field.queryset is not other_field.queryset, name
            assert field.queryset is not base.queryset, name
            assert field.widget.choices.field is field, name
        if hasattr(field.widget, "field"):
            assert field.widget.field is field, name
    copied = str(form_class(**kwargs))
    monkeypatch.setattr(forms_module, "field_copy", copy.deepcopy)
    assert str(form_class(**kwargs)) == copied


def test_a_copied_model_choice_field_has_a_queryset_and_choices_of_its_own(db):
    """As Django's deep copy: a clone of the queryset (whose cached rows would
    otherwise pass from one request to the next), and the widget's choices
    bound to the copy; a choice field's choices are shared."""
    from django import forms

    field = forms.ModelChoiceField(queryset=Topic.objects.all())
    list(field.queryset)  # the original's rows cached
    copied = forms_module.field_copy(field)
    assert copied.queryset is not field.queryset
    assert copied.queryset._result_cache is None
    assert copied.widget.choices.field is copied
    kinds = forms.ChoiceField(choices=Relation.Kind.choices)
    assert forms_module.field_copy(kinds).choices is kinds.choices
