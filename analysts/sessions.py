"""Django's database sessions, the session of each page read by one SQL
statement written once rather than built and compiled by the ORM on every
request (analysts/reads.py says why). SESSION_ENGINE names this module."""

from typing import NamedTuple

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class _Read(NamedTuple):
    session_data: str


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        # As Django's: the session of this key that has not expired, else none
        # (and no key, so that a new session gets a new one).
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = self.model._meta
        data, key, expiry = (
            quote(meta.get_field(name).column)
            for name in ("session_data", "session_key", "expire_date")
        )
        table = quote(meta.db_table)
        sql = f"SELECT {data} FROM {table} WHERE {key} = %s AND {expiry} > %s"  # noqa: S608
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return _Read(row[0])
