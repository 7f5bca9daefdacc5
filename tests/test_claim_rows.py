"""The claim list's rows from Python equal the template they replaced."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Engine
from django.test.html import parse_html
from django.urls import reverse

from claims.models import Claim
from claims.templatetags.claim_rows import claim_rows
from tests.factories import ClaimFactory, PlaceFactory, TopicFactory
from tests.hostile import HOSTILE

REFERENCE = Path(__file__).parent / "reference" / "claim_row.html"


def reference_rows(claims) -> str:
    template = Engine.get_default().from_string(REFERENCE.read_text())
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
