"""The claim page's loops from Python equal the template markup they replaced.

Each part (citations by origin, related claims, rulings, the audit trail, the
explanation) is written by a tag of claims/templatetags/claim_detail_rows.py from
the objects the view puts in its context; the markup it replaced is kept in
tests/reference/detail_*.html and rendered here from the same objects.
"""

import datetime
import zoneinfo
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.http import HttpResponse
from django.template import Context, Engine
from django.test import RequestFactory
from django.test.html import parse_html
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from hypothesis import given, settings
from hypothesis import strategies as st

from analysts.models import AuditEntry
from claims import views
from claims.confirmation_store import explanations
from claims.models import (
    Claim,
    ClaimConfirmation,
    Credibility,
    Level,
    Relation,
    Review,
)
from claims.templatetags.claim_detail_rows import (
    _shown,
    audit_rows,
    citation_groups,
    explanation_lines,
    related_claims,
    review_rows,
)
from sources.models import Grade, Source
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    DocumentFactory,
    RelationFactory,
    SourceFactory,
)
from tests.hostile import HOSTILE, assert_no_active_content

REFERENCES = Path(__file__).parent / "reference"

# Long enough to be cut by truncatechars:80, :120 and :200, with characters that
# Truncator normalizes (e + combining acute is é) or does not count (a combining
# acute on x stays apart and takes no place).
COMPOSED = "e\u0301" * 130
COMBINING = "x\u0301" * 119
LONG = "Troop movements reported near the border crossing; " * 5


def reference(name: str, **context) -> str:
    template = Engine.get_default().from_string((REFERENCES / name).read_text())
    return template.render(Context(context))


def page_context(user, claim: Claim) -> dict:
    """What the claim page's view gives its template, objects and all."""
    kept = {}

    def keep(request, template_name, context, status=200):
        kept.update(context)
        return HttpResponse(status=status)

    request = RequestFactory().get(reverse("claims:claim_detail", args=[claim.pk]))
    request.user = user
    with mock.patch.object(views, "render", keep):
        views.render_claim_page(request, claim.pk)
    return kept


def ours_and_reference(context: dict) -> dict[str, tuple[str, str]]:
    # The page explains the claim from what it read: as the store would.
    claim = context["claim"]
    assert context["explanation"] == explanations([claim.pk])[claim.pk]
    parts = {
        "citations": (
            citation_groups(context["origin_groups"]),
            reference("detail_citations.html", origin_groups=context["origin_groups"]),
        ),
        "reviews": (
            review_rows(context["reviews"]),
            reference("detail_reviews.html", reviews=context["reviews"]),
        ),
        "audit": (
            audit_rows(context["audit_entries"]),
            reference("detail_audit.html", audit_entries=context["audit_entries"]),
        ),
        "explanation": (
            explanation_lines(context["explanation"]),
            reference("detail_explanation.html", explanation=context["explanation"]),
        ),
    }
    for kind in ("corroborating", "contradicting"):
        parts[kind] = (
            related_claims(context[kind]),
            "".join(
                reference("detail_related.html", relation=relation)
                for relation in context[kind]
            ),
        )
    return parts


def assert_same_html(context: dict) -> dict[str, str]:
    """Every part equals its reference; returns ours, by part."""
    parts = ours_and_reference(context)
    for name, (ours, theirs) in parts.items():
        assert parse_html(ours) == parse_html(theirs), name
    return {name: ours for name, (ours, _) in parts.items()}


def cited_by(claim, source, **extra):
    return CitationFactory(
        claim=claim,
        source=source,
        document=extra.pop("document", None) or DocumentFactory(publisher=source),
        created_by=claim.logged_by,
        **extra,
    )


def test_citations_of_every_shape_are_the_reference_html(alice):
    claim = ClaimFactory(logged_by=alice)
    agency = SourceFactory(name="Agency", grade="B")
    # Parts of the government: one origin with a supporting and a denying report.
    government = SourceFactory(name="Government", grade="A")
    ministry = SourceFactory(name="Ministry", parent=government, grade="C")
    spokesman = SourceFactory(name="Spokesman", parent=government, grade="D")
    outlet = SourceFactory(name="Outlet", grade="E")
    cited_by(
        claim,
        agency,
        document=DocumentFactory(
            publisher=agency, published_on=datetime.date(2024, 5, 2)
        ),
        locator="p. 4, para 2",
        said_on=datetime.date(2024, 5, 1),
        excerpt="Line one.\nLine two.\r\nLine three.\rLine four.",
        credibility=Credibility.PROBABLY_TRUE,
    )
    cited_by(
        claim,
        ministry,
        supports=False,
        document=DocumentFactory(publisher=outlet, retracted=True),
        credibility=Credibility.DOUBTFUL,
    )
    cited_by(
        claim,
        spokesman,
        document=DocumentFactory(
            publisher=outlet, published_on=datetime.date(987, 1, 9), retracted=True
        ),
        locator="00:03:12",
        credibility=Credibility.CANNOT_BE_JUDGED,
    )
    cited_by(claim, outlet, credibility=Credibility.IMPROBABLE)
    cited_by(
        claim, outlet, said_on=datetime.date(2024, 12, 31), supports=False
    )  # an origin that only denies
    # The source regraded since it was cited: "changed since".
    Source.objects.filter(pk=ministry.pk).update(grade="F")

    context = page_context(alice, claim)
    assert len(context["origin_groups"]) == 3
    ours = assert_same_html(context)["citations"]
    assert ours.count('<li class="citation ') == 5
    assert ours.count('<span class="badge flag-retracted">') == 2
    assert ours.count('<span class="changed">') == 1
    assert "Line one.<br>Line two.<br>Line three.<br>Line four." in ours
    assert " · 1 supporting, 1 denying" in ours


def test_every_grade_and_credibility_is_the_reference_html(alice):
    claim = ClaimFactory(logged_by=alice)
    for grade, credibility in zip(Grade.values, Credibility.values * 2, strict=False):
        cited_by(claim, SourceFactory(grade=grade), credibility=credibility)
    context = page_context(alice, claim)
    ours = assert_same_html(context)["citations"]
    assert ours.count('<li class="citation ') == len(Grade.values)


def test_a_claim_without_citations_says_so_as_the_reference_did(alice):
    context = page_context(alice, ClaimFactory(logged_by=alice))
    ours = assert_same_html(context)["citations"]
    assert "No citations: nothing ties this claim to a source yet." in ours


def test_related_claims_of_both_kinds_are_the_reference_html(alice, bob):
    claim = ClaimFactory(logged_by=alice)
    # The claim is claim_a of some relations and claim_b of others.
    for n, level in enumerate(Level.values):
        other = ClaimFactory(
            logged_by=bob,
            level=level,
            likelihood_term=ClaimConfirmation._meta.get_field(
                "likelihood_term"
            ).choices[n][0],
            confidence=["low", "moderate", "high"][n % 3],
        )
        one, two = (claim, other) if n % 2 else (other, claim)
        RelationFactory(
            claim_a=one,
            claim_b=two,
            kind=Relation.Kind.CORROBORATES if n % 3 else Relation.Kind.CONTRADICTS,
            rationale=f"Reason {n}.",
            created_by=bob,
        )
    context = page_context(alice, claim)
    assert context["corroborating"] and context["contradicting"]
    ours = assert_same_html(context)
    assert ours["corroborating"].count('<li class="related-claim">') + ours[
        "contradicting"
    ].count('<li class="related-claim">') == len(Level.values)


def rule(claim, reviewer, outcome, **extra) -> Review:
    return Review.objects.create(
        claim=claim,
        reviewer=reviewer,
        outcome=outcome,
        rationale=extra.pop("rationale", f"Ruled {outcome}."),
        **extra,
    )


@pytest.mark.parametrize("status", ["in_review", "confirmed", "refuted"])
def test_the_page_explains_relations_of_both_kinds_and_the_ruling(alice, bob, status):
    """The explanation the page computes from what it read carries the related
    claims' citations by the relation's kind and says the reviewers' ruling,
    as the store's own does."""
    claim = ClaimFactory(logged_by=alice)
    Claim.objects.filter(pk=claim.pk).update(status=status)
    cited_by(claim, SourceFactory(name="Own wire", grade="B"))
    backing, against = ClaimFactory(logged_by=bob), ClaimFactory(logged_by=bob)
    cited_by(backing, SourceFactory(name="Backing agency", grade="A"))
    cited_by(against, SourceFactory(name="Opposing ministry", grade="C"))
    for other, kind in ((backing, "corroborates"), (against, "contradicts")):
        one, two = sorted((claim, other), key=lambda c: c.pk)
        RelationFactory(claim_a=one, claim_b=two, kind=kind, created_by=bob)
    context = page_context(alice, Claim.objects.get(pk=claim.pk))
    lines = context["explanation"]
    assert lines == explanations([claim.pk])[claim.pk]
    assert any(f"via corroborating claim #{backing.pk}" in line for line in lines)
    assert any(f"via contradicting claim #{against.pk}" in line for line in lines)
    ruled = [line for line in lines if line.startswith("= ruled")]
    assert ruled == ([] if status == "in_review" else [ruled[0]])
    assert status == "in_review" or f"ruled {status}" in ruled[0]


def test_reviews_of_every_decision_are_the_reference_html(alice, rita):
    claim = ClaimFactory(logged_by=alice)
    for n, outcome in enumerate(Review.Outcome.values):
        rule(
            claim,
            rita,
            outcome,
            level_at=Level.values[n] if n % 2 else "",
            likelihood_at=[None, 0.02, 0.5, 0.97][n],
            rationale=f"First line.\nSecond line {n}.\r\nThird.",
        )
    context = page_context(alice, claim)
    assert any(hasattr(review, "likelihood_term_at") for review in context["reviews"])
    ours = assert_same_html(context)["reviews"]
    assert ours.count("<tr>") == len(Review.Outcome.values)
    assert "First line.<br>Second line 0.<br>Third." in ours


def audit(claim, **fields) -> AuditEntry:
    fields.setdefault("model", "claims.claim")
    fields.setdefault("object_id", str(claim.pk))
    fields.setdefault("action", AuditEntry.Action.UPDATE)
    return AuditEntry.objects.create(**fields)


def test_audit_entries_with_and_without_changes_are_the_reference_html(alice):
    claim = ClaimFactory(logged_by=alice)
    citation = cited_by(claim, SourceFactory())
    relation = RelationFactory(claim_a=claim, created_by=alice)
    audit(
        claim,
        actor=alice,
        actor_username="alice",
        action=AuditEntry.Action.CREATE,
        after={"statement": "Troops moved."},
    )
    audit(
        claim,
        actor_username="",  # no one: "system"
        before={
            "statement": LONG,
            "quantity_low": None,
            "time_text": COMPOSED,
            "actors": COMBINING,
            "places": [1, 2],
            "topic": {"id": 3, "name": "Border"},
            "needs_rereview": False,
            "likelihood": 0.25,
            "version": 3,  # bookkeeping: left out
            "status": "x" * 120,
        },
        after={
            "statement": "Troops moved.",
            "quantity_low": "1500.00",
            "time_text": "",
            "actors": COMBINING + "x",
            "places": [],
            "topic": None,
            "needs_rereview": True,
            "likelihood": 1e-05,
            "version": 4,
            "status": "x" * 121,
        },
        note=LONG,
    )
    # Only bookkeeping changed: no change is listed.
    audit(claim, before={"version": 1}, after={"version": 2})
    audit(
        claim,
        action=AuditEntry.Action.SUBMIT,
        before={"status": "open"},
        after={"status": "in_review"},
        note="e\u0301 short enough",
    )
    audit(
        claim,
        model="claims.citation",
        object_id=str(citation.pk),
        object_repr=LONG,
        action=AuditEntry.Action.CREATE,
        after={"excerpt": "Said so."},
    )
    audit(
        claim,
        model="claims.relation",
        object_id=str(relation.pk),
        action=AuditEntry.Action.DELETE,
        before={"kind": "corroborates"},
    )
    audit(claim, action=AuditEntry.Action.REFUSED, note="Four eyes.")

    context = page_context(alice, claim)
    assert len(context["audit_entries"]) == 7
    ours = assert_same_html(context)["audit"]
    assert ours.count("<tr>") == 7
    assert ours.count('<span class="muted">—</span>') == 5
    assert "<td>system</td>" in ours
    assert "…" in ours


def test_explanation_lines_are_the_reference_html():
    lines = ["+ Two independent origins support it.", "− A <retracted> report.", ""]
    ours = explanation_lines(lines)
    theirs = reference("detail_explanation.html", explanation=lines)
    assert parse_html(ours) == parse_html(theirs)
    assert ours.count('<li class="explain-line"') == 3
    assert "&lt;retracted&gt;" in ours


def test_the_page_explains_the_claim_from_its_evidence(alice):
    claim = ClaimFactory(logged_by=alice)
    cited_by(claim, SourceFactory(name="Wire <b>service</b>", grade="B"))
    context = page_context(alice, claim)
    assert context["explanation"] == explanations([claim.pk])[claim.pk]
    assert any("Wire <b>service</b>" in line for line in context["explanation"])
    ours = assert_same_html(context)["explanation"]
    assert "Wire &lt;b&gt;service&lt;/b&gt;" in ours


def a_claim_of_every_part(alice, bob, rita, text: str) -> Claim:
    """A claim with each part of the page, ``text`` in every free-text field."""
    claim = ClaimFactory(
        logged_by=alice,
        statement=text,
        quantity_low=Decimal("1500"),
    )
    origin = SourceFactory(name=f"{text} origin", grade="A")
    part = SourceFactory(name=f"{text} part", parent=origin)
    publisher = SourceFactory(name=f"{text} publisher")
    document = DocumentFactory(
        title=text, publisher=publisher, published_on=datetime.date(2024, 5, 2)
    )
    for source, supports in ((origin, True), (part, False)):
        cited_by(
            claim,
            source,
            document=document,
            supports=supports,
            excerpt=f"{text}\n{text}\r\n{text}",
            locator=text[:200],
            said_on=datetime.date(2024, 5, 1),
        )
    for kind in Relation.Kind.values:
        RelationFactory(
            claim_a=claim,
            claim_b=ClaimFactory(logged_by=bob, statement=text),
            kind=kind,
            rationale=text,
            created_by=bob,
        )
    rule(claim, rita, Review.Outcome.SENT_BACK, rationale=f"{text}\n{text}")
    rule(claim, rita, Review.Outcome.CONFIRMED, rationale=text, likelihood_at=0.9)
    audit(
        claim,
        actor_username=text[:150],
        before={text: text, "statement": text * 20},
        after={text: None, "statement": "Troops moved."},
        note=text * 20,
    )
    audit(
        claim,
        model="claims.citation",
        object_id=str(claim.citations.first().pk),
        object_repr=(text * 10)[:300],
        action=AuditEntry.Action.CREATE,
        after={"excerpt": text},
    )
    return claim


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_part_is_the_reference_html_even_for_hostile_text(alice, bob, hostile):
    rita = AnalystFactory(username=hostile[:150], roles=["Reviewer"])
    claim = a_claim_of_every_part(alice, bob, rita, hostile)
    ours = assert_same_html(page_context(alice, claim))
    for name, html in ours.items():
        assert html, name
        assert "<script>" not in html, name
        assert_no_active_content(html, hostile, where=name)


def test_times_are_written_in_the_current_time_zone_as_the_filters_did(
    alice, bob, rita
):
    claim = a_claim_of_every_part(alice, bob, rita, "Troops moved.")
    with timezone.override(zoneinfo.ZoneInfo("Asia/Vladivostok")):
        ours = assert_same_html(page_context(alice, claim))
    assert "+10:00" in ours["reviews"] and "+10:00" in ours["audit"]


def test_the_page_shows_every_part(as_user, alice, bob, rita):
    claim = a_claim_of_every_part(alice, bob, rita, "Troops moved.")
    page = as_user(alice).get(claim.get_absolute_url()).content.decode()
    context = page_context(alice, claim)
    for name, html in ours_and_reference(context).items():
        assert html[0].strip() in page, name


@given(
    moment=st.datetimes(
        min_value=datetime.datetime(1, 1, 2),
        max_value=datetime.datetime(9999, 12, 30),
        timezones=st.just(datetime.UTC),
    ),
    zone=st.sampled_from(["UTC", "Asia/Vladivostok", "America/St_Johns"]),
    shown=st.sampled_from(["Y-m-d", "Y-m-d H:i", "Y-m-d H:i:s", "j M Y"]),
)
@settings(max_examples=300, deadline=None)
def test_a_time_is_written_as_the_date_filter_writes_it(moment, zone, shown):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        local = timezone.localtime(moment)
        assert _shown(local, shown) == date_format(local, shown)
        assert local.isoformat() == date_format(local, "c")
