"""The dashboard: my recent claims, the review queue, counts by level, and the
managers' list of weakly graded sources that claims lean on."""

import pytest
from django.urls import reverse

from claims.models import Claim
from tests.factories import CitationFactory, ClaimFactory, SourceFactory


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The factories make a user per claim; Argon2 would make that slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def dashboard(client):
    response = client.get(reverse("claims:dashboard"))
    assert response.status_code == 200
    return response


def test_it_lists_my_recent_claims_not_others(alice, bob, as_user):
    mine = ClaimFactory(logged_by=alice, statement="Mine.")
    ClaimFactory(logged_by=bob, statement="Bob's.")
    response = dashboard(as_user(alice))
    assert response.context["my_claims"] == [mine]


def test_it_counts_claims_by_level_in_one_query(
    alice, as_user, django_assert_max_num_queries
):
    ClaimFactory.create_batch(3, level="corroborated", logged_by=alice)
    ClaimFactory(level="contested", logged_by=alice)
    client = as_user(alice)
    response = dashboard(client)
    counts = {value: n for value, _label, n in response.context["level_counts"]}
    assert counts["corroborated"] == 3
    assert counts["contested"] == 1
    assert counts["unsourced"] == 0
    assert response.context["total"] == 4
    html = response.content.decode()
    assert (
        '<span class="count">3</span> <span class="badge level-corroborated">' in html
    )
    # The request's savepoint pair, session, user, roles, the counts and my
    # claims: no query per level.
    with django_assert_max_num_queries(7):
        dashboard(client)


def test_reviewers_see_the_queue_without_their_own_claims(alice, rita, as_user):
    waiting = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
    flagged = ClaimFactory(
        logged_by=alice, status=Claim.Status.CONFIRMED, needs_rereview=True
    )
    ClaimFactory(logged_by=alice, status=Claim.Status.OPEN)
    # Four eyes: rita cited this one, so another reviewer must rule on it.
    cited_by_rita = ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
    CitationFactory(claim=cited_by_rita, created_by=rita)
    response = dashboard(as_user(rita))
    assert response.context["review_queue"] == [flagged, waiting]
    assert response.context["review_queue_count"] == 2
    assert "Awaiting review" in response.content.decode()


def test_analysts_see_no_review_queue_and_no_source_section(alice, as_user):
    ClaimFactory(logged_by=alice, status=Claim.Status.IN_REVIEW)
    response = dashboard(as_user(alice))
    assert "review_queue" not in response.context
    assert "weak_sources" not in response.context
    html = response.content.decode()
    assert "Awaiting review" not in html
    assert "graded E or F" not in html


def test_managers_see_the_most_cited_sources_graded_e_or_f(max_, as_user):
    unreliable = SourceFactory(name="Rumour mill", grade="E")
    unjudged = SourceFactory(name="New channel", grade="F")
    SourceFactory(name="Never cited", grade="E")
    reliable = SourceFactory(name="Reliable agency", grade="A")
    for _ in range(3):
        CitationFactory(source=unreliable)
    CitationFactory(source=unjudged)
    CitationFactory(source=reliable)
    response = dashboard(as_user(max_))
    weak = response.context["weak_sources"]
    assert [(s.name, s.claim_count) for s in weak] == [
        ("Rumour mill", 3),
        ("New channel", 1),
    ]
    html = response.content.decode()
    assert "Most-cited sources graded E or F" in html
    assert "Reliable agency" not in html


def test_nora_sees_an_empty_dashboard(nora, alice, as_user):
    ClaimFactory(logged_by=alice)
    response = dashboard(as_user(nora))
    assert response.context["total"] == 0
    assert response.context["my_claims"] == []


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("claims:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_navigation_follows_the_roles(alice, rita, ada, as_user):
    alice_html = dashboard(as_user(alice)).content.decode()
    assert f'href="{reverse("claims:claim_list")}"' in alice_html
    assert ">Sources<" in alice_html and ">Documents<" in alice_html
    assert reverse("admin:index") not in alice_html
    assert 'aria-current="page">Dashboard<' in alice_html
    rita_html = dashboard(as_user(rita)).content.decode()
    assert ">Log a claim<" not in rita_html
    assert reverse("admin:index") in dashboard(as_user(ada)).content.decode()


def test_the_sign_in_page_is_styled_and_posts_to_login(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("login")}"' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert "css/app.css" in html


def test_a_wrong_password_is_shown_next_to_the_form(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_managers_see_the_sources_whose_record_disagrees_with_their_grade(
    max_, alice, as_user
):
    from sources import reliability

    def ruled(source, confirmed: int, refuted: int) -> None:
        for status, n in (("confirmed", confirmed), ("refuted", refuted)):
            for _ in range(n):
                claim = ClaimFactory(logged_by=alice, status=status)
                CitationFactory(claim=claim, source=source)

    overrated = SourceFactory(name="Overrated wire", grade="A")
    ruled(overrated, confirmed=1, refuted=9)  # a poor record under an A
    deserved = SourceFactory(name="Deserved agency", grade="A")
    ruled(deserved, confirmed=30, refuted=0)
    unjudged = SourceFactory(name="Unjudged channel", grade="F")
    ruled(unjudged, confirmed=12, refuted=0)
    too_new = SourceFactory(name="Too new", grade="A")
    ruled(too_new, confirmed=0, refuted=2)  # too few rulings to suggest anything
    reliability.rebuild()

    response = dashboard(as_user(max_))

    listed = [
        (r.name, r.grade, r.suggested) for r in response.context["grade_mismatches"]
    ]
    assert [name for name, *_ in listed] == ["Unjudged channel", "Overrated wire"]
    assert listed[1][2] in ("E", "D")
    html = response.content.decode()
    assert "Sources whose record disagrees with their grade" in html
    assert (
        "Deserved agency" not in html.split("mismatch-title")[1].split("</section>")[0]
    )
    assert "Too new" not in html
    assert reverse("sources:reliability_report") in html
    assert "is not available yet" not in html
