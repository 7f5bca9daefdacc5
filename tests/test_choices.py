"""Choices read as (pk, label) pairs render as a model choice field's did."""

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.test.html import parse_html

from claims.choices import LabelColumnChoiceField
from claims.filters import ClaimFilter
from claims.forms import ClaimForm
from claims.models import Topic
from claims.views import listed_claims
from claims.widgets import FastSelect
from sources.forms import ReliabilityFilterForm
from tests.factories import ClaimFactory, TopicFactory
from tests.hostile import HOSTILE


def test_the_label_columns_are_what_str_returns(alice, rita):
    # The pairs stand for str(instance): a changed __str__ must fail here.
    for topic in [TopicFactory(name=text[:100]) for text in HOSTILE[:3]]:
        assert str(topic) == topic.name
    for person in get_user_model().objects.all():
        assert str(person) == person.username
    fields = ClaimFilter(queryset=listed_claims(alice)).form.fields
    assert fields["topic"].label_column == "name"
    assert fields["logged_by"].label_column == "username"


@pytest.mark.parametrize("widget", [FastSelect, forms.Select])
@pytest.mark.parametrize("chosen", [None, 2])
def test_the_select_is_the_model_choice_fields_select(db, widget, chosen):
    topics = [TopicFactory(name=text[:100]) for text in ["Troops", *HOSTILE]]
    value = topics[chosen].pk if chosen is not None else None
    ours = LabelColumnChoiceField(Topic.objects.all(), widget=widget, empty_label="x")
    django = forms.ModelChoiceField(Topic.objects.all(), widget=widget, empty_label="x")
    assert parse_html(ours.widget.render("topic", value)) == parse_html(
        django.widget.render("topic", value)
    )


def test_the_forms_using_them_still_choose_objects(alice, rita):
    topic = TopicFactory(name="Troops")
    ClaimFactory(logged_by=alice, topic=topic)
    request = RequestFactory().get(
        "/claims/", {"topic": topic.pk, "logged_by": alice.pk}
    )
    request.user = rita
    filterset = ClaimFilter(request.GET, queryset=listed_claims(rita), request=request)
    assert filterset.is_valid()
    assert filterset.form.cleaned_data["topic"] == topic
    assert filterset.form.cleaned_data["logged_by"] == alice
    page = str(filterset.form["logged_by"])
    assert f'<option value="{alice.pk}" selected>alice</option>' in page
    report = ReliabilityFilterForm(
        {"topic": topic.pk}, countries=[], orderings=[("name", "name")]
    )
    assert report.is_valid(), report.errors
    assert report.cleaned_data["topic"] == topic
    assert "selected>Troops</option>" in str(report["topic"])
    assert isinstance(ClaimForm.base_fields["topic"], LabelColumnChoiceField)
