"""The navigation's count of claims waiting for the signed-in reviewer."""

from django import template

from claims.models import Claim

register = template.Library()


@register.simple_tag
def waiting_for_review(user) -> int:
    """Claims in review or flagged for re-review that four-eyes lets this
    reviewer rule on: one COUNT query, and none at all for anyone else."""
    if not getattr(user, "is_reviewer", False):
        return 0
    return Claim.objects.visible_to(user).awaiting_review().not_involving(user).count()
