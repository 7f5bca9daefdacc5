from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from claims.actions import change_grade, save_document, save_source
from claims.models import Citation, Claim
from sources.filters import DocumentFilter, SourceFilter
from sources.forms import DocumentForm, GradeForm, SourceForm
from sources.models import Document, Source

SOURCES_PER_PAGE = 50
DOCUMENTS_PER_PAGE = 50
CLAIMS_PER_PAGE = 25
DOCUMENTS_ON_SOURCE_PAGE = 20


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


def source_detail_context(
    request: HttpRequest, source: Source, grade_form: GradeForm | None = None
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
    if grade_form is None and user.is_manager:
        grade_form = GradeForm(source=source)
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
        "may_edit": Source.objects.editable_by(user).filter(pk=source.pk).exists(),
    }


@login_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(
        Source.objects.visible_to(request.user).select_related("parent", "origin"),
        pk=pk,
    )
    return render(
        request, "sources/source_detail.html", source_detail_context(request, source)
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
    if not form.is_valid():
        context = source_detail_context(request, source, grade_form=form)
        return render(request, "sources/source_detail.html", context)
    old = source.grade
    new = form.cleaned_data["grade"]
    changed = change_grade(request.user, source, new, form.cleaned_data["rationale"])
    messages.success(
        request,
        f"Grade changed from {old} to {new}; "
        f"{changed} claim{pluralize(changed)} recomputed.",
    )
    return redirect(source)


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
