"""Workflows that change the confirmation's inputs.

Each writes its audit rows and recomputes every claim it affects in the caller's
transaction, so the stored confirmation never lags behind its inputs. Views, the
admin, the API and imports all call these rather than saving models directly.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analysts.audit import record, record_refusal, snapshot
from analysts.models import AuditEntry
from claims import review
from claims.confirmation_store import (
    claims_depending_on_sources,
    lock_writers,
    recompute_claims,
    recompute_with_related,
    with_related,
)
from claims.models import Citation, Claim, Relation, Review, excerpt_digest
from sources.models import Document, GradeChange, Source

Action = AuditEntry.Action


# Several changes, one recomputation ------------------------------------------------


class _Deferred:
    """What a batch() block puts off until it ends."""

    def __init__(self) -> None:
        self.claim_ids: set[int] = set()
        self.citations: list[tuple[object, Citation]] = []
        self.relations: list[tuple[object, Relation]] = []


_deferred: ContextVar[_Deferred | None] = ContextVar("deferred", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """Several changes to claims, citations and relations, recomputed once.

    Inside the block add_citation and add_relation queue their record (it has
    no id until the block ends); when the block ends, the queued citations and
    relations are inserted together, a few queries however many there are,
    and every claim any action in the block reached, with the claims one
    relation away, is recomputed in one set-wise pass, all in one transaction.
    A block inside another joins the outer one.
    """
    if _deferred.get() is not None:
        yield
        return
    deferred = _Deferred()
    token = _deferred.set(deferred)
    try:
        with transaction.atomic():
            yield
            _deferred.reset(token)
            token = None
            _insert_citations(deferred.citations)
            _insert_relations(deferred.relations)
            deferred.claim_ids |= {c.claim_id for _, c in deferred.citations}
            for _, relation in deferred.relations:
                deferred.claim_ids |= {relation.claim_a_id, relation.claim_b_id}
            if deferred.claim_ids:
                recompute_with_related(deferred.claim_ids)
    finally:
        if token is not None:
            _deferred.reset(token)


def _recompute(claim_ids: Iterable[int]) -> None:
    """Recompute these claims and their neighbours now, or when the batch ends."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.claim_ids.update(claim_ids)
    else:
        recompute_with_related(claim_ids)


def _audit_created(items: list[tuple[object, object]]) -> None:
    """record()'s rows for new records, in one insert."""
    entries = []
    for actor, obj in items:
        authenticated = actor is not None and getattr(actor, "is_authenticated", False)
        entries.append(
            AuditEntry(
                actor=actor if authenticated else None,
                actor_username=actor.get_username() if authenticated else "",
                action=Action.CREATE,
                model=obj._meta.label_lower,
                object_id=str(obj.pk),
                object_repr=str(obj)[:300],
                after=snapshot(obj),
            )
        )
    AuditEntry.objects.bulk_create(entries)


def _grade_read(citation: Citation) -> bool:
    """Whether the citation holds its source, read with the source's grade."""
    return (
        Citation.source.is_cached(citation)
        and citation.source is not None
        and citation.source.pk == citation.source_id
        and "grade" not in citation.source.get_deferred_fields()
    )


def _insert_citations(items: list[tuple[object, Citation]]) -> None:
    if not items:
        return
    # What Citation.save does, for a bulk insert: the grade "as it was when
    # cited" is the source's stored grade now. A source the request has read
    # with its grade (the entry form's, in this transaction) is not read again.
    unread = [citation for _, citation in items if not _grade_read(citation)]
    if unread:
        sources = Source.objects.in_bulk({citation.source_id for citation in unread})
        for citation in unread:
            citation.source = sources[citation.source_id]
    for _, citation in items:
        if not citation.grade_at_citation:
            citation.grade_at_citation = citation.source.grade
        citation.excerpt_digest = excerpt_digest(citation.excerpt)
    Citation.objects.bulk_create([citation for _, citation in items])
    _audit_created(items)


def _insert_relations(items: list[tuple[object, Relation]]) -> None:
    if not items:
        return
    for _, relation in items:
        # One row per pair, the lower id first (as Relation.save).
        low, high = sorted((relation.claim_a_id, relation.claim_b_id))
        relation.claim_a_id, relation.claim_b_id = low, high
    Relation.objects.bulk_create([relation for _, relation in items])
    _audit_created(items)


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
        # The reliability report's stored rows keep a copy of topic and time.
        from sources import reliability

        reliability.claim_edited(claim)
    known = None
    if creating:
        # A new claim has no places to read first, and its audit entry lists
        # the places given rather than read them back.
        places = list(places or [])
        if places:
            claim.places.add(*places)
        known = {"places": [getattr(place, "pk", place) for place in places]}
    elif places is not None:
        claim.places.set(places)
    record(
        actor,
        Action.CREATE if creating else Action.UPDATE,
        claim,
        before=before,
        after=snapshot(claim, known),
    )
    if creating:
        deferred = _deferred.get()
        if deferred is not None:
            deferred.claim_ids.add(claim.pk)
        else:
            recompute_claims([claim.pk])
    return claim


@transaction.atomic
def delete_claims(actor, claims: Iterable[Claim]) -> int:
    """Delete claims with their citations and relations (a claim with rulings is
    protected: ProtectedError), audited; recomputes the claims related to them,
    which lose what those citations carried to them. Returns how many claims'
    stored confirmation changed."""
    ids = sorted({claim.pk for claim in claims})
    if not ids:
        return 0
    lock_writers()
    doomed = list(Claim.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    ids = [claim.pk for claim in doomed]
    neighbours = with_related(ids) - set(ids)
    for claim in doomed:
        record(actor, Action.DELETE, claim, before=snapshot(claim))
    for related in (
        Citation.objects.filter(claim_id__in=ids).select_related("source"),
        Relation.objects.filter(Q(claim_a_id__in=ids) | Q(claim_b_id__in=ids)),
    ):
        for obj in related:
            record(actor, Action.DELETE, obj, before=snapshot(obj))
    Claim.objects.filter(pk__in=ids).delete()
    # The reliability report's stored support of the deleted claims goes too.
    from sources import reliability

    reliability.refresh(ids)
    return recompute_claims(neighbours)


def delete_claim(actor, claim: Claim) -> int:
    return delete_claims(actor, [claim])


def add_citation(actor, citation: Citation) -> Citation:
    """Cite a source for a claim; inside batch(), queued until the block ends."""
    with batch():
        _deferred.get().citations.append((actor, citation))
    return citation


def add_citations(actor, citations: Iterable[Citation]) -> list[Citation]:
    """Several citations in a few queries, their claims recomputed once."""
    citations = list(citations)
    with batch():
        for citation in citations:
            add_citation(actor, citation)
    return citations


@transaction.atomic
def update_citation(actor, citation: Citation) -> Citation:
    previous = Citation.objects.get(pk=citation.pk)
    before = snapshot(previous)
    if previous.source_id != citation.source_id:
        # The grade "as it was when cited" belongs to the source now cited.
        citation.grade_at_citation = Source.objects.get(pk=citation.source_id).grade
    citation.save()
    record(actor, Action.UPDATE, citation, before=before, after=snapshot(citation))
    _recompute({previous.claim_id, citation.claim_id})
    return citation


@transaction.atomic
def delete_citation(actor, citation: Citation) -> None:
    claim_id = citation.claim_id
    record(actor, Action.DELETE, citation, before=snapshot(citation))
    citation.delete()
    _recompute([claim_id])


def add_relation(actor, relation: Relation) -> Relation:
    """Relate two claims; inside batch(), queued until the block ends."""
    with batch():
        _deferred.get().relations.append((actor, relation))
    return relation


def add_relations(actor, relations: Iterable[Relation]) -> list[Relation]:
    """Several relations in a few queries, their claims recomputed once."""
    relations = list(relations)
    with batch():
        for relation in relations:
            add_relation(actor, relation)
    return relations


@transaction.atomic
def update_relation(actor, relation: Relation) -> Relation:
    previous = Relation.objects.get(pk=relation.pk)
    before = snapshot(previous)
    relation.save()
    record(actor, Action.UPDATE, relation, before=before, after=snapshot(relation))
    _recompute(
        {
            previous.claim_a_id,
            previous.claim_b_id,
            relation.claim_a_id,
            relation.claim_b_id,
        }
    )
    return relation


@transaction.atomic
def delete_relation(actor, relation: Relation) -> None:
    ends = [relation.claim_a_id, relation.claim_b_id]
    record(actor, Action.DELETE, relation, before=snapshot(relation))
    relation.delete()
    _recompute(ends)


@transaction.atomic
def change_grade(actor, source: Source, new_grade: str, rationale: str) -> int:
    """Set a source's grade with the manager's rationale; returns how many claims'
    stored confirmation changed."""
    # The writers' lock first, as in every write that recomputes: taken after
    # the source's row, it deadlocked with a claim logged meanwhile, which holds
    # it while its citation's foreign-key check at commit waits for the row.
    # NO KEY UPDATE, so that rows referring to the source are not held up.
    lock_writers()
    locked = Source.objects.select_for_update(no_key=True).get(pk=source.pk)
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
    # A grade is no input of the reliability report's stored rows.
    from sources import reliability

    with reliability.unaffected():
        return recompute_claims(claims_depending_on_sources([locked.pk]))


@transaction.atomic
def save_source(actor, source: Source, grade_rationale: str = "") -> int:
    """Create or change a source. A changed "part of" (or origin) re-derives the
    origin of the whole lineage below it and recomputes the claims citing any of
    it; a changed grade goes through change_grade with its rationale. A changed
    name recomputes nothing: no stored value depends on it, and the explanations
    that name the source are computed when shown."""
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
    # A move reaches every source below this one, whose origin it changes.
    moved = (previous.parent_id, previous.origin_id) != (
        source.parent_id,
        source.origin_id,
    )
    if moved:
        reached = set(Source.objects.lineage_of(source).values_list("pk", flat=True))
        changed += recompute_claims(claims_depending_on_sources(reached))
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
    if previous.published_on != document.published_on:
        # A report's date defaults to its document's: the reliability report's.
        from sources import reliability

        reliability.refresh(document.citations.values_list("claim_id", flat=True))
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
    # No confirmation input changed, but the reliability report's stored
    # counts tell open claims from claims in review.
    from sources import reliability

    reliability.refresh([locked.pk])
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
