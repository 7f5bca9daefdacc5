"""The audit trail: every create, change and delete of the records that carry
judgments is written with who, when, before and after, in the same transaction."""

import pytest
from django.db import transaction

from analysts.audit import record, snapshot
from analysts.models import AuditEntry
from claims import actions
from claims.models import Citation, Claim, Relation
from tests.factories import AnalystFactory, ClaimFactory, DocumentFactory, SourceFactory


def entries_for(obj) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            model=obj._meta.label_lower, object_id=str(obj.pk)
        ).order_by("id")
    )


def test_creating_and_changing_a_claim_is_recorded_with_before_and_after(alice):
    claim = actions.save_claim(alice, Claim(statement="About 12,000", logged_by=alice))
    claim.statement = "About 12,000 special forces"
    actions.save_claim(alice, claim)
    created, changed = entries_for(claim)
    assert (created.action, created.actor, created.actor_username) == (
        "create",
        alice,
        "alice",
    )
    assert created.before is None
    assert created.after["statement"] == "About 12,000"
    assert changed.action == "update"
    assert changed.before["statement"] == "About 12,000"
    assert changed.after["statement"] == "About 12,000 special forces"
    assert changed.at is not None and changed.at >= created.at


def test_citations_and_relations_are_recorded_from_birth_to_deletion(alice):
    claim = ClaimFactory(logged_by=alice)
    other = ClaimFactory(logged_by=alice)
    citation = actions.add_citation(
        alice,
        Citation(
            claim=claim,
            document=DocumentFactory(),
            source=SourceFactory(grade="B"),
            excerpt="about 1,500 among them were transferred",
            credibility=2,
            created_by=alice,
        ),
    )
    citation.credibility = 3
    actions.update_citation(alice, citation)
    relation = actions.add_relation(
        alice,
        Relation(
            claim_a=claim,
            claim_b=other,
            kind="corroborates",
            rationale="Same event",
            created_by=alice,
        ),
    )
    citation_pk, relation_pk = citation.pk, relation.pk
    actions.delete_citation(alice, citation)
    actions.delete_relation(alice, relation)
    citation_trail = AuditEntry.objects.filter(
        model="claims.citation", object_id=str(citation_pk)
    ).order_by("id")
    assert [e.action for e in citation_trail] == ["create", "update", "delete"]
    assert citation_trail[1].before["credibility"] == 2
    assert citation_trail[1].after["credibility"] == 3
    assert citation_trail[2].before["excerpt"].startswith("about 1,500")
    relation_trail = AuditEntry.objects.filter(
        model="claims.relation", object_id=str(relation_pk)
    ).order_by("id")
    assert [e.action for e in relation_trail] == ["create", "delete"]


def test_a_grade_change_is_recorded_with_its_rationale(max_):
    source = SourceFactory(grade="B")
    actions.change_grade(max_, source, "D", "Three reports refuted since June.")
    (entry,) = entries_for(source)
    assert entry.before["grade"] == "B"
    assert entry.after["grade"] == "D"
    assert entry.note == "Three reports refuted since June."
    assert source.grade_changes.get().changed_by == max_


def test_the_actor_s_name_survives_the_actor(db):
    temp = AnalystFactory(username="temp")
    entry = record(temp, "create", SourceFactory(name="Relayed outlet"))
    temp.delete()
    entry.refresh_from_db()
    assert entry.actor is None
    assert entry.actor_username == "temp"


def test_a_failed_change_leaves_no_audit_row(alice):
    claim = ClaimFactory(logged_by=alice)
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        claim.statement = "changed"
        actions.save_claim(alice, claim)
        raise RuntimeError("the second step of the change fails")
    assert AuditEntry.objects.count() == before
    claim.refresh_from_db()
    assert claim.statement != "changed"


def test_passwords_never_reach_the_audit_trail(alice):
    assert "password" not in snapshot(alice)
