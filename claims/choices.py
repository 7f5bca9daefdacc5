"""Model choice fields whose choices are read as (pk, label) pairs.

A model choice field builds a model instance per row to call its __str__; for
the topics (hundreds) and the analysts of a filter form, on every page, that is
most of the select's cost. Where __str__ is one column (``label_column``), the
pairs come straight from values_list. tests/test_choices.py checks __str__ still
is that column, and that the selects render as before.
"""

import django_filters
from django import forms
from django.forms.models import ModelChoiceIterator


class LabelColumnIterator(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        # A list of a few hundred pairs, not .iterator(): on PostgreSQL that is
        # a server-side cursor, three round trips instead of one.
        yield from self.queryset.values_list("pk", self.field.label_column)


class LabelColumnMixin:
    """A model choice field taking ``label_column``: the column __str__ returns."""

    def __init__(self, *args, label_column: str = "name", **kwargs):
        self.label_column = label_column
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
    field_class = FilterLabelColumnChoiceField
