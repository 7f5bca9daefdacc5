"""The reads every signed-in page makes: its session, its user and the user's
roles, each one small query whose only input is a key.

Django builds and compiles such a query on every request (a fifth of a
millisecond of CPU each here, as much as the rest of reading the row); these
are compiled once per process and database, then only run with each request's
key. Rows go through the ORM's own converters and ``Model.from_db``, so what a
page gets is what ``objects.get()`` gives (tests/test_reads.py compares them on
both databases). Nothing read is kept between requests: a changed password,
role or a revoked session takes effect on the next page, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from django.db import connections
from django.db.models import QuerySet

# An id no row has: where a compiled query's parameters hold it, each call's
# key goes.
MARKER = -0x5EED5EED


class Compiled(NamedTuple):
    sql: str
    params: tuple
    slots: tuple[int, ...]
    compiler: object
    converters: dict
    names: tuple[str, ...]


_compiled: dict[tuple[str, str, str], Compiled | None] = {}


def _compile(
    name: str, build: Callable[[int], QuerySet], alias: str
) -> Compiled | None:
    connection = connections[alias]
    key = (name, alias, connection.vendor)
    if key not in _compiled:
        queryset = build(MARKER).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = tuple(i for i, value in enumerate(params) if value == MARKER)
        entry = None
        if slots and str(MARKER) not in sql:
            select = [column for column, _, _ in compiler.select]
            names = tuple(getattr(column.target, "attname", "") for column in select)
            entry = Compiled(
                sql, tuple(params), slots, compiler, compiler.get_converters(select),
                names,
            )  # fmt: skip
        # None: the key is not a parameter of it (a Django that writes it into
        # the text), so it is built by the ORM on each call instead.
        _compiled[key] = entry
    return _compiled[key]


def statement(
    name: str, build: Callable[[int], QuerySet], pk: int, alias: str
) -> tuple[str, list]:
    """``build(pk)`` as (sql, params): compiled by Django once per name, process
    and database, then given each call's key in every place the query holds it.
    ``name`` stands for the query ``build`` makes: one name, one query."""
    entry = _compile(name, build, alias)
    if entry is None:
        return build(pk).using(alias).query.get_compiler(using=alias).as_sql()
    params = list(entry.params)
    for slot in entry.slots:
        params[slot] = pk
    return entry.sql, params


def rows(name: str, build: Callable[[int], QuerySet], pk: int, alias: str) -> list:
    """The rows of ``build(pk)`` as the ORM would convert them (lists of column
    values in its select order), through SQL compiled once per name."""
    entry = _compile(name, build, alias)
    if entry is None:
        queryset = build(pk).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        return [list(row) for row in compiler.results_iter()]
    with connections[alias].cursor() as cursor:
        cursor.execute(*statement(name, build, pk, alias))
        found = cursor.fetchall()
    if entry.converters:
        return list(entry.compiler.apply_converters(found, entry.converters))
    return [list(row) for row in found]


def instance(name: str, build: Callable[[int], QuerySet], pk: int, alias: str):
    """The one model instance ``build(pk)`` reads (a query of one model's
    concrete fields, without select_related), or None."""
    entry = _compile(name, build, alias)
    if entry is None:
        return build(pk).using(alias).first()
    found = rows(name, build, pk, alias)
    if not found:
        return None
    model = entry.compiler.query.model
    return model.from_db(alias, entry.names, found[0])
