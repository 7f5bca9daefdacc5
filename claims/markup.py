"""Escaping for markup written in Python loops (rows, options, chart marks)."""

import html
import unicodedata

from django.utils.functional import Promise
from django.utils.text import Truncator


def esc(value) -> str:
    """What format_html does to each argument (conditional_escape), without the
    lazy-string wrapper around django.utils.html.escape: that wrapper costs more
    than the escaping when a page writes a few thousand values."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def truncated(value, length: int) -> str:
    """`|truncatechars:length`, escaped. Truncator returns the text NFC-normalized,
    unchanged when it is no longer than length: most values are, and Truncator
    costs more than the rest of the work on them. Longer ASCII text has no
    combining characters to skip: its first length - 1 characters and "…"."""
    text = str(value)
    short = unicodedata.normalize("NFC", text)
    if len(short) <= length:
        return esc(short)
    if short.isascii() and length > 1:
        return esc(f"{short[: length - 1]}…")
    return esc(Truncator(text).chars(length))
