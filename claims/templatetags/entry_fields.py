"""templates/claims/claim_form_field.html, written in Python.

The claim page renders its citation, relation and workflow forms' fields
through that include: ten fields cost about 7 ms of a 30 ms page at a million
claims (docs/performance.md), most of it the include and a template per widget
and per radio choice. ``entry_field`` writes the same markup (the widgets,
claims/widgets.py, render in Python too); tests/test_entry_fields.py compares
it with the include for every field of those forms, bound and unbound, with
errors and hostile values.
"""

from django import template
from django.utils.safestring import SafeString, mark_safe

from claims.markup import esc

register = template.Library()
# BoundField.widget_type of a RadioSelect, Django's or claims.widgets' own.
RADIO_GROUPS = ("radioselect", "fastradioselect")


def field_errors(field) -> str:
    """templates/claims/claim_form_errors.html."""
    if not field.errors:
        return ""
    errors = "".join(f'<p class="error">{esc(error)}</p>' for error in field.errors)
    return f'<div class="field-errors" id="{esc(field.auto_id)}_error">{errors}</div>'


def _radio_group(field) -> str:
    described = ""
    if field.help_text or field.errors:
        ids = f"{esc(field.auto_id)}_helptext" if field.help_text else ""
        if field.errors:
            ids += f" {esc(field.auto_id)}_error"
        described = f' aria-describedby="{ids}"'
    choices = "".join(
        f'<label class="choice" for="{esc(choice.id_for_label)}">'
        f"{esc(choice.tag())} {esc(choice.choice_label)}</label>"
        for choice in field
    )
    return (
        f'<fieldset class="choices"{described}>\n'
        f"      <legend>{esc(field.label)}</legend>\n      {choices}\n    </fieldset>"
    )


@register.simple_tag
def entry_field(field, css_class: str = "", defer_errors: bool = False) -> SafeString:
    """One labelled field with its help and errors, as claim_form_field.html
    (``css_class`` its ``class``; ``defer_errors`` leaves the errors out)."""
    required = field.field.required
    classes = "field"
    if field.errors:
        classes += " has-error"
    if required:
        classes += " required"
    if css_class:
        classes += f" {esc(css_class)}"
    if field.widget_type == "checkbox":
        body = (
            f'<span class="check">{esc(field)} <label for="{esc(field.id_for_label)}">'
            f"{esc(field.label)}</label></span>"
        )
    elif field.widget_type in RADIO_GROUPS:
        body = _radio_group(field)
    else:
        mark = '<span class="req" aria-hidden="true"> *</span>' if required else ""
        body = (
            f'<label for="{esc(field.id_for_label)}">{esc(field.label)}{mark}</label>\n'
            f"    {esc(field)}"
        )
    help_text = ""
    if field.help_text:
        help_text = (
            f'<p class="help" id="{esc(field.auto_id)}_helptext">'
            f"{esc(field.help_text)}</p>"
        )
    errors = "" if defer_errors else field_errors(field)
    return mark_safe(  # noqa: S308 - every part escaped (the widgets render themselves)
        f'<div class="{classes}">\n  {body}\n  {help_text}\n  {errors}\n</div>'
    )
