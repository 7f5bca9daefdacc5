"""The REST API under /api/v1/: the pages' rules, reached by token or session.

Who may read and write what, per endpoint and role; optimistic locking and
locked rulings; the error bodies; and that no request a client can send is
answered with a 500.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysts.models import ApiToken, AuditEntry
from claims.confirmation_store import explanations, recompute_claims
from claims.models import (
    Citation,
    Claim,
    Place,
    Relation,
    Review,
    Topic,
    excerpt_digest,
)
from sources.models import Document, GradeChange, Source
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    PlaceFactory,
    RelationFactory,
    SourceFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db

RATIONALE = "Two independent origins report the same movement."


class Api:
    """A client that speaks JSON to the API with a user's token."""

    def __init__(self, user=None, key: str | None = None) -> None:
        self.client = Client()
        self.headers = {}
        if user is not None:
            key = key or ApiToken.issue(user, "tests")[1]
        if key:
            self.headers["HTTP_AUTHORIZATION"] = f"Token {key}"

    def _send(self, method: str, url: str, data=None, **extra):
        body = json.dumps(data) if data is not None else None
        kwargs = {"content_type": "application/json"} if body is not None else {}
        return getattr(self.client, method)(
            url, body, **kwargs, **self.headers, **extra
        )

    def get(self, url: str, params=None, **extra):
        return self.client.get(url, params or {}, **self.headers, **extra)

    def post(self, url: str, data=None, **extra):
        return self._send("post", url, data if data is not None else {}, **extra)

    def patch(self, url: str, data, **extra):
        return self._send("patch", url, data, **extra)

    def put(self, url: str, data, **extra):
        return self._send("put", url, data, **extra)

    def delete(self, url: str, **extra):
        return self.client.delete(url, **self.headers, **extra)


def url(name: str, pk=None, **params) -> str:
    return reverse(f"api:{name}", args=[pk] if pk is not None else [])


@pytest.fixture
def source(db) -> Source:
    return SourceFactory(name="National Intelligence Service", grade="B")


@pytest.fixture
def document(source) -> Document:
    return DocumentFactory(title="Briefing", publisher=source)


@pytest.fixture
def claim(alice, source, document) -> Claim:
    claim = ClaimFactory(logged_by=alice, statement="About 1,500 soldiers moved.")
    CitationFactory(claim=claim, source=source, document=document, created_by=alice)
    recompute_claims([claim.pk])
    claim.refresh_from_db()
    return claim


# --- authentication -------------------------------------------------------------------


def test_an_anonymous_call_is_told_to_authenticate(claim):
    response = Api().get(url("claim-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"detail"}


def test_a_token_authenticates_and_only_its_hash_is_stored(alice, claim):
    token, key = ApiToken.issue(alice, "script")
    assert token.prefix == key[:8]
    assert not ApiToken.objects.filter(key_hash=key).exists()
    assert key not in json.dumps(list(ApiToken.objects.values()), default=str)
    response = Api(key=key).get(url("claim-list"))
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(minutes=1)},
    ],
)
def test_revoked_and_expired_tokens_are_refused(alice, claim, change):
    token, key = ApiToken.issue(alice, "script")
    ApiToken.objects.filter(pk=token.pk).update(**change)
    assert Api(key=key).get(url("claim-list")).status_code == 401


def test_a_deactivated_users_token_is_refused(alice, claim):
    _, key = ApiToken.issue(alice, "script")
    alice.is_active = False
    alice.save()
    assert Api(key=key).get(url("claim-list")).status_code == 401


@pytest.mark.parametrize(
    "header", ["Token", "Token a b", "Token nonsense", "Token " + "x" * 500]
)
def test_malformed_token_headers_are_refused_with_401(claim, header):
    client = Client()
    response = client.get(url("claim-list"), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_session_writes_need_the_csrf_token(alice, claim):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(url("claim-list")).status_code == 200
    body = json.dumps({"statement": "A new claim by session."})
    response = client.post(url("claim-list"), body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    client.get(reverse("claims:claim_list"))
    token = client.cookies["csrftoken"].value
    response = client.post(
        url("claim-list"), body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


# --- claims: reading ------------------------------------------------------------------


def test_claims_come_with_citations_relations_and_confirmation(alice, rita, claim):
    other = ClaimFactory(logged_by=alice)
    RelationFactory(claim_a=claim, claim_b=other, created_by=alice)
    response = Api(rita).get(url("claim-detail", claim.pk))
    assert response.status_code == 200
    data = response.json()
    assert data["statement"] == claim.statement
    assert data["logged_by"] == "alice"
    assert data["level"] == "single_source"
    assert data["likelihood_term"]
    assert data["citations"][0]["source_name"] == "National Intelligence Service"
    assert data["relations"][0]["claim"] == other.pk
    assert data["version"] == 1
    # The explanation is computed, not stored: the same lines as the claim page.
    assert data["explanation"] == list(explanations([claim.pk])[claim.pk])
    assert any("National Intelligence Service" in line for line in data["explanation"])
    listed = Api(rita).get(url("claim-list")).json()["results"]
    assert {row["id"]: row["explanation"] for row in listed} == {
        pk: list(lines) for pk, lines in explanations([claim.pk, other.pk]).items()
    }


def test_nora_without_a_role_sees_no_claims(nora, claim):
    api = Api(nora)
    assert api.get(url("claim-list")).json()["count"] == 0
    response = api.get(url("claim-detail", claim.pk))
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("pk", ["abc", "0", "99999999999999999999999", "-1", "1.5"])
def test_bad_ids_are_404_not_500(rita, claim, pk):
    response = Api(rita).get(f"/api/v1/claims/{pk}/")
    assert response.status_code == 404


def test_the_claim_list_uses_the_claim_filters(rita, alice, claim):
    ClaimFactory(logged_by=alice, statement="Nothing cites this one.")
    api = Api(rita)
    listed = api.get(url("claim-list"), {"level": "single_source"}).json()
    assert [row["id"] for row in listed["results"]] == [claim.pk]
    found = api.get(url("claim-list"), {"q": "soldiers"}).json()
    assert [row["id"] for row in found["results"]] == [claim.pk]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"level": "certain"}, "level"),
        ({"time_from": "yesterday"}, "time_from"),
        ({"quantity_min": "1e400"}, "quantity_min"),
        ({"source": "99999"}, "source"),
        ({"ordering": "statement"}, "ordering"),
        ({"time_from": "2024-05-01", "time_to": "2024-04-01"}, "time_to"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_field(rita, claim, params, field):
    response = Api(rita).get(url("claim-list"), params)
    assert response.status_code == 400
    assert field in response.json()


def test_simple_lists_take_filters_and_ordering(alice, rita):
    for name in ("Vladivostok", "Kursk", "Bryansk"):
        PlaceFactory(name=name)
    api = Api(rita)
    names = [
        p["name"]
        for p in api.get(url("place-list"), {"ordering": "-name"}).json()["results"]
    ]
    assert names == ["Vladivostok", "Kursk", "Bryansk"]
    found = api.get(url("place-list"), {"name__icontains": "kur"}).json()["results"]
    assert [p["name"] for p in found] == ["Kursk"]
    assert api.get(url("place-list"), {"ordering": "nonsense"}).status_code == 200


def test_pages_are_bounded(rita, alice):
    ClaimFactory.create_batch(3, logged_by=alice)
    api = Api(rita)
    page = api.get(url("claim-list"), {"limit": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    huge = api.get(url("claim-list"), {"limit": 100000, "offset": "x"})
    assert huge.status_code == 200


def test_the_claim_list_costs_the_same_queries_for_3_or_30_claims(rita, alice, source):
    api = Api(rita)
    # The first call notes when the token was last used.
    api.get(url("claim-list"))

    def queries(n: int) -> int:
        document = DocumentFactory(publisher=source)
        for _ in range(n):
            claim = ClaimFactory(logged_by=alice)
            claim.places.add(PlaceFactory())
            CitationFactory(claim=claim, source=source, document=document)
            RelationFactory(claim_a=claim, claim_b=ClaimFactory(logged_by=alice))
        with CaptureQueriesContext(connection) as context:
            assert api.get(url("claim-list"), {"limit": 200}).status_code == 200
        return len(context.captured_queries)

    assert queries(3) == queries(30)


# --- claims: writing ------------------------------------------------------------------


def test_alice_logs_a_claim_and_cannot_set_what_she_does_not_own(alice, bob):
    topic = TopicFactory()
    place = PlaceFactory()
    response = Api(alice).post(
        url("claim-list"),
        {
            "statement": "  About 1,000 engineers arrived in May.  ",
            "quantity_low": "1000",
            "quantity_high": "1000",
            "quantity_unit": "engineers",
            "quantity_qualifier": "about",
            "topic": topic.pk,
            "places": [place.pk],
            # None of these may be set by a client:
            "status": "confirmed",
            "level": "confirmed",
            "likelihood": 0.99,
            "logged_by": "bob",
            "needs_rereview": True,
            "version": 7,
        },
    )
    assert response.status_code == 201, response.json()
    claim = Claim.objects.get(pk=response.json()["id"])
    assert claim.statement == "About 1,000 engineers arrived in May."
    assert claim.logged_by == alice
    assert claim.status == Claim.Status.OPEN
    assert claim.level == "unsourced"
    assert claim.likelihood == 0.5
    assert claim.version == 1
    assert list(claim.places.all()) == [place]
    assert AuditEntry.objects.filter(
        model="claims.claim", object_id=str(claim.pk), action="create"
    ).exists()


@pytest.mark.parametrize("who", ["rita", "max_", "nora"])
def test_only_analysts_log_claims(request, who):
    user = request.getfixturevalue(who)
    response = Api(user).post(url("claim-list"), {"statement": "Anything."})
    assert response.status_code == 403
    assert Claim.objects.count() == 0


@pytest.mark.parametrize(
    "data, field",
    [
        ({"statement": ""}, "statement"),
        ({"statement": "x" * 2001}, "statement"),
        ({"statement": ["a list"]}, "statement"),
        (
            {"statement": "A", "quantity_low": "5", "quantity_high": "2"},
            "quantity_high",
        ),
        ({"statement": "A", "quantity_low": "-5"}, "quantity_low"),
        ({"statement": "A", "quantity_low": "1e30"}, "quantity_low"),
        ({"statement": "A", "quantity_low": "NaN"}, "quantity_low"),
        (
            {"statement": "A", "time_start": "2024-05-02", "time_end": "2024-05-01"},
            "time_end",
        ),
        ({"statement": "A", "time_start": "2024-02-30"}, "time_start"),
        ({"statement": "A", "kind": "rumour"}, "kind"),
        ({"statement": "A", "places": [99999]}, "places"),
        ({"statement": "A", "places": "Kursk"}, "places"),
        ({"statement": "A", "places": [True]}, "places"),
        ({"statement": "A", "topic": "x"}, "topic"),
        ({"statement": "A\x00B"}, "statement"),
    ],
)
def test_bad_claim_data_is_a_400_per_field(alice, data, field):
    response = Api(alice).post(url("claim-list"), data)
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()
    assert Claim.objects.count() == 0


def test_a_change_needs_the_version_read_and_a_stale_one_gets_409(alice, claim):
    api = Api(alice)
    detail = url("claim-detail", claim.pk)
    missing = api.patch(detail, {"statement": "Changed."})
    assert missing.status_code == 400 and "version" in missing.json()
    first = api.patch(
        detail, {"statement": "About 1,600 soldiers moved.", "version": 1}
    )
    assert first.status_code == 200, first.json()
    assert first.json()["version"] == 2
    stale = api.patch(detail, {"statement": "A stale edit.", "version": 1})
    assert stale.status_code == 409
    body = stale.json()
    assert "detail" in body
    assert body["current"]["version"] == 2
    assert body["current"]["statement"] == "About 1,600 soldiers moved."
    claim.refresh_from_db()
    assert claim.statement == "About 1,600 soldiers moved."


def test_put_replaces_the_facets(alice, claim):
    response = Api(alice).put(
        url("claim-detail", claim.pk),
        {"statement": "Replaced.", "kind": "assessment", "version": 1},
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "assessment"


def test_bob_may_not_change_alices_claim(bob, claim):
    response = Api(bob).patch(
        url("claim-detail", claim.pk), {"statement": "Mine now.", "version": 1}
    )
    assert response.status_code == 403
    assert "alice" in response.json()["detail"]


def test_a_ruled_claim_is_locked(alice, claim):
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.CONFIRMED)
    response = Api(alice).patch(
        url("claim-detail", claim.pk), {"statement": "Edited.", "version": 1}
    )
    assert response.status_code == 409
    assert "locked" in response.json()["detail"]
    citation = Api(alice).post(
        url("citation-list"),
        {
            "claim": claim.pk,
            "document": claim.citations.first().document_id,
            "source": claim.citations.first().source_id,
            "excerpt": "More.",
            "credibility": 3,
        },
    )
    assert citation.status_code == 400
    assert "locked" in str(citation.json()["claim"])


def test_a_claim_cannot_be_deleted_through_the_api(alice, claim):
    assert Api(alice).delete(url("claim-detail", claim.pk)).status_code == 405


def test_alice_submits_her_claim_for_review(alice, bob, claim):
    submit = url("claim-submit", claim.pk)
    assert Api(bob).post(submit, {"note": "please"}).status_code == 403
    response = Api(alice).post(submit, {"note": "Two sources.", "version": 1})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_review"
    again = Api(alice).post(submit, {})
    assert again.status_code == 409


# --- citations and relations ----------------------------------------------------------


def test_a_citation_added_recomputes_its_claim(alice, claim, document):
    other_origin = SourceFactory(name="Ukrainian Intelligence", grade="B")
    response = Api(alice).post(
        url("citation-list"),
        {
            "claim": claim.pk,
            "document": document.pk,
            "source": other_origin.pk,
            "excerpt": "1,500 soldiers were moved.",
            "credibility": 2,
            "grade_at_citation": "A",
            "created_by": "bob",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["grade_at_citation"] == "B"
    assert response.json()["created_by"] == "alice"
    claim.refresh_from_db()
    assert claim.level == "corroborated"
    deleted = Api(alice).delete(url("citation-detail", response.json()["id"]))
    assert deleted.status_code == 204
    claim.refresh_from_db()
    assert claim.level == "single_source"


def test_citations_are_written_only_on_claims_one_may_change(bob, rita, claim):
    citation = claim.citations.get()
    data = {
        "claim": claim.pk,
        "document": citation.document_id,
        "source": citation.source_id,
        "excerpt": "Bob's excerpt.",
        "credibility": 3,
    }
    assert Api(rita).post(url("citation-list"), data).status_code == 403
    refused = Api(bob).post(url("citation-list"), data)
    assert refused.status_code == 400 and "claim" in refused.json()
    detail = url("citation-detail", citation.pk)
    assert Api(bob).patch(detail, {"credibility": 2}).status_code == 403
    assert Api(bob).delete(detail).status_code == 403
    assert Citation.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"credibility": 7}, "credibility"),
        ({"credibility": 1}, "credibility"),
        ({"credibility": "three"}, "credibility"),
        ({"excerpt": "Excerpt already there."}, "excerpt"),
        ({"source": 99999}, "source"),
        ({"document": "abc"}, "document"),
        ({"said_on": "10/13/2024"}, "said_on"),
    ],
)
def test_bad_citations_are_refused_by_field(alice, claim, change, field):
    citation = claim.citations.get()
    Citation.objects.filter(pk=citation.pk).update(
        excerpt="Excerpt already there.",
        excerpt_digest=excerpt_digest("Excerpt already there."),
    )
    data = {
        "claim": claim.pk,
        "document": citation.document_id,
        "source": citation.source_id,
        "excerpt": "A new excerpt.",
        "credibility": 3,
        **change,
    }
    response = Api(alice).post(url("citation-list"), data)
    assert response.status_code == 400
    assert field in response.json()


def test_relations_are_made_between_visible_claims_once(alice, bob, claim):
    others = ClaimFactory(logged_by=bob)
    CitationFactory(claim=others, source=SourceFactory(grade="B"), created_by=bob)
    api = Api(alice)
    data = {
        "claim_a": others.pk,
        "claim_b": claim.pk,
        "kind": "contradicts",
        "rationale": "Different numbers for the same move.",
    }
    made = api.post(url("relation-list"), data)
    assert made.status_code == 201, made.json()
    relation = Relation.objects.get()
    assert (relation.claim_a_id, relation.claim_b_id) == (claim.pk, others.pk)
    claim.refresh_from_db()
    assert claim.level == "contested"
    assert api.post(url("relation-list"), data).status_code == 400
    self_related = api.post(url("relation-list"), {**data, "claim_a": claim.pk})
    assert self_related.status_code == 400
    assert (
        Api(bob)
        .post(
            url("relation-list"),
            {**data, "claim_a": others.pk, "claim_b": ClaimFactory(logged_by=alice).pk},
        )
        .status_code
        == 201
    )
    changed = api.patch(url("relation-detail", relation.pk), {"kind": "corroborates"})
    assert changed.status_code == 200
    assert api.delete(url("relation-detail", relation.pk)).status_code == 204


def test_relations_between_two_claims_of_others_are_refused(alice, bob):
    first, second = ClaimFactory(logged_by=bob), ClaimFactory(logged_by=bob)
    response = Api(alice).post(
        url("relation-list"),
        {
            "claim_a": first.pk,
            "claim_b": second.pk,
            "kind": "corroborates",
            "rationale": "Same.",
        },
    )
    assert response.status_code == 400


# --- sources, documents, places, topics -----------------------------------------------


def test_a_source_made_through_the_api_starts_at_f_whatever_is_sent(alice, source):
    response = Api(alice).post(
        url("source-list"),
        {"name": "Ministry", "kind": "agency", "grade": "A", "parent": source.pk},
    )
    assert response.status_code == 201, response.json()
    made = Source.objects.get(name="Ministry")
    assert made.grade == "F"
    assert made.origin_id == source.pk
    regrade = Api(alice).patch(url("source-detail", made.pk), {"grade": "A"})
    assert regrade.status_code == 200
    made.refresh_from_db()
    assert made.grade == "F"


def test_a_source_cannot_be_part_of_itself(alice, source):
    part = SourceFactory(parent=source)
    response = Api(alice).patch(url("source-detail", source.pk), {"parent": part.pk})
    assert response.status_code == 400
    assert "parent" in response.json()


def test_max_changes_a_grade_with_a_rationale_and_claims_follow(
    max_, alice, claim, source
):
    grade = url("source-grade", source.pk)
    assert (
        Api(alice).post(grade, {"grade": "E", "rationale": "x y z w"}).status_code
        == 403
    )
    api = Api(max_)
    assert (
        api.post(
            grade, {"grade": "B", "rationale": "Same grade again here."}
        ).status_code
        == 400
    )
    assert (
        api.post(grade, {"grade": "G", "rationale": "A bad grade letter."}).status_code
        == 400
    )
    assert api.post(grade, {"grade": "E"}).status_code == 400
    response = api.post(
        grade, {"grade": "E", "rationale": "Caught inventing numbers twice."}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["grade"] == "E"
    assert GradeChange.objects.filter(source=source, new_grade="E").exists()
    claim.refresh_from_db()
    assert claim.confirmation_version  # recomputed with the new grade
    assert Claim.objects.get(pk=claim.pk).likelihood <= 0.5


def test_reviewers_may_not_add_sources_or_documents(rita, source):
    assert (
        Api(rita).post(url("source-list"), {"name": "X", "kind": "media"}).status_code
        == 403
    )
    assert (
        Api(rita)
        .post(
            url("document-list"),
            {"title": "X", "publisher": source.pk, "kind": "article"},
        )
        .status_code
        == 403
    )


def test_documents_refuse_a_javascript_url(alice, source):
    api = Api(alice)
    bad = api.post(
        url("document-list"),
        {
            "title": "X",
            "publisher": source.pk,
            "kind": "article",
            "url": "javascript:alert(1)",
        },
    )
    assert bad.status_code == 400 and "url" in bad.json()
    good = api.post(
        url("document-list"),
        {
            "title": "X",
            "publisher": source.pk,
            "kind": "article",
            "url": "https://example.org/x",
        },
    )
    assert good.status_code == 201
    assert good.json()["citation_count"] == 0


def test_the_document_list_uses_the_document_filters(rita, document):
    DocumentFactory(title="Something else")
    listed = Api(rita).get(url("document-list"), {"q": "Brief"}).json()
    assert [row["title"] for row in listed["results"]] == ["Briefing"]
    assert Api(rita).get(url("document-list"), {"publisher": "x"}).status_code == 400


def test_places_and_topics_are_written_by_analysts_with_an_audit_row(alice, rita):
    api = Api(alice)
    place = api.post(
        url("place-list"), {"name": "Kursk", "latitude": 51.7, "longitude": 36.2}
    )
    assert place.status_code == 201
    assert api.post(url("place-list"), {"name": "Kursk"}).status_code == 400
    assert (
        api.post(url("place-list"), {"name": "Pole", "latitude": 91}).status_code == 400
    )
    assert api.post(url("topic-list"), {"name": "Troops"}).status_code == 201
    assert Api(rita).post(url("topic-list"), {"name": "Other"}).status_code == 403
    assert AuditEntry.objects.filter(model="claims.place", action="create").count() == 1
    assert Place.objects.count() == 1 and Topic.objects.count() == 1


# --- reviews --------------------------------------------------------------------------


def test_rita_rules_a_submitted_claim(alice, rita, claim):
    Api(alice).post(url("claim-submit", claim.pk), {})
    response = Api(rita).post(
        url("review-list"),
        {"claim": claim.pk, "outcome": "confirmed", "rationale": RATIONALE},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["reviewer"] == "rita"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.CONFIRMED
    assert claim.level == "confirmed"
    listed = Api(alice).get(url("review-list"), {"claim": claim.pk}).json()
    assert listed["count"] == 1


def test_only_reviewers_rule(alice, max_, claim):
    for user in (alice, max_):
        response = Api(user).post(
            url("review-list"),
            {"claim": claim.pk, "outcome": "confirmed", "rationale": RATIONALE},
        )
        assert response.status_code == 403
    assert Review.objects.count() == 0


def test_four_eyes_and_the_workflow_hold_through_the_api(alice, claim):
    rita_cites = AnalystFactory(username="rick", roles=["Reviewer", "Analyst"])
    CitationFactory(claim=claim, created_by=rita_cites)
    Api(alice).post(url("claim-submit", claim.pk), {})
    four_eyes = Api(rita_cites).post(
        url("review-list"),
        {"claim": claim.pk, "outcome": "confirmed", "rationale": RATIONALE},
    )
    assert four_eyes.status_code == 403
    assert four_eyes.json()["code"] == "four_eyes"
    # The refusal is kept in the audit trail, though nothing changed.
    assert AuditEntry.objects.filter(action="refused", object_id=str(claim.pk)).exists()


def test_a_ruling_on_an_open_claim_is_a_409(rita, claim):
    response = Api(rita).post(
        url("review-list"),
        {"claim": claim.pk, "outcome": "refuted", "rationale": RATIONALE},
    )
    assert response.status_code == 409
    short = Api(rita).post(
        url("review-list"), {"claim": claim.pk, "outcome": "refuted", "rationale": "no"}
    )
    assert short.status_code in (400, 409)


def test_reviews_cannot_be_changed_or_deleted(alice, rita, claim):
    Api(alice).post(url("claim-submit", claim.pk), {})
    made = Api(rita).post(
        url("review-list"),
        {"claim": claim.pk, "outcome": "confirmed", "rationale": RATIONALE},
    )
    detail = url("review-detail", made.json()["id"])
    assert Api(rita).patch(detail, {"outcome": "refuted"}).status_code == 405
    assert Api(rita).delete(detail).status_code == 405


# --- the reliability report -----------------------------------------------------------


def test_the_reliability_report_is_for_managers(max_, alice, claim):
    assert Api(alice).get(url("reliability")).status_code == 403
    response = Api(max_).get(url("reliability"))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows[0]["name"] == "National Intelligence Service"
    assert Api(max_).get(url("reliability"), {"period_from": "x"}).status_code == 400


# --- export ---------------------------------------------------------------------------


def test_the_api_exports_the_filtered_claims_as_json_and_csv(rita, alice, claim):
    ClaimFactory(logged_by=alice, statement="Unsourced one.")
    response = Api(rita).get(url("claim-export"), {"level": "single_source"})
    assert response.status_code == 200
    data = json.loads(b"".join(response.streaming_content))
    assert [c["statement"] for c in data["claims"]] == [claim.statement]
    csv_response = Api(rita).get(url("claim-export"), {"as": "csv"})
    text = b"".join(csv_response.streaming_content).decode()
    assert text.startswith("external_id,statement")
    assert text.count("\n") == 3
    assert Api(rita).get(url("claim-export"), {"as": "xml"}).status_code == 400
    assert Api(rita).get(url("claim-export"), {"level": "x"}).status_code == 400


def test_an_empty_external_id_is_none_and_ids_stay_unique(alice):
    api = Api(alice)
    for _ in range(2):
        made = api.post(url("claim-list"), {"statement": "No id.", "external_id": ""})
        assert made.status_code == 201
        assert made.json()["external_id"] is None
    first = api.post(url("claim-list"), {"statement": "A", "external_id": "x-1"})
    assert first.status_code == 201
    again = api.post(url("claim-list"), {"statement": "B", "external_id": "x-1"})
    assert again.status_code == 400 and "external_id" in again.json()


# --- what a client can send -----------------------------------------------------------


def test_a_body_that_is_not_json_is_a_415(alice):
    client = Client()
    _, key = ApiToken.issue(alice, "t")
    response = client.post(
        url("claim-list"), {"statement": "form data"}, HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 415
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2", b"\xff\xfe\x00", b"NaN", b'{"statement": NaN}', b"[" * 5000],
)
def test_malformed_json_is_a_400(alice, body):
    _, key = ApiToken.issue(alice, "t")
    response = Client().post(
        url("claim-list"),
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_json_of_the_wrong_shape_is_a_400(alice, body):
    _, key = ApiToken.issue(alice, "t")
    response = Client().post(
        url("claim-list"),
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400


def test_a_huge_body_is_refused_by_its_length(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = Api(alice).post(url("claim-list"), {"statement": "x" * 5000})
    assert response.status_code == 413
    assert "detail" in response.json()
    assert Claim.objects.count() == 0


def test_unknown_api_urls_and_methods_answer_cleanly(alice, claim):
    api = Api(alice)
    assert api.get("/api/v1/claims/1/nothing/").status_code == 404
    assert api.delete(url("source-list")).status_code == 405
    assert api.get(url("claim-list"), {"format": "xml"}).status_code == 404


# --- schema and documentation ---------------------------------------------------------


def test_the_schema_is_served_to_signed_in_users(alice, client):
    assert Client().get(url("schema")).status_code == 401
    response = Api(alice).get(url("schema"))
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
    assert b"/api/v1/claims/" in response.content


def test_the_docs_page_loads_its_scripts_from_files_under_the_csp(as_user, alice):
    assert Client().get(url("docs")).status_code == 302
    client = as_user(alice)
    page = client.get(url("docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>" not in html
    assert "swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "'self'" in page["Content-Security-Policy"]
    script = client.get(url("docs"), {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()


# --- the profile page's tokens --------------------------------------------------------


def test_alice_makes_a_token_sees_its_key_once_and_revokes_it(as_user, alice):
    client = as_user(alice)
    response = client.post(
        reverse("analysts:apitoken_create"), {"name": "laptop", "lifetime": "30"}
    )
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith("ct_") and key in response.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == ApiToken.hash_key(key)
    assert token.expires_at > timezone.now() + timedelta(days=29)
    page = client.get(reverse("analysts:profile")).content.decode()
    assert key not in page and token.prefix in page
    assert Api(key=key).get(url("claim-list")).status_code == 200
    client.post(reverse("analysts:apitoken_revoke", args=[token.pk]))
    assert Api(key=key).get(url("claim-list")).status_code == 401
    assert AuditEntry.objects.filter(model="analysts.apitoken").count() == 2
    assert not AuditEntry.objects.filter(after__icontains=token.key_hash).exists()


def test_nobody_revokes_another_persons_token(as_user, alice, bob):
    token, _ = ApiToken.issue(alice, "mine")
    response = as_user(bob).post(reverse("analysts:apitoken_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_nora_without_a_role_gets_no_token(as_user, nora):
    response = as_user(nora).post(
        reverse("analysts:apitoken_create"), {"name": "x", "lifetime": "30"}
    )
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_a_token_name_is_escaped_on_the_profile_page(as_user, alice):
    client = as_user(alice)
    client.post(
        reverse("analysts:apitoken_create"),
        {"name": "<script>alert(1)</script>", "lifetime": "never"},
    )
    page = client.get(reverse("analysts:profile")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
