"""Workflows that change the confirmation's inputs.

Each writes its audit rows and recomputes every claim it affects in the caller's
transaction, so the stored confirmation never lags behind its inputs. Views, the
admin, the API and imports all call these rather than saving models directly.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from analysts.audit import record, record_refusal, snapshot
from analysts.models import AuditEntry
from claims import review
from claims.confirmation_store import (
    claims_depending_on_sources,
    lock_writers,
    recompute_claims,
    with_related,
)
from claims.models import Citation, Claim, Relation, Review
from sources.models import Document, GradeChange, Source

Action = AuditEntry.Action


def _lock_claim(pk: int) -> Claim:
    """The claim, its row locked until the transaction ends.

    The confirmation writers' lock comes first, as in every recomputation, so
    that a transaction holding the row never waits for a recomputation that
    waits for the row. NO KEY UPDATE lets citations and relations of the claim
    be inserted meanwhile (their foreign keys take KEY SHARE) without a deadlock.
    """
    lock_writers()
    return Claim.objects.select_for_update(no_key=True).get(pk=pk)


@transaction.atomic
def save_claim(
    actor, claim: Claim, places=None, *, expected_version: int | None = None
) -> Claim:
    """Create or change a claim's statement and facets (not its status).

    A change locks the claim's row first, so that of two saves at once the
    second sees the first one's version: given the version the editor loaded
    (``expected_version``), it is refused with review.ChangedMeanwhile rather
    than written over the first. A ruled claim is refused with ClaimLocked.
    """
    creating = claim.pk is None
    before = None
    if creating:
        claim.save()
    else:
        stored = _lock_claim(claim.pk)
        if stored.is_ruled:
            raise review.ClaimLocked(
                f"Claim #{stored.pk} is ruled {stored.get_status_display()}: its "
                "statement and facets are locked until a reviewer reopens it."
            )
        review.check_unchanged(stored, expected_version, None)
        before = snapshot(stored)
        claim.version = stored.version + 1
        # Only what a person edits: a stale in-memory claim must never write its
        # old status or confirmation back over the stored ones.
        claim.save(update_fields=[*Claim.EDITABLE_FIELDS, "version", "updated_at"])
    if places is not None:
        claim.places.set(places)
    record(
        actor,
        Action.CREATE if creating else Action.UPDATE,
        claim,
        before=before,
        after=snapshot(claim),
    )
    if creating:
        recompute_claims([claim.pk])
    return claim


@transaction.atomic
def add_citation(actor, citation: Citation) -> Citation:
    if citation.source_id and not citation.grade_at_citation:
        citation.grade_at_citation = Source.objects.get(pk=citation.source_id).grade
    citation.save()
    record(actor, Action.CREATE, citation, after=snapshot(citation))
    recompute_claims(with_related([citation.claim_id]))
    return citation


@transaction.atomic
def update_citation(actor, citation: Citation) -> Citation:
    previous = Citation.objects.get(pk=citation.pk)
    before = snapshot(previous)
    if previous.source_id != citation.source_id:
        # The grade "as it was when cited" belongs to the source now cited.
        citation.grade_at_citation = Source.objects.get(pk=citation.source_id).grade
    citation.save()
    record(actor, Action.UPDATE, citation, before=before, after=snapshot(citation))
    recompute_claims(with_related({previous.claim_id, citation.claim_id}))
    return citation


@transaction.atomic
def delete_citation(actor, citation: Citation) -> None:
    claim_id = citation.claim_id
    record(actor, Action.DELETE, citation, before=snapshot(citation))
    citation.delete()
    recompute_claims(with_related([claim_id]))


@transaction.atomic
def add_relation(actor, relation: Relation) -> Relation:
    relation.save()
    record(actor, Action.CREATE, relation, after=snapshot(relation))
    recompute_claims(with_related([relation.claim_a_id, relation.claim_b_id]))
    return relation


@transaction.atomic
def update_relation(actor, relation: Relation) -> Relation:
    previous = Relation.objects.get(pk=relation.pk)
    before = snapshot(previous)
    relation.save()
    record(actor, Action.UPDATE, relation, before=before, after=snapshot(relation))
    recompute_claims(
        with_related(
            {
                previous.claim_a_id,
                previous.claim_b_id,
                relation.claim_a_id,
                relation.claim_b_id,
            }
        )
    )
    return relation


@transaction.atomic
def delete_relation(actor, relation: Relation) -> None:
    ends = [relation.claim_a_id, relation.claim_b_id]
    record(actor, Action.DELETE, relation, before=snapshot(relation))
    relation.delete()
    recompute_claims(with_related(ends))


@transaction.atomic
def change_grade(actor, source: Source, new_grade: str, rationale: str) -> int:
    """Set a source's grade with the manager's rationale; returns how many claims'
    stored confirmation changed."""
    locked = Source.objects.select_for_update().get(pk=source.pk)
    old_grade = locked.grade
    if old_grade == new_grade:
        return 0
    before = snapshot(locked)
    Source.objects.filter(pk=locked.pk).update(grade=new_grade)
    locked.grade = new_grade
    source.grade = new_grade
    GradeChange.objects.create(
        source=locked,
        old_grade=old_grade,
        new_grade=new_grade,
        rationale=rationale,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record(
        actor,
        Action.UPDATE,
        locked,
        before=before,
        after=snapshot(locked),
        note=rationale,
    )
    return recompute_claims(claims_depending_on_sources([locked.pk]))


@transaction.atomic
def save_source(actor, source: Source, grade_rationale: str = "") -> int:
    """Create or change a source. A changed "part of" re-derives the origin of the
    whole lineage below it and recomputes the claims citing any of it; a changed
    grade goes through change_grade with its rationale."""
    if source.pk is None:
        source.save()
        record(actor, Action.CREATE, source, after=snapshot(source))
        if source.grade:
            GradeChange.objects.create(
                source=source,
                old_grade="",
                new_grade=source.grade,
                rationale=grade_rationale or "Initial grade.",
                changed_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        return 0
    previous = Source.objects.get(pk=source.pk)
    new_grade = source.grade
    source.grade = previous.grade
    before = snapshot(previous)
    source.save()
    changed = 0
    if previous.parent_id != source.parent_id:
        lineage = Source.objects.lineage_of(source).values_list("pk", flat=True)
        changed += recompute_claims(claims_depending_on_sources(lineage))
    record(actor, Action.UPDATE, source, before=before, after=snapshot(source))
    if new_grade != previous.grade:
        changed += change_grade(
            actor, source, new_grade, grade_rationale or "Changed with the source."
        )
    return changed


@transaction.atomic
def save_document(actor, document: Document) -> int:
    """Create or change a document; retracting one (or undoing it) recomputes
    every claim that cites it."""
    if document.pk is None:
        document.save()
        record(actor, Action.CREATE, document, after=snapshot(document))
        return 0
    previous = Document.objects.get(pk=document.pk)
    before = snapshot(previous)
    document.save()
    record(actor, Action.UPDATE, document, before=before, after=snapshot(document))
    if previous.retracted == document.retracted:
        return 0
    citing = document.citations.order_by().values_list("claim_id", flat=True)
    return recompute_claims(with_related(citing))


# The review workflow ----------------------------------------------------------
# Each step locks the claim's row, then checks (in claims.review) who asks, four
# eyes, whether the claim changed since the asker loaded it, and the transition,
# so that of two reviewers ruling at once the second sees the first's ruling.
# A refusal raises a review.Refused; the audited ones leave a "refused" audit
# row written outside the step's own savepoint, so it survives the rollback of
# the step as long as the caller's transaction commits: callers answer with an
# error response rather than letting the exception roll the request back.


@contextmanager
def _refusals_recorded(actor, claim: Claim, step: str) -> Iterator[None]:
    try:
        yield
    except review.Refused as refusal:
        if refusal.audited:
            record_refusal(actor, claim, f"{step}: {refusal}")
        raise


def _state(claim: Claim, *names: str) -> dict:
    values = {name: getattr(claim, name) for name in names}
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def submit_claim(
    actor, claim: Claim, note: str = "", *, expected_version: int | None = None
) -> Claim:
    """The claim's analyst submits it for review (open → in review), with an
    optional note to the reviewer. Refreshes ``claim`` and returns it."""
    with _refusals_recorded(actor, claim, "submit"):
        _submit(actor, claim.pk, note, expected_version)
    claim.refresh_from_db()
    return claim


@transaction.atomic
def _submit(actor, pk: int, note: str, expected_version: int | None) -> None:
    locked = _lock_claim(pk)
    review.check_may_submit(actor, locked)
    review.check_unchanged(locked, expected_version, None)
    to = review.check_transition(locked, review.SUBMIT)
    note = (note or "").strip()
    if len(note) > review.RATIONALE_MAX_CHARS:
        raise review.InvalidInput(
            f"A note holds at most {review.RATIONALE_MAX_CHARS:,} characters."
        )
    fields = ("status", "submission_note", "submitted_at")
    before = _state(locked, *fields)
    locked.status = to
    locked.submission_note = note
    locked.submitted_at = timezone.now()
    locked.save(update_fields=[*fields, "updated_at"])
    record(
        actor,
        Action.SUBMIT,
        locked,
        before=before,
        after=_state(locked, *fields),
        note=note,
    )


def rule_claim(
    actor,
    claim: Claim,
    outcome: str,
    rationale: str,
    *,
    expected_version: int | None = None,
    seen_review: int | None = None,
) -> Review:
    """A reviewer rules on a claim: confirmed, refuted or sent back, with a
    rationale. ``expected_version`` and ``seen_review`` (the id of the latest
    ruling the reviewer saw, 0 for none) refuse the ruling when the claim changed
    after the reviewer loaded it. Refreshes ``claim``; returns the new Review."""
    with _refusals_recorded(actor, claim, f"rule {outcome}"):
        if outcome not in review.RULINGS:
            raise review.InvalidInput(
                "A ruling is confirmed, refuted or sent back; got "
                f"{str(outcome)[:40]!r}."
            )
        ruling = _review_step(
            actor, claim.pk, outcome, rationale, expected_version, seen_review
        )
    claim.refresh_from_db()
    return ruling


def reopen_claim(
    actor,
    claim: Claim,
    rationale: str,
    *,
    expected_version: int | None = None,
    seen_review: int | None = None,
) -> Review:
    """A reviewer reopens a ruled claim (confirmed or refuted → open), with a
    rationale. Refreshes ``claim``; returns the new Review."""
    with _refusals_recorded(actor, claim, "reopen"):
        ruling = _review_step(
            actor,
            claim.pk,
            Review.Outcome.REOPENED,
            rationale,
            expected_version,
            seen_review,
        )
    claim.refresh_from_db()
    return ruling


@transaction.atomic
def _review_step(
    actor,
    pk: int,
    outcome: str,
    rationale: str,
    expected_version: int | None,
    seen_review: int | None,
) -> Review:
    locked = _lock_claim(pk)
    review.check_may_review(actor)
    review.check_four_eyes(actor, locked)
    review.check_unchanged(locked, expected_version, seen_review)
    to = review.check_transition(locked, outcome)
    problem = review.rationale_problem(rationale)
    if problem:
        raise review.RationaleInvalid(problem)
    fields = ("status", "needs_rereview")
    before = _state(locked, *fields)
    ruling = Review.objects.create(
        claim=locked,
        reviewer=actor,
        outcome=outcome,
        rationale=rationale.strip(),
        likelihood_at=locked.likelihood,
        level_at=locked.computed_level,
    )
    locked.status = to
    locked.needs_rereview = False
    locked.save(update_fields=[*fields, "updated_at"])
    record(
        actor,
        Action.RULE,
        locked,
        before=before,
        after=_state(locked, *fields),
        note=f"{ruling.get_outcome_display()}: {ruling.rationale}",
    )
    # A ruling replaces the level: the stored confirmation follows at once.
    recompute_claims([locked.pk])
    return ruling
