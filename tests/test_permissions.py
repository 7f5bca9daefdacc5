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


# url name: (kwargs, GET expectations, POST expectations or None when POST is
# not a separate concern). A POST with an empty body: forms answer 200 with
# errors for those allowed; everybody else is refused before anything changes.
MATRIX = {
    "login": (no_args, (200, 302, 302, 302, 302, 302, 302), None),
    "logout": (no_args, (405,) * 7, None),
    "claims:dashboard": (no_args, EVERYONE, None),
    "claims:claim_list": (no_args, EVERYONE, None),
    "claims:claim_export": (no_args, EVERYONE, None),
    "claims:claim_detail": (claim_pk, ROLE_HOLDERS, None),
    "claims:claim_create": (no_args, ANALYSTS_ONLY, ANALYSTS_ONLY),
    "claims:claim_update": (claim_pk, ALICE_OWN_CLAIM, ALICE_OWN_CLAIM),
    "claims:claim_similar": (no_args, EVERYONE, None),
    "claims:claim_lookup": (no_args, EVERYONE, None),
    "sources:source_list": (no_args, EVERYONE, None),
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
    "sources:document_list": (no_args, EVERYONE, None),
    "sources:document_detail": (document_pk, ROLE_HOLDERS, None),
    "sources:document_create": (no_args, ANALYSTS_ONLY, ANALYSTS_ONLY),
    "sources:document_update": (document_pk, ANALYSTS_EDIT, ANALYSTS_EDIT),
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
