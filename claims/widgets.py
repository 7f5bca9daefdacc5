"""Selects rendered in Python rather than through a template per option.

Django renders each <option> through its own template include; a filter form
with a few hundred options (topics, analysts) spent about half of the claim
list's time there. These widgets give the same HTML as Django's (a test
compares them), with every value and label escaped (conditional_escape, as
format_html does)."""

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django_filters.widgets import BooleanWidget

from claims.markup import esc


def render_attrs(attrs: dict) -> SafeString:
    """As django/forms/widgets/attrs.html: False leaves an attribute out, True
    writes its bare name, anything else its escaped string."""
    if not attrs:
        return mark_safe("")
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {esc(name)}")
        else:
            parts.append(f' {esc(name)}="{esc(str(value))}"')
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped


class PythonRenderedSelectMixin:
    # Widget.render builds the context (and a subclass's render may first adjust
    # the value, as django-filter's BooleanWidget does), then hands it to
    # _render. The options are written straight from the choices: Django's
    # optgroups() builds a dict per option (create_option, build_attrs) that
    # the template then reads, several milliseconds a page for a few hundred.

    def get_context(self, name, value, attrs) -> dict:
        # Select.get_context without ChoiceWidget's option dicts.
        context = forms.Widget.get_context(self, name, value, attrs)
        if self.allow_multiple_selected:
            context["widget"]["attrs"]["multiple"] = True
        return context

    def _render(self, template_name, context, renderer=None) -> SafeString:
        widget = context["widget"]
        chosen = widget["value"]  # format_value(): a list of strings
        out = [
            format_html(
                '<select name="{}"{}>', widget["name"], render_attrs(widget["attrs"])
            )
        ]
        # As ChoiceWidget.optgroups: a group is a choice whose label is a list;
        # without multiple, only the first option of a chosen value is selected.
        multiple = self.allow_multiple_selected
        found = False
        for value, label in self.choices:
            if value is None:
                value = ""
            group = isinstance(label, (list, tuple))
            if group:
                out.append(format_html('\n  <optgroup label="{}">', value))
            options = label if group else ((value, label),)
            for option_value, option_label in options:
                text = str(option_value)
                selected = (multiple or not found) and text in chosen
                found |= selected
                # f-strings with conditional_escape, as format_html escapes its
                # arguments: a few hundred options cost format_html milliseconds.
                out.append(
                    f'\n  <option value="{esc(text)}"'
                    f"{' selected' if selected else ''}>{esc(option_label)}</option>"
                )
            if group:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 - every part escaped


class FastSelect(PythonRenderedSelectMixin, forms.Select):
    pass


class FastSelectMultiple(PythonRenderedSelectMixin, forms.SelectMultiple):
    pass


class FastBooleanSelect(PythonRenderedSelectMixin, BooleanWidget):
    pass


# Django's input.html, directly or through the option template that a
# multiple-choice widget's choices render as ``choice.tag`` (without label).
INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in (
        "input", "text", "date", "number",
        "input_option", "checkbox_option", "radio_option",
    )
)  # fmt: skip


class PythonRenderedInputMixin:
    """<input> as django/forms/widgets/input.html writes it, without a template;
    any other template (a whole multiple-choice widget, a labelled option) is
    still Django's."""

    def _render(self, template_name, context, renderer=None) -> SafeString:
        widget = context["widget"]
        if template_name not in INPUT_TEMPLATES or widget.get("wrap_label"):
            return super()._render(template_name, context, renderer)
        value = widget["value"]
        # {{ widget.value|stringformat:'s' }}: str(), escaped unless safe.
        value_attr = "" if value is None else f' value="{esc(str(value))}"'
        return mark_safe(  # noqa: S308 - every part escaped
            f'<input type="{esc(widget["type"])}" name="{esc(widget["name"])}"'
            f"{value_attr}{render_attrs(widget['attrs'])}>"
        )


class FastTextInput(PythonRenderedInputMixin, forms.TextInput):
    pass


class FastNumberInput(PythonRenderedInputMixin, forms.NumberInput):
    pass


class FastDateInput(PythonRenderedInputMixin, forms.DateInput):
    input_type = "date"


class FastCheckboxSelectMultiple(
    PythonRenderedInputMixin, forms.CheckboxSelectMultiple
):
    pass


class FastRadioSelect(PythonRenderedInputMixin, forms.RadioSelect):
    """Each choice's <input> (``choice.tag``, as claim_form_field.html writes a
    radio group) in Python; the whole group, when rendered at once, is Django's."""


class FastTextarea(forms.Textarea):
    """django/forms/widgets/textarea.html without the template."""

    def _render(self, template_name, context, renderer=None) -> SafeString:
        if template_name != self.template_name:
            return super()._render(template_name, context, renderer)
        widget = context["widget"]
        value = widget["value"]
        return mark_safe(  # noqa: S308 - every part escaped
            f'<textarea name="{esc(widget["name"])}"{render_attrs(widget["attrs"])}>'
            f"\n{esc(value) if value else ''}</textarea>"
        )
