"""Real-browser tests: Playwright drives Debian's Chromium against the live server.

Playwright's own browser download cannot work air-gapped, so the tests launch the
system `chromium` (`make browser` installs it). Each test gets a fresh browser
context (no cookies), a 1280×800 viewport and a record of every console error,
uncaught page error and Content-Security-Policy violation, which the tests assert
to be empty.
"""

import os
import shutil
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Locator, expect, sync_playwright

from claims.demo import USERS

VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a loaded CI machine, short enough that a broken page fails fast.
TIMEOUT_MS = 10_000

# A violation is also logged to the console, but the event names the directive
# and the blocked address, which makes the failure message say what broke.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline code"}` +
    ` at ${event.sourceFile || document.location.href}:${event.lineNumber}`
  );
});
"""


# Per module, not per session: the tests that run after these get Django's
# async-safety check back, and subprocesses a clean environment.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    # While Playwright's sync API lives, an asyncio loop counts as running in
    # this thread, which Django's async-safety check takes for async code
    # touching the ORM.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_problems() -> list[str]:
    """Console errors, uncaught exceptions and CSP violations seen by `page`."""
    return []


@pytest.fixture
def page(browser, live_server, browser_problems: list[str]) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function(
        "__cspViolation", lambda text: browser_problems.append(f"CSP: {text}")
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on(
        "console",
        lambda message: message.type == "error"
        and browser_problems.append(f"console: {message.text} ({message.location})"),
    )
    page.on("pageerror", lambda error: browser_problems.append(f"page: {error}"))
    yield page
    context.close()
    if browser_problems:
        # Shown with a failure further up the test, which may be their effect.
        print("The browser reported:", *browser_problems, sep="\n  ")


@pytest.fixture
def demo(transactional_db) -> dict[str, str]:
    """The demo world in the live server's database; returns the demo users'
    passwords by username."""
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    return {user["username"]: user["password"] for user in USERS}


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def pick(field: Locator, text: str) -> None:
    """Search a lookup (a source, document or place picker) for `text` and choose
    the one match whose label contains it, with the keyboard."""
    field.fill(text)
    box = field.locator("xpath=ancestor::div[contains(@class, 'lookup')][1]")
    option = box.get_by_role("option").filter(has_text=text)
    expect(option).to_have_count(1)
    options = box.get_by_role("option")
    for _ in range(options.count()):
        field.press("ArrowDown")
        if option.get_attribute("aria-selected") == "true":
            break
    field.press("Enter")
    expect(box.locator(".lookup-picked")).to_contain_text(text)
