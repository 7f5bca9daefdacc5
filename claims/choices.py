"""Model choice fields whose choices are read as (pk, label) pairs.

A model choice field builds a model instance per row to call its __str__; for
the topics (hundreds) and the analysts of a filter form, on every page, that is
most of the select's cost. Where __str__ is one column (``label_column``), the
pairs come straight from values_list. tests/test_choices.py checks __str__ still
is that column, and that the selects render as before.

A field may also name its query (``choices_key``) when that query is the same
for every reader: the topics; the analysts who logged a claim, for a reader who
sees every claim. Its SQL is then compiled by Django once per process, key and
database, and only run on later pages: compiling them and the ORM's per-row
work cost a list page about 0.2 ms of its 7 (docs/performance.md). One key,
one query: tests/test_choices.py compiles each keyed query afresh for readers
of every role and compares it with the one kept.
"""

import django_filters
from django import forms
from django.db import connections
from django.forms.models import ModelChoiceIterator

# (key, label column, database alias, vendor) -> (sql, params)
_compiled: dict[tuple[str, str, str, str], tuple[str, tuple]] = {}


def choice_pairs(queryset, label_column: str, key: str | None = None) -> list[tuple]:
    """The (pk, label) pairs of the queryset, in its order; with a key, through
    SQL compiled once for that key (see the module's docstring)."""
    pairs = queryset.values_list("pk", label_column)
    if key is None or queryset.query.is_empty():
        # A list of a few hundred pairs, not .iterator(): on PostgreSQL that is
        # a server-side cursor, three round trips instead of one.
        return list(pairs)
    connection = connections[pairs.db]
    cache_key = (key, label_column, connection.alias, connection.vendor)
    entry = _compiled.get(cache_key)
    if entry is None:
        sql, params = compiled(pairs)
        entry = _compiled[cache_key] = (sql, tuple(params))
    with connection.cursor() as cursor:
        # The driver's values are the ORM's for a key and a text column: no
        # converter runs on them on PostgreSQL or SQLite.
        cursor.execute(entry[0], entry[1])
        return cursor.fetchall()


def compiled(queryset) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


class LabelColumnIterator(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from choice_pairs(
            self.queryset, self.field.label_column, self.field.choices_key
        )


class LabelColumnMixin:
    """A model choice field taking ``label_column``, the column __str__ returns,
    and ``choices_key``, the name of its query when every reader's is the same."""

    def __init__(
        self,
        *args,
        label_column: str = "name",
        choices_key: str | None = None,
        **kwargs,
    ):
        self.label_column = label_column
        self.choices_key = choices_key
        super().__init__(*args, **kwargs)


class LabelColumnChoiceField(LabelColumnMixin, forms.ModelChoiceField):
    iterator = LabelColumnIterator


class FilterLabelColumnIterator(
    django_filters.fields.ModelChoiceIterator, LabelColumnIterator
):
    """django-filter's iterator (its "null" choice) over the pairs."""


class FilterLabelColumnChoiceField(
    LabelColumnMixin, django_filters.fields.ModelChoiceField
):
    iterator = FilterLabelColumnIterator


class LabelColumnChoiceFilter(django_filters.ModelChoiceFilter):
    """``choices_key`` may be a callable of the request: the key of the query
    for that reader, or None where the query is the reader's own."""

    field_class = FilterLabelColumnChoiceField

    def __init__(self, *args, choices_key=None, **kwargs):
        self.choices_key = choices_key
        super().__init__(*args, **kwargs)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            key = self.choices_key
            if callable(key):
                key = key(self.get_request())
            self.extra["choices_key"] = key
        return super().field
