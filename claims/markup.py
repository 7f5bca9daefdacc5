"""Escaping for markup written in Python loops (rows, options, chart marks)."""

import html
import unicodedata
from functools import lru_cache

from django.utils.functional import Promise
from django.utils.text import Truncator
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import get_language


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


@lru_cache(maxsize=512)
def _time_string(language: str | None, unit: str, number: int) -> str:
    return str(TIME_STRINGS[unit] % {"num": number})


class _TimeString:
    """One of timesince's unit strings ("%(num)d days"), each number's text
    translated once per language rather than on every call."""

    def __init__(self, unit: str) -> None:
        self.unit = unit

    def __mod__(self, values: dict) -> str:
        return _time_string(get_language(), self.unit, values["num"])


_TIME_STRINGS = {unit: _TimeString(unit) for unit in TIME_STRINGS}


def time_since(moment, now) -> str:
    """timesince(moment, now), its words looked up once per number: a page of
    fifty waiting times spent a tenth of its time translating them."""
    return timesince(moment, now, time_strings=_TIME_STRINGS)
