"""The reliability report's stored aggregates stay equal to a fresh computation
through every kind of change, on both databases; the report reads them with a
bounded number of queries."""

import collections
import datetime as dt
import io
import random
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims import actions, imports
from claims.models import Citation, Claim
from sources import reliability
from sources.models import ReportDay, Source, SourceRecord, SourceSupport
from sources.reliability import Selection
from tests.factories import ClaimFactory, DocumentFactory, SourceFactory, TopicFactory

pytestmark = pytest.mark.django_db


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


NO_DRIFT = {"pairs": 0, "report days": 0, "records": 0, "intervals": 0}


def figures(records) -> list[tuple]:
    return sorted(
        (
            r.id,
            r.supported,
            r.confirmed,
            r.refuted,
            r.open,
            r.in_review,
            r.latest,
            r.firsts,
            r.median_lead,
            # Stored for the unfiltered report; computed for the others.
            r.interval,
            r.suggested,
        )
        for r in records
    )


def selections(world) -> list[Selection]:
    troops = world["troops"]
    year = {"period_from": day("2024-01-01"), "period_to": day("2024-12-31")}
    return [
        Selection(),
        Selection(by_origin=True),
        Selection(topic=troops),
        Selection(topic=troops, by_origin=True, **year),
        Selection(**year),
        Selection(period_from=day("2024-03-03")),
        Selection(period_to=day("2024-03-03"), by_origin=True),
        Selection(kind="media"),
        Selection(country="Ruritania", by_origin=True),
    ]


def assert_stored_equals_fresh(world, user) -> None:
    assert reliability.drift() == NO_DRIFT
    for selection in selections(world):
        stored = reliability.source_records(user, selection)
        fresh = reliability.fresh_source_records(user, selection)
        assert figures(stored) == figures(fresh), selection


@pytest.fixture
def world(alice):
    """A ministry (part of a government), an outlet, a wire; four claims on two
    topics; every citation goes through claims.actions."""
    troops, money = TopicFactory(name="Troops"), TopicFactory(name="Money")
    gov = SourceFactory(name="Government", kind="government", country="Ruritania")
    ministry = SourceFactory(name="Ministry", parent=gov, country="Ruritania")
    outlet = SourceFactory(name="Outlet", kind="media", country="Freedonia")
    wire = SourceFactory(name="Wire", kind="media")
    claims = [
        ClaimFactory(statement=f"Claim {n}.", logged_by=alice, topic=topic)
        for n, topic in enumerate((troops, troops, money, troops))
    ]
    Claim.objects.filter(pk=claims[3].pk).update(
        time_start=day("2023-06-01"), time_end=day("2023-06-30")
    )
    return {
        "troops": troops,
        "money": money,
        "gov": gov,
        "ministry": ministry,
        "outlet": outlet,
        "wire": wire,
        "claims": claims,
    }


def cite(alice, claim, source, said_on, supports=True, published_on=None):
    document = DocumentFactory(publisher=source, published_on=published_on)
    citation = Citation(
        claim=claim,
        source=source,
        document=document,
        excerpt=f"{source.name} on {claim.statement}",
        credibility=3,
        said_on=day(said_on) if said_on else None,
        supports=supports,
        created_by=alice,
    )
    actions.add_citation(alice, citation)
    return Citation.objects.get(claim=claim, source=source, document=document)


def test_the_stored_aggregates_follow_every_change(world, alice, rita, max_):
    claims, gov, ministry = world["claims"], world["gov"], world["ministry"]
    outlet, wire = world["outlet"], world["wire"]
    assert SourceSupport.objects.count() == 0

    cite(alice, claims[0], ministry, "2024-03-01")
    cite(alice, claims[0], outlet, "2024-03-04")
    cite(alice, claims[0], gov, "2024-03-10")
    late = cite(alice, claims[1], outlet, "2024-05-01")
    cite(alice, claims[1], wire, None, published_on=day("2024-04-20"))
    cite(alice, claims[2], wire, "2024-02-02")
    cite(alice, claims[2], outlet, "2024-02-02")  # tied first reports
    cite(alice, claims[3], ministry, "2024-07-07")
    denial = cite(alice, claims[3], outlet, "2024-07-08", supports=False)
    assert SourceSupport.objects.exists()
    assert_stored_equals_fresh(world, max_)

    # Rulings: submitted, confirmed, refuted, sent back, reopened.
    for claim in claims[:3]:
        actions.submit_claim(alice, claim)
    assert_stored_equals_fresh(world, max_)
    actions.rule_claim(
        rita, claims[0], "confirmed", "Two independent origins agree on it."
    )
    actions.rule_claim(
        rita, claims[1], "confirmed", "It was seen on satellite imagery."
    )
    actions.rule_claim(
        rita, claims[2], "refuted", "It was denied with convincing proof."
    )
    assert_stored_equals_fresh(world, max_)
    outlet_row = SourceRecord.objects.get(subject=outlet, by_origin=False)
    assert (outlet_row.confirmed, outlet_row.refuted, outlet_row.firsts) == (2, 1, 0)
    actions.reopen_claim(rita, claims[2], "New evidence came in about it.")
    assert_stored_equals_fresh(world, max_)
    actions.submit_claim(alice, claims[3])
    actions.rule_claim(rita, claims[3], "sent_back", "It needs a second source first.")
    assert_stored_equals_fresh(world, max_)

    # Citations edited and removed: the outlet now reported claim 1 first.
    late.said_on = day("2024-04-01")
    actions.update_citation(alice, late)
    assert_stored_equals_fresh(world, max_)
    assert SourceRecord.objects.get(subject=outlet, by_origin=False).firsts == 1
    denial.supports = True
    actions.update_citation(alice, denial)
    assert_stored_equals_fresh(world, max_)
    actions.delete_citation(alice, late)
    assert_stored_equals_fresh(world, max_)

    # A grade change, a document's date, a claim's topic and time.
    actions.change_grade(max_, wire, "B", "A better record over the last year.")
    document = wire.documents.get(published_on=day("2024-04-20"))
    document.published_on = day("2024-03-30")
    actions.save_document(alice, document)
    assert_stored_equals_fresh(world, max_)
    claim = Claim.objects.get(pk=claims[2].pk)
    claim.topic = world["troops"]
    claim.time_start, claim.time_end = day("2024-01-01"), day("2024-01-31")
    actions.save_claim(alice, claim)
    assert_stored_equals_fresh(world, max_)

    # "Part of" moved: the ministry leaves the government, then joins the wire.
    ministry = Source.objects.get(pk=ministry.pk)
    ministry.parent = None
    actions.save_source(max_, ministry)
    assert_stored_equals_fresh(world, max_)
    assert SourceRecord.objects.filter(subject=ministry, by_origin=True).exists()
    ministry.parent = wire
    actions.save_source(max_, ministry)
    assert_stored_equals_fresh(world, max_)
    assert not SourceRecord.objects.filter(subject=ministry, by_origin=True).exists()

    # A rename changes the wording of explanations only: the stored rows skip
    # it and stay true.
    wire = Source.objects.get(pk=wire.pk)
    wire.name = "The Wire, renamed"
    actions.save_source(max_, wire)
    assert_stored_equals_fresh(world, max_)

    # A claim deleted with its citations.
    extra = ClaimFactory(logged_by=alice, topic=world["money"])
    cite(alice, extra, outlet, "2024-09-09")
    assert SourceRecord.objects.get(subject=outlet, by_origin=False).latest == (
        day("2024-09-09")
    )
    actions.delete_claim(max_, extra)
    assert_stored_equals_fresh(world, max_)
    assert not SourceSupport.objects.filter(claim_id=extra.pk).exists()
    assert SourceRecord.objects.get(subject=outlet, by_origin=False).latest < (
        day("2024-09-09")
    )


def test_an_import_stores_its_claims_support(world, alice, max_):
    text = (
        b"external_id,statement,topic,citation1_source,citation1_document_title,"
        b"citation1_document_publisher,citation1_excerpt,citation1_credibility,"
        b"citation1_said_on\n"
        b"x1,Troops moved by sea.,Troops,Wire,Wire report,Wire,Troops moved.,2,"
        b"2024-06-01\n"
        b"x2,A new outlet says so.,Money,Brand New Outlet,Its report,"
        b"Brand New Outlet,It says so.,3,2024-06-02\n"
    )
    parsed = imports.read_file(io.BytesIO(text), "claims.csv", len(text))
    report = imports.Importer(alice, trusted=True, may_grade=True).run(parsed)
    assert not report.problems, report.problems
    assert SourceSupport.objects.filter(claim__external_id="x2").count() == 2
    assert_stored_equals_fresh(world, max_)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="ANALYZE of a PostgreSQL temporary table"
)
@pytest.mark.parametrize("analyze_from, analyzed", [(2, True), (3, False)])
def test_a_large_refresh_gives_its_temporary_table_statistics(
    world, alice, max_, monkeypatch, analyze_from, analyzed
):
    """Without statistics PostgreSQL joined an import's cited claims to every
    claim; a refresh of many claims analyzes its table first, and stores the
    same rows either way."""
    monkeypatch.setattr(reliability, "ANALYZE_FROM", analyze_from)
    claims = [claim.pk for claim in world["claims"][:2]]
    SourceSupport.objects.filter(claim_id__in=claims).delete()
    ReportDay.objects.filter(claim_id__in=claims).delete()
    with CaptureQueriesContext(connection) as queries:
        reliability.refresh(claims)
    ran = any(q["sql"] == "ANALYZE reliability_cited" for q in queries)
    assert ran is analyzed
    assert_stored_equals_fresh(world, max_)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's plans and statistics"
)
def test_a_small_refresh_is_planned_once_for_the_few_rows_it_holds(
    world, alice, max_, monkeypatch
):
    """A logged claim's refresh runs statements planned once (generic plans)
    against temporary tables analyzed empty, whatever a large refresh analyzed
    them at before: without statistics PostgreSQL assumed hundreds of rows and
    read whole tables to join them, and it planned the statements with
    parameters afresh at every execution."""
    claims = [claim.pk for claim in world["claims"][:2]]

    def statistics() -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = ANY("
                "SELECT to_regclass('pg_temp.' || name) FROM unnest(%s) AS name)",
                [list(reliability.TEMPORARY)],
            )
            return sorted(tuples for (tuples,) in cursor.fetchall())

    # Made by a small refresh...
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(reliability.TEMPORARY)}")
    SourceSupport.objects.filter(claim_id=claims[0]).delete()
    reliability.refresh(claims[:1])
    assert statistics() == [0, 0, 0]
    # ... then filled and analyzed by a large one.
    monkeypatch.setattr(reliability, "ANALYZE_FROM", 2)
    SourceSupport.objects.filter(claim_id__in=claims).delete()
    reliability.refresh(claims)
    assert statistics() == [0, 0, 0]
    monkeypatch.setattr(reliability, "ANALYZE_FROM", 1000)
    for _ in range(3):
        for claim in claims:
            SourceSupport.objects.filter(claim_id=claim).delete()
            reliability.refresh([claim])
    assert statistics() == [0, 0, 0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'reliability\\_%%'"
        )
        plans = cursor.fetchall()
    assert plans
    assert all(custom == 0 for _, custom in plans), plans
    assert_stored_equals_fresh(world, max_)


def test_the_check_command_finds_drift_and_the_rebuild_repairs_it(world, alice):
    cite(alice, world["claims"][0], world["outlet"], "2024-03-04")
    call_command("rebuild_reliability", "--check")
    SourceSupport.objects.update(last_day=day("2020-01-01"))
    ReportDay.objects.all().delete()
    with pytest.raises(CommandError, match="drift"):
        call_command("rebuild_reliability", "--check")
    call_command("rebuild_reliability")
    call_command("rebuild_reliability", "--check")
    assert reliability.drift() == NO_DRIFT
    # A stored interval or suggested grade that its rulings do not give.
    SourceRecord.objects.update(suggested="A", high=0.5)
    assert reliability.drift()["intervals"] == SourceRecord.objects.count() > 0
    with pytest.raises(CommandError, match="drift"):
        call_command("rebuild_reliability", "--check")
    call_command("rebuild_reliability")
    assert reliability.drift() == NO_DRIFT


def test_a_reader_who_sees_no_claims_gets_no_rows(world, alice, nora):
    cite(alice, world["claims"][0], world["outlet"], "2024-03-04")
    assert reliability.source_records(nora, Selection()) == []
    assert reliability.source_records(nora, Selection(topic=world["troops"])) == []


@pytest.mark.parametrize(
    "params",
    [{}, {"by": "origin"}, {"topic": "troops", "period_from": "2024-01-01"}],
)
def test_the_report_reads_the_stored_rows_not_the_citations(
    world, alice, as_user, max_, params
):
    cite(alice, world["claims"][0], world["outlet"], "2024-03-04")
    if "topic" in params:
        params = {**params, "topic": world["troops"].pk}
    with CaptureQueriesContext(connection) as queries:
        response = as_user(max_).get(reverse("sources:reliability_report"), params)
    assert response.status_code == 200
    assert [r.name for r in response.context["rows"]] == ["Outlet"]
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "sources_sourcerecord" in sql or "sources_sourcesupport" in sql
    assert "claims_citation" not in sql


def test_the_filters_show_their_chosen_values(world, as_user, max_):
    troops = world["troops"]
    html = (
        as_user(max_)
        .get(
            reverse("sources:reliability_report"),
            {"topic": troops.pk, "kind": "media", "country": "Atlantis"},
        )
        .content.decode()
    )
    assert f'<option value="{troops.pk}" selected>Troops</option>' in html
    assert '<option value="media" selected>media outlet</option>' in html
    # The refused country: its select is marked invalid (attributes in any order).
    country = re.search(r'<select name="country"[^>]*>', html).group(0)
    assert 'id="id_country"' in country
    assert 'aria-invalid="true"' in country


@pytest.mark.parametrize("by_origin", [False, True])
def test_the_database_sorts_stored_records_as_python_sorts_records(
    world, alice, max_, by_origin
):
    """The unfiltered report is sorted and paged by SQL (stored_order), the
    filtered one by sort_records: every column, both ways, gives one order,
    ties (equal counts, blank countries, no leads) included."""
    rng = random.Random(8)
    names = ["alpha", "Alpha Two", "BRAVO", "bravo two", "Charlie", "delta"]
    kinds = ["media", "person", "agency", "sensor", "media", "unnamed"]
    countries = ["", "Ruritania", "freedonia", "", "Freedonia", ""]
    sources = [world["gov"], world["ministry"], world["outlet"], world["wire"]]
    for index, (name, kind, country) in enumerate(
        zip(names, kinds, countries, strict=True)
    ):
        parent = world["gov"] if index % 3 == 0 else None
        grade = "ABCDEF"[index]
        sources.append(
            SourceFactory(
                name=name, kind=kind, country=country, parent=parent, grade=grade
            )
        )
    statuses = (
        [Claim.Status.CONFIRMED] * 5
        + [Claim.Status.REFUTED] * 2
        + [
            Claim.Status.OPEN,
            Claim.Status.IN_REVIEW,
        ]
    )
    claims = [
        ClaimFactory(statement=f"Sorted {n}.", logged_by=alice) for n in range(50)
    ]
    for claim in claims:
        for source in rng.sample(sources, rng.randint(1, 4)):
            said = rng.choice([None, "2024-01-05", "2024-02-10", "2024-02-10"])
            cite(alice, claim, source, said)
        Claim.objects.filter(pk=claim.pk).update(status=rng.choice(statuses))
    reliability.rebuild()
    selection = Selection(by_origin=by_origin)
    fresh = reliability.fresh_source_records(max_, selection)
    # One judged source whose grade its record bears out (grades are read, not
    # stored with the record).
    words = collections.Counter(r.agreement for r in fresh)
    judged = next(r for r in fresh if r.mismatch and words[r.agreement] > 1)
    Source.objects.filter(pk=judged.id).update(grade=judged.suggested)
    fresh = reliability.fresh_source_records(max_, selection)
    assert len(fresh) > 5
    for ordering, _ in reliability.ORDERING_CHOICES:
        stored = reliability.StoredRecords(
            reliability.stored_order(max_, selection, ordering)
        )
        expected = [r.id for r in reliability.sort_records(fresh, ordering)]
        assert [r.id for r in stored] == expected, ordering
        # A page is the same slice of that order.
        assert [r.id for r in stored[2:5]] == expected[2:5], ordering
    assert len(stored) == len(fresh)
    # The data reaches every word of "Record vs grade".
    assert {r.agreement for r in fresh} == set(reliability.AGREEMENT_ORDER)


def test_remembered_sums_never_outlive_their_pairs(world, alice, max_):
    """The filtered report remembers its sums per version of the stored pairs:
    a rolled-back change, then a committed one, each read the right sums."""
    claims, outlet, wire = world["claims"], world["outlet"], world["wire"]
    topic = Selection(topic=world["troops"])

    def supported() -> dict[str, int]:
        stored = reliability.source_records(max_, topic)
        fresh = reliability.fresh_source_records(max_, topic)
        assert figures(stored) == figures(fresh)
        return {Source.objects.get(pk=r.id).name: r.supported for r in stored}

    cite(alice, claims[0], outlet, "2024-03-04")
    assert supported() == {"Outlet": 1}
    assert supported() == {"Outlet": 1}  # read again: remembered
    with pytest.raises(RuntimeError), transaction.atomic():
        cite(alice, claims[1], wire, "2024-03-05")
        assert supported() == {"Outlet": 1, "Wire": 1}
        raise RuntimeError("roll back")
    assert supported() == {"Outlet": 1}
    cite(alice, claims[1], outlet, "2024-03-06")
    assert supported() == {"Outlet": 2}


def test_remembered_records_are_the_sorted_records(world, alice, max_):
    """The filtered report's rows come from a memory of built and sorted
    records: for every filtered selection and every order they equal the
    records sorted afresh, read cold and read again."""
    claims = world["claims"]
    cite(alice, claims[0], world["outlet"], "2024-03-04")
    cite(alice, claims[0], world["ministry"], "2024-03-05")
    cite(alice, claims[1], world["wire"], "2024-03-06", supports=False)
    cite(alice, claims[3], world["outlet"], "2023-06-02")
    filtered = [s for s in selections(world) if s.topic or s.period_from or s.period_to]
    for selection in filtered:
        for ordering, _ in reliability.ORDERING_CHOICES:
            expected = reliability.sort_records(
                reliability.source_records(max_, selection), ordering
            )
            for _read in range(2):
                rows = reliability.report_rows(max_, selection, ordering)
                assert isinstance(rows, reliability.SharedRecords)
                assert list(rows) == expected, (selection, ordering)
                assert rows[1:3] == expected[1:3]


def test_remembered_records_follow_their_sources_and_pairs(world, alice, max_):
    """A remembered entry never shows a source as it was: a renamed or regraded
    source, a new citation and a rolled-back one each read what is stored now,
    and the links one page sets are not in the next read."""
    claims, outlet, wire = world["claims"], world["outlet"], world["wire"]
    topic = Selection(topic=world["troops"])
    cite(alice, claims[0], outlet, "2024-03-04")

    def shown() -> list[tuple]:
        rows = reliability.report_rows(max_, topic, "name")
        # As a page reads them: a slice.
        return [(r.name, r.grade, r.supported, r.links) for r in rows[0 : len(rows)]]

    assert shown() == [("Outlet", outlet.grade, 1, {})]
    page = reliability.report_rows(max_, topic, "name")[0:1]
    page[0].links = {"supported": "/claims/?source=1"}
    assert shown() == [("Outlet", outlet.grade, 1, {})]
    Source.objects.filter(pk=outlet.pk).update(name="Outlet (renamed)", grade="E")
    assert shown() == [("Outlet (renamed)", "E", 1, {})]
    with pytest.raises(RuntimeError), transaction.atomic():
        cite(alice, claims[1], wire, "2024-03-05")
        assert [row[0] for row in shown()] == ["Outlet (renamed)", "Wire"]
        raise RuntimeError("roll back")
    assert shown() == [("Outlet (renamed)", "E", 1, {})]
    cite(alice, claims[1], outlet, "2024-03-06")
    assert shown() == [("Outlet (renamed)", "E", 2, {})]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL makes the subjects' digest"
)
def test_a_remembered_report_reads_the_subjects_digest_not_their_rows(
    world, alice, max_
):
    """Read again, a remembered report asks the database for one digest of its
    subjects rather than reading every subject's row to compare them: at ten
    thousand sources those rows cost each request its CPU and the worker's
    heap the objects made and freed."""
    cite(alice, world["claims"][0], world["outlet"], "2024-03-04")
    topic = Selection(topic=world["troops"])
    first = list(reliability.report_rows(max_, topic, "name"))
    with CaptureQueriesContext(connection) as queries:
        again = list(reliability.report_rows(max_, topic, "name"))
    assert again == first
    reads = [q["sql"] for q in queries if '"sources_source"."name"' in q["sql"]]
    assert reads, "the subjects were not looked at"
    assert all("sha256" in sql for sql in reads), reads


def test_a_report_built_while_a_source_changes_is_not_remembered(
    world, alice, max_, monkeypatch
):
    """The memory is keyed by the subjects' digest read before the records are
    built. A source renamed between that digest and the read of the subjects
    leaves nothing remembered: else the entry would hold the new name under
    the old digest, and show it once the name was changed back."""
    outlet = world["outlet"]
    cite(alice, world["claims"][0], outlet, "2024-03-04")
    topic = Selection(topic=world["troops"])
    reliability.RECORDS_MEMORY.clear()
    read_subjects = reliability._subjects

    def renamed_meanwhile(user, selection):
        Source.objects.filter(pk=outlet.pk).update(name="Outlet (renamed)")
        return read_subjects(user, selection)

    monkeypatch.setattr(reliability, "_subjects", renamed_meanwhile)
    assert [r.name for r in reliability.report_rows(max_, topic, "name")] == [
        "Outlet (renamed)"
    ]
    assert not reliability.RECORDS_MEMORY.entries
    monkeypatch.setattr(reliability, "_subjects", read_subjects)
    Source.objects.filter(pk=outlet.pk).update(name="Outlet")
    assert [r.name for r in reliability.report_rows(max_, topic, "name")] == ["Outlet"]
    assert len(reliability.RECORDS_MEMORY.entries) == 1


def test_packed_sums_read_back_as_the_rows_they_were():
    """The remembered sums are kept as machine numbers; every row reads back as
    the database gave it: days as dates (or None), medians as floats (or
    None), the origin flag as a bool, by index, negative index and slice."""
    from decimal import Decimal

    rows = [
        (7, False, 12, 5, 2, 3, 2, dt.date(2024, 3, 4), 1, Decimal("2.5")),
        (9, True, 1, 0, 0, 1, 0, None, 0, None),
        (2**40, False, 10**9, 0, 10**9, 0, 0, "2023-06-02", 0, 0),
    ]
    packed = reliability.PackedSums(rows)
    expected = [
        (7, False, 12, 5, 2, 3, 2, dt.date(2024, 3, 4), 1, 2.5),
        (9, True, 1, 0, 0, 1, 0, None, 0, None),
        (2**40, False, 10**9, 0, 10**9, 0, 0, dt.date(2023, 6, 2), 0, 0.0),
    ]
    assert len(packed) == 3
    assert list(packed) == expected
    assert packed[-1] == expected[-1]
    assert packed[1:] == expected[1:]
    assert type(packed[0][1]) is bool and type(packed[0][9]) is float
    with pytest.raises(IndexError):
        packed[3]
    assert list(reliability.PackedSums([])) == []


@pytest.fixture
def roles_again(transactional_db):
    """The role groups a data migration made, which an earlier transactional
    test's flush may have emptied."""
    from django.apps import apps as django_apps

    from analysts.roles import ensure_roles

    ensure_roles(django_apps)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL keeps the temporary tables"
)
@pytest.mark.django_db(transaction=True)
def test_refreshes_reuse_their_temporary_tables_and_start_empty(
    roles_again, world, alice, max_, monkeypatch
):
    """On PostgreSQL a connection makes the refresh's temporary tables once:
    later refreshes create and drop nothing, each slice (in one transaction or
    the next) reads only its own claims' rows, and a commit empties them. A
    slice reading another's rows would store that claim's pairs twice, or
    remove them."""
    claims, outlet, wire = world["claims"], world["outlet"], world["wire"]
    with reliability.unaffected():  # cited, not yet refreshed
        cite(alice, claims[0], outlet, "2024-03-04")
        cite(alice, claims[1], wire, "2024-03-05")
        cite(alice, claims[2], outlet, "2024-03-06", supports=False)
    assert not SourceSupport.objects.exists()
    ids = [claim.pk for claim in claims]
    monkeypatch.setattr(reliability, "REFRESH_SLICE", 1)
    with CaptureQueriesContext(connection) as queries:
        with transaction.atomic():
            reliability.refresh(ids[:2])  # two slices in one transaction
        reliability.refresh(ids[2:])  # and the next transactions
        reliability.refresh(ids[:1])
    statements = [q["sql"] for q in queries]
    assert not any(s.startswith("DROP") for s in statements)
    # Made by the first refresh, unless an earlier test's made them already.
    made = [s for s in statements if s.startswith("CREATE TEMP TABLE")]
    assert len(made) <= len(reliability.TEMPORARY)
    # Two supporting citations, each a pair by source and one by origin.
    assert SourceSupport.objects.filter(claim_id__in=ids).count() == 4
    assert_stored_equals_fresh(world, max_)
    with connection.cursor() as cursor:
        for table in reliability.TEMPORARY:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            assert cursor.fetchone() == (0,), table


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements of PostgreSQL"
)
def test_a_small_refresh_prepares_its_statements_once_per_connection(
    world, alice, max_
):
    """A logged claim's refresh runs statements prepared on the connection: the
    next refresh prepares nothing and sends its statements in a few round
    trips, and stores what a fresh computation gives."""
    claims = world["claims"]
    cite(alice, claims[0], world["outlet"], "2024-03-04")
    with CaptureQueriesContext(connection) as queries:
        cite(alice, claims[1], world["wire"], "2024-03-05")
        reliability.refresh([claims[2].pk])
    statements = [q["sql"] for q in queries]
    assert not any(s.startswith("PREPARE") for s in statements)
    refreshes = [s for s in statements if "EXECUTE reliability_" in s]
    # The fills and the check; the writes when something changed (the citation).
    assert len(refreshes) == 3
    assert_stored_equals_fresh(world, max_)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL keeps the temporary tables"
)
def test_a_refresh_makes_again_what_its_connection_lost(world, alice, max_):
    """A rollback takes the temporary tables made in its transaction (not the
    statements prepared on them), and a connection pooler may hand over a
    server connection with neither: the next refresh makes what is missing."""
    cite(alice, world["claims"][0], world["outlet"], "2024-03-04")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(reliability.TEMPORARY)}")
    cite(alice, world["claims"][1], world["wire"], "2024-03-05")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    cite(alice, world["claims"][2], world["outlet"], "2024-03-06")
    for claim in world["claims"][1:3]:
        assert SourceSupport.objects.filter(claim=claim).exists()
    assert_stored_equals_fresh(world, max_)
