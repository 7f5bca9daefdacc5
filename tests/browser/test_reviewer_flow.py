"""The reviewer's round in a real browser: sign in, see what waits in the
navigation, work the review queue, confirm a claim with a rationale; and a
reviewer whom four-eyes bars from a ruling is told so plainly.

Everything is asserted on what the page shows, as the reviewer sees it; the
browser's console must stay free of errors and CSP violations.
"""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from analysts.models import Analyst, AuditEntry
from claims import actions
from claims.models import Citation, Claim, Review
from sources.models import Document, Source
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

# demo-07: logged by alice, submitted, one origin behind two reports.
IN_REVIEW = (
    "North Korean soldiers are being readied in Russia to serve in Russia's war "
    "against Ukraine."
)
RATIONALE = (
    "Zelensky and the Center answer to one government, but the Center's footage "
    "shows the soldiers themselves: enough to confirm."
)


def nav_count(page: Page) -> int:
    link = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("Review queue")
    )
    expect(link).to_be_visible()
    return int(re.search(r"\d+", link.locator(".nav-count").inner_text())[0])


def test_a_reviewer_works_the_queue_and_confirms_a_claim(
    page: Page, demo, browser_problems
):
    sign_in(page, "rita", demo["rita"])
    expect(page).to_have_url(re.compile(r"/$"))
    waiting = nav_count(page)
    assert waiting >= 1

    # The dashboard leads to the queue too.
    page.get_by_role("main").get_by_role("link", name="Open the review queue").click()
    expect(page).to_have_url(re.compile(r"/reviews/$"))
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(
        f"{waiting} claim{'s' if waiting != 1 else ''} waiting"
    )
    row = page.get_by_role("row").filter(has_text=IN_REVIEW)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("in review")
    expect(row.get_by_role("cell").last).to_have_text("Yes")
    # The likelihood the evidence gives, before anyone rules.
    term = row.locator(".badge[class*='likelihood-']").inner_text().strip()
    assert term
    row.get_by_role("link", name=IN_REVIEW).click()

    expect(page).to_have_url(re.compile(r"/claims/\d+/$"))
    claim_url = page.url
    number = re.search(r"/claims/(\d+)/$", claim_url)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(IN_REVIEW)
    review = page.get_by_role("region", name="Review")
    expect(review).to_contain_text("In review")
    review.get_by_role("radio", name="confirmed").check()
    review.get_by_label("Rationale").fill(RATIONALE)
    review.get_by_role("button", name="Record the ruling").click()

    expect(page).to_have_url(claim_url)
    expect(
        page.get_by_role("status").filter(
            has_text=f"Claim #{number}: confirmed, recorded."
        )
    ).to_be_visible()
    panel = page.get_by_role("complementary", name="How confirmed")
    expect(panel).to_contain_text(re.compile(r"Reviewers' ruling\s*confirmed"))
    # The verdict overrides the level; the evidence's likelihood stays in view.
    likelihood = panel.locator(".badge[class*='likelihood-']")
    expect(likelihood).to_be_visible()
    expect(likelihood).to_have_text(term)
    expect(panel).to_contain_text(re.compile(r"Likelihood \(computed\)\s*" + term))
    expect(page.get_by_role("region", name="Review")).to_contain_text("Ruled confirmed")
    history = page.get_by_role("region", name="Rulings")
    expect(history).to_contain_text(RATIONALE)
    expect(history).to_contain_text("rita")

    # It has left the queue, and the navigation counts one fewer.
    assert nav_count(page) == waiting - 1
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("Review queue")
    ).click()
    expect(page.get_by_role("row").filter(has_text=IN_REVIEW)).to_have_count(0)

    # The claim list shows the reviewers' level beside the computed likelihood.
    page.goto(claim_url.replace(f"/claims/{number}/", "/claims/") + "?q=readied")
    row = page.get_by_role("row").filter(has_text=IN_REVIEW)
    expect(row).to_contain_text("confirmed")
    expect(row).to_contain_text(term)

    assert browser_problems == []


def test_four_eyes_refuses_a_ruling_plainly(page: Page, demo, browser_problems):
    """rex reviews and analyses; he cites a source for a claim in another tab
    while its ruling form is open in this one."""
    rex = Analyst.objects.create_user(username="rex", password="rex-reviews-2024!")
    rex.groups.add(*Group.objects.filter(name__in=["Analyst", "Reviewer"]))
    claim = Claim.objects.get(statement=IN_REVIEW)
    sign_in(page, "rex", "rex-reviews-2024!")

    page.goto(claim.get_absolute_url())
    review = page.get_by_role("region", name="Review")
    review.get_by_role("radio", name="confirmed").check()
    review.get_by_label("Rationale").fill(RATIONALE)
    document = Document.objects.order_by("pk").first()
    actions.add_citation(
        rex,
        Citation(
            claim=claim,
            document=document,
            source=Source.objects.get(pk=document.publisher_id),
            supports=True,
            credibility=3,
            excerpt="Seen in another tab.",
            created_by=rex,
        ),
    )
    review.get_by_role("button", name="Record the ruling").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Not recorded.")
    expect(alert).to_contain_text(
        f"You cited a source for this claim: four-eyes leaves the ruling on claim "
        f"#{claim.pk} to another reviewer."
    )
    # No ruling form is offered him any more, and the panel says why.
    review = page.get_by_role("region", name="Review")
    expect(review).to_contain_text(
        "You cited a source for this claim: four-eyes leaves the ruling on it to "
        "another reviewer."
    )
    expect(review.get_by_role("button", name="Record the ruling")).to_have_count(0)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    assert not Review.objects.filter(claim=claim).exists()
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REFUSED, actor=rex, object_id=str(claim.pk)
    ).exists()

    # Four-eyes bars rex alone: the queue still offers the claim to rita.
    page.context.clear_cookies()
    sign_in(page, "rita", demo["rita"])
    page.goto("/reviews/")
    row = page.get_by_role("row").filter(has_text=IN_REVIEW)
    expect(row.get_by_role("cell").last).to_have_text("Yes")

    # The 403 answer is expected; anything else in the console is not.
    assert [p for p in browser_problems if "403" not in p] == []
