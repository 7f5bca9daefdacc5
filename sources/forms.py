from django import forms

from claims.choices import LabelColumnChoiceField
from claims.models import Topic
from claims.widgets import FastSelect
from sources.lookups import source_field
from sources.models import Document, Grade, Source

DESCRIPTION_MAX = 20_000
DOCUMENT_TEXT_MAX = 500_000
RATIONALE_MAX = 5_000
RATIONALE_MIN_WORDS = 3


class SourceForm(forms.ModelForm):
    """Name, kind and place in the "part of" tree. No grade: grades are set by
    managers through GradeForm, with a rationale."""

    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    # Sources grow with use: searched or typed, never listed (sources/lookups.py).
    parent = source_field(
        label="Part of",
        required=False,
        help_text="The larger body this source belongs to, e.g. an agency's "
        "ministry; search by name or type its number, or leave empty for a "
        "top-level source. The top of the chain is the source's origin.",
    )

    class Meta:
        model = Source
        fields = ["name", "kind", "country", "parent", "description"]

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        parents = Source.objects.visible_to(user).only("pk", "name")
        self.fields["parent"].queryset = parents


class DocumentForm(forms.ModelForm):
    text = forms.CharField(
        required=False,
        max_length=DOCUMENT_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Optional full text, kept as typed.",
    )
    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="URL",
        widget=forms.URLInput(attrs={"placeholder": "https://…"}),
    )
    archived_copy = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        help_text="Where an archived copy is kept.",
        widget=forms.URLInput(attrs={"placeholder": "https://…"}),
    )
    publisher = source_field(
        label="Publisher", help_text="Search by name, or type its number."
    )

    class Meta:
        model = Document
        fields = [
            "title",
            "publisher",
            "published_on",
            "kind",
            "url",
            "archived_copy",
            "retracted",
            "text",
        ]
        widgets = {
            "published_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"published_on": "Published on"}

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["publisher"].queryset = Source.objects.visible_to(user).only(
            "pk", "name"
        )


class GradeForm(forms.Form):
    grade = forms.ChoiceField(choices=Grade.choices, label="New grade")
    rationale = forms.CharField(
        max_length=RATIONALE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the grade changes: the record, an event, a review. "
        "Kept in the grade history.",
    )

    def __init__(self, *args, source: Source, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        if not self.is_bound:
            self.initial.setdefault("grade", source.grade)

    def clean_grade(self) -> str:
        grade = self.cleaned_data["grade"]
        if grade == self.source.grade:
            raise forms.ValidationError(
                f"The source already has grade {grade}; choose a different grade."
            )
        return grade

    def clean_rationale(self) -> str:
        rationale = " ".join(self.cleaned_data["rationale"].split())
        if len(rationale.split()) < RATIONALE_MIN_WORDS:
            raise forms.ValidationError(
                f"Give the reason in at least {RATIONALE_MIN_WORDS} words."
            )
        return self.cleaned_data["rationale"].strip()


class ReliabilityFilterForm(forms.Form):
    """The reliability report's filters; an invalid field is left out, not fatal."""

    by = forms.ChoiceField(
        choices=[("source", "source"), ("origin", "origin")],
        required=False,
        label="One row per",
        help_text="An origin is a source and everything part of it.",
    )
    topic = LabelColumnChoiceField(
        queryset=Topic.objects.all(),
        required=False,
        empty_label="any",
        widget=FastSelect,
        choices_key="claims.Topic:all",
    )
    period_from = forms.DateField(
        required=False,
        label="Period from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    period_to = forms.DateField(
        required=False,
        label="Period to",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Claims whose event falls in the period, or that a source "
        "reported in it.",
    )
    # Selects written in Python (claims.widgets): hundreds of topics through
    # a template per option would cost more than the report's table.
    kind = forms.ChoiceField(required=False, label="Source kind", widget=FastSelect)
    country = forms.ChoiceField(required=False, widget=FastSelect)
    ordering = forms.ChoiceField(required=False, label="Sort by", widget=FastSelect)

    def __init__(self, *args, countries: list[str], orderings, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "any"), *Source.Kind.choices]
        self.fields["country"].choices = [("", "any")] + [(c, c) for c in countries]
        self.fields["ordering"].choices = [("", "Rulings, most first"), *orderings]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and start > end:
            self.add_error("period_to", "The period ends before it starts.")
        return data

    def valid_data(self) -> dict:
        """The filters that passed validation; the others count as unset."""
        self.is_valid()
        # Django drops a field from cleaned_data when it fails validation.
        return self.cleaned_data
