"""Exporting claims in the import format (docs/import-format.md), as JSON or CSV.

JSON carries everything an import reads: the claims with their citations,
relations and rulings, and sections describing the sources (with their grades
and "part of" chains), documents, places and topics they use. Importing an
export into an empty database and exporting again gives the same file. CSV
carries the claims and their citations in the spreadsheet columns the import
reads; sources and documents travel by name there, with less detail.

Both stream: claims are read in chunks in the order they were logged.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import Count, Max, Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from claims.imports import FORMAT_NAME, FORMAT_VERSION, FORMULA_TRIGGERS
from claims.models import Citation, Claim, Place, Relation, Review, Topic
from sources.models import Document, Source

CHUNK = 500
CONFIRMATION_FIELDS = (
    "level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
)


def export_id(claim: Claim) -> str:
    """The claim's external id; a claim logged here without one gets one made
    from its number, so that relations can name it."""
    return claim.external_id or f"claim-{claim.pk}"


def _text(value) -> str | None:
    if value is None:
        return None
    return f"{value:f}" if hasattr(value, "is_finite") else value.isoformat()


def exported(claims: QuerySet) -> QuerySet:
    """The claims to export, in logging order, with what their rows show."""
    ids = claims.order_by().values("pk")
    return (
        Claim.objects.filter(pk__in=ids)
        .order_by("pk")
        .select_related("topic", "logged_by", "confirmation")
        .prefetch_related(
            "places",
            Prefetch(
                "citations",
                queryset=Citation.objects.select_related(
                    "source",
                    "source__parent",
                    "document",
                    "document__publisher",
                    "created_by",
                ).order_by("pk"),
            ),
            Prefetch(
                "relations_as_a",
                queryset=Relation.objects.select_related(
                    "claim_b", "created_by"
                ).order_by("claim_b_id", "pk"),
            ),
            Prefetch(
                "reviews",
                queryset=Review.objects.select_related("reviewer").order_by(
                    "created_at", "pk"
                ),
            ),
        )
    )


def document_ref(document: Document) -> dict:
    return {
        "title": document.title,
        "publisher": document.publisher.name,
        "url": document.url,
    }


def claim_record(claim: Claim, exported_ids: set[int]) -> dict:
    return {
        "external_id": export_id(claim),
        "statement": claim.statement,
        "kind": claim.kind,
        "quantity_low": _text(claim.quantity_low),
        "quantity_high": _text(claim.quantity_high),
        "quantity_unit": claim.quantity_unit,
        "quantity_qualifier": claim.quantity_qualifier,
        "time_start": _text(claim.time_start),
        "time_end": _text(claim.time_end),
        "time_precision": claim.time_precision,
        "time_text": claim.time_text,
        "places": [place.name for place in claim.places.all()],
        "topic": claim.topic.name if claim.topic else "",
        "actors": claim.actors,
        "status": claim.status,
        "submission_note": claim.submission_note,
        "logged_by": claim.logged_by.get_username(),
        "citations": [
            {
                "source": citation.source.name,
                "document": document_ref(citation.document),
                "supports": citation.supports,
                "excerpt": citation.excerpt,
                "locator": citation.locator,
                "said_on": _text(citation.said_on),
                "credibility": citation.credibility,
                "grade_at_citation": citation.grade_at_citation,
                "created_by": citation.created_by.get_username(),
            }
            for citation in claim.citations.all()
        ],
        # Each relation once, under its lower-numbered claim, and only between
        # exported claims: an import could not resolve the others.
        "relations": [
            {
                "kind": relation.kind,
                "claim": export_id(relation.claim_b),
                "rationale": relation.rationale,
                "created_by": relation.created_by.get_username(),
            }
            for relation in claim.relations_as_a.all()
            if relation.claim_b_id in exported_ids
        ],
        "reviews": [
            {
                "reviewer": review.reviewer.get_username(),
                "outcome": review.outcome,
                "rationale": review.rationale,
                "likelihood_at": review.likelihood_at,
                "level_at": review.level_at,
            }
            for review in claim.reviews.all()
        ],
        # Computed here and recomputed by an import; never read from the file.
        "confirmation": {name: getattr(claim, name) for name in CONFIRMATION_FIELDS},
    }


def sections(claims: QuerySet) -> dict[str, list[dict]]:
    """The topics, places, sources and documents the claims use, with the "part
    of" chains of those sources, so that the file describes itself."""
    ids = claims.order_by().values("pk")
    citations = Citation.objects.filter(claim__in=ids)
    documents = list(
        Document.objects.filter(pk__in=citations.values("document_id"))
        .select_related("publisher")
        .order_by("title", "publisher__name", "url", "pk")
    )
    source_ids = set(citations.values_list("source_id", flat=True).distinct())
    source_ids |= {document.publisher_id for document in documents}
    sources: dict[int, Source] = {}
    while source_ids - set(sources):
        batch = Source.objects.filter(pk__in=source_ids - set(sources))
        for source in batch.select_related("parent"):
            sources[source.pk] = source
            if source.parent_id:
                source_ids.add(source.parent_id)
    return {
        "topics": [
            {"name": topic.name, "description": topic.description}
            for topic in Topic.objects.filter(claims__in=ids)
            .distinct()
            .order_by("name")
        ],
        "places": [
            {
                "name": place.name,
                "country": place.country,
                "latitude": place.latitude,
                "longitude": place.longitude,
            }
            for place in Place.objects.filter(claims__in=ids)
            .distinct()
            .order_by("name")
        ],
        "sources": [
            {
                "name": source.name,
                "kind": source.kind,
                "country": source.country,
                "description": source.description,
                "grade": source.grade,
                "part_of": source.parent.name if source.parent else "",
            }
            for source in sorted(sources.values(), key=lambda s: (s.name, s.pk))
        ],
        "documents": [
            {
                **document_ref(document),
                "kind": document.kind,
                "published_on": _text(document.published_on),
                "archived_copy": document.archived_copy,
                "retracted": document.retracted,
                "text": document.text,
            }
            for document in documents
        ],
    }


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def iter_json(claims: QuerySet) -> Iterator[str]:
    """The JSON file, a line at a time: one line per section entry and claim."""
    exported_ids = set(claims.order_by().values_list("pk", flat=True))
    yield "{\n"
    yield f'"format": {_dump(FORMAT_NAME)},\n"version": {FORMAT_VERSION},\n'
    for name, items in sections(claims).items():
        yield f'"{name}": [\n'
        yield ",\n".join(_dump(item) for item in items)
        yield "\n],\n" if items else "],\n"
    yield '"claims": [\n'
    first = True
    for claim in exported(claims).iterator(chunk_size=CHUNK):
        yield ("" if first else ",\n") + _dump(claim_record(claim, exported_ids))
        first = False
    yield "\n]\n}\n" if not first else "]\n}\n"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(value)
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


CLAIM_COLUMNS = (
    "external_id",
    "statement",
    "kind",
    "quantity_low",
    "quantity_high",
    "quantity_unit",
    "quantity_qualifier",
    "time_start",
    "time_end",
    "time_precision",
    "time_text",
    "places",
    "topic",
    "actors",
    "status",
    "submission_note",
    "logged_by",
)
CITATION_COLUMNS = (
    "source",
    "source_kind",
    "source_grade",
    "source_part_of",
    "document_title",
    "document_url",
    "document_publisher",
    "document_kind",
    "document_published_on",
    "supports",
    "excerpt",
    "locator",
    "said_on",
    "credibility",
    "grade_at_citation",
    "created_by",
)
RELATION_COLUMNS = ("kind", "claim", "rationale", "created_by")
REVIEW_COLUMNS = ("reviewer", "outcome", "rationale", "likelihood_at", "level_at")


def csv_header(citations: int, relations: int, reviews: int) -> list[str]:
    header = list(CLAIM_COLUMNS)
    for prefix, count, columns in (
        ("citation", citations, CITATION_COLUMNS),
        ("relation", relations, RELATION_COLUMNS),
        ("review", reviews, REVIEW_COLUMNS),
    ):
        for n in range(1, count + 1):
            header += [f"{prefix}{n}_{column}" for column in columns]
    return header + ["id", *CONFIRMATION_FIELDS]


def chain_of(source: Source, chains: dict[int, str]) -> str:
    """The source's "part of" chain, nearest first, once per source."""
    if source.pk not in chains:
        chains[source.pk] = " > ".join(s.name for s in source.ancestors())
    return chains[source.pk]


def csv_cells(
    claim: Claim,
    record: dict,
    chains: dict[int, str],
    citations: int,
    relations: int,
    reviews: int,
) -> list:
    cells = [_cell(record[column]) for column in CLAIM_COLUMNS]
    cited = list(claim.citations.all())
    for citation, item in zip(cited, record["citations"], strict=True):
        cells += map(
            _cell,
            [
                item["source"],
                citation.source.kind,
                citation.source.grade,
                chain_of(citation.source, chains),
                citation.document.title,
                citation.document.url,
                citation.document.publisher.name,
                citation.document.kind,
                _text(citation.document.published_on),
                item["supports"],
                item["excerpt"],
                item["locator"],
                item["said_on"],
                item["credibility"],
                item["grade_at_citation"],
                item["created_by"],
            ],
        )
    cells += [""] * len(CITATION_COLUMNS) * (citations - len(cited))
    for group, count, columns in (
        ("relations", relations, RELATION_COLUMNS),
        ("reviews", reviews, REVIEW_COLUMNS),
    ):
        for item in record[group][:count]:
            cells += [_cell(item[column]) for column in columns]
        cells += [""] * len(columns) * (count - len(record[group]))
    cells.append(claim.pk)
    cells += [_cell(record["confirmation"][name]) for name in CONFIRMATION_FIELDS]
    return cells


def iter_csv(claims: QuerySet) -> Iterator[str]:
    ids = claims.order_by().values("pk")
    exported_ids = set(claims.order_by().values_list("pk", flat=True))
    widest = _widest(ids)
    writer = csv.writer(_Echo())
    chains: dict[int, str] = {}
    yield writer.writerow(csv_header(*widest))
    for claim in exported(claims).iterator(chunk_size=CHUNK):
        record = claim_record(claim, exported_ids)
        yield writer.writerow(csv_cells(claim, record, chains, *widest))


def _widest(ids: QuerySet) -> tuple[int, int, int]:
    """The most citations, relations and reviews any exported claim has: how
    many column groups of each the file needs."""

    def most(queryset: QuerySet, key: str) -> int:
        counts = (
            queryset.order_by()
            .values(key)
            .annotate(n=Count("pk"))
            .aggregate(most=Max("n"))
        )
        return counts["most"] or 0

    return (
        most(Citation.objects.filter(claim__in=ids), "claim"),
        most(Relation.objects.filter(claim_a__in=ids, claim_b__in=ids), "claim_a"),
        most(Review.objects.filter(claim__in=ids), "claim"),
    )


def export_response(claims: QuerySet, kind: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    if kind == "csv":
        response = StreamingHttpResponse(
            iter_csv(claims), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            iter_json(claims), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="claims-{stamp}.{kind}"'
    return response


def write_export(claims: QuerySet, kind: str, write) -> None:
    for chunk in iter_csv(claims) if kind == "csv" else iter_json(claims):
        write(chunk)
