"""The copy of each claim's words that PostgreSQL searches (ClaimText), kept by
triggers, so that storing a confirmation rewrites no GIN index."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims import actions, imports
from claims.confirmation_store import recompute_claims
from claims.forms import lookup_claims
from claims.models import Claim, ClaimConfirmation, ClaimText
from tests.conftest import on_postgres
from tests.factories import ClaimFactory

pytestmark = pytest.mark.skipif(
    not on_postgres(),
    reason="ClaimText is kept by PostgreSQL triggers; SQLite searches claims_claim",
)


def copies() -> dict[int, tuple[str, str]]:
    return {
        text.claim_id: (text.statement, text.actors) for text in ClaimText.objects.all()
    }


def originals() -> dict[int, tuple[str, str]]:
    return {claim.pk: (claim.statement, claim.actors) for claim in Claim.objects.all()}


def row_version(claim: Claim) -> str:
    """Where the copy's row lies: any UPDATE of it, even to equal values, moves it
    (xmin would not tell within the test's one transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ctid::text FROM claims_claimtext WHERE claim_id = %s", [claim.pk]
        )
        return cursor.fetchone()[0]


def test_every_way_of_inserting_claims_copies_their_words(alice):
    ClaimFactory(statement="Created one by one.", actors="Navy")
    Claim.objects.bulk_create(
        [
            Claim(statement=f"Created in bulk ({n}).", actors="Army", logged_by=alice)
            for n in range(3)
        ]
    )
    imports.insert_objects(
        Claim,
        [
            Claim(statement=f"Copied in ({n}).", actors="Air force", logged_by=alice)
            for n in range(3)
        ],
    )

    assert len(originals()) == 7
    assert copies() == originals()


def test_editing_the_statement_or_actors_changes_the_copy(alice):
    claim = ClaimFactory(statement="Engineers arrived.", actors="Pacific Fleet")
    other = ClaimFactory(statement="Grain exports fell.")

    claim.statement = "Soldiers departed."
    actions.save_claim(alice, claim)
    assert copies() == originals()

    claim.actors = "Northern Fleet"
    claim.save()
    assert copies()[claim.pk] == ("Soldiers departed.", "Northern Fleet")

    Claim.objects.filter(pk=other.pk).update(statement="Grain exports rose.")
    assert copies() == originals()


def test_a_save_that_keeps_the_words_leaves_the_copy_alone(alice):
    claim = ClaimFactory(statement="Engineers arrived.")
    before = row_version(claim)

    claim.time_text = "early May 2024"
    actions.save_claim(alice, claim)
    claim.save()

    assert row_version(claim) == before


def test_deleting_a_claim_deletes_its_copy(alice):
    kept, doomed, also_doomed = ClaimFactory.create_batch(3)

    actions.delete_claim(alice, doomed)
    Claim.objects.filter(pk=also_doomed.pk).delete()

    assert list(copies()) == [kept.pk]


def test_storing_a_recomputed_confirmation_does_not_touch_the_copy(alice):
    claim = ClaimFactory(statement="Engineers arrived.")
    # A stored confirmation the evidence does not support, for the recomputation
    # to write back.
    Claim.objects.filter(pk=claim.pk).update(level="confirmed")
    ClaimConfirmation.objects.filter(claim=claim.pk).update(likelihood=0.99)
    before = row_version(claim)

    assert recompute_claims([claim.pk]) == 1

    claim.refresh_from_db()
    assert claim.level == "unsourced"
    assert row_version(claim) == before


def test_search_and_lookup_find_a_claim_by_its_edited_statement(alice, as_user):
    claim = ClaimFactory(statement="Engineers arrived in Kursk.")
    claim.statement = "Paratroopers landed near Kursk."
    actions.save_claim(alice, claim)

    def searched(words: str) -> list[int]:
        response = as_user(alice).get(reverse("claims:claim_list"), {"q": words})
        return [claim.pk for claim in response.context["page"].object_list]

    assert searched("paratroopers") == [claim.pk]
    assert searched("engineers") == []
    assert [found.pk for found in lookup_claims(alice, "paratroop")] == [claim.pk]
    assert lookup_claims(alice, "engineer") == []


def test_best_match_ranks_only_matches_that_pass_the_other_filters(alice, as_user):
    wanted = ClaimFactory(statement="Troops crossed the river.")
    other = ClaimFactory(statement="Troops, troops and more troops.")
    Claim.objects.filter(pk=other.pk).update(level="confirmed")

    response = as_user(alice).get(
        reverse("claims:claim_list"), {"q": "troops", "level": "unsourced"}
    )

    assert [claim.pk for claim in response.context["page"].object_list] == [wanted.pk]


def test_claims_carry_no_gin_index(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s "
            "AND indexdef ILIKE %s",
            ["claims_claim", "%USING gin%"],
        )
        on_claims = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s "
            "AND indexdef ILIKE %s ORDER BY indexname",
            ["claims_claimtext", "%USING gin%"],
        )
        on_copies = [row[0] for row in cursor.fetchall()]
    assert on_claims == []
    assert on_copies == ["claim_text_search_idx", "claim_text_statement_upper_trgm"]


def test_the_lookup_reads_words_through_the_trigram_index(alice):
    ClaimFactory(statement="Paratroopers landed near Kursk.")
    with CaptureQueriesContext(connection) as queries:
        assert len(lookup_claims(alice, "kursk landed")) == 1
    (sql,) = [query["sql"] for query in queries if "claims_claimtext" in query["sql"]]
    with connection.cursor() as cursor:
        # A test table is tiny: forbid the scans to see that the index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "claim_text_statement_upper_trgm" in plan
