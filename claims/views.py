"""Reading claims: the dashboard, the list and its CSV export, the detail page.

Every view reads through Claim.objects.visible_to(user); what a user may not see
is a 404. The entry form's views follow the reading views below.
"""

import csv
import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import (
    Count,
    Q,
    QuerySet,
)
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
from claims import filters, pagination
from claims.confirmation import likelihood_term
from claims.confirmation_store import explanation_on_page, explanations
from claims.filters import ClaimFilter
from claims.models import Citation, Claim, Level, LikelihoodTerm, Relation
from claims.pagination import (
    Key,
    KeysetPage,
    keyset_page,
    ordered_keys,
    total_of,
)
from sources import reliability
from sources.models import Grade, Source

RECENT_CLAIMS = 10
REVIEW_QUEUE_PREVIEW = 15
WEAK_SOURCES = 10
GRADE_MISMATCHES = 10
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


def listed_claims(user) -> QuerySet:
    # The evidence counts are stored with the confirmation (report_count,
    # origin_count): a row is read, not counted. The rows read their places'
    # names in one query of their own (claim_rows.place_names).
    return Claim.objects.visible_to(user).with_list_data()


# The claim list's orders as keyset keys (the id breaks ties, in the direction of
# the last key); each has an index (Claim.Meta.indexes, ClaimConfirmation's and
# migrations). The likelihood is the claim's ClaimConfirmation's: its index
# serves the order through the join on the claim's id.
LIKELIHOOD_KEY = Key("confirmation__likelihood", True, float, attribute="likelihood")
LIST_KEYS = {
    "-updated_at": [Key("updated_at", True, datetime.datetime)],
    "updated_at": [Key("updated_at", False, datetime.datetime)],
    "-likelihood": [LIKELIHOOD_KEY],
    "likelihood": [LIKELIHOOD_KEY.reversed()],
    "-time_start": [Key("time_start", True, datetime.date, nullable=True)],
    "time_start": [Key("time_start", False, datetime.date, nullable=True)],
}


def list_page(filterset: ClaimFilter, params: QueryDict) -> KeysetPage:
    """The page of the filtered claims that the URL asks for, with its total."""
    claims = filterset.qs
    if filterset.ranks:
        # Best match first: the ranked set is bounded (SEARCH_RANK_LIMIT), so
        # numbered pages over it cost no more than the first.
        page = ranked_page(claims, params)
    else:
        ordering = filterset.form.cleaned_data.get("ordering") or ["-updated_at"]
        keys = LIST_KEYS[ordering[0]]
        page = keyset_page(
            claims, ordered_keys(keys, id_descending=keys[-1].descending), params
        )
    if filterset.ranks:
        # The ranked set may hold fewer than match: count the matches.
        every = not page.has_previous and not page.has_next
        every = every and len(page.object_list) < filters.SEARCH_RANK_LIMIT
        page.total = total_of(filterset.matches, page, complete=every)
        page.extra["truncated"] = (
            not page.total.exact or page.total.number > filters.SEARCH_RANK_LIMIT
        )
    else:
        page.total = total_of(claims, page)
    return page


def ranked_page(claims: QuerySet, params: QueryDict) -> KeysetPage:
    try:
        number = max(1, int(params.get("page", 1)))
    except ValueError:
        number = 1
    size = pagination.PAGE_SIZE
    number = min(number, max(1, -(-filters.SEARCH_RANK_LIMIT // size)))
    start = (number - 1) * size
    rows = list(claims[start : start + size + 1])
    page = KeysetPage(rows[:size], has_next=len(rows) > size, has_previous=number > 1)
    base = params.copy()
    for name in ("after", "before", "page"):
        base.pop(name, None)
    page.first_query = base.urlencode()
    if page.has_next:
        base["page"] = str(number + 1)
        page.next_query = base.urlencode()
    if page.has_previous:
        base["page"] = str(number - 1)
        page.previous_query = base.urlencode()
    page.extra["ranked"] = True
    return page


# Above this many claims the dashboard's counts by level are PostgreSQL's
# statistics (kept by autovacuum's ANALYZE), not a count of the whole table.
EXACT_LEVEL_COUNTS_BELOW = 20_000
LEVEL_STATISTICS_SQL = """
SELECT c.reltuples, s.most_common_vals::text, s.most_common_freqs,
    CASE WHEN c.reltuples < %s OR s.most_common_vals IS NULL THEN (
        SELECT json_object_agg(level, n)
        FROM (SELECT level, COUNT(*) AS n FROM claims_claim GROUP BY level) AS t
    ) END
FROM pg_class c
LEFT JOIN pg_stats s ON s.schemaname = current_schema()
    AND s.tablename = 'claims_claim' AND s.attname = 'level'
WHERE c.oid = 'claims_claim'::regclass
"""


def level_counts(visible: QuerySet) -> tuple[dict[str, int], bool]:
    """Visible claims per level, and whether the numbers are exact: counted
    while the archive is small; once it is large on PostgreSQL, the common
    levels from the planner's statistics and only the rare ones counted (from
    claim_level_list_idx)."""
    if visible.query.is_empty():
        return {}, True
    if connection.vendor != "postgresql":
        counts = (
            visible.order_by()
            .values("level")
            .annotate(n=Count("id"))
            .values_list("level", "n")
        )
        return dict(counts), True
    with connection.cursor() as cursor:
        cursor.execute(LEVEL_STATISTICS_SQL, [EXACT_LEVEL_COUNTS_BELOW])
        rows, values, shares, exact = cursor.fetchone()
    if exact is not None or values is None:  # counted (no claims: no object)
        return {level: int(n) for level, n in (exact or {}).items()}, True
    common = values.strip("{}").split(",")
    counts = {
        level: round(share * rows) for level, share in zip(common, shares, strict=True)
    }
    rare = [level for level in Level.values if level not in counts]
    if rare:
        counts.update(
            visible.filter(level__in=rare)
            .order_by()
            .values("level")
            .annotate(n=Count("id"))
            .values_list("level", "n")
        )
    return counts, False


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = Claim.objects.visible_to(user)
    counts, exact = level_counts(visible)
    context = {
        "level_counts": [
            (value, label, counts.get(value, 0)) for value, label in Level.choices
        ],
        "total": sum(counts.values()),
        "counts_exact": exact,
        "my_claims": list(
            visible.filter(logged_by=user).with_list_data()[:RECENT_CLAIMS]
        ),
    }
    if user.is_reviewer:
        # Four eyes: a reviewer never rules on a claim they logged, cited or
        # related.
        queue = (
            visible.awaiting_review()
            .not_involving(user)
            .with_list_data()
            .order_by("-needs_rereview", "updated_at", "id")
        )
        context["review_queue"] = list(queue[:REVIEW_QUEUE_PREVIEW])
        context["review_queue_count"] = queue.count()
    if user.is_manager:
        # The reliability report's stored records, unfiltered: the sources whose
        # rulings so far suggest another grade than the one assigned.
        mismatches = sorted(
            (
                r
                for r in reliability.source_records(user, reliability.Selection())
                if r.mismatch
            ),
            key=lambda r: (-r.rulings, r.name.casefold(), r.id),
        )
        context["grade_mismatches"] = mismatches[:GRADE_MISMATCHES]
        context["grade_mismatch_count"] = len(mismatches)
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
    filterset.rank_limit = filters.SEARCH_RANK_LIMIT
    valid = filterset.is_valid()
    page = list_page(filterset, request.GET) if valid else KeysetPage([], False, False)
    query = request.GET.copy()
    for name in ("page", "after", "before"):
        query.pop(name, None)
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


# What the claim page shows of a relation (claim_detail_rows.related_claims) and
# the claim at its other end: not the other claim's explanation and text fields.
RELATION_FIELDS = (
    "kind", "rationale", "created_at", "claim_a_id", "claim_b_id",
    *(
        f"{end}__{name}"
        for end in ("claim_a", "claim_b")
        for name in (
            "statement", "level", "confirmation__likelihood_term",
            "confirmation__confidence",
        )
    ),
    "created_by__username",
)  # fmt: skip


@login_required
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_claim_page(request, pk)


def render_claim_page(
    request: HttpRequest,
    pk: int,
    *,
    status: int = 200,
    bound: dict | None = None,
    refusal: str = "",
    kept: dict | None = None,
) -> HttpResponse:
    """The claim page; the workflow's views render it again with their bound
    form (``bound``), or with a refusal and what the person typed (``kept``)."""
    user = request.user
    visible = Claim.objects.visible_to(user)
    claim = get_object_or_404(
        visible.with_confirmation_row().prefetch_related("places"), pk=pk
    )
    citations = list(
        claim.citations.select_related(
            "source", "source__origin", "document", "document__publisher"
        )
    )
    relations = Relation.objects.involving(claim)
    every_claim = visible.is_every_claim()
    if not every_claim:
        # A reader who does not see every claim sees the links to those they see
        # (today every staff member sees all: the two subqueries would only
        # cost the planner, 6 of the query's 9 ms at a million claims).
        relations = relations.filter(claim_a__in=visible, claim_b__in=visible)
    relations = list(
        relations.select_related(
            "claim_a__confirmation", "claim_b__confirmation", "created_by"
        ).only(*RELATION_FIELDS)
    )
    for relation in relations:
        relation.other_claim = relation.other(claim)
    reviews = list(claim.reviews.select_related("reviewer"))
    for review in reviews:
        if review.likelihood_at is not None:
            review.likelihood_term_at = LikelihoodTerm(
                likelihood_term(review.likelihood_at)
            )
    can_edit = Claim.objects.editable_by(user).filter(pk=claim.pk).exists()
    return render(
        request,
        "claims/claim_detail.html",
        {
            **workflow_context(
                user, claim, reviews, can_edit, bound or {}, refusal, kept or {}
            ),
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
            # Computed from what the page has read, when that is every relation.
            "explanation": explanation_on_page(claim, citations, relations)
            if every_claim
            else explanations([claim.pk]).get(claim.pk, ()),
            "audit_entries": audit_trail(claim, citations, relations),
            "audit_limit": AUDIT_LIMIT,
            "can_edit": can_edit,
        },
        status=status,
    )


# Logging and editing a claim ------------------------------------------------
# Kept below the reading views; these imports belong with the ones at the top.
from django.contrib import messages  # noqa: E402
from django.core.exceptions import PermissionDenied, RequestDataTooBig  # noqa: E402
from django.db import IntegrityError, transaction  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.shortcuts import redirect  # noqa: E402

from claims.confirmation_store import lock_writers  # noqa: E402
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
        # compared is the version replaced. In the same order as every other
        # writer (see actions._lock_claim), so that no two wait on each other.
        lock_writers()
        claims = claims.select_for_update(no_key=True)
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


# The review workflow -----------------------------------------------------------
# Submitting, ruling and reopening go through claims.actions, which lock the
# claim and apply the rules of claims.review. A refusal is answered with the
# claim page and its message (never an exception): the refusal's audit row then
# commits with the request instead of being rolled back.
from django.views.decorators.http import require_POST  # noqa: E402

from analysts.audit import record_refusal  # noqa: E402
from claims import actions  # noqa: E402
from claims import review as rules  # noqa: E402
from claims.forms import (  # noqa: E402
    CitationForm,
    RelationForm,
    ReopenForm,
    RulingForm,
    SubmitForm,
)
from claims.models import Review  # noqa: E402

QUEUE_SORTS = {
    "waiting": "waiting longest first",
    "-waiting": "waiting shortest first",
    "-likelihood": "likelihood, highest first",
    "likelihood": "likelihood, lowest first",
}
# Keyset keys per sort; the last one only gives the id's direction. "Waiting"
# is served by claim_queue_idx; the queue is small enough to sort otherwise.
_WAITING = Key("waiting_since", False, datetime.datetime)
_WAITING_DESC = Key("waiting_since", True, datetime.datetime)
QUEUE_ORDER = {
    "waiting": (_WAITING, _WAITING),
    "-waiting": (_WAITING_DESC, _WAITING_DESC),
    "-likelihood": (LIKELIHOOD_KEY, _WAITING, _WAITING),
    "likelihood": (LIKELIHOOD_KEY.reversed(), _WAITING, _WAITING),
}


def citation_add_form(user, data=None) -> CitationForm:
    # The pickers are lookups (sources/lookups.py): no table is listed here.
    form = CitationForm(data, prefix="cite", user=user)
    # The claim page offers no "new document" fields: those live on the entry
    # page and the documents pages.
    form.fields["document"].help_text = "Search by title, or type its number."
    return form


def workflow_context(
    user,
    claim: Claim,
    reviews: list[Review],
    can_edit: bool,
    bound: dict,
    refusal: str,
    kept: dict,
) -> dict:
    """The claim page's workflow panel: what this person may do to the claim
    now, and the forms to do it."""
    seen = {"claim": claim, "last_review": reviews[-1].pk if reviews else 0}
    context = {
        "verdict_differs": rules.verdict_differs(claim),
        "refusal": refusal,
        "kept_text": kept.get("rationale")
        or kept.get("reopen_rationale")
        or kept.get("note", ""),
    }
    if claim.status == Claim.Status.OPEN and rules.may_submit(user, claim):
        context["submit_form"] = bound.get("submit") or SubmitForm(
            initial={"note": kept.get("note", claim.submission_note)}, **seen
        )
    if user.is_reviewer:
        reason = rules.four_eyes_reason(user, claim)
        context["four_eyes_reason"] = reason
        if not reason and rules.allowed_rulings(claim):
            context["ruling_form"] = bound.get("ruling") or RulingForm(
                initial={
                    "outcome": kept.get("outcome"),
                    "rationale": kept.get("rationale", ""),
                },
                **seen,
            )
        if not reason and rules.next_status(claim, Review.Outcome.REOPENED):
            context["reopen_form"] = bound.get("reopen") or ReopenForm(
                initial={"rationale": kept.get("reopen_rationale", "")}, **seen
            )
    if user.is_analyst and not can_edit:
        # Who cannot use the entry page (another's claim, or a ruled one) may
        # still add evidence here.
        context["citation_form"] = bound.get("citation") or citation_add_form(user)
        context["relation_form"] = bound.get("relation") or RelationForm(
            prefix="relate", user=user, claim=claim
        )
    return context


def visible_claim(request: HttpRequest, pk: int) -> Claim:
    return get_object_or_404(Claim.objects.visible_to(request.user), pk=pk)


def refused(
    request: HttpRequest, claim: Claim, refusal: rules.Refused, kept: dict
) -> HttpResponse:
    return render_claim_page(
        request,
        claim.pk,
        status=refusal.http_status,
        refusal=str(refusal),
        kept=kept,
    )


def precheck(
    request: HttpRequest, claim: Claim, step: str, *checks, kept_fields=()
) -> HttpResponse | None:
    """Who asks, checked before the form: a refusal answered and audited, with
    what the person typed shown back to them (``kept_fields`` of the POST)."""
    try:
        for check in checks:
            check()
    except rules.Refused as refusal:
        if refusal.audited:
            record_refusal(request.user, claim, f"{step}: {refusal}")
        kept = {
            key: request.POST.get(field, "").replace("\x00", "")
            for key, field in kept_fields
        }
        return refused(request, claim, refusal, kept)
    return None


@login_required
@require_POST
def claim_submit(request: HttpRequest, pk: int) -> HttpResponse:
    user, claim = request.user, visible_claim(request, pk)
    answer = precheck(
        request,
        claim,
        "submit",
        lambda: rules.check_may_submit(user, claim),
        kept_fields=(("note", "note"),),
    )
    if answer:
        return answer
    form = SubmitForm(request.POST, claim=claim)
    if not form.is_valid():
        return render_claim_page(request, pk, bound={"submit": form})
    data = form.cleaned_data
    try:
        actions.submit_claim(
            user, claim, data["note"], expected_version=data["version"]
        )
    except rules.Refused as refusal:
        return refused(request, claim, refusal, {"note": data["note"]})
    messages.success(request, f"Claim #{claim.pk} submitted for review.")
    return redirect(claim)


def reviewer_checks(user, claim: Claim) -> tuple:
    return (
        lambda: rules.check_may_review(user),
        lambda: rules.check_four_eyes(user, claim),
    )


@login_required
@require_POST
def claim_rule(request: HttpRequest, pk: int) -> HttpResponse:
    user, claim = request.user, visible_claim(request, pk)
    answer = precheck(
        request,
        claim,
        "rule",
        *reviewer_checks(user, claim),
        kept_fields=(("outcome", "outcome"), ("rationale", "rationale")),
    )
    if answer:
        return answer
    form = RulingForm(request.POST, claim=claim)
    if not form.is_valid():
        return render_claim_page(request, pk, bound={"ruling": form})
    data = form.cleaned_data
    try:
        ruling = actions.rule_claim(
            user,
            claim,
            data["outcome"],
            data["rationale"],
            expected_version=data["version"],
            seen_review=data["last_review"],
        )
    except rules.Refused as refusal:
        kept = {"outcome": data["outcome"], "rationale": data["rationale"]}
        return refused(request, claim, refusal, kept)
    messages.success(
        request, f"Claim #{claim.pk}: {ruling.get_outcome_display()}, recorded."
    )
    return redirect(claim)


@login_required
@require_POST
def claim_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    user, claim = request.user, visible_claim(request, pk)
    answer = precheck(
        request,
        claim,
        "reopen",
        *reviewer_checks(user, claim),
        kept_fields=(("reopen_rationale", "rationale"),),
    )
    if answer:
        return answer
    form = ReopenForm(request.POST, claim=claim)
    if not form.is_valid():
        return render_claim_page(request, pk, bound={"reopen": form})
    data = form.cleaned_data
    try:
        actions.reopen_claim(
            user,
            claim,
            data["rationale"],
            expected_version=data["version"],
            seen_review=data["last_review"],
        )
    except rules.Refused as refusal:
        return refused(request, claim, refusal, {"reopen_rationale": data["rationale"]})
    messages.success(request, f"Claim #{claim.pk} reopened.")
    return redirect(claim)


def analysts_only(user) -> None:
    if not user.is_analyst:
        raise PermissionDenied("Only analysts add citations and relations.")


@login_required
@require_POST
def citation_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add one citation from the claim page: evidence may still arrive for a
    claim that is ruled or logged by someone else."""
    user, claim = request.user, visible_claim(request, pk)
    analysts_only(user)
    form = citation_add_form(user, request.POST)
    if form.is_valid():
        citation = form.save(commit=False)
        citation.claim, citation.created_by = claim, user
        try:
            with transaction.atomic():
                if form.new_document is not None:
                    actions.save_document(user, form.new_document)
                    citation.document = form.new_document
                actions.add_citation(user, citation)
        except IntegrityError:
            form.add_error(
                "excerpt", "This source's excerpt of this document is already cited."
            )
        else:
            messages.success(request, f"Citation added to claim #{claim.pk}.")
            return redirect(claim)
    return render_claim_page(request, pk, bound={"citation": form})


@login_required
@require_POST
def relation_add(request: HttpRequest, pk: int) -> HttpResponse:
    user, claim = request.user, visible_claim(request, pk)
    analysts_only(user)
    form = RelationForm(request.POST, prefix="relate", user=user, claim=claim)
    if form.is_valid():
        relation = form.save(commit=False)
        other = form.cleaned_data["other_claim"]
        relation.claim_a_id, relation.claim_b_id = sorted((claim.pk, other.pk))
        relation.created_by = user
        try:
            with transaction.atomic():
                actions.add_relation(user, relation)
        except IntegrityError:
            form.add_error("other_claim", "These two claims are already related.")
        else:
            messages.success(request, f"Relation added to claim #{claim.pk}.")
            return redirect(claim)
    return render_claim_page(request, pk, bound={"relation": form})


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Claims in review and ruled claims flagged for re-review, longest waiting
    first; those four-eyes keeps the reviewer from ruling are shown, marked."""
    user = request.user
    if not user.is_reviewer:
        raise PermissionDenied("Only reviewers work the review queue.")
    queue = (
        listed_claims(user)
        .awaiting_review()
        .with_involvement(user)
        .with_waiting_since()
    )
    params = request.GET.copy()
    params.pop("ordering", None)
    filterset = ClaimFilter(params, queryset=queue, request=request)
    filterset.rank_search = False
    valid = filterset.is_valid()
    sort = request.GET.get("sort", "waiting")
    if sort not in QUEUE_ORDER:
        sort = "waiting"
    page = KeysetPage([], False, False)
    if valid:
        keys = QUEUE_ORDER[sort]
        page = keyset_page(
            filterset.qs, ordered_keys(keys[:-1], keys[-1].descending), params
        )
        # Counted along the queue's own index (claim_queue_idx), whatever the
        # sort: unordered, PostgreSQL read the table from its start instead.
        page.total = total_of(
            filterset.qs.order_by("waiting_since", "pk"), page, ordered=True
        )
    for claim in page.object_list:
        claim.four_eyes = rules.involvement_reason(claim)
    for name in ("page", "after", "before"):
        params.pop(name, None)
    return render(
        request,
        "claims/review_queue.html",
        {
            "filter": filterset,
            "page": page,
            "query": params.urlencode(),
            "sort": sort,
            "sorts": QUEUE_SORTS.items(),
            "filtered": any(value for name, value in params.items() if name != "sort"),
        },
    )


# Importing and exporting claims -----------------------------------------------
# The import page reads the file, shows a dry run's report and keeps the parsed
# rows in the session (the database: the app tier keeps no files), so that the
# commit imports exactly what was previewed. claims/imports.py does the work.
import base64  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import zlib  # noqa: E402

from django import forms  # noqa: E402
from django.core.serializers.json import DjangoJSONEncoder  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from claims import imports as claim_imports  # noqa: E402
from claims.exports import export_response  # noqa: E402

IMPORT_SESSION_KEY = "claim_import"
PREVIEW_ROWS = 500
# Room for the multipart envelope around the file itself.
UPLOAD_OVERHEAD = 64 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV or JSON file",
        help_text=f"At most {claim_imports.WEB_MAX_BYTES // claim_imports.MB} MB; "
        "larger files go through manage.py import_claims.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if claim_imports.file_kind(upload.name) is None:
            raise forms.ValidationError("Give a file whose name ends in .csv or .json.")
        too_big = claim_imports.size_problem(
            claim_imports.file_kind(upload.name),
            upload.size,
            claim_imports.WEB_MAX_BYTES,
        )
        if too_big:
            raise forms.ValidationError(too_big.message)
        return upload


def importer_for(user, dry_run: bool, label: str) -> claim_imports.Importer:
    """Administrators may import others' records and rulings; managers' new
    sources keep the file's grades; everybody else's start at F."""
    return claim_imports.Importer(
        user,
        trusted=user.is_superuser,
        may_grade=user.is_manager,
        dry_run=dry_run,
        label=label,
    )


def render_import(
    request: HttpRequest,
    form: ImportForm,
    report=None,
    token: str = "",
    name: str = "",
    status: int = 200,
    problem: str = "",
) -> HttpResponse:
    return render(
        request,
        "claims/import_preview.html" if report else "claims/import_form.html",
        {
            "form": form,
            "problem": problem,
            "report": report,
            "rows": report.rows[:PREVIEW_ROWS] if report else [],
            "preview_rows": PREVIEW_ROWS,
            "token": token,
            "name": name,
            "max_mb": claim_imports.WEB_MAX_BYTES // claim_imports.MB,
        },
        status=status,
    )


def keep_parsed(request: HttpRequest, parsed, name: str) -> str:
    text = json.dumps(parsed.to_json(), cls=DjangoJSONEncoder)
    token = secrets.token_urlsafe(16)
    request.session[IMPORT_SESSION_KEY] = {
        "token": token,
        "name": name,
        "rows": base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii"),
    }
    return token


def kept_parsed(request: HttpRequest, token: str):
    kept = request.session.get(IMPORT_SESSION_KEY) or {}
    if not token or not secrets.compare_digest(kept.get("token", ""), token):
        return None, ""
    text = zlib.decompress(base64.b64decode(kept["rows"])).decode("utf-8")
    return claim_imports.ParsedFile.from_json(json.loads(text)), kept["name"]


@login_required
def claim_import(request: HttpRequest) -> HttpResponse:
    if not request.user.is_analyst:
        raise PermissionDenied("Only analysts import claims.")
    if request.method != "POST":
        return render_import(request, ImportForm())
    limit = claim_imports.WEB_MAX_BYTES + UPLOAD_OVERHEAD
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        # Refused by its declared size, before the body is read.
        problem = claim_imports.size_problem("", length, limit).message
        return render_import(request, ImportForm(), status=413, problem=problem)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_import(request, form)
    upload = form.cleaned_data["file"]
    parsed = claim_imports.read_file(upload.file, upload.name, upload.size)
    parsed.rows = list(parsed.rows)
    report = importer_for(request.user, True, upload.name).run(parsed)
    token = keep_parsed(request, parsed, upload.name) if report.ok else ""
    return render_import(request, form, report=report, token=token, name=upload.name)


@login_required
@require_POST
def claim_import_commit(request: HttpRequest) -> HttpResponse:
    if not request.user.is_analyst:
        raise PermissionDenied("Only analysts import claims.")
    parsed, name = kept_parsed(request, request.POST.get("token", ""))
    if parsed is None:
        messages.info(request, "Nothing to import: upload the file again.")
        return redirect("claims:claim_import")
    report = importer_for(request.user, False, name).run(parsed)
    if not report.committed:
        # What changed since the preview is shown; the kept rows stay for a retry.
        return render_import(
            request, ImportForm(), report=report, name=name, status=409
        )
    del request.session[IMPORT_SESSION_KEY]
    messages.success(request, f"Imported {name}: {report.summary()}.")
    return redirect("claims:claim_list")


@login_required
def claim_export_json(request: HttpRequest) -> HttpResponse:
    """The filtered claims in the import format (JSON), as the list shows them."""
    filterset = ClaimFilter(
        request.GET, queryset=Claim.objects.visible_to(request.user), request=request
    )
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        return HttpResponseBadRequest(
            f"The filters are not valid: {problems}", content_type="text/plain"
        )
    return export_response(filterset.qs, "json")
