"""How confirmed is a claim: a pure computation from a claim's inputs to its result.

No Django and no database here: the caller gathers a claim's citations, its related
claims' own citations and its latest ruling into ``Inputs``; ``compute()`` returns a
``Result`` to store on the claim (``compute_rows()`` takes the same inputs as plain
tuples, as the store reads them from the database). The same inputs always give the
same result, so a stored result can be checked against a fresh one (DESIGN.md, "How
confirmed is a claim", rule 7).

The model
---------
Likelihood is a log-odds sum. The prior is 0.5 (log-odds 0). Every report has a
weight, the natural log of its likelihood ratio, read from ``LOG_LR`` by the citing
source's current grade and the analyst's credibility rating of the report:

    log LR      cred 2   cred 3   cred 4   cred 6   cred 5   (LR of cred 2)
    grade A      2.20     1.50     0.80     0.40     0.00    (~9.0)
    grade B      1.60     1.10     0.60     0.30     0.00    (~5.0)
    grade C      1.10     0.70     0.40     0.20     0.00    (~3.0)
    grade D      0.50     0.30     0.15     0.10     0.00    (~1.6)
    grade F      0.30     0.20     0.10     0.05     0.00    (~1.35)
    grade E      0.00     0.00     0.00     0.00     0.00    (1: no weight)

Columns and rows are in order of quality, best first. F ("cannot be judged") sits
between D and E; credibility 6 ("cannot be judged") between 4 and 5, because a report
the analyst rated "improbable" (5) is no evidence for what it says. The table never
decreases towards a better grade or a better credibility.

Evidence for the claim: its own supporting reports, and, one step only, the
supporting reports of claims that corroborate it. Evidence against: its own denying
reports, the supporting reports of claims that contradict it, and the denying reports
of claims that corroborate it. Denials of a contradicting claim are ignored. A
retracted report is left out (the explanation names it): no weight, and a claim whose
every citation is retracted is unsourced.

Independence: each side is grouped by origin (the top of the citing source's "part
of" chain); an origin adds only its strongest report on that side, however many
reports, documents or related claims repeat it. An origin that both supports and
denies counts on both sides.

    likelihood = logistic(sum of origins' weights for - sum of origins' weights against)

With fewer than two supporting origins of positive weight ("weighted origins") the
likelihood is capped at ``LIKELIHOOD_CAP`` (the top of "likely"), then rounded to 4
decimals. Adding a supporting report can only raise the sum and the count of weighted
origins (which can only lift the cap); adding a denial can only raise the sum
against. So the likelihood never falls when support is added, never rises when a
denial is added, and never falls when a source that only supports is graded better.

Level from evidence: *unsourced* without any counted report; *corroborated* with two
or more weighted origins and more weight for than against; *contested* with weighted
evidence against, or with denials only; else *single source*. A ruling (confirmed or
refuted) replaces the level, never the likelihood.

Confidence: *high* with two or more weighted origins graded A or B, no weighted
evidence against, and a confirmed ruling; *low* with at most one weighted origin, or
only D, E or F sources supporting, or weighted evidence against and no ruling, or
suspected circular reporting (more supporting reports than origins and fewer than
two weighted origins); else *moderate*.

Summary rating: the best grade among the weighted supporting origins (all supporting
origins when none has weight), each represented by its strongest report, then "1
(derived)" with two or more weighted origins, else their best intake credibility.

Bump ``MODEL_VERSION`` whenever the table or a rule here changes, so that stored
results say which model made them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MODEL_VERSION = "1"

GRADES = ("A", "B", "C", "D", "E", "F")
CREDIBILITIES = (2, 3, 4, 5, 6)

# Best first. Used for every "better"/"best" comparison of grades and credibilities.
GRADE_QUALITY = ("A", "B", "C", "D", "F", "E")
CREDIBILITY_QUALITY = (2, 3, 4, 6, 5)

LOG_LR: dict[tuple[str, int], float] = {
    ("A", 2): 2.20, ("A", 3): 1.50, ("A", 4): 0.80, ("A", 6): 0.40, ("A", 5): 0.0,
    ("B", 2): 1.60, ("B", 3): 1.10, ("B", 4): 0.60, ("B", 6): 0.30, ("B", 5): 0.0,
    ("C", 2): 1.10, ("C", 3): 0.70, ("C", 4): 0.40, ("C", 6): 0.20, ("C", 5): 0.0,
    ("D", 2): 0.50, ("D", 3): 0.30, ("D", 4): 0.15, ("D", 6): 0.10, ("D", 5): 0.0,
    ("F", 2): 0.30, ("F", 3): 0.20, ("F", 4): 0.10, ("F", 6): 0.05, ("F", 5): 0.0,
    ("E", 2): 0.00, ("E", 3): 0.00, ("E", 4): 0.00, ("E", 6): 0.00, ("E", 5): 0.0,
}  # fmt: skip

# ICD 203 terms: (value, label, low, high). Every band is [low, high) except
# "roughly even chance" and "almost certain", which are closed above.
LIKELIHOOD_TERMS = (
    ("almost_no_chance", "almost no chance", 0.0, 0.05),
    ("very_unlikely", "very unlikely", 0.05, 0.20),
    ("unlikely", "unlikely", 0.20, 0.45),
    ("roughly_even", "roughly even chance", 0.45, 0.55),
    ("likely", "likely", 0.55, 0.80),
    ("very_likely", "very likely", 0.80, 0.95),
    ("almost_certain", "almost certain", 0.95, 1.0),
)
_CLOSED_ABOVE = frozenset({"roughly_even", "almost_certain"})
LIKELIHOOD_LABELS = {value: label for value, label, _, _ in LIKELIHOOD_TERMS}

# Highest likelihood a claim gets without two independent weighted origins: "likely".
LIKELIHOOD_CAP = 0.7999

UNSOURCED = "unsourced"
SINGLE_SOURCE = "single_source"
CORROBORATED = "corroborated"
CONTESTED = "contested"
CONFIRMED = "confirmed"
REFUTED = "refuted"
LEVELS = (
    (UNSOURCED, "unsourced"),
    (SINGLE_SOURCE, "single source"),
    (CORROBORATED, "corroborated"),
    (CONTESTED, "contested"),
    (CONFIRMED, "confirmed"),
    (REFUTED, "refuted"),
)
LEVEL_LABELS = dict(LEVELS)
RULINGS = (CONFIRMED, REFUTED)

LOW = "low"
MODERATE = "moderate"
HIGH = "high"
CONFIDENCES = ((LOW, "low"), (MODERATE, "moderate"), (HIGH, "high"))

_GRADE_RANK = {grade: rank for rank, grade in enumerate(GRADE_QUALITY)}
_CREDIBILITY_RANK = {cred: rank for rank, cred in enumerate(CREDIBILITY_QUALITY)}


@dataclass(frozen=True)
class Report:
    """One citation as the engine sees it.

    ``grade`` is the citing source's grade today, not the one kept on the citation:
    a downgrade has to reach every claim that depends on the source.
    """

    citation_id: int
    source_id: int
    source_name: str
    origin_id: int
    origin_name: str
    grade: str
    credibility: int
    supports: bool
    retracted: bool = False

    def __post_init__(self) -> None:
        if self.grade not in GRADES:
            raise ValueError(f"grade must be one of {GRADES}, not {self.grade!r}")
        if self.credibility not in CREDIBILITIES:
            raise ValueError(
                f"credibility must be one of {CREDIBILITIES}, not {self.credibility!r}"
            )

    @property
    def rating(self) -> str:
        return f"{self.grade}{self.credibility}"


@dataclass(frozen=True)
class RelatedClaim:
    """A claim that corroborates or contradicts this one, with its own citations.

    It has no relations of its own on purpose: evidence travels one step, so a cycle
    of relations cannot make the computation loop.
    """

    claim_id: int
    statement: str
    corroborates: bool
    reports: tuple[Report, ...]


@dataclass(frozen=True)
class Inputs:
    """Everything ``compute()`` reads about one claim."""

    reports: tuple[Report, ...]
    related: tuple[RelatedClaim, ...] = ()
    ruling: str | None = None

    def __post_init__(self) -> None:
        if self.ruling is not None and self.ruling not in RULINGS:
            raise ValueError(f"ruling must be one of {RULINGS} or None")


@dataclass(frozen=True)
class Result:
    """What is stored on the claim; ``likelihood`` is rounded to 4 decimals."""

    likelihood: float
    likelihood_term: str
    confidence: str
    level: str
    computed_level: str
    summary_rating: str
    explanation: tuple[str, ...]
    supporting_origins: int
    version: str


def likelihood_term(p: float) -> str:
    """Return the ICD 203 term (its value) for the probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be within [0, 1], not {p!r}")
    for value, _label, _low, high in LIKELIHOOD_TERMS:
        if p < high or (p == high and value in _CLOSED_ABOVE):
            return value
    raise AssertionError("unreachable: the bands cover [0, 1]")


# A report as compute_rows() takes it: Report's fields as a plain tuple, in
# Report's order.
#   (citation_id, source_id, source_name, origin_id, origin_name, grade,
#    credibility, supports, retracted)
Row = tuple

# Per rating: its place in the order of strength (heavier first, then better
# grade, then better credibility) and its weight in hundredths, the decimals the
# table is written in. Summed as whole hundredths the total is exact, so it cannot
# depend on the order of origins, and equal weights for and against cancel to
# exactly zero; n / 100 is then the float nearest the decimal sum.
_STRENGTH = sorted(
    LOG_LR,
    key=lambda rating: (
        -LOG_LR[rating],
        _GRADE_RANK[rating[0]],
        _CREDIBILITY_RANK[rating[1]],
    ),
)
_RATING: dict[tuple[str, int], tuple[int, int]] = {
    rating: (order, int(Decimal(repr(LOG_LR[rating])) * 100))
    for order, rating in enumerate(_STRENGTH)
}

# A piece of evidence is a tuple (key, row, via, for_claim, weight in hundredths);
# via is None for the claim's own citation, else (claim_id, corroborates) of the
# related claim that carries it. Every min and sort compares the key: strongest
# first (weight, grade, credibility), then names and ids so that the order is total
# and independent of the order of the inputs.
_KEY, _ROW, _VIA, _FOR, _WEIGHT = range(5)
# An origin is a list [strongest evidence, number of reports]: its strongest report
# speaks for it.


def _origin_key(origin: list) -> tuple:
    return origin[0][_KEY]


def _evidence_key(item: tuple) -> tuple:
    return item[_KEY]


def _logistic(x: float) -> float:
    # Clamped so exp() cannot overflow; beyond ±50 the result rounds to 0 or 1 anyway.
    x = max(-50.0, min(50.0, x))
    return 1.0 / (1.0 + math.exp(-x))


def row_of(report: Report) -> Row:
    """The report as compute_rows() takes it."""
    return (
        report.citation_id,
        report.source_id,
        report.source_name,
        report.origin_id,
        report.origin_name,
        report.grade,
        report.credibility,
        report.supports,
        report.retracted,
    )


def compute(inputs: Inputs) -> Result:
    """Compute how confirmed a claim is from its citations, relations and ruling."""
    return compute_rows(
        [row_of(r) for r in inputs.reports],
        [
            (
                related.claim_id,
                related.corroborates,
                [row_of(r) for r in related.reports],
            )
            for related in inputs.related
        ],
        inputs.ruling,
    )


def compute_rows(
    reports: Iterable[Row],
    related: Iterable[tuple[int, bool, Iterable[Row]]] = (),
    ruling: str | None = None,
    *,
    explain: bool = True,
) -> Result:
    """``compute()`` for inputs given as plain tuples, without a Report per
    citation: the claim's own reports as rows in Report's field order, each related
    claim as (claim_id, corroborates, its rows), and the ruling. A related claim's
    statement is no input of the computation. The rows are not checked: a grade or
    credibility off the scale raises KeyError.

    With ``explain=False`` the result has no explanation (an empty tuple) and is
    otherwise the same: what is stored, without the words only a page shows."""
    if ruling is not None and ruling not in RULINGS:
        raise ValueError(f"ruling must be one of {RULINGS} or None")
    rating = _RATING
    evidence = []
    # A key: the rating's strength, the source's name and id, the origin's name and
    # id, the claim that carries the report (-1: this one), the citation's id.
    for row in reports:
        order, weight = rating[row[5], row[6]]
        key = (order, row[2], row[1], row[4], row[3], -1, row[0], row[7], row[8])
        evidence.append((key, row, None, row[7], weight))
    for other, corroborates, rows in related:
        via = (other, corroborates)
        for row in rows:
            supports = row[7]
            if corroborates:
                for_claim = supports
            elif supports:
                for_claim = False
            else:
                # A denial of a contradicting claim is ignored: two claims can
                # contradict each other and both be false ("10,000" and "12,000"
                # against "none").
                continue
            order, weight = rating[row[5], row[6]]
            key = (
                order,
                row[2],
                row[1],
                row[4],
                row[3],
                other,
                row[0],
                supports,
                row[8],
            )
            evidence.append((key, row, via, for_claim, weight))

    # Each side grouped by origin: an origin adds only its strongest report.
    retracted_items = []
    for_groups: dict[int, list] = {}
    against_groups: dict[int, list] = {}
    only_weak_sources = True
    for item in evidence:
        row = item[_ROW]
        if row[8]:
            retracted_items.append(item)
            continue
        if item[_FOR]:
            groups = for_groups
            if row[5] not in ("D", "E", "F"):
                only_weak_sources = False
        else:
            groups = against_groups
        group = groups.get(row[3])
        if group is None:
            groups[row[3]] = [item, 1]
        else:
            group[1] += 1
            if item[_KEY] < group[0][_KEY]:
                group[0] = item
    retracted_items.sort(key=_evidence_key)
    for_origins = sorted(for_groups.values(), key=_origin_key)
    against_origins = sorted(against_groups.values(), key=_origin_key)
    weighted_for = [origin for origin in for_origins if origin[0][_WEIGHT] > 0]
    weighted_against = [o for o in against_origins if o[0][_WEIGHT] > 0]
    supporting_origins = len(weighted_for)

    log_odds = sum([origin[0][_WEIGHT] for origin in for_origins]) - sum(
        [origin[0][_WEIGHT] for origin in against_origins]
    )  # in hundredths
    raw = _logistic(log_odds / 100)
    capped = supporting_origins < 2 and raw > LIKELIHOOD_CAP
    likelihood = round(min(raw, LIKELIHOOD_CAP) if capped else raw, 4)
    term = likelihood_term(likelihood)

    if not for_groups and not against_groups:
        computed_level = UNSOURCED
    elif supporting_origins >= 2 and log_odds > 0:
        computed_level = CORROBORATED
    elif weighted_against or not for_origins:
        # A claim only denied is contested even when the denial has no weight.
        computed_level = CONTESTED
    else:
        computed_level = SINGLE_SOURCE
    level = ruling if ruling in RULINGS else computed_level

    supporting_reports = sum([origin[1] for origin in for_origins])
    circular = supporting_reports > len(for_origins) and supporting_origins < 2
    strong_origins = [o for o in weighted_for if o[0][_ROW][5] in ("A", "B")]
    if len(strong_origins) >= 2 and not weighted_against and ruling == CONFIRMED:
        confidence = HIGH
    elif (
        supporting_origins <= 1
        or only_weak_sources
        or (weighted_against and ruling is None)
        or circular
    ):
        confidence = LOW
    else:
        confidence = MODERATE

    return Result(
        likelihood=likelihood,
        likelihood_term=term,
        confidence=confidence,
        level=level,
        computed_level=computed_level,
        summary_rating=_summary_rating(for_origins, weighted_for),
        explanation=_explain(
            for_origins,
            against_origins,
            retracted_items,
            capped=capped,
            ruling=ruling,
            term=term,
            computed_level=computed_level,
        )
        if explain
        else (),
        supporting_origins=supporting_origins,
        version=MODEL_VERSION,
    )


def _summary_rating(for_origins: list[list], weighted_for: list[list]) -> str:
    # Origins without weight are no evidence; they only rate a claim nothing else
    # supports.
    rated = weighted_for or for_origins
    if not rated:
        return ""
    rows = [origin[0][_ROW] for origin in rated]
    grade = min((row[5] for row in rows), key=_GRADE_RANK.__getitem__)
    if len(weighted_for) >= 2:
        return f"{grade}1 (derived)"
    credibility = min((row[6] for row in rows), key=_CREDIBILITY_RANK.__getitem__)
    return f"{grade}{credibility}"


def _provenance(item: tuple, *, counted: bool = True) -> str:
    row = item[_ROW]
    via = item[_VIA]
    part_of = f", part of {row[4]}" if row[1] != row[3] else ""
    if via is None:
        return part_of + ", independent origin" if item[_FOR] and counted else part_of
    if not via[1]:
        return f"{part_of}, via contradicting claim #{via[0]}"
    if row[7]:
        return f"{part_of}, via corroborating claim #{via[0]}"
    return f"{part_of}, denying corroborating claim #{via[0]}"


def _explain(
    for_origins: list[list],
    against_origins: list[list],
    retracted: list[tuple],
    *,
    capped: bool,
    ruling: str | None,
    term: str,
    computed_level: str,
) -> tuple[str, ...]:
    lines = []
    for item, count in for_origins:
        row = item[_ROW]
        said = f"{row[2]} ({row[5]}{row[6]}){_provenance(item)}"
        if item[_WEIGHT] > 0:
            lines.append(f"+ {said}")
        else:
            lines.append(f"· {said}: no evidential weight")
        if count > 1:
            lines.append(
                f"· {count} reports, 1 origin ({row[4]}): possible circular reporting"
            )
    for item, count in against_origins:
        row = item[_ROW]
        said = f"contradicted by {row[2]} ({row[5]}{row[6]}){_provenance(item)}"
        if item[_WEIGHT] > 0:
            lines.append(f"− {said}")
        else:
            lines.append(f"· {said}: no evidential weight")
        if count > 1:
            lines.append(f"· {count} denials, 1 origin ({row[4]}): counted once")
    for item in retracted:
        lines.append(
            f"· report by {item[_ROW][2]}{_provenance(item, counted=False)}: "
            "document retracted, no weight"
        )
    if not for_origins and not against_origins and not retracted:
        lines.append("· no citations")
    if capped:
        lines.append(
            "· fewer than two independent origins: likelihood held at 'likely' at most"
        )
    if ruling is not None:
        lines.append(
            f"= ruled {ruling} by a reviewer; computed likelihood remains "
            f"'{LIKELIHOOD_LABELS[term]}', "
            f"level from evidence '{LEVEL_LABELS[computed_level]}'"
        )
    return tuple(lines)
