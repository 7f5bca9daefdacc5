"""The claim filters' sidebar fields, written in Python.

The sidebar of the claim list and the review queue rendered seventeen fields
through `{% include %}` and per-option templates: about 10 ms of a 35 ms page at
a million claims (docs/performance.md). These tags write the same markup as
templates/claims/_field.html, the range fieldset and the level checkboxes did;
tests/test_filter_fields.py compares them with the replaced template
(tests/reference/claim_filters.html), with errors and hostile values.
"""

from django import template
from django.utils.safestring import SafeString, mark_safe

from claims.markup import esc

register = template.Library()


def _errors(field, prefix: str = "", alert: bool = False) -> str:
    role = ' role="alert"' if alert else ""
    return "".join(
        f'<p class="error"{role}>{prefix}{esc(error)}</p>' for error in field.errors
    )


@register.simple_tag
def filter_field(field, alert: bool = False) -> SafeString:
    """templates/claims/_field.html for one bound field; with ``alert``, each
    error announced as it appears (the reliability report's filters)."""
    help_text = ""
    if field.help_text:
        help_text = (
            f'<p class="help" id="{esc(field.auto_id)}_helptext">'
            f"{esc(field.help_text)}</p>"
        )
    return mark_safe(  # noqa: S308 - every part escaped (the field renders itself)
        f'<div class="field{" has-error" if field.errors else ""}">\n'
        f'  <label for="{esc(field.id_for_label)}">{esc(field.label)}</label>\n'
        f"  {esc(field)}\n  {help_text}\n  {_errors(field, alert=alert)}\n</div>"
    )


@register.simple_tag
def filter_range(legend: str, low, high) -> SafeString:
    """A "from – to" pair of fields in one fieldset."""
    failing = " has-error" if low.errors or high.errors else ""
    return mark_safe(  # noqa: S308 - every part escaped
        f'<fieldset class="field range{failing}">\n'
        f"  <legend>{esc(legend)}</legend>\n"
        '  <div class="range-inputs">\n'
        f'    <label for="{esc(low.id_for_label)}" class="visually-hidden">'
        f"{esc(low.label)}</label>\n    {esc(low)}\n"
        '    <span aria-hidden="true">–</span>\n'
        f'    <label for="{esc(high.id_for_label)}" class="visually-hidden">'
        f"{esc(high.label)}</label>\n    {esc(high)}\n  </div>\n"
        f"  {_errors(low, f'{esc(low.label)}: ')}\n  {_errors(high)}\n</fieldset>"
    )


@register.simple_tag
def level_checks(field) -> SafeString:
    """The level checkboxes, each with its badge."""
    return mark_safe(  # noqa: S308 - every part escaped (tags render themselves)
        "".join(
            f'<label class="check">{esc(choice.tag())} <span class="badge '
            f'level-{esc(choice.data["value"])}">{esc(choice.choice_label)}</span>'
            "</label>\n"
            for choice in field
        )
    )
