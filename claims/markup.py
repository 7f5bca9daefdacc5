"""Escaping for markup written in Python loops (rows, options, chart marks)."""

import html

from django.utils.functional import Promise


def esc(value) -> str:
    """What format_html does to each argument (conditional_escape), without the
    lazy-string wrapper around django.utils.html.escape: that wrapper costs more
    than the escaping when a page writes a few thousand values."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))
