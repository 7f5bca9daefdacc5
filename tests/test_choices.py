"""Choices read as (pk, label) pairs render as a model choice field's did."""

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.test.html import parse_html

from claims.choices import LabelColumnChoiceField, choice_pairs, compiled
from claims.filters import ClaimFilter, loggers_key
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


def _filter_fields(user) -> dict:
    request = RequestFactory().get("/claims/")
    request.user = user
    return ClaimFilter(
        request.GET, queryset=listed_claims(user), request=request
    ).form.fields


def test_a_keyed_query_is_the_same_for_every_reader_given_its_key(
    alice, bob, rita, max_, ada, nora
):
    # One key, one query: the SQL kept for a key is what Django compiles for
    # any reader who is given that key, so no reader is shown another's choices.
    ClaimFactory(logged_by=bob, topic=TopicFactory(name="Troops"))
    seen = {}
    for person in (alice, bob, rita, max_, ada):
        fields = _filter_fields(person)
        for name in ("topic", "logged_by"):
            field = fields[name]
            assert field.choices_key, (person, name)
            pairs = field.queryset.values_list("pk", field.label_column)
            seen.setdefault(field.choices_key, set()).add(compiled(pairs))
        report = ReliabilityFilterForm(countries=[], orderings=[("name", "name")])
        field = report.fields["topic"]
        pairs = field.queryset.values_list("pk", field.label_column)
        seen.setdefault(field.choices_key, set()).add(compiled(pairs))
    assert len(seen) == 2
    assert all(len(queries) == 1 for queries in seen.values()), seen
    # A reader who does not see every claim has no key: their query is their own.
    assert loggers_key(None) is None
    fields = _filter_fields(nora)
    assert fields["logged_by"].choices_key is None
    assert list(fields["logged_by"].choices) == [("", "any")]


def test_keyed_choices_are_read_afresh_on_every_page(as_user, alice, bob):
    ClaimFactory(logged_by=alice, topic=TopicFactory(name="Troops"))
    client = as_user(alice)
    page = client.get("/claims/").content.decode()
    assert ">Troops</option>" in page and ">alice</option>" in page
    assert ">Shells</option>" not in page and ">bob</option>" not in page
    # Compiled once, run on every page: a new topic and a new logger show.
    TopicFactory(name="Shells")
    ClaimFactory(logged_by=bob)
    page = client.get("/claims/").content.decode()
    assert ">Shells</option>" in page and ">bob</option>" in page


@pytest.mark.parametrize("key", [None, "tests.topics"])
def test_keyed_pairs_are_the_orms(db, key):
    for text in ["Troops", *HOSTILE]:
        TopicFactory(name=text[:100])
    for _ in range(2):  # compiled, then kept
        pairs = choice_pairs(Topic.objects.all(), "name", key)
        assert pairs == list(Topic.objects.values_list("pk", "name"))
        assert choice_pairs(Topic.objects.none(), "name", key) == []
