"""The stored confirmation is kept true in the database (DESIGN.md, "How confirmed is
a claim", rules 6 and 7): every input changed through claims.actions recomputes
every claim it reaches in the same transaction, set-wise, and the stored result
always equals a fresh computation (``drift()`` is empty).

Runs on SQLite and PostgreSQL; the concurrency tests need PostgreSQL.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims import actions, confirmation, confirmation_store
from claims.confirmation_store import (
    COUNT_FIELDS,
    STORED_FIELDS,
    Stored,
    drift,
    id_list,
    recompute_claims,
)
from claims.models import (
    Citation,
    Claim,
    ClaimConfirmation,
    Level,
    Relation,
    excerpt_digest,
)
from sources.models import Document, Source
from tests.factories import AnalystFactory
from tests.test_confirmation_rules import claim_inputs

_names = itertools.count(1)


class World:
    """Sources, documents, claims, citations and relations made only through
    claims.actions, as the pages and the admin make them."""

    def __init__(self, analyst, manager) -> None:
        self.analyst = analyst
        self.manager = manager

    def source(
        self, name: str = "", grade: str = "B", parent: Source | None = None
    ) -> Source:
        source = Source(
            name=name or f"Source {next(_names)}",
            kind=Source.Kind.AGENCY,
            grade=grade,
            parent=parent,
        )
        actions.save_source(self.manager, source)
        return source

    def document(self, publisher: Source | None = None) -> Document:
        document = Document(
            title=f"Document {next(_names)}",
            publisher=publisher or self.source(),
            kind=Document.Kind.REPORT,
        )
        actions.save_document(self.analyst, document)
        return document

    def claim(self, statement: str = "") -> Claim:
        claim = Claim(
            statement=statement or f"Claim {next(_names)} happened.",
            logged_by=self.analyst,
        )
        return actions.save_claim(self.analyst, claim)

    def cite(
        self,
        claim: Claim,
        source: Source,
        *,
        supports: bool = True,
        credibility: int = 2,
        document: Document | None = None,
    ) -> Citation:
        citation = Citation(
            claim=claim,
            document=document or self.document(publisher=source),
            source=source,
            supports=supports,
            excerpt=f"Excerpt {next(_names)}.",
            credibility=credibility,
            created_by=self.analyst,
        )
        return actions.add_citation(self.analyst, citation)

    def relate(self, a: Claim, b: Claim, kind: str = "corroborates") -> Relation:
        relation = Relation(
            claim_a=a,
            claim_b=b,
            kind=kind,
            rationale="Same event.",
            created_by=self.analyst,
        )
        return actions.add_relation(self.analyst, relation)

    def move(self, source: Source, parent: Source | None) -> int:
        """Make source part of parent, both as the database holds them now (as a
        form would load them)."""
        source = Source.objects.get(pk=source.pk)
        source.parent = Source.objects.get(pk=parent.pk) if parent else None
        return actions.save_source(self.manager, source)

    def grade(self, source: Source, grade: str) -> int:
        return actions.change_grade(self.manager, source, grade, "New reporting.")

    def retract(self, document: Document, retracted: bool = True) -> int:
        document = Document.objects.get(pk=document.pk)
        document.retracted = retracted
        return actions.save_document(self.analyst, document)


@pytest.fixture
def world(alice, max_) -> World:
    return World(alice, max_)


def stored(claim: Claim) -> Claim:
    return Claim.objects.get(pk=claim.pk)


def explained(claim: Claim) -> tuple[str, ...]:
    """The claim's explanation as its page shows it."""
    return confirmation_store.explanations([claim.pk])[claim.pk]


def rule(claim: Claim, status: str) -> None:
    """A ruling as the review workflow stores one; the workflow is not ours."""
    Claim.objects.filter(pk=claim.pk).update(status=status)
    recompute_claims([claim.pk])


def assert_true_everywhere() -> None:
    assert drift() == []


# Citations ----------------------------------------------------------------------------


def test_an_added_independent_origin_corroborates_a_single_source_claim(world):
    claim = world.claim()
    world.cite(claim, world.source("Intelligence service", "B"))
    assert stored(claim).level == "single_source"
    assert stored(claim).likelihood_term == "likely"

    world.cite(claim, world.source("Ukrainian centre", "C"))

    assert stored(claim).level == "corroborated"
    assert stored(claim).summary_rating == "B1 (derived)"
    assert_true_everywhere()


def test_editing_a_citation_recomputes_its_claim(world):
    claim = world.claim()
    world.cite(claim, world.source(grade="B"))
    second = world.cite(claim, world.source(grade="C"))
    assert stored(claim).level == "corroborated"

    second.supports = False
    actions.update_citation(world.analyst, second)
    assert stored(claim).level == "contested"
    assert_true_everywhere()

    second.supports = True
    second.credibility = 5  # "improbable": no evidential weight
    actions.update_citation(world.analyst, second)
    assert stored(claim).level == "single_source"
    assert_true_everywhere()

    second.credibility = 2
    second.source = world.source(grade="A")
    actions.update_citation(world.analyst, second)
    assert stored(claim).level == "corroborated"
    assert stored(claim).summary_rating == "A1 (derived)"
    assert_true_everywhere()


def test_moving_a_citation_to_another_claim_recomputes_both(world):
    first, second = world.claim(), world.claim()
    world.cite(first, world.source())
    moved = world.cite(first, world.source())

    moved.claim = second
    actions.update_citation(world.analyst, moved)

    assert stored(first).level == "single_source"
    assert stored(second).level == "single_source"
    assert_true_everywhere()


def test_removing_a_citation_recomputes_its_claim(world):
    claim = world.claim()
    only = world.cite(claim, world.source())

    actions.delete_citation(world.analyst, only)

    assert stored(claim).level == "unsourced"
    assert list(explained(claim)) == ["· no citations"]
    assert_true_everywhere()


def test_a_citation_reaches_the_claims_that_carry_it_one_step(world):
    claim, neighbour = world.claim(), world.claim()
    world.cite(neighbour, world.source())
    world.relate(claim, neighbour)
    assert stored(claim).level == "single_source"

    citation = world.cite(claim, world.source())

    assert stored(neighbour).level == "corroborated"
    actions.delete_citation(world.analyst, citation)
    assert stored(neighbour).level == "single_source"
    assert_true_everywhere()


# Relations ----------------------------------------------------------------------------


def test_a_relation_added_edited_and_removed_recomputes_both_claims(world):
    a, b, beyond = world.claim(), world.claim(), world.claim()
    world.cite(a, world.source("Service A", "B"))
    world.cite(b, world.source("Service B", "C"))
    world.cite(beyond, world.source("Service C", "C"))
    world.relate(b, beyond)

    relation = world.relate(a, b)
    assert stored(a).level == "corroborated"
    assert stored(b).level == "corroborated"
    assert any("via corroborating claim" in line for line in explained(a))
    assert_true_everywhere()

    supported = stored(b).likelihood
    relation.kind = Relation.Kind.CONTRADICTS
    actions.update_relation(world.analyst, relation)
    assert stored(a).level == "contested"
    # b's two origins (its own and beyond's) still outweigh a's one against it.
    assert stored(b).level == "corroborated"
    assert stored(b).likelihood < supported
    assert "− contradicted by Service A (B2), via contradicting claim" in " ".join(
        explained(b)
    )
    assert_true_everywhere()

    actions.delete_relation(world.analyst, relation)
    assert stored(a).level == "single_source"
    assert stored(b).level == "corroborated"  # still related to `beyond`
    assert_true_everywhere()


def test_re_pointing_a_relation_recomputes_old_and_new_ends(world):
    a, b, c = world.claim(), world.claim(), world.claim()
    for claim in (a, b, c):
        world.cite(claim, world.source())
    relation = world.relate(a, b)

    relation.claim_b = c
    actions.update_relation(world.analyst, relation)

    assert stored(a).level == "corroborated"
    assert stored(b).level == "single_source"
    assert stored(c).level == "corroborated"
    assert_true_everywhere()


# Sources and documents ----------------------------------------------------------------


def test_a_grade_change_reaches_every_citing_claim_and_its_neighbours(world):
    service = world.source("Intelligence service", "B")
    centre = world.source("Ukrainian centre", "C")
    citing = [world.claim() for _ in range(3)]
    for claim in citing:
        world.cite(claim, service)
    neighbour = world.claim()
    world.cite(neighbour, centre)
    world.relate(citing[0], neighbour)
    assert stored(neighbour).level == "corroborated"
    changed = world.grade(service, "E")

    assert changed == 4
    assert {stored(c).likelihood for c in citing[1:]} == {0.5}
    assert stored(neighbour).level == "single_source"
    assert "(E2)" in " ".join(explained(citing[1]))
    assert_true_everywhere()


def test_making_two_sources_parts_of_one_government_collapses_two_origins(world):
    government = world.source("Government of Ukraine", "B")
    president = world.source("President of Ukraine", "B", parent=government)
    centre = world.source("Centre for Strategic Communication", "C")
    claim = world.claim()
    world.cite(claim, president)
    world.cite(claim, centre)
    assert stored(claim).level == "corroborated"

    world.move(centre, government)

    assert stored(claim).level == "single_source"
    assert any(
        "2 reports, 1 origin (Government of Ukraine)" in line
        for line in explained(claim)
    )
    assert_true_everywhere()

    world.move(centre, None)
    assert stored(claim).level == "corroborated"
    assert_true_everywhere()


def test_moving_a_source_reaches_the_claims_citing_anything_below_it(world):
    kyiv = world.source("Government of Ukraine", "B")
    ministry = world.source("Ministry of Culture", "C")
    centre = world.source("Centre", "C", parent=ministry)  # origin: the ministry
    president = world.source("President", "B", parent=kyiv)
    claim = world.claim()
    world.cite(claim, centre)
    world.cite(claim, president)
    assert stored(claim).level == "corroborated"

    world.move(ministry, kyiv)  # the claim cites neither the ministry nor kyiv

    assert stored(claim).level == "single_source"
    assert_true_everywhere()


def test_retracting_a_document_recomputes_the_claims_citing_it(world):
    claim = world.claim()
    world.cite(claim, world.source())
    source = world.source()
    document = world.document(publisher=source)
    world.cite(claim, source, document=document)
    neighbour = world.claim()
    world.relate(claim, neighbour)
    assert stored(claim).level == "corroborated"
    assert stored(neighbour).level == "corroborated"

    world.retract(document)

    assert stored(claim).level == "single_source"
    assert stored(neighbour).level == "single_source"
    assert any("document retracted" in line for line in explained(claim))
    assert_true_everywhere()

    world.retract(document, False)
    assert stored(claim).level == "corroborated"
    assert_true_everywhere()


def test_a_document_whose_only_citations_are_retracted_leaves_the_claim_unsourced(
    world,
):
    claim = world.claim()
    source = world.source()
    document = world.document(publisher=source)
    world.cite(claim, source, document=document)

    world.retract(document)

    assert stored(claim).level == "unsourced"
    assert_true_everywhere()


def test_names_with_quotes_backslashes_and_braces_are_stored_as_written(world):
    name = "The \"Centre\" \\ {Kyiv}, 'branch' – ваш\nsecond line"
    claim = world.claim()
    world.cite(claim, world.source(name))
    world.cite(claim, world.source())

    assert any(name in line for line in explained(claim))
    assert_true_everywhere()


def test_renaming_a_source_renames_it_in_every_explanation(world):
    claim = world.claim()
    source = world.source("Old name")
    world.cite(claim, source)

    source = Source.objects.get(pk=source.pk)
    source.name = "New name"
    with CaptureQueriesContext(connection) as queries:
        assert actions.save_source(world.manager, source) == 0

    # Nothing stored depends on a name: no claim is read or written again.
    assert not [q for q in queries if "claims_claim" in q["sql"]]
    assert any("New name" in line for line in explained(claim))
    assert not any("Old name" in line for line in explained(claim))
    assert_true_everywhere()


def test_a_parent_loaded_before_it_moved_still_gives_its_current_origin(world):
    top = world.source("Top")
    middle = world.source("Middle")
    leaf = world.source("Leaf", parent=middle)
    claim = world.claim()
    world.cite(claim, leaf)
    stale_middle = Source.objects.get(pk=middle.pk)
    world.move(middle, top)  # middle, and leaf below it, now have origin `top`

    leaf = Source.objects.get(pk=leaf.pk)
    leaf.parent = stale_middle  # unchanged "part of", as loaded a moment ago
    actions.save_source(world.manager, leaf)

    assert Source.objects.get(pk=leaf.pk).origin_id == top.pk
    assert_true_everywhere()


# Discrediting -------------------------------------------------------------------------


def corroborated_pair(world: World):
    """A confirmed claim and an unruled twin, both resting on the same two origins."""
    service = world.source(grade="B")
    centre = world.source(grade="C")
    document = world.document(publisher=centre)
    claims = [world.claim(), world.claim()]
    for claim in claims:
        world.cite(claim, service)
        world.cite(claim, centre, document=document)
    confirmed, unruled = claims
    rule(confirmed, "confirmed")
    assert stored(confirmed).level == "confirmed"
    assert stored(confirmed).computed_level == "corroborated"
    assert not stored(confirmed).needs_rereview
    return confirmed, unruled, centre, document


def test_a_confirmed_claim_is_flagged_when_a_source_downgraded_to_E_drops_it(world):
    confirmed, unruled, centre, _ = corroborated_pair(world)

    world.grade(centre, "E")

    assert stored(confirmed).computed_level == "single_source"
    assert stored(confirmed).level == "confirmed"  # the ruling stands until reviewed
    assert stored(confirmed).needs_rereview
    assert stored(unruled).computed_level == "single_source"
    assert not stored(unruled).needs_rereview
    assert_true_everywhere()


def test_a_confirmed_claim_is_flagged_when_its_document_is_retracted(world):
    confirmed, unruled, _, document = corroborated_pair(world)

    world.retract(document)

    assert stored(confirmed).needs_rereview
    assert not stored(unruled).needs_rereview


def test_a_flag_stays_raised_until_a_reviewer_rules_again(world):
    confirmed, _, centre, _ = corroborated_pair(world)
    world.grade(centre, "E")

    world.grade(centre, "C")

    assert stored(confirmed).computed_level == "corroborated"
    assert stored(confirmed).needs_rereview


def test_a_confirmed_claim_left_with_no_evidence_is_flagged(world):
    claim = world.claim()
    source = world.source()
    document = world.document(publisher=source)
    world.cite(claim, source, document=document)
    rule(claim, "confirmed")

    world.retract(document)

    assert stored(claim).computed_level == "unsourced"
    assert stored(claim).needs_rereview


def test_a_confirmed_single_source_claim_is_flagged_when_its_source_goes_to_E(world):
    # The reviewer confirmed what one good source said; that source is then
    # judged unreliable: the confirmation no longer rests on anything.
    claim = world.claim()
    source = world.source(grade="B")
    world.cite(claim, source)
    rule(claim, "confirmed")
    before = stored(claim)
    assert before.computed_level == "single_source"
    assert not before.needs_rereview

    world.grade(source, "E")

    assert stored(claim).likelihood < before.likelihood
    assert stored(claim).needs_rereview
    assert_true_everywhere()


def test_a_weaker_report_added_to_a_confirmed_claim_raises_no_flag(world):
    claim = world.claim()
    world.cite(claim, world.source(grade="B"))
    rule(claim, "confirmed")

    world.cite(claim, world.source(grade="E"))

    assert not stored(claim).needs_rereview


def test_a_refuted_claim_that_becomes_corroborated_is_flagged(world):
    claim = world.claim()
    world.cite(claim, world.source())
    rule(claim, "refuted")

    world.cite(claim, world.source())

    assert stored(claim).level == "refuted"
    assert stored(claim).computed_level == "corroborated"
    assert stored(claim).needs_rereview


def test_a_repair_raises_no_flags(world):
    confirmed, _, centre, _ = corroborated_pair(world)
    Source.objects.filter(pk=centre.pk).update(grade="E")  # behind the engine's back

    call_command("recompute_confirmation", stdout=StringIO())

    assert stored(confirmed).computed_level == "single_source"
    assert not stored(confirmed).needs_rereview


# Set-wise ---------------------------------------------------------------------------


def dependents(world: World, n: int) -> Source:
    """A source cited by n claims (every third with a second origin, a few related),
    filled with bulk writes and made true with one recompute."""
    source = world.source(grade="B")
    other = world.source(grade="C")
    document = world.document(publisher=source)
    claims = Claim.objects.bulk_create(
        Claim(statement=f"Dependent claim {i}.", logged_by=world.analyst)
        for i in range(n)
    )

    def citation(claim: Claim, cited: Source) -> Citation:
        return Citation(
            claim=claim,
            document=document,
            source=cited,
            excerpt="It says so.",
            excerpt_digest=excerpt_digest("It says so."),
            credibility=2,
            grade_at_citation=cited.grade,
            created_by=world.analyst,
        )

    Citation.objects.bulk_create(
        [citation(claim, source) for claim in claims]
        + [citation(claim, other) for claim in claims[::3]]
    )
    Relation.objects.bulk_create(
        Relation(
            claim_a=a,
            claim_b=b,
            kind="corroborates" if i % 2 else "contradicts",
            rationale="Neighbours.",
            created_by=world.analyst,
        )
        for i, (a, b) in enumerate(zip(claims[:10:2], claims[1:10:2], strict=True))
    )
    recompute_claims(claim.pk for claim in claims)
    return source


def queries_to_downgrade(world: World, n: int) -> int:
    source = dependents(world, n)
    with CaptureQueriesContext(connection) as queries:
        changed = world.grade(source, "E")
    assert changed == n
    return len(queries)


def test_a_grade_change_costs_the_same_queries_for_50_or_500_claims(world):
    few = queries_to_downgrade(world, 50)
    many = queries_to_downgrade(world, 500)

    assert few == many
    assert many <= 20
    assert_true_everywhere()


def test_batches_and_caches_of_any_size_store_the_same_result(world, monkeypatch):
    monkeypatch.setattr(confirmation_store, "BATCH", 7)
    monkeypatch.setattr(confirmation_store, "CACHE_LIMIT", 2)
    source = dependents(world, 60)
    assert_true_everywhere()

    assert world.grade(source, "D") == 60
    assert_true_everywhere()


def test_claims_that_do_not_exist_are_skipped_whatever_their_number(db):
    # More ids than SQLite binds in one statement: ids travel as one parameter.
    assert recompute_claims(range(1, 40_001)) == 0
    assert drift(range(1, 40_001)) == []
    assert confirmation_store.with_related(range(1, 40_001)) == set(range(1, 40_001))


@settings(max_examples=60, deadline=None)
@given(claim_inputs(), st.randoms(use_true_random=False))
def test_the_shared_computation_gives_the_engine_s_own_result(
    inputs: confirmation.Inputs, rng: random.Random
):
    """The memo that shares one computation between claims with the same inputs
    but other citation ids is invisible: same results as the engine, whether the
    ids keep their order (a hit) or not (a miss)."""

    def relabel(inputs: confirmation.Inputs, mapping: dict[int, int]):
        def move(reports):
            moved = [replace(r, citation_id=mapping[r.citation_id]) for r in reports]
            rng.shuffle(moved)
            return tuple(moved)

        return replace(
            inputs,
            reports=move(inputs.reports),
            related=tuple(
                replace(rel, reports=move(rel.reports)) for rel in inputs.related
            ),
        )

    ids = sorted(
        [r.citation_id for r in inputs.reports]
        + [r.citation_id for rel in inputs.related for r in rel.reports]
    )
    kept_order = dict(
        zip(ids, sorted(rng.sample(range(1, 10_000), len(ids))), strict=True)
    )
    shuffled = dict(zip(ids, rng.sample(range(1, 10_000), len(ids)), strict=True))
    memo = confirmation_store._Memo()
    for variant in (inputs, relabel(inputs, kept_order), relabel(inputs, shuffled)):
        assert memo.compute_inputs(variant) == unexplained(
            confirmation.compute(variant)
        )


def unexplained(result: confirmation.Result) -> confirmation.Result:
    """The result as a recomputation computes it: the explanation is not stored."""
    return replace(result, explanation=())


@settings(max_examples=200, deadline=None)
@given(claim_inputs(), st.randoms(use_true_random=False))
def test_the_names_of_sources_change_the_explanation_alone(
    inputs: confirmation.Inputs, rng: random.Random
):
    """What is stored does not depend on what sources and origins are called
    (so a rename recomputes nothing): renamed at random, with ties and the
    order of names reversed, the engine gives the same values but the words."""
    ids = {r.source_id for r in inputs.reports} | {r.origin_id for r in inputs.reports}
    ids |= {r.source_id for rel in inputs.related for r in rel.reports}
    ids |= {r.origin_id for rel in inputs.related for r in rel.reports}
    names = {pk: rng.choice(["A", "B", "Zed", "Ågency"]) for pk in ids}

    def rename(reports):
        return tuple(
            replace(r, source_name=names[r.source_id], origin_name=names[r.origin_id])
            for r in reports
        )

    renamed = replace(
        inputs,
        reports=rename(inputs.reports),
        related=tuple(
            replace(rel, reports=rename(rel.reports)) for rel in inputs.related
        ),
    )
    before, after = confirmation.compute(inputs), confirmation.compute(renamed)
    assert unexplained(after) == unexplained(before)


@settings(max_examples=200, deadline=None)
@given(claim_inputs())
def test_a_result_without_its_explanation_is_otherwise_the_same(
    inputs: confirmation.Inputs,
):
    """Recomputation skips the words (only a page shows them); every stored value
    is the one the explaining engine gives."""
    rows = [confirmation.row_of(r) for r in inputs.reports]
    related = [
        (rel.claim_id, rel.corroborates, [confirmation.row_of(r) for r in rel.reports])
        for rel in inputs.related
    ]
    explained = confirmation.compute_rows(rows, related, inputs.ruling)
    bare = confirmation.compute_rows(rows, related, inputs.ruling, explain=False)
    assert explained == confirmation.compute(inputs)
    assert explained.explanation
    assert bare.explanation == ()
    assert bare == unexplained(explained)


class _OrmBatch:
    """The reads of a batch as the ORM's values_list made them before they became
    raw SQL (session 4): the reference ``_Batch`` must equal, value and type."""

    def __init__(self, ids):
        wanted = set(ids)
        pairs = defaultdict(set)
        for a, b, kind in confirmation_store._relations_touching(id_list(ids)):
            corroborates = kind == Relation.Kind.CORROBORATES
            if a in wanted:
                pairs[a].add((b, corroborates))
            if b in wanted:
                pairs[b].add((a, corroborates))
        self.related_of = {pk: sorted(others) for pk, others in pairs.items()}
        related_ids = {other for others in pairs.values() for other, _ in others}
        self.rows = defaultdict(list)
        for claim_id, *row in (
            Citation.objects.filter(claim_id__in=id_list(wanted | related_ids))
            .order_by()
            .values_list(
                "claim_id",
                "id",
                "source_id",
                "source__name",
                "source__origin_id",
                "source__origin__name",
                "source__grade",
                "credibility",
                "supports",
                "document__retracted",
            )
        ):
            if row[3] is None:
                row[3], row[4] = row[1], row[2]
            self.rows[claim_id].append(tuple(row))
        self.stored = []
        # Model instances, each claim with its ClaimConfirmation, read as the
        # claim's own fields.
        for claim in (
            Claim.objects.filter(pk__in=id_list(ids))
            .select_related("confirmation")
            .order_by("pk")
        ):
            counts = tuple(getattr(claim, name) for name in COUNT_FIELDS)
            values = tuple(getattr(claim, name) for name in STORED_FIELDS)
            self.stored.append(
                Stored(claim.pk, claim.status, claim.needs_rereview, values, counts)
            )
        self.statements = dict(
            Claim.objects.filter(pk__in=id_list(related_ids))
            .order_by()
            .values_list("pk", "statement")
        )


def test_the_raw_reads_give_what_the_orm_reads_gave(world):
    """_Batch reads its rows with raw SQL: the same values, of the same types
    (SQLite's booleans too), as values_list gave, for sources with and without a
    stored origin, a retracted document, denials, rulings, flags and relations
    of both kinds reaching claims outside the batch."""
    government = world.source("Government of Elbonia", grade="A")
    ministry = world.source("Elbonian ministry", grade="C", parent=government)
    agency = world.source("Agency without an origin yet", grade="F")
    Source.objects.filter(pk=agency.pk).update(origin=None)
    retracted = world.document(publisher=ministry)
    world.retract(retracted)
    first, second, third, outside, bare = (world.claim() for _ in range(5))
    world.cite(first, ministry, credibility=3)
    world.cite(first, government, supports=False, credibility=6)
    world.cite(first, agency, document=retracted)
    world.cite(second, agency, credibility=4)
    world.cite(outside, government)
    world.cite(outside, agency, supports=False)
    world.relate(first, second, "corroborates")
    world.relate(third, outside, "contradicts")
    world.relate(outside, second, "corroborates")
    rule(second, "confirmed")
    Claim.objects.filter(pk=third.pk).update(needs_rereview=True)
    ids = [first.pk, second.pk, third.pk, bare.pk, 999_999]

    raw = confirmation_store._Batch(ids)
    orm = _OrmBatch(ids)

    assert raw.related_of == orm.related_of
    assert {pk: sorted(rows) for pk, rows in raw.rows.items() if rows} == {
        pk: sorted(rows) for pk, rows in orm.rows.items()
    }
    # repr tells True from 1 and a float from an int, which == does not.
    assert repr(sorted(raw.rows.items())) == repr(sorted(orm.rows.items()))
    assert repr(
        [(c.pk, c.status, c.needs_rereview, c.values, c.counts) for c in raw.stored]
    ) == repr([tuple(claim) for claim in orm.stored])
    assert raw.statements == orm.statements
    assert any(row[3] != row[1] for rows in raw.rows.values() for row in rows)
    assert agency.pk in {row[3] for rows in raw.rows.values() for row in rows}
    assert [claim.pk for claim in raw.stored] == sorted(ids[:4])
    # A recomputation reads no names: the same rows with them empty, the same
    # stored results.
    bare = confirmation_store._Batch(ids, confirmation_store._Batch.read(ids, False))
    assert {pk: sorted(rows) for pk, rows in bare.rows.items()} == {
        pk: sorted((*row[:2], "", row[3], "", *row[5:]) for row in rows)
        for pk, rows in raw.rows.items()
    }
    assert [bare.compute(claim) for claim in bare.stored] == [
        raw.compute(claim) for claim in raw.stored
    ]
    for claim in raw.stored:
        assert raw.compute(claim, explain=True) == confirmation.compute(
            raw.inputs(claim)
        )
        assert raw.compute(claim) == unexplained(
            confirmation.compute(raw.inputs(claim))
        )


@pytest.mark.postgres_only
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's query plan"
)
def test_a_batch_asks_the_few_retracted_documents_not_every_document(world):
    """The batch's citations read whether their document is retracted from the
    retracted documents' partial index: no plan step reads the documents table
    itself, which is what the join to every citation's document did."""
    source = world.source("Wire", grade="B")
    claims = [world.claim() for _ in range(3)]
    for claim in claims:
        world.cite(claim, source)
    world.retract(world.document(publisher=source))
    seen = []

    def explain(execute, sql, params, many, context):
        if "claims_citation" in sql and sql.lstrip().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {sql}", params)
                seen.append("\n".join(row[0] for row in cursor.fetchall()))
                cursor.execute("SET LOCAL enable_seqscan = on")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        confirmation_store._Batch([claim.pk for claim in claims])
    (plan,) = seen
    assert "document_retracted_idx" in plan
    assert "Seq Scan on sources_document" not in plan, plan
    assert "sources_document_pkey" not in plan, plan


def test_the_shared_computation_of_tied_reports_is_the_engine_s():
    """Two retracted reports of one source and rating, carried by a corroborating
    claim, one supporting and one denying: the engine's explanation lists them in
    the order of their citation ids, so swapping the ids is another result; the
    memo, which computes what is stored (no explanation), gives the engine's
    values for both."""

    def inputs(first_supports: bool) -> confirmation.Inputs:
        reports = tuple(
            confirmation.Report(
                citation_id, 5, "Wire", 5, "Wire", "B", 2, supports, retracted=True
            )
            for citation_id, supports in ((1, first_supports), (2, not first_supports))
        )
        return confirmation.Inputs(
            reports=(), related=(confirmation.RelatedClaim(7, "", True, reports),)
        )

    one, other = inputs(True), inputs(False)
    assert confirmation.compute(one) != confirmation.compute(other)
    memo = confirmation_store._Memo()
    assert memo.compute_inputs(one) == unexplained(confirmation.compute(one))
    assert memo.compute_inputs(other) == unexplained(confirmation.compute(other))


# Stored = fresh, whatever happens -----------------------------------------------------


class _Rollback(Exception):
    """Raised to undo one hypothesis example: the db fixture does not."""


GRADES = ("A", "B", "C", "D", "E", "F")


def build_and_change(data: st.DataObject, world: World) -> None:
    draw = data.draw
    sources: list[Source] = []
    for _ in range(draw(st.integers(3, 6), label="sources")):
        parent = draw(st.none() | st.sampled_from(sources)) if sources else None
        sources.append(world.source(grade=draw(st.sampled_from(GRADES)), parent=parent))
    documents = [world.document(publisher=sources[0]) for _ in range(2)]
    claims = [world.claim() for _ in range(draw(st.integers(2, 5), label="claims"))]

    def add_citation() -> None:
        world.cite(
            draw(st.sampled_from(claims)),
            draw(st.sampled_from(sources)),
            supports=draw(st.booleans()),
            credibility=draw(st.sampled_from((2, 3, 4, 5, 6))),
            document=draw(st.sampled_from(documents)),
        )

    def add_relation() -> None:
        a, b = draw(
            st.lists(st.sampled_from(claims), min_size=2, max_size=2, unique=True)
        )
        if not Relation.objects.filter(
            claim_a_id=min(a.pk, b.pk), claim_b_id=max(a.pk, b.pk)
        ).exists():
            world.relate(a, b, draw(st.sampled_from(("corroborates", "contradicts"))))

    for _ in range(draw(st.integers(1, 6), label="citations")):
        add_citation()
    for _ in range(draw(st.integers(0, 3), label="relations")):
        add_relation()
    assert_true_everywhere()

    def edit_citation() -> None:
        citation = draw(st.sampled_from(list(Citation.objects.order_by("pk"))))
        citation.supports = draw(st.booleans())
        citation.credibility = draw(st.sampled_from((2, 3, 4, 5, 6)))
        citation.source = draw(st.sampled_from(sources))
        citation.claim = draw(st.sampled_from(claims))
        if not Citation.objects.filter(
            claim=citation.claim,
            document=citation.document,
            source=citation.source,
            excerpt_digest=citation.excerpt_digest,
        ).exclude(pk=citation.pk):
            actions.update_citation(world.analyst, citation)

    def delete_citation() -> None:
        citation = draw(st.sampled_from(list(Citation.objects.order_by("pk"))))
        actions.delete_citation(world.analyst, citation)

    def edit_relation() -> None:
        relation = draw(st.sampled_from(list(Relation.objects.order_by("pk"))))
        relation.kind = draw(st.sampled_from(("corroborates", "contradicts")))
        actions.update_relation(world.analyst, relation)

    def delete_relation() -> None:
        relation = draw(st.sampled_from(list(Relation.objects.order_by("pk"))))
        actions.delete_relation(world.analyst, relation)

    def change_grade() -> None:
        world.grade(draw(st.sampled_from(sources)), draw(st.sampled_from(GRADES)))

    def move_source() -> None:
        source = draw(st.sampled_from(sources))
        below = set(Source.objects.lineage_of(source).values_list("pk", flat=True))
        parents = [s for s in sources if s.pk not in below]
        world.move(
            source, draw(st.none() | st.sampled_from(parents)) if parents else None
        )

    def retract() -> None:
        world.retract(draw(st.sampled_from(documents)), draw(st.booleans()))

    def rule_claim() -> None:
        claim = draw(st.sampled_from(claims))
        rule(claim, draw(st.sampled_from(("open", "confirmed", "refuted"))))

    changes = {
        "add citation": add_citation,
        "edit citation": edit_citation,
        "delete citation": delete_citation,
        "add relation": add_relation,
        "edit relation": edit_relation,
        "delete relation": delete_relation,
        "change grade": change_grade,
        "move source": move_source,
        "retract": retract,
        "rule": rule_claim,
    }
    for _ in range(draw(st.integers(1, 8), label="changes")):
        name = draw(st.sampled_from(sorted(changes)), label="change")
        if (
            name in ("edit citation", "delete citation")
            and not Citation.objects.exists()
        ):
            continue
        if (
            name in ("edit relation", "delete relation")
            and not Relation.objects.exists()
        ):
            continue
        changes[name]()
        assert drift() == [], f"drift after {name}"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_stored_equals_fresh_after_any_sequence_of_changes(world, data):
    try:
        with transaction.atomic():
            build_and_change(data, world)
            raise _Rollback
    except _Rollback:
        pass


# The command --------------------------------------------------------------------------


def test_the_check_passes_when_every_stored_result_is_true(world):
    world.cite(world.claim(), world.source())
    out = StringIO()

    call_command("recompute_confirmation", "--check", stdout=out)

    assert "No drift" in out.getvalue()


def test_the_check_fails_and_names_a_claim_tampered_with(world):
    claim = world.claim()
    world.cite(claim, world.source())
    Claim.objects.filter(pk=claim.pk).update(level="corroborated")
    ClaimConfirmation.objects.filter(claim=claim.pk).update(likelihood=0.99)
    Claim.objects.filter(pk=claim.pk).update(external_id="tampered-1")
    out = StringIO()

    with pytest.raises(CommandError) as error:
        call_command("recompute_confirmation", "--check", stdout=out)

    assert error.value.returncode == 1
    assert f"claim #{claim.pk} (tampered-1)" in out.getvalue()
    assert "level: stored 'corroborated', fresh 'single_source'" in out.getvalue()
    assert "likelihood: stored 0.99" in out.getvalue()
    assert stored(claim).level == "corroborated"  # a check changes nothing


def test_without_check_the_command_repairs_the_drift(world):
    claim = world.claim()
    world.cite(claim, world.source())
    stored = ClaimConfirmation.objects.filter(claim=claim.pk)
    stored.update(summary_rating="A1 (forged)")
    out = StringIO()

    call_command("recompute_confirmation", stdout=out)

    assert "1 changed" in out.getvalue()
    assert_true_everywhere()
    call_command("recompute_confirmation", "--check", stdout=StringIO())


def test_the_repair_gives_a_claim_without_its_confirmation_row_one(world):
    """A claim whose ClaimConfirmation is missing (made by raw SQL, say) is
    drift that the check names and the repair mends, with or without
    evidence."""
    cited, bare = world.claim(), world.claim()
    world.cite(cited, world.source())
    ClaimConfirmation.objects.filter(claim__in=[cited.pk, bare.pk]).delete()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("recompute_confirmation", "--check", stdout=out)
    assert f"claim #{cited.pk}" in out.getvalue()
    assert f"claim #{bare.pk}" in out.getvalue()

    call_command("recompute_confirmation", stdout=StringIO())

    assert ClaimConfirmation.objects.filter(claim__in=[cited.pk, bare.pk]).count() == 2
    assert stored(cited).likelihood_term != stored(bare).likelihood_term
    assert_true_everywhere()


# Concurrency (PostgreSQL) -------------------------------------------------------------


def _in_thread(job, ready: threading.Event | None = None, go=None):
    """Run job in its own transaction on its own connection; optionally signal
    `ready` before committing and wait for `go`."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with transaction.atomic():
                job()
                if ready is not None:
                    ready.set()
                    assert go.wait(timeout=30)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def two_editors_at_once(monkeypatch, *, take_turns: bool) -> tuple[Claim, bool]:
    """Two analysts add a citation to the same claim at the same moment; the first
    commits last. Returns the claim and whether the second had to wait."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; nothing to race")
    if not take_turns:
        monkeypatch.setattr(confirmation_store, "lock_writers", lambda: None)
    alice = AnalystFactory(username="alice", roles=["Analyst"])
    max_ = AnalystFactory(username="max", roles=["Manager"])
    world = World(alice, max_)
    claim = world.claim()
    world.cite(claim, world.source(grade="B"))
    first, second = world.source(grade="C"), world.source(grade="D")
    documents = [world.document(publisher=first), world.document(publisher=second)]

    first_ready, first_may_commit = threading.Event(), threading.Event()
    one, one_errors = _in_thread(
        lambda: world.cite(claim, first, document=documents[0]),
        first_ready,
        first_may_commit,
    )
    assert first_ready.wait(timeout=30)
    two, two_errors = _in_thread(
        lambda: world.cite(claim, second, document=documents[1])
    )
    two.join(timeout=2)
    waited = two.is_alive()
    first_may_commit.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert not one.is_alive() and not two.is_alive()
    assert one_errors == [] and two_errors == []
    return claim, waited


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_editors_at_once_leave_the_stored_result_true(monkeypatch):
    claim, waited = two_editors_at_once(monkeypatch, take_turns=True)

    assert waited
    assert Citation.objects.filter(claim=claim).count() == 3
    assert drift() == []


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_without_taking_turns_the_last_commit_would_store_a_stale_result(monkeypatch):
    # Shows what the writers' lock is for: remove it and the race is real.
    claim, _ = two_editors_at_once(monkeypatch, take_turns=False)

    assert [pk for pk, _ in drift()] == [claim.pk]


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the reads and writes overlap the computation on PostgreSQL only",
)


@needs_postgresql
def test_batches_are_read_and_written_beside_the_computation(world, monkeypatch):
    """On PostgreSQL a second thread runs each batch's queries, on the same
    connection and so in the same transaction, while the first computes."""
    monkeypatch.setattr(confirmation_store, "BATCH", 7)
    source = dependents(world, 30)
    threads = set()

    def note_thread(execute, sql, params, many, context):
        if "claims_confirmation" in sql and sql.lstrip().startswith("UPDATE"):
            threads.add(threading.current_thread().name)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note_thread):
        assert world.grade(source, "D") == 30
    assert len(threads) == 1 and threads.pop().startswith("confirmation-db")
    assert_true_everywhere()


def updates_of(table: str):
    """A wrapper counting the UPDATE statements of ``table``, into its list."""
    found = []

    def note(execute, sql, params, many, context):
        words = sql.split()
        if words[:1] == ["UPDATE"] and words[1].strip('"') == table:
            found.append(sql)
        return execute(sql, params, many, context)

    return found, note


def test_a_recomputation_rewrites_a_claim_s_row_only_for_its_level_or_flag(world):
    """What a grade change moves is stored on the narrow ClaimConfirmation rows:
    a claim's own row, with its dozen indexes, is rewritten only when its level
    or its re-review flag changes."""
    source = world.source(grade="B")
    moved, relevelled = world.claim(), world.claim()
    world.cite(moved, source)
    world.cite(relevelled, source)
    ClaimConfirmation.objects.filter(claim=moved.pk).update(likelihood=0.01)
    row = Claim.objects.filter(pk=moved.pk).values_list("updated_at", "version")
    before = list(row)

    claims, note = updates_of("claims_claim")
    confirmations, note_too = updates_of("claims_confirmation")
    with connection.execute_wrapper(note), connection.execute_wrapper(note_too):
        assert recompute_claims([moved.pk]) == 1
    assert (len(claims), len(confirmations)) == (0, 1)
    assert list(row.all()) == before
    assert_true_everywhere()

    Claim.objects.filter(pk=relevelled.pk).update(level=Level.CONFIRMED)
    with connection.execute_wrapper(note), connection.execute_wrapper(note_too):
        assert recompute_claims([moved.pk, relevelled.pk]) == 1
    assert (len(claims), len(confirmations)) == (1, 2)
    assert stored(relevelled).level == Level.SINGLE_SOURCE
    assert_true_everywhere()


@needs_postgresql
def test_a_failed_write_is_the_error_raised_and_nothing_is_kept(world, monkeypatch):
    """A write that PostgreSQL cancels aborts the transaction; the error raised
    is the cancellation (which pages turn into "try again"), not the failure of
    the queries queued after it, and no batch's result is kept."""
    monkeypatch.setattr(confirmation_store, "BATCH", 7)
    source = dependents(world, 30)
    stored = Claim.objects.order_by("pk").values_list("pk", "confirmation__likelihood")
    before = list(stored)
    write = confirmation_store._write
    calls = []

    def cancelled_second_write(rows, claims):
        calls.append(len(rows))
        if len(calls) == 2:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 1")
                cursor.execute("SELECT pg_sleep(1)")
        write(rows, claims)

    monkeypatch.setattr(confirmation_store, "_write", cancelled_second_write)
    with (
        pytest.raises(OperationalError, match="statement timeout"),
        transaction.atomic(),
    ):
        world.grade(source, "E")
    assert len(calls) >= 2  # writes queued before the failure was seen fail too
    assert list(stored.all()) == before


# Compiled once, given each call's ids ------------------------------------------------


def test_a_query_for_ids_is_compiled_once_and_given_each_call_s_ids(world):
    first, second, third = (world.claim() for _ in range(3))
    built = []

    def build(ids):
        built.append(ids)
        return Claim.objects.filter(pk__in=ids).order_by("pk").values_list("pk")

    fetch = confirmation_store.fetch_for_ids
    name = "test: claims by id"

    assert fetch(name, build, [third.pk, first.pk]) == [(first.pk,), (third.pk,)]
    assert fetch(name, build, [second.pk]) == [(second.pk,)]
    assert fetch(name, build, []) == []
    assert len(built) == 1


def test_a_query_bound_to_its_ids_twice_gets_the_call_s_ids_in_both_places(world):
    a, b, c = (world.claim() for _ in range(3))
    world.relate(a, b)
    world.relate(b, c, kind="contradicts")
    fetch = confirmation_store.fetch_for_ids
    name = "test: relations touching"
    touching = confirmation_store._relations_touching

    fetch(name, touching, [a.pk])
    rows = sorted(fetch(name, touching, [b.pk]))

    low, high = sorted((b.pk, c.pk))
    assert rows == sorted(
        [(min(a.pk, b.pk), max(a.pk, b.pk), "corroborates"), (low, high, "contradicts")]
    )


def test_a_change_recomputes_the_claims_it_reaches_with_all_their_relations(world):
    """Citing a recomputes b, one relation away, and b with its relation to c:
    the relations read to find b are a's alone, not all of b's."""
    a, b, c = (world.claim() for _ in range(3))
    world.relate(a, b)
    world.relate(b, c)
    world.cite(c, world.source(grade="A"))
    world.cite(b, world.source(grade="B"))
    Claim.objects.filter(pk=b.pk).update(level="unsourced")
    ClaimConfirmation.objects.filter(claim=b.pk).update(likelihood=0.5)

    world.cite(a, world.source(grade="C"))

    assert drift() == []


def test_a_query_without_the_ids_as_one_parameter_is_compiled_each_time(world):
    claim = world.claim()
    built = []

    def build(ids):
        built.append(ids)
        return Claim.objects.filter(pk=claim.pk).values_list("pk")

    name = "test: no ids bound"
    assert confirmation_store.fetch_for_ids(name, build, [1]) == [(claim.pk,)]
    for other in (2, 3):
        before = len(built)
        assert confirmation_store.fetch_for_ids(name, build, [other]) == [(claim.pk,)]
        assert len(built) == before + 1


# The writers' lock, asked of the database once a transaction (PostgreSQL) -----------


def _writers_lock_held() -> bool:
    key = confirmation_store.WRITER_LOCK
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND classid = %s AND objid = %s"
            " AND objsubid = 1",
            [key >> 32, key & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0] == 1


pg_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="an advisory lock of PostgreSQL's (SQLite lets one writer in at a time)",
)


def _lock_statements() -> int:
    with CaptureQueriesContext(connection) as taken:
        confirmation_store.lock_writers()
    return len(taken)


@pytest.mark.postgres_only
@pg_locks
def test_the_writers_lock_is_asked_for_once_a_transaction(db):
    assert not _writers_lock_held()
    assert _lock_statements() == 1
    assert _lock_statements() == 0
    with transaction.atomic():
        assert _lock_statements() == 0
    assert _writers_lock_held()


@pytest.mark.postgres_only
@pg_locks
def test_the_writers_lock_is_taken_again_after_its_savepoint_is_rolled_back(db):
    with pytest.raises(_Rollback), transaction.atomic():
        assert _lock_statements() == 1
        assert _writers_lock_held()
        raise _Rollback
    assert not _writers_lock_held()

    assert _lock_statements() == 1
    assert _writers_lock_held()


@pytest.mark.postgres_only
@pg_locks
def test_the_writers_lock_taken_in_a_released_savepoint_is_still_held(db):
    with transaction.atomic():
        assert _lock_statements() == 1
    assert _lock_statements() == 0
    assert _writers_lock_held()


@pytest.mark.postgres_only
@pg_locks
@pytest.mark.django_db(transaction=True)
def test_the_writers_lock_is_asked_for_again_in_the_next_transaction():
    with transaction.atomic():
        assert _lock_statements() == 1
    assert not _writers_lock_held()
    with transaction.atomic():
        assert _lock_statements() == 1
        assert _writers_lock_held()
