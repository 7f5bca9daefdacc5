"""Hostile strings and the checks that a page shows them as harmless text.

Shared by every test that feeds user input back out: the web forms
(tests/test_security.py), the API and the importers. Each string is entered in
every free-text field; each page that shows it must pass
``assert_no_active_content``.
"""

from html.parser import HTMLParser

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)' x='",
    "javascript:alert(1)",
    "<svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    # A right-to-left override makes "exe.gnp" read as "png.exe".
    "report\u202egnp.exe",
    # A zero-width joiner: two names that look the same but are not.
    "Vla\u200ddivostok",
    # Zero-width spaces and a byte-order mark hidden inside a word.
    "Kur\u200bsk\ufeff \u200c",
    # Homoglyphs: a Cyrillic "а" and "о" in Latin words, a Greek "Ο" in a URL-like
    # name.
    "N\u0430tional Intelligence Service \u039ffficial vlad\u043ev.ru",
    # Template injection: must show as typed, never as 49.
    "{{7*7}} {% now 'Y' %}",
    # A spreadsheet runs a cell starting with "=" as a formula.
    '=HYPERLINK("http://evil.example/","click")',
]

# A NUL character cannot be stored (PostgreSQL's text refuses it): every way in
# must refuse it with a message on the field, never a 500.
WITH_NUL = "Vladivostok\x00<script>alert(1)</script>"

# Addresses a link must never point at, typed into URL fields.
HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
]

# Characters that mean markup; a string holding one must never appear verbatim.
MARKUP = set("<>\"'&")
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcdoc"}


def needs_escaping(text: str) -> bool:
    return bool(MARKUP & set(text))


class ActiveContent(HTMLParser):
    """Collects what a browser would run: inline scripts, event handlers and
    links to script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            # The app's own scripts are files ("src"); an inline one never is.
            self._in_inline_script = "src" not in names
            if self._in_inline_script:
                self.problems.append("an inline <script>")
        if tag in {"iframe", "object", "embed", "base"}:
            self.problems.append(f"a <{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"an event handler {name}= on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                # Browsers ignore leading spaces and control characters.
                cleaned = "".join(ch for ch in value if ch > " ").lower()
                if cleaned.startswith(DANGEROUS_SCHEMES):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False


def assert_no_active_content(html: str, payload: str = "", where: str = "") -> None:
    """The page holds nothing a browser would run, and ``payload`` (when it
    holds markup) only escaped."""
    parser = ActiveContent()
    parser.feed(html)
    parser.close()
    assert not parser.problems, f"{where}: {parser.problems}"
    if payload and needs_escaping(payload):
        assert payload not in html, f"{where}: {payload!r} appears unescaped"
