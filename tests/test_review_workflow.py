"""The review workflow: analysts submit claims, reviewers rule on them (confirmed,
refuted, sent back) or reopen them, with a rationale, under four-eyes, through
the transitions of claims.review and nowhere else."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysts.models import AuditEntry
from claims import actions, review
from claims.models import (
    Citation,
    Claim,
    ClaimConfirmation,
    LikelihoodTerm,
    Relation,
    Review,
)
from tests.factories import (
    AnalystFactory,
    ClaimFactory,
    DocumentFactory,
    SourceFactory,
    TopicFactory,
)

Status = Claim.Status
Outcome = Review.Outcome
RATIONALE = "Two independent services report it and nothing contradicts them."
QUEUE = reverse("claims:review_queue")


@pytest.fixture
def ray(db):
    """A second reviewer."""
    return AnalystFactory(username="ray", roles=["Reviewer"])


@pytest.fixture
def rex(db):
    """An analyst who also reviews: four-eyes is about the person, not the role."""
    return AnalystFactory(username="rex", roles=["Analyst", "Reviewer"])


def url(name: str, claim: Claim) -> str:
    return reverse(f"claims:{name}", args=[claim.pk])


def log(actor, statement: str = "About 1,500 soldiers moved.", **facets) -> Claim:
    return actions.save_claim(
        actor, Claim(logged_by=actor, statement=statement, **facets)
    )


def cite(actor, claim: Claim, grade: str = "B", supports: bool = True) -> Citation:
    source = SourceFactory(grade=grade)
    return actions.add_citation(
        actor,
        Citation(
            claim=claim,
            source=source,
            document=DocumentFactory(publisher=source),
            supports=supports,
            credibility=2,
            excerpt=f"{source.name} says so.",
            created_by=actor,
        ),
    )


def relate(actor, one: Claim, other: Claim, kind: str = "corroborates") -> Relation:
    a, b = sorted((one, other), key=lambda c: c.pk)
    return actions.add_relation(
        actor,
        Relation(claim_a=a, claim_b=b, kind=kind, rationale="Same event.",
                 created_by=actor),
    )  # fmt: skip


def corroborated(actor) -> Claim:
    """A claim two independent origins graded B support."""
    claim = log(actor)
    cite(actor, claim)
    cite(actor, claim)
    claim.refresh_from_db()
    assert claim.computed_level == "corroborated"
    return claim


def submitted(actor, **facets) -> Claim:
    claim = log(actor, **facets)
    return actions.submit_claim(actor, claim)


def ruled(actor, reviewer, outcome: str = Outcome.CONFIRMED) -> Claim:
    claim = submitted(actor)
    actions.rule_claim(reviewer, claim, outcome, RATIONALE)
    return claim


def seen(claim: Claim) -> dict:
    last = claim.reviews.order_by("-created_at", "-id").first()
    return {"version": claim.version, "last_review": last.pk if last else 0}


def post_rule(client, claim: Claim, outcome: str, rationale: str = RATIONALE):
    return client.post(
        url("claim_rule", claim),
        {"outcome": outcome, "rationale": rationale, **seen(claim)},
    )


def post_reopen(client, claim: Claim, rationale: str = RATIONALE):
    return client.post(
        url("claim_reopen", claim), {"rationale": rationale, **seen(claim)}
    )


def post_submit(client, claim: Claim, note: str = ""):
    return client.post(url("claim_submit", claim), {"note": note, **seen(claim)})


def refusals(claim: Claim) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            action=AuditEntry.Action.REFUSED,
            model="claims.claim",
            object_id=str(claim.pk),
        )
    )


# Submitting ---------------------------------------------------------------------------


def test_alice_submits_her_open_claim_with_a_note_for_the_reviewer(as_user, alice):
    claim = log(alice)

    response = post_submit(as_user(alice), claim, note="Check the NIS date first.")

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW
    assert claim.submission_note == "Check the NIS date first."
    assert claim.submitted_at is not None
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SUBMIT)
    assert entry.actor == alice
    assert entry.before["status"] == "open"
    assert entry.after["status"] == "in_review"


def test_the_note_is_optional(as_user, alice):
    claim = log(alice)

    assert post_submit(as_user(alice), claim).status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW


@pytest.mark.parametrize("person", ["bob", "rita", "max_"])
def test_only_the_claims_analyst_submits_it(as_user, alice, person, request):
    claim = log(alice)
    other = request.getfixturevalue(person)

    response = post_submit(as_user(other), claim)

    assert response.status_code == 403
    assert "Only the analyst who logged claim" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == Status.OPEN
    assert [entry.actor for entry in refusals(claim)] == [other]


def test_an_administrator_may_submit_any_claim(as_user, alice, ada):
    claim = log(alice)

    assert post_submit(as_user(ada), claim).status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW


def test_the_claim_page_offers_submitting_to_its_analyst_only(as_user, alice, bob):
    claim = log(alice)

    def page(person) -> str:
        return as_user(person).get(claim.get_absolute_url()).content.decode()

    assert "Submit for review" in page(alice)
    assert "Submit for review" not in page(bob)


# Ruling -------------------------------------------------------------------------------


def test_rita_confirms_and_the_computed_likelihood_stays_beside_the_verdict(
    as_user, alice, rita
):
    claim = corroborated(alice)
    actions.submit_claim(alice, claim)
    likelihood, term = claim.likelihood, claim.likelihood_term

    response = post_rule(as_user(rita), claim, Outcome.CONFIRMED)

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.CONFIRMED
    assert claim.level == "confirmed"
    assert claim.computed_level == "corroborated"
    assert (claim.likelihood, claim.likelihood_term) == (likelihood, term)
    ruling = claim.reviews.get()
    assert ruling.reviewer == rita
    assert ruling.outcome == Outcome.CONFIRMED
    assert ruling.rationale == RATIONALE
    assert ruling.likelihood_at == likelihood
    assert ruling.level_at == "corroborated"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.RULE)
    assert (entry.actor, entry.before["status"], entry.after["status"]) == (
        rita,
        "in_review",
        "confirmed",
    )
    page = as_user(rita).get(claim.get_absolute_url()).content.decode()
    assert '<span class="badge level-confirmed">confirmed</span>' in page
    assert f'class="badge likelihood-{term}"' in page
    assert RATIONALE in page


@pytest.mark.parametrize(
    "outcome, status, level",
    [
        (Outcome.CONFIRMED, Status.CONFIRMED, "confirmed"),
        (Outcome.REFUTED, Status.REFUTED, "refuted"),
        (Outcome.SENT_BACK, Status.OPEN, "unsourced"),
    ],
)
def test_each_ruling_leads_to_its_status(as_user, alice, rita, outcome, status, level):
    claim = submitted(alice)

    assert post_rule(as_user(rita), claim, outcome).status_code == 302

    claim.refresh_from_db()
    assert (claim.status, claim.level) == (status, level)
    assert claim.reviews.get().outcome == outcome


def test_a_sent_back_claim_is_editable_and_submittable_again(as_user, alice, rita):
    claim = submitted(alice)
    actions.rule_claim(rita, claim, Outcome.SENT_BACK, RATIONALE)

    assert as_user(alice).get(url("claim_update", claim)).status_code == 200
    assert post_submit(as_user(alice), claim).status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW


@pytest.mark.parametrize(
    "rationale",
    [
        "",
        "   ",
        "Looks right.",
        "Confirmed-by-two-independent-services",
        "Yes yes yes",
        "Yes " * 3,
    ],
)
def test_a_ruling_needs_a_rationale_of_a_sentence(as_user, alice, rita, rationale):
    claim = submitted(alice)

    response = post_rule(as_user(rita), claim, Outcome.CONFIRMED, rationale)

    assert response.status_code == 200
    page = response.content.decode()
    assert "at least a sentence: 20 characters and 4 words or more" in page or (
        "This field is required." in page
    )
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW
    assert not claim.reviews.exists()


def test_a_huge_rationale_is_a_form_error_not_a_crash(as_user, alice, rita):
    claim = submitted(alice)

    response = post_rule(as_user(rita), claim, Outcome.CONFIRMED, "Word " * 2000)

    assert response.status_code == 200
    assert "at most 5000 characters" in response.content.decode()
    assert not claim.reviews.exists()


@pytest.mark.parametrize("name", ["claim_submit", "claim_rule", "claim_reopen"])
def test_an_unknown_claim_is_404(as_user, rita, name):
    response = as_user(rita).post(reverse(f"claims:{name}", args=[999999]), {})

    assert response.status_code == 404


def test_the_rationale_rule_holds_for_every_caller(alice, rita):
    claim = submitted(alice)

    with pytest.raises(review.RationaleInvalid, match="20 characters and 4 words"):
        actions.rule_claim(rita, claim, Outcome.CONFIRMED, "Too short here.")
    # Nineteen characters fall short even with four words; twenty pass.
    assert review.rationale_problem("Aa bb cc ddddddddd.")
    assert not review.rationale_problem("Aa bb cc dddddddddd.")
    assert review.rationale_problem("x" * 5001)


def test_an_invalid_rationale_keeps_what_was_typed(as_user, alice, rita):
    claim = submitted(alice)

    page = post_rule(as_user(rita), claim, Outcome.REFUTED, "No <b>way</b>.")

    html = page.content.decode()
    assert "No &lt;b&gt;way&lt;/b&gt;." in html
    assert re.search(r'<input[^>]*value="refuted"[^>]*checked', html)


@pytest.mark.parametrize("person", ["alice", "bob", "max_"])
def test_only_reviewers_rule(as_user, alice, person, request):
    claim = submitted(alice)
    other = request.getfixturevalue(person)

    response = post_rule(as_user(other), claim, Outcome.CONFIRMED)

    assert response.status_code == 403
    assert "Only reviewers rule on claims" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW
    assert len(refusals(claim)) == 1


def test_a_ruling_recomputes_the_stored_confirmation_in_the_same_step(alice, rita):
    claim = corroborated(alice)
    actions.submit_claim(alice, claim)

    actions.rule_claim(rita, claim, Outcome.REFUTED, RATIONALE)

    assert claim.level == "refuted"
    assert Claim.objects.get(pk=claim.pk).level == "refuted"


# Reopening ----------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.CONFIRMED, Outcome.REFUTED])
def test_a_reviewer_reopens_a_ruled_claim_with_a_rationale(
    as_user, alice, rita, ray, outcome
):
    claim = ruled(alice, rita, outcome)

    response = post_reopen(as_user(ray), claim)

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Status.OPEN
    assert claim.level == claim.computed_level == "unsourced"
    assert list(claim.reviews.values_list("outcome", flat=True)) == [
        outcome,
        Outcome.REOPENED,
    ]
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.RULE, actor=ray, note__startswith="reopened"
    ).exists()


def test_reopening_needs_a_rationale(as_user, alice, rita):
    claim = ruled(alice, rita)

    response = post_reopen(as_user(rita), claim, "Wrong.")

    assert response.status_code == 200
    assert "20 characters and 4 words" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == Status.CONFIRMED


@pytest.mark.parametrize("status", [Status.OPEN, Status.IN_REVIEW])
def test_only_a_ruled_claim_is_reopened(as_user, alice, rita, status):
    claim = submitted(alice) if status == Status.IN_REVIEW else log(alice)

    response = post_reopen(as_user(rita), claim)

    assert response.status_code == 409
    claim.refresh_from_db()
    assert claim.status == status
    assert not claim.reviews.exists()
    assert len(refusals(claim)) == 1


# Every transition, per role -----------------------------------------------------------

STEPS = (review.SUBMIT, *review.RULINGS, Outcome.REOPENED)
# (status, needs re-review) -> the status each step leads to; absent: refused.
EXPECTED = {
    (Status.OPEN, False): {review.SUBMIT: Status.IN_REVIEW},
    (Status.IN_REVIEW, False): {
        Outcome.CONFIRMED: Status.CONFIRMED,
        Outcome.REFUTED: Status.REFUTED,
        Outcome.SENT_BACK: Status.OPEN,
    },
    (Status.CONFIRMED, False): {Outcome.REOPENED: Status.OPEN},
    (Status.REFUTED, False): {Outcome.REOPENED: Status.OPEN},
    (Status.CONFIRMED, True): {
        Outcome.CONFIRMED: Status.CONFIRMED,
        Outcome.REFUTED: Status.REFUTED,
        Outcome.REOPENED: Status.OPEN,
    },
    (Status.REFUTED, True): {
        Outcome.CONFIRMED: Status.CONFIRMED,
        Outcome.REFUTED: Status.REFUTED,
        Outcome.REOPENED: Status.OPEN,
    },
}
CASES = [
    (status, flagged, step)
    for (status, flagged) in EXPECTED
    for step in STEPS
]  # fmt: skip


def take(actor, claim: Claim, step: str) -> None:
    if step == review.SUBMIT:
        actions.submit_claim(actor, claim, expected_version=claim.version)
    elif step == Outcome.REOPENED:
        actions.reopen_claim(actor, claim, RATIONALE, seen_review=None)
    else:
        actions.rule_claim(actor, claim, step, RATIONALE)


@pytest.mark.parametrize("status, flagged, step", CASES)
def test_every_transition_is_allowed_or_refused_by_the_one_table(
    alice, rita, status, flagged, step
):
    claim = ClaimFactory(logged_by=alice, status=status, needs_rereview=flagged)
    actor = alice if step == review.SUBMIT else rita
    expected = EXPECTED[(status, flagged)].get(step)

    assert review.next_status(claim, step) == expected
    if expected is None:
        with pytest.raises(review.TransitionRefused) as refusal:
            take(actor, claim, step)
        assert f"Claim #{claim.pk} is" in str(refusal.value)
        claim.refresh_from_db()
        assert (claim.status, claim.needs_rereview) == (status, flagged)
        assert len(refusals(claim)) == 1
    else:
        take(actor, claim, step)
        claim.refresh_from_db()
        assert claim.status == expected
        if step != review.SUBMIT:
            assert not claim.needs_rereview


# Who may take each step, with the claim in the state the step needs: alice logged
# it (and cited it), so rita and ada may rule; alice and ada may submit.
ROLE_CASES = {
    review.SUBMIT: {"alice": True, "rita": False, "max_": False, "ada": True},
    Outcome.CONFIRMED: {"alice": False, "rita": True, "max_": False, "ada": True},
    Outcome.REFUTED: {"alice": False, "rita": True, "max_": False, "ada": True},
    Outcome.SENT_BACK: {"alice": False, "rita": True, "max_": False, "ada": True},
    Outcome.REOPENED: {"alice": False, "rita": True, "max_": False, "ada": True},
}
STATE_FOR = {
    review.SUBMIT: Status.OPEN,
    Outcome.CONFIRMED: Status.IN_REVIEW,
    Outcome.REFUTED: Status.IN_REVIEW,
    Outcome.SENT_BACK: Status.IN_REVIEW,
    Outcome.REOPENED: Status.CONFIRMED,
}


@pytest.mark.parametrize(
    "step, person",
    [(step, person) for step, people in ROLE_CASES.items() for person in people],
)
def test_each_role_may_take_only_its_steps(
    as_user, alice, rita, max_, ada, step, person
):
    claim = ClaimFactory(logged_by=alice, status=STATE_FOR[step])
    actor = {"alice": alice, "rita": rita, "max_": max_, "ada": ada}[person]
    client = as_user(actor)
    if step == review.SUBMIT:
        response = post_submit(client, claim)
    elif step == Outcome.REOPENED:
        response = post_reopen(client, claim)
    else:
        response = post_rule(client, claim, step)

    claim.refresh_from_db()
    if ROLE_CASES[step][person]:
        assert response.status_code == 302
        assert claim.status == review.next_status(Claim(status=STATE_FOR[step]), step)
    else:
        assert response.status_code == 403
        assert claim.status == STATE_FOR[step]
        assert refusals(claim)


def test_a_confirmed_claim_is_not_ruled_again_without_a_reopen(alice, rita, ray):
    claim = ruled(alice, rita)

    with pytest.raises(review.TransitionRefused) as refusal:
        actions.rule_claim(ray, claim, Outcome.REFUTED, RATIONALE)

    message = str(refusal.value)
    assert "already ruled confirmed" in message
    assert f"rita ruled it confirmed a moment ago: {RATIONALE}" in message
    assert "reopen it" in message


def test_a_ruled_claim_is_reopened_rather_than_sent_back(alice, rita):
    claim = ruled(alice, rita)
    Claim.objects.filter(pk=claim.pk).update(needs_rereview=True)
    claim.refresh_from_db()

    with pytest.raises(review.TransitionRefused, match="reopened, not sent back"):
        actions.rule_claim(rita, claim, Outcome.SENT_BACK, RATIONALE)


def test_a_step_that_is_not_a_ruling_is_refused_as_input(alice, rita):
    claim = submitted(alice)

    for step in (Outcome.REOPENED, review.SUBMIT, "approved"):
        with pytest.raises(review.InvalidInput):
            actions.rule_claim(rita, claim, step, RATIONALE)
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW


# Four-eyes ----------------------------------------------------------------------------


def test_a_reviewer_never_rules_on_a_claim_they_logged(as_user, rex):
    claim = submitted(rex)

    response = post_rule(as_user(rex), claim, Outcome.CONFIRMED)

    page = response.content.decode()
    assert response.status_code == 403
    assert "You logged this claim" in page
    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW
    # Answered, not raised: the refusal's audit row committed with the request.
    [entry] = refusals(claim)
    assert entry.actor == rex
    assert "four-eyes" in entry.note


def test_a_reviewer_never_rules_on_a_claim_they_cited(as_user, alice, rex):
    claim = submitted(alice)
    cite(rex, claim)

    response = post_rule(as_user(rex), claim, Outcome.CONFIRMED)

    assert response.status_code == 403
    assert "You cited a source for this claim" in response.content.decode()
    assert not claim.reviews.exists()
    assert len(refusals(claim)) == 1


def test_a_reviewer_never_rules_on_a_claim_they_related(as_user, alice, rex):
    claim = submitted(alice)
    relate(rex, claim, log(alice, "Another claim entirely."))

    response = post_rule(as_user(rex), claim, Outcome.REFUTED)

    assert response.status_code == 403
    assert "You related this claim to another claim" in response.content.decode()
    assert not claim.reviews.exists()


def test_four_eyes_binds_reopening_too(as_user, alice, rita, rex):
    claim = ruled(alice, rita)
    cite(rex, claim)

    response = post_reopen(as_user(rex), claim)

    assert response.status_code == 403
    claim.refresh_from_db()
    assert claim.status == Status.CONFIRMED


def test_a_refused_reviewer_gets_back_what_they_wrote_escaped(
    as_user, alice, rex, rita
):
    claim = submitted(alice)
    cite(rex, claim)
    rationale = "Checked against <b>two</b> imagery reports & the ministry's note."

    response = post_rule(as_user(rex), claim, Outcome.CONFIRMED, rationale)

    assert response.status_code == 403
    page = response.content.decode()
    assert "What you wrote" in page
    assert "Checked against &lt;b&gt;two&lt;/b&gt; imagery reports &amp; the" in page
    assert not claim.reviews.exists()

    ruled_claim = ruled(alice, rita)
    cite(rex, ruled_claim)
    response = post_reopen(as_user(rex), ruled_claim, "Reopen: new imagery.")
    assert response.status_code == 403
    assert "Reopen: new imagery." in response.content.decode()


def test_superusers_are_not_exempt_from_four_eyes(as_user, alice, ada):
    claim = submitted(alice)
    cite(ada, claim)

    response = post_rule(as_user(ada), claim, Outcome.CONFIRMED)

    assert response.status_code == 403
    with pytest.raises(review.FourEyesRefused):
        actions.rule_claim(ada, claim, Outcome.CONFIRMED, RATIONALE)
    assert not claim.reviews.exists()


def test_the_claim_page_says_why_the_reviewer_may_not_rule(as_user, rex, rita):
    claim = submitted(rex)

    mine = as_user(rex).get(claim.get_absolute_url()).content.decode()
    assert "You logged this claim" in mine
    assert url("claim_rule", claim) not in mine
    theirs = as_user(rita).get(claim.get_absolute_url()).content.decode()
    assert url("claim_rule", claim) in theirs
    assert "Record the ruling" in theirs


def test_non_reviewers_see_no_ruling_panel(as_user, alice, bob, max_):
    claim = submitted(alice)

    for person in (alice, bob, max_):
        page = as_user(person).get(claim.get_absolute_url()).content.decode()
        assert url("claim_rule", claim) not in page
        assert "In review" in page


# Django admin: no way to rule around the workflow -------------------------------------


def test_the_admin_offers_no_way_to_rule(as_user, alice, ada, client):
    claim = submitted(alice)
    client = as_user(ada)
    review_add = reverse("admin:claims_review_add")

    assert client.get(review_add).status_code == 403
    assert client.post(
        review_add,
        {"claim": claim.pk, "reviewer": ada.pk, "outcome": "confirmed",
         "rationale": RATIONALE},
    ).status_code == 403  # fmt: skip
    claim_admin = admin.site._registry[Claim]
    assert "status" in claim_admin.readonly_fields
    assert "needs_rereview" in claim_admin.readonly_fields
    request = client.get(reverse("admin:claims_claim_changelist")).wsgi_request
    assert set(claim_admin.get_actions(request)) <= {"delete_selected"}
    review_admin = admin.site._registry[Review]
    assert not review_admin.has_change_permission(request)
    assert not review_admin.has_delete_permission(request)
    assert not Review.objects.exists()


def test_the_admin_change_form_cannot_set_a_status(as_user, alice, ada):
    claim = submitted(alice)
    change = reverse("admin:claims_claim_change", args=[claim.pk])

    as_user(ada).post(
        change,
        {"statement": claim.statement, "kind": claim.kind, "status": "confirmed",
         "needs_rereview": "on", "citations-TOTAL_FORMS": "0",
         "citations-INITIAL_FORMS": "0", "reviews-TOTAL_FORMS": "0",
         "reviews-INITIAL_FORMS": "0"},
    )  # fmt: skip

    claim.refresh_from_db()
    assert claim.status == Status.IN_REVIEW
    assert not claim.needs_rereview
    assert not claim.reviews.exists()


def test_four_eyes_holds_for_what_is_done_in_the_admin(as_user, alice, bob, ada):
    """An administrator is a reviewer too; citing through the admin makes ada
    a party to the claim, and nothing in the admin names someone else instead."""
    claim = submitted(alice)
    source = SourceFactory(grade="B")
    document = DocumentFactory(publisher=source)
    client = as_user(ada)

    added = client.post(
        reverse("admin:claims_citation_add"),
        {"claim": claim.pk, "document": document.pk, "source": source.pk,
         "supports": "True", "excerpt": "They moved.", "credibility": "2",
         "created_by": bob.pk},
    )  # fmt: skip
    assert added.status_code == 302
    assert claim.citations.get().created_by == ada

    refused = post_rule(client, claim, Outcome.CONFIRMED)
    assert refused.status_code == 403
    assert "You cited a source for this claim" in refused.content.decode()
    with pytest.raises(review.FourEyesRefused):
        actions.rule_claim(ada, claim, Outcome.CONFIRMED, RATIONALE)
    # The admin's own forms offer no way round it: no ruling is added there,
    # and who logged the claim is not the admin's to change.
    assert client.get(reverse("admin:claims_review_add")).status_code == 403
    logged = client.post(
        reverse("admin:claims_claim_add"),
        {"statement": "Ada's own claim.", "kind": "reported_fact", "logged_by": bob.pk,
         "citations-TOTAL_FORMS": "0", "citations-INITIAL_FORMS": "0",
         "reviews-TOTAL_FORMS": "0", "reviews-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert logged.status_code == 302
    own = Claim.objects.get(statement="Ada's own claim.")
    assert own.logged_by == ada
    actions.submit_claim(ada, own)
    assert (
        "You logged this claim"
        in post_rule(client, own, Outcome.CONFIRMED).content.decode()
    )
    assert not Review.objects.exists()
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REFUSED, actor=ada, object_id=str(claim.pk)
    ).exists()


# Locked while ruled -------------------------------------------------------------------


def test_a_ruled_claims_statement_is_locked_everywhere(as_user, alice, rita, ada):
    claim = ruled(alice, rita)
    edit = url("claim_update", claim)

    assert as_user(alice).post(edit, {"statement": "Changed."}).status_code == 404
    change = reverse("admin:claims_claim_change", args=[claim.pk])
    assert as_user(ada).post(change, {"statement": "Changed."}).status_code == 403
    claim.statement = "Changed."
    with pytest.raises(review.ClaimLocked, match="locked until a reviewer reopens"):
        actions.save_claim(alice, claim)
    claim.refresh_from_db()
    assert claim.statement == "About 1,500 soldiers moved."


def test_reopening_unlocks_the_statement(as_user, alice, rita):
    claim = ruled(alice, rita)
    actions.reopen_claim(rita, claim, RATIONALE)

    assert as_user(alice).get(url("claim_update", claim)).status_code == 200


def test_evidence_may_still_be_added_to_a_ruled_claim(as_user, alice, bob, rita):
    claim = ruled(alice, rita)
    other = log(bob, "Bob's related claim.")
    source = SourceFactory(grade="B")
    document = DocumentFactory(publisher=source)
    client = as_user(bob)

    cited = client.post(
        url("citation_add", claim),
        {"cite-document": document.pk, "cite-source": source.pk,
         "cite-supports": "True", "cite-excerpt": "They moved.",
         "cite-credibility": "2"},
    )  # fmt: skip
    related = client.post(
        url("relation_add", claim),
        {"relate-other_claim": str(other.pk), "relate-kind": "corroborates",
         "relate-rationale": "Same convoy."},
    )  # fmt: skip

    assert (cited.status_code, related.status_code) == (302, 302)
    citation = claim.citations.get()
    assert (citation.created_by, citation.source) == (bob, source)
    assert Relation.objects.involving(claim).get().created_by == bob
    assert AuditEntry.objects.filter(
        actor=bob, action="create", model="claims.citation"
    ).exists()
    claim.refresh_from_db()
    assert claim.status == Status.CONFIRMED
    assert claim.computed_level == "single_source"


def test_the_add_forms_show_errors_and_keep_what_was_typed(as_user, alice, rita, bob):
    claim = ruled(alice, rita)

    response = as_user(bob).post(
        url("citation_add", claim), {"cite-excerpt": "Typed <i>text</i>."}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Typed &lt;i&gt;text&lt;/i&gt;." in page
    assert "Pick the document" in page
    assert not claim.citations.exists()
    relation = as_user(bob).post(
        url("relation_add", claim),
        {"relate-other_claim": str(claim.pk), "relate-kind": "corroborates",
         "relate-rationale": "Itself."},
    )  # fmt: skip
    assert "A claim cannot be related to itself." in relation.content.decode()


def test_only_analysts_add_evidence_from_the_claim_page(as_user, alice, rita, max_):
    claim = log(alice)

    for person in (rita, max_):
        response = as_user(person).post(url("citation_add", claim), {})
        assert response.status_code == 403


# Re-review ----------------------------------------------------------------------------


def test_a_downgrade_flags_a_confirmation_and_a_new_ruling_clears_it(
    as_user, alice, rita, ray, max_
):
    claim = corroborated(alice)
    actions.submit_claim(alice, claim)
    actions.rule_claim(rita, claim, Outcome.CONFIRMED, RATIONALE)
    source = claim.citations.first().source

    actions.change_grade(max_, source, "E", "Fabricated two reports.")

    claim.refresh_from_db()
    assert claim.needs_rereview
    assert claim.status == Status.CONFIRMED
    queue = as_user(ray).get(QUEUE)
    assert [c.pk for c in queue.context["page"].object_list] == [claim.pk]
    assert review.allowed_rulings(claim) == [Outcome.CONFIRMED, Outcome.REFUTED]

    assert post_rule(as_user(ray), claim, Outcome.REFUTED).status_code == 302

    claim.refresh_from_db()
    assert not claim.needs_rereview
    assert claim.status == Status.REFUTED
    assert listed(as_user(ray).get(QUEUE)) == []


def test_a_denial_added_to_a_confirmed_claim_flags_it(as_user, alice, bob, rita):
    claim = corroborated(alice)
    actions.submit_claim(alice, claim)
    actions.rule_claim(rita, claim, Outcome.CONFIRMED, RATIONALE)

    # Two independent denials outweigh the support: the claim is contested.
    cite(bob, claim, grade="A", supports=False)
    cite(bob, claim, grade="A", supports=False)

    claim.refresh_from_db()
    assert claim.computed_level == "contested"
    assert claim.needs_rereview


def test_reopening_clears_the_flag(alice, rita):
    claim = ruled(alice, rita)
    Claim.objects.filter(pk=claim.pk).update(needs_rereview=True)

    actions.reopen_claim(rita, claim, RATIONALE)

    assert not claim.needs_rereview


# Append-only --------------------------------------------------------------------------


def test_review_rows_are_append_only(alice, rita):
    claim = ruled(alice, rita)
    ruling = claim.reviews.get()

    ruling.rationale = "Rewritten afterwards, quietly."
    with pytest.raises(ValueError, match="append-only"):
        ruling.save()
    with pytest.raises(ValueError, match="append-only"):
        ruling.delete()
    with pytest.raises(ValueError, match="append-only"):
        Review.objects.filter(pk=ruling.pk).update(rationale="Rewritten.")
    with pytest.raises(ValueError, match="append-only"):
        Review.objects.filter(pk=ruling.pk).delete()
    assert Review.objects.get(pk=ruling.pk).rationale == RATIONALE


def test_each_step_adds_a_row_and_changes_none(alice, rita, ray):
    claim = ruled(alice, rita)
    actions.reopen_claim(ray, claim, RATIONALE)
    actions.submit_claim(alice, claim)
    actions.rule_claim(ray, claim, Outcome.REFUTED, RATIONALE + " Again.")

    rows = list(claim.reviews.values_list("reviewer__username", "outcome"))
    assert rows == [
        ("rita", "confirmed"),
        ("ray", "reopened"),
        ("ray", "refuted"),
    ]


# Changed since the page was loaded ----------------------------------------------------


def test_a_ruling_on_a_claim_ruled_meanwhile_names_who_ruled_and_what(
    as_user, alice, rita, ray
):
    claim = submitted(alice)
    loaded = seen(claim)
    actions.rule_claim(
        ray, claim, Outcome.REFUTED, "Ray's rationale, four words at least."
    )

    response = as_user(rita).post(
        url("claim_rule", claim),
        {"outcome": "confirmed", "rationale": RATIONALE, **loaded},
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert (
        "ray ruled it refuted a moment ago: Ray&#x27;s rationale, four words at "
        "least." in page
    )
    assert RATIONALE in page  # what rita typed is not lost
    assert claim.reviews.count() == 1
    assert len(refusals(claim)) == 1


def test_a_ruling_on_a_claim_edited_meanwhile_is_refused(as_user, alice, rita):
    claim = submitted(alice)
    loaded = seen(claim)
    claim.statement = "About 1,600 soldiers moved."
    actions.save_claim(alice, claim)

    response = as_user(rita).post(
        url("claim_rule", claim),
        {"outcome": "confirmed", "rationale": RATIONALE, **loaded},
    )

    assert response.status_code == 409
    assert "alice changed claim" in response.content.decode()
    assert not claim.reviews.exists()
    # Having read it, rita rules on what she saw.
    assert post_rule(as_user(rita), claim, Outcome.CONFIRMED).status_code == 302


def test_a_stale_edit_is_refused_under_the_lock(alice, bob):
    claim = log(alice)
    loaded = claim.version
    first = Claim.objects.get(pk=claim.pk)
    first.statement = "First edit."
    actions.save_claim(alice, first, expected_version=loaded)

    claim.statement = "Second edit."
    with pytest.raises(review.ChangedMeanwhile, match="alice changed claim"):
        actions.save_claim(alice, claim, expected_version=loaded)
    claim.refresh_from_db()
    assert (claim.statement, claim.version) == ("First edit.", loaded + 1)


def test_a_form_without_the_seen_state_is_incomplete(as_user, alice, rita):
    claim = submitted(alice)

    response = as_user(rita).post(
        url("claim_rule", claim), {"outcome": "confirmed", "rationale": RATIONALE}
    )

    assert response.status_code == 200
    assert "The form was incomplete: reload the page" in response.content.decode()
    assert not claim.reviews.exists()


# The verdict beside the evidence ------------------------------------------------------

TERMS = [term.value for term in LikelihoodTerm]
# Confirmed sits at "very likely", refuted at "unlikely": more than one band
# away is "roughly even chance" or lower, and "likely" or higher, respectively.
DIFFERS = {
    Status.CONFIRMED: {"almost_no_chance", "very_unlikely", "unlikely", "roughly_even"},
    Status.REFUTED: {"likely", "very_likely", "almost_certain"},
}


@pytest.mark.parametrize("status", [Status.CONFIRMED, Status.REFUTED])
@pytest.mark.parametrize("term", TERMS)
def test_the_verdict_differs_when_more_than_one_band_apart(status, term):
    claim = Claim(status=status)
    claim.confirmation = ClaimConfirmation(likelihood_term=term)

    assert review.verdict_differs(claim) == (term in DIFFERS[status])
    assert (review.bands_apart(status, term) > 1) == (term in DIFFERS[status])


@pytest.mark.parametrize("status", [Status.OPEN, Status.IN_REVIEW])
def test_an_unruled_claim_has_no_verdict_to_differ(status):
    claim = Claim(status=status)
    claim.confirmation = ClaimConfirmation(likelihood_term="likely")
    assert not review.verdict_differs(claim)


def test_the_page_says_when_the_verdict_differs(as_user, alice, rita):
    claim = ruled(alice, rita)  # confirmed with no evidence: roughly even chance

    page = as_user(rita).get(claim.get_absolute_url()).content.decode()

    assert "differs from the evidence by more than one band" in page
    assert "roughly even chance" in page
    supported = corroborated(alice)
    actions.submit_claim(alice, supported)
    actions.rule_claim(rita, supported, Outcome.CONFIRMED, RATIONALE)
    page = as_user(rita).get(supported.get_absolute_url()).content.decode()
    assert "more than one band" not in page


# The review queue ---------------------------------------------------------------------


def listed(response) -> list[int]:
    return [claim.pk for claim in response.context["page"].object_list]


def waiting_since(claim: Claim, days_ago: int) -> None:
    moment = timezone.now() - timedelta(days=days_ago)
    Claim.objects.filter(pk=claim.pk).update(submitted_at=moment)


def test_the_queue_holds_claims_in_review_and_those_flagged(as_user, alice, rita):
    in_review = submitted(alice)
    flagged = ClaimFactory(logged_by=alice, status=Status.REFUTED, needs_rereview=True)
    ClaimFactory(logged_by=alice, status=Status.OPEN)
    ClaimFactory(logged_by=alice, status=Status.CONFIRMED)

    response = as_user(rita).get(QUEUE)

    assert response.status_code == 200
    assert set(listed(response)) == {in_review.pk, flagged.pk}


def test_the_queue_is_oldest_first_and_sorts_by_likelihood(as_user, alice, rita):
    newest, oldest, middle = (submitted(alice) for _ in range(3))
    waiting_since(newest, 1)
    waiting_since(oldest, 9)
    waiting_since(middle, 5)
    ClaimConfirmation.objects.filter(claim=newest.pk).update(likelihood=0.9)
    ClaimConfirmation.objects.filter(claim=oldest.pk).update(likelihood=0.2)
    ClaimConfirmation.objects.filter(claim=middle.pk).update(likelihood=0.6)
    client = as_user(rita)

    assert listed(client.get(QUEUE)) == [oldest.pk, middle.pk, newest.pk]
    assert listed(client.get(QUEUE, {"sort": "-waiting"})) == [
        newest.pk,
        middle.pk,
        oldest.pk,
    ]
    assert listed(client.get(QUEUE, {"sort": "-likelihood"})) == [
        newest.pk,
        middle.pk,
        oldest.pk,
    ]
    assert listed(client.get(QUEUE, {"sort": "likelihood"})) == [
        oldest.pk,
        middle.pk,
        newest.pk,
    ]
    # An unknown sort falls back to the default rather than failing.
    assert listed(client.get(QUEUE, {"sort": "drop table"})) == [
        oldest.pk,
        middle.pk,
        newest.pk,
    ]


def test_the_queue_filters_like_the_claim_list(as_user, alice, rita):
    topic = TopicFactory(name="Vladivostok")
    about = submitted(alice, statement="Ships docked at Vladivostok.", topic=topic)
    submitted(alice, statement="Troops trained in Kursk.")
    client = as_user(rita)

    assert listed(client.get(QUEUE, {"q": "Vladivostok"})) == [about.pk]
    assert listed(client.get(QUEUE, {"topic": topic.pk})) == [about.pk]
    assert listed(client.get(QUEUE, {"level": "unsourced", "q": "Kursk"})) != []
    bad = client.get(QUEUE, {"time_from": "2024-12-01", "time_to": "2024-01-01"})
    assert bad.status_code == 200
    assert "The window ends before it starts." in bad.content.decode()


def test_the_queue_marks_claims_four_eyes_keeps_from_the_reviewer(as_user, alice, rex):
    logged = submitted(rex)
    cited = submitted(alice)
    cite(rex, cited)
    free = submitted(alice)

    response = as_user(rex).get(QUEUE)

    marks = {c.pk: c.four_eyes for c in response.context["page"].object_list}
    assert marks == {
        logged.pk: "You logged this claim",
        cited.pk: "You cited a source for this claim",
        free.pk: "",
    }
    assert "No: you logged this claim" in response.content.decode()


def test_the_navigation_counts_what_the_reviewer_may_rule(as_user, alice, rita, rex):
    submitted(alice)
    submitted(alice)
    submitted(rex)

    page = as_user(rita).get(reverse("claims:dashboard")).content.decode()
    assert "Review queue" in page
    assert '<span class="badge nav-count">3<' in page
    page = as_user(rex).get(reverse("claims:dashboard")).content.decode()
    assert '<span class="badge nav-count">2<' in page
    page = as_user(alice).get(reverse("claims:dashboard")).content.decode()
    assert "Review queue" not in page


def test_the_navigation_count_stops_at_99_plus(as_user, alice, rita, monkeypatch):
    from claims.templatetags import review_queue

    monkeypatch.setattr(review_queue, "NAV_COUNT_CAP", 2)
    submitted(alice)
    submitted(alice)
    page = as_user(rita).get(reverse("claims:dashboard")).content.decode()
    assert '<span class="badge nav-count">2<' in page
    submitted(alice)
    page = as_user(rita).get(reverse("claims:dashboard")).content.decode()
    assert '<span class="badge nav-count">2+<' in page


@pytest.mark.parametrize("person", ["alice", "max_", "nora"])
def test_only_reviewers_open_the_queue(as_user, person, request):
    assert as_user(request.getfixturevalue(person)).get(QUEUE).status_code == 403


def test_the_queue_costs_the_same_for_3_or_30_claims(as_user, alice, bob, rita):
    def make(count: int) -> None:
        for n in range(count):
            claim = submitted(alice, statement=f"Claim {n} moved.")
            cite(bob, claim)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(QUEUE)
        assert response.status_code == 200
        return len(captured), len(listed(response))

    client = as_user(rita)
    make(3)
    few, rows = queries()
    assert rows == 3
    make(27)
    many, rows = queries()
    assert rows == 30
    assert few == many
