"""The Python-rendered inputs and the claim filters' sidebar give exactly the
HTML Django's templates gave (tests/reference/claim_filters.html)."""

from pathlib import Path

import pytest
from django import forms
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.html import parse_html

from claims.filters import ClaimFilter
from claims.models import Claim
from claims.views import listed_claims
from claims.widgets import (
    FastCheckboxSelectMultiple,
    FastDateInput,
    FastNumberInput,
    FastTextInput,
)
from sources.lookups import LookupInput
from tests.factories import ClaimFactory, PlaceFactory, SourceFactory, TopicFactory
from tests.hostile import HOSTILE

REFERENCE = Path(__file__).parent / "reference" / "claim_filters.html"
VALUES = [None, "", "0", 12, "2024-02-29", *HOSTILE]
ATTRS = [None, {"id": "id_x", "required": True, "disabled": False, "size": 30}]


def same_html(ours: str, django: str) -> None:
    assert parse_html(ours) == parse_html(django)


class DjangoDateInput(forms.DateInput):
    input_type = "date"


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize(
    "fast, django",
    [
        (FastTextInput, forms.TextInput),
        (FastNumberInput, forms.NumberInput),
        (FastDateInput, DjangoDateInput),
    ],
)
def test_an_input_renders_as_django_renders_it(fast, django, value, attrs):
    ours = fast().render("x", value, attrs)
    same_html(ours, django().render("x", value, attrs))
    assert "<script>" not in ours


CHOICES = [("a", "Alpha"), ("b&c", 'Bravo "& Charlie"')] + [
    (f"h{i}", text) for i, text in enumerate(HOSTILE)
]


@pytest.mark.parametrize("value", [[], ["a"], ["b&c", "h1"]])
def test_checkboxes_render_as_django_renders_them(value):
    ours = FastCheckboxSelectMultiple(choices=CHOICES)
    django = forms.CheckboxSelectMultiple(choices=CHOICES)
    # The whole widget (Django's template), and each choice's tag (ours).
    same_html(
        ours.render("x", value, {"id": "id_x"}),
        django.render("x", value, {"id": "id_x"}),
    )
    for field_class in (ours, django):
        field_class.attrs = {"id": "id_x"}
    tags = [
        [choice.tag() for choice in form["x"]]
        for form in (
            type("F", (forms.Form,), {"x": forms.MultipleChoiceField(
                choices=CHOICES, widget=widget, required=False)})({"x": value})
            for widget in (FastCheckboxSelectMultiple, forms.CheckboxSelectMultiple)
        )
    ]  # fmt: skip
    for ours_tag, django_tag in zip(*tags, strict=True):
        same_html(ours_tag, django_tag)


class DjangoLookupInput(LookupInput):
    def _render(self, template_name, context, renderer=None):
        return forms.Widget._render(self, template_name, context, renderer)


@pytest.mark.parametrize("value", [None, "", "12", *HOSTILE[:3]])
def test_the_lookup_input_renders_as_before(db, value):
    attrs = {"id": "id_source"}
    ours = LookupInput("sources:source_lookup").render("source", value, attrs)
    django = DjangoLookupInput("sources:source_lookup").render("source", value, attrs)
    same_html(ours, django)


def reference_sidebar(context: dict) -> str:
    template = Engine.get_default().from_string(REFERENCE.read_text())
    return template.render(Context(context))


PARAMS = [
    {},
    {"level": ["corroborated", "single_source"], "confidence": "moderate",
     "status": "open", "kind": Claim.Kind.choices[0][0], "time_from": "2024-01-01",
     "time_to": "2024-02-01", "quantity_min": "10", "quantity_max": "200",
     "has_contradictions": "true", "needs_rereview": "false"},
    # Refused values: field errors and a reversed range.
    {"level": ["nope"], "confidence": "x", "topic": "999999", "time_from":
     "2024-03-01", "time_to": "2024-02-01", "quantity_min": "abc",
     "quantity_max": "1e400", "source": "no such source", "place": "<b>",
     "logged_by": "-1", "needs_rereview": "maybe"},
    *({"q": text, "source": text, "origin": text, "place": text} for text in HOSTILE),
]  # fmt: skip


@pytest.mark.parametrize("queue", [False, True])
@pytest.mark.parametrize("params", PARAMS)
def test_the_sidebar_is_the_reference_sidebar(alice, params, queue):
    topic = TopicFactory(name=HOSTILE[0][:100])
    source = SourceFactory(name=HOSTILE[1])
    place = PlaceFactory(name=HOSTILE[2][:100])
    ClaimFactory(logged_by=alice, topic=topic)
    params = dict(params)
    if params.get("topic") is None and params:
        params.update(topic=topic.pk, source=source.pk, origin=source.pk)
        params.setdefault("place", place.pk)
    request = RequestFactory().get("/claims/", params)
    request.user = alice
    filterset = ClaimFilter(request.GET, queryset=listed_claims(alice), request=request)
    filterset.is_valid()
    context = {
        "form": filterset.form,
        "request": request,
        "clear_url": "/claims/?a=1&b=<2>",
        "queue": queue,
    }
    ours = render_to_string("claims/_claim_filters.html", context)
    same_html(ours, reference_sidebar(context))
    assert "<script>" not in ours
