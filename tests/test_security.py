"""Security controls: sign-in throttling, passwords, sessions, headers, CSRF,
mass assignment, stored XSS, the error pages, the health check and the audit
trail's integrity."""

import csv
import io
import json
import re
import shlex
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import (
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from analysts.audit import record
from analysts.middleware import LAST_SEEN_AT, SIGNED_IN_AT
from analysts.models import Analyst, ApiToken, AuditEntry
from claims.models import Citation, Claim, Relation
from sources.models import Document, GradeChange, Source
from tests import test_permissions
from tests.conftest import PASSWORD, on_postgres
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    SourceFactory,
)
from tests.hostile import HOSTILE, HOSTILE_URLS, WITH_NUL, assert_no_active_content
from tests.test_claim_entry import citation, entry
from tests.test_foundation import ROOT, production_env
from tests.test_permissions import MATRIX, counts

# The permission matrix's people and records: its kwargs functions expect them.
world = test_permissions.world

LOGIN = reverse("login")
DASHBOARD = reverse("claims:dashboard")
LOCKED_WORDS = "Too many failed sign-in attempts"


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return client.get(DASHBOARD).status_code == 200


# --- sign-in throttling -------------------------------------------------------


def test_five_wrong_passwords_lock_the_sign_in_and_the_lock_is_recorded(client, alice):
    for attempt in range(1, 5):
        response = sign_in(client, "alice", f"wrong-guess-{attempt}")
        assert response.status_code == 200, attempt
        assert "correct username and password" in response.content.decode()

    locked = sign_in(client, "alice", "wrong-guess-5")

    assert locked.status_code == 429
    assert LOCKED_WORDS in locked.content.decode()
    assert "alice" not in locked.content.decode()
    # The right password changes nothing while the lock holds.
    still_locked = sign_in(client, "alice", PASSWORD)
    assert still_locked.status_code == 429
    assert not signed_in(client)

    failures = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED)
    assert failures.count() == 6
    assert set(failures.values_list("object_repr", flat=True)) == {"alice"}
    assert all(entry.actor_id is None for entry in failures)
    assert all("127.0.0.1" in entry.note for entry in failures)
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start >= 5
    # No password, wrong or right, is written anywhere.
    stored = json.dumps(
        [
            list(AuditEntry.objects.values_list("object_repr", "note", "before")),
            list(AccessAttempt.objects.values_list("get_data", "post_data")),
        ]
    )
    assert "wrong-guess" not in stored
    assert PASSWORD not in stored


def test_the_lock_out_page_is_the_same_for_an_account_that_does_not_exist(
    client, alice
):
    pages = {}
    for username in ("alice", "mallory"):
        for attempt in range(5):
            response = sign_in(client, username, f"guess {attempt}")
        assert response.status_code == 429
        pages[username] = response.content
    assert pages["alice"] == pages["mallory"]
    assert AuditEntry.objects.filter(object_repr="mallory").count() == 5


def test_the_lock_ends_after_the_cool_off(client, alice):
    for attempt in range(5):
        sign_in(client, "alice", f"guess {attempt}")
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    cooled = timezone.now() - django_settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=cooled)

    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_good_sign_in_resets_the_count_of_failures(client, alice):
    for attempt in range(4):
        sign_in(client, "alice", f"guess {attempt}")
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for attempt in range(4):
        assert sign_in(client, "alice", f"again {attempt}").status_code == 200


def test_the_admin_sign_in_is_throttled_too(client, ada):
    for attempt in range(5):
        response = client.post(
            reverse("admin:login"), {"username": "ada", "password": f"guess {attempt}"}
        )
    assert response.status_code == 429


# --- passwords ------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Xk3#pL9!qZ2",  # 11 characters
        "password1234",  # on the common-password list
        "nishioka.tsutomu",  # like the username
        "739204816253",  # only digits
    ],
)
def test_weak_passwords_are_refused(db, password):
    user = Analyst(username="nishioka.tsutomu", first_name="Tsutomu")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_uncommon_password_is_accepted(db):
    validate_password("correct horse battery staple", Analyst(username="alice"))


class TestTheStoredPasswordHash:
    @pytest.fixture(autouse=True)
    def fast_password_hasher(self):
        """Overrides the suite's fast hasher: these tests are about the real one."""

    def test_it_is_argon2(self, db):
        assert django_settings.PASSWORD_HASHERS[0] == (
            "django.contrib.auth.hashers.Argon2PasswordHasher"
        )
        user = Analyst.objects.create_user("zoe", password=PASSWORD)
        assert user.password.startswith("argon2$")
        assert user.check_password(PASSWORD)


# --- sessions -------------------------------------------------------------------


def session_cookie(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def test_signing_in_gives_a_new_session_key(client, alice):
    before = SessionStore()
    before["seen"] = True
    before.create()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = before.session_key

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert session_cookie(client) != before.session_key
    assert not SessionStore().exists(before.session_key)


def test_the_session_cookie_ends_with_the_browser(client, alice):
    response = sign_in(client, "alice", PASSWORD)
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_the_session_cookie_is_secure_when_the_setting_says_so(client, alice, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = sign_in(client, "alice", PASSWORD)
    assert response.cookies[django_settings.SESSION_COOKIE_NAME]["secure"] is True


def test_signing_out_ends_the_session(client, alice):
    client.force_login(alice)
    old = session_cookie(client)
    client.post(reverse("logout"))

    stolen = Client()
    stolen.cookies[django_settings.SESSION_COOKIE_NAME] = old
    assert not signed_in(stolen)


def test_deactivating_a_user_ends_their_sessions(client, alice):
    client.force_login(alice)
    assert signed_in(client)
    alice.is_active = False
    alice.save()
    assert not signed_in(client)


def test_changing_the_password_ends_the_other_sessions(alice):
    here, elsewhere = Client(), Client()
    here.force_login(alice)
    elsewhere.force_login(alice)

    response = here.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a new and much longer passphrase",
            "new_password2": "a new and much longer passphrase",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert signed_in(here)
    assert not signed_in(elsewhere)


def test_a_weak_new_password_is_refused_with_the_reason(as_user, alice):
    response = as_user(alice).post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "short1",
            "new_password2": "short1",
        },
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def set_session_clock(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_an_idle_session_expires(client, alice, settings):
    client.force_login(alice)
    set_session_clock(client, last_seen_at=settings.SESSION_IDLE_TIMEOUT + 1)

    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not signed_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "without activity" in page


def test_a_session_in_use_stays_signed_in(client, alice, settings):
    client.force_login(alice)
    set_session_clock(client, last_seen_at=settings.SESSION_IDLE_TIMEOUT - 60)
    assert signed_in(client)


def test_the_last_seen_time_is_written_at_most_once_a_minute(client, alice):
    client.force_login(alice)
    set_session_clock(client, last_seen_at=30)
    written = client.session[LAST_SEEN_AT]
    client.get(DASHBOARD)
    assert client.session[LAST_SEEN_AT] == written

    set_session_clock(client, last_seen_at=120)
    client.get(DASHBOARD)
    assert client.session[LAST_SEEN_AT] >= int(time.time()) - 5


def test_a_session_ends_at_its_absolute_lifetime_however_busy(client, alice, settings):
    client.force_login(alice)
    set_session_clock(
        client, signed_in_at=settings.SESSION_COOKIE_AGE + 1, last_seen_at=0
    )
    assert not signed_in(client)


def test_the_session_clock_starts_at_sign_in(client, alice):
    sign_in(client, "alice", PASSWORD)
    session = client.session
    assert abs(session[SIGNED_IN_AT] - time.time()) < 5
    assert session[LAST_SEEN_AT] == session[SIGNED_IN_AT]


def production_settings(*names: str, **env: str) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, "
        "default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(DJANGO_SETTINGS_MODULE="config.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_httponly_and_same_site_lax():
    values = production_settings(
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE",
        "SESSION_COOKIE_AGE",
        "SESSION_IDLE_TIMEOUT",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
    )
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_AGE": 8 * 60 * 60,
        "SESSION_IDLE_TIMEOUT": 30 * 60,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
    }


def test_session_limits_come_from_the_environment():
    values = production_settings(
        "SESSION_COOKIE_AGE",
        "SESSION_IDLE_TIMEOUT",
        "AXES_COOLOFF_TIME",
        SESSION_COOKIE_AGE="3600",
        SESSION_IDLE_TIMEOUT="600",
        LOGIN_LOCKOUT_MINUTES="60",
    )
    assert values["SESSION_COOKIE_AGE"] == 3600
    assert values["SESSION_IDLE_TIMEOUT"] == 600
    assert values["AXES_COOLOFF_TIME"] == "1:00:00"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(SESSION_IDLE_TIMEOUT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SESSION_IDLE_TIMEOUT" in result.stderr


# --- headers --------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_security_headers(response, where: str) -> None:
    csp = policy(response)
    scripts = csp["script-src"]
    assert "'self'" in scripts, where
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "https:", "http:"):
        assert loose not in scripts, (where, loose)
    assert csp["default-src"] == ["'self'"], where
    assert csp["object-src"] == ["'none'"], where
    assert csp["frame-ancestors"] == ["'none'"], where
    assert "'unsafe-inline'" not in csp["style-src"], where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["X-Frame-Options"] == "DENY", where
    assert "no-store" in response["Cache-Control"], where


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_page_sends_the_security_headers(world, client, settings, name):
    settings.SECURE_HSTS_SECONDS = 31536000
    url = reverse(name, kwargs=MATRIX[name][0](world))
    client.force_login(world["people"]["ada"])

    plain = client.get(url)
    assert_security_headers(plain, f"GET {url}")
    # Browsers ignore HSTS over plain HTTP, and Django only sends it over HTTPS.
    assert "Strict-Transport-Security" not in plain
    over_tls = client.get(url, secure=True)
    assert_security_headers(over_tls, f"GET https {url}")
    assert over_tls["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_policy_allows_scripts_by_nonce_and_names_the_nonce_in_use(rf):
    from csp.constants import NONCE
    from csp.middleware import CSPMiddleware

    assert NONCE in django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]

    def page(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}">go()</script>')

    request = rf.get("/")
    response = CSPMiddleware(page)(request)
    assert f"'nonce-{request.csp_nonce}'" in policy(response)["script-src"]


# --- CSRF -----------------------------------------------------------------------


def posted_names() -> list[str]:
    names = {name for name, row in MATRIX.items() if row[2] is not None}
    return sorted(names | {"logout", "password_change"})


@pytest.mark.parametrize("name", posted_names())
def test_a_post_without_the_csrf_token_is_refused(world, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["people"]["alice"])
    url = reverse(name, kwargs=MATRIX[name][0](world))
    before = counts()

    response = client.post(url, {})

    assert response.status_code == 403, url
    assert counts() == before
    assert signed_in(client)


def test_the_same_post_with_the_token_goes_through(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["people"]["alice"])
    form = client.get(reverse("sources:source_create"))
    token = form.context["csrf_token"]
    response = client.post(
        reverse("sources:source_create"),
        {
            "csrfmiddlewaretoken": str(token),
            "name": "Ruritanian Navy",
            "kind": "agency",
        },
    )
    assert response.status_code == 302
    assert Source.objects.filter(name="Ruritanian Navy").exists()


# --- mass assignment --------------------------------------------------------------

UNTOUCHABLE = {
    "status": "confirmed",
    "level": "corroborated",
    "computed_level": "corroborated",
    "likelihood": "0.99",
    "confidence": "high",
    "summary_rating": "A1",
    "needs_rereview": "on",
    "confirmation_version": "hacked",
    "external_id": "forged",
}


def test_a_new_claim_takes_nothing_its_form_does_not_offer(as_user, alice, bob):
    source = SourceFactory(grade="C")
    document = DocumentFactory(publisher=source)
    data = entry(
        statement="About 300 engineers arrived in Wonsan",
        confirm_new="on",
        citations=[
            citation(document, source, grade_at_citation="A", created_by=bob.pk)
        ],
        **UNTOUCHABLE,
        logged_by=bob.pk,
    )
    data["version"] = "99"

    response = as_user(alice).post(reverse("claims:claim_create"), data)

    assert response.status_code == 302
    claim = Claim.objects.get()
    assert claim.logged_by == alice
    assert claim.status == "open"
    assert claim.level == "single_source"
    assert claim.computed_level == "single_source"
    assert claim.likelihood != 0.99
    assert claim.confidence == "low"
    assert claim.summary_rating != "A1"
    assert claim.needs_rereview is False
    assert claim.external_id is None
    assert claim.version == 1
    cited = Citation.objects.get()
    assert cited.created_by == alice
    assert cited.grade_at_citation == "C"


def test_an_edited_claim_takes_nothing_its_form_does_not_offer(as_user, alice, bob):
    claim = ClaimFactory(logged_by=alice, statement="About 300 engineers arrived")
    url = reverse("claims:claim_update", args=[claim.pk])
    data = entry(statement="About 400 engineers arrived", **UNTOUCHABLE)
    data["logged_by"] = str(bob.pk)
    data["version"] = str(claim.version)

    response = as_user(alice).post(url, data)

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.statement == "About 400 engineers arrived"
    assert claim.logged_by == alice
    assert (claim.status, claim.level, claim.confidence) == ("open", "unsourced", "low")
    assert claim.likelihood != 0.99
    assert claim.version == 2

    # A forged version is a stale page: refused, nothing written.
    data.update(statement="About 999 engineers arrived", version="99")
    refused = as_user(alice).post(url, data)
    assert refused.status_code == 409
    claim.refresh_from_db()
    assert claim.statement == "About 400 engineers arrived"
    assert claim.version == 2


def test_an_analyst_cannot_grade_a_source_through_its_forms(as_user, alice):
    client = as_user(alice)
    client.post(
        reverse("sources:source_create"),
        {"name": "Ruritanian Navy", "kind": "agency", "grade": "A"},
    )
    source = Source.objects.get(name="Ruritanian Navy")
    assert source.grade == "F"
    assert not GradeChange.objects.filter(new_grade="A").exists()

    client.post(
        reverse("sources:source_update", args=[source.pk]),
        {"name": "Ruritanian Navy", "kind": "agency", "grade": "A"},
    )
    source.refresh_from_db()
    assert source.grade == "F"
    assert not GradeChange.objects.filter(new_grade="A").exists()


def test_a_manager_grades_only_through_the_grade_form(as_user, max_):
    source = SourceFactory(name="Ruritanian Navy", grade="C")
    as_user(max_).post(
        reverse("sources:source_update", args=[source.pk]),
        {"name": "Ruritanian Navy", "kind": "agency", "grade": "A"},
    )
    source.refresh_from_db()
    assert source.grade == "C"


# --- stored XSS -------------------------------------------------------------------


def enter_everywhere(client: Client, payload: str, other: Claim) -> Claim:
    """The payload typed into every free-text field of every form."""
    response = client.post(
        reverse("sources:source_create"),
        {
            "name": f"Source {payload}",
            "kind": "agency",
            "country": payload,
            "description": payload,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get(name=f"Source {payload}")
    response = client.post(
        reverse("sources:document_create"),
        {
            "title": payload,
            "publisher": source.pk,
            "published_on": "2024-10-24",
            "kind": "article",
            "url": "https://example.org/report",
            "archived_copy": "https://archive.example.org/report",
            "text": payload,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    document = Document.objects.get(title=payload)
    data = entry(
        statement=f"{payload} about 1,500 soldiers moved",
        actors=payload,
        quantity_low="1500",
        quantity_unit=payload,
        time_text=payload,
        new_places=payload.replace(",", " "),
        new_topic=payload,
        confirm_new="on",
        citations=[citation(document, source, excerpt=payload, locator=payload)],
        relations=[
            {"other_claim": other.pk, "kind": "contradicts", "rationale": payload}
        ],
    )
    # The time must be read as a time: the form comes back with every field as
    # typed, the classic place for an injection to surface.
    response = client.post(reverse("claims:claim_create"), data)
    assert response.status_code == 200
    assert_no_active_content(response.content.decode(), payload, "entry errors")
    data["time_text"] = "early May 2024"
    response = client.post(reverse("claims:claim_create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Claim.objects.exclude(pk=other.pk).get()


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_is_shown_escaped_on_every_page(as_user, alice, payload):
    client = as_user(alice)
    other = ClaimFactory(logged_by=alice, statement="About 12,000 were sent")
    claim = enter_everywhere(client, payload, other)
    source = Source.objects.get(name=f"Source {payload}")
    document = Document.objects.get(title=payload)
    # Stored as typed: escaping is the pages' job, not the database's.
    assert claim.actors == payload
    assert claim.citations.get().excerpt == payload
    assert Relation.objects.get().rationale == payload

    pages = [
        reverse("claims:dashboard"),
        reverse("claims:claim_list"),
        reverse("claims:claim_list") + "?" + urlencode({"q": payload}),
        claim.get_absolute_url(),
        other.get_absolute_url(),
        reverse("claims:claim_update", args=[claim.pk]),
        reverse("claims:claim_similar") + "?" + urlencode({"statement": payload}),
        reverse("sources:source_list"),
        reverse("sources:source_list") + "?" + urlencode({"q": payload}),
        source.get_absolute_url(),
        reverse("sources:source_update", args=[source.pk]),
        reverse("sources:document_list"),
        reverse("sources:document_list") + "?" + urlencode({"q": payload}),
        document.get_absolute_url(),
        reverse("sources:document_update", args=[document.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_active_content(response.content.decode(), payload, url)
    detail = client.get(claim.get_absolute_url()).content.decode()
    assert escape(payload) in detail

    export = client.get(reverse("claims:claim_export"))
    assert export["Content-Type"].startswith("text/csv")
    assert export["Content-Disposition"].startswith("attachment;")
    assert export["X-Content-Type-Options"] == "nosniff"
    rows = b"".join(export.streaming_content).decode()
    for row in csv.reader(io.StringIO(rows)):
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell
    assert any(
        payload in cell.lstrip("'")
        for row in csv.reader(io.StringIO(rows))
        for cell in row
    )


@pytest.mark.parametrize("address", HOSTILE_URLS)
def test_a_script_address_is_never_a_link(as_user, alice, address):
    client = as_user(alice)
    publisher = SourceFactory()
    response = client.post(
        reverse("sources:document_create"),
        {
            "title": "Hostile link",
            "publisher": publisher.pk,
            "kind": "article",
            "url": address,
            "archived_copy": address,
        },
    )
    assert response.status_code == 200  # the form refuses it
    assert not Document.objects.filter(title="Hostile link").exists()
    # Stored past the form (an import, the admin): shown, but never linked.
    document = DocumentFactory(url=address, archived_copy=address, publisher=publisher)
    page = client.get(document.get_absolute_url()).content.decode()
    assert_no_active_content(page, "", document.get_absolute_url())


# --- hostile text through the API and the importer --------------------------------


def api_client(user) -> Client:
    """A client speaking JSON to the API with a personal token."""
    key = ApiToken.issue(user, "hostile")[1]
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def api_post(client: Client, name: str, data: dict) -> dict:
    response = client.post(
        reverse(f"api:{name}-list"), json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 201, (name, response.content[:1000])
    return response.json()


def pages_showing(claim: Claim, payload: str) -> list[str]:
    """Every page that shows what was entered for ``claim``."""
    source = claim.citations.get().source
    document = claim.citations.get().document
    return [
        reverse("claims:dashboard"),
        reverse("claims:claim_list"),
        reverse("claims:claim_list") + "?" + urlencode({"q": payload}),
        claim.get_absolute_url(),
        reverse("claims:claim_update", args=[claim.pk]),
        reverse("sources:source_list"),
        source.get_absolute_url(),
        reverse("sources:document_list"),
        document.get_absolute_url(),
    ]


def assert_pages_escape(client: Client, claim: Claim, payload: str) -> None:
    for url in pages_showing(claim, payload):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_active_content(response.content.decode(), payload, url)
    assert escape(payload) in client.get(claim.get_absolute_url()).content.decode()


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_sent_through_the_api_is_shown_escaped(as_user, alice, payload):
    api = api_client(alice)
    source = api_post(
        api,
        "source",
        {"name": f"Source {payload}", "kind": "agency", "country": payload,
         "description": payload},
    )  # fmt: skip
    document = api_post(
        api,
        "document",
        {"title": payload, "publisher": source["id"], "kind": "article",
         "text": payload},
    )  # fmt: skip
    place = api_post(api, "place", {"name": payload, "country": payload})
    topic = api_post(api, "topic", {"name": payload, "description": payload})
    made = api_post(
        api,
        "claim",
        {"statement": f"{payload} about 1,500 soldiers moved", "actors": payload,
         "quantity_low": "1500", "quantity_unit": payload, "time_text": payload,
         "places": [place["id"]], "topic": topic["id"]},
    )  # fmt: skip
    api_post(
        api,
        "citation",
        {"claim": made["id"], "document": document["id"], "source": source["id"],
         "excerpt": payload, "locator": payload, "credibility": 3},
    )  # fmt: skip
    other = ClaimFactory(logged_by=alice, statement="About 12,000 were sent")
    api_post(
        api,
        "relation",
        {"claim_a": other.pk, "claim_b": made["id"], "kind": "contradicts",
         "rationale": payload},
    )  # fmt: skip

    # Stored as sent and given back as sent: JSON is no place for escaping.
    claim = Claim.objects.get(pk=made["id"])
    assert claim.actors == payload
    shown = api.get(reverse("api:claim-detail", args=[claim.pk])).json()
    assert shown["actors"] == payload
    assert shown["citations"][0]["excerpt"] == payload
    assert_pages_escape(as_user(alice), claim, payload)
    assert_no_active_content(
        as_user(alice).get(other.get_absolute_url()).content.decode(),
        payload,
        "the related claim",
    )


def hostile_import(payload: str) -> bytes:
    """A JSON import with the payload in every free-text field it carries."""
    return json.dumps(
        {
            "format": "claim-tracker/claims",
            "version": 1,
            "topics": [{"name": f"Topic {payload}", "description": payload}],
            "places": [{"name": f"Place {payload}", "country": payload}],
            "sources": [
                {"name": f"Source {payload}", "kind": "agency", "country": payload,
                 "description": payload},
            ],
            "documents": [
                {"title": payload, "publisher": f"Source {payload}", "text": payload,
                 "url": "https://example.org/hostile"},
            ],
            "claims": [
                {"external_id": "hostile-1",
                 "statement": f"{payload} about 1,500 soldiers moved",
                 "actors": payload, "quantity_low": 1500, "quantity_unit": payload,
                 "time_text": payload, "places": [f"Place {payload}"],
                 "topic": f"Topic {payload}",
                 "citations": [
                     {"source": f"Source {payload}",
                      "document": {"url": "https://example.org/hostile"},
                      "excerpt": payload, "locator": payload, "credibility": 3},
                 ],
                 "relations": [
                     {"kind": "contradicts", "claim": "hostile-2",
                      "rationale": payload},
                 ]},
                {"external_id": "hostile-2", "statement": "About 12,000 were sent"},
            ],
        }
    ).encode()  # fmt: skip


def upload_import(client: Client, name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("claims:claim_import"), {"file": SimpleUploadedFile(name, data)}
    )


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_imported_is_shown_escaped(as_user, alice, payload):
    client = as_user(alice)
    preview = upload_import(client, "hostile.json", hostile_import(payload))
    assert preview.status_code == 200
    # The preview shows the file's names and ids back: escaped as well.
    assert_no_active_content(preview.content.decode(), payload, "import preview")
    assert preview.context["report"].ok, preview.context["report"].problems
    done = client.post(
        reverse("claims:claim_import_commit"), {"token": preview.context["token"]}
    )
    assert done.status_code == 302

    claim = Claim.objects.get(external_id="hostile-1")
    assert claim.actors == payload
    assert claim.citations.get().excerpt == payload
    assert Relation.objects.get().rationale == payload
    assert_pages_escape(client, claim, payload)


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_in_the_workflow_is_shown_escaped(
    client, alice, rita, max_, payload
):
    """The free text of the review workflow, the grade history and the token
    list: a submission note, a ruling's rationale, a grade's rationale, a
    token's name."""
    source = SourceFactory(name="Ruritanian Navy", grade="C")
    claim = ClaimFactory(logged_by=alice, statement="About 1,500 soldiers moved.")
    CitationFactory(claim=claim, source=source, created_by=alice)
    rationale = f"Two services agree on the port and the dates. {payload}"
    seen = {"version": claim.version, "last_review": 0}

    def shown(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert_no_active_content(page, payload, url)
        return page

    client.force_login(alice)
    submitted = client.post(
        reverse("claims:claim_submit", args=[claim.pk]),
        {"note": f"Look at the port. {payload}", **seen},
    )
    assert submitted.status_code == 302
    token = client.post(
        reverse("analysts:apitoken_create"), {"name": payload, "lifetime": "30"}
    )
    assert token.status_code == 200
    assert_no_active_content(token.content.decode(), payload, "new token")
    shown(reverse("analysts:profile"))

    client.force_login(rita)
    assert escape(payload) in shown(reverse("claims:review_queue"))
    claim.refresh_from_db()
    ruled = client.post(
        reverse("claims:claim_rule", args=[claim.pk]),
        {"outcome": "confirmed", "rationale": rationale, "version": claim.version,
         "last_review": 0},
    )  # fmt: skip
    assert ruled.status_code == 302
    assert escape(rationale) in shown(claim.get_absolute_url())

    client.force_login(max_)
    graded = client.post(
        reverse("sources:source_grade", args=[source.pk]),
        {"grade": "B", "rationale": rationale},
    )
    assert graded.status_code == 302
    assert escape(rationale) in shown(source.get_absolute_url())
    shown(reverse("sources:reliability_report"))
    shown(claim.get_absolute_url())


# --- NUL characters -----------------------------------------------------------------

NUL_MESSAGE = "Null characters are not allowed."


def test_a_nul_typed_into_a_form_is_a_field_error(as_user, alice, rita):
    client = as_user(alice)
    response = client.post(
        reverse("sources:source_create"),
        {"name": WITH_NUL, "kind": "agency", "description": WITH_NUL},
    )
    assert response.status_code == 200
    assert NUL_MESSAGE in response.content.decode()
    source = SourceFactory(name="Ruritanian Navy")
    document = DocumentFactory(publisher=source)
    response = client.post(
        reverse("sources:document_create"),
        {"title": WITH_NUL, "publisher": source.pk, "kind": "article"},
    )
    assert response.status_code == 200
    assert NUL_MESSAGE in response.content.decode()
    response = client.post(
        reverse("claims:claim_create"),
        entry(
            statement=WITH_NUL,
            actors=WITH_NUL,
            citations=[citation(document, source, excerpt=WITH_NUL)],
        ),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(NUL_MESSAGE) >= 2
    assert_no_active_content(page, "", "entry with a NUL")
    assert [Source.objects.count(), Document.objects.count()] == [1, 1]
    assert not Claim.objects.exists() and not Citation.objects.exists()

    claim = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
    response = as_user(rita).post(
        reverse("claims:claim_rule", args=[claim.pk]),
        {"outcome": "confirmed", "rationale": f"Two services agree. {WITH_NUL}",
         "version": claim.version, "last_review": 0},
    )  # fmt: skip
    assert response.status_code == 200
    assert NUL_MESSAGE in response.content.decode()
    assert not claim.reviews.exists()


@pytest.mark.parametrize(
    "name, field",
    [
        ("claims:claim_list", "q"),
        ("claims:review_queue", "q"),
        ("claims:claim_similar", "statement"),
        ("claims:claim_lookup", "q"),
        ("sources:source_list", "q"),
        ("sources:document_list", "q"),
        ("api:claim-list", "q"),
        ("api:source-list", "q"),
        ("api:document-list", "q"),
    ],
)
def test_a_nul_in_a_search_never_fails_the_page(as_user, alice, rita, name, field):
    person = rita if name == "claims:review_queue" else alice
    response = as_user(person).get(reverse(name), {field: WITH_NUL})
    assert response.status_code in (200, 400), response.status_code
    assert_no_active_content(response.content.decode(), "", name)


def test_a_nul_sent_to_the_api_is_a_field_error(alice):
    api = api_client(alice)
    source = SourceFactory()
    for name, data, field in [
        ("source", {"name": WITH_NUL, "kind": "agency"}, "name"),
        ("document", {"title": WITH_NUL, "publisher": source.pk}, "title"),
        ("claim", {"statement": "Fine.", "actors": WITH_NUL}, "actors"),
        ("topic", {"name": WITH_NUL}, "name"),
    ]:
        response = api.post(
            reverse(f"api:{name}-list"),
            json.dumps(data),
            content_type="application/json",
        )
        assert response.status_code == 400, (name, response.content)
        assert NUL_MESSAGE in response.json()[field][0], (name, response.json())
    assert not Claim.objects.exists()


@pytest.mark.parametrize(
    "name, data",
    [
        ("nul.csv", f"external_id,statement\nn-1,{WITH_NUL}\n".encode()),
        (
            "nul.json",
            json.dumps([{"external_id": "n-1", "statement": WITH_NUL}]).encode(),
        ),
    ],
)
def test_a_nul_in_an_imported_file_is_a_field_problem(
    as_user, alice, name, data, tmp_path
):
    preview = upload_import(as_user(alice), name, data)
    assert preview.status_code == 200
    report = preview.context["report"]
    assert not report.ok
    assert any(
        problem.field == "statement" and "NUL" in problem.message
        for problem in report.problems
    ), report.problems
    assert not preview.context["token"]
    path = tmp_path / name
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_claims", str(path), "--user", "alice", stdout=out, stderr=err
        )
    assert "NUL" in out.getvalue() + err.getvalue()
    assert not Claim.objects.exists()


# --- error pages ------------------------------------------------------------------

DEBUG_MARKERS = (
    "Traceback",
    "Page not found (404)",
    "Using the URLconf",
    "urlpatterns",
    "DEBUG = True",
    "Request Method",
    "settings.py",
)


def assert_reveals_nothing(response, secret: str = "") -> None:
    page = response.content.decode()
    for marker in DEBUG_MARKERS:
        assert marker not in page, marker
    if secret:
        assert secret not in page


def test_an_unknown_address_gets_the_plain_404_page(as_user, alice):
    response = as_user(alice).get("/no/such/page/config/settings.py")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert "Not found" in response.content.decode()
    assert_reveals_nothing(response, "no/such/page")


def test_a_record_one_may_not_see_gets_the_same_404_page(as_user, nora, alice):
    claim = ClaimFactory(logged_by=alice)
    response = as_user(nora).get(claim.get_absolute_url())
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert_reveals_nothing(response)


def test_a_refusal_gets_the_plain_403_page(as_user, nora):
    response = as_user(nora).get(reverse("claims:claim_create"))
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    assert_reveals_nothing(response, "Only analysts")


def test_a_server_error_gets_the_plain_500_page_without_a_trace(alice, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("claims.views.render", explode)
    client = Client(raise_request_exception=False)
    client.force_login(alice)

    response = client.get(DASHBOARD)

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert_reveals_nothing(response, "hunter2")
    assert "RuntimeError" not in response.content.decode()


def test_a_bad_request_gets_the_plain_400_page(client, db):
    response = client.get(DASHBOARD, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
    assert_reveals_nothing(response, "evil.example")


# --- the health check -------------------------------------------------------------


def test_the_health_check_answers_without_login(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_the_health_check_says_503_when_the_database_does_not_answer(
    client, db, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    # Undone before the test's own transaction is rolled back.
    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", unreachable)
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error"}
    assert "Connection refused" not in response.content.decode()


def test_the_health_check_is_not_redirected_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(LOGIN).status_code == 301


def compose_health_check() -> list[str]:
    import yaml  # PyYAML comes with schemathesis

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]["web"]["healthcheck"]["test"]


def test_the_compose_health_check_asks_healthz_with_what_the_image_has(
    live_server, settings
):
    """The app image is python:3.11-slim, without curl or wget: the check runs
    Python's urllib against /healthz, with a Host that ALLOWED_HOSTS accepts."""
    command = compose_health_check()
    assert command[:3] == ["CMD", "python", "-c"]
    assert "curl" not in " ".join(command) and "wget" not in " ".join(command)
    script = command[3]
    assert "http://127.0.0.1:8000/healthz" in script
    script = script.replace("http://127.0.0.1:8000", live_server.url)
    settings.ALLOWED_HOSTS = [".example.org"]
    for hosts, ok in ((".example.org, localhost", True), ("elsewhere.org", False)):
        env = {**production_env(), "ALLOWED_HOSTS": hosts}
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, timeout=30
        )
        assert (result.returncode == 0) == ok, (hosts, result.stderr[-500:])


def test_the_image_carries_the_postgresql_client_for_backups():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(
        r"apt-get install [^\n]*--no-install-recommends postgresql-client",
        dockerfile,
    )
    assert "rm -rf /var/lib/apt/lists/*" in dockerfile
    # Bookworm's client is PostgreSQL 15: pg_dump must be as new as the server.
    assert "FROM python:3.11-slim-bookworm" in dockerfile
    assert "image: postgres:15" in (ROOT / "docker-compose.yml").read_text()


def gunicorn_options(words: list[str]) -> dict[str, str]:
    start = words.index("gunicorn")
    options = words[start + 2 :]
    return dict(zip(options[::2], options[1::2], strict=True))


def test_the_image_and_compose_start_gunicorn_alike_with_room_for_a_grade_change():
    """A grade change reaching a large share of a million claims recomputes
    them in its request (tens of seconds, docs/performance.md): past gunicorn's
    default 30 s worker timeout it would be killed and rolled back. Workers are
    recycled, which hands back the memory such a change leaves."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    image = gunicorn_options(
        json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M)[1])
    )
    import yaml  # PyYAML comes with schemathesis

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    line = compose["services"]["web"]["command"].split("&&")[1].strip().strip('"')
    assert gunicorn_options(shlex.split(line)) == image
    assert int(image["--timeout"]) >= 120
    assert int(image["--max-requests"]) > 0 and int(image["--max-requests-jitter"]) > 0


# --- audit integrity --------------------------------------------------------------


def refused(make) -> None:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        make()
    assert "append-only" in str(error.value)


@pytest.fixture
def audited(alice) -> AuditEntry:
    claim = ClaimFactory(logged_by=alice)
    return record(alice, AuditEntry.Action.CREATE, claim, after={"statement": "x"})


@pytest.mark.parametrize(
    "field, value",
    [
        ("actor_username", "mallory"),
        ("at", timezone.now() - timedelta(days=400)),
        ("action", AuditEntry.Action.DELETE),
        ("model", "claims.relation"),
        ("object_id", "999"),
        ("object_repr", "something else"),
        ("before", {"statement": "forged"}),
        ("after", None),
        ("note", "rewritten"),
    ],
)
def test_no_field_of_an_audit_row_can_be_changed(audited, field, value):
    refused(lambda: AuditEntry.objects.filter(pk=audited.pk).update(**{field: value}))


def test_an_audit_row_cannot_be_saved_over_or_changed_in_sql(audited):
    audited.note = "rewritten"
    refused(audited.save)
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        refused(
            lambda: cursor.execute(
                f"UPDATE {table} SET note = %s WHERE id = %s",  # noqa: S608
                ["rewritten", audited.pk],
            )
        )
    audited.refresh_from_db()
    assert audited.note == ""


def test_the_actor_can_only_be_cleared_and_nothing_else_with_it(audited, bob):
    refused(lambda: AuditEntry.objects.filter(pk=audited.pk).update(actor=bob))
    refused(
        lambda: AuditEntry.objects.filter(pk=audited.pk).update(actor=None, note="gone")
    )


@pytest.mark.skipif(
    not on_postgres(),
    reason="SQLite keeps DELETE open: its flush empties tables with DELETE",
)
def test_an_audit_row_cannot_be_deleted_on_postgresql(audited):
    refused(audited.delete)
    refused(lambda: AuditEntry.objects.all().delete())
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        refused(
            lambda: cursor.execute(
                f"DELETE FROM {table} WHERE id = %s",  # noqa: S608
                [audited.pk],
            )
        )
    assert AuditEntry.objects.filter(pk=audited.pk).exists()


def test_deleting_a_user_keeps_their_name_on_the_audit_trail(db):
    leaver = AnalystFactory(username="leaver", roles=["Manager"])
    source = SourceFactory()
    entry_ = record(leaver, AuditEntry.Action.UPDATE, source, note="graded")

    leaver.delete()

    entry_.refresh_from_db()
    assert entry_.actor_id is None
    assert entry_.actor_username == "leaver"
    assert entry_.note == "graded"


def test_a_refused_change_is_recorded_but_a_refused_page_is_not(as_user, nora):
    client = as_user(nora)
    client.get(reverse("claims:claim_create"))
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED).exists()

    client.post(reverse("claims:claim_create"), {"statement": "x"})

    refusal = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert refusal.actor == nora and refusal.actor_username == "nora"
    assert refusal.note.startswith("POST /claims/new/")
    assert refusal.object_repr == "claims:claim_create"
    assert refusal.at is not None


def test_a_change_the_api_refuses_is_recorded_like_the_pages_ones(alice, rita):
    claim = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
    api = api_client(alice)
    api.get(reverse("api:reliability"))
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED).exists()

    response = api.post(
        reverse("api:review-list"),
        json.dumps(
            {"claim": claim.pk, "outcome": "confirmed",
             "rationale": "Two services agree on the port and the dates."}
        ),
        content_type="application/json",
    )  # fmt: skip

    # The API's own error body, not the HTML page.
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Only reviewers rule on claims."}
    refusal = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert refusal.actor == alice
    assert refusal.note == "POST /api/v1/reviews/: Only reviewers rule on claims."
    assert refusal.object_repr == "api:review-list"
    response = api_client(rita).post(
        reverse("api:claim-list"),
        json.dumps({"statement": "Anything."}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert AuditEntry.objects.get(actor=rita).note.startswith("POST /api/v1/claims/")
    assert not claim.reviews.exists()


@pytest.mark.django_db(transaction=True)
def test_an_api_refusal_row_is_committed_although_the_request_rolled_back():
    alice = AnalystFactory(username="alice", roles=["Analyst"])
    bob = AnalystFactory(username="bob", roles=["Analyst"])
    claim = ClaimFactory(logged_by=alice, statement="About 1,500 soldiers moved.")

    response = api_client(bob).patch(
        reverse("api:claim-detail", args=[claim.pk]),
        json.dumps({"statement": "Bob's words.", "version": claim.version}),
        content_type="application/json",
    )

    assert response.status_code == 403
    assert "only they (or an administrator) change it" in response.json()["detail"]
    assert transaction.get_autocommit()
    refusal = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert (refusal.actor_username, refusal.object_id) == ("bob", str(claim.pk))
    assert refusal.note.startswith(f"PATCH /api/v1/claims/{claim.pk}/: Claim #")
    claim.refresh_from_db()
    assert claim.statement == "About 1,500 soldiers moved."


@pytest.mark.django_db(transaction=True)
def test_the_refusal_row_is_committed_although_the_request_rolled_back():
    nora = AnalystFactory(username="nora")
    source = SourceFactory(name="Ruritanian Navy", grade="C")
    client = Client()
    client.force_login(nora)

    response = client.post(
        reverse("sources:source_grade", args=[source.pk]),
        {"grade": "A", "rationale": "I would like it to be better."},
    )

    assert response.status_code == 403
    # No transaction wraps this test: a row seen now was committed.
    assert transaction.get_autocommit()
    refusal = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert refusal.actor_username == "nora"
    assert refusal.object_id == str(source.pk)
    source.refresh_from_db()
    assert source.grade == "C"
