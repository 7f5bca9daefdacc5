"""Two people acting on one claim at the same moment, each on a real database
connection of their own: exactly one ruling (or one edit) is recorded, and the
other person is refused with who acted a moment ago and what.

PostgreSQL only: SQLite has no row locks to race on (it lets one writer in at a
time anyway), and its test database lives in memory, one per connection.
"""

import threading
from collections.abc import Callable

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from analysts.models import AuditEntry
from analysts.roles import ensure_roles
from claims import actions, confirmation_store, review
from claims.models import Claim, Review
from tests.factories import AnalystFactory
from tests.test_claim_entry import entry

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]
RATIONALE = "Two independent services report it and nothing contradicts them."
OTHER_RATIONALE = "The only source was graded unreliable since: refuted."


@pytest.fixture(autouse=True)
def postgres_with_roles(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (SELECT ... FOR UPDATE)")
    # An earlier transactional test's flush may have emptied the role groups
    # their data migration made.
    ensure_roles(django_apps)


@pytest.fixture
def people(postgres_with_roles) -> dict:
    return {
        "alice": AnalystFactory(username="alice", roles=["Analyst"]),
        "rita": AnalystFactory(username="rita", roles=["Reviewer"]),
        "ray": AnalystFactory(username="ray", roles=["Reviewer"]),
        "ada": AnalystFactory(username="ada", is_superuser=True, is_staff=True),
    }


def at_once(*jobs: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the jobs in threads released together; each thread has its own
    database connection, closed when it ends. Returns ("ok", result) or
    ("raised", exception) per job, in order."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, object]] = [("not run", None)] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", job())
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcomes[index] = ("raised", error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, job))
        for index, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a thread is still waiting on a lock"
    return outcomes


def in_review(people) -> Claim:
    claim = actions.save_claim(
        people["alice"],
        Claim(logged_by=people["alice"], statement="About 1,500 soldiers moved."),
    )
    return actions.submit_claim(people["alice"], claim)


def ruling_by(reviewer, claim_pk: int, outcome: str, rationale: str, **seen):
    def job() -> Review:
        claim = Claim.objects.get(pk=claim_pk)
        return actions.rule_claim(reviewer, claim, outcome, rationale, **seen)

    return job


def test_two_reviewers_ruling_at_once_record_exactly_one_ruling(people):
    claim = in_review(people)
    loaded = {"expected_version": claim.version, "seen_review": 0}

    outcomes = at_once(
        ruling_by(people["rita"], claim.pk, "confirmed", RATIONALE, **loaded),
        ruling_by(people["ray"], claim.pk, "refuted", OTHER_RATIONALE, **loaded),
    )

    assert sorted(kind for kind, _ in outcomes) == ["ok", "raised"]
    [winner] = Review.objects.filter(claim=claim)
    [refusal] = [error for kind, error in outcomes if kind == "raised"]
    assert isinstance(refusal, review.ChangedMeanwhile)
    rationale = RATIONALE if winner.outcome == "confirmed" else OTHER_RATIONALE
    assert str(refusal) == (
        f"{winner.reviewer.username} ruled it {winner.outcome} a moment ago: "
        f"{rationale}"
    )
    claim.refresh_from_db()
    assert claim.status == winner.outcome
    assert claim.level == winner.outcome
    loser = "ray" if winner.reviewer.username == "rita" else "rita"
    [entry] = AuditEntry.objects.filter(action=AuditEntry.Action.REFUSED)
    assert entry.actor_username == loser
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RULE).count() == 1


def test_without_the_seen_state_the_transition_check_names_the_winner(people):
    claim = in_review(people)

    outcomes = at_once(
        ruling_by(people["rita"], claim.pk, "confirmed", RATIONALE),
        ruling_by(people["ray"], claim.pk, "confirmed", OTHER_RATIONALE),
    )

    [winner] = Review.objects.filter(claim=claim)
    [refusal] = [error for kind, error in outcomes if kind == "raised"]
    assert isinstance(refusal, review.TransitionRefused)
    assert f"{winner.reviewer.username} ruled it confirmed a moment ago" in str(refusal)


def test_two_edits_at_once_through_the_action_keep_the_first(people):
    claim = actions.save_claim(
        people["alice"], Claim(logged_by=people["alice"], statement="Original.")
    )
    loaded = claim.version

    def edit(person, statement: str) -> Callable[[], Claim]:
        def job() -> Claim:
            mine = Claim.objects.get(pk=claim.pk)
            mine.statement = statement
            return actions.save_claim(person, mine, expected_version=loaded)

        return job

    outcomes = at_once(
        edit(people["alice"], "Alice's wording."),
        edit(people["ada"], "Ada's wording."),
    )

    assert sorted(kind for kind, _ in outcomes) == ["ok", "raised"]
    [saved] = [result for kind, result in outcomes if kind == "ok"]
    [refusal] = [error for kind, error in outcomes if kind == "raised"]
    assert isinstance(refusal, review.ChangedMeanwhile)
    claim.refresh_from_db()
    assert claim.statement == saved.statement
    assert claim.version == loaded + 1
    editor = "alice" if saved.statement == "Alice's wording." else "ada"
    assert str(refusal).startswith(f"{editor} changed claim #{claim.pk}")


def test_two_saves_of_the_entry_form_at_once_refuse_the_second(people):
    claim = actions.save_claim(
        people["alice"], Claim(logged_by=people["alice"], statement="Original.")
    )
    url = reverse("claims:claim_update", args=[claim.pk])
    clients = {}
    for name in ("alice", "ada"):
        clients[name] = Client()
        clients[name].force_login(people[name])

    def save(name: str, statement: str) -> Callable[[], object]:
        data = entry(statement=statement, version=claim.version)
        return lambda: clients[name].post(url, data)

    outcomes = at_once(save("alice", "Alice's wording."), save("ada", "Ada's wording."))

    responses = [response for _, response in outcomes]
    assert sorted(response.status_code for response in responses) == [302, 409]
    [conflict] = [r for r in responses if r.status_code == 409]
    claim.refresh_from_db()
    winner = "alice" if claim.statement == "Alice's wording." else "ada"
    assert f"{winner} changed this claim after you opened it" in (
        conflict.content.decode()
    )
    assert claim.version == 2


def test_a_grade_change_and_a_claim_citing_that_source_at_once_both_land(people):
    """The writers' lock comes before any row lock, in a grade change as in
    every other write. A grade change that took its source's row FOR UPDATE
    first, then waited for the writers' lock, deadlocked with a claim logged
    meanwhile: that claim held the writers' lock, and its citation's deferred
    foreign-key check at commit waits for the source's row (KEY SHARE)."""
    import threading
    import time

    from django.db import transaction

    from claims.models import Citation
    from sources.models import Source
    from tests.factories import DocumentFactory, SourceFactory

    source = SourceFactory(name="Wire", grade="B")
    document = DocumentFactory(publisher=source)
    recomputed, regrading = threading.Event(), threading.Event()

    def log_claim() -> int:
        with transaction.atomic():
            with actions.batch():
                claim = actions.save_claim(
                    people["alice"],
                    Claim(
                        statement="Wire reports a column.", logged_by=people["alice"]
                    ),
                )
                actions.add_citation(
                    people["alice"],
                    Citation(
                        claim=claim,
                        source=source,
                        document=document,
                        excerpt="A column was seen.",
                        credibility=3,
                        created_by=people["alice"],
                    ),
                )
            # Recomputed: the writers' lock is held until this commits.
            recomputed.set()
            assert regrading.wait(10)
            time.sleep(0.5)  # the grade change is under way meanwhile
        return claim.pk

    def regrade() -> int:
        assert recomputed.wait(10)
        regrading.set()
        return actions.change_grade(
            people["ada"], Source.objects.get(pk=source.pk), "E", "Often wrong."
        )

    (logged, claim_pk), (regraded, _changed) = at_once(log_claim, regrade)
    assert (logged, regraded) == ("ok", "ok"), (claim_pk, _changed)
    # Whichever went first, the claim's stored confirmation is the one its
    # citation to a source now graded E gives.
    assert Source.objects.get(pk=source.pk).grade == "E"
    assert confirmation_store.drift([claim_pk]) == []
