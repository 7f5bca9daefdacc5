"""The rules of DESIGN.md, "How confirmed is a claim", each as a test.

Plain Python, no database: run with ``pytest tests/test_confirmation_rules.py``.
Rules 6 and 7 (propagation, stored equals fresh) belong to the code that stores
results; here only what they rely on: ``compute()`` is deterministic and its stored
likelihood survives a 4-decimal round trip.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from dataclasses import dataclass, fields, replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from claims.confirmation import (
    CONFIDENCES,
    CREDIBILITIES,
    CREDIBILITY_QUALITY,
    GRADE_QUALITY,
    GRADES,
    LEVELS,
    LIKELIHOOD_CAP,
    LIKELIHOOD_TERMS,
    LOG_LR,
    MODEL_VERSION,
    Inputs,
    RelatedClaim,
    Report,
    Result,
    compute,
    compute_rows,
    likelihood_term,
    row_of,
)

PROPERTY = settings(max_examples=200, deadline=None)
TERMS = [value for value, _label, _low, _high in LIKELIHOOD_TERMS]
LIKELY = TERMS.index("likely")
FRESH_ORIGIN = 900  # never produced by the strategies below


# Strategies and helpers -----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    source_id: int
    origin_id: int
    grade: str


def name_of(entity_id: int) -> str:
    return f"Government {entity_id}" if entity_id >= 100 else f"Source {entity_id}"


def cite(
    source: Source,
    citation_id: int,
    credibility: int,
    supports: bool,
    retracted: bool = False,
) -> Report:
    return Report(
        citation_id=citation_id,
        source_id=source.source_id,
        source_name=name_of(source.source_id),
        origin_id=source.origin_id,
        origin_name=name_of(source.origin_id),
        grade=source.grade,
        credibility=credibility,
        supports=supports,
        retracted=retracted,
    )


@st.composite
def claim_inputs(draw: st.DrawFn) -> Inputs:
    """A claim with a few sources, some sharing an origin, and a few relations."""
    sources = [
        Source(
            source_id,
            draw(st.sampled_from((source_id, 100, 101, 102))),
            draw(st.sampled_from(GRADES)),
        )
        for source_id in range(1, draw(st.integers(1, 6)) + 1)
    ]
    citation_ids = itertools.count(1)

    def reports(max_size: int) -> tuple[Report, ...]:
        specs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(sources),
                    st.sampled_from(CREDIBILITIES),
                    st.booleans(),
                    st.sampled_from((False, False, False, True)),
                ),
                max_size=max_size,
            )
        )
        return tuple(cite(s, next(citation_ids), *rest) for s, *rest in specs)

    own = reports(6)
    related = tuple(
        RelatedClaim(1000 + i, f"Claim {1000 + i}", draw(st.booleans()), reports(4))
        for i in range(draw(st.integers(0, 3)))
    )
    return Inputs(reports=own, related=related)


def next_citation_id(inputs: Inputs) -> int:
    return 1 + max((r.citation_id for r in all_reports(inputs)), default=0)


def all_reports(inputs: Inputs) -> list[Report]:
    return list(inputs.reports) + [r for c in inputs.related for r in c.reports]


def landing(inputs: Inputs) -> list[tuple[Report, bool]]:
    """Each report that counts, with True if it counts for the claim (DESIGN.md)."""
    counted = [(r, r.supports) for r in inputs.reports]
    for claim in inputs.related:
        for r in claim.reports:
            if claim.corroborates:
                counted.append((r, r.supports))
            elif r.supports:
                counted.append((r, False))
    return counted


def weight(r: Report) -> float:
    return LOG_LR[(r.grade, r.credibility)]


def add_own(inputs: Inputs, *reports: Report) -> Inputs:
    return replace(inputs, reports=inputs.reports + reports)


def add_to_related(inputs: Inputs, corroborates: bool, report: Report) -> Inputs:
    """Add a report to the first related claim of that kind, or to a new one."""
    for i, claim in enumerate(inputs.related):
        if claim.corroborates == corroborates:
            changed = replace(claim, reports=claim.reports + (report,))
            related = inputs.related[:i] + (changed,) + inputs.related[i + 1 :]
            return replace(inputs, related=related)
    claim = RelatedClaim(999, "Claim 999", corroborates, (report,))
    return replace(inputs, related=inputs.related + (claim,))


def worse_or_equal(order: tuple, value: str | int) -> st.SearchStrategy:
    return st.sampled_from(order[order.index(value) :])


def same_but_explanation(a: Result, b: Result) -> bool:
    return replace(a, explanation=()) == replace(b, explanation=())


_ids: dict[str, int] = {}


def report(
    citation_id: int,
    source: str,
    rating: str,
    *,
    supports: bool = True,
    origin: str | None = None,
    retracted: bool = False,
) -> Report:
    """An example report; ids follow names, so one name is one source."""
    origin = origin or source
    return Report(
        citation_id=citation_id,
        source_id=_ids.setdefault(source, len(_ids) + 1),
        source_name=source,
        origin_id=_ids.setdefault(origin, len(_ids) + 1),
        origin_name=origin,
        grade=rating[0],
        credibility=int(rating[1]),
        supports=supports,
        retracted=retracted,
    )


# Rule 1: independence ---------------------------------------------------------------


@PROPERTY
@given(claim_inputs(), st.data())
def test_it_counts_an_origin_once_however_many_weaker_reports_repeat_it(
    inputs: Inputs, data: st.DataObject
) -> None:
    counted = [(r, side) for r, side in landing(inputs) if not r.retracted]
    assume(counted)
    original, side = data.draw(st.sampled_from(counted))
    # Another source of the same origin (an organ of one government, a relay),
    # rated no better, cited in another document or through a corroborating claim.
    repeat = replace(
        original,
        citation_id=next_citation_id(inputs),
        source_id=77,
        source_name="Relay 77",
        grade=data.draw(worse_or_equal(GRADE_QUALITY, original.grade)),
        credibility=data.draw(
            worse_or_equal(CREDIBILITY_QUALITY, original.credibility)
        ),
        supports=side,
    )
    if data.draw(st.booleans()):
        repeated = add_own(inputs, repeat)
    else:
        repeated = add_to_related(inputs, True, repeat)

    before, after = compute(inputs), compute(repeated)
    assert same_but_explanation(before, after)
    if side:
        count = 1 + sum(
            1 for r, s in counted if s and r.origin_id == original.origin_id
        )
        assert (
            f"· {count} reports, 1 origin ({original.origin_name}): "
            "possible circular reporting"
        ) in after.explanation


def test_the_page_says_n_reports_1_origin() -> None:
    ukraine = "Government of Ukraine"
    result = compute(
        Inputs(
            reports=(
                report(1, "President of Ukraine", "B3", origin=ukraine),
                report(2, "Center for Strategic Communication", "B2", origin=ukraine),
                report(3, "Center for Strategic Communication", "B2", origin=ukraine),
            )
        )
    )
    assert result.supporting_origins == 1
    assert (
        "· 3 reports, 1 origin (Government of Ukraine): possible circular reporting"
        in result.explanation
    )
    assert result.confidence == "low"


def test_two_organs_of_one_government_are_one_origin_so_a_single_source() -> None:
    ukraine = "Government of Ukraine"
    one_organ = Inputs(
        reports=(report(1, "Center for Strategic Communication", "B2", origin=ukraine),)
    )
    two_organs = add_own(
        one_organ, report(2, "President of Ukraine", "B2", origin=ukraine)
    )
    assert compute(two_organs).computed_level == "single_source"
    assert compute(two_organs).supporting_origins == 1
    assert compute(two_organs).likelihood == compute(one_organ).likelihood
    assert compute(two_organs).summary_rating == "B2"


def test_relaying_creates_no_independence() -> None:
    # The essay relays what South Korea's intelligence service announced; a news
    # article relays the same announcement. Both are citations of the service.
    in_the_essay = report(1, "National Intelligence Service", "B2")
    in_the_article = replace(in_the_essay, citation_id=2)
    once = compute(Inputs(reports=(in_the_essay,)))
    twice = compute(Inputs(reports=(in_the_essay, in_the_article)))
    assert twice.supporting_origins == once.supporting_origins == 1
    assert twice.likelihood == once.likelihood
    assert twice.computed_level == "single_source"


def test_a_related_claims_report_from_a_counted_origin_is_not_counted_again() -> None:
    own = report(1, "National Intelligence Service", "B2")
    carried = replace(own, citation_id=2, credibility=3)
    alone = compute(Inputs(reports=(own,)))
    related = compute(
        Inputs(reports=(own,), related=(RelatedClaim(12, "12,000", True, (carried,)),))
    )
    assert related.supporting_origins == 1
    assert related.likelihood == alone.likelihood


def test_an_origin_that_supports_and_denies_counts_on_both_sides() -> None:
    says = report(1, "Ministry of Defence", "B2", origin="Government of Russia")
    denies = report(2, "Kremlin", "B2", supports=False, origin="Government of Russia")
    result = compute(Inputs(reports=(says, denies)))
    assert result.likelihood == 0.5
    assert result.computed_level == "contested"
    assert "− contradicted by Kremlin (B2), part of Government of Russia" in (
        result.explanation
    )


# Rule 2: monotonic -----------------------------------------------------------------


@PROPERTY
@given(
    claim_inputs(),
    st.sampled_from(GRADES),
    st.sampled_from(CREDIBILITIES),
    st.sampled_from(("own", "corroborating claim")),
)
def test_an_added_independent_supporting_origin_never_lowers_the_likelihood(
    inputs: Inputs, grade: str, credibility: int, where: str
) -> None:
    newcomer = cite(
        Source(FRESH_ORIGIN, FRESH_ORIGIN, grade),
        next_citation_id(inputs),
        credibility,
        supports=True,
    )
    if where == "own":
        added = add_own(inputs, newcomer)
    else:
        added = add_to_related(inputs, True, newcomer)
    before, after = compute(inputs), compute(added)
    assert after.likelihood >= before.likelihood
    assert after.supporting_origins == before.supporting_origins + (
        weight(newcomer) > 0
    )


@PROPERTY
@given(
    claim_inputs(),
    st.sampled_from(GRADES),
    st.sampled_from(CREDIBILITIES),
    st.sampled_from(("own denial", "contradicting claim", "denied corroboration")),
)
def test_an_added_contradicting_origin_never_raises_the_likelihood(
    inputs: Inputs, grade: str, credibility: int, where: str
) -> None:
    source = Source(FRESH_ORIGIN, FRESH_ORIGIN, grade)
    citation_id = next_citation_id(inputs)
    if where == "own denial":
        added = add_own(inputs, cite(source, citation_id, credibility, False))
    elif where == "contradicting claim":
        added = add_to_related(
            inputs, False, cite(source, citation_id, credibility, True)
        )
    else:
        added = add_to_related(
            inputs, True, cite(source, citation_id, credibility, False)
        )
    before, after = compute(inputs), compute(added)
    assert after.likelihood <= before.likelihood
    assert after.supporting_origins == before.supporting_origins


@PROPERTY
@given(claim_inputs(), st.data())
def test_a_report_added_to_a_counted_origin_changes_the_likelihood_only_if_stronger(
    inputs: Inputs, data: st.DataObject
) -> None:
    counted = [(r, side) for r, side in landing(inputs) if not r.retracted]
    assume(counted)
    anchor, side = data.draw(st.sampled_from(counted))
    strongest = max(
        weight(r) for r, s in counted if s == side and r.origin_id == anchor.origin_id
    )
    added = replace(
        anchor,
        citation_id=next_citation_id(inputs),
        source_id=78,
        source_name="Agency 78",
        grade=data.draw(st.sampled_from(GRADES)),
        credibility=data.draw(st.sampled_from(CREDIBILITIES)),
        supports=side,
    )
    before, after = compute(inputs), compute(add_own(inputs, added))
    if weight(added) <= strongest:
        assert after.likelihood == before.likelihood
        assert after.supporting_origins == before.supporting_origins
        assert after.computed_level == before.computed_level
    elif side:
        assert after.likelihood >= before.likelihood
    else:
        assert after.likelihood <= before.likelihood


@PROPERTY
@given(claim_inputs(), st.data())
def test_a_better_grade_of_a_supporting_source_never_lowers_the_likelihood(
    inputs: Inputs, data: st.DataObject
) -> None:
    source_ids = sorted({r.source_id for r in all_reports(inputs)})
    assume(source_ids)
    source_id = data.draw(st.sampled_from(source_ids))
    # Only a source whose every report weighs for the claim is a supporting source;
    # one that also denies weighs on both sides and an upgrade raises both.
    against = {
        r.citation_id
        for r, side in landing(inputs)
        if not side and r.source_id == source_id
    }

    def keep(reports: tuple[Report, ...]) -> tuple[Report, ...]:
        return tuple(r for r in reports if r.citation_id not in against)

    base = Inputs(
        reports=keep(inputs.reports),
        related=tuple(replace(c, reports=keep(c.reports)) for c in inputs.related),
    )
    grade = next(r.grade for r in all_reports(inputs) if r.source_id == source_id)
    assume(grade != GRADE_QUALITY[0])
    # Nearest better grade first: one step up is where a table or rule slips.
    better = data.draw(
        st.sampled_from(GRADE_QUALITY[: GRADE_QUALITY.index(grade)][::-1])
    )

    def upgrade(reports: tuple[Report, ...]) -> tuple[Report, ...]:
        return tuple(
            replace(r, grade=better) if r.source_id == source_id else r for r in reports
        )

    upgraded = Inputs(
        reports=upgrade(base.reports),
        related=tuple(replace(c, reports=upgrade(c.reports)) for c in base.related),
    )
    assert compute(upgraded).likelihood >= compute(base).likelihood


def test_a_second_origin_gaining_weight_lifts_the_cap() -> None:
    strong = report(1, "National Intelligence Service", "A2")
    for grade in ("E", "F", "D", "C", "B", "A"):
        other = report(2, "Nishioka's sources", f"{grade}2")
        result = compute(Inputs(reports=(strong, other)))
        if grade == "E":
            assert result.likelihood == LIKELIHOOD_CAP
        else:
            assert result.likelihood > 0.8
            assert result.computed_level == "corroborated"


# Rule 3: order-free, deterministic, idempotent ---------------------------------------


@PROPERTY
@given(claim_inputs(), st.data())
def test_it_is_order_free(inputs: Inputs, data: st.DataObject) -> None:
    shuffled = Inputs(
        reports=tuple(data.draw(st.permutations(inputs.reports))),
        related=tuple(
            replace(c, reports=tuple(data.draw(st.permutations(c.reports))))
            for c in data.draw(st.permutations(inputs.related))
        ),
    )
    assert compute(shuffled) == compute(inputs)


@PROPERTY
@given(claim_inputs(), st.sampled_from((None, "confirmed", "refuted")))
def test_it_is_deterministic_and_idempotent(inputs: Inputs, ruling: str | None) -> None:
    inputs = replace(inputs, ruling=ruling)
    rebuilt = Inputs(
        reports=tuple(replace(r) for r in inputs.reports),
        related=tuple(replace(c) for c in inputs.related),
        ruling=ruling,
    )
    first = compute(inputs)
    assert compute(inputs) == first
    assert compute(rebuilt) == first
    assert first.version == MODEL_VERSION
    # Stored in a 4-decimal column, the likelihood reads back exactly, with its term.
    stored = float(Decimal(str(first.likelihood)).quantize(Decimal("0.0001")))
    assert stored == first.likelihood
    assert likelihood_term(stored) == first.likelihood_term


def test_balanced_weights_cancel_exactly_in_any_order() -> None:
    # 0.4 + 0.2 is not 0.6 in binary floating point.
    supporting = [
        report(1, "Regional newspaper", "C4"),
        report(2, "Unknown blogger", "F3"),
    ]
    denying = report(3, "Ministry of Defence", "B4", supports=False)
    results = {
        compute(Inputs(reports=(*order, denying)))
        for order in itertools.permutations(supporting)
    }
    assert len(results) == 1
    (result,) = results
    assert result.likelihood == 0.5
    assert result.supporting_origins == 2
    assert result.computed_level == "contested"


# Rule 4: grades matter -----------------------------------------------------------


def test_the_table_has_one_finite_non_negative_weight_per_rating() -> None:
    assert set(LOG_LR) == set(itertools.product(GRADES, CREDIBILITIES))
    assert all(math.isfinite(w) and w >= 0 for w in LOG_LR.values())


def test_an_E_source_has_no_evidential_weight_at_any_credibility() -> None:
    assert [LOG_LR[("E", c)] for c in CREDIBILITIES] == [0.0] * len(CREDIBILITIES)
    result = compute(Inputs(reports=(report(1, "Kremlin", "E2"),)))
    assert result.likelihood == 0.5
    assert result.supporting_origins == 0
    assert "· Kremlin (E2), independent origin: no evidential weight" in (
        result.explanation
    )


@PROPERTY
@given(claim_inputs(), st.sampled_from(CREDIBILITIES), st.booleans(), st.data())
def test_adding_an_E_report_anywhere_never_moves_the_likelihood(
    inputs: Inputs, credibility: int, supports: bool, data: st.DataObject
) -> None:
    origin = data.draw(st.sampled_from((FRESH_ORIGIN, 100, 101)))
    unreliable = cite(
        Source(79, origin, "E"), next_citation_id(inputs), credibility, supports
    )
    before, after = compute(inputs), compute(add_own(inputs, unreliable))
    assert after.likelihood == before.likelihood
    assert after.supporting_origins == before.supporting_origins


def test_an_F_source_has_some_weight() -> None:
    assert all(LOG_LR[("F", c)] > 0 for c in (2, 3, 4, 6))
    assert (
        compute(Inputs(reports=(report(1, "Unknown blogger", "F2"),))).likelihood > 0.5
    )


def test_an_A_source_weighs_at_least_as_much_as_any_grade() -> None:
    for grade, credibility in itertools.product(GRADES, CREDIBILITIES):
        assert LOG_LR[("A", credibility)] >= LOG_LR[(grade, credibility)]
    assert all(LOG_LR[("A", c)] > LOG_LR[("B", c)] for c in (2, 3, 4, 6))


def test_the_table_never_weighs_a_better_grade_or_credibility_less() -> None:
    for better, worse in itertools.combinations(GRADE_QUALITY, 2):
        for credibility in CREDIBILITIES:
            assert LOG_LR[(better, credibility)] >= LOG_LR[(worse, credibility)]
    for better, worse in itertools.combinations(CREDIBILITY_QUALITY, 2):
        for grade in GRADES:
            assert LOG_LR[(grade, better)] >= LOG_LR[(grade, worse)]


@PROPERTY
@given(claim_inputs())
def test_without_two_independent_origins_the_likelihood_is_likely_at_most(
    inputs: Inputs,
) -> None:
    result = compute(inputs)
    if result.supporting_origins < 2:
        assert result.likelihood <= LIKELIHOOD_CAP
        assert TERMS.index(result.likelihood_term) <= LIKELY


def test_it_holds_one_strong_origin_at_likely_and_says_so() -> None:
    nis = [report(i, "National Intelligence Service", "A2") for i in (1, 2, 3)]
    result = compute(Inputs(reports=tuple(nis)))
    assert result.likelihood == LIKELIHOOD_CAP
    assert result.likelihood_term == "likely"
    assert result.explanation[-1] == (
        "· fewer than two independent origins: likelihood held at 'likely' at most"
    )
    two = compute(Inputs(reports=(nis[0], report(4, "Yonhap's own sources", "A2"))))
    assert two.likelihood_term == "almost_certain"
    assert not any("fewer than two" in line for line in two.explanation)


# Rule 5: one step of relations -------------------------------------------------------


def test_a_related_claim_carries_no_relations_of_its_own() -> None:
    assert {f.name for f in fields(RelatedClaim)} == {
        "claim_id",
        "statement",
        "corroborates",
        "reports",
    }


def test_a_cycle_of_relations_terminates_and_carries_one_step() -> None:
    # Claim 1 corroborates 2, 2 corroborates 3, 3 corroborates 1: a cycle.
    citations = {
        1: (report(1, "President of Ukraine", "B3"),),
        2: (report(2, "Nishioka's sources", "C3"),),
        3: (report(3, "Ukrainian media", "D4"),),
    }
    relations = {1: (2, 3), 2: (1, 3), 3: (1, 2)}

    def inputs_for(claim_id: int, graph: dict[int, tuple[int, ...]]) -> Inputs:
        return Inputs(
            reports=citations[claim_id],
            related=tuple(
                RelatedClaim(other, f"Claim {other}", True, citations[other])
                for other in graph[claim_id]
            ),
        )

    results = {claim: compute(inputs_for(claim, relations)) for claim in citations}
    assert all(result.supporting_origins == 3 for result in results.values())
    # Cut the 2-3 link: claim 1 still sees 3 directly, claim 2 no longer does.
    without = {1: (2, 3), 2: (1,), 3: (1,)}
    assert compute(inputs_for(1, without)) == results[1]
    assert compute(inputs_for(2, without)).supporting_origins == 2


def test_a_corroborating_claim_raises_it_and_a_contradicting_one_lowers_it() -> None:
    zelensky = report(1, "President of Ukraine", "B3")
    nishioka = report(2, "Nishioka's sources", "C3")
    nis = report(3, "National Intelligence Service", "B2")
    alone = compute(Inputs(reports=(zelensky,)))
    corroborated = compute(
        Inputs(
            reports=(zelensky,),
            related=(RelatedClaim(12, "about 10,000 by year-end", True, (nishioka,)),),
        )
    )
    contradicted = compute(
        Inputs(
            reports=(zelensky,),
            related=(RelatedClaim(13, "about 12,000 special forces", False, (nis,)),),
        )
    )
    assert corroborated.likelihood > alone.likelihood
    assert contradicted.likelihood < alone.likelihood
    assert corroborated.computed_level == "corroborated"
    assert corroborated.summary_rating == "B1 (derived)"
    assert "+ Nishioka's sources (C3), via corroborating claim #12" in (
        corroborated.explanation
    )
    assert contradicted.computed_level == "contested"
    assert (
        "− contradicted by National Intelligence Service (B2), "
        "via contradicting claim #13" in contradicted.explanation
    )


def test_a_denial_of_a_contradicting_claim_is_ignored() -> None:
    own = report(1, "President of Ukraine", "B3")
    denial = report(2, "Kremlin", "C2", supports=False)
    alone = compute(Inputs(reports=(own,)))
    related = compute(
        Inputs(reports=(own,), related=(RelatedClaim(13, "12,000", False, (denial,)),))
    )
    assert same_but_explanation(related, alone)


def test_a_denial_of_a_corroborating_claim_counts_against() -> None:
    own = report(1, "President of Ukraine", "B3")
    denial = report(2, "Kremlin", "C2", supports=False)
    alone = compute(Inputs(reports=(own,)))
    related = compute(
        Inputs(reports=(own,), related=(RelatedClaim(12, "10,000", True, (denial,)),))
    )
    assert related.likelihood < alone.likelihood
    assert related.computed_level == "contested"


# Likelihood terms (ICD 203) -------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "term"),
    [
        (0.0, "almost_no_chance"),
        (0.0499, "almost_no_chance"),
        (0.05, "very_unlikely"),
        (0.1999, "very_unlikely"),
        (0.20, "unlikely"),
        (0.4499, "unlikely"),
        (0.45, "roughly_even"),
        (0.5, "roughly_even"),
        (0.55, "roughly_even"),
        (0.5501, "likely"),
        (0.7999, "likely"),
        (0.80, "very_likely"),
        (0.9499, "very_likely"),
        (0.95, "almost_certain"),
        (1.0, "almost_certain"),
    ],
)
def test_it_names_each_band_by_its_icd_203_term(p: float, term: str) -> None:
    assert likelihood_term(p) == term


@PROPERTY
@given(st.floats(0, 1), st.floats(0, 1))
def test_the_terms_cover_zero_to_one_in_order(p: float, q: float) -> None:
    p, q = sorted((p, q))
    assert TERMS.index(likelihood_term(p)) <= TERMS.index(likelihood_term(q))
    _value, _label, low, high = LIKELIHOOD_TERMS[TERMS.index(likelihood_term(p))]
    assert low <= p <= high


@pytest.mark.parametrize("p", [-0.0001, 1.0001, math.nan])
def test_it_refuses_a_probability_outside_zero_to_one(p: float) -> None:
    with pytest.raises(ValueError):
        likelihood_term(p)


HEDGES = re.compile(r"\b(possible|may|could)\b", re.IGNORECASE)


@PROPERTY
@given(claim_inputs(), st.sampled_from((None, "confirmed")))
def test_it_never_words_a_likelihood_as_possible_may_or_could(
    inputs: Inputs, ruling: str | None
) -> None:
    assert not any(HEDGES.search(label) for _v, label, _l, _h in LIKELIHOOD_TERMS)
    for line in compute(replace(inputs, ruling=ruling)).explanation:
        assert not HEDGES.search(line.replace("possible circular reporting", ""))


# Level, ruling, confidence, summary rating ----------------------------------------


@PROPERTY
@given(claim_inputs(), st.sampled_from(("confirmed", "refuted")))
def test_a_ruling_overrides_the_level_but_not_the_likelihood(
    inputs: Inputs, ruling: str
) -> None:
    computed = compute(inputs)
    ruled = compute(replace(inputs, ruling=ruling))
    assert ruled.level == ruling
    assert computed.level == computed.computed_level
    assert computed.computed_level not in ("confirmed", "refuted")
    assert ruled.computed_level == computed.computed_level
    assert ruled.likelihood == computed.likelihood
    assert ruled.summary_rating == computed.summary_rating
    label = dict((v, lbl) for v, lbl, _l, _h in LIKELIHOOD_TERMS)[ruled.likelihood_term]
    assert ruled.explanation[-1].startswith(
        f"= ruled {ruling} by a reviewer; computed likelihood remains '{label}'"
    )


def test_it_refuses_a_ruling_it_does_not_know() -> None:
    with pytest.raises(ValueError):
        Inputs(reports=(), ruling="sent_back")


def test_it_refuses_a_grade_or_credibility_off_the_admiralty_scale() -> None:
    with pytest.raises(ValueError):
        report(1, "Somebody", "G2")
    with pytest.raises(ValueError):
        report(1, "Somebody", "A1")


@pytest.mark.parametrize(
    ("reports", "level"),
    [
        ((), "unsourced"),
        ((report(1, "Retracted outlet", "A2", retracted=True),), "unsourced"),
        ((report(1, "Kremlin", "E2"),), "single_source"),
        ((report(1, "National Intelligence Service", "B2"),), "single_source"),
        ((report(1, "Kremlin", "C3", supports=False),), "contested"),
        ((report(1, "Kremlin", "E3", supports=False),), "contested"),
        (
            (report(1, "NIS", "B2"), report(2, "Nishioka's sources", "C3")),
            "corroborated",
        ),
        (
            (
                report(1, "Blogger", "F6"),
                report(2, "Forum", "F6"),
                report(3, "Ministry of Defence", "A2", supports=False),
            ),
            "contested",
        ),
    ],
)
def test_it_levels_claims_from_evidence_alone(reports: tuple, level: str) -> None:
    assert compute(Inputs(reports=reports)).computed_level == level


def test_levels_and_confidences_are_the_documented_words() -> None:
    assert [v for v, _ in LEVELS] == [
        "unsourced",
        "single_source",
        "corroborated",
        "contested",
        "confirmed",
        "refuted",
    ]
    assert dict(LEVELS)["single_source"] == "single source"
    assert [v for v, _ in CONFIDENCES] == ["low", "moderate", "high"]


def test_a_retracted_report_carries_no_weight_and_the_explanation_says_so() -> None:
    kept = report(1, "National Intelligence Service", "B2")
    gone = report(2, "Yonhap", "A2", retracted=True)
    result = compute(Inputs(reports=(kept, gone)))
    assert result.likelihood == compute(Inputs(reports=(kept,))).likelihood
    assert result.supporting_origins == 1
    assert "· report by Yonhap: document retracted, no weight" in result.explanation


def test_confidence_is_high_only_when_well_sourced_uncontested_and_confirmed() -> None:
    nis = report(1, "National Intelligence Service", "A2")
    ukraine = report(2, "Government of Ukraine", "B2")
    kremlin = report(3, "Kremlin", "C3", supports=False)
    assert compute(Inputs((nis, ukraine), ruling="confirmed")).confidence == "high"
    assert compute(Inputs((nis, ukraine))).confidence == "moderate"
    assert compute(Inputs((nis, ukraine, kremlin))).confidence == "low"
    assert (
        compute(Inputs((nis, ukraine, kremlin), ruling="confirmed")).confidence
        == "moderate"
    )


@pytest.mark.parametrize(
    "reports",
    [
        (report(1, "National Intelligence Service", "A2"),),
        (report(1, "Ukrainian media", "D2"), report(2, "Telegram channel", "D2")),
        (report(1, "Unknown blogger", "F2"), report(2, "Russian media", "D3")),
    ],
    ids=["one origin", "only D sources", "only D-F sources"],
)
def test_confidence_is_low_for_one_origin_or_only_weak_sources(reports: tuple) -> None:
    assert compute(Inputs(reports, ruling="confirmed")).confidence == "low"


@PROPERTY
@given(claim_inputs(), st.sampled_from((None, "confirmed", "refuted")))
def test_confidence_is_never_high_without_a_confirmation_and_two_origins(
    inputs: Inputs, ruling: str | None
) -> None:
    result = compute(replace(inputs, ruling=ruling))
    if ruling != "confirmed" or result.supporting_origins < 2:
        assert result.confidence != "high"
    if result.supporting_origins < 2:
        assert result.confidence == "low"


@pytest.mark.parametrize(
    ("reports", "rating"),
    [
        (
            (report(1, "NIS", "B2"), report(2, "Nishioka's sources", "C3")),
            "B1 (derived)",
        ),
        ((report(1, "Nishioka's sources", "C3"),), "C3"),
        ((report(1, "Nishioka's sources", "C3"), report(2, "Kremlin", "E2")), "C3"),
        ((report(1, "Kremlin", "E2"),), "E2"),
        ((report(1, "Kremlin", "C3", supports=False),), ""),
        ((), ""),
    ],
)
def test_it_summarises_the_best_grade_and_derived_credibility(
    reports: tuple, rating: str
) -> None:
    assert compute(Inputs(reports=reports)).summary_rating == rating


# The engine's two entry points and its exact results ---------------------------------


@PROPERTY
@given(claim_inputs(), st.sampled_from((None, "confirmed", "refuted")))
def test_rows_give_the_same_result_as_reports(
    inputs: Inputs, ruling: str | None
) -> None:
    """compute_rows() (the store's entry: plain tuples, no Report per citation)
    and compute() agree, whatever the ruling."""
    result = compute_rows(
        [row_of(r) for r in inputs.reports],
        [
            (c.claim_id, c.corroborates, [row_of(r) for r in c.reports])
            for c in inputs.related
        ],
        ruling,
    )
    assert result == compute(replace(inputs, ruling=ruling))


def test_rows_refuse_a_ruling_the_engine_does_not_know() -> None:
    with pytest.raises(ValueError, match="ruling"):
        compute_rows([], [], "probable")


def seeded_inputs(count: int, seed: int = 20261129):
    """Inputs drawn from a fixed seed: few sources sharing names and origins, so
    that ties between reports are common; retractions, denials, rulings."""
    rng = random.Random(seed)

    def report(citation_id: int) -> Report:
        source_id = rng.randint(1, 5)
        origin_id = rng.choice((source_id, source_id, 100, 101))
        return Report(
            citation_id=citation_id,
            source_id=source_id,
            source_name=f"Source {source_id}",
            origin_id=origin_id,
            origin_name=name_of(origin_id)
            if origin_id >= 100
            else f"Source {origin_id}",
            grade=rng.choice(GRADES),
            credibility=rng.choice(CREDIBILITIES),
            supports=rng.random() < 0.7,
            retracted=rng.random() < 0.15,
        )

    for _ in range(count):
        ids = iter(rng.sample(range(1, 1000), 30))
        own = tuple(report(next(ids)) for _ in range(rng.randint(0, 6)))
        related = tuple(
            RelatedClaim(
                claim_id=rng.randint(1000, 1010),
                statement="",
                corroborates=rng.random() < 0.6,
                reports=tuple(report(next(ids)) for _ in range(rng.randint(0, 4))),
            )
            for _ in range(rng.choice((0, 0, 1, 2, 3)))
        )
        ruling = rng.choice((None, None, "confirmed", "refuted"))
        yield Inputs(reports=own, related=related, ruling=ruling)


def test_the_engine_gives_model_1_s_results_to_the_letter() -> None:
    """Every field of 5,000 seeded results, explanation lines and their order
    included, hashes as the engine of session 4 gave them (before it took plain
    tuples). A change of the results needs a new MODEL_VERSION, and a new digest."""
    digest = hashlib.sha256()
    for inputs in seeded_inputs(5000):
        digest.update(repr(compute(inputs)).encode())
    assert MODEL_VERSION == "1"
    assert digest.hexdigest() == (
        "c1090e19e1cfacba2b31fb0d2738ac9b86e41ee2c418d8579aee045cfc0cf1ce"
    )
