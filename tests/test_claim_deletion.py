"""Deleting a claim (only the admin offers it) goes through
claims.actions.delete_claims: audited, and the claims related to it recomputed in
the same transaction, since they lose what its citations carried to them."""

import pytest
from django.db.models import ProtectedError
from django.urls import reverse

from analysts.models import AuditEntry
from claims import actions
from claims.models import Citation, Claim, Relation
from tests.test_confirmation_store import World, assert_true_everywhere, stored


@pytest.fixture
def world(alice, max_) -> World:
    return World(alice, max_)


def carried_pair(world: World) -> tuple[Claim, Claim]:
    """A claim corroborated only through the citation of the claim related to it."""
    carrier, neighbour = world.claim(), world.claim()
    world.cite(neighbour, world.source())
    world.cite(carrier, world.source())
    world.relate(carrier, neighbour)
    assert stored(neighbour).level == "corroborated"
    return carrier, neighbour


def test_deleting_a_claim_in_the_admin_recomputes_the_claims_related_to_it(
    world, as_user, ada
):
    carrier, neighbour = carried_pair(world)
    citation = carrier.citations.get()
    relation = Relation.objects.get()

    response = as_user(ada).post(
        reverse("admin:claims_claim_delete", args=[carrier.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Claim.objects.filter(pk=carrier.pk).exists()
    assert not Relation.objects.exists()
    assert stored(neighbour).level == "single_source"
    assert_true_everywhere()
    deleted = AuditEntry.objects.filter(actor=ada, action="delete")
    assert set(deleted.values_list("model", "object_id")) == {
        ("claims.claim", str(carrier.pk)),
        ("claims.citation", str(citation.pk)),
        ("claims.relation", str(relation.pk)),
    }


def test_the_bulk_delete_action_recomputes_every_claim_related_to_the_deleted(
    world, as_user, ada
):
    first, first_neighbour = carried_pair(world)
    second, second_neighbour = carried_pair(world)

    response = as_user(ada).post(
        reverse("admin:claims_claim_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [first.pk, second.pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert not Claim.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert stored(first_neighbour).level == "single_source"
    assert stored(second_neighbour).level == "single_source"
    assert_true_everywhere()
    deleted = AuditEntry.objects.filter(actor=ada, action="delete")
    assert deleted.filter(model="claims.claim").count() == 2
    assert deleted.filter(model="claims.citation").count() == 2
    assert deleted.filter(model="claims.relation").count() == 2


def test_deleting_claims_related_to_each_other_recomputes_the_rest(world):
    a, b, c = world.claim(), world.claim(), world.claim()
    for claim in (a, b, c):
        world.cite(claim, world.source())
    world.relate(a, b)
    world.relate(b, c)
    assert stored(c).level == "corroborated"

    actions.delete_claims(world.analyst, [a, b])

    assert list(Claim.objects.values_list("pk", flat=True)) == [c.pk]
    assert stored(c).level == "single_source"
    assert_true_everywhere()


def test_a_ruled_claim_is_protected_and_nothing_is_deleted(world, rita):
    carrier, neighbour = carried_pair(world)
    carrier.status = Claim.Status.IN_REVIEW
    carrier.save(update_fields=["status"])
    actions.rule_claim(rita, carrier, "confirmed", "Two independent origins agree.")

    with pytest.raises(ProtectedError):
        actions.delete_claim(world.analyst, carrier)

    assert Claim.objects.filter(pk=carrier.pk).exists()
    assert Citation.objects.filter(claim=carrier).exists()
    assert not AuditEntry.objects.filter(action="delete").exists()
