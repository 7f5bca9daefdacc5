"""The foundation: migrations, database constraints, roles, origins, settings."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from analysts.models import Analyst
from claims.models import Citation, Claim, Place, Relation, Review
from sources.models import GradeChange, Source
from tests.factories import (
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    SourceFactory,
)

ROOT = Path(__file__).resolve().parent.parent


def test_it_has_no_pending_migrations(db):
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    except SystemExit as exit_:
        pytest.fail(f"models and migrations differ (exit {exit_.code})")


def test_a_fresh_database_has_the_three_roles_and_no_users(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Analyst",
        "Reviewer",
        "Manager",
    }
    assert not Analyst.objects.exists()
    analyst = Group.objects.get(name="Analyst")
    perms = set(analyst.permissions.values_list("codename", flat=True))
    assert {"add_claim", "add_citation", "add_relation", "view_review"} <= perms
    assert "add_review" not in perms
    reviewer = Group.objects.get(name="Reviewer")
    assert "add_review" in set(reviewer.permissions.values_list("codename", flat=True))
    manager = Group.objects.get(name="Manager")
    assert "change_grade" in set(manager.permissions.values_list("codename", flat=True))


def test_setup_roles_is_idempotent(db):
    before = {
        g.name: set(g.permissions.values_list("pk", flat=True))
        for g in Group.objects.all()
    }
    call_command("setup_roles", verbosity=0)
    call_command("setup_roles", verbosity=0)
    after = {
        g.name: set(g.permissions.values_list("pk", flat=True))
        for g in Group.objects.all()
    }
    assert before == after


def assert_violates(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


class TestDatabaseConstraints:
    """Rows inserted past the forms still cannot break the domain's rules."""

    def test_quantity_low_must_not_exceed_high(self, alice):
        assert_violates(
            lambda: Claim.objects.create(
                statement="x", logged_by=alice, quantity_low=10, quantity_high=5
            )
        )

    def test_time_start_must_not_follow_end(self, alice):
        assert_violates(
            lambda: Claim.objects.create(
                statement="x",
                logged_by=alice,
                time_start=date(2024, 10, 13),
                time_end=date(2024, 10, 8),
            )
        )

    @pytest.mark.parametrize(
        ("lat", "lon"), [(91, 0), (-90.5, 0), (0, 180.01), (0, -181)]
    )
    def test_coordinates_stay_on_the_globe(self, db, lat, lon):
        assert_violates(
            lambda: Place.objects.create(name="Nowhere", latitude=lat, longitude=lon)
        )

    def test_coordinates_at_the_edges_are_fine(self, db):
        Place.objects.create(name="Pole", latitude=90, longitude=-180)

    @pytest.mark.parametrize("credibility", [0, 1, 7])
    def test_credibility_is_two_to_six(self, alice, credibility):
        claim = ClaimFactory(logged_by=alice)
        document = DocumentFactory()
        source = SourceFactory()
        assert_violates(
            lambda: Citation.objects.create(
                claim=claim,
                document=document,
                source=source,
                excerpt="said so",
                credibility=credibility,
                created_by=alice,
            )
        )

    def test_grade_must_be_on_the_admiralty_scale(self, db):
        assert_violates(
            lambda: Source.objects.create(name="Odd", kind="agency", grade="G")
        )

    def test_a_claim_cannot_relate_to_itself(self, alice):
        claim = ClaimFactory(logged_by=alice)
        assert_violates(
            lambda: Relation.objects.create(
                claim_a=claim,
                claim_b=claim,
                kind="corroborates",
                rationale="r",
                created_by=alice,
            )
        )

    def test_one_relation_per_pair_whichever_way_round(self, alice):
        one, two = ClaimFactory(logged_by=alice), ClaimFactory(logged_by=alice)
        Relation.objects.create(
            claim_a=one,
            claim_b=two,
            kind="corroborates",
            rationale="r",
            created_by=alice,
        )
        assert_violates(
            lambda: Relation.objects.create(
                claim_a=two,
                claim_b=one,
                kind="contradicts",
                rationale="r",
                created_by=alice,
            )
        )

    def test_a_source_s_excerpt_of_a_document_is_cited_once_per_claim(self, alice):
        citation = CitationFactory(
            claim=ClaimFactory(logged_by=alice), excerpt="About 1,500 moved"
        )

        def cite(source):
            return Citation.objects.create(
                claim=citation.claim,
                document=citation.document,
                source=source,
                excerpt="About  1,500 moved",
                credibility=3,
                created_by=alice,
            )

        assert_violates(lambda: cite(citation.source))
        # "confirmed by the Ukrainian and South Korean governments": one excerpt,
        # two citing sources.
        cite(SourceFactory())

    def test_a_review_needs_a_rationale(self, alice, rita):
        claim = ClaimFactory(logged_by=alice)
        assert_violates(
            lambda: Review.objects.create(
                claim=claim, reviewer=rita, outcome="confirmed", rationale=""
            )
        )

    def test_a_grade_change_needs_a_rationale(self, db):
        source = SourceFactory()
        assert_violates(
            lambda: GradeChange.objects.create(
                source=source, new_grade="B", rationale=""
            )
        )

    def test_a_source_cannot_be_its_own_parent(self, db):
        source = SourceFactory()
        assert_violates(
            lambda: Source.objects.filter(pk=source.pk).update(parent=source)
        )


def test_reviews_are_append_only(alice, rita):
    claim = ClaimFactory(logged_by=alice)
    review = Review.objects.create(
        claim=claim, reviewer=rita, outcome="confirmed", rationale="Two origins agree."
    )
    review.rationale = "changed"
    with pytest.raises(ValueError):
        review.save()
    with pytest.raises(ValueError):
        review.delete()


def test_the_origin_is_the_top_of_the_part_of_chain(db):
    government = SourceFactory(name="Government of Ukraine")
    ministry = SourceFactory(name="Ministry of Culture", parent=government)
    centre = SourceFactory(name="Centre for Strategic Communication", parent=ministry)
    assert government.origin == government
    assert ministry.origin == government
    centre.refresh_from_db()
    assert centre.origin_id == government.pk
    assert centre.ancestors() == [ministry, government]


def test_moving_a_source_re_derives_the_origins_below_it(db):
    old_top = SourceFactory(name="Old top")
    new_top = SourceFactory(name="New top")
    middle = SourceFactory(name="Middle", parent=old_top)
    leaf = SourceFactory(name="Leaf", parent=middle)
    middle.parent = new_top
    middle.save()
    leaf.refresh_from_db()
    assert leaf.origin_id == new_top.pk


def test_a_source_cannot_become_part_of_itself_through_a_chain(db):
    top = SourceFactory(name="Top")
    middle = SourceFactory(name="Middle", parent=top)
    leaf = SourceFactory(name="Leaf", parent=middle)
    top.parent = leaf
    with pytest.raises(ValidationError) as error:
        top.full_clean()
    assert "part of itself" in str(error.value)


def test_a_relation_is_stored_with_the_lower_id_first(alice):
    one, two = ClaimFactory(logged_by=alice), ClaimFactory(logged_by=alice)
    relation = Relation.objects.create(
        claim_a=two, claim_b=one, kind="contradicts", rationale="r", created_by=alice
    )
    assert (relation.claim_a_id, relation.claim_b_id) == (one.pk, two.pk)


def test_a_citation_keeps_the_grade_of_its_source_when_cited(alice):
    source = SourceFactory(grade="B")
    citation = CitationFactory(claim=ClaimFactory(logged_by=alice), source=source)
    Source.objects.filter(pk=source.pk).update(grade="E")
    citation.refresh_from_db()
    assert citation.grade_at_citation == "B"


def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DEBUG", "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "STATIC_MANIFEST"}
    }
    env.update(
        {
            "DEBUG": "False",
            "SECRET_KEY": "k" * 10 + "Q7v!r2@Lp9#zX4$mN8^bT1&cW6*dY3(eH5)fJ0-gK",
            "ALLOWED_HOSTS": "example.org",
        }
    )
    env.update(extra)
    return env


def test_check_deploy_reports_nothing_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr + result.stdout


def _run_as_a_worker(script: str) -> str:
    """What ``script`` prints, run in a fresh Python with production settings."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_worker_freezes_what_loading_the_app_made():
    """The WSGI module, which each gunicorn worker loads, leaves what loading
    the app made out of the collector's generations, with no garbage among
    it: full collections then walk only what requests made, and run often
    enough that a worker's memory stays flat (docs/performance.md)."""
    script = "import gc, config.wsgi; print(gc.get_freeze_count(), len(gc.garbage))"
    frozen, garbage = (int(n) for n in _run_as_a_worker(script).split())
    assert frozen > 20_000  # Django and the app's modules: about 60,000 objects
    assert garbage == 0


def test_a_worker_compiles_the_templates_and_urls_before_its_first_page():
    script = (
        "import config.wsgi\n"
        "from django.template import engines\n"
        "from django.urls import get_resolver\n"
        "loader = engines['django'].engine.template_loaders[0]\n"
        "cached = {key.split(':')[0] for key in loader.get_template_cache}\n"
        "print(sorted(cached & {'base.html', 'claims/claim_list.html',"
        " 'sources/reliability_report.html'}))\n"
        "print(bool(get_resolver()._populated))\n"
    )
    assert _run_as_a_worker(script).split("\n")[:2] == [
        "['base.html', 'claims/claim_list.html', 'sources/reliability_report.html']",
        "True",
    ]


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = production_env()
    env.pop("SECRET_KEY")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_a_malformed_boolean_setting():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(DEBUG="maybe"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


@pytest.mark.parametrize("value", ["-1", "two"])
def test_it_refuses_a_bad_number_of_parallel_workers(value):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/claims",
            DB_PARALLEL_WORKERS=value,
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DB_PARALLEL_WORKERS must be" in result.stderr


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a PostgreSQL session setting"
)
@pytest.mark.django_db
def test_pages_query_without_parallel_workers():
    """Under many requests on few cores, a page planned with parallel workers
    took three times as long: the app's sessions plan without them."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_the_stored_choices_speak_the_engine_s_words():
    from claims import confirmation
    from claims.models import Confidence, LikelihoodTerm
    from claims.models import Level as StoredLevel

    assert list(StoredLevel.choices) == list(confirmation.LEVELS)
    assert list(Confidence.choices) == list(confirmation.CONFIDENCES)
    assert list(LikelihoodTerm.choices) == [
        (value, label) for value, label, _, _ in confirmation.LIKELIHOOD_TERMS
    ]
