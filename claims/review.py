"""The review workflow's rules: which status follows which step, who may take it,
what a rationale must be, and when a verdict disagrees with the evidence.

Everything that decides whether a step is allowed lives here, in one place; the
writes (with their audit rows and recomputation) are in ``claims.actions``.

Steps and statuses (``TRANSITIONS``):

    open       --submit-->                          in review
    in review  --confirmed | refuted-->             confirmed | refuted
    in review  --sent back-->                       open
    confirmed | refuted  --reopened-->              open

A ruled claim flagged "needs re-review" (new evidence turned against the ruling)
may also be ruled again directly (``RE_REVIEW``): confirmed again or refuted,
refuted again or confirmed. That keeps the flagged claim's reviewer from having
to reopen it and wait for a resubmission merely to affirm or reverse a ruling;
sending back is not offered for a ruled claim, since reopening does that job.
Every other step is refused, whoever asks, superusers included.

The refusals are exceptions carrying a message meant for the person who asked,
a short ``code`` and the HTTP status that fits, so that the web views, the API
and the admin answer alike.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from django.utils.timesince import timesince

from analysts.models import AuditEntry
from claims.models import Citation, Claim, LikelihoodTerm, Relation, Review

Status = Claim.Status
Outcome = Review.Outcome
SUBMIT = "submit"

TRANSITIONS: dict[tuple[str, str], str] = {
    (Status.OPEN, SUBMIT): Status.IN_REVIEW,
    (Status.IN_REVIEW, Outcome.CONFIRMED): Status.CONFIRMED,
    (Status.IN_REVIEW, Outcome.REFUTED): Status.REFUTED,
    (Status.IN_REVIEW, Outcome.SENT_BACK): Status.OPEN,
    (Status.CONFIRMED, Outcome.REOPENED): Status.OPEN,
    (Status.REFUTED, Outcome.REOPENED): Status.OPEN,
}
# Only while the claim is flagged "needs re-review".
RE_REVIEW: dict[tuple[str, str], str] = {
    (Status.CONFIRMED, Outcome.CONFIRMED): Status.CONFIRMED,
    (Status.CONFIRMED, Outcome.REFUTED): Status.REFUTED,
    (Status.REFUTED, Outcome.REFUTED): Status.REFUTED,
    (Status.REFUTED, Outcome.CONFIRMED): Status.CONFIRMED,
}
RULINGS = (Outcome.CONFIRMED, Outcome.REFUTED, Outcome.SENT_BACK)

RATIONALE_MIN_CHARS = 20
RATIONALE_MIN_WORDS = 4
RATIONALE_MAX_CHARS = 5000
RATIONALE_RULE = (
    f"Write the rationale as at least a sentence: {RATIONALE_MIN_CHARS} characters "
    f"and {RATIONALE_MIN_WORDS} words or more."
)


class Refused(Exception):
    """A workflow step refused, with a message for the person who asked."""

    code = "refused"
    http_status = 409
    # Refusals worth an audit row: someone tried something the rules forbid.
    audited = True


class NotPermitted(Refused):
    code = "not_permitted"
    http_status = 403


class FourEyesRefused(Refused):
    code = "four_eyes"
    http_status = 403


class TransitionRefused(Refused):
    code = "invalid_transition"


class ChangedMeanwhile(Refused):
    """The claim changed after the person loaded it: their step would act on
    something they have not seen."""

    code = "changed"


class ClaimLocked(Refused):
    code = "locked"
    audited = False


class InvalidInput(Refused):
    """What was asked for is malformed: a form error rather than a refusal."""

    code = "invalid"
    http_status = 400
    audited = False


class RationaleInvalid(InvalidInput):
    code = "rationale"


# Who may -------------------------------------------------------------------


def may_submit(user, claim: Claim) -> bool:
    return user.is_superuser or (user.is_analyst and claim.logged_by_id == user.pk)


def check_may_submit(user, claim: Claim) -> None:
    if not may_submit(user, claim):
        raise NotPermitted(
            f"Only the analyst who logged claim #{claim.pk} "
            f"({claim.logged_by.get_username()}) submits it for review."
        )


def check_may_review(user) -> None:
    if not user.is_reviewer:
        raise NotPermitted("Only reviewers rule on claims and reopen them.")


def four_eyes_reason(user, claim: Claim) -> str:
    """Why four-eyes keeps the user from ruling on the claim; "" when it does not.

    Nobody rules on a claim they logged, cited a source for, or related to
    another claim; superusers are no exception.
    """
    if claim.logged_by_id == user.pk:
        return "You logged this claim"
    if Citation.objects.filter(claim_id=claim.pk, created_by_id=user.pk).exists():
        return "You cited a source for this claim"
    related = Relation.objects.filter(
        Q(claim_a_id=claim.pk) | Q(claim_b_id=claim.pk), created_by_id=user.pk
    )
    if related.exists():
        return "You related this claim to another claim"
    return ""


def involvement_reason(claim: Claim) -> str:
    """four_eyes_reason from ClaimQuerySet.with_involvement's annotations."""
    if getattr(claim, "logged_by_me", False):
        return "You logged this claim"
    if getattr(claim, "cited_by_me", False):
        return "You cited a source for this claim"
    if getattr(claim, "related_by_me", False):
        return "You related this claim to another claim"
    return ""


def check_four_eyes(user, claim: Claim) -> None:
    reason = four_eyes_reason(user, claim)
    if reason:
        raise FourEyesRefused(
            f"{reason}: four-eyes leaves the ruling on claim #{claim.pk} to "
            "another reviewer."
        )


# Which step follows which status ----------------------------------------------


def next_status(claim: Claim, step: str) -> str | None:
    """The status the step leads to from the claim's current one, or None."""
    key = (claim.status, step)
    if key in TRANSITIONS:
        return TRANSITIONS[key]
    if claim.needs_rereview and key in RE_REVIEW:
        return RE_REVIEW[key]
    return None


def allowed_rulings(claim: Claim) -> list[str]:
    """The ruling outcomes (not reopen) the claim's status allows, in order."""
    return [step for step in RULINGS if next_status(claim, step) is not None]


def latest_review(claim: Claim) -> Review | None:
    return (
        Review.objects.filter(claim_id=claim.pk)
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )


def ago(moment) -> str:
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return "a moment ago"
    return f"{timesince(moment)} ago"


def describe(review: Review) -> str:
    """ "rita ruled it confirmed a moment ago: <rationale>" """
    verb = {
        Outcome.CONFIRMED: "ruled it confirmed",
        Outcome.REFUTED: "ruled it refuted",
        Outcome.SENT_BACK: "sent it back",
        Outcome.REOPENED: "reopened it",
    }[review.outcome]
    return (
        f"{review.reviewer.get_username()} {verb} {ago(review.created_at)}: "
        f"{review.rationale}"
    )


def check_transition(claim: Claim, step: str) -> str:
    """The next status, or TransitionRefused saying why not."""
    to = next_status(claim, step)
    if to is not None:
        return to
    name = f"Claim #{claim.pk}"
    status = claim.get_status_display()
    if step == SUBMIT:
        if claim.status == Status.IN_REVIEW:
            message = f"{name} is already in review."
        else:
            message = (
                f"{name} is ruled {status}: a reviewer reopens it before it can be "
                "submitted again."
            )
    elif claim.status == Status.OPEN:
        if step == Outcome.REOPENED:
            message = f"{name} is open already: only a ruled claim is reopened."
        else:
            message = (
                f"{name} is open: it is ruled once its analyst submits it for review."
            )
    elif claim.status == Status.IN_REVIEW:
        message = (
            f"{name} is in review, not ruled: rule on it or send it back rather "
            "than reopen it."
        )
    elif step == Outcome.SENT_BACK:
        message = f"{name} is ruled {status}: a ruled claim is reopened, not sent back."
    else:
        message = f"{name} is already ruled {status}"
        last = latest_review(claim)
        if last is not None and last.outcome != Outcome.REOPENED:
            message += f" ({describe(last)})"
        message += "; reopen it to change the ruling."
    raise TransitionRefused(message)


def check_unchanged(
    claim: Claim, expected_version: int | None, seen_review: int | None
) -> None:
    """Refuse when the claim changed since the person loaded it: a newer
    ruling than the one they saw, or a newer version of the statement."""
    if seen_review is not None:
        last = latest_review(claim)
        if last is not None and last.pk != seen_review:
            raise ChangedMeanwhile(describe(last))
    if expected_version is not None and claim.version != expected_version:
        raise ChangedMeanwhile(
            f"{last_editor(claim)} changed claim #{claim.pk} after you loaded it "
            f"(version {claim.version} now, you saw {expected_version}): read it "
            "again first."
        )


def last_editor(claim: Claim) -> str:
    entry = (
        AuditEntry.objects.filter(
            model=Claim._meta.label_lower,
            object_id=str(claim.pk),
            action__in=[AuditEntry.Action.CREATE, AuditEntry.Action.UPDATE],
        )
        .order_by("-at", "-pk")
        .first()
    )
    if entry is None:
        return "Someone"
    return entry.actor_username or "The system"


def rationale_problem(text: str) -> str:
    """What is wrong with a rationale; "" when nothing is."""
    text = (text or "").strip()
    if len(text) > RATIONALE_MAX_CHARS:
        return f"A rationale holds at most {RATIONALE_MAX_CHARS:,} characters."
    if len(text) < RATIONALE_MIN_CHARS or len(text.split()) < RATIONALE_MIN_WORDS:
        return RATIONALE_RULE
    return ""


# Verdict against evidence --------------------------------------------------------

# ICD 203's terms, lowest first; a band is one step along this order.
TERM_ORDER = tuple(term.value for term in LikelihoodTerm)
# Where a verdict sits on that scale. A confirmation asserts more than the
# evidence of one origin can (the engine caps that at "likely"), so it sits at
# "very likely": "likely" is one band off, "roughly even chance" two. A
# refutation sits at "unlikely": a claim nobody has supported stays at the even
# prior, and refuting it is the review's ordinary result, not a disagreement;
# "likely" is two bands off.
VERDICT_BAND = {
    Status.CONFIRMED: TERM_ORDER.index(LikelihoodTerm.VERY_LIKELY),
    Status.REFUTED: TERM_ORDER.index(LikelihoodTerm.UNLIKELY),
}


def bands_apart(verdict: str, term: str) -> int:
    """How many ICD 203 bands separate the verdict from the computed term, counted
    only on the side that contradicts the verdict (a term beyond the verdict's
    own band agrees with it)."""
    band = TERM_ORDER.index(term)
    if verdict == Status.CONFIRMED:
        return max(0, VERDICT_BAND[verdict] - band)
    return max(0, band - VERDICT_BAND[verdict])


def verdict_differs(claim: Claim) -> bool:
    """The reviewers' verdict and the computed likelihood are more than one band
    apart: confirmed while "roughly even chance" or lower, refuted while "likely"
    or higher."""
    if claim.status not in VERDICT_BAND or claim.likelihood_term not in TERM_ORDER:
        return False
    return bands_apart(claim.status, claim.likelihood_term) > 1
