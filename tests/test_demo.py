"""`manage.py load_demo`: the demo world from JINF Speaking Out #1192."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command

from analysts.models import Analyst, AuditEntry
from claims import demo
from claims.confirmation_store import drift
from claims.models import Citation, Claim, Place, Relation, Review, Topic
from sources.models import Document, GradeChange, Source
from tests.factories import AnalystFactory


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Argon2 is deliberately slow and every test here creates five users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def every_row() -> dict[str, list[dict]]:
    """Every row of every table, many-to-many tables included, in pk order."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models(include_auto_created=True)
    }


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }


def claim(external_id: str) -> Claim:
    return Claim.objects.get(external_id=external_id)


def supporting_origins(claim: Claim) -> set[str]:
    return {
        c.source.origin.name for c in claim.citations.select_related("source__origin")
    }


def test_migrations_alone_create_no_users(db):
    assert not Analyst.objects.exists()
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Analyst",
        "Reviewer",
        "Manager",
    }


def test_it_loads_the_demo_world(db):
    result = demo.load_demo()

    assert Source.objects.count() >= 8
    assert Document.objects.count() >= 6
    assert Claim.objects.filter(external_id__startswith="demo-").count() >= 15
    assert Topic.objects.count() >= 2
    assert Place.objects.filter(latitude__isnull=False).count() >= 6
    assert Citation.objects.count() >= 15
    assert Relation.objects.filter(kind="corroborates").count() >= 3
    assert Relation.objects.filter(kind="contradicts").count() >= 2
    assert Citation.objects.filter(supports=False).exists()
    assert Review.objects.filter(outcome="confirmed").exists()
    assert Review.objects.filter(outcome="refuted").exists()
    in_review = Claim.objects.get(status="in_review")
    assert in_review.submission_note
    assert result["created"]["claims.claim"] == Claim.objects.count()
    assert [u["username"] for u in result["credentials"]] == [
        "alice",
        "bob",
        "rita",
        "max",
        "admin",
    ]


def test_loading_twice_changes_nothing(db):
    demo.load_demo()
    counts, rows = row_counts(), every_row()

    second = demo.load_demo()

    assert second["created"] == {}
    assert row_counts() == counts
    assert every_row() == rows


def test_the_facets_read_as_the_essay_gives_them(db):
    demo.load_demo()

    vladivostok = claim("demo-03")
    assert vladivostok.quantity_display() == "about 1,500 special operations troops"
    assert (str(vladivostok.time_start), str(vladivostok.time_end)) == (
        "2024-10-08",
        "2024-10-13",
    )
    place = vladivostok.places.get(name="Vladivostok")
    assert (place.latitude, place.longitude) == (43.1155, 131.8855)
    first_batch = claim("demo-10")
    assert first_batch.time_display() == "early May 2024"
    assert first_batch.time_precision == "day"
    assert claim("demo-11").time_precision == "month"
    assert (
        claim("demo-14").quantity_display() == "1,500–2,000 USD per soldier per month"
    )
    assert claim("demo-08").kind == "forecast"
    assert claim("demo-19").kind == "assessment"


def test_sources_chain_up_to_their_origins(db):
    demo.load_demo()
    origin = {s.name: s.origin.name for s in Source.objects.select_related("origin")}

    assert origin[demo.CENTER] == "Government of Ukraine"
    assert origin[demo.ZELENSKY] == "Government of Ukraine"
    assert origin[demo.NIS] == "Government of the Republic of Korea"
    # Relayed by Nishioka, yet their own origin: a relay merges nothing.
    assert origin[demo.NK_SOURCES] == demo.NK_SOURCES
    assert origin[demo.NISHIOKA] == demo.NISHIOKA
    assert set(Source.objects.values_list("grade", flat=True)) >= {"B", "C", "D", "F"}
    assert GradeChange.objects.count() == Source.objects.count()


def test_citations_carry_short_excerpts_from_the_citing_source(db):
    demo.load_demo()

    for citation in Citation.objects.select_related("document", "source"):
        assert 0 < len(citation.excerpt) <= 200
        assert citation.locator
        assert 2 <= citation.credibility <= 6
        assert citation.grade_at_citation == citation.source.grade
    nis_in_essay = Citation.objects.get(claim__external_id="demo-03")
    assert nis_in_essay.source.name == demo.NIS
    assert nis_in_essay.document.publisher.name == demo.JINF


def test_the_year_end_figure_has_two_independent_origins(db):
    demo.load_demo()

    assert supporting_origins(claim("demo-08")) == {
        "Government of Ukraine",
        demo.NK_SOURCES,
    }
    assert claim("demo-08").computed_level == "corroborated"


def test_two_organs_of_one_government_count_as_one_origin(db):
    demo.load_demo()
    readied = claim("demo-07")

    assert readied.citations.values("source").distinct().count() == 2
    assert supporting_origins(readied) == {"Government of Ukraine"}
    assert readied.computed_level == "single_source"


def test_one_claim_rests_on_the_nis_alone(db):
    demo.load_demo()
    corps = claim("demo-02")

    assert set(corps.citations.values_list("source__name", flat=True)) == {demo.NIS}
    assert not Relation.objects.involving(corps).exists()
    assert corps.computed_level == "single_source"


def test_rulings_keep_four_eyes_and_set_the_status(db):
    demo.load_demo()

    assert Review.objects.count() >= 3
    for review in Review.objects.select_related("claim", "reviewer"):
        assert review.reviewer.username == "rita"
        assert review.claim.logged_by != review.reviewer
        assert not review.claim.citations.filter(created_by=review.reviewer).exists()
        assert review.claim.status == review.outcome
        assert review.rationale


def test_the_stored_confirmation_is_fresh(db):
    demo.load_demo()
    ids = list(Claim.objects.values_list("pk", flat=True))

    assert drift(ids) == []
    assert not Claim.objects.filter(confirmation__confirmation_version="").exists()
    assert set(Claim.objects.values_list("level", flat=True)) >= {
        "single_source",
        "corroborated",
        "contested",
        "confirmed",
        "refuted",
    }


def test_every_created_row_has_its_create_audit_row(db):
    result = demo.load_demo()

    creates = AuditEntry.objects.filter(action="create")
    assert creates.count() == sum(result["created"].values())
    for claim_ in Claim.objects.all():
        entry = creates.get(model="claims.claim", object_id=str(claim_.pk))
        assert entry.actor == claim_.logged_by
    for citation in Citation.objects.all():
        entry = creates.get(model="claims.citation", object_id=str(citation.pk))
        assert entry.actor == citation.created_by
    for entry in creates.filter(model="analysts.analyst"):
        assert "password" not in entry.after


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("alice", "Analyst"),
        ("bob", "Analyst"),
        ("rita", "Reviewer"),
        ("max", "Manager"),
    ],
)
def test_each_role_has_its_demo_user(db, username, role):
    demo.load_demo()
    user = Analyst.objects.get(username=username)

    assert list(user.groups.values_list("name", flat=True)) == [role]
    assert not user.is_superuser


def test_the_admin_is_a_superuser(db):
    demo.load_demo()
    admin = Analyst.objects.get(username="admin")

    assert admin.is_superuser and admin.is_staff


def test_the_published_passwords_work_and_pass_the_validators(db):
    demo.load_demo()

    for spec in demo.credentials():
        user = Analyst.objects.get(username=spec["username"])
        validate_password(spec["password"], user)
        assert user.check_password(spec["password"])
        assert user.password != spec["password"]


def test_an_existing_account_keeps_its_password(db):
    AnalystFactory(username="alice", password="alices-own-secret-42")

    demo.load_demo()

    assert Analyst.objects.get(username="alice").check_password("alices-own-secret-42")


def test_the_command_with_once_loads_only_the_first_time(db):
    first, second = StringIO(), StringIO()

    call_command("load_demo", "--once", stdout=first, stderr=StringIO())
    counts, rows = row_counts(), every_row()
    call_command("load_demo", "--once", stdout=second, stderr=StringIO())

    assert "Demo data created" in first.getvalue()
    assert "already loaded" in second.getvalue()
    for out in (first, second):
        assert "alice" in out.getvalue() and "demo-alice-2024!" in out.getvalue()
    assert row_counts() == counts
    assert every_row() == rows


def test_the_command_warns_when_debug_is_off(db, settings):
    settings.DEBUG = False
    err = StringIO()

    call_command("load_demo", stdout=StringIO(), stderr=err)

    assert "passwords are public" in err.getvalue()
