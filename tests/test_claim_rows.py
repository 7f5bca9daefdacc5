"""The list's and the queue's rows from Python equal the templates they replaced."""

import datetime
import gc
import weakref
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.template import Context, Engine
from django.test import override_settings
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.timesince import timesince
from hypothesis import given, settings
from hypothesis import strategies as st

from claims import review as rules
from claims.markup import time_since
from claims.models import Claim, ClaimConfirmation
from claims.templatetags.claim_rows import claim_rows, place_names, queue_rows
from tests.factories import ClaimFactory, PlaceFactory, TopicFactory
from tests.hostile import HOSTILE

REFERENCES = Path(__file__).parent / "reference"


def reference_rows(claims, name: str = "claim_row.html") -> str:
    template = Engine.get_default().from_string((REFERENCES / name).read_text())
    return "".join(template.render(Context({"claim": claim})) for claim in claims)


def listed(pks):
    return list(
        Claim.objects.with_list_data()
        .prefetch_related("places")
        .filter(pk__in=pks)
        .order_by("pk")
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_row_is_the_reference_rows_html_even_for_hostile_text(alice, hostile):
    topic = TopicFactory(name=hostile[:100])
    claim = ClaimFactory(
        logged_by=alice,
        statement=hostile,
        topic=topic,
        quantity_low=Decimal("1000"),
        quantity_high=Decimal("1500"),
        quantity_unit=hostile[:40],
        time_text=hostile[:100],
        status=Claim.Status.IN_REVIEW,
        needs_rereview=True,
    )
    claim.places.add(PlaceFactory(name=hostile[:100]), PlaceFactory(name="Kursk"))
    claims = listed([claim.pk])

    ours = claim_rows(claims)
    assert parse_html(ours) == parse_html(reference_rows(claims))
    assert "<script>" not in ours


def test_rows_of_every_shape_are_the_reference_rows_html(alice):
    shapes = [
        ClaimFactory(logged_by=alice, topic=None, status=status)
        for status in Claim.Status.values
    ]
    shapes.append(ClaimFactory(logged_by=alice, quantity_low=Decimal("5")))
    claims = listed([claim.pk for claim in shapes])

    assert parse_html(claim_rows(claims)) == parse_html(reference_rows(claims))


def test_the_list_page_shows_the_rows(as_user, alice):
    claim = ClaimFactory(logged_by=alice, statement="About 1,500 soldiers moved.")
    page = as_user(alice).get(reverse("claims:claim_list")).content.decode()
    assert f'<a class="statement-link" href="{claim.get_absolute_url()}">' in page
    assert "About 1,500 soldiers moved." in page


def queued(user, pks):
    claims = list(
        Claim.objects.with_list_data()
        .prefetch_related("places")
        .with_involvement(user)
        .with_waiting_since()
        .filter(pk__in=pks)
        .order_by("pk")
    )
    for claim in claims:
        claim.four_eyes = rules.involvement_reason(claim)
    return claims


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_queue_row_is_the_reference_rows_html_even_for_hostile_text(
    alice, rita, hostile
):
    mine = ClaimFactory(
        logged_by=rita,
        statement=hostile,
        topic=TopicFactory(name=hostile[:100]),
        status=Claim.Status.IN_REVIEW,
        submission_note=hostile * 3,
        time_text=hostile[:100],
    )
    flagged = ClaimFactory(
        logged_by=alice, status=Claim.Status.CONFIRMED, needs_rereview=True
    )
    flagged.places.add(PlaceFactory(name=hostile[:100]))
    claims = queued(rita, [mine.pk, flagged.pk])
    assert claims[0].four_eyes and not claims[1].four_eyes

    ours = queue_rows(claims)
    assert parse_html(ours) == parse_html(reference_rows(claims, "queue_row.html"))
    assert "<script>" not in ours


def test_the_queue_page_shows_its_rows(as_user, alice, rita):
    claim = ClaimFactory(
        logged_by=alice, status=Claim.Status.IN_REVIEW, statement="Troops moved."
    )
    page = as_user(rita).get(reverse("claims:review_queue")).content.decode()
    assert f'<a class="statement-link" href="{claim.get_absolute_url()}">' in page
    assert '<td class="col-four-eyes">Yes</td>' in page


@pytest.mark.parametrize(
    "note",
    [
        "x" * 200,
        "x" * 201,
        # Truncator writes the note NFC-normalized: 300 characters that are 150.
        "e\u0301" * 150,
        # Combining marks that do not compose take no place of their own.
        "x\u0301" * 199,
        "x\u0301" * 201,
        "<b>" * 80,
    ],
    ids=["200", "201", "composed", "combining-199", "combining-201", "markup"],
)
def test_a_queue_rows_note_is_cut_as_truncatechars_did(alice, rita, note):
    claim = ClaimFactory(
        logged_by=alice, status=Claim.Status.IN_REVIEW, submission_note=note
    )
    claims = queued(rita, [claim.pk])

    ours = queue_rows(claims)
    assert parse_html(ours) == parse_html(reference_rows(claims, "queue_row.html"))
    assert '<p class="queue-note">' in ours


@pytest.mark.parametrize("zone", ["UTC", "Asia/Seoul", "America/St_Johns"])
def test_rows_times_and_places_are_the_reference_rows_html(alice, rita, zone):
    """The row's own date formatting and its place names, read in one query,
    equal the date filter and the prefetched places, in any time zone."""
    with override_settings(TIME_ZONE=zone):
        claim = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
        moment = datetime.datetime(2024, 10, 8, 23, 59, 30, 123456, tzinfo=datetime.UTC)
        Claim.objects.filter(pk=claim.pk).update(updated_at=moment, submitted_at=moment)
        claim.places.add(
            PlaceFactory(name="Vladivostok"),
            PlaceFactory(name="Kursk Oblast"),
            PlaceFactory(name="Kursk"),
        )
        bare = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
        claims = listed([claim.pk, bare.pk])
        assert parse_html(claim_rows(claims)) == parse_html(reference_rows(claims))
        claims = queued(rita, [claim.pk, bare.pk])
        assert parse_html(queue_rows(claims)) == parse_html(
            reference_rows(claims, "queue_row.html")
        )
        assert "Kursk, Kursk Oblast, Vladivostok" in claim_rows(claims)


@given(
    moment=st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2030, 1, 1),
        timezones=st.just(datetime.UTC),
    ),
    later=st.timedeltas(
        min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=4000)
    ),
    language=st.sampled_from(["en", "de", "fr"]),
)
@settings(max_examples=300, deadline=None)
def test_the_waiting_time_reads_as_djangos_timesince(moment, later, language):
    """The queue's waiting time looks each number's words up once per language:
    the same words as Django's, in whatever language is active."""
    now = moment + later
    with translation.override(language):
        assert time_since(moment, now) == timesince(moment, now)


def test_list_rows_carry_the_confirmation_as_columns_not_as_a_row(alice):
    """A list's claims read their stored confirmation from columns of their own
    row: no ClaimConfirmation instance per row and no query to read one; the
    values and labels are the row's own."""
    claim = ClaimFactory(
        logged_by=alice, likelihood=0.9, likelihood_term="very_likely",
        confidence="moderate", report_count=3, origin_count=2,
    )  # fmt: skip
    row = ClaimConfirmation.objects.get(pk=claim.pk)
    (listed_claim,) = listed([claim.pk])
    with CaptureQueriesContext(connection) as queries:
        read = {
            name: getattr(listed_claim, name)
            for name in (
                "computed_level", "likelihood", "likelihood_term", "confidence",
                "summary_rating", "confirmation_version", "report_count",
                "origin_count",
            )
        }  # fmt: skip
        labels = (
            listed_claim.get_likelihood_term_display(),
            listed_claim.get_confidence_display(),
            listed_claim.get_computed_level_display(),
        )
    assert not queries.captured_queries
    assert "confirmation" not in listed_claim._state.fields_cache
    assert read == {name: getattr(row, name) for name in read}
    assert read["likelihood"] == 0.9 and read["report_count"] == 3
    assert labels == (
        row.get_likelihood_term_display(),
        row.get_confidence_display(),
        row.get_computed_level_display(),
    )
    assert all(type(label) is str for label in labels)


def test_a_listed_claim_is_freed_as_soon_as_the_page_drops_it(alice):
    """With no claim and ClaimConfirmation pointing at each other, a page's
    claims are freed when the page is done with them, not left as cyclic
    garbage for the collector's next full pass (which let a worker's memory
    grow under load)."""
    pks = [ClaimFactory(logged_by=alice, topic=TopicFactory()).pk for _ in range(3)]
    # As the claim list reads them (claims.views.listed_claims).
    claims = list(Claim.objects.with_list_data().filter(pk__in=pks))
    assert claims[0].likelihood is not None
    refs = [weakref.ref(claim) for claim in claims]
    gc.disable()
    try:
        del claims
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()


def test_a_claim_given_its_confirmation_row_reads_the_row(alice):
    """A listed claim that is given its ClaimConfirmation afterwards (the store
    hands a recomputed one over), or is read afresh, reads that row, not the
    columns it was listed with."""
    claim = ClaimFactory(logged_by=alice, likelihood=0.2, confidence="low")
    (listed_claim,) = listed([claim.pk])
    ClaimConfirmation.objects.filter(pk=claim.pk).update(
        likelihood=0.8, confidence="high"
    )
    (refreshed,) = listed([claim.pk])
    ClaimConfirmation.objects.filter(pk=claim.pk).update(likelihood=0.7)
    listed_claim.confirmation = ClaimConfirmation.objects.get(pk=claim.pk)
    assert listed_claim.likelihood == 0.7
    assert listed_claim.get_confidence_display() == "high"
    # Read afresh, a listed claim reads its row too.
    refreshed.refresh_from_db()
    assert refreshed.likelihood == 0.7
    assert refreshed.get_confidence_display() == "high"


def test_place_names_read_each_call_s_own_claims(alice):
    """The places' query is compiled once and given each call's claims: a second
    page reads its own claims' places, in the places' order (by name)."""
    first, second = ClaimFactory(logged_by=alice), ClaimFactory(logged_by=alice)
    kursk, kyiv = PlaceFactory(name="Kursk"), PlaceFactory(name="Kyiv")
    avdiivka = PlaceFactory(name="Avdiivka")
    first.places.add(kyiv, kursk)
    second.places.add(kyiv, avdiivka)
    assert place_names([first]) == {first.pk: "Kursk, Kyiv"}
    assert place_names([second]) == {second.pk: "Avdiivka, Kyiv"}
    assert place_names([first, second]) == {
        first.pk: "Kursk, Kyiv",
        second.pk: "Avdiivka, Kyiv",
    }
    assert place_names([ClaimFactory(logged_by=alice)]) == {}
    assert place_names([]) == {}


@pytest.mark.parametrize("qualifier", [*Claim.Qualifier.values, "", "not-a-choice"])
def test_a_quantity_reads_its_qualifier_as_get_display_does(qualifier):
    claim = Claim(
        quantity_low=Decimal("1500"),
        quantity_unit="troops",
        quantity_qualifier=qualifier,
    )
    words = (claim.get_quantity_qualifier_display(), "1,500", "troops")
    assert claim.quantity_display() == " ".join(word for word in words if word)
