"""The Python-rendered selects give exactly Django's HTML, escaping included."""

import pytest
from django import forms
from django.test.html import parse_html
from django_filters.widgets import BooleanWidget

from claims.widgets import FastBooleanSelect, FastSelect, FastSelectMultiple
from tests.factories import TopicFactory
from tests.hostile import HOSTILE

CHOICES = [
    ("", "any"),
    (None, "none"),
    ("a", "Alpha"),
    ("a", "Alpha again: only the first is selected, without multiple"),
    (1, "a number"),
    ("b&c", 'Bravo "& Charlie"'),
    ("Group", [("g1", "<b>inside</b>"), ("g2", "Two")]),
    *[(f"h{i}", text) for i, text in enumerate(HOSTILE)],
]


def same_html(ours: str, django: str) -> None:
    # Equal as HTML (Django's templates add blank lines between options).
    assert parse_html(ours) == parse_html(django)


@pytest.mark.parametrize("value", [None, "", "a", 1, "1", "b&c", "g1", "h0", "unknown"])
@pytest.mark.parametrize(
    "attrs", [None, {"id": "id_x", "required": True, "disabled": False}]
)
def test_a_select_renders_as_django_renders_it(value, attrs):
    ours = FastSelect(choices=CHOICES).render("x", value, attrs)
    django = forms.Select(choices=CHOICES).render("x", value, attrs)
    same_html(ours, django)


@pytest.mark.parametrize("value", [[], [""], ["a"], ["a", "g2"], ["h1", "b&c", 1]])
def test_a_multiple_select_renders_as_django_renders_it(value):
    ours = FastSelectMultiple(choices=CHOICES).render("x", value, {"id": "id_x"})
    django = forms.SelectMultiple(choices=CHOICES).render("x", value, {"id": "id_x"})
    same_html(ours, django)


@pytest.mark.parametrize("value", [None, "", "true", "false", True, False])
def test_the_yes_no_select_renders_as_django_filters_renders_it(value):
    ours = FastBooleanSelect().render("x", value, {"id": "id_x"})
    django = BooleanWidget().render("x", value, {"id": "id_x"})
    same_html(ours, django)


def test_a_model_choice_renders_its_rows_as_django_renders_them(db):
    topics = [TopicFactory(name=name) for name in ["Troops", *HOSTILE[:4]]]
    for widget in (FastSelect, forms.Select):
        field = forms.ModelChoiceField(
            queryset=type(topics[0]).objects.order_by("pk"), widget=widget
        )
        html = field.widget.render("topic", topics[2].pk, {"id": "id_topic"})
        if widget is FastSelect:
            ours = html
        else:
            django = html
    same_html(ours, django)
    assert "<script>" not in ours


def test_the_list_filters_show_what_was_chosen(as_user, alice):
    topic = TopicFactory(name="Troops")
    page = (
        as_user(alice)
        .get(
            "/claims/",
            {"has_contradictions": "true", "topic": topic.pk, "status": "open"},
        )
        .content.decode()
    )
    assert '<option value="true" selected>yes</option>' in page
    assert f'<option value="{topic.pk}" selected>Troops</option>' in page
    assert '<option value="open" selected>' in page
