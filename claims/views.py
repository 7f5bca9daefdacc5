"""Reading claims: the dashboard, the list and its CSV export, the detail page.

Every view reads through Claim.objects.visible_to(user); what a user may not see
is a 404. The entry form's views follow the reading views below.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from analysts.models import AuditEntry
from claims.confirmation import likelihood_term
from claims.filters import ClaimFilter
from claims.models import Citation, Claim, Level, LikelihoodTerm, Relation
from sources.models import Grade, Source

PAGE_SIZE = 50
RECENT_CLAIMS = 10
REVIEW_QUEUE_PREVIEW = 15
WEAK_SOURCES = 10
AUDIT_LIMIT = 200
# Bookkeeping that changes on every save and tells a reader nothing.
AUDIT_QUIET_FIELDS = {"updated_at", "version", "excerpt_digest"}
CSV_COLUMNS = (
    "id",
    "statement",
    "kind",
    "level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
    "status",
    "quantity",
    "time",
    "places",
    "topic",
    "logged_by",
    "updated_at",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def with_evidence_counts(claims: QuerySet) -> QuerySet:
    """Annotate how many reports cite each claim and from how many origins,
    as subqueries so that the page costs the same whatever its length."""
    citations = Citation.objects.filter(claim=OuterRef("pk")).order_by()
    reports = citations.values("claim").annotate(n=Count("id")).values("n")
    origins = (
        citations.values("claim")
        .annotate(n=Count("source__origin", distinct=True))
        .values("n")
    )
    return claims.annotate(
        report_count=Coalesce(Subquery(reports, output_field=IntegerField()), 0),
        origin_count=Coalesce(Subquery(origins, output_field=IntegerField()), 0),
    )


def listed_claims(user) -> QuerySet:
    claims = Claim.objects.visible_to(user).with_list_data().prefetch_related("places")
    return with_evidence_counts(claims)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = Claim.objects.visible_to(user)
    counts = dict(
        visible.order_by()
        .values("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    context = {
        "level_counts": [
            (value, label, counts.get(value, 0)) for value, label in Level.choices
        ],
        "total": sum(counts.values()),
        "my_claims": list(
            visible.filter(logged_by=user).with_list_data()[:RECENT_CLAIMS]
        ),
    }
    if user.is_reviewer:
        # Four eyes: a reviewer never rules on a claim they logged or cited.
        queue = (
            visible.awaiting_review()
            .exclude(logged_by=user)
            .exclude(
                Exists(Citation.objects.filter(claim=OuterRef("pk"), created_by=user))
            )
            .with_list_data()
            .order_by("-needs_rereview", "updated_at", "id")
        )
        context["review_queue"] = list(queue[:REVIEW_QUEUE_PREVIEW])
        context["review_queue_count"] = queue.count()
    if user.is_manager:
        context["weak_sources"] = list(
            Source.objects.visible_to(user)
            .filter(grade__in=[Grade.E, Grade.F])
            .annotate(
                claim_count=Count("citations__claim", distinct=True),
                report_count=Count("citations"),
            )
            .filter(report_count__gt=0)
            .order_by("-claim_count", "-report_count", "name", "id")[:WEAK_SOURCES]
        )
    return render(request, "claims/dashboard.html", context)


def current_ordering(request: HttpRequest) -> str:
    # Without a choice the list is newest change first, or best match for a search.
    default = "" if request.GET.get("q") else "-updated_at"
    return request.GET.get("ordering") or default


def sort_links(query: QueryDict, current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (highest first, then
    flipping) and its aria-sort state."""
    links = {}
    for name in ("likelihood", "time_start", "updated_at"):
        params = query.copy()
        params["ordering"] = name if current == f"-{name}" else f"-{name}"
        state = {f"-{name}": "descending", name: "ascending"}.get(current, "none")
        links[name] = {"url": "?" + params.urlencode(), "state": state}
    return links


@login_required
def claim_list(request: HttpRequest) -> HttpResponse:
    filterset = ClaimFilter(
        request.GET, queryset=listed_claims(request.user), request=request
    )
    valid = filterset.is_valid()
    claims = filterset.qs if valid else Claim.objects.none()
    page = Paginator(claims, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    active = sorted(
        name
        for name, value in (filterset.form.cleaned_data if valid else {}).items()
        if name != "ordering" and value not in (None, "", [])
    )
    return render(
        request,
        "claims/claim_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "active_filters": active,
            "sort": sort_links(query, current_ordering(request)),
        },
    )


class Echo:
    """A file-like sink for csv.writer that hands each line back."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_row(claim: Claim) -> list[object]:
    row = [
        claim.pk,
        claim.statement,
        claim.get_kind_display(),
        claim.get_level_display(),
        claim.likelihood,
        claim.get_likelihood_term_display(),
        claim.get_confidence_display(),
        claim.summary_rating,
        claim.get_status_display(),
        claim.quantity_display(),
        claim.time_display(),
        "; ".join(place.name for place in claim.places.all()),
        claim.topic.name if claim.topic else "",
        claim.logged_by.get_username(),
        claim.updated_at.isoformat(),
    ]
    return [csv_cell(value) for value in row]


@login_required
def claim_export(request: HttpRequest) -> HttpResponse:
    filterset = ClaimFilter(
        request.GET,
        queryset=Claim.objects.visible_to(request.user)
        .with_list_data()
        .prefetch_related("places"),
        request=request,
    )
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(messages)}"
            for name, messages in filterset.errors.items()
        )
        return HttpResponseBadRequest(
            f"The filters are not valid: {problems}", content_type="text/plain"
        )
    writer = csv.writer(Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for claim in filterset.qs.iterator(chunk_size=500):
            yield writer.writerow(csv_row(claim))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="claims-{stamp}.csv"'
    return response


@dataclass
class OriginGroup:
    """The citations of one claim whose sources share an origin."""

    origin: Source
    citations: list[Citation] = field(default_factory=list)

    @property
    def supporting(self) -> int:
        return sum(1 for citation in self.citations if citation.supports)

    @property
    def denying(self) -> int:
        return len(self.citations) - self.supporting


def group_by_origin(citations: list[Citation]) -> list[OriginGroup]:
    groups: dict[int, OriginGroup] = {}
    for citation in citations:
        origin = citation.source.origin or citation.source
        groups.setdefault(origin.pk, OriginGroup(origin)).citations.append(citation)
    return sorted(groups.values(), key=lambda g: (g.denying > 0, g.origin.name))


def audit_trail(claim: Claim, citations, relations) -> list[AuditEntry]:
    """The claim's audit rows and those of its current citations and relations,
    newest first, in one query."""
    rows = Q(model="claims.claim", object_id=str(claim.pk))
    if citations:
        rows |= Q(model="claims.citation", object_id__in=[str(c.pk) for c in citations])
    if relations:
        rows |= Q(model="claims.relation", object_id__in=[str(r.pk) for r in relations])
    entries = list(AuditEntry.objects.filter(rows)[:AUDIT_LIMIT])
    for entry in entries:
        entry.kind = entry.model.split(".")[-1]
        entry.changes = (
            [
                change
                for change in entry.changed_fields()
                if change[0] not in AUDIT_QUIET_FIELDS
            ]
            # A creation or deletion would list every field: its summary is enough.
            if entry.before is not None and entry.after is not None
            else []
        )
    return entries


def time_range(claim: Claim) -> str:
    """The stored dates behind a time typed in words ("early May 2024")."""
    start, end = claim.time_start, claim.time_end
    if start and end:
        if start == end:
            return f"{start:%Y-%m-%d}"
        return f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"
    if end:
        return f"by {end:%Y-%m-%d}"
    if start:
        return f"from {start:%Y-%m-%d}"
    return ""


@login_required
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    visible = Claim.objects.visible_to(user)
    claim = get_object_or_404(
        visible.with_list_data().prefetch_related("places"), pk=pk
    )
    citations = list(
        claim.citations.select_related(
            "source", "source__origin", "document", "document__publisher"
        )
    )
    relations = list(
        Relation.objects.involving(claim)
        .filter(claim_a__in=visible, claim_b__in=visible)
        .select_related("claim_a", "claim_b", "created_by")
    )
    for relation in relations:
        relation.other_claim = relation.other(claim)
    reviews = list(claim.reviews.select_related("reviewer"))
    for review in reviews:
        if review.likelihood_at is not None:
            review.likelihood_term_at = LikelihoodTerm(
                likelihood_term(review.likelihood_at)
            )
    return render(
        request,
        "claims/claim_detail.html",
        {
            "claim": claim,
            "places": list(claim.places.all()),
            "time_range": time_range(claim) if claim.time_text else "",
            "citations": citations,
            "origin_groups": group_by_origin(citations),
            "corroborating": [
                r for r in relations if r.kind == Relation.Kind.CORROBORATES
            ],
            "contradicting": [
                r for r in relations if r.kind == Relation.Kind.CONTRADICTS
            ],
            "reviews": reviews,
            "audit_entries": audit_trail(claim, citations, relations),
            "audit_limit": AUDIT_LIMIT,
            "can_edit": Claim.objects.editable_by(user).filter(pk=claim.pk).exists(),
        },
    )


# Logging and editing a claim ------------------------------------------------
# Kept below the reading views; these imports belong with the ones at the top.
from django.contrib import messages  # noqa: E402
from django.core.exceptions import PermissionDenied, RequestDataTooBig  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.shortcuts import redirect  # noqa: E402

from claims.forms import (  # noqa: E402
    SAVE_REFUSED,
    ClaimEntry,
    lookup_claims,
    similar_claims,
)

ROW_BUTTONS = {"add_citation": "citations", "add_relation": "relations"}
TOO_LARGE = (
    "The form was too large to read, so nothing was saved. A statement holds at "
    "most 2,000 characters and an excerpt 5,000: paste the essential sentence, "
    "not the whole document."
)


@login_required
def claim_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_analyst:
        raise PermissionDenied("Only analysts log claims.")
    return claim_entry_page(request, Claim(logged_by=request.user))


@login_required
def claim_update(request: HttpRequest, pk: int) -> HttpResponse:
    claims = Claim.objects.editable_by(request.user)
    if request.method == "POST":
        # Locked until the request's transaction ends, so that the version
        # compared is the version replaced.
        claims = claims.select_for_update()
    return claim_entry_page(request, get_object_or_404(claims, pk=pk))


def claim_entry_page(request: HttpRequest, claim: Claim) -> HttpResponse:
    user = request.user
    if request.method != "POST":
        return render_entry(request, ClaimEntry(user, claim))
    try:
        data = request.POST
    except RequestDataTooBig:
        entry = ClaimEntry(user, claim)
        entry.problem = TOO_LARGE
        return render_entry(request, entry, status=413)
    add_rows = next(
        (rows for button, rows in ROW_BUTTONS.items() if button in data), ""
    )
    if add_rows:
        entry = ClaimEntry(user, claim, data, add_rows=add_rows, quiet=True)
        return render_entry(request, entry)
    entry = ClaimEntry(user, claim, data)
    if not entry.is_valid():
        if entry.creating and not entry.confirmed_new():
            entry.find_similar()
        return render_entry(request, entry)
    if not entry.has_changed():
        messages.info(request, "Nothing was changed.")
        return redirect(claim)
    if entry.find_conflict():
        return render_entry(request, entry, status=409)
    if entry.creating and not entry.confirmed_new() and entry.find_similar():
        return render_entry(request, entry)
    try:
        claim = entry.save()
    except IntegrityError:
        entry.problem = SAVE_REFUSED
        return render_entry(request, entry)
    verb = "logged" if entry.creating else "saved"
    messages.success(request, f"Claim #{claim.pk} {verb}.")
    return redirect(claim)


def render_entry(
    request: HttpRequest, entry: ClaimEntry, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "claims/claim_form.html",
        {
            "entry": entry,
            "claim": entry.claim,
            "form": entry.form,
            "citations": entry.citations,
            "relations": entry.relations,
            "errors": entry.error_summary(),
        },
        status=status,
    )


@login_required
def claim_similar(request: HttpRequest) -> HttpResponse:
    """The claims resembling a statement being typed, as a fragment of the entry
    page."""
    exclude = request.GET.get("exclude", "")
    similar = similar_claims(
        request.user,
        request.GET.get("statement", "")[:2000],
        exclude_pk=int(exclude) if exclude.isdigit() and len(exclude) < 19 else None,
    )
    return render(request, "claims/_similar_claims.html", {"similar": similar})


@login_required
def claim_lookup(request: HttpRequest) -> JsonResponse:
    claims = lookup_claims(request.user, request.GET.get("q", ""))
    return JsonResponse(
        [
            {
                "id": claim.pk,
                "statement": claim.statement,
                "level": claim.level,
                "level_display": claim.get_level_display(),
            }
            for claim in claims
        ],
        safe=False,
    )
