"""How confirmed the claims of the sample essay are (claims/demo.py): the issue's
scenarios, read off the stored confirmation after `load_demo`."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from analysts.models import Analyst
from claims import actions
from claims.confirmation import LIKELIHOOD_TERMS
from claims.confirmation_store import STORED_FIELDS, drift, explanations
from claims.demo import NIS
from claims.models import Claim, Relation
from sources.models import Source

TERMS = [value for value, _label, _low, _high in LIKELIHOOD_TERMS]


@pytest.fixture
def demo(db):
    call_command("load_demo", verbosity=0)


def claim(external_id: str) -> Claim:
    return Claim.objects.get(external_id=external_id)


def supporting_lines(claim: Claim) -> list[str]:
    return [line for line in explained(claim) if line.startswith("+ ")]


def explained(claim: Claim) -> tuple[str, ...]:
    return explanations([claim.pk])[claim.pk]


def stored_values(claim: Claim) -> tuple:
    return tuple(getattr(claim, name) for name in (*STORED_FIELDS, "needs_rereview"))


def test_about_10000_by_year_end_is_corroborated_by_two_independent_origins(demo):
    forecast = claim("demo-08")

    assert forecast.level == "corroborated"
    assert forecast.summary_rating.endswith("1 (derived)")
    origins = {
        c.source.origin.name
        for c in forecast.citations.select_related("source__origin")
    }
    assert origins == {
        "Government of Ukraine",
        "Nishioka's unnamed sources inside North Korea",
    }
    assert len(supporting_lines(forecast)) == 2
    assert all("independent origin" in line for line in supporting_lines(forecast))


def test_a_claim_only_the_intelligence_service_announced_is_single_source(demo):
    eleventh_corps = claim("demo-02")

    assert eleventh_corps.level == "single_source"
    assert TERMS.index(eleventh_corps.likelihood_term) <= TERMS.index("likely")
    assert eleventh_corps.confidence == "low"
    assert supporting_lines(eleventh_corps) == [
        f"+ {NIS} (B3), part of Government of the Republic of Korea, independent origin"
    ]


def test_two_organs_of_one_government_count_as_one_origin(demo):
    readied = claim("demo-07")

    assert readied.level == "single_source"
    assert readied.citations.count() == 2
    assert any(
        "2 reports, 1 origin (Government of Ukraine)" in line
        for line in explained(readied)
    )
    assert readied.confidence == "low"  # circular reporting suspected


def test_the_may_figures_contradict_each_other_and_are_contested(demo):
    engineers, battalions = claim("demo-09"), claim("demo-10")

    assert Relation.objects.filter(
        claim_a=min(engineers, battalions, key=lambda c: c.pk),
        claim_b=max(engineers, battalions, key=lambda c: c.pk),
        kind="contradicts",
    ).exists()
    assert engineers.level == "refuted"  # the reviewer's ruling shows in lists
    assert engineers.computed_level == "contested"  # the evidence, kept beside it
    assert battalions.level == "contested"
    assert any(line.startswith("− contradicted by") for line in explained(battalions))


def test_the_demo_has_no_drift(demo):
    out = StringIO()

    call_command("recompute_confirmation", "--check", stdout=out)

    assert "No drift" in out.getvalue()
    assert drift() == []


def test_the_intelligence_service_graded_E_changes_its_dependents_at_once(demo, client):
    nis = Source.objects.get(name=NIS)
    before = {c.external_id: stored_values(c) for c in Claim.objects.all()}
    assert claim("demo-12").level == "corroborated"  # NIS, via demo-03
    assert claim("demo-05").computed_level == "corroborated"  # confirmed
    client.force_login(Analyst.objects.get(username="admin"))

    response = client.post(
        reverse("admin:sources_source_change", args=[nis.pk]),
        {
            "name": nis.name,
            "kind": nis.kind,
            "country": nis.country,
            "description": nis.description,
            "grade": "E",
            "parent": nis.parent_id,
            "grade_rationale": "Its October figures were disowned by its minister.",
            "grade_changes-TOTAL_FORMS": "0",
            "grade_changes-INITIAL_FORMS": str(nis.grade_changes.count()),
            "grade_changes-MIN_NUM_FORMS": "0",
            "grade_changes-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302
    after = {c.external_id: stored_values(c) for c in Claim.objects.all()}
    changed = {ext for ext in before if before[ext] != after[ext]}
    # The claims citing NIS, and those one relation away from them.
    assert changed == {
        "demo-01",
        "demo-02",
        "demo-03",
        "demo-04",
        "demo-05",
        "demo-08",
        "demo-12",
    }
    assert claim("demo-02").likelihood_term == "roughly_even"
    assert explained(claim("demo-02"))[0].startswith(f"· {NIS} (E3)")
    assert explained(claim("demo-02"))[0].endswith(": no evidential weight")
    assert claim("demo-12").level == "single_source"
    assert claim("demo-03").computed_level == "corroborated"  # two others remain
    # Confirmed on the strength of NIS: flagged for the reviewers.
    assert claim("demo-05").computed_level == "single_source"
    assert claim("demo-05").level == "confirmed"
    assert claim("demo-05").needs_rereview
    assert not claim("demo-03").needs_rereview
    assert drift() == []


def test_retracting_the_june_essay_leaves_the_engineers_one_report(demo, alice):
    june = claim("demo-09").citations.get(locator="title").document

    june.retracted = True
    actions.save_document(alice, june)

    engineers = claim("demo-09")
    assert any("document retracted" in line for line in explained(engineers))
    assert not any("2 reports, 1 origin" in line for line in explained(engineers))
    assert drift() == []
