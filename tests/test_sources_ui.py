"""The sources and documents pages, as analysts, reviewers and managers use them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analysts.models import AuditEntry
from claims.confirmation_store import recompute_claims
from claims.models import Claim
from sources.models import Document, GradeChange, Source
from tests.factories import (
    CitationFactory,
    DocumentFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Every claim the factories make brings its own analyst; Argon2 per user would
    # make the 30-row tests crawl.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def listed_names(response) -> list[str]:
    return [source.name for source in response.context["page_obj"]]


@pytest.fixture
def government(db) -> Source:
    return SourceFactory(name="Government of Ruritania", kind="government", grade="B")


@pytest.fixture
def ministry(government) -> Source:
    return SourceFactory(name="Ministry of Defence", parent=government, grade="C")


@pytest.fixture
def agency(ministry) -> Source:
    return SourceFactory(name="Intelligence Agency", parent=ministry, grade="C")


# --- access -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("sources:source_list", []),
        ("sources:source_detail", [1]),
        ("sources:source_create", []),
        ("sources:source_update", [1]),
        ("sources:document_list", []),
        ("sources:document_detail", [1]),
        ("sources:document_create", []),
        ("sources:document_update", [1]),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_grade_change_is_sent_to_sign_in(client, government):
    url = reverse("sources:source_grade", args=[government.pk])
    response = client.post(url, {"grade": "A", "rationale": "a b c d"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    government.refresh_from_db()
    assert government.grade == "B"


def test_nora_without_a_role_sees_nothing(as_user, nora, government):
    document = DocumentFactory(publisher=government)
    client = as_user(nora)
    assert listed_names(client.get(reverse("sources:source_list"))) == []
    assert not client.get(reverse("sources:document_list")).context["page_obj"]
    for name, pk in [
        ("sources:source_detail", government.pk),
        ("sources:source_update", government.pk),
        ("sources:document_detail", document.pk),
        ("sources:document_update", document.pk),
    ]:
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    assert client.get(reverse("sources:source_create")).status_code == 403
    assert client.get(reverse("sources:document_create")).status_code == 403


def test_rita_reads_but_may_not_create_or_edit(as_user, rita, government):
    document = DocumentFactory(publisher=government)
    client = as_user(rita)
    assert client.get(government.get_absolute_url()).status_code == 200
    assert client.get(document.get_absolute_url()).status_code == 200
    assert client.get(reverse("sources:source_create")).status_code == 403
    assert client.get(reverse("sources:document_create")).status_code == 403
    url = reverse("sources:source_update", args=[government.pk])
    assert client.get(url).status_code == 404
    url = reverse("sources:document_update", args=[document.pk])
    assert client.get(url).status_code == 404


def test_unknown_ids_are_404_not_500(as_user, alice):
    client = as_user(alice)
    assert client.get("/sources/987654/").status_code == 404
    assert client.get("/sources/documents/987654/").status_code == 404
    assert client.get("/sources/987654/edit/").status_code == 404
    assert client.get("/sources/99999999999999999999/").status_code == 404


# --- source list ---------------------------------------------------------------


def test_it_filters_sources_by_text_kind_grade_country_and_origin(
    as_user, rita, agency, government
):
    SourceFactory(name="Daily Courier", kind="media", grade="D", country="Ruritania")
    SourceFactory(
        name="Weather radar", kind="sensor", grade="A", description="A courier of data"
    )
    client = as_user(rita)
    url = reverse("sources:source_list")

    assert listed_names(client.get(url, {"q": "courier"})) == [
        "Daily Courier",
        "Weather radar",
    ]
    assert listed_names(client.get(url, {"kind": "media"})) == ["Daily Courier"]
    assert listed_names(client.get(url, {"grade": ["A", "B"]})) == [
        "Government of Ruritania",
        "Weather radar",
    ]
    assert listed_names(client.get(url, {"country": "rurit"})) == ["Daily Courier"]
    assert listed_names(client.get(url, {"origin": government.pk})) == [
        "Government of Ruritania",
        "Intelligence Agency",
        "Ministry of Defence",
    ]


def test_it_orders_sources_by_name_grade_and_citations(as_user, rita):
    quiet = SourceFactory(name="Alpha", grade="D")
    busy = SourceFactory(name="Bravo", grade="A")
    middling = SourceFactory(name="Charlie", grade="B")
    CitationFactory.create_batch(3, source=busy)
    CitationFactory(source=middling)
    client = as_user(rita)
    url = reverse("sources:source_list")
    names = [s.name for s in (quiet, busy, middling)]

    assert listed_names(client.get(url))[:3] == names
    assert listed_names(client.get(url, {"ordering": "-name"}))[-3:] == names[::-1]
    by_grade = listed_names(client.get(url, {"ordering": "grade"}))
    assert by_grade.index("Bravo") < by_grade.index("Charlie") < by_grade.index("Alpha")
    response = client.get(url, {"ordering": "-citations"})
    assert listed_names(response)[:2] == ["Bravo", "Charlie"]
    assert response.context["page_obj"][0].citation_count == 3


def test_a_bad_filter_value_is_ignored_with_an_error_not_a_500(as_user, rita):
    SourceFactory(name="Alpha")
    response = as_user(rita).get(
        reverse("sources:source_list"),
        {"grade": "Z", "origin": "nope", "ordering": "drop table", "page": "x"},
    )
    assert response.status_code == 200
    assert "Alpha" in listed_names(response)
    assert response.context["filter"].errors


def test_the_list_shows_grade_words_part_of_origin_and_citations(as_user, rita, agency):
    CitationFactory.create_batch(2, source=agency)
    response = as_user(rita).get(reverse("sources:source_list"))
    counts = {s.name: s.citation_count for s in response.context["page_obj"]}
    assert counts["Intelligence Agency"] == 2
    assert counts["Ministry of Defence"] == 0
    page = response.content.decode()
    assert "C – fairly reliable" in page
    assert "B – usually reliable" in page
    assert "Ministry of Defence</a>" in page
    assert "Government of Ruritania</a>" in page


def test_the_source_list_is_paginated_by_50(as_user, rita):
    SourceFactory.create_batch(55)
    client = as_user(rita)
    url = reverse("sources:source_list")
    assert len(client.get(url).context["page_obj"]) == 50
    assert len(client.get(url, {"page": 2}).context["page_obj"]) == 5


def make_sources(count: int) -> None:
    for _ in range(count):
        parent = SourceFactory()
        child = SourceFactory(parent=parent)
        CitationFactory(source=child)


def test_the_source_list_needs_the_same_queries_for_3_or_30_rows(as_user, rita):
    client = as_user(rita)
    url = reverse("sources:source_list") + "?ordering=-citations"
    make_sources(3)
    few = queries_for(client, url)
    make_sources(27)
    assert Source.objects.count() > 50
    assert queries_for(client, url) == few


# --- source detail -------------------------------------------------------------


def test_the_detail_shows_the_chain_parts_tree_and_grade_history(
    as_user, rita, max_, government, ministry, agency
):
    SourceFactory(name="Signals Directorate", parent=agency)
    SourceFactory(name="Press Office", parent=government)
    GradeChange.objects.create(
        source=ministry,
        old_grade="B",
        new_grade="C",
        rationale="Two statements later contradicted by imagery.",
        changed_by=max_,
    )
    client = as_user(rita)

    response = client.get(agency.get_absolute_url())
    assert [s.name for s in response.context["ancestors"]] == [
        "Ministry of Defence",
        "Government of Ruritania",
    ]

    response = client.get(government.get_absolute_url())
    tree = response.context["parts"]
    assert [p.source.name for p in tree] == ["Ministry of Defence", "Press Office"]
    assert [p.source.name for p in tree[0].children] == ["Intelligence Agency"]
    assert [p.source.name for p in tree[0].children[0].children] == [
        "Signals Directorate"
    ]
    page = response.content.decode()
    assert page.index("Ministry of Defence") < page.index("Signals Directorate")

    response = client.get(ministry.get_absolute_url())
    page = response.content.decode()
    assert "Two statements later contradicted by imagery." in page
    assert "by max" in page
    assert "Change grade" not in page  # rita is no manager


def test_the_detail_lists_citing_claims_with_badges_and_documents(
    as_user, rita, agency
):
    citation = CitationFactory(source=agency, supports=False)
    recompute_claims([citation.claim_id])
    DocumentFactory(publisher=agency, title="Weekly briefing")
    response = as_user(rita).get(agency.get_absolute_url())
    page = response.content.decode()
    claim = Claim.objects.get(pk=citation.claim_id)
    assert claim.get_absolute_url() in page
    assert f'class="badge level-{claim.level}"' in page
    assert f'class="badge likelihood-{claim.likelihood_term}"' in page
    assert f"{claim.get_confidence_display()} confidence" in page
    assert "denies" in page
    assert "Weekly briefing" in page


def test_the_detail_needs_the_same_queries_for_3_or_30_citing_claims(
    as_user, rita, ministry
):
    client = as_user(rita)
    url = ministry.get_absolute_url()
    CitationFactory.create_batch(3, source=ministry)
    DocumentFactory.create_batch(3, publisher=ministry)
    few = queries_for(client, url)
    CitationFactory.create_batch(27, source=ministry)
    DocumentFactory.create_batch(27, publisher=ministry)
    assert queries_for(client, url) == few


def test_html_in_names_and_descriptions_is_escaped(as_user, rita):
    source = SourceFactory(name=HOSTILE, description=HOSTILE)
    document = DocumentFactory(publisher=source, title=HOSTILE, text=HOSTILE)
    client = as_user(rita)
    for url in [
        reverse("sources:source_list"),
        source.get_absolute_url(),
        reverse("sources:document_list"),
        document.get_absolute_url(),
    ]:
        page = client.get(url).content.decode()
        assert HOSTILE not in page, url
        assert "&lt;script&gt;" in page, url


# --- creating and editing sources ------------------------------------------------


def test_alice_creates_a_source_graded_f_whatever_she_posts(as_user, alice, ministry):
    response = as_user(alice).post(
        reverse("sources:source_create"),
        {
            "name": "Border Guard Service",
            "kind": "agency",
            "country": "Ruritania",
            "parent": ministry.pk,
            "description": "Patrols the northern border.",
            "grade": "A",
        },
    )
    source = Source.objects.get(name="Border Guard Service")
    assert response.status_code == 302
    assert response["Location"] == source.get_absolute_url()
    assert source.grade == "F"
    assert source.parent == ministry
    assert source.origin == ministry.parent
    assert AuditEntry.objects.filter(
        model="sources.source", object_id=str(source.pk), action="create"
    ).exists()


def test_alice_cannot_regrade_a_source_by_editing_it(as_user, alice, ministry):
    url = reverse("sources:source_update", args=[ministry.pk])
    response = as_user(alice).post(
        url, {"name": "Ministry of Defence", "kind": "agency", "grade": "A"}
    )
    assert response.status_code == 302
    ministry.refresh_from_db()
    assert ministry.grade == "C"
    assert ministry.parent is None  # the posted form left "part of" empty


def test_a_source_cannot_be_part_of_itself(as_user, alice, government, agency):
    client = as_user(alice)
    url = reverse("sources:source_update", args=[government.pk])
    data = {"name": government.name, "kind": "government", "parent": agency.pk}
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors["parent"]
    assert "a source cannot be part of itself through a chain" in errors[0]
    assert "cannot be part of itself" in response.content.decode()

    data["parent"] = government.pk
    response = client.post(url, data)
    assert response.context["form"].errors["parent"] == [
        "A source cannot be part of itself."
    ]
    government.refresh_from_db()
    assert government.parent is None


def test_the_source_form_keeps_what_was_typed_on_an_error(as_user, alice, government):
    response = as_user(alice).post(
        reverse("sources:source_create"),
        {"name": government.name, "kind": "agency", "description": "Kept text here"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert "Kept text here" in response.content.decode()


def test_huge_text_is_a_form_error_not_a_500(as_user, alice):
    response = as_user(alice).post(
        reverse("sources:source_create"),
        {"name": "x" * 5000, "kind": "agency", "description": "y" * 100_000},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "description"}
    assert not Source.objects.exists()


def test_a_changed_part_of_moves_the_lineage_to_the_new_origin(
    as_user, alice, ministry, agency
):
    other = SourceFactory(name="Other state", kind="government")
    url = reverse("sources:source_update", args=[ministry.pk])
    data = {"name": ministry.name, "kind": "agency", "parent": other.pk}
    assert as_user(alice).post(url, data).status_code == 302
    agency.refresh_from_db()
    assert agency.origin == other


# --- grades ----------------------------------------------------------------------


def test_max_changes_a_grade_and_dependent_claims_are_recomputed(
    as_user, max_, ministry
):
    citation = CitationFactory(source=ministry, credibility=2)
    recompute_claims([citation.claim_id])
    claim = Claim.objects.get(pk=citation.claim_id)
    before = claim.likelihood

    response = as_user(max_).post(
        reverse("sources:source_grade", args=[ministry.pk]),
        {"grade": "E", "rationale": "Three statements shown false by imagery."},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == ministry.get_absolute_url()
    assert "Grade changed from C to E; 1 claim recomputed." in (
        response.content.decode()
    )
    ministry.refresh_from_db()
    assert ministry.grade == "E"
    change = ministry.grade_changes.get()
    assert (change.old_grade, change.new_grade, change.changed_by) == ("C", "E", max_)
    assert change.rationale == "Three statements shown false by imagery."
    assert AuditEntry.objects.filter(
        model="sources.source",
        object_id=str(ministry.pk),
        action="update",
        note=change.rationale,
    ).exists()
    claim.refresh_from_db()
    assert claim.likelihood != before


def test_an_empty_rationale_is_refused_on_the_source_page(as_user, max_, ministry):
    client = as_user(max_)
    url = reverse("sources:source_grade", args=[ministry.pk])
    for rationale in ["", "   ", "bad"]:
        response = client.post(url, {"grade": "A", "rationale": rationale})
        assert response.status_code == 200
        assert response.templates[0].name == "sources/source_detail.html"
        assert response.context["grade_form"].errors["rationale"]
    ministry.refresh_from_db()
    assert ministry.grade == "C"
    assert not ministry.grade_changes.exists()


def test_the_same_grade_again_is_refused(as_user, max_, ministry):
    url = reverse("sources:source_grade", args=[ministry.pk])
    response = as_user(max_).post(url, {"grade": "C", "rationale": "No real change."})
    assert response.context["grade_form"].errors["grade"]
    assert not ministry.grade_changes.exists()


@pytest.mark.parametrize("who", ["alice", "rita", "nora"])
def test_only_managers_change_grades(request, as_user, who, ministry):
    client = as_user(request.getfixturevalue(who))
    url = reverse("sources:source_grade", args=[ministry.pk])
    response = client.post(url, {"grade": "A", "rationale": "Because I say so."})
    assert response.status_code == 403
    ministry.refresh_from_db()
    assert ministry.grade == "C"


def test_the_grade_url_takes_only_post(as_user, max_, ministry):
    url = reverse("sources:source_grade", args=[ministry.pk])
    assert as_user(max_).get(url).status_code == 405


def test_managers_see_the_change_grade_form(as_user, max_, ada, ministry):
    assert (
        "Change grade"
        in as_user(max_).get(ministry.get_absolute_url()).content.decode()
    )
    assert (
        "Change grade" in as_user(ada).get(ministry.get_absolute_url()).content.decode()
    )


# --- documents ---------------------------------------------------------------------


def test_it_filters_and_orders_documents(as_user, rita, government, ministry):
    DocumentFactory(
        title="Statement on exercises",
        publisher=government,
        kind="statement",
        published_on="2024-10-08",
        url="https://gov.example/exercises",
    )
    DocumentFactory(
        title="Annual report",
        publisher=ministry,
        kind="report",
        published_on="2023-12-31",
        retracted=True,
    )
    DocumentFactory(title="Undated post", publisher=ministry, kind="post")
    client = as_user(rita)
    url = reverse("sources:document_list")

    def titles(params):
        return [d.title for d in client.get(url, params).context["page_obj"]]

    assert titles({}) == ["Statement on exercises", "Annual report", "Undated post"]
    assert titles({"ordering": "date"}) == [
        "Annual report",
        "Statement on exercises",
        "Undated post",
    ]
    assert titles({"q": "gov.example"}) == ["Statement on exercises"]
    assert titles({"kind": "report"}) == ["Annual report"]
    assert titles({"publisher": ministry.pk, "ordering": "title"}) == [
        "Annual report",
        "Undated post",
    ]
    assert titles({"retracted": "true"}) == ["Annual report"]
    assert titles({"published_from": "2024-01-01"}) == ["Statement on exercises"]
    assert titles({"published_to": "2024-01-01"}) == ["Annual report"]
    assert titles({"ordering": "title"}) == [
        "Annual report",
        "Statement on exercises",
        "Undated post",
    ]


def test_the_document_list_needs_the_same_queries_for_3_or_30_rows(as_user, rita):
    client = as_user(rita)
    url = reverse("sources:document_list")
    CitationFactory.create_batch(3)
    few = queries_for(client, url)
    CitationFactory.create_batch(27)
    assert queries_for(client, url) == few


def test_the_document_detail_needs_the_same_queries_for_3_or_30_citations(
    as_user, rita
):
    document = DocumentFactory()
    client = as_user(rita)
    CitationFactory.create_batch(3, document=document)
    few = queries_for(client, document.get_absolute_url())
    CitationFactory.create_batch(27, document=document)
    assert queries_for(client, document.get_absolute_url()) == few


def test_the_document_detail_shows_its_citations(as_user, rita, agency):
    citation = CitationFactory(
        source=agency, excerpt="About 1,500 soldiers\nwere moved.", credibility=2
    )
    response = as_user(rita).get(citation.document.get_absolute_url())
    page = response.content.decode()
    assert citation.claim.get_absolute_url() in page
    assert agency.get_absolute_url() in page
    assert "About 1,500 soldiers\nwere moved." in page
    assert "2 – probably true" in page
    assert "supports" in page


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)"])
def test_a_javascript_url_is_never_a_link(as_user, rita, url):
    document = DocumentFactory(url=url, archived_copy="data:text/html,<b>x</b>")
    page = as_user(rita).get(document.get_absolute_url()).content.decode()
    assert 'href="javascript' not in page.lower()
    assert 'href=" javascript' not in page.lower()
    assert 'href="data:' not in page
    assert "javascript:alert(1)" in page.lower()  # shown as text


def test_a_web_url_is_a_link(as_user, rita):
    document = DocumentFactory(url="https://example.org/a?b=1&c=2")
    page = as_user(rita).get(document.get_absolute_url()).content.decode()
    assert 'href="https://example.org/a?b=1&amp;c=2"' in page


def test_alice_creates_and_edits_a_document(as_user, alice, ministry):
    client = as_user(alice)
    data = {
        "title": "Press briefing, 8 October",
        "publisher": ministry.pk,
        "published_on": "2024-10-08",
        "kind": "briefing",
        "url": "https://mod.example/briefing",
        "text": "Line one.\n<b>Line two.</b>",
    }
    response = client.post(reverse("sources:document_create"), data)
    document = Document.objects.get(title="Press briefing, 8 October")
    assert response["Location"] == document.get_absolute_url()
    assert str(document.published_on) == "2024-10-08"

    page = client.get(document.get_absolute_url()).content.decode()
    assert "Line one.\n&lt;b&gt;Line two.&lt;/b&gt;" in page

    data["title"] = "Press briefing, 8 October 2024"
    url = reverse("sources:document_update", args=[document.pk])
    assert client.post(url, data).status_code == 302
    document.refresh_from_db()
    assert document.title == "Press briefing, 8 October 2024"


def test_a_javascript_url_is_refused_by_the_document_form(as_user, alice, ministry):
    response = as_user(alice).post(
        reverse("sources:document_create"),
        {"title": "T", "publisher": ministry.pk, "kind": "post", "url": "javascript:x"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["url"]


def test_retracting_a_document_recomputes_the_claims_citing_it(
    as_user, alice, ministry
):
    citation = CitationFactory(source=ministry, credibility=2)
    recompute_claims([citation.claim_id])
    claim = Claim.objects.get(pk=citation.claim_id)
    before = claim.likelihood
    document = citation.document
    data = {
        "title": document.title,
        "publisher": document.publisher_id,
        "kind": document.kind,
        "retracted": "on",
    }
    url = reverse("sources:document_update", args=[document.pk])
    response = as_user(alice).post(url, data, follow=True)
    assert "1 claim recomputed" in response.content.decode()
    claim.refresh_from_db()
    assert claim.likelihood != before


@pytest.mark.parametrize("who", ["rita", "max_"])
def test_only_analysts_add_documents(request, as_user, who):
    client = as_user(request.getfixturevalue(who))
    assert client.get(reverse("sources:document_create")).status_code == 403
