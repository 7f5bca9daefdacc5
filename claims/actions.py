"""Workflows that change the confirmation's inputs.

Each writes its audit rows and recomputes every claim it affects in the caller's
transaction, so the stored confirmation never lags behind its inputs. Views, the
admin, the API and imports all call these rather than saving models directly.
"""

from django.db import transaction

from analysts.audit import record, snapshot
from analysts.models import AuditEntry
from claims.confirmation_store import (
    claims_depending_on_sources,
    recompute_claims,
    with_related,
)
from claims.models import Citation, Claim, Relation
from sources.models import Document, GradeChange, Source

Action = AuditEntry.Action


@transaction.atomic
def save_claim(actor, claim: Claim, places=None) -> Claim:
    """Create or change a claim's statement and facets (not its status)."""
    creating = claim.pk is None
    before = None
    if creating:
        claim.save()
    else:
        before = snapshot(Claim.objects.get(pk=claim.pk))
        claim.version += 1
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
