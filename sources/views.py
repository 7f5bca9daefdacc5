import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import OperationalError, transaction
from django.db.models import Count, Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat, pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from claims.actions import change_grade, save_document, save_source
from claims.models import Citation, Claim
from sources import reliability
from sources.filters import DocumentFilter, SourceFilter
from sources.forms import DocumentForm, GradeForm, ReliabilityFilterForm, SourceForm
from sources.models import Document, Grade, Source
from sources.reliability import Record, Selection

SOURCES_PER_PAGE = 50
DOCUMENTS_PER_PAGE = 50
CLAIMS_PER_PAGE = 25
DOCUMENTS_ON_SOURCE_PAGE = 20
RELIABILITY_PER_PAGE = 50
# The printable view lists every row up to this; beyond it, the CSV.
RELIABILITY_PRINT_LIMIT = 1000
# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Part:
    """One node of a source's "part of" tree, for the nested list."""

    source: Source
    children: list["Part"] = field(default_factory=list)


def web_link(url: str) -> str:
    """The URL if a browser may follow it; stored data can predate form validation
    (imports, admin), and a javascript: URL must never become a link."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def sort_columns(filterset, choices: list[tuple[str, str]], default: str) -> list[dict]:
    """Header links for a sortable table: a click sorts ascending, the next one
    descending."""
    current = filterset.form.data.get("ordering") or default
    columns = []
    for value, label in choices:
        state = {value: "ascending", f"-{value}": "descending"}.get(current, "")
        columns.append(
            {
                "label": label,
                "value": f"-{value}" if state == "ascending" else value,
                "state": state,
            }
        )
    return columns


def may_create_sources(user) -> bool:
    # The same people Source.objects.editable_by lets change a source.
    return user.is_analyst or user.is_manager


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    sources = Source.objects.visible_to(request.user).select_related("parent", "origin")
    filterset = SourceFilter(request.GET, queryset=sources, request=request)
    page = Paginator(filterset.qs, SOURCES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sources/source_list.html",
        {
            "filter": filterset,
            "page_obj": page,
            "columns": sort_columns(
                filterset,
                [("name", "Name"), ("grade", "Grade"), ("citations", "Citations")],
                default="name",
            ),
            "may_create": may_create_sources(request.user),
        },
    )


def parts_tree(source: Source, lineage: list[Source]) -> list[Part]:
    children_of: dict[int, list[Source]] = {}
    for member in lineage:
        children_of.setdefault(member.parent_id, []).append(member)

    def grow(parent_id: int, seen: set[int]) -> list[Part]:
        parts = []
        for child in children_of.get(parent_id, []):
            if child.pk not in seen:
                seen.add(child.pk)
                parts.append(Part(child, grow(child.pk, seen)))
        return parts

    return grow(source.pk, {source.pk})


def safe_next(request: HttpRequest, url: str | None) -> str:
    """A page on this site to go back to after a form, or ""."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def source_detail_context(
    request: HttpRequest,
    source: Source,
    grade_form: GradeForm | None = None,
    next_url: str = "",
) -> dict:
    user = request.user
    lineage = list(
        Source.objects.visible_to(user)
        .lineage_of(source)
        .exclude(pk=source.pk)
        .only("pk", "name", "kind", "grade", "parent_id")
    )
    claims = (
        Claim.objects.visible_to(user)
        .filter(citations__source=source)
        .select_related("confirmation")
        .annotate(
            supporting=Count("citations", filter=Q(citations__supports=True)),
            denying=Count("citations", filter=Q(citations__supports=False)),
        )
        .order_by("-updated_at", "-id")
    )
    documents = (
        Document.objects.visible_to(user)
        .filter(publisher=source)
        .only("pk", "title", "kind", "published_on", "retracted")
    )
    track_record = None
    if user.is_manager:
        quarters = reliability.quarterly_rulings(user, source)
        track_record = {"quarters": quarters, **reliability.quarter_bars(quarters)}
    if grade_form is None and user.is_manager:
        # The report links here with the grade its record suggests.
        proposed = request.GET.get("grade", "")
        initial = {"grade": proposed} if proposed in Grade.values else {}
        grade_form = GradeForm(source=source, initial=initial)
    return {
        "source": source,
        "ancestors": source.ancestors(),
        "parts": parts_tree(source, lineage),
        "parts_count": len(lineage),
        "documents": documents[:DOCUMENTS_ON_SOURCE_PAGE],
        "documents_count": documents.count(),
        "claims_page": Paginator(claims, CLAIMS_PER_PAGE).get_page(
            request.GET.get("claims_page")
        ),
        "grade_changes": source.grade_changes.select_related("changed_by"),
        "grade_form": grade_form,
        "next_url": next_url,
        "track_record": track_record,
        "may_edit": Source.objects.editable_by(user).filter(pk=source.pk).exists(),
    }


@login_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(
        Source.objects.visible_to(request.user).select_related("parent", "origin"),
        pk=pk,
    )
    next_url = safe_next(request, request.GET.get("next"))
    return render(
        request,
        "sources/source_detail.html",
        source_detail_context(request, source, next_url=next_url),
    )


def source_edit(request: HttpRequest, source: Source) -> HttpResponse:
    creating = source.pk is None
    data = request.POST if request.method == "POST" else None
    form = SourceForm(data, instance=source, user=request.user)
    if request.method == "POST" and form.is_valid():
        source = form.save(commit=False)
        changed = save_source(request.user, source)
        text = f"Source “{source.name}” {'created' if creating else 'saved'}"
        if changed:
            text += f"; {changed} claim{pluralize(changed)} recomputed"
        messages.success(request, text + ".")
        return redirect(source)
    return render(
        request, "sources/source_form.html", {"form": form, "source": form.instance}
    )


@login_required
def source_create(request: HttpRequest) -> HttpResponse:
    if not may_create_sources(request.user):
        raise PermissionDenied("Only analysts and managers add sources.")
    return source_edit(request, Source())


@login_required
def source_update(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source.objects.editable_by(request.user), pk=pk)
    return source_edit(request, source)


@login_required
@require_POST
def source_grade(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_manager:
        raise PermissionDenied("Only managers change a source's grade.")
    source = get_object_or_404(Source.objects.visible_to(request.user), pk=pk)
    form = GradeForm(request.POST, source=source)
    next_url = safe_next(request, request.POST.get("next"))
    if not form.is_valid():
        context = source_detail_context(
            request, source, grade_form=form, next_url=next_url
        )
        return render(request, "sources/source_detail.html", context)
    old = source.grade
    new = form.cleaned_data["grade"]
    changed = change_grade(request.user, source, new, form.cleaned_data["rationale"])
    messages.success(
        request,
        f"Grade changed from {old} to {new}; "
        f"{changed} claim{pluralize(changed)} recomputed.",
    )
    return redirect(next_url or source.get_absolute_url())


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    documents = (
        Document.objects.visible_to(request.user)
        .select_related("publisher")
        .defer("text")
    )
    filterset = DocumentFilter(request.GET, queryset=documents, request=request)
    page = Paginator(filterset.qs, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sources/document_list.html",
        {
            "filter": filterset,
            "page_obj": page,
            "columns": sort_columns(
                filterset, [("date", "Date"), ("title", "Title")], default="-date"
            ),
            "may_create": request.user.is_analyst,
        },
    )


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(
        Document.objects.visible_to(request.user).select_related("publisher"), pk=pk
    )
    citations = (
        Citation.objects.visible_to(request.user)
        .filter(document=document)
        .select_related("claim", "source")
        .order_by("claim_id", "id")
    )
    return render(
        request,
        "sources/document_detail.html",
        {
            "document": document,
            "url_link": web_link(document.url),
            "archive_link": web_link(document.archived_copy),
            "citations": citations,
            "may_edit": Document.objects.editable_by(request.user)
            .filter(pk=document.pk)
            .exists(),
        },
    )


def document_edit(request: HttpRequest, document: Document) -> HttpResponse:
    creating = document.pk is None
    initial = {}
    if creating and request.GET.get("publisher", "").isdigit():
        initial["publisher"] = request.GET["publisher"]
    data = request.POST if request.method == "POST" else None
    form = DocumentForm(data, instance=document, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        document = form.save(commit=False)
        changed = save_document(request.user, document)
        text = f"Document “{document.title}” {'created' if creating else 'saved'}"
        if changed:
            text += f"; {changed} claim{pluralize(changed)} recomputed"
        messages.success(request, text + ".")
        return redirect(document)
    return render(
        request,
        "sources/document_form.html",
        {"form": form, "document": form.instance},
    )


@login_required
def document_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_analyst:
        raise PermissionDenied("Only analysts add documents.")
    return document_edit(request, Document())


@login_required
def document_update(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.editable_by(request.user), pk=pk)
    return document_edit(request, document)


# --- the source reliability report ---------------------------------------------


def require_manager(user) -> None:
    if not user.is_manager:
        raise PermissionDenied("The reliability report is for managers.")


def report_selection(
    request: HttpRequest,
) -> tuple[ReliabilityFilterForm, Selection, str]:
    form = ReliabilityFilterForm(
        request.GET,
        countries=reliability.countries(),
        orderings=reliability.ORDERING_CHOICES,
    )
    data = form.valid_data()
    selection = Selection(
        by_origin=data.get("by") == "origin",
        topic=data.get("topic"),
        period_from=data.get("period_from"),
        period_to=data.get("period_to"),
        kind=data.get("kind", ""),
        country=data.get("country", ""),
    )
    return form, selection, data.get("ordering") or reliability.DEFAULT_ORDERING


def report_columns(ordering: str) -> list[dict]:
    """Header links: a click sorts ascending (counts: descending first), the next
    click reverses."""
    columns = []
    for column in reliability.COLUMNS:
        key = column.key
        state = {key: "ascending", f"-{key}": "descending"}.get(ordering, "")
        if state:
            value = key if state == "descending" else f"-{key}"
        else:
            value = f"-{key}" if column.numeric else key
        columns.append(
            {
                "key": key,
                "label": column.label,
                "value": value,
                "state": state,
                "numeric": column.numeric,
            }
        )
    return columns


class DrillDown:
    """The claim list behind each count of a report's rows, as far as its
    filters reach; the source's page, and its grade form with the way back to
    ``back``. The URLs' fixed parts are reversed and encoded once, not per row;
    each link equals its whole query urlencoded (tests/test_report_rows.py)."""

    STATUSES = {
        "confirmed": Claim.Status.CONFIRMED,
        "refuted": Claim.Status.REFUTED,
        "open": Claim.Status.OPEN,
        "in_review": Claim.Status.IN_REVIEW,
    }

    def __init__(self, selection: Selection, back: str = ""):
        self.subject = "origin" if selection.by_origin else "source"
        filters = {}
        if selection.topic is not None:
            filters["topic"] = selection.topic.pk
        if selection.period_from:
            filters["time_from"] = selection.period_from.isoformat()
        if selection.period_to:
            filters["time_to"] = selection.period_to.isoformat()
        self.filters = f"&{urlencode(filters)}" if filters else ""
        self.claim_list = reverse("claims:claim_list")
        # The source page's URL ends in "<pk>/".
        self.detail_prefix = reverse("sources:source_detail", args=[0])[:-2]
        self.back = quote(back, safe="/")
        self.statuses = {
            key: f"&{urlencode({'status': status})}"
            for key, status in self.STATUSES.items()
        }

    def links(self, record: Record) -> dict[str, str]:
        supported = f"{self.claim_list}?{self.subject}={record.id}{self.filters}"
        detail = f"{self.detail_prefix}{record.id}/"
        proposal = f"grade={record.suggested}&" if record.mismatch else ""
        links = {
            "detail": detail,
            "change_grade": f"{detail}?{proposal}next={self.back}#change-grade",
            "supported": supported,
        }
        for key, suffix in self.statuses.items():
            links[key] = f"{supported}{suffix}"
        return links


class ReportTooSlow(Exception):
    """The database gave up on the report (its statement timeout)."""


@contextmanager
def report_guard() -> Iterator[None]:
    """Where the report's queries run: a savepoint, so that the request's
    transaction survives a query the database cancels (its statement timeout),
    which becomes ReportTooSlow."""
    try:
        with transaction.atomic():
            yield
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) == QUERY_CANCELED:
            raise ReportTooSlow from error
        raise


def report_records(
    request: HttpRequest,
) -> tuple[ReliabilityFilterForm, Selection, str, Sequence[Record]]:
    """The report's rows in order: a list, or (unfiltered) stored rows that
    the database sorts and slices when a page, the print or the export reads
    them; read them inside report_guard()."""
    form, selection, ordering = report_selection(request)
    records = reliability.report_rows(request.user, selection, ordering)
    return form, selection, ordering, records


def report_too_slow(request: HttpRequest) -> HttpResponse:
    form, selection, ordering = report_selection(request)
    context = report_context(form, selection, ordering, [])
    context["too_slow"] = True
    return render(request, "sources/reliability_report.html", context, status=503)


def report_context(
    form, selection: Selection, ordering: str, rows, back: str = ""
) -> dict:
    drill_down = DrillDown(selection, back)
    for record in rows:
        record.links = drill_down.links(record)
    return {
        "form": form,
        "rows": rows,
        "selection": selection,
        "columns": report_columns(ordering),
        "subject": "origin" if selection.by_origin else "source",
        "chart": reliability.accuracy_chart(list(rows)),
        "min_rulings": reliability.MIN_RULINGS,
        "thresholds": reliability.LOWER_BOUND_GRADES,
        "unreliable_upper": reliability.UNRELIABLE_UPPER_BOUND,
        "grades": Grade.choices,
    }


@login_required
def reliability_report(request: HttpRequest) -> HttpResponse:
    require_manager(request.user)
    try:
        with report_guard():
            form, selection, ordering, records = report_records(request)
            paginator = Paginator(records, RELIABILITY_PER_PAGE)
            page = paginator.get_page(request.GET.get("page"))
    except ReportTooSlow:
        return report_too_slow(request)
    context = report_context(
        form, selection, ordering, page.object_list, request.get_full_path()
    )
    context["page_obj"] = page
    return render(request, "sources/reliability_report.html", context)


@login_required
def reliability_report_print(request: HttpRequest) -> HttpResponse:
    require_manager(request.user)
    try:
        with report_guard():
            form, selection, ordering, records = report_records(request)
            rows = records[:RELIABILITY_PRINT_LIMIT]
            total = len(records)
    except ReportTooSlow:
        return report_too_slow(request)
    context = report_context(form, selection, ordering, rows)
    context.update(
        total=total,
        limit=RELIABILITY_PRINT_LIMIT,
        printed_at=timezone.now(),
    )
    return render(request, "sources/reliability_report_print.html", context)


def csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def record_cells(record: Record) -> list[object]:
    """One CSV row, as the report's table shows it."""
    return [
        csv_cell(value)
        for value in (
            record.name,
            record.get_kind_display(),
            record.country,
            record.grade,
            record.suggested,
            record.agreement,
            record.supported,
            record.confirmed,
            record.refuted,
            record.still_open,
            record.rulings,
            *record.texts(),
            record.firsts,
            floatformat(record.median_lead, -1)
            if record.median_lead is not None
            else "",
            record.latest.isoformat() if record.latest else "",
        )
    ]


class Echo:
    """A file-like sink for csv.writer that hands each line back."""

    def write(self, value: str) -> str:
        return value


@login_required
def reliability_report_export(request: HttpRequest) -> HttpResponse:
    require_manager(request.user)
    try:
        with report_guard():
            form, selection, ordering, records = report_records(request)
            # Read whole before the first line goes out: a failure then is an
            # error page, never a file cut short.
            records = list(records)
    except ReportTooSlow:
        return HttpResponse(
            "The report took too long; narrow it by topic or period.",
            status=503,
            content_type="text/plain",
        )
    if form.errors:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()
        )
        return HttpResponseBadRequest(
            f"The filters are not valid: {problems}", content_type="text/plain"
        )
    writer = csv.writer(Echo())
    header = [column.label for column in reliability.COLUMNS]
    if selection.by_origin:
        header[0] = "Origin"

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for record in records:
            yield writer.writerow(record_cells(record))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    name = f"source-reliability-{'origins' if selection.by_origin else 'sources'}"
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
