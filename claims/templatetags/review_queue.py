"""The navigation's count of claims waiting for the signed-in reviewer."""

from django import template

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
    waiting = (
        Claim.objects.visible_to(user)
        .awaiting_review()
        .not_involving(user)
        .with_waiting_since()
        .order_by("waiting_since", "pk")[: NAV_COUNT_CAP + 1]
        .count()
    )
    return f"{NAV_COUNT_CAP}+" if waiting > NAV_COUNT_CAP else str(waiting)
