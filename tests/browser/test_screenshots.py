"""The README's screenshots, taken from the demo world as alice sees it.

`UPDATE_SCREENSHOTS=1` writes them to docs/screenshots/ (then commit them),
squeezed by Debian's `pngquant` when it is installed; otherwise they go to a
temporary directory, so that CI renders every screen and checks it without
rewriting tracked files. One test takes all three: loading the demo is the
slow part, and the screens only read it.
"""

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from claims.models import Claim
from tests.browser.conftest import VIEWPORT, pick, sign_in

# Fresh ids on every run: the pictures then show the demo's own numbers (#8 for
# demo-08) whatever ran before.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, reset_sequences=True),
]

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def updating() -> bool:
    return os.environ.get("UPDATE_SCREENSHOTS") == "1"


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    if updating():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def shoot(page: Page, path: Path) -> None:
    # Nothing blinks mid-shot: no caret, no transition half-way.
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    # A blank page compresses to a few kilobytes; one of text does not.
    assert len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert width == VIEWPORT["width"]
    assert height >= VIEWPORT["height"]
    pngquant = shutil.which("pngquant")
    if updating() and pngquant:
        # A page of text needs few colours: a palette keeps the repository small.
        subprocess.run(
            [
                pngquant,
                "--force",
                "--skip-if-larger",
                "--strip",
                "--quality=80-100",
                "--output",
                str(path),
                str(path),
            ],
            check=False,
        )


def shoot_the_claim_list(page: Page, path: Path) -> None:
    # Where sources agree and where they disagree, most likely first: a short
    # page that shows the filters at work.
    page.goto("/claims/?level=corroborated&level=contested&ordering=-likelihood")
    expect(page.get_by_role("heading", name="Claims", level=1)).to_be_visible()
    expect(page.get_by_role("checkbox", name="contested")).to_be_checked()
    rows = page.get_by_role("region", name="Results").get_by_role("row")
    expect(rows.filter(has_text="corroborated").first).to_be_visible()
    expect(rows.filter(has_text="contested").first).to_be_visible()
    shoot(page, path)


def shoot_the_entry_form(page: Page, path: Path) -> None:
    page.goto("/claims/new/")
    expect(page.get_by_role("heading", name="Log a claim", level=1)).to_be_visible()
    # Typed as far as the first citation: the similar claims the demo holds
    # show up under the statement.
    page.get_by_label("Statement").fill(
        "About 1,500 North Korean soldiers were moved to Vladivostok between 8 "
        "and 13 October 2024."
    )
    expect(
        page.get_by_role("region", name="Similar claims already logged")
    ).to_be_visible()
    page.get_by_label("Qualifier").select_option(label="about")
    page.get_by_label("From", exact=True).fill("1,500")
    page.get_by_label("Unit", exact=True).fill("soldiers")
    page.get_by_label("When, as the source put it").fill(
        "between 8 and 13 October 2024"
    )
    pick(page.get_by_label("Places", exact=True), "Vladivostok")
    row = page.get_by_role("group", name="Citation 1")
    pick(row.get_by_label("Document", exact=True), "Announcement on North Korean")
    pick(row.get_by_label("Citing source"), "National Intelligence Service")
    row.get_by_label("Excerpt").fill(
        "about 1,500 among them were transferred to Vladivostok"
    )
    row.get_by_label("2 – probably true").check()
    # No focus ring in the picture.
    page.evaluate("document.activeElement.blur()")
    shoot(page, path)


def shoot_a_claim_detail(page: Page, path: Path) -> None:
    # The year-end forecast: citations from two origins and both kinds of relation.
    claim = Claim.objects.get(external_id="demo-08")
    page.goto(claim.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(claim.statement)
    panel = page.get_by_role("complementary", name="How confirmed")
    expect(panel).to_contain_text("independent origin")
    expect(page.get_by_role("heading", name="Related claims")).to_be_visible()
    shoot(page, path)


def test_the_readme_screens(
    page: Page, demo, screenshot_dir: Path, browser_problems: list[str]
):
    sign_in(page, "alice", demo["alice"])
    shoot_the_claim_list(page, screenshot_dir / "claim-list.png")
    shoot_the_entry_form(page, screenshot_dir / "claim-form.png")
    shoot_a_claim_detail(page, screenshot_dir / "claim-detail.png")
    assert browser_problems == []
