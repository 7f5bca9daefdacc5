"""No page lists a whole table in a widget: sources, documents and places are
picked through lookups (sources/lookups.py, claims/lookups.py), so the pages
weigh the same with 3 or 300 of them."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims.models import Claim, Place
from sources.lookups import LOOKUP_LIMIT
from sources.models import Document, Source
from tests.factories import (
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    PlaceFactory,
    SourceFactory,
)

SOURCES = reverse("sources:source_lookup")
DOCUMENTS = reverse("sources:document_lookup")
PLACES = reverse("claims:place_lookup")
HOSTILE = [
    "",
    " ",
    "%",
    "_",
    "\\",
    "'; DROP TABLE x; --",
    "a\x00b",
    "#",
    "#99999999999999999999999",
    "9" * 40,
    "999999999999999999",
    "#2147483648",
    "x" * 5000,
    "€ ☃ 𝕏",
    "<script>alert(1)</script>",
]


# The endpoints -------------------------------------------------------------------


def test_source_lookup_finds_by_words_and_number_without_grades(as_user, alice):
    nis = SourceFactory(name="National Intelligence Service", grade="B")
    SourceFactory(name="Ministry of Defence", grade="A")

    found = as_user(alice).get(SOURCES, {"q": "intelligence serv"}).json()
    assert [row["id"] for row in found] == [nis.pk]
    assert found[0]["label"] == "National Intelligence Service"
    # Tradecraft: the picker never shows a grade (credibility is judged first).
    assert "grade" not in str(found).lower()

    by_number = as_user(alice).get(SOURCES, {"q": f"#{nis.pk}"}).json()
    assert by_number[0]["id"] == nis.pk


def test_source_lookup_can_keep_origins_only(as_user, alice):
    ministry = SourceFactory(name="Ministry of Truth")
    SourceFactory(name="Ministry of Truth, press office", parent=ministry)

    everything = as_user(alice).get(SOURCES, {"q": "ministry truth"}).json()
    origins = as_user(alice).get(SOURCES, {"q": "ministry", "origins": "1"}).json()

    assert len(everything) == 2
    assert [row["id"] for row in origins] == [ministry.pk]


def test_lookups_are_bounded_and_put_prefix_matches_first(as_user, alice):
    Place.objects.bulk_create(
        [Place(name=f"Outer Kursk district {n}") for n in range(LOOKUP_LIMIT + 10)]
    )
    kursk = PlaceFactory(name="Kursk")

    found = as_user(alice).get(PLACES, {"q": "kursk"}).json()

    assert len(found) == LOOKUP_LIMIT
    assert found[0] == {"id": kursk.pk, "label": "Kursk", "detail": f"#{kursk.pk}"}


def test_document_lookup_names_the_publisher(as_user, alice):
    document = DocumentFactory(title="Troops seen near the border")

    found = as_user(alice).get(DOCUMENTS, {"q": "troops border"}).json()

    assert [row["id"] for row in found] == [document.pk]
    assert document.publisher.name in found[0]["label"]


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "model, column, index",
    [
        (Document, "title", "document_title_upper_trgm"),
        (Source, "name", "source_name_upper_trgm"),
    ],
)
def test_a_lookup_word_is_found_through_a_trigram_index(db, model, column, index):
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes need PostgreSQL; SQLite scans its small tables")
    query = model.objects.filter(**{f"{column}__icontains": "border"})
    with connection.cursor() as cursor:
        # A test table is tiny: forbid the scan to see that the index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Nor a walk of another index with the match as a filter: a trigram
        # index serves through a bitmap scan only.
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan


def test_lookups_show_nothing_to_someone_without_a_role(as_user, nora):
    SourceFactory(name="Reuters")
    DocumentFactory(title="Reuters report")

    assert as_user(nora).get(SOURCES, {"q": "reuters"}).json() == []
    assert as_user(nora).get(DOCUMENTS, {"q": "reuters"}).json() == []


@pytest.mark.parametrize("url", [SOURCES, DOCUMENTS, PLACES])
@pytest.mark.parametrize("query", HOSTILE)
def test_no_query_string_breaks_a_lookup(as_user, alice, url, query):
    SourceFactory(name="Reuters")

    response = as_user(alice).get(url, {"q": query, "origins": query})

    assert response.status_code == 200
    assert isinstance(response.json(), list)


# Forms and filters ------------------------------------------------------------


def test_a_filter_shows_its_chosen_source_by_name_and_accepts_an_exact_name(
    as_user, alice
):
    reuters = SourceFactory(name="Reuters")
    cited = ClaimFactory(logged_by=alice, statement="Cited by Reuters.")
    CitationFactory(claim=cited, source=reuters)
    ClaimFactory(logged_by=alice, statement="Cited by nobody.")
    client = as_user(alice)

    by_number = client.get(reverse("claims:claim_list"), {"source": reuters.pk})
    by_name = client.get(reverse("claims:claim_list"), {"source": "reuters"})

    for response in (by_number, by_name):
        page = response.content.decode()
        assert "Cited by Reuters." in page
        assert "Cited by nobody." not in page
        assert re.search(r'class="lookup-picked"[^>]*>Reuters</p>', page)


@pytest.mark.parametrize(
    "value", ["Nobody at all", "99999999", "999999999999999999", "a\x00b", "x" * 3000]
)
def test_an_unknown_source_in_a_filter_is_a_message_not_a_500(as_user, alice, value):
    response = as_user(alice).get(reverse("claims:claim_list"), {"source": value})

    assert response.status_code == 200
    assert "Some filters are not valid." in response.content.decode()


@pytest.mark.parametrize("value", ["90% to", "%s", "%(x)s", "100 %", "a\x00b"])
@pytest.mark.parametrize(
    "url", ["api:claim-list", "api:claim-export", "claims:claim_list"]
)
@pytest.mark.parametrize("field", ["source", "origin"])
def test_a_percent_sign_in_a_filtered_name_is_a_field_message(
    as_user, alice, url, field, value
):
    # django-filter formats the API's messages with their parameters: typed text
    # carrying "%" once made that formatting fail with a 500.
    response = as_user(alice).get(reverse(url), {field: value})

    if url.startswith("api:"):
        assert response.status_code == 400
        assert field in response.json()
    else:
        assert response.status_code == 200
        assert "Some filters are not valid." in response.content.decode()


def test_the_queue_and_the_sources_pages_show_their_chosen_values_by_name(
    as_user, rita, alice
):
    ministry = SourceFactory(name="Ministry of Defence")
    office = SourceFactory(name="Press office", parent=ministry)
    DocumentFactory(title="Daily briefing", publisher=office)
    kursk = PlaceFactory(name="Kursk")
    pages = [
        (rita, reverse("claims:review_queue"), {"origin": ministry.pk}, "Ministry"),
        (rita, reverse("claims:review_queue"), {"place": "kursk"}, "Kursk"),
        (alice, reverse("sources:source_list"), {"origin": ministry.pk}, "Ministry"),
        (alice, reverse("sources:document_list"), {"publisher": office.pk}, "Press"),
    ]
    for user, url, params, name in pages:
        response = as_user(user).get(url, params)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert re.search(rf'class="lookup-picked"[^>]*>{name}[^<]*</p>', page), url
    # An origin filter takes origins only.
    response = as_user(alice).get(
        reverse("sources:source_list"), {"origin": "press office"}
    )
    assert "No origin is named" in response.content.decode()
    assert kursk.pk


def test_the_claim_page_cites_a_document_picked_by_number(as_user, alice, bob):
    # bob's claim: alice adds evidence on its page, not through the entry page.
    claim = ClaimFactory(logged_by=bob, statement="A claim to cite.")
    document = DocumentFactory(title="Field report")
    url = reverse("claims:citation_add", args=[claim.pk])
    data = {
        "cite-document": str(document.pk),
        "cite-source": "nobody by that name",
        "cite-supports": "True",
        "cite-excerpt": "Verbatim.",
        "cite-credibility": "3",
    }

    refused = as_user(alice).post(url, data)

    page = refused.content.decode()
    assert not claim.citations.exists()
    assert "No source is named “nobody by that name”" in page
    assert re.search(r'class="lookup-picked"[^>]*>Field report', page)
    assert 'value="nobody by that name"' in page

    data["cite-source"] = str(document.publisher_id)
    assert as_user(alice).post(url, data).status_code == 302
    assert claim.citations.get().document == document


def test_a_name_several_documents_share_asks_for_the_number(as_user, alice):
    nis = SourceFactory(name="NIS")
    DocumentFactory(title="Briefing", publisher=nis)
    DocumentFactory(title="Briefing", publisher=nis)
    data = {
        "statement": "Something happened somewhere at some time.",
        "kind": "reported_fact",
        "version": "1",
        "confirm_new": "on",
        "citations-TOTAL_FORMS": "1",
        "citations-INITIAL_FORMS": "0",
        "citations-MIN_NUM_FORMS": "0",
        "citations-MAX_NUM_FORMS": "50",
        "citations-0-document": "briefing",
        "citations-0-source": "nis",
        "citations-0-supports": "True",
        "citations-0-excerpt": "Verbatim.",
        "citations-0-credibility": "3",
        "relations-TOTAL_FORMS": "0",
        "relations-INITIAL_FORMS": "0",
        "relations-MIN_NUM_FORMS": "0",
        "relations-MAX_NUM_FORMS": "50",
    }

    response = as_user(alice).post(reverse("claims:claim_create"), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert not Claim.objects.exists()
    assert "Several documents are named “briefing”" in page
    # What was typed stays, and the source typed by name is shown by name.
    assert 'value="briefing"' in page
    assert re.search(r'class="lookup-picked"[^>]*>NIS</p>', page)


def test_documents_sources_and_places_typed_by_name_are_saved(as_user, alice):
    nis = SourceFactory(name="National Intelligence Service")
    briefing = DocumentFactory(title="Closed briefing to lawmakers", publisher=nis)
    kursk = PlaceFactory(name="Kursk")
    data = {
        "statement": "Troops were moved to Kursk in October.",
        "kind": "reported_fact",
        "version": "1",
        "confirm_new": "on",
        "places": ["kursk", ""],
        "new_places": "Sudzha",
        "citations-TOTAL_FORMS": "1",
        "citations-INITIAL_FORMS": "0",
        "citations-MIN_NUM_FORMS": "0",
        "citations-MAX_NUM_FORMS": "50",
        "citations-0-document": "closed briefing to lawmakers",
        "citations-0-source": "National Intelligence Service",
        "citations-0-supports": "True",
        "citations-0-excerpt": "Verbatim.",
        "citations-0-credibility": "3",
        "relations-TOTAL_FORMS": "0",
        "relations-INITIAL_FORMS": "0",
        "relations-MIN_NUM_FORMS": "0",
        "relations-MAX_NUM_FORMS": "50",
    }

    response = as_user(alice).post(reverse("claims:claim_create"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    claim = Claim.objects.get()
    citation = claim.citations.get()
    assert (citation.document, citation.source) == (briefing, nis)
    assert sorted(place.name for place in claim.places.all()) == ["Kursk", "Sudzha"]
    assert kursk in claim.places.all()


def test_a_refused_entry_keeps_the_chosen_places_by_name(as_user, alice):
    kursk = PlaceFactory(name="Kursk")
    data = {
        "statement": "",
        "kind": "reported_fact",
        "version": "1",
        "places": [str(kursk.pk), "Nowhere in particular"],
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
        "citations-MIN_NUM_FORMS": "0",
        "citations-MAX_NUM_FORMS": "50",
        "relations-TOTAL_FORMS": "0",
        "relations-INITIAL_FORMS": "0",
        "relations-MIN_NUM_FORMS": "0",
        "relations-MAX_NUM_FORMS": "50",
    }

    response = as_user(alice).post(reverse("claims:claim_create"), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert f'name="places" value="{kursk.pk}" checked> Kursk' in page
    assert 'value="Nowhere in particular"' in page
    assert "No place is named “Nowhere in particular”" in page


def test_the_source_form_takes_its_parent_by_name(as_user, alice):
    ministry = SourceFactory(name="Ministry of Defence")

    response = as_user(alice).post(
        reverse("sources:source_create"),
        {"name": "Press office", "kind": "agency", "parent": "ministry of defence"},
    )

    assert response.status_code == 302
    assert Source.objects.get(name="Press office").parent == ministry


# The pages do not grow with the tables ----------------------------------------------


def _grow(count: int) -> None:
    """Add sources (with documents) and places up to ``count`` of each."""
    have = Source.objects.count()
    for n in range(have, count):
        SourceFactory(name=f"Grown source {n:04d}")
    publisher = Source.objects.order_by("pk").first()
    Document.objects.bulk_create(
        [
            Document(title=f"Grown document {n:04d}", publisher=publisher)
            for n in range(Document.objects.count(), count)
        ]
    )
    places = range(Place.objects.count(), count)
    Place.objects.bulk_create([Place(name=f"Grown place {n:04d}") for n in places])


def _measure(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), len(response.content)


def test_pages_weigh_the_same_with_3_or_300_sources_documents_and_places(
    as_user, alice, bob
):
    own = ClaimFactory(logged_by=alice, statement="A claim with citations.")
    # On bob's claim alice gets the page's add-citation form.
    others = ClaimFactory(logged_by=bob, statement="Another claim.")
    for claim in (own, others, own, others):
        CitationFactory(claim=claim)
    _grow(3)
    client = as_user(alice)
    urls = [
        reverse("claims:claim_list"),
        reverse("claims:claim_list") + "?source=1&place=1&origin=1",
        reverse("claims:claim_detail", args=[others.pk]),
        reverse("claims:claim_create"),
        reverse("claims:claim_update", args=[own.pk]),
        reverse("sources:source_create"),
        reverse("sources:document_create"),
    ]
    assert 'name="cite-document"' in client.get(urls[2]).content.decode()
    for url in urls:
        client.get(url)  # warm caches (sessions, content types)
    small = {url: _measure(client, url) for url in urls}

    _grow(300)
    large = {url: _measure(client, url) for url in urls}

    for url in urls:
        (queries_small, size_small), (queries_large, size_large) = (
            small[url],
            large[url],
        )
        assert queries_large == queries_small, url
        # Numbers in the page (counts, ids) may gain a digit or two.
        assert abs(size_large - size_small) < 200, (url, size_small, size_large)
        page = client.get(url).content.decode()
        for grown in ("Grown source 0299", "Grown document 0299", "Grown place 0299"):
            assert grown not in page, (url, grown)
