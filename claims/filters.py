"""The one definition of how claims are filtered and sorted.

Shared by the web list, its CSV export and (later) the API, so a view shared as a
URL means the same thing everywhere. Every queryset of choices goes through the
access querysets, so a filter never lists what the user may not see.
"""

import copy
from collections import OrderedDict

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Exists, Expression, F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _
from django_filters import (
    BooleanFilter,
    CharFilter,
    ChoiceFilter,
    DateFilter,
    FilterSet,
    MultipleChoiceFilter,
    NumberFilter,
    OrderingFilter,
)
from django_filters.constants import EMPTY_VALUES

from claims.choices import LabelColumnChoiceFilter
from claims.models import (
    Citation,
    Claim,
    ClaimText,
    Confidence,
    Level,
    Place,
    Relation,
    Topic,
)
from claims.pagination import inner_joined
from claims.widgets import (
    FastBooleanSelect,
    FastCheckboxSelectMultiple,
    FastDateInput,
    FastNumberInput,
    FastSelect,
    FastTextInput,
)
from sources.lookups import LookupFilter
from sources.models import Source

SEARCH_CONFIG = "english"
# A search in the best-match order ranks at most this many matches, the most
# recently changed: ranking every match of a common word would read them all.
SEARCH_RANK_LIMIT = 500
MAX_SEARCH_LENGTH = 200
# Within what Claim.quantity_low/high (20 digits, 2 decimals) can hold.
QUANTITY_BOUND = 10**18
ANY = "any"


class AnyYesNoWidget(FastBooleanSelect):
    """Yes / no / any, where "any" leaves the filter off."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("any")), ("true", _("yes")), ("false", _("no"))]


class DateInput(FastDateInput):
    pass


class SearchVectorColumn(Expression):
    """claims_claimtext.search_vector, in a query of ClaimText: the stored,
    GIN-indexed tsvector that a PostgreSQL-only migration adds (statement weight
    A, actors weight B), which the model does not declare because SQLite has no
    such type."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection):
        table = compiler.query.get_initial_alias()
        return f"{compiler.quote_name_unless_alias(table)}.search_vector", []


# Orders by a field the claim reads from a relation every claim has: the
# likelihood is its ClaimConfirmation's (never empty).
THROUGH = {"likelihood": "confirmation__likelihood"}


class StableOrderingFilter(OrderingFilter):
    """Sorting whose order never depends on the database: rows with no value go
    last on every backend, and equal values fall back to the id."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if value in EMPTY_VALUES:
            return qs
        params = [param for param in value if param not in EMPTY_VALUES]
        ordering = []
        for param in params:
            name = self.get_ordering_value(param)
            column = THROUGH.get(name.lstrip("-"), name.lstrip("-"))
            name = f"-{column}" if name.startswith("-") else column
            qs = inner_joined(qs, column)
            if "__" in column or not Claim._meta.get_field(column).null:
                # Plain, so that an index in this order serves it.
                ordering.append(name)
            elif name.startswith("-"):
                ordering.append(F(column).desc(nulls_last=True))
            else:
                ordering.append(F(column).asc(nulls_last=True))
        last_descending = params[-1].startswith("-")
        ordering.append("-id" if last_descending else "id")
        return qs.order_by(*ordering)


def visible_sources(request) -> QuerySet:
    if request is None:
        return Source.objects.none()
    return Source.objects.visible_to(request.user).only("id", "name")


def visible_origins(request) -> QuerySet:
    # An origin is a source at the top of its "part of" chain.
    return visible_sources(request).filter(origin_id=F("id"))


def loggers(request) -> QuerySet:
    users = get_user_model().objects.all()
    if request is None:
        return users.none()
    logged = Claim.objects.visible_to(request.user).filter(logged_by=OuterRef("pk"))
    return users.filter(Exists(logged))


def loggers_key(request) -> str | None:
    """The name of the loggers query for a reader who sees every claim (the same
    SQL for each of them, compiled once: claims/choices.py); None for any other
    reader, whose query is their own."""
    if request is None or not request.user.is_authenticated:
        return None
    if Claim.objects.visible_to(request.user).is_every_claim():
        return "claims.filters.loggers:every-claim"
    return None


class ClaimFilterForm(forms.Form):
    """Refuses impossible ranges with a message instead of an empty list."""

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("time_from"), data.get("time_to")
        if start and end and start > end:
            self.add_error("time_to", "The window ends before it starts.")
        low, high = data.get("quantity_min"), data.get("quantity_max")
        if low is not None and high is not None and low > high:
            self.add_error("quantity_max", "The maximum is below the minimum.")
        return data


class _FiltersCopiedOneDeep(OrderedDict):
    """A FilterSet's base_filters, which every FilterSet copies with deepcopy:
    here each filter is copied one level down instead (its own attributes and
    its own ``extra``, the field's arguments that django-filter sets the
    request's queryset in), not through every widget, choice and queryset it
    holds. Field construction copies those itself (Field deep-copies its
    widget, a model choice field clones its queryset). The claim list's 17
    filters deep-copied cost about 2 ms of every list request."""

    def __deepcopy__(self, memo) -> OrderedDict:
        return OrderedDict((name, _own_copy(f)) for name, f in self.items())


def _own_copy(filter_):
    copied = copy.copy(filter_)
    copied.extra = dict(filter_.extra)
    # The field is made per filterset, from the copy.
    copied.__dict__.pop("_field", None)
    if copied.method is not None:
        # Rebinds FilterMethod to the copy, whose parent the filterset sets.
        copied.method = copied.method
    return copied


class _OwnFields(dict):
    """A filter form's fields, made for that one form: the filterset builds a
    form class per instance from its filters' fresh fields, so the form's
    deepcopy of them (BaseForm.__init__) copies nothing anyone else holds."""

    def __deepcopy__(self, memo) -> dict:
        return dict(self)


class CheapCopyFilterSet(FilterSet):
    """A FilterSet whose per-request copies of its filters and fields are one
    level deep (_FiltersCopiedOneDeep, _OwnFields); tests/test_claim_list.py
    checks that two filtersets share no filter, field, widget or queryset."""

    @classmethod
    def get_filters(cls) -> OrderedDict:
        return _FiltersCopiedOneDeep(super().get_filters())

    def get_form_class(self) -> type[forms.Form]:
        form_class = super().get_form_class()
        form_class.base_fields = _OwnFields(form_class.base_fields)
        return form_class


class ClaimFilter(CheapCopyFilterSet):
    q = CharFilter(
        method="search",
        label="Search",
        max_length=MAX_SEARCH_LENGTH,
        help_text="Words in the statement or actors.",
        widget=FastTextInput,
    )
    # A column of the claim itself: no join, so no DISTINCT (which would sort
    # every match by every column).
    level = MultipleChoiceFilter(
        choices=Level.choices,
        label="Level",
        widget=FastCheckboxSelectMultiple,
        distinct=False,
    )
    # Selects render in Python (claims/widgets.py): a template per <option>
    # cost the list page half its time.
    confidence = ChoiceFilter(
        field_name="confirmation__confidence",
        choices=Confidence.choices,
        label="Confidence",
        empty_label=ANY,
        widget=FastSelect,
    )
    status = ChoiceFilter(
        choices=Claim.Status.choices, label="Status", empty_label=ANY, widget=FastSelect
    )
    kind = ChoiceFilter(
        choices=Claim.Kind.choices, label="Kind", empty_label=ANY, widget=FastSelect
    )
    topic = LabelColumnChoiceFilter(
        queryset=Topic.objects.all(),
        label="Topic",
        empty_label=ANY,
        widget=FastSelect,
        choices_key="claims.Topic:all",
    )
    # Sources, origins and places grow with use: typed or searched, never listed
    # in full (sources/lookups.py).
    source = LookupFilter(
        queryset=visible_sources,
        method="cited_by",
        label="Cited by source",
        lookup="sources:source_lookup",
        noun="source",
        help_text="Type a name, or its number.",
    )
    origin = LookupFilter(
        queryset=visible_origins,
        method="cited_by_origin",
        label="Origin",
        lookup="sources:source_lookup",
        params="origins=1",
        noun="origin",
        help_text="Cited by this source or anything part of it.",
    )
    place = LookupFilter(
        queryset=Place.objects.only("id", "name"),
        field_name="places",
        label="Place",
        lookup="claims:place_lookup",
        noun="place",
    )
    time_from = DateFilter(
        method="ends_on_or_after", label="Event from", widget=DateInput
    )
    time_to = DateFilter(
        method="starts_on_or_before", label="Event to", widget=DateInput
    )
    quantity_min = NumberFilter(
        method="quantity_at_least",
        label="Quantity from",
        min_value=-QUANTITY_BOUND,
        max_value=QUANTITY_BOUND,
        widget=FastNumberInput,
    )
    quantity_max = NumberFilter(
        method="quantity_at_most",
        label="Quantity to",
        min_value=-QUANTITY_BOUND,
        max_value=QUANTITY_BOUND,
        widget=FastNumberInput,
    )
    logged_by = LabelColumnChoiceFilter(
        queryset=loggers,
        label="Logged by",
        empty_label=ANY,
        widget=FastSelect,
        label_column="username",  # Analyst.__str__
        choices_key=loggers_key,
    )
    has_contradictions = BooleanFilter(
        method="contradicted", label="Has contradictions", widget=AnyYesNoWidget
    )
    needs_rereview = BooleanFilter(label="Needs re-review", widget=AnyYesNoWidget)
    ordering = StableOrderingFilter(
        label="Sort by",
        widget=FastSelect,
        empty_label="best match, else last change",
        choices=[
            ("-updated_at", "last change, newest first"),
            ("updated_at", "last change, oldest first"),
            ("-likelihood", "likelihood, highest first"),
            ("likelihood", "likelihood, lowest first"),
            ("-time_start", "time of event, latest first"),
            ("time_start", "time of event, earliest first"),
        ],
    )

    class Meta:
        model = Claim
        fields: list[str] = []
        form = ClaimFilterForm

    # The review queue keeps its own order, searched or not.
    rank_search = True
    # The web list ranks only this many matches (SEARCH_RANK_LIMIT); exports and
    # the API, which read every match anyway, rank them all.
    rank_limit: int | None = None

    def search_query(self) -> SearchQuery | None:
        value = (self.form.cleaned_data.get("q") or "").strip()
        if not value:
            return None
        return SearchQuery(value, search_type="websearch", config=SEARCH_CONFIG)

    @property
    def ranks(self) -> bool:
        """Whether the result is in best-match order: a PostgreSQL search with
        no other order asked for."""
        return (
            self.rank_search
            and connection.vendor == "postgresql"
            and self.search_query() is not None
            and not self.form.cleaned_data.get("ordering")
        )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        qs = super().filter_queryset(queryset)
        # Every match, before the best-match order bounds them: what a total counts.
        self.matches = qs
        if not self.ranks:
            return qs
        query = self.search_query()
        if self.rank_limit:
            # The most recently changed matches (after every filter), not all;
            # they need no second pass of the filters, which would join every
            # match's search text.
            candidates = qs.order_by("-updated_at", "-id").values("pk")
            qs = queryset.filter(pk__in=candidates[: self.rank_limit])
        # A subquery by key, so that only the ranked rows' vectors are read.
        vector = (
            ClaimText.objects.filter(claim=OuterRef("pk"))
            .order_by()
            .values(vector=SearchVectorColumn())
        )
        return qs.annotate(search_rank=SearchRank(Subquery(vector), query)).order_by(
            "-search_rank", "-updated_at", "-id"
        )

    def search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        words = value.split()
        if not words:
            return qs
        if connection.vendor == "postgresql":
            # Whole words, stemmed, through the GIN index only: no OR with a
            # substring match, which would read every row (the trigram index
            # serves substrings in the claim lookup).
            query = SearchQuery(value, search_type="websearch", config=SEARCH_CONFIG)
            matching = (
                ClaimText.objects.alias(search_vector=SearchVectorColumn())
                .filter(search_vector=query)
                .values("claim_id")
            )
            return qs.filter(pk__in=matching)
        matches = Q()
        for word in words:
            matches &= Q(statement__icontains=word) | Q(actors__icontains=word)
        return qs.filter(matches)

    def cited_by(self, qs: QuerySet, name: str, value: Source) -> QuerySet:
        return qs.filter(
            Exists(Citation.objects.filter(claim=OuterRef("pk"), source=value))
        )

    def cited_by_origin(self, qs: QuerySet, name: str, value: Source) -> QuerySet:
        return qs.filter(
            Exists(Citation.objects.filter(claim=OuterRef("pk"), source__origin=value))
        )

    def ends_on_or_after(self, qs: QuerySet, name: str, value) -> QuerySet:
        # With time_to this is an overlap test; a claim with one date is a point.
        return qs.filter(
            Q(time_end__gte=value) | Q(time_end__isnull=True, time_start__gte=value)
        )

    def starts_on_or_before(self, qs: QuerySet, name: str, value) -> QuerySet:
        return qs.filter(
            Q(time_start__lte=value) | Q(time_start__isnull=True, time_end__lte=value)
        )

    def quantity_at_least(self, qs: QuerySet, name: str, value) -> QuerySet:
        # "at least N" with no upper figure is open above.
        return qs.filter(
            Q(quantity_high__gte=value)
            | Q(quantity_high__isnull=True, quantity_low__gte=value)
            | Q(
                quantity_high__isnull=True,
                quantity_low__isnull=False,
                quantity_qualifier=Claim.Qualifier.AT_LEAST,
            )
        )

    def quantity_at_most(self, qs: QuerySet, name: str, value) -> QuerySet:
        return qs.filter(
            Q(quantity_low__lte=value)
            | Q(quantity_low__isnull=True, quantity_high__lte=value)
            | Q(
                quantity_low__isnull=True,
                quantity_high__isnull=False,
                quantity_qualifier=Claim.Qualifier.AT_MOST,
            )
        )

    def contradicted(self, qs: QuerySet, name: str, value: bool) -> QuerySet:
        contradicts = Relation.objects.filter(kind=Relation.Kind.CONTRADICTS)
        either_end = Exists(contradicts.filter(claim_a=OuterRef("pk"))) | Exists(
            contradicts.filter(claim_b=OuterRef("pk"))
        )
        return qs.filter(either_end) if value else qs.exclude(either_end)
