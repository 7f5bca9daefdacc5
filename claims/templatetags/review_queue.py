"""The navigation's count of claims waiting for the signed-in reviewer."""

from typing import NamedTuple

from django import template
from django.db import connections, router

from analysts import reads
from claims.models import Claim

register = template.Library()

# The badge counts up to here and then says "99+": a reviewer needs to know
# there is a lot waiting, not to wait on every page for the exact figure (the
# queue page counts them properly).
NAV_COUNT_CAP = 99


@register.simple_tag
def waiting_for_review(user) -> str:
    """Claims in review or flagged for re-review that four-eyes lets this
    reviewer rule on: one bounded COUNT query, and none at all for anyone else.

    It walks the queue's partial index in the queue's order (claim_queue_idx):
    without an order, PostgreSQL may count by reading the claims table from its
    start until enough rows match, which reads all of it when the claims in
    review are the newest."""
    if not getattr(user, "is_reviewer", False):
        return "0"
    visible = Claim.objects.visible_to(user)
    if visible.is_every_claim():
        # The same query for every such reviewer but for their id: compiled by
        # Django once per process and cap (a reviewer's every page shows the
        # count; building and compiling it was a tenth of the queue page's CPU).
        alias = router.db_for_read(Claim)
        sql, params = reads.statement(
            f"review_queue.waiting:{NAV_COUNT_CAP}",
            lambda pk: _waiting(Claim.objects.all(), Stand(pk)).values("pk"),
            user.pk,
            alias,
        )
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) waiting", params)  # noqa: S608
            (waiting,) = cursor.fetchone()
    else:
        waiting = _waiting(visible, user).count()
    return f"{NAV_COUNT_CAP}+" if waiting > NAV_COUNT_CAP else str(waiting)


class Stand(NamedTuple):
    """Stands for the reviewer where a query reads only their id."""

    pk: int


def _waiting(claims, user):
    return (
        claims.awaiting_review()
        .not_involving(user)
        .with_waiting_since()
        .order_by("waiting_since", "pk")[: NAV_COUNT_CAP + 1]
    )
