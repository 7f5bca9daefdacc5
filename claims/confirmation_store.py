"""Keeping the stored confirmation true: set-wise recomputation from the database.

Inputs are read in a fixed number of queries per batch of claims (citations with
their sources' current grades and origins, relations one step out, the related
claims' own citations) and results are written with one bulk update per batch.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from claims import confirmation
from claims.models import Citation, Claim, Level, Relation

BATCH = 2000
STORED_FIELDS = (
    "level",
    "computed_level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
    "explanation",
    "confirmation_version",
)
BELOW_CORROBORATED = {Level.UNSOURCED, Level.SINGLE_SOURCE, Level.CONTESTED}


def _reports_by_claim(claim_ids: Iterable[int]) -> dict[int, list]:
    rows = Citation.objects.filter(claim_id__in=list(claim_ids)).values_list(
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
    reports: dict[int, list] = defaultdict(list)
    for (
        claim_id,
        citation_id,
        source_id,
        source_name,
        origin_id,
        origin_name,
        grade,
        credibility,
        supports,
        retracted,
    ) in rows.order_by():
        reports[claim_id].append(
            confirmation.Report(
                citation_id=citation_id,
                source_id=source_id,
                source_name=source_name,
                origin_id=origin_id or source_id,
                origin_name=origin_name or source_name,
                grade=grade,
                credibility=credibility,
                supports=supports,
                retracted=retracted,
            )
        )
    return reports


def inputs_for(claim_ids: list[int]) -> dict[int, confirmation.Inputs]:
    """The engine's inputs for each claim, read set-wise."""
    relations = (
        Relation.objects.filter(
            Q(claim_a_id__in=claim_ids) | Q(claim_b_id__in=claim_ids)
        )
        .order_by()
        .values_list("claim_a_id", "claim_b_id", "kind")
    )
    related_of: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    wanted = set(claim_ids)
    for a, b, kind in relations:
        corroborates = kind == Relation.Kind.CORROBORATES
        if a in wanted:
            related_of[a].append((b, corroborates))
        if b in wanted:
            related_of[b].append((a, corroborates))
    related_ids = {other for pairs in related_of.values() for other, _ in pairs}
    reports = _reports_by_claim(wanted | related_ids)
    statements = dict(
        Claim.objects.filter(pk__in=related_ids)
        .order_by()
        .values_list("pk", "statement")
    )
    rulings = dict(
        Claim.objects.filter(pk__in=claim_ids).order_by().values_list("pk", "status")
    )
    result = {}
    for claim_id in claim_ids:
        related = tuple(
            confirmation.RelatedClaim(
                claim_id=other,
                statement=statements.get(other, ""),
                corroborates=corroborates,
                reports=tuple(reports.get(other, ())),
            )
            for other, corroborates in related_of.get(claim_id, ())
        )
        status = rulings.get(claim_id)
        result[claim_id] = confirmation.Inputs(
            reports=tuple(reports.get(claim_id, ())),
            related=related,
            ruling=status if status in ("confirmed", "refuted") else None,
        )
    return result


def apply(claim: Claim, result: confirmation.Result) -> None:
    claim.level = result.level
    claim.computed_level = result.computed_level
    claim.likelihood = result.likelihood
    claim.likelihood_term = result.likelihood_term
    claim.confidence = result.confidence
    claim.summary_rating = result.summary_rating
    claim.explanation = list(result.explanation)
    claim.confirmation_version = result.version


def stored_differs(claim: Claim, result: confirmation.Result) -> bool:
    return (
        claim.level != result.level
        or claim.computed_level != result.computed_level
        or claim.likelihood != result.likelihood
        or claim.likelihood_term != result.likelihood_term
        or claim.confidence != result.confidence
        or claim.summary_rating != result.summary_rating
        or list(claim.explanation) != list(result.explanation)
        or claim.confirmation_version != result.version
    )


def ruling_now_questioned(status: str, before: str, after: str) -> bool:
    """New evidence turns against a standing ruling: a confirmed claim's support
    collapses below corroborated or a contradiction arrives; a refuted claim
    becomes corroborated."""
    if before == after:
        return False
    if status == Claim.Status.CONFIRMED:
        return (
            before == Level.CORROBORATED and after in BELOW_CORROBORATED
        ) or after == Level.CONTESTED
    if status == Claim.Status.REFUTED:
        return after == Level.CORROBORATED
    return False


def recompute_claims(claim_ids: Iterable[int], flag_rereview: bool = True) -> int:
    """Recompute and store the confirmation of these claims; returns how many changed.

    A ruled claim whose evidence turns against the ruling is flagged "needs
    re-review" for the reviewers' queue.
    """
    ids = sorted(set(claim_ids))
    changed = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        inputs = inputs_for(batch)
        claims = Claim.objects.filter(pk__in=batch).only(
            "pk", "status", "needs_rereview", *STORED_FIELDS
        )
        dirty = []
        for claim in claims.order_by():
            result = confirmation.compute(inputs[claim.pk])
            if not stored_differs(claim, result):
                continue
            if flag_rereview and ruling_now_questioned(
                claim.status, claim.computed_level, result.computed_level
            ):
                claim.needs_rereview = True
            apply(claim, result)
            dirty.append(claim)
        if dirty:
            Claim.objects.bulk_update(
                dirty, [*STORED_FIELDS, "needs_rereview"], batch_size=500
            )
            changed += len(dirty)
    return changed


def with_related(claim_ids: Iterable[int]) -> set[int]:
    """These claims and every claim one relation away: a relation carries a
    claim's citations one step, so both ends depend on each other's citations."""
    ids = set(claim_ids)
    if not ids:
        return ids
    pairs = (
        Relation.objects.filter(Q(claim_a_id__in=ids) | Q(claim_b_id__in=ids))
        .order_by()
        .values_list("claim_a_id", "claim_b_id")
    )
    for a, b in pairs:
        ids.add(a)
        ids.add(b)
    return ids


def claims_depending_on_sources(source_ids: Iterable[int]) -> set[int]:
    direct = (
        Citation.objects.filter(source_id__in=list(source_ids))
        .order_by()
        .values_list("claim_id", flat=True)
        .distinct()
    )
    return with_related(direct)


def drift(claim_ids: Iterable[int] | None = None) -> list[tuple[int, str]]:
    """Claims whose stored result differs from a fresh computation."""
    if claim_ids is None:
        claim_ids = Claim.objects.order_by("pk").values_list("pk", flat=True)
    ids = list(claim_ids)
    drifting = []
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        inputs = inputs_for(batch)
        for claim in Claim.objects.filter(pk__in=batch).only("pk", *STORED_FIELDS):
            result = confirmation.compute(inputs[claim.pk])
            if stored_differs(claim, result):
                drifting.append(
                    (
                        claim.pk,
                        f"stored {claim.level} {claim.likelihood} → "
                        f"fresh {result.level} {result.likelihood}",
                    )
                )
    return sorted(drifting)
