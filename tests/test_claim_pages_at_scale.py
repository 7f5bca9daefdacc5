"""The claim list and review queue at scale (issue 8): keyset pages in every
offered order, totals that never count a whole table, the indexed full-text
search, and the evidence counts stored with the confirmation."""

import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims import actions, filters, pagination
from claims.confirmation_store import drift
from claims.filters import ClaimFilter
from claims.models import Citation, Claim, ClaimConfirmation
from claims.pagination import keyset_page, ordered_keys
from claims.views import LIST_KEYS, QUEUE_ORDER
from sources.models import Document, Source
from tests.factories import ClaimFactory


def walk(queryset, keys) -> tuple[list[int], list[int]]:
    """Every row, following "next" links from the first page, then "previous"
    links back from the last page."""
    forward, pages, params = [], [], QueryDict()
    while True:
        page = keyset_page(queryset, keys, params, page_size=3)
        pages.append(page)
        forward.extend(claim.pk for claim in page.object_list)
        if not page.has_next:
            break
        params = QueryDict(page.next_query)
    backward = [claim.pk for claim in pages[-1].object_list]
    page = pages[-1]
    while page.has_previous:
        page = keyset_page(queryset, keys, QueryDict(page.previous_query), page_size=3)
        backward = [claim.pk for claim in page.object_list] + backward
    return forward, backward


@pytest.fixture
def awkward_claims(alice):
    """Ties in every key, empty event times and submissions, in review."""
    base = timezone.now().replace(microsecond=0)
    for i in range(11):
        claim = ClaimFactory(logged_by=alice, likelihood=[0.2, 0.5, 0.5, 0.9][i % 4])
        Claim.objects.filter(pk=claim.pk).update(
            updated_at=base - datetime.timedelta(hours=i // 3),
            time_start=None if i % 3 == 0 else datetime.date(2024, 1, 1 + i % 2),
            status=Claim.Status.IN_REVIEW,
            submitted_at=None if i % 4 == 0 else base - datetime.timedelta(days=i % 2),
        )


@pytest.mark.parametrize("ordering", sorted(LIST_KEYS))
def test_the_list_pages_through_every_row_once_in_every_order(awkward_claims, ordering):
    keys = LIST_KEYS[ordering]
    keys = ordered_keys(keys, id_descending=keys[-1].descending)
    claims = Claim.objects.all()
    expected = list(
        claims.order_by(*(key.order_by() for key in keys)).values_list("pk", flat=True)
    )
    forward, backward = walk(claims, keys)
    assert forward == expected
    assert backward == expected


@pytest.mark.parametrize("ordering", ["-likelihood", "likelihood"])
def test_the_likelihood_orders_join_the_confirmations_so_their_index_serves(
    awkward_claims, alice, as_user, ordering
):
    """The likelihood is the claim's ClaimConfirmation's: its page reads the
    confirmations by an inner join, which lets the database walk their
    (likelihood, claim) index in order; an outer join would sort every claim."""
    url = reverse("claims:claim_list")
    with CaptureQueriesContext(connection) as queries:
        response = as_user(alice).get(url, {"ordering": ordering})
    assert response.status_code == 200
    pages = [q["sql"] for q in queries if "LIMIT 51" in q["sql"]]
    assert len(pages) == 1
    assert 'INNER JOIN "claims_confirmation"' in pages[0]
    assert 'LEFT OUTER JOIN "claims_confirmation"' not in pages[0]


@pytest.mark.parametrize("ordering", ["-likelihood", "likelihood"])
def test_the_api_s_likelihood_orders_join_the_confirmations_too(
    awkward_claims, alice, as_user, ordering
):
    """The API sorts with the claim list's filter (StableOrderingFilter): the
    same inner join, and the same order as the list."""
    with CaptureQueriesContext(connection) as queries:
        response = as_user(alice).get("/api/v1/claims/", {"ordering": ordering})
    assert response.status_code == 200
    order = 'ORDER BY "claims_confirmation"."likelihood"'
    pages = [q["sql"] for q in queries if order in q["sql"]]
    assert len(pages) == 1
    assert 'INNER JOIN "claims_confirmation"' in pages[0]
    assert 'LEFT OUTER JOIN "claims_confirmation"' not in pages[0]
    listed = [row["id"] for row in response.json()["results"]]
    keys = LIST_KEYS[ordering]
    keys = ordered_keys(keys, id_descending=keys[-1].descending)
    expected = Claim.objects.order_by(*(key.order_by() for key in keys))
    assert listed == list(expected.values_list("pk", flat=True))


@pytest.mark.parametrize("sort", sorted(QUEUE_ORDER))
def test_the_queue_pages_through_every_claim_once_in_every_order(awkward_claims, sort):
    keys = QUEUE_ORDER[sort]
    keys = ordered_keys(keys[:-1], keys[-1].descending)
    queue = Claim.objects.awaiting_review().with_waiting_since()
    expected = list(
        queue.order_by(*(key.order_by() for key in keys)).values_list("pk", flat=True)
    )
    assert len(expected) == 11
    forward, backward = walk(queue, keys)
    assert forward == expected
    assert backward == expected


def test_the_queue_links_keep_the_sort_and_filters(awkward_claims, rita, as_user):
    client = as_user(rita)
    url = reverse("claims:review_queue")
    params = {"sort": "-likelihood", "kind": "reported_fact"}
    seen = []
    response = client.get(url, params)
    for _ in range(11):
        page = response.context["page"]
        seen.extend(claim.pk for claim in page.object_list)
        if not page.has_next:
            break
        assert page.next_query.startswith("sort=-likelihood&kind=reported_fact&after=")
        response = client.get(f"{url}?{page.next_query}")
    assert sorted(seen) == sorted(Claim.objects.values_list("pk", flat=True))


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def test_a_long_list_says_how_many_without_counting_them_all(
    awkward_claims, alice, as_user, monkeypatch
):
    monkeypatch.setattr(pagination, "PAGE_SIZE", 4)
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    client = as_user(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("claims:claim_list"))
    assert len(response.context["page"].object_list) == 4
    total = response.context["page"].total
    assert not total.exact
    if connection.vendor == "postgresql":
        # Above the cap, PostgreSQL's estimate stands in for a count.
        assert total.estimated
        assert re.search(r"About [\d,]+ claims .*\(an estimate\)", text_of(response))
    else:
        assert "More than 5 claims" in text_of(response)
    for query in queries:
        sql = query["sql"]
        if re.search(r'COUNT\(\*\).*FROM "claims_claim"', sql):
            assert "LIMIT" in sql, sql


@pytest.mark.parametrize("sort", sorted(QUEUE_ORDER))
def test_the_queue_counts_along_its_own_index(
    awkward_claims, rita, as_user, monkeypatch, sort
):
    """The queue page's count and the navigation's badge stop after their caps,
    walking the queue's partial index in its order (claim_queue_idx): without an
    order, PostgreSQL counted the badge by reading the claims table from its
    start until enough rows matched (a million-claim run showed the plan), a
    read of the whole table when the claims in review are the newest."""
    monkeypatch.setattr(pagination, "PAGE_SIZE", 4)
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    if connection.vendor == "postgresql":
        # Count, not estimate, so that the count's query is made.
        monkeypatch.setattr(pagination, "planner_estimate", lambda rows: 0)
    client = as_user(rita)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("claims:review_queue"), {"sort": sort})
    assert len(response.context["page"].object_list) == 4
    assert response.context["page"].total.number == 5
    counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)")]
    assert len(counts) == 2
    waiting = 'COALESCE("claims_claim"."submitted_at", "claims_claim"."created_at")'
    for cap, count in zip((6, 100), sorted(counts, key=len), strict=True):
        # The order by the expression, or by the first column when it is that.
        opening = "SELECT COUNT(*) FROM (SELECT "  # noqa: S608 - not a query
        selects_it_first = count.startswith(opening + waiting)
        by = "1" if selects_it_first else re.escape(waiting)
        assert re.search(rf"ORDER BY {by} ASC, .* LIMIT {cap}\)", count), count


def test_a_short_list_counts_exactly_at_no_cost(awkward_claims, alice, as_user):
    client = as_user(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("claims:claim_list"), {"level": "unsourced"})
    assert response.context["page"].total.number == 11
    assert response.context["page"].total.exact
    assert "11 claims match the filters" in text_of(response)
    assert not any("COUNT(" in query["sql"] for query in queries)


def test_the_level_filter_reads_no_distinct_rows(alice, rf):
    request = rf.get("/")
    request.user = alice
    filterset = ClaimFilter(
        {"level": ["unsourced", "contested"], "topic": ""},
        queryset=Claim.objects.all(),
        request=request,
    )
    assert filterset.is_valid()
    assert "DISTINCT" not in str(filterset.qs.query)


def test_search_filters_by_the_stored_vector_alone(alice, rf):
    request = rf.get("/")
    request.user = alice
    filterset = ClaimFilter(
        {"q": "troops", "ordering": "-updated_at"},
        queryset=Claim.objects.all(),
        request=request,
    )
    assert filterset.is_valid()
    sql = str(filterset.qs.query)
    if connection.vendor == "postgresql":
        assert 'FROM "claims_claimtext" U0 WHERE U0.search_vector @@' in sql
        assert "LIKE" not in sql
        assert "to_tsvector" not in sql
    else:
        assert "LIKE" in sql


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="ranking needs PostgreSQL full text"
)
def test_best_match_ranks_only_the_most_recent_matches(alice, as_user, monkeypatch):
    monkeypatch.setattr(filters, "SEARCH_RANK_LIMIT", 2)
    strong = ClaimFactory(statement="Troops, troops and more troops.")
    weak = [ClaimFactory(statement=f"Some troops moved ({i}).") for i in range(2)]
    ClaimFactory(statement="Grain exports fell.")
    response = as_user(alice).get(reverse("claims:claim_list"), {"q": "troops"})
    # The strongest match is the oldest: outside the two ranked, newest matches.
    listed = [claim.pk for claim in response.context["page"].object_list]
    assert sorted(listed) == sorted(claim.pk for claim in weak)
    assert strong.pk not in listed
    assert response.context["page"].total.number == 3
    assert "among the most recently changed matches" in text_of(response)
    # Any other order finds every match.
    response = as_user(alice).get(
        reverse("claims:claim_list"), {"q": "troops", "ordering": "-updated_at"}
    )
    assert len(response.context["page"].object_list) == 3
    # The export ranks every match.
    response = as_user(alice).get(reverse("claims:claim_export"), {"q": "troops"})
    rows = b"".join(response.streaming_content).decode().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows][0] == strong.pk
    assert len(rows) == 3


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the search vector is PostgreSQL's"
)
def test_the_database_keeps_the_search_vector_with_the_statement(alice):
    claim = ClaimFactory(statement="Engineers arrived.", actors="Pacific Fleet")
    claim.statement = "Soldiers departed."
    claim.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM claims_claimtext WHERE claim_id = %s",
            [claim.pk],
        )
        vector = cursor.fetchone()[0]
    assert "'soldier':1A" in vector
    assert "'fleet':4B" in vector
    assert "engin" not in vector


# Stored evidence counts ----------------------------------------------------------


def cite(alice, claim, source) -> Citation:
    document = Document(title=f"Report on {claim.pk}", publisher=source, kind="report")
    actions.save_document(alice, document)
    citation = Citation(
        claim=claim,
        document=document,
        source=source,
        excerpt=f"Said by {source.name}.",
        credibility=3,
        created_by=alice,
    )
    return actions.add_citation(alice, citation)


def test_the_evidence_counts_are_stored_with_the_confirmation(alice, max_, as_user):
    ministry = Source(name="Ministry", kind=Source.Kind.GOVERNMENT, grade="B")
    actions.save_source(max_, ministry)
    agency = Source(name="Agency", kind=Source.Kind.AGENCY, grade="B", parent=ministry)
    actions.save_source(max_, agency)
    outlet = Source(name="Outlet", kind=Source.Kind.AGENCY, grade="C")
    actions.save_source(max_, outlet)
    claim = actions.save_claim(
        alice, Claim(statement="A convoy crossed.", logged_by=alice)
    )
    cite(alice, claim, ministry)
    cite(alice, claim, agency)
    last = cite(alice, claim, outlet)

    claim.refresh_from_db()
    assert (claim.report_count, claim.origin_count) == (3, 2)
    response = as_user(alice).get(reverse("claims:claim_list"))
    assert 'title="3 reports from 2 distinct origins"' in response.content.decode()

    actions.delete_citation(alice, Citation.objects.get(pk=last.pk))
    claim.refresh_from_db()
    assert (claim.report_count, claim.origin_count) == (2, 1)
    assert drift() == []


def test_the_drift_check_compares_the_evidence_counts(alice):
    claim = actions.save_claim(alice, Claim(statement="Ships left.", logged_by=alice))
    ClaimConfirmation.objects.filter(claim=claim.pk).update(report_count=7)
    assert drift() == [(claim.pk, "report_count: stored 7, fresh 0")]
    with pytest.raises(CommandError):
        call_command("recompute_confirmation", "--check", stdout=StringIO())
    call_command("recompute_confirmation", stdout=StringIO())
    assert drift() == []


# The dashboard ---------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statistics are PostgreSQL's"
)
def test_a_large_archive_shows_counts_by_level_from_statistics(
    alice, as_user, monkeypatch
):
    from claims import views

    ClaimFactory.create_batch(3, level="corroborated", logged_by=alice)
    ClaimFactory(level="contested", logged_by=alice)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE claims_claim")
    monkeypatch.setattr(views, "EXACT_LEVEL_COUNTS_BELOW", 1)
    response = as_user(alice).get(reverse("claims:dashboard"))
    counts = {value: n for value, _label, n in response.context["level_counts"]}
    # ANALYZE read every row of so small a table: the estimate is exact here.
    assert counts["corroborated"] == 3
    assert counts["contested"] == 1
    assert not response.context["counts_exact"]
    assert "about 4 in all (the database's estimate)" in text_of(response)
