"""schemathesis against /api/v1/schema/: every operation, with a handful of
generated requests each, as an analyst and as a reviewer with a token.

No request may get a 500, and every answer must be one the schema describes:
its status code, content type and body. The number of examples is kept small
(EXAMPLES_PER_OPERATION for each of the 44 operations, per user) so that the run
stays well under a minute on either database: about 15 s for both users on a
loaded two-core machine.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from analysts.models import ApiToken
from claims.confirmation_store import recompute_claims
from claims.models import Review
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    PlaceFactory,
    RelationFactory,
    SourceFactory,
    TopicFactory,
)

EXAMPLES_PER_OPERATION = 5
# The coverage phase alone sends thousands of boundary cases; the bounded fuzzing
# (valid and invalid data alike) keeps the run to seconds.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(params=["alice", "rita"])
def api_user(request, db, settings):
    # schemathesis calls the WSGI application as host "localhost".
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    alice = AnalystFactory(username="alice", roles=["Analyst"])
    rita = AnalystFactory(username="rita", roles=["Reviewer"])
    AnalystFactory(username="max", roles=["Manager"])
    parent = SourceFactory(name="Government", grade="B")
    source = SourceFactory(name="Agency", grade="B", parent=parent)
    claim = ClaimFactory(logged_by=alice, external_id="c-1")
    claim.places.add(PlaceFactory())
    claim.topic = TopicFactory()
    claim.save()
    CitationFactory(claim=claim, source=source, created_by=alice)
    other = ClaimFactory(logged_by=alice, status="in_review")
    RelationFactory(claim_a=claim, claim_b=other, created_by=alice)
    Review.objects.create(
        claim=other,
        reviewer=rita,
        outcome=Review.Outcome.SENT_BACK,
        rationale="Needs a second source before a ruling.",
    )
    recompute_claims([claim.pk, other.pk])
    return {"alice": alice, "rita": rita}[request.param]


@pytest.fixture
def api_headers(api_user) -> dict[str, str]:
    return {"Authorization": f"Token {ApiToken.issue(api_user, 'schemathesis')[1]}"}


@pytest.fixture
def api_schema(api_headers):
    # As Django's test client does: a request must not close the connection
    # that holds the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/schema/",
            get_wsgi_application(),
            config=CONFIG,
            headers=api_headers,
        )
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_request_as_its_schema_says(case, api_headers):
    case.call_and_validate(headers=api_headers, checks=CHECKS)
