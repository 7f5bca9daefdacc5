"""The reads every signed-in page makes (session, user, roles) through SQL
compiled once (analysts/reads.py): the same records as the ORM's reads, each
request's own, nothing kept from one request to the next."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysts import reads
from analysts.backends import ModelBackend
from analysts.models import Analyst
from claims.models import Claim
from tests.factories import ClaimFactory


def _fields(user) -> dict:
    return {f.attname: getattr(user, f.attname) for f in Analyst._meta.concrete_fields}


def test_the_backend_reads_each_user_as_the_orm_does(alice, bob, rita, nora):
    alice.last_login = timezone.now()
    alice.first_name = "Alice ‘Ally’"
    alice.save()
    backend = ModelBackend()
    for person in (alice, bob, rita, nora, alice):  # alternated: each its own
        read = backend.get_user(person.pk)
        expected = Analyst.objects.get(pk=person.pk)
        assert type(read) is Analyst
        assert _fields(read) == _fields(expected)
        assert read._state.adding is False and read._state.db == "default"
        # Aware times and real flags, as the ORM's converters make them.
        assert timezone.is_aware(read.date_joined)
        assert read.is_active is True and read.is_superuser is False
    assert backend.get_user(str(alice.pk)).pk == alice.pk
    assert backend.get_user(10**9) is None
    bob.is_active = False
    bob.save()
    assert backend.get_user(bob.pk) is None


def test_roles_are_read_afresh_for_each_user_object(alice, rita, max_, ada, nora):
    for person in (alice, rita, max_, ada, nora, rita):
        fresh = get_user_model().objects.get(pk=person.pk)
        names = set(Group.objects.filter(user=person).values_list("name", flat=True))
        assert fresh.role_names == names
    rita.groups.add(Group.objects.get(name="Manager"))
    assert get_user_model().objects.get(pk=rita.pk).role_names == {
        "Reviewer",
        "Manager",
    }


def test_a_signed_in_page_reads_session_user_and_roles_once_each(as_user, rita):
    client = as_user(rita)
    client.get(reverse("claims:dashboard"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("claims:dashboard")).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert 'FROM "django_session"' in sql[0]
    assert 'FROM "analysts_analyst"' in sql[1]
    assert sum('FROM "auth_group"' in s for s in sql) == 1
    assert reads._compiled  # the user's and the roles' queries, kept


def test_an_expired_or_deleted_session_signs_out(as_user, client, alice):
    page = reverse("claims:dashboard")
    as_user(alice)
    assert client.get(page).status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert client.get(page).status_code == 302
    as_user(alice)
    assert client.get(page).status_code == 200
    Session.objects.all().delete()
    assert client.get(page).status_code == 302


def test_a_role_taken_away_counts_on_the_next_page(as_user, client, rita):
    queue = reverse("claims:review_queue")
    as_user(rita)
    assert client.get(queue).status_code == 200
    rita.groups.clear()
    assert client.get(queue).status_code == 403


def _rows(sql_params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(*sql_params)
        return cursor.fetchall()


def test_a_query_for_one_id_is_compiled_once_and_given_each_call_s_id(alice):
    claims = [ClaimFactory(logged_by=alice) for _ in range(3)]
    built = []

    def build(pk):
        built.append(pk)
        # The id twice: both places take the call's.
        return Claim.objects.filter(pk__gte=pk, pk__lte=pk).values_list("pk")

    name = "test: one claim"
    for claim in [*claims, claims[0]]:
        sql_params = reads.statement(name, build, claim.pk, "default")
        assert _rows(sql_params) == [(claim.pk,)]
    assert len(built) == 1


def test_a_query_without_the_id_as_a_parameter_is_compiled_each_time(alice):
    claim = ClaimFactory(logged_by=alice)
    built = []

    def build(pk):
        built.append(pk)
        return Claim.objects.filter(pk=claim.pk).values_list("pk")

    name = "test: no id bound"
    for other in (1, 2, 3):
        sql_params = reads.statement(name, build, other, "default")
        assert _rows(sql_params) == [(claim.pk,)]
    assert len(built) == 4  # once for the marker, then each call
