"""The analyst's daily round in a real browser: sign in, log a claim from the
sample essay, corroborate it from an independent origin, find it in the list.

Everything is asserted on what the page shows and where it is, as the analyst
sees it; the browser's console must stay free of errors and CSP violations.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import pick, sign_in

pytestmark = pytest.mark.browser

STATEMENT = (
    "About 1,500 North Korean soldiers were transferred to Vladivostok between "
    "8 and 13 October 2024 (browser test)"
)
NIS = "National Intelligence Service (Republic of Korea)"
CENTER = "Center for Strategic Communication and Information Security"
NIS_ANNOUNCEMENT = "Announcement on North Korean special forces sent to Russia"
ESSAY = "Speaking Out #1192"
CENTER_VIDEO = "Video of North Korean soldiers at a training ground"


def fill_citation(
    row: Locator, document: str, source: str, excerpt: str, credibility: str
) -> None:
    pick(row.get_by_label("Document", exact=True), document)
    pick(row.get_by_label("Citing source"), source)
    row.get_by_label("supports").check()
    row.get_by_label("Excerpt").fill(excerpt)
    row.get_by_label(credibility).check()


def confirmation_panel(page: Page) -> Locator:
    return page.get_by_role("complementary", name="How confirmed")


def test_an_analyst_logs_corroborates_and_finds_a_claim(
    page: Page, demo, browser_problems
):
    sign_in(page, "alice", demo["alice"])
    expect(page).to_have_url(re.compile(r"/$"))

    # Log the claim, read from the NIS announcement and the essay relaying it.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Log a claim"
    ).click()
    expect(page).to_have_url(re.compile(r"/claims/new/$"))
    expect(page.get_by_role("heading", name="Log a claim", level=1)).to_be_visible()
    page.get_by_label("Statement").fill(STATEMENT)
    # The demo already holds this shipment: the page offers it while typing.
    similar = page.get_by_role("region", name="Similar claims already logged")
    expect(similar).to_contain_text("shipped to Vladivostok")
    page.get_by_label("Qualifier").select_option(label="about")
    page.get_by_label("From", exact=True).fill("1,500")
    page.get_by_label("Unit", exact=True).fill("soldiers")
    page.get_by_label("When, as the source put it").fill(
        "between 8 and 13 October 2024"
    )
    pick(page.get_by_label("Places", exact=True), "Vladivostok")

    fill_citation(
        page.get_by_role("group", name="Citation 1"),
        document=NIS_ANNOUNCEMENT,
        source=NIS,
        excerpt="about 1,500 among them were transferred to Vladivostok",
        credibility="2 – probably true",
    )
    page.get_by_role("button", name="Add another citation").click()
    fill_citation(
        page.get_by_role("group", name="Citation 2"),
        document=ESSAY,
        source=NIS,
        excerpt="South Korea's National Intelligence Service announced that "
        "about 1,500 among them were transferred to Vladivostok",
        credibility="2 – probably true",
    )
    page.get_by_label("None of these is my claim: log it anyway").check()
    page.get_by_role("button", name="Log claim").click()

    expect(page).to_have_url(re.compile(r"/claims/\d+/$"))
    claim_url = page.url
    number = re.search(r"/claims/(\d+)/$", claim_url)[1]
    expect(
        page.get_by_role("status").filter(has_text=f"Claim #{number} logged.")
    ).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(STATEMENT)
    expect(page.get_by_text("about 1,500 soldiers")).to_be_visible()
    panel = confirmation_panel(page)
    expect(panel).to_contain_text(re.compile(r"Level\s*single source"))
    expect(page.get_by_role("heading", name="Citations")).to_contain_text(
        "2 reports from 1 independent origin"
    )
    # Relaying the announcement in an essay adds a report, not an origin.
    expect(
        panel.get_by_role("listitem").filter(has_text="2 reports, 1 origin")
    ).to_contain_text("Government of the Republic of Korea")

    # Corroborate it from Ukraine: an origin of its own.
    page.get_by_role("link", name="Edit claim").click()
    expect(page).to_have_url(re.compile(rf"/claims/{number}/edit/$"))
    fill_citation(
        page.get_by_role("group", name="Citation 3"),
        document=CENTER_VIDEO,
        source=CENTER,
        excerpt="North Korean soldiers were receiving equipment at a training "
        "ground in Russia's Far East",
        credibility="3 – possibly true",
    )
    page.get_by_role("button", name="Save changes").click()

    expect(page).to_have_url(claim_url)
    expect(
        page.get_by_role("status").filter(has_text=f"Claim #{number} saved.")
    ).to_be_visible()
    panel = confirmation_panel(page)
    expect(panel).to_contain_text(re.compile(r"Level\s*corroborated"))
    explanation = panel.get_by_role("listitem")
    expect(explanation.filter(has_text=NIS)).to_contain_text("independent origin")
    expect(explanation.filter(has_text=CENTER)).to_contain_text("independent origin")
    expect(page.get_by_role("heading", name="Citations")).to_contain_text(
        "3 reports from 2 independent origins"
    )

    # Find it in the list by its words and its new level.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Claims"
    ).click()
    expect(page).to_have_url(re.compile(r"/claims/$"))
    page.get_by_role("searchbox", name="Search").fill("browser test")
    page.get_by_role("checkbox", name="corroborated").check()
    page.get_by_role("button", name="Apply", exact=True).click()

    expect(page).to_have_url(re.compile(r"[?&]q=browser\+test(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]level=corroborated(&|$)"))
    results = page.get_by_role("region", name="Results")
    expect(page.get_by_text("1 claim matches the filters")).to_be_visible()
    row = results.get_by_role("row").filter(has_text=STATEMENT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("corroborated")
    row.get_by_role("link", name=STATEMENT).click()
    expect(page).to_have_url(claim_url)

    assert browser_problems == []


def test_a_statement_typed_while_the_page_loads_is_looked_up(
    page: Page, demo, browser_problems
):
    """The entry page's script arrives after the analyst has typed: the similar
    claims still show, without another keystroke."""
    held = []
    page.route("**/js/claim_form.js", lambda route: held.append(route))
    sign_in(page, "alice", demo["alice"])
    page.goto("/claims/new/", wait_until="commit")
    page.get_by_label("Statement").fill(STATEMENT)
    while not held:
        page.wait_for_timeout(50)
    similar = page.get_by_role("region", name="Similar claims already logged")
    expect(similar).to_have_count(0)
    held[0].continue_()
    expect(similar).to_contain_text("shipped to Vladivostok")
