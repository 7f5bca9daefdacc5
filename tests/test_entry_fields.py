"""The claim page's form fields written in Python (claims/templatetags/
entry_fields.py) give exactly the HTML of templates/claims/claim_form_field.html,
which the entry page still includes; and the Python-rendered textarea and radio
choices (claims/widgets.py) give Django's."""

import pytest
from django import forms
from django.template.loader import render_to_string
from django.test.html import parse_html

from claims.forms import RelationForm, ReopenForm, RulingForm, SubmitForm
from claims.templatetags.entry_fields import entry_field
from claims.views import citation_add_form
from claims.widgets import FastRadioSelect, FastTextarea
from tests.factories import ClaimFactory
from tests.hostile import HOSTILE

pytestmark = pytest.mark.django_db


def same_html(ours: str, django: str) -> None:
    assert parse_html(ours) == parse_html(django)


def included(field, **extra) -> str:
    return render_to_string("claims/claim_form_field.html", {"field": field, **extra})


def claim_page_forms(alice, data: dict | None) -> list[forms.Form]:
    claim = ClaimFactory(logged_by=alice)
    return [
        citation_add_form(alice, data),
        RelationForm(data, prefix="relate", user=alice, claim=claim),
        SubmitForm(data, prefix="submit", claim=claim),
        RulingForm(data, prefix="rule", claim=claim),
        ReopenForm(data, prefix="reopen", claim=claim),
    ]


def typed(text: str) -> dict:
    """Every field of the claim page's forms given ``text`` (none valid)."""
    fields = (
        "document", "source", "supports", "excerpt", "locator", "said_on",
        "credibility", "kind", "other_claim", "rationale", "note", "outcome",
    )  # fmt: skip
    data = {}
    for prefix in ("cite", "relate", "submit", "rule", "reopen"):
        data |= {f"{prefix}-{name}": text for name in fields}
    return data


@pytest.mark.parametrize(
    "data",
    [None, {}, typed(""), *(typed(text) for text in HOSTILE)],
    ids=["unbound", "empty", "blank", *(f"hostile-{n}" for n in range(len(HOSTILE)))],
)
def test_every_field_of_the_claim_page_renders_as_the_include(alice, data):
    for form in claim_page_forms(alice, data):
        if data is not None:
            form.is_valid()
        for field in form:
            if field.is_hidden:
                continue
            same_html(str(entry_field(field)), included(field))
            assert "<script>" not in str(entry_field(field))


def test_the_class_and_deferred_errors_render_as_the_include(alice):
    form = citation_add_form(alice, typed('"><b>'))
    assert not form.is_valid() and form.errors
    for field in form:
        ours = entry_field(field, css_class='wide "x"', defer_errors=True)
        same_html(
            str(ours), included(field, **{"class": 'wide "x"', "defer_errors": True})
        )


def test_the_forms_errors_reach_the_page(alice):
    form = citation_add_form(alice, typed(""))
    assert not form.is_valid()
    html = str(entry_field(form["excerpt"]))
    assert 'class="field has-error required"' in html
    assert 'id="id_cite-excerpt_error"' in html


VALUES = [None, "", "a", "b&c", *HOSTILE]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("attrs", [None, {"id": "id_x", "rows": 3, "required": True}])
def test_a_textarea_renders_as_django_renders_it(value, attrs):
    ours = FastTextarea().render("x", value, attrs)
    assert ours == forms.Textarea().render("x", value, attrs)


CHOICES = [("a", "Alpha"), ("b&c", 'Bravo "& Charlie"')] + [
    (f"h{n}", text) for n, text in enumerate(HOSTILE)
]


@pytest.mark.parametrize("value", [None, "a", "b&c", "h3", "unknown"])
def test_a_radio_choice_renders_as_django_renders_it(value):
    ours = FastRadioSelect(choices=CHOICES)
    django = forms.RadioSelect(choices=CHOICES)
    for widget in (ours, django):
        widget.is_required = True
    pairs = zip(
        ours.subwidgets("x", value, {"id": "id_x"}),
        django.subwidgets("x", value, {"id": "id_x"}),
        strict=True,
    )
    for fast, slow in pairs:
        fast_choice = forms.boundfield.BoundWidget(ours, fast, None)
        slow_choice = forms.boundfield.BoundWidget(django, slow, None)
        same_html(fast_choice.tag(), slow_choice.tag())
    # The whole group at once is still Django's template.
    same_html(ours.render("x", value), django.render("x", value))


class HostileForm(forms.Form):
    """Labels, help, choices and errors of hostile text, in each kind of field
    the include tells apart."""

    pick = forms.ChoiceField(
        label=HOSTILE[0], help_text=HOSTILE[1], choices=CHOICES, widget=FastRadioSelect
    )
    agree = forms.BooleanField(label=HOSTILE[2], help_text=HOSTILE[3])
    words = forms.CharField(label=HOSTILE[4], widget=FastTextarea, required=False)

    def clean(self):
        for name in self.fields:
            self.add_error(name, HOSTILE[5])


@pytest.mark.parametrize("data", [None, {"pick": "h1", "words": HOSTILE[5]}])
def test_hostile_labels_help_choices_and_errors_render_as_the_include(data):
    form = HostileForm(data)
    if data is not None:
        assert not form.is_valid()
    for field in form:
        ours = str(entry_field(field))
        same_html(ours, included(field))
        assert "<script>" not in ours and "<img" not in ours and "<svg" not in ours
