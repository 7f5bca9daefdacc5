"""The one FilterSet per listed model, shared by the web lists and the API."""

import django_filters
from django import forms
from django.db.models import Count, F, Q, QuerySet

from sources.lookups import LookupFilter
from sources.models import Document, Grade, Source


def nulls_last(ordering) -> list:
    """Undated documents sort after dated ones in either direction, on SQLite and
    PostgreSQL alike (they disagree on where NULL goes by default)."""
    terms = []
    for term in ordering:
        if isinstance(term, str):
            descending = term.startswith("-")
            column = F(term.lstrip("-"))
            term = (
                column.desc(nulls_last=True)
                if descending
                else column.asc(nulls_last=True)
            )
        terms.append(term)
    return terms


class StableOrderingFilter(django_filters.OrderingFilter):
    """Breaks ties by the model's default ordering, so rows never shuffle between
    pages of a list sorted by a column with equal values."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        qs = super().filter(qs, value)
        if value:
            qs = qs.order_by(
                *nulls_last([*qs.query.order_by, *qs.model._meta.ordering])
            )
        return qs


def with_citation_count(queryset: QuerySet) -> QuerySet:
    """Annotated here rather than by each caller: sorting by citations needs it, and
    the web list, the API and the exports all pass through these FilterSets."""
    if "citation_count" in queryset.query.annotations:
        return queryset
    # A grouped query drops Meta.ordering, so it is restated for stable pages.
    ordering = queryset.query.order_by or queryset.model._meta.ordering
    return queryset.annotate(citation_count=Count("citations")).order_by(
        *nulls_last(ordering)
    )


def _origins(request) -> QuerySet:
    if request is None:
        return Source.objects.none()
    return Source.objects.visible_to(request.user).filter(parent__isnull=True)


def _publishers(request) -> QuerySet:
    if request is None:
        return Source.objects.none()
    return Source.objects.visible_to(request.user).filter(documents__isnull=False)


class SourceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or text"}),
    )
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices, empty_label="any")
    grade = django_filters.MultipleChoiceFilter(
        choices=Grade.choices, widget=forms.CheckboxSelectMultiple
    )
    country = django_filters.CharFilter(lookup_expr="icontains")
    # Sources grow with use: the origin is searched or typed (sources/lookups.py).
    origin = LookupFilter(
        queryset=_origins,
        lookup="sources:source_lookup",
        params="origins=1",
        noun="origin",
    )
    ordering = StableOrderingFilter(
        fields=(("name", "name"), ("grade", "grade"), ("citation_count", "citations")),
        field_labels={"citation_count": "Citations"},
        label="Sort by",
        empty_label="Name (default)",
    )

    class Meta:
        model = Source
        fields = ["q", "kind", "grade", "country", "origin"]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(with_citation_count(queryset))

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(name__icontains=value) | Q(description__icontains=value)
        )


class DocumentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title or URL"}),
    )
    kind = django_filters.ChoiceFilter(choices=Document.Kind.choices, empty_label="any")
    publisher = LookupFilter(
        queryset=lambda request: _publishers(request).distinct(),
        lookup="sources:source_lookup",
        noun="publisher",
    )
    retracted = django_filters.BooleanFilter(
        widget=forms.Select(
            choices=[("", "either"), ("false", "not retracted"), ("true", "retracted")]
        )
    )
    published_from = django_filters.DateFilter(
        field_name="published_on",
        lookup_expr="gte",
        label="Published from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    published_to = django_filters.DateFilter(
        field_name="published_on",
        lookup_expr="lte",
        label="Published until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    ordering = StableOrderingFilter(
        fields=(("published_on", "date"), ("title", "title")),
        field_labels={"published_on": "Date"},
        label="Sort by",
        empty_label="Newest first (default)",
    )

    class Meta:
        model = Document
        fields = ["q", "kind", "publisher", "retracted"]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(with_citation_count(queryset))

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(title__icontains=value) | Q(url__icontains=value))
