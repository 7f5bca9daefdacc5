"""Keyset pagination for the claim list and the review queue.

A page is the rows after (or before) the last (first) row of the page the reader
came from, in the order's key plus the id, so that every page is an index range
read, however deep: "older" and "newer" links instead of numbered pages, each a
URL that keeps every filter. No page counts the whole result: ``Total`` is the
exact number when the result fits on the page, else a count that stops at a cap
or, on PostgreSQL, the planner's estimate, and says which.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.http import QueryDict

PAGE_SIZE = 50
# Beyond this many rows a total is "more than" or an estimate, never counted.
COUNT_CAP = 1000
CURSOR_SEPARATOR = "~"


@dataclass(frozen=True)
class Key:
    """One part of an order: a field or annotation, its direction, and whether
    it can be empty (empty values go last, whichever the direction)."""

    name: str
    descending: bool
    kind: type  # datetime.datetime, datetime.date, float or int
    nullable: bool = False
    nulls_last: bool = True
    # Where a row holds the value, when not under ``name``: a key through a
    # relation ("confirmation__likelihood") is read as the row's "likelihood".
    attribute: str = ""

    def reversed(self) -> Key:
        return Key(
            self.name,
            not self.descending,
            self.kind,
            self.nullable,
            not self.nulls_last,
            self.attribute,
        )

    def joined(self, queryset: QuerySet) -> QuerySet:
        return inner_joined(queryset, self.name)

    def order_by(self):
        expression = F(self.name)
        if not self.nullable:
            # Plain ASC/DESC, so that an index in that order serves it.
            return expression.desc() if self.descending else expression.asc()
        nulls = {"nulls_last": True} if self.nulls_last else {"nulls_first": True}
        if self.descending:
            return expression.desc(**nulls)
        return expression.asc(**nulls)

    def equal(self, value) -> Q:
        if value is None:
            return Q(**{f"{self.name}__isnull": True})
        return Q(**{self.name: value})

    def beyond(self, value) -> Q | None:
        """Rows strictly after ``value`` in this key's order; None for none."""
        if value is None:
            # Empty values come last (nothing after them) or first (all after).
            return None if self.nulls_last else Q(**{f"{self.name}__isnull": False})
        lookup = "lt" if self.descending else "gt"
        after = Q(**{f"{self.name}__{lookup}": value})
        if self.nullable and self.nulls_last:
            after |= Q(**{f"{self.name}__isnull": True})
        return after

    def at_or_beyond(self, value) -> Q:
        """A looser bound on the first key alone: what lets the database start
        its index range at the cursor."""
        if value is None:
            return Q() if not self.nulls_last else self.equal(None)
        lookup = "lte" if self.descending else "gte"
        bound = Q(**{f"{self.name}__{lookup}": value})
        if self.nullable and self.nulls_last:
            bound |= Q(**{f"{self.name}__isnull": True})
        return bound

    def encode(self, value) -> str:
        if value is None:
            return ""
        if self.kind is float:
            return repr(float(value))
        if self.kind is int:
            return str(int(value))
        return value.isoformat()

    def decode(self, text: str):
        if text == "":
            if not self.nullable:
                raise ValueError("empty value for a required key")
            return None
        if self.kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return value
        if self.kind is int:
            return int(text)
        if self.kind is datetime.date:
            return datetime.date.fromisoformat(text)
        value = datetime.datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError("a time without a zone")
        return value


def inner_joined(queryset: QuerySet, name: str) -> QuerySet:
    """The queryset, for an order by a field through a relation that every row
    has (``confirmation__likelihood``: a claim's ClaimConfirmation), joined to
    it by an inner join: through the outer join Django writes for
    select_related, the database cannot walk the related table's index in
    that order and sorts every row."""
    relation, _, rest = name.lstrip("-").partition("__")
    if not rest:
        return queryset
    return queryset.filter(**{f"{relation}__isnull": False})


def ordered_keys(keys: Sequence[Key], id_descending: bool) -> list[Key]:
    """The keys plus the id, which makes the order total."""
    return [*keys, Key("id", id_descending, int)]


def after(keys: Sequence[Key], values: Sequence) -> Q:
    """Rows after these key values in the keys' order: (a, b) > (x, y) spelt
    out, plus the first key's bound so that an index range begins there."""
    condition = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        beyond = key.beyond(value)
        if beyond is not None:
            condition |= equal & beyond
        equal &= key.equal(value)
    return keys[0].at_or_beyond(values[0]) & condition


@dataclass
class Total:
    """How many rows the result holds, as exactly as it is cheap to know."""

    number: int
    exact: bool = True
    estimated: bool = False

    @property
    def more_than(self) -> bool:
        return not self.exact and not self.estimated

    @property
    def phrase(self) -> str:
        """The number as a page says it: "55", "more than 1,000", "about 250,000"."""
        if self.estimated:
            return f"about {rounded(self.number):,}"
        if self.more_than:
            return f"more than {self.number:,}"
        return f"{self.number:,}"


@dataclass
class KeysetPage:
    object_list: list
    has_next: bool
    has_previous: bool
    next_query: str = ""
    previous_query: str = ""
    first_query: str = ""
    total: Total | None = None
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def _cursor(keys: Sequence[Key], row) -> str:
    return CURSOR_SEPARATOR.join(
        key.encode(getattr(row, key.attribute or key.name)) for key in keys
    )


def _parse(keys: Sequence[Key], text: str | None) -> list | None:
    """The cursor's values, or None for a cursor that is absent or not valid
    (a hand-edited URL gets the first page, not an error)."""
    if not text:
        return None
    parts = text.split(CURSOR_SEPARATOR)
    if len(parts) != len(keys):
        return None
    try:
        return [key.decode(part) for key, part in zip(keys, parts, strict=True)]
    except (ValueError, TypeError, OverflowError):
        return None


def keyset_page(
    queryset: QuerySet,
    keys: Sequence[Key],
    params: QueryDict,
    page_size: int | None = None,
) -> KeysetPage:
    """The page of ``queryset`` in the keys' order that ``after``/``before`` in
    ``params`` asks for, with links that keep every other parameter."""
    page_size = page_size or PAGE_SIZE
    for key in keys:
        queryset = key.joined(queryset)
    base = params.copy()
    for name in ("after", "before", "page"):
        base.pop(name, None)
    later = _parse(keys, params.get("after"))
    earlier = None if later is not None else _parse(keys, params.get("before"))
    if earlier is not None:
        backwards = [key.reversed() for key in keys]
        rows = list(
            queryset.filter(after(backwards, earlier)).order_by(
                *(key.order_by() for key in backwards)
            )[: page_size + 1]
        )
        has_previous = len(rows) > page_size
        rows = rows[:page_size][::-1]
        has_next = True
    else:
        if later is not None:
            queryset = queryset.filter(after(keys, later))
        rows = list(
            queryset.order_by(*(key.order_by() for key in keys))[: page_size + 1]
        )
        has_next = len(rows) > page_size
        rows = rows[:page_size]
        has_previous = later is not None
    page = KeysetPage(rows, has_next=has_next, has_previous=has_previous)
    page.first_query = base.urlencode()
    if rows and has_next:
        query = base.copy()
        query["after"] = _cursor(keys, rows[-1])
        page.next_query = query.urlencode()
    if rows and has_previous:
        query = base.copy()
        query["before"] = _cursor(keys, rows[0])
        page.previous_query = query.urlencode()
    return page


def total_of(
    queryset: QuerySet,
    page: KeysetPage,
    cap: int | None = None,
    complete: bool | None = None,
    ordered: bool = False,
) -> Total:
    """The page's own length when it is all there is (``complete``, by default
    when it has no neighbour); else a count that stops after ``cap`` rows, or on
    PostgreSQL the planner's estimate when that is above the cap (counting would
    read every match).

    The count drops the queryset's order, so that the planner finds the first
    rows however is cheapest, unless ``ordered``: then it walks them in the
    queryset's order, which an index holds. A partial index for the rows a
    list shows (the review queue's) is the only bound on a count that the
    planner would otherwise make by reading the table from its start until
    enough rows match: cheap where they are many and spread, a read of the
    whole table where they are few and were written last."""
    cap = cap or COUNT_CAP
    if complete is None:
        complete = not page.has_next and not page.has_previous
    if complete:
        return Total(len(page.object_list))
    rows = (queryset if ordered else queryset.order_by()).values("pk")
    if connection.vendor == "postgresql":
        estimate = planner_estimate(rows)
        if estimate > cap:
            return Total(estimate, exact=False, estimated=True)
    counted = rows[: cap + 1].count()
    if counted > cap:
        return Total(cap, exact=False)
    return Total(counted)


def planner_estimate(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows the query returns, from its plan."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def rounded(number: int) -> int:
    """An estimate to two significant figures: "about 250,000", not 249,871."""
    if number < 100:
        return number
    digits = len(str(number)) - 2
    return round(number, -digits)
