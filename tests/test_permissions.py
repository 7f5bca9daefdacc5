"""Role × URL × method: who may open and who may post to every URL pattern.

A meta-test fails when a URL pattern has no row here, so a new page cannot ship
without saying who may use it. Admin URLs are walked separately below.
"""

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from analysts.models import AuditEntry
from claims.models import Citation, Claim, Relation
from sources.models import Document, Source
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    SourceFactory,
)

ROLES = ("anonymous", "nora", "alice", "bob", "rita", "max", "ada")
LOGIN = "login"  # a redirect to the sign-in page

# Expected answers per role, in ROLES order.
EVERYONE = (LOGIN, 200, 200, 200, 200, 200, 200)
ROLE_HOLDERS = (LOGIN, 404, 200, 200, 200, 200, 200)
ANALYSTS_ONLY = (LOGIN, 403, 200, 200, 403, 403, 200)
ANALYSTS_AND_MANAGERS = (LOGIN, 403, 200, 200, 403, 200, 200)
ALICE_OWN_CLAIM = (LOGIN, 404, 200, 404, 404, 404, 200)
ANALYSTS_EDIT = (LOGIN, 404, 200, 200, 404, 404, 200)
ANALYSTS_AND_MANAGERS_EDIT = (LOGIN, 404, 200, 200, 404, 200, 200)
GET_NOT_ALLOWED = (LOGIN, 405, 405, 405, 405, 405, 405)


def no_args(world) -> dict:
    return {}


def claim_pk(world) -> dict:
    return {"pk": world["claim"].pk}


def source_pk(world) -> dict:
    return {"pk": world["source"].pk}


def document_pk(world) -> dict:
    return {"pk": world["document"].pk}


# The REST API and the profile's tokens: rows made on demand for the detail URLs.
API_ANONYMOUS = 401  # the API asks for credentials rather than redirecting
API_READ = (API_ANONYMOUS, 200, 200, 200, 200, 200, 200)
API_DETAIL = (API_ANONYMOUS, 404, 200, 200, 200, 200, 200)
# An empty form-encoded POST: refused by role first, else 415 (JSON only).
API_ANALYSTS_POST = (API_ANONYMOUS, 403, 415, 415, 403, 403, 415)


def citation_pk(world) -> dict:
    return {"pk": world["claim"].citations.first().pk}


def relation_pk(world) -> dict:
    from tests.factories import RelationFactory

    other = ClaimFactory(logged_by=world["people"]["bob"])
    return {"pk": RelationFactory(claim_a=world["claim"], claim_b=other).pk}


def place_pk(world) -> dict:
    from tests.factories import PlaceFactory

    return {"pk": PlaceFactory().pk}


def topic_pk(world) -> dict:
    from tests.factories import TopicFactory

    return {"pk": TopicFactory().pk}


def review_pk(world) -> dict:
    from claims.models import Review

    review = Review.objects.create(
        claim=world["claim"],
        reviewer=world["people"]["rita"],
        outcome=Review.Outcome.SENT_BACK,
        rationale="Needs a second source before a ruling.",
    )
    return {"pk": review.pk}


def alices_token_pk(world) -> dict:
    from analysts.models import ApiToken

    return {"pk": ApiToken.issue(world["people"]["alice"], "script")[0].pk}


# url name: (kwargs, GET expectations, POST expectations or None when POST is
# not a separate concern). A POST with an empty body: forms answer 200 with
# errors for those allowed; everybody else is refused before anything changes.
MATRIX = {
    "login": (no_args, (200, 302, 302, 302, 302, 302, 302), None),
    "logout": (no_args, (405,) * 7, None),
    # Anyone signed in changes their own password; an empty POST shows the errors.
    "password_change": (no_args, EVERYONE, EVERYONE),
    "password_change_done": (no_args, EVERYONE, None),
    # Load balancers probe it without signing in.
    "healthz": (no_args, (200,) * 7, None),
    "claims:dashboard": (no_args, EVERYONE, None),
    "claims:claim_list": (no_args, EVERYONE, None),
    "claims:claim_export": (no_args, EVERYONE, None),
    "claims:claim_detail": (claim_pk, ROLE_HOLDERS, None),
    "claims:claim_create": (no_args, ANALYSTS_ONLY, ANALYSTS_ONLY),
    "claims:claim_update": (claim_pk, ALICE_OWN_CLAIM, ALICE_OWN_CLAIM),
    "claims:claim_similar": (no_args, EVERYONE, None),
    "claims:claim_lookup": (no_args, EVERYONE, None),
    # Lookups answer everyone signed in, through the access querysets.
    "claims:place_lookup": (no_args, EVERYONE, None),
    # Review workflow: an empty POST is an incomplete form (200 with its errors)
    # for whoever may take the step; the rest are refused first. The claim is
    # alice's (logged and cited by her): only she or ada submits it; rita and
    # ada, who did neither, may rule on or reopen it.
    "claims:claim_submit": (
        claim_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 200, 403, 403, 403, 200),
    ),
    "claims:claim_rule": (
        claim_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 403, 403, 200, 403, 200),
    ),
    "claims:claim_reopen": (
        claim_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 403, 403, 200, 403, 200),
    ),
    "claims:citation_add": (
        claim_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 200, 200, 403, 403, 200),
    ),
    "claims:relation_add": (
        claim_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 200, 200, 403, 403, 200),
    ),
    "claims:review_queue": (no_args, (LOGIN, 403, 403, 403, 200, 403, 200), None),
    "sources:source_list": (no_args, EVERYONE, None),
    "sources:source_lookup": (no_args, EVERYONE, None),
    "sources:source_detail": (source_pk, ROLE_HOLDERS, None),
    "sources:source_create": (
        no_args,
        ANALYSTS_AND_MANAGERS,
        ANALYSTS_AND_MANAGERS,
    ),
    "sources:source_update": (
        source_pk,
        ANALYSTS_AND_MANAGERS_EDIT,
        ANALYSTS_AND_MANAGERS_EDIT,
    ),
    # The grade form posts back to the source page with its errors (200).
    "sources:source_grade": (
        source_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 403, 403, 403, 403, 200, 200),
    ),
    # The reliability report is for managers (and administrators) alone.
    "sources:reliability_report": (
        no_args,
        (LOGIN, 403, 403, 403, 403, 200, 200),
        None,
    ),
    "sources:reliability_report_export": (
        no_args,
        (LOGIN, 403, 403, 403, 403, 200, 200),
        None,
    ),
    "sources:reliability_report_print": (
        no_args,
        (LOGIN, 403, 403, 403, 403, 200, 200),
        None,
    ),
    "sources:document_list": (no_args, EVERYONE, None),
    "sources:document_lookup": (no_args, EVERYONE, None),
    "sources:document_detail": (document_pk, ROLE_HOLDERS, None),
    "sources:document_create": (no_args, ANALYSTS_ONLY, ANALYSTS_ONLY),
    "sources:document_update": (document_pk, ANALYSTS_EDIT, ANALYSTS_EDIT),
    # Import and export of claims: the export is the list's; importing is for
    # analysts, and a commit with nothing kept to commit goes back to the form.
    "claims:claim_export_json": (no_args, EVERYONE, None),
    "claims:claim_import": (no_args, ANALYSTS_ONLY, ANALYSTS_ONLY),
    "claims:claim_import_commit": (
        no_args,
        GET_NOT_ALLOWED,
        (LOGIN, 403, 302, 302, 403, 403, 302),
    ),
    # The profile and its API tokens; a token is revoked only by its owner.
    "analysts:profile": (no_args, EVERYONE, None),
    "analysts:apitoken_create": (
        no_args,
        GET_NOT_ALLOWED,
        (LOGIN, 403, 200, 200, 200, 200, 200),
    ),
    "analysts:apitoken_revoke": (
        alices_token_pk,
        GET_NOT_ALLOWED,
        (LOGIN, 404, 302, 404, 404, 404, 404),
    ),
    # The REST API (tests/test_api.py covers PATCH, PUT and DELETE per role).
    "api:api-root": (no_args, API_READ, None),
    "api:schema": (no_args, API_READ, None),
    "api:docs": (no_args, EVERYONE, None),
    "api:claim-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:claim-detail": (claim_pk, API_DETAIL, None),
    "api:claim-submit": (
        claim_pk,
        (API_ANONYMOUS, 405, 405, 405, 405, 405, 405),
        API_ANALYSTS_POST,
    ),
    "api:claim-export": (no_args, API_READ, None),
    "api:citation-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:citation-detail": (citation_pk, API_DETAIL, None),
    "api:relation-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:relation-detail": (relation_pk, API_DETAIL, None),
    "api:review-list": (
        no_args,
        API_READ,
        (API_ANONYMOUS, 403, 403, 403, 415, 403, 415),
    ),
    "api:review-detail": (review_pk, API_DETAIL, None),
    "api:source-list": (
        no_args,
        API_READ,
        (API_ANONYMOUS, 403, 415, 415, 403, 415, 415),
    ),
    "api:source-detail": (source_pk, API_DETAIL, None),
    "api:source-grade": (
        source_pk,
        (API_ANONYMOUS, 403, 403, 403, 403, 405, 405),
        (API_ANONYMOUS, 403, 403, 403, 403, 415, 415),
    ),
    "api:document-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:document-detail": (document_pk, API_DETAIL, None),
    "api:place-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:place-detail": (place_pk, API_DETAIL, None),
    "api:topic-list": (no_args, API_READ, API_ANALYSTS_POST),
    "api:topic-detail": (topic_pk, API_DETAIL, None),
    "api:reliability": (
        no_args,
        (API_ANONYMOUS, 403, 403, 403, 403, 200, 200),
        None,
    ),
    "api:not_found": (lambda world: {"path": "nothing/here/"}, (404,) * 7, None),
}


def all_url_names(resolver=None, namespace: str = "") -> set[str]:
    resolver = resolver or get_resolver()
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            names |= all_url_names(pattern, inner)
        elif isinstance(pattern, URLPattern):
            names.add(f"{namespace}{pattern.name or pattern.pattern}")
    return names


def test_every_url_pattern_is_in_the_permission_matrix():
    names = {name for name in all_url_names() if not name.startswith("admin:")}
    missing = sorted(names - set(MATRIX))
    assert not missing, f"URL patterns without a row in MATRIX: {missing}"
    assert not set(MATRIX) - names, "MATRIX names URL patterns that do not exist"


@pytest.fixture
def world(db):
    people = {
        "nora": AnalystFactory(username="nora"),
        "alice": AnalystFactory(username="alice", roles=["Analyst"]),
        "bob": AnalystFactory(username="bob", roles=["Analyst"]),
        "rita": AnalystFactory(username="rita", roles=["Reviewer"]),
        "max": AnalystFactory(username="max", roles=["Manager"]),
        "ada": AnalystFactory(username="ada", is_superuser=True, is_staff=True),
    }
    source = SourceFactory(name="National Intelligence Service", grade="B")
    document = DocumentFactory(publisher=source)
    claim = ClaimFactory(logged_by=people["alice"], statement="About 1,500 moved.")
    CitationFactory(claim=claim, document=document, source=source)
    return {"people": people, "claim": claim, "source": source, "document": document}


def outcome(response) -> object:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return response.status_code


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Claim, Citation, Relation, Source, Document, AuditEntry)
    )


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_who_may_open_each_page(world, client, name):
    kwargs, expected_get, _ = MATRIX[name]
    url = reverse(name, kwargs=kwargs(world))
    seen = {}
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(world["people"][role])
        before = counts()
        seen[role] = outcome(client.get(url))
        # No state changes on GET, whoever asks.
        assert counts() == before, f"GET {url} as {role} changed the database"
    assert seen == dict(zip(ROLES, expected_get, strict=True))


@pytest.mark.parametrize("name", sorted(n for n, row in MATRIX.items() if row[2]))
def test_who_may_post_to_each_form(world, client, name):
    kwargs, _, expected_post = MATRIX[name]
    url = reverse(name, kwargs=kwargs(world))
    seen = {}
    for role in ROLES:
        client.logout()
        if role != "anonymous":
            client.force_login(world["people"][role])
        before = counts()
        seen[role] = outcome(client.post(url, {}))
        if seen[role] != 200:
            assert counts()[:5] == before[:5], f"refused POST {url} as {role} wrote"
    assert seen == dict(zip(ROLES, expected_post, strict=True))


def test_only_administrators_reach_the_admin(world, client):
    for role in ("nora", "alice", "rita", "max"):
        client.force_login(world["people"][role])
        for model in admin.site._registry:
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            response = client.get(url)
            assert response.status_code == 302, (role, url)
            assert "/admin/login/" in response["Location"]
