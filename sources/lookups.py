"""Pickers for tables that grow with use (sources, documents, places): a text
input backed by a lookup endpoint, never a <select> of the whole table.

A page renders only the chosen value(s), by name. The endpoints return at most
``LOOKUP_LIMIT`` matches, through the same access querysets as the pages, and
``static/js/app.js`` turns the input into a search-as-you-type list. Without
JavaScript the input takes the row's number ("42", "#42") or its exact name,
case-insensitively; a name that several rows share asks for the number.
"""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Model, QuerySet, Value, When
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from claims.widgets import PythonRenderedInputMixin
from sources.models import Document, Source

LOOKUP_LIMIT = 20
QUERY_MAX = 200
NUMBER = re.compile(r"#?\s*(\d{1,18})")
# At most this many values of a multiple picker are read from one submission.
MULTIPLE_MAX = 50


def clean_query(text: str | None) -> str:
    """A search as typed, trimmed, bounded and free of characters no column holds."""
    text = (text or "").replace("\x00", "")
    return " ".join(text.split())[:QUERY_MAX]


def _ranked(queryset: QuerySet, column: str, query: str) -> QuerySet:
    """Rows whose column contains every word, those starting with the query first."""
    for word in query.split()[:6]:
        queryset = queryset.filter(**{f"{column}__icontains": word})
    return queryset.annotate(
        lookup_rank=Case(
            When(**{f"{column}__istartswith": query}, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )


def find(queryset: QuerySet, column: str, query: str, order: tuple[str, ...]):
    """At most LOOKUP_LIMIT rows for a query: by number ("42", "#42"), then by
    the words of ``column``."""
    query = clean_query(query)
    if not query:
        return []
    found = []
    number = NUMBER.fullmatch(query)
    if number:
        found = list(queryset.filter(pk=int(number[1])))
    rest = _ranked(queryset, column, query).exclude(pk__in=[row.pk for row in found])
    return found + list(
        rest.order_by("lookup_rank", *order)[: LOOKUP_LIMIT - len(found)]
    )


# --------------------------------------------------------------------------
# Labels: how each table's rows are named in a picker
# --------------------------------------------------------------------------


def source_label(source: Source) -> str:
    return source.name


def document_label(document: Document) -> str:
    return f"{document} · {document.publisher.name}"


def lookup_sources(user, query: str, *, origins_only: bool = False) -> list[Source]:
    sources = Source.objects.visible_to(user).only("pk", "name", "kind", "country")
    if origins_only:
        sources = sources.filter(parent__isnull=True)
    return find(sources, "name", query, ("name", "pk"))


def lookup_documents(user, query: str) -> list[Document]:
    documents = (
        Document.objects.visible_to(user)
        .select_related("publisher")
        .only("pk", "title", "published_on", "publisher__name")
    )
    return find(documents, "title", query, ("-published_on", "title", "pk"))


@login_required
def source_lookup(request: HttpRequest) -> JsonResponse:
    """Sources matching ``q``; ``origins=1`` keeps top-level sources only."""
    sources = lookup_sources(
        request.user,
        request.GET.get("q", ""),
        origins_only=request.GET.get("origins") == "1",
    )
    return JsonResponse(
        [
            {
                "id": source.pk,
                "label": source_label(source),
                # No grade: the entry form's tradecraft has credibility judged
                # before the source's grade is seen.
                "detail": " · ".join(
                    filter(None, [source.get_kind_display(), source.country])
                ),
            }
            for source in sources
        ],
        safe=False,
    )


@login_required
def document_lookup(request: HttpRequest) -> JsonResponse:
    documents = lookup_documents(request.user, request.GET.get("q", ""))
    return JsonResponse(
        [
            {
                "id": document.pk,
                "label": document_label(document),
                "detail": f"#{document.pk}",
            }
            for document in documents
        ],
        safe=False,
    )


# --------------------------------------------------------------------------
# Form fields and widgets
# --------------------------------------------------------------------------


class LookupInput(PythonRenderedInputMixin, forms.TextInput):
    """One text input, with a slot for the chosen row's name and a list the
    script fills with matches. Renders the chosen value only, never the table."""

    def __init__(self, lookup: str, attrs=None, params: str = "") -> None:
        base = {"autocomplete": "off", "class": "lookup-input", "size": 30}
        super().__init__({**base, **(attrs or {})})
        self.lookup = lookup
        self.params = params
        self.field = None

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        input_id = attrs.get("id") or f"id_{name}"
        picked = self.field.label_for(value) if self.field is not None else ""
        described = " ".join(
            filter(None, [attrs.get("aria-describedby", ""), f"{input_id}_picked"])
        )
        attrs["aria-describedby"] = described
        text = super().render(name, value, attrs, renderer)
        url = reverse(self.lookup) + (f"?{self.params}" if self.params else "")
        return format_html(
            '<div class="lookup" data-lookup-url="{}">{}'
            '<div class="lookup-results" role="listbox" id="{}_results" '
            'aria-label="Matches" hidden></div>'
            '<p class="lookup-picked" id="{}_picked" aria-live="polite">{}</p></div>',
            url,
            text,
            input_id,
            input_id,
            picked,
        )


class LookupMultipleInput(forms.Widget):
    """The chosen rows as ticked boxes (untick to drop one) and one text input to
    add another, by number or exact name, or by the script's search."""

    def __init__(self, lookup: str, attrs=None) -> None:
        super().__init__(attrs)
        self.lookup = lookup
        self.field = None

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        values = getter(name) if getter else data.get(name)
        if values is None:
            return []
        if isinstance(values, str):
            values = [values]
        return [value for value in values[: MULTIPLE_MAX + 1] if clean_query(value)]

    def value_omitted_from_data(self, data, files, name):
        return False

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        input_id = attrs.get("id") or f"id_{name}"
        chosen, unresolved = (
            self.field.split_for_display(value) if self.field else ([], [])
        )
        boxes = format_html_join(
            "",
            '<li><label class="check"><input type="checkbox" name="{}" value="{}" '
            "checked> {}</label></li>",
            ((name, row.pk, self.field.label_from_instance(row)) for row in chosen),
        )
        typed = ", ".join(unresolved)
        return format_html(
            '<div class="lookup lookup-multiple" data-lookup-url="{}" '
            'data-name="{}"><ul class="lookup-chosen" id="{}_chosen">{}</ul>'
            '<input type="text" name="{}" id="{}" value="{}" autocomplete="off" '
            'class="lookup-input" size="30" aria-describedby="{}_picked{}">'
            '<div class="lookup-results" role="listbox" id="{}_results" '
            'aria-label="Matches" hidden></div>'
            '<p class="lookup-picked" id="{}_picked" aria-live="polite"></p></div>',
            reverse(self.lookup),
            name,
            input_id,
            boxes,
            name,
            input_id,
            typed,
            input_id,
            f" {attrs['aria-describedby']}" if attrs.get("aria-describedby") else "",
            input_id,
            input_id,
        )


class _Resolver:
    """Reads a typed value (a number or an exact name) as one row of the field's
    queryset; ``known`` holds rows already read for this page, by pk."""

    noun = "row"
    name_field = "name"

    def _init_lookup(self, noun: str, name_field: str) -> None:
        self.noun = noun
        self.name_field = name_field
        self.known: dict[int, Model] = {}

    # A new queryset (the access queryset, set per request) or a copy of the
    # field (one per form) starts with nothing known, its widget pointing back.
    def _set_queryset(self, queryset) -> None:
        super()._set_queryset(queryset)
        self.widget.field = self
        self.known = {}

    queryset = property(forms.ModelChoiceField._get_queryset, _set_queryset)

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result.widget.field = result
        result.known = {}
        return result

    def remember(self, rows) -> None:
        for row in rows:
            if row is not None:
                self.known[row.pk] = row

    def resolve(self, value) -> Model:
        """The row a value names; ValidationError when none or several."""
        if isinstance(value, self.queryset.model):
            value = value.pk
        text = clean_query(str(value))
        number = NUMBER.fullmatch(text)
        if number:
            pk = int(number[1])
            row = self.known.get(pk)
            if row is None:
                row = self.queryset.filter(pk=pk).first()
                self.remember([row])
            if row is None:
                raise forms.ValidationError(
                    "There is no %(noun)s #%(pk)s.",
                    code="invalid_choice",
                    params={"noun": self.noun, "pk": pk},
                )
            return row
        rows = list(
            self.queryset.filter(**{f"{self.name_field}__iexact": text}).order_by("pk")[
                :2
            ]
        )
        if not rows:
            # The typed text goes in as a parameter: a "%" in it must not be
            # read as a format (django-filter formats API messages with params).
            raise forms.ValidationError(
                "No %(noun)s is named “%(text)s”. Pick one from the list, or "
                "type its number.",
                code="invalid_choice",
                params={"noun": self.noun, "text": text[:80]},
            )
        if len(rows) > 1:
            raise forms.ValidationError(
                "Several %(noun)ss are named “%(text)s”: pick one from the list, "
                "or type its number.",
                code="invalid_choice",
                params={"noun": self.noun, "text": text[:80]},
            )
        self.remember(rows)
        return rows[0]

    def label_for(self, value) -> str:
        """The chosen row's name for display, or "" when the value names none."""
        if value in (None, "", [], ()):
            return ""
        try:
            return self.label_from_instance(self.resolve(value))
        except forms.ValidationError:
            return ""


class LookupChoiceField(_Resolver, forms.ModelChoiceField):
    """A ModelChoiceField validated against its (access) queryset, whose widget
    shows only the chosen value."""

    def __init__(
        self,
        queryset,
        *,
        lookup: str,
        noun: str,
        name_field: str = "name",
        label_from_instance=None,
        params: str = "",
        **kwargs,
    ) -> None:
        kwargs.setdefault("widget", LookupInput(lookup, params=params))
        kwargs.setdefault("empty_label", None)
        self._init_lookup(noun, name_field)
        if label_from_instance is not None:
            self.label_from_instance = label_from_instance
        super().__init__(queryset, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, str) and not clean_query(value):
            return None
        return self.resolve(value)

    def validate(self, value) -> None:
        forms.Field.validate(self, value)

    def prepare_value(self, value):
        if isinstance(value, Model):
            self.remember([value])
            return value.pk
        return value


class LookupMultipleChoiceField(_Resolver, forms.ModelMultipleChoiceField):
    """Several rows of a large table, each typed or picked like LookupChoiceField."""

    def __init__(
        self, queryset, *, lookup: str, noun: str, name_field: str = "name", **kwargs
    ) -> None:
        kwargs.setdefault("widget", LookupMultipleInput(lookup))
        self._init_lookup(noun, name_field)
        super().__init__(queryset, **kwargs)

    def _values(self, value) -> list:
        if value in (None, ""):
            return []
        if isinstance(value, (str, int, Model)):
            value = [value]
        values = list(value)
        if len(values) > MULTIPLE_MAX:
            raise forms.ValidationError(
                f"At most {MULTIPLE_MAX} {self.noun}s at once.", code="list"
            )
        return [
            item
            for item in values
            if item is not None and (not isinstance(item, str) or clean_query(item))
        ]

    def _read_numbers(self, values) -> None:
        """Read every numbered value in one query, not one per value."""
        pks = set()
        for item in values:
            if isinstance(item, Model):
                self.remember([item])
                continue
            number = NUMBER.fullmatch(clean_query(str(item)))
            if number and int(number[1]) not in self.known:
                pks.add(int(number[1]))
        if pks:
            self.remember(self.queryset.filter(pk__in=pks))

    def clean(self, value):
        values = self._values(value)
        if not values:
            if self.required:
                raise forms.ValidationError(
                    self.error_messages["required"], code="required"
                )
            return self.queryset.none()
        self._read_numbers(values)
        rows, seen = [], set()
        for item in values:
            row = self.resolve(item)
            if row.pk not in seen:
                seen.add(row.pk)
                rows.append(row)
        return rows

    def split_for_display(self, value) -> tuple[list, list[str]]:
        """(rows the value names, values naming none, as typed)."""
        try:
            values = self._values(value)
        except forms.ValidationError:
            values = []
        self._read_numbers(values)
        rows, unresolved, seen = [], [], set()
        for item in values:
            try:
                row = self.resolve(item)
            except forms.ValidationError:
                unresolved.append(clean_query(str(item)))
                continue
            if row.pk not in seen:
                seen.add(row.pk)
                rows.append(row)
        return rows, unresolved

    def prepare_value(self, value):
        if isinstance(value, Model):
            return value.pk
        if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
            items = list(value)
            self.remember(item for item in items if isinstance(item, Model))
            return [item.pk if isinstance(item, Model) else item for item in items]
        return value

    def has_changed(self, initial, data) -> bool:
        initial_set = {str(v) for v in self.prepare_value(initial or [])}
        data_set = {str(v) for v in (data or [])}
        return initial_set != data_set


def source_field(**kwargs) -> LookupChoiceField:
    return LookupChoiceField(
        Source.objects.none(),
        lookup="sources:source_lookup",
        noun="source",
        label_from_instance=source_label,
        **kwargs,
    )


def document_field(**kwargs) -> LookupChoiceField:
    return LookupChoiceField(
        Document.objects.none(),
        lookup="sources:document_lookup",
        noun="document",
        name_field="title",
        label_from_instance=document_label,
        **kwargs,
    )


class _FilterLookupField(LookupChoiceField):
    def __init__(self, *args, **kwargs) -> None:
        # django-filter's choice options, which a lookup has no use for.
        for name in ("null_label", "null_value", "empty_label"):
            kwargs.pop(name, None)
        super().__init__(*args, **kwargs)


class LookupFilter(django_filters.ModelChoiceFilter):
    """A ModelChoiceFilter whose form field is a lookup: pass ``lookup``,
    ``noun`` (and ``name_field``, ``label_from_instance``, ``params``)."""

    field_class = _FilterLookupField
