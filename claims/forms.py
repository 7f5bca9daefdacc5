"""Logging and editing a claim: the claim's form, its citation and relation rows,
the time phrases analysts type ("early May 2024"), and the search for similar
claims shown before a new one is saved.

``ClaimEntry`` bundles the claim form with its two formsets so that the page is
validated, and saved through ``claims.actions``, as one.
"""

from __future__ import annotations

import calendar
import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.db import IntegrityError, connection
from django.db.models import Q
from django.forms.utils import ErrorDict

from analysts.models import AuditEntry
from claims import actions, review
from claims.choices import LabelColumnChoiceField
from claims.lookups import places_field
from claims.models import (
    Citation,
    Claim,
    ClaimText,
    Credibility,
    Place,
    Relation,
    Review,
    Topic,
)
from claims.widgets import (
    FastDateInput,
    FastRadioSelect,
    FastTextarea,
    FastTextInput,
)
from sources.lookups import document_field, source_field
from sources.models import Document, Source

MAX_ROWS = 50
NAME_MAX = 200

# --------------------------------------------------------------------------
# Time phrases
# --------------------------------------------------------------------------

MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (
        calendar.month_name[number].lower(),
        calendar.month_abbr[number].lower(),
    )
}
MONTHS["sept"] = 9
_MONTH = r"(?P<{}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
_DAY = r"(?P<{}>\d{{1,2}})"
_YEAR = r"(?P<{}>\d{{4}})"
_TO = r"\s*(?:-|and|to|until|till)\s*"

# Thirds of a month (days) and of a year (months), per house style.
PART_OF_MONTH = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}
PART_OF_YEAR = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}
PART_WORDS = {
    "early": "early",
    "beginning of": "early",
    "start of": "early",
    "mid": "mid",
    "middle of": "mid",
    "late": "late",
    "end of": "end",
}
_PART = r"(?P<part>early|beginning of|start of|mid|middle of|late|end of)"
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}


def _m(name: str) -> str:
    return _MONTH.format(name)


def _d(name: str) -> str:
    return _DAY.format(name)


def _y(name: str) -> str:
    return _YEAR.format(name)


@dataclass(frozen=True)
class TimeSpan:
    """What a time phrase means: a start (None when open), an end, a precision."""

    start: date | None
    end: date
    precision: str


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_span(year: int, first: int, last: int) -> TimeSpan:
    return TimeSpan(
        date(year, first, 1),
        date(year, last, _last_day(year, last)),
        Claim.Precision.MONTH,
    )


def _day_span(start: date, end: date) -> TimeSpan:
    return TimeSpan(start, end, Claim.Precision.DAY)


def _normalize(text: str) -> str:
    text = text.lower().strip()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"[,.;](?!\d)", " ", text)
    text = re.sub(r"\bthe\b|\byear\b|\bof year\b", " ", text)
    text = re.sub(r"\bmid\s*-\s*", "mid ", text)
    return " ".join(text.split())


def _parse_plain(text: str) -> TimeSpan | None:
    """A phrase without a leading "by"/"in"; None when it is not understood."""
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        day = date(*map(int, match.groups()))
        return _day_span(day, day)
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = map(int, match.groups())
        return _month_span(year, month, month)
    if match := re.fullmatch(r"(\d{4})", text):
        return TimeSpan(
            date(int(text), 1, 1), date(int(text), 12, 31), Claim.Precision.YEAR
        )
    if match := re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", text):
        first, last = map(int, match.groups())
        return TimeSpan(date(first, 1, 1), date(last, 12, 31), Claim.Precision.YEAR)
    if match := re.fullmatch(rf"{_PART}\s*{_m('month')}\s+{_y('year')}", text):
        year, month = int(match["year"]), MONTHS[match["month"]]
        part = PART_WORDS[match["part"]]
        first, last = PART_OF_MONTH["late" if part == "end" else part]
        last = min(last, _last_day(year, month))
        return _day_span(date(year, month, first), date(year, month, last))
    if match := re.fullmatch(rf"{_PART}\s*{_y('year')}", text):
        year = int(match["year"])
        part = PART_WORDS[match["part"]]
        if part == "end":
            return _month_span(year, 12, 12)
        if match["part"] in ("beginning of", "start of"):
            return _month_span(year, 1, 1)
        return _month_span(year, *PART_OF_YEAR[part])
    if match := re.fullmatch(rf"{_m('month')}\s+{_y('year')}", text):
        month = MONTHS[match["month"]]
        return _month_span(int(match["year"]), month, month)
    if match := re.fullmatch(rf"{_m('first')}{_TO}{_m('last')}\s+{_y('year')}", text):
        first, last = MONTHS[match["first"]], MONTHS[match["last"]]
        return _month_span(int(match["year"]), first, last) if first <= last else None
    if match := re.fullmatch(r"q([1-4])\s*(\d{4})", text):
        quarter, year = int(match[1]), int(match[2])
        return _month_span(year, 3 * quarter - 2, 3 * quarter)
    if match := re.fullmatch(r"(spring|summer|autumn|fall)\s+(\d{4})", text):
        return _month_span(int(match[2]), *SEASONS[match[1]])
    if match := re.fullmatch(rf"{_d('day')}\s+{_m('month')}\s+{_y('year')}", text):
        day = date(int(match["year"]), MONTHS[match["month"]], int(match["day"]))
        return _day_span(day, day)
    if match := re.fullmatch(rf"{_m('month')}\s+{_d('day')}\s+{_y('year')}", text):
        day = date(int(match["year"]), MONTHS[match["month"]], int(match["day"]))
        return _day_span(day, day)
    day_ranges = (
        # between 8 and 13 october 2024 / 8-13 october 2024
        rf"{_d('d1')}{_TO}{_d('d2')}\s+{_m('m2')}\s+{_y('year')}",
        # october 8-13 2024
        rf"{_m('m2')}\s+{_d('d1')}{_TO}{_d('d2')}\s+{_y('year')}",
        # 28 september - 3 october 2024
        rf"{_d('d1')}\s+{_m('m1')}{_TO}{_d('d2')}\s+{_m('m2')}\s+{_y('year')}",
        # september 28 - october 3 2024
        rf"{_m('m1')}\s+{_d('d1')}{_TO}{_m('m2')}\s+{_d('d2')}\s+{_y('year')}",
    )
    for pattern in day_ranges:
        if match := re.fullmatch(rf"(?:between\s+|from\s+)?{pattern}", text):
            year = int(match["year"])
            last_month = MONTHS[match["m2"]]
            first_month = MONTHS[match.groupdict().get("m1") or match["m2"]]
            start = date(year, first_month, int(match["d1"]))
            end = date(year, last_month, int(match["d2"]))
            return _day_span(start, end) if start <= end else None
    return None


def parse_time_text(text: str) -> TimeSpan | None:
    """Read a time as sources put it: "early May 2024", "8–13 October 2024",
    "by the end of the year 2024", "2024-10-08"… None when not understood.

    Early, mid and late split a month into days 1–10, 11–20 and 21–end and a
    year into thirds; "end of 2024" is December. "By …" leaves the start open:
    it says when something will have happened, not when it began.
    """
    text = _normalize(text or "")[:200]
    open_start = False
    if text.startswith("by "):
        open_start, text = True, text[3:]
    text = re.sub(r"^(?:in|on|during|around|circa|c|about)\s+", "", text)
    try:
        span = _parse_plain(text)
    except ValueError:  # 31 February and the like
        return None
    if span is None or (span.start and span.start > span.end):
        return None
    if open_start:
        return TimeSpan(None, span.end, span.precision)
    return span


def infer_precision(start: date | None, end: date | None) -> str:
    """The precision a start–end pair shows: whole years, whole months or days."""
    if start is None or end is None:
        return Claim.Precision.DAY
    whole_month_start = start.day == 1
    whole_month_end = end.day == _last_day(end.year, end.month)
    if whole_month_start and whole_month_end:
        if start.month == 1 and end.month == 12:
            return Claim.Precision.YEAR
        return Claim.Precision.MONTH
    return Claim.Precision.DAY


# --------------------------------------------------------------------------
# Similar claims
# --------------------------------------------------------------------------

SIMILAR_LIMIT = 5
TRIGRAM_THRESHOLD = 0.3
JACCARD_THRESHOLD = 0.25
TOKEN_CANDIDATES = 200
WORD = re.compile(r"[^\W\d_]{3,}")
_STOPWORD_TEXT = (
    "about after also and any are been before being between but by can could did "
    "does for from had has have her his into its may more most not now of off "
    "one only other our out over said says she some than that the their them then "
    "there these they this those through under until very was were what when where "
    "which while who will with would"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def statement_tokens(text: str) -> set[str]:
    return {word for word in WORD.findall(text.lower()) if word not in STOPWORDS}


def trigram_available() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def similar_claims(
    user, statement: str, exclude_pk: int | None = None, limit: int = SIMILAR_LIMIT
) -> list[Claim]:
    """Visible claims whose statement resembles this one, most similar first;
    each carries its score as ``similarity``."""
    # A NUL (refused by the form, but searched while typing) fails PostgreSQL.
    statement = " ".join((statement or "").replace("\x00", " ").split())[:2000]
    tokens = statement_tokens(statement)
    if not tokens:
        return []
    claims = Claim.objects.visible_to(user).only("pk", "statement", "level", "status")
    if exclude_pk is not None:
        claims = claims.exclude(pk=exclude_pk)
    if trigram_available():
        from django.contrib.postgres.search import TrigramSimilarity

        return list(
            claims.annotate(similarity=TrigramSimilarity("statement", statement))
            .filter(similarity__gte=TRIGRAM_THRESHOLD)
            .order_by("-similarity", "-pk")[:limit]
        )
    # Fallback: Jaccard over word tokens, among candidates sharing one of the
    # longest (likely rarest) words, so the scan stays bounded.
    probes = sorted(tokens, key=lambda word: (-len(word), word))[:3]
    anyof = Q()
    for word in probes:
        anyof |= Q(statement__icontains=word)
    scored = []
    for claim in claims.filter(anyof).order_by("-updated_at", "-pk")[:TOKEN_CANDIDATES]:
        theirs = statement_tokens(claim.statement)
        score = len(tokens & theirs) / len(tokens | theirs)
        if score >= JACCARD_THRESHOLD:
            claim.similarity = round(score, 2)
            scored.append(claim)
    scored.sort(key=lambda claim: (-claim.similarity, -claim.pk))
    return scored[:limit]


def lookup_claims(user, query: str, limit: int = 20) -> list[Claim]:
    """Claims to pick for a relation: by number ("42", "#42") or by the words of
    their statement."""
    query = " ".join((query or "").replace("\x00", " ").split())[:200]
    claims = Claim.objects.visible_to(user).only("pk", "statement", "level")
    if not query:
        return []
    number = re.fullmatch(r"#?(\d{1,18})", query)
    words = query.split()[:6]
    text_match = Q()
    for word in words:
        text_match &= Q(statement__icontains=word)
    if connection.vendor == "postgresql":
        # Through the trigram index, which only the copy of the text has.
        texts = ClaimText.objects.filter(text_match).values("claim_id")
        text_match = Q(pk__in=texts)
    if number:
        by_id = list(claims.filter(pk=int(number[1])))
        rest = claims.filter(text_match).exclude(pk=int(number[1]))
        return by_id + list(rest.order_by("-updated_at", "-pk")[: limit - len(by_id)])
    return list(claims.filter(text_match).order_by("-updated_at", "-pk")[:limit])


# --------------------------------------------------------------------------
# Fields and helpers
# --------------------------------------------------------------------------


class QuantityField(forms.DecimalField):
    """A number as people write it: "1,500" or "1 500" as well as "1500"."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "size": 10})

    def to_python(self, value):
        if isinstance(value, str):
            value = re.sub(r"[,_\s\u00a0\u202f']", "", value)
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return f"{value.normalize():,f}"
        return value


class IsoDateField(forms.DateField):
    widget = FastDateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)


def split_names(text: str) -> list[str]:
    """Comma-separated names, trimmed, without repeats (case-insensitively)."""
    seen, names = set(), []
    for raw in (text or "").split(","):
        name = " ".join(raw.split())
        if name and name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def get_or_create_named(model, name: str):
    existing = model.objects.filter(name__iexact=name).order_by("pk").first()
    return existing or model.objects.get_or_create(name=name)[0]


# The copies of fields and widgets that field_copy stands in for: a class
# with another __deepcopy__ of its own gets Django's deep copy.
_FIELD_COPIES = {
    forms.Field.__deepcopy__,
    forms.ChoiceField.__deepcopy__,
    forms.ModelChoiceField.__deepcopy__,
}
_WIDGET_COPIES = {forms.Widget.__deepcopy__, forms.widgets.ChoiceWidget.__deepcopy__}


def field_copy(field: forms.Field) -> forms.Field:
    """The copy of a form field that Django's ``Field.__deepcopy__`` makes
    (its own widget, widget attributes, error messages, validators and a clone
    of a model choice field's queryset, rebound to it), but sharing the
    choices of a plain choice field, which are replaced, never changed in
    place: Django deep-copies each choice, tuple by tuple. A field or widget
    that copies itself otherwise gets Django's deep copy."""
    if (
        type(field).__deepcopy__ not in _FIELD_COPIES
        or type(field.widget).__deepcopy__ not in _WIDGET_COPIES
    ):
        return copy.deepcopy(field)
    copied = copy.copy(field)
    widget = copy.copy(field.widget)
    widget.attrs = field.widget.attrs.copy()
    if isinstance(widget, forms.widgets.ChoiceWidget):
        widget.choices = copy.copy(field.widget.choices)
    copied.widget = widget
    copied.error_messages = field.error_messages.copy()
    copied.validators = field.validators[:]
    if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
        copied.queryset = field.queryset  # a clone, and the widget's choices its own
    return copied


class _FieldsCopiedOnce(dict):
    """A form's base fields, which BaseForm.__init__ deep-copies for each form:
    copied here by field_copy instead. The entry page builds five forms a post;
    their deep copies were about a tenth of its CPU."""

    def __deepcopy__(self, memo) -> dict:
        return {name: field_copy(field) for name, field in self.items()}


class CheapFieldCopies:
    """A form whose fields are copied for it by field_copy (_FieldsCopiedOnce);
    tests/test_claim_entry.py checks that two forms share no field, widget,
    attribute dict, message dict, validator list or queryset."""

    def __init__(self, *args, **kwargs) -> None:
        self.base_fields = _FieldsCopiedOnce(type(self).base_fields)
        super().__init__(*args, **kwargs)


class QuietMixin:
    """A bound form that shows what was typed without judging it: used when the
    page is only re-rendered with one more row."""

    quiet = False

    def full_clean(self) -> None:
        if self.quiet:
            self._errors = ErrorDict()
            self.cleaned_data = {}
            return
        super().full_clean()


class ChecksConstraintsItself:
    """A model form that vouches for the check constraints named in
    ``checked_by_form``: its own cleaning refuses what they refuse, with a
    message on the field, or it does not edit the fields they read. Django
    would otherwise ask the database about each one for every row posted
    (claims.models.ConstraintsCheckedByForm)."""

    checked_by_form: frozenset[str] = frozenset()

    def _post_clean(self) -> None:
        self.instance._checked_by_form = self.checked_by_form
        try:
            super()._post_clean()
        finally:
            del self.instance._checked_by_form


# --------------------------------------------------------------------------
# The claim
# --------------------------------------------------------------------------


class ClaimForm(CheapFieldCopies, ChecksConstraintsItself, QuietMixin, forms.ModelForm):
    checked_by_form = frozenset(
        {
            "claim_quantity_low_le_high",  # _clean_quantity
            "claim_time_start_le_end",  # _clean_time
        }
    )
    quantity_low = QuantityField(
        label="From", required=False, max_digits=20, decimal_places=2
    )
    quantity_high = QuantityField(
        label="To", required=False, max_digits=20, decimal_places=2
    )
    time_text = forms.CharField(
        label="When, as the source put it",
        required=False,
        max_length=100,
        help_text="e.g. “early May 2024”, “8–13 October 2024”, “by the end of "
        "2024”, “2024-10-08”. Start, end and precision are filled from it unless "
        "you set them.",
    )
    time_start = IsoDateField(label="Start", required=False)
    time_end = IsoDateField(label="End", required=False)
    # Places grow with use: searched (or typed by name or number), never listed.
    places = places_field(
        required=False,
        help_text="Type a place's name to search, or its exact name or number; "
        "untick one to remove it.",
    )
    new_places = forms.CharField(
        label="New places",
        required=False,
        max_length=1000,
        help_text="Names the search does not find, comma-separated; they are "
        "created on save (a name already known is reused).",
    )
    topic = LabelColumnChoiceField(
        Topic.objects.none(), required=False, empty_label="— none —"
    )
    new_topic = forms.CharField(
        label="or a new topic",
        required=False,
        max_length=NAME_MAX,
        help_text="Created on save.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    confirm_new = forms.BooleanField(
        label="None of these is my claim: log it anyway", required=False
    )

    class Meta:
        model = Claim
        fields = [
            "statement",
            "kind",
            "quantity_qualifier",
            "quantity_low",
            "quantity_high",
            "quantity_unit",
            "time_text",
            "time_start",
            "time_end",
            "time_precision",
            "places",
            "topic",
            "actors",
        ]
        labels = {
            "statement": "Statement",
            "quantity_qualifier": "Qualifier",
            "quantity_unit": "Unit",
            "time_precision": "Precision",
        }
        help_texts = {
            "statement": "One statement, in one sentence, as the sources make it.",
        }
        widgets = {
            "statement": forms.Textarea(attrs={"rows": 3}),
            "kind": forms.RadioSelect,
            "quantity_unit": forms.TextInput(
                attrs={"size": 14, "placeholder": "soldiers"}
            ),
            "actors": forms.TextInput(attrs={"placeholder": "North Korea, Russia"}),
        }

    # How the page's error summary names fields whose label needs the context of
    # their group.
    summary_labels = {
        "quantity_qualifier": "Quantity qualifier",
        "quantity_low": "Quantity from",
        "quantity_high": "Quantity to",
        "quantity_unit": "Quantity unit",
        "time_text": "Time",
        "time_start": "Time start",
        "time_end": "Time end",
        "time_precision": "Time precision",
        "new_topic": "New topic",
    }

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["places"].queryset = Place.objects.all()
        self.fields["topic"].queryset = Topic.objects.all()
        self.fields["version"].initial = self.instance.version
        self.fields["quantity_qualifier"].choices = [
            ("", "—"),
            *Claim.Qualifier.choices,
        ]
        self.fields["time_precision"].choices = [
            ("", "auto"),
            *Claim.Precision.choices,
        ]
        self.fields["statement"].strip = True

    def clean_new_places(self) -> list[str]:
        names = split_names(self.cleaned_data.get("new_places", ""))
        if any(len(name) > NAME_MAX for name in names):
            raise forms.ValidationError(
                f"A place name has at most {NAME_MAX} characters."
            )
        return names

    def clean_new_topic(self) -> str:
        return " ".join(self.cleaned_data.get("new_topic", "").split())

    def clean(self) -> dict:
        data = super().clean()
        self._clean_quantity(data)
        self._clean_time(data)
        if data.get("topic") and data.get("new_topic"):
            self.add_error("new_topic", "Pick a topic or type a new one, not both.")
        return data

    def _clean_quantity(self, data: dict) -> None:
        low, high = data.get("quantity_low"), data.get("quantity_high")
        for name, value in (("quantity_low", low), ("quantity_high", high)):
            if value is not None and value < 0:
                self.add_error(name, "A count cannot be negative.")
                return
        if low is None and high is None:
            if data.get("quantity_qualifier") or data.get("quantity_unit"):
                self.add_error("quantity_low", "Give the number, or clear the unit.")
            return
        # A single number stands for itself: low = high.
        low = high if low is None else low
        high = low if high is None else high
        if low > high:
            self.add_error("quantity_high", "The upper bound is below the lower one.")
            return
        data["quantity_low"], data["quantity_high"] = low, high

    def _clean_time(self, data: dict) -> None:
        text = data.get("time_text", "")
        start, end = data.get("time_start"), data.get("time_end")
        if any(self.has_error(name) for name in ("time_start", "time_end")):
            return
        explicit = {"time_start", "time_end", "time_precision"} & set(self.changed_data)
        if text and not explicit and ("time_text" in self.changed_data or not start):
            span = parse_time_text(text)
            if span is not None:
                start, end = span.start, span.end
                data["time_precision"] = span.precision
            elif not (start or end):
                self.add_error(
                    "time_text",
                    "This time could not be read. Write it like “early May 2024” "
                    "or “8–13 October 2024”, or fill in start and end.",
                )
                return
        if start and end and start > end:
            self.add_error("time_end", "The end is before the start.")
            return
        if (start or end) and not data.get("time_precision"):
            data["time_precision"] = infer_precision(start, end)
        if not (start or end):
            data["time_precision"] = ""
        data["time_start"], data["time_end"] = start, end

    @property
    def quantity_fields(self) -> list[forms.BoundField]:
        names = ("quantity_qualifier", "quantity_low", "quantity_high", "quantity_unit")
        return [self[name] for name in names]

    def stale(self) -> bool:
        """The claim was saved by someone else since this form was loaded."""
        submitted = self.cleaned_data.get("version")
        return (
            self.instance.pk is not None
            and submitted is not None
            and submitted != self.instance.version
        )

    def resolved_places(self) -> list[Place]:
        places = list(self.cleaned_data.get("places") or [])
        known = {place.name.lower() for place in places}
        for name in self.cleaned_data.get("new_places") or []:
            if name.lower() not in known:
                places.append(get_or_create_named(Place, name))
        return places

    def resolved_topic(self) -> Topic | None:
        if self.cleaned_data.get("new_topic"):
            return get_or_create_named(Topic, self.cleaned_data["new_topic"])
        return self.cleaned_data.get("topic")


# --------------------------------------------------------------------------
# Citations
# --------------------------------------------------------------------------

SUPPORT_CHOICES = [("True", "supports"), ("False", "denies")]


class CitationForm(
    CheapFieldCopies, ChecksConstraintsItself, QuietMixin, forms.ModelForm
):
    checked_by_form = frozenset(
        {
            "citation_credibility_2_to_6",  # the field's choices
            "citation_grade_at_citation_admiralty",  # the source's, not edited
        }
    )
    supports = forms.TypedChoiceField(
        label="The source",
        choices=SUPPORT_CHOICES,
        coerce=lambda value: value == "True",
        widget=FastRadioSelect,
        initial="True",
    )
    credibility = forms.TypedChoiceField(
        label="Credibility of this report",
        choices=Credibility.choices,
        coerce=int,
        widget=FastRadioSelect,
        help_text="Judge the report on its own, before looking up the source's grade.",
    )
    said_on = IsoDateField(label="Date said", required=False)
    new_title = forms.CharField(label="Title", required=False, max_length=500)
    # Documents and sources grow with use: searched, or typed by number or exact
    # name, and validated against the access querysets (sources/lookups.py).
    document = document_field(
        label="Document",
        required=False,
        help_text="Search by title, or type its number; or create it below.",
    )
    source = source_field(
        label="Citing source",
        help_text="Who made the statement. Not necessarily the publisher: an "
        "essay relaying what an intelligence service announced cites the "
        "service.",
    )
    new_publisher = source_field(label="Publisher", required=False)
    new_published_on = IsoDateField(label="Published", required=False)
    new_url = forms.URLField(
        label="URL", required=False, max_length=1000, assume_scheme="https"
    )
    new_kind = forms.ChoiceField(
        label="Kind",
        choices=Document.Kind.choices,
        initial=Document.Kind.ARTICLE,
        required=False,
    )

    NEW_DOCUMENT_FIELDS = (
        "new_title",
        "new_publisher",
        "new_published_on",
        "new_url",
        "new_kind",
    )

    class Meta:
        model = Citation
        fields = [
            "document",
            "source",
            "supports",
            "excerpt",
            "locator",
            "said_on",
            "credibility",
        ]
        labels = {"source": "Citing source", "document": "Document"}
        help_texts = {
            "source": "Who made the statement. Not necessarily the publisher: an "
            "essay relaying what an intelligence service announced cites the "
            "service.",
            "excerpt": "Verbatim, as the document has it.",
        }
        widgets = {
            "excerpt": FastTextarea(attrs={"rows": 3}),
            "locator": FastTextInput(attrs={"placeholder": "p. 3, para. 2"}),
        }

    def __init__(self, *args, user, known: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["document"].queryset = Document.objects.visible_to(
            user
        ).select_related("publisher")
        for name in ("source", "new_publisher"):
            self.fields[name].queryset = Source.objects.visible_to(user).only(
                "pk", "name"
            )
        # Rows the page has read already (the saved citations' documents and
        # sources, those named in the submission): no query per row to name them.
        known = known or {}
        self.fields["document"].remember(known.get("document", ()))
        for name in ("source", "new_publisher"):
            self.fields[name].remember(known.get("source", ()))
        if self.instance.pk:
            self.initial["supports"] = str(self.instance.supports)
        self.new_document: Document | None = None

    def _get_validation_exclusions(self) -> set[str]:
        # The form's fields have checked these against the access querysets and
        # Credibility's choices; the model's checks would repeat them with
        # queries per row (the database's constraints still hold on save).
        return super()._get_validation_exclusions() | {
            "document",
            "source",
            "credibility",
        }

    def clean(self) -> dict:
        data = super().clean()
        title = data.get("new_title", "").strip()
        if data.get("document") and title:
            self.add_error(
                "new_title", "Pick a document or create a new one, not both."
            )
        elif not data.get("document") and not title:
            if not self.has_error("document"):
                self.add_error(
                    "document", "Pick the document, or give a new document's title."
                )
        elif title:
            if not data.get("new_publisher"):
                self.add_error("new_publisher", "Who published the new document?")
            self.new_document = Document(
                title=title,
                publisher=data.get("new_publisher"),
                published_on=data.get("new_published_on"),
                url=data.get("new_url", ""),
                kind=data.get("new_kind") or Document.Kind.ARTICLE,
            )
        return data

    def duplicate_key(self) -> tuple | None:
        document = self.cleaned_data.get("document")
        excerpt = self.cleaned_data.get("excerpt")
        if document is None or not excerpt:
            return None
        return document.pk, " ".join(excerpt.split())


class QuietFormSetMixin:
    quiet = False
    delete_label = "Remove"

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = self.delete_label
        if "id" in form.fields:
            form.fields["id"].label = "Saved row"

    def full_clean(self) -> None:
        if self.quiet:
            self._errors = []
            self._non_form_errors = self.error_class(renderer=self.renderer)
            return
        super().full_clean()


class CitationFormSetBase(QuietFormSetMixin, forms.BaseModelFormSet):
    delete_label = "Remove this citation"

    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.live_forms():
            key = form.duplicate_key()
            if key is None:
                continue
            if key in seen:
                form.add_error(
                    "excerpt", "This excerpt of this document is already cited above."
                )
            seen.add(key)

    def live_forms(self) -> list[CitationForm]:
        """Rows that will exist after saving: filled in and not marked for removal."""
        return [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
        ]


CitationFormSet = forms.modelformset_factory(
    Citation,
    form=CitationForm,
    formset=CitationFormSetBase,
    extra=1,
    can_delete=True,
    max_num=MAX_ROWS,
    absolute_max=MAX_ROWS,
    validate_max=True,
)


# --------------------------------------------------------------------------
# Relations
# --------------------------------------------------------------------------


class RelationForm(
    CheapFieldCopies, ChecksConstraintsItself, QuietMixin, forms.ModelForm
):
    # Its ends are not fields; clean_other_claim refuses the claim itself.
    checked_by_form = frozenset({"relation_ordered_pair_not_self"})
    other_claim = forms.CharField(
        label="Other claim",
        max_length=2100,
        help_text="Its number (e.g. 42), or type words of its statement to search.",
        widget=FastTextInput(
            attrs={"autocomplete": "off", "class": "claim-lookup", "size": 30}
        ),
    )

    class Meta:
        model = Relation
        fields = ["kind", "rationale"]
        labels = {"kind": "This claim", "rationale": "Why"}
        widgets = {
            "kind": FastRadioSelect,
            "rationale": FastTextarea(attrs={"rows": 2}),
        }

    def __init__(
        self, *args, user, claim: Claim, known: dict | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.claim = claim
        # Visible claims the page named by number, read once for every row.
        self.known = known or {}
        self.fields["kind"].initial = Relation.Kind.CORROBORATES
        self.fields["kind"].choices = Relation.Kind.choices
        self.other: Claim | None = None
        if self.instance.pk:
            self.other = self.instance.other(claim)
            self.initial["other_claim"] = str(self.other.pk)

    def clean_other_claim(self) -> Claim:
        text = self.cleaned_data["other_claim"].strip()
        match = re.fullmatch(r"#?\s*(\d{1,18})(?:\D.*)?", text, flags=re.DOTALL)
        if not match:
            raise forms.ValidationError(
                "Type the other claim's number (e.g. 42) or pick it from the search."
            )
        number = int(match[1])
        if self.claim.pk is not None and number == self.claim.pk:
            raise forms.ValidationError("A claim cannot be related to itself.")
        other = self.known.get(number) or (
            Claim.objects.visible_to(self.user)
            .only("pk", "statement", "level")
            .filter(pk=number)
            .first()
        )
        if other is None:
            raise forms.ValidationError(f"There is no claim #{number}.")
        self.other = other
        return other


class RelationFormSetBase(QuietFormSetMixin, forms.BaseModelFormSet):
    delete_label = "Remove this relation"

    def clean(self) -> None:
        if any(self.errors):
            return
        kept = {}
        for form in self.forms:
            other = form.cleaned_data.get("other_claim")
            if other is None:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            if other.pk in kept:
                form.add_error("other_claim", "This claim is already related above.")
            kept[other.pk] = form
        owner = self.form_kwargs["claim"]
        if owner.pk is None or not kept:
            return
        # Rows loaded with the page cover this claim's relations; one made
        # elsewhere since then would collide on save.
        listed = {form.instance.pk for form in self.forms if form.instance.pk}
        taken = (
            Relation.objects.involving(owner)
            .exclude(pk__in=listed)
            .values_list("claim_a_id", "claim_b_id")
        )
        for a, b in taken:
            other_pk = b if a == owner.pk else a
            if other_pk in kept:
                kept[other_pk].add_error(
                    "other_claim", "These two claims are already related."
                )


RelationFormSet = forms.modelformset_factory(
    Relation,
    form=RelationForm,
    formset=RelationFormSetBase,
    extra=1,
    can_delete=True,
    max_num=MAX_ROWS,
    absolute_max=MAX_ROWS,
    validate_max=True,
)


# --------------------------------------------------------------------------
# The page as one
# --------------------------------------------------------------------------


@dataclass
class Difference:
    label: str
    stored: str
    submitted: str


@dataclass
class Conflict:
    """Someone saved the claim after the user loaded the page."""

    changed_by: str
    changed_at: object
    version: int
    differences: list[Difference]


def _display(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Decimal):
        return f"{value.normalize():,f}"
    if isinstance(value, Iterable) and not isinstance(value, str):
        return ", ".join(sorted(str(item) for item in value)) or "—"
    return str(value)


class ClaimEntry:
    """The claim form with its citation and relation rows, validated and saved
    together: all of it or nothing."""

    def __init__(
        self, user, claim: Claim, data=None, *, add_rows: str = "", quiet=False
    ) -> None:
        self.user = user
        self.claim = claim
        self.creating = claim.pk is None
        if data is not None and add_rows:
            data = self._with_one_more_row(data, add_rows)
        self.data = data
        self.form = ClaimForm(data, instance=claim, user=user)
        citations = (
            claim.citations.select_related("document__publisher", "source")
            if claim.pk
            else Citation.objects.none()
        )
        self.citations = CitationFormSet(
            data,
            queryset=citations,
            prefix="citations",
            form_kwargs={"user": user, "known": self._known_rows(citations, data)},
        )
        relations = (
            Relation.objects.involving(claim).select_related("claim_a", "claim_b")
            if claim.pk
            else Relation.objects.none()
        )
        self.relations = RelationFormSet(
            data,
            queryset=relations,
            prefix="relations",
            form_kwargs={
                "user": user,
                "claim": claim,
                "known": self._known_claims(data),
            },
        )
        if quiet:
            for part in (self.form, self.citations, self.relations):
                part.quiet = True
            for form in [*self.citations.forms, *self.relations.forms]:
                form.quiet = True
        self.conflict: Conflict | None = None
        self.similar: list[Claim] = []
        self.problem = ""

    def _known_claims(self, data) -> dict[int, Claim]:
        """The visible claims the relation rows name by number, in one query."""
        numbers = set()
        for key, value in (data or {}).items():
            if re.fullmatch(r"relations-\d{1,3}-other_claim", key):
                match = re.fullmatch(r"#?\s*(\d{1,18})(?:\D.*)?", str(value).strip())
                if match:
                    numbers.add(int(match[1]))
        if not numbers:
            return {}
        claims = (
            Claim.objects.visible_to(self.user)
            .only("pk", "statement", "level")
            .filter(pk__in=sorted(numbers)[: 2 * MAX_ROWS])
        )
        return {claim.pk: claim for claim in claims}

    def _known_rows(self, citations, data) -> dict:
        """The documents and sources this page names, read in one query each:
        those of the saved rows and those submitted by number. The pickers
        list nothing else (claims typed by name are looked up per row)."""
        documents, sources = {}, {}
        for citation in citations:
            documents[citation.document_id] = citation.document
            sources[citation.source_id] = citation.source
        wanted = {"document": set(), "source": set()}
        for key, value in (data or {}).items():
            match = re.fullmatch(
                r"citations-\d{1,3}-(document|source|new_publisher)", key
            )
            number = re.fullmatch(r"#?\s*(\d{1,18})", str(value).strip())
            if match and number:
                kind = "document" if match[1] == "document" else "source"
                wanted[kind].add(int(number[1]))
        wanted["document"] -= set(documents)
        wanted["source"] -= set(sources)
        if wanted["document"]:
            for document in (
                Document.objects.visible_to(self.user)
                .select_related("publisher")
                .filter(pk__in=sorted(wanted["document"])[: 2 * MAX_ROWS])
            ):
                documents[document.pk] = document
        if wanted["source"]:
            for source in (
                # The grade too: the citations' insert takes the grade "as
                # cited" from these rows rather than read them again.
                Source.objects.visible_to(self.user)
                .only("pk", "name", "grade")
                .filter(pk__in=sorted(wanted["source"])[: 3 * MAX_ROWS])
            ):
                sources[source.pk] = source
        return {"document": documents.values(), "source": sources.values()}

    @staticmethod
    def _with_one_more_row(data, prefix: str):
        data = data.copy()
        key = f"{prefix}-TOTAL_FORMS"
        try:
            total = int(data.get(key, "0"))
        except ValueError:
            return data
        data[key] = str(min(total + 1, MAX_ROWS))
        return data

    def is_valid(self) -> bool:
        # Every part is validated so that every error shows at once.
        results = [
            self.form.is_valid(),
            self.citations.is_valid(),
            self.relations.is_valid(),
        ]
        return all(results)

    def has_changed(self) -> bool:
        return (
            self.creating
            or self.form.has_changed()
            or self.citations.has_changed()
            or self.relations.has_changed()
        )

    def confirmed_new(self) -> bool:
        return bool(getattr(self.form, "cleaned_data", {}).get("confirm_new"))

    @property
    def version_value(self) -> int | str:
        """The version the page says it edits: after a conflict, the stored one,
        so that saving again knowingly replaces the other person's changes."""
        if self.conflict is not None:
            return self.conflict.version
        if self.data is not None:
            return self.data.get("version", "")
        return self.claim.version

    def find_similar(self) -> list[Claim]:
        statement = (self.form.data.get("statement") or "")[:2000]
        self.similar = similar_claims(self.user, statement, exclude_pk=self.claim.pk)
        return self.similar

    def find_conflict(self) -> Conflict | None:
        if not self.form.stale():
            return None
        stored = Claim.objects.get(pk=self.claim.pk)
        last = (
            AuditEntry.objects.filter(
                model=Claim._meta.label_lower,
                object_id=str(self.claim.pk),
                action__in=[AuditEntry.Action.CREATE, AuditEntry.Action.UPDATE],
            )
            .order_by("-at", "-pk")
            .first()
        )
        differences = []
        data = self.form.cleaned_data
        for name in ClaimForm.Meta.fields:
            if name == "places":
                theirs = {str(place) for place in stored.places.all()}
                mine = {str(place) for place in data.get("places") or []}
                mine |= set(data.get("new_places") or [])
            elif name == "topic":
                theirs = stored.topic.name if stored.topic else ""
                mine = data.get("new_topic") or (
                    data["topic"].name if data.get("topic") else ""
                )
            else:
                theirs, mine = getattr(stored, name), data.get(name)
                if name in ("kind", "quantity_qualifier", "time_precision"):
                    field = Claim._meta.get_field(name)
                    theirs = dict(field.choices).get(theirs, theirs)
                    mine = dict(field.choices).get(mine, mine)
            if _display(theirs) != _display(mine):
                label = ClaimForm.summary_labels.get(name) or (
                    self.form.fields[name].label or name
                )
                differences.append(Difference(label, _display(theirs), _display(mine)))
        self.conflict = Conflict(
            changed_by=(last.actor_username or "the system") if last else "someone",
            changed_at=last.at if last else None,
            version=stored.version,
            differences=differences,
        )
        return self.conflict

    def save(self) -> Claim:
        """Write everything through claims.actions; raises IntegrityError (with
        nothing written) when the database refuses a row."""
        user = self.user
        claim = self.form.save(commit=False)
        try:
            # One transaction; the new rows inserted and the claims recomputed
            # once, at the end, however many rows the page has.
            with actions.batch():
                claim.topic = self.form.resolved_topic()
                if self.creating:
                    claim.logged_by = user
                actions.save_claim(user, claim, places=self.form.resolved_places())
                self._save_citations(claim)
                self._save_relations(claim)
        except IntegrityError:
            if self.creating:
                # Rolled back: the page must not point at a claim that is not there.
                claim.pk = None
            raise
        return claim

    def _save_citations(self, claim: Claim) -> None:
        user, formset = self.user, self.citations
        for form in formset.deleted_forms:
            if form.instance.pk:
                actions.delete_citation(user, form.instance)
        for form in formset.forms:
            if form in formset.deleted_forms or not form.has_changed():
                continue
            citation = form.save(commit=False)
            if form.new_document is not None:
                actions.save_document(user, form.new_document)
                citation.document = form.new_document
            if citation.pk:
                actions.update_citation(user, citation)
            else:
                citation.claim = claim
                citation.created_by = user
                actions.add_citation(user, citation)

    def _save_relations(self, claim: Claim) -> None:
        user, formset = self.user, self.relations
        for form in formset.deleted_forms:
            if form.instance.pk:
                actions.delete_relation(user, form.instance)
        for form in formset.forms:
            if form in formset.deleted_forms or not form.has_changed():
                continue
            relation = form.save(commit=False)
            relation.claim_a_id, relation.claim_b_id = sorted(
                (claim.pk, form.cleaned_data["other_claim"].pk)
            )
            if relation.pk:
                actions.update_relation(user, relation)
            else:
                relation.created_by = user
                actions.add_relation(user, relation)

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(where, message, anchor id) for every error on the page."""
        summary = []
        if self.problem:
            summary.append(("", self.problem, ""))

        def collect(form, where: str) -> None:
            order = {name: index for index, name in enumerate(form.fields)}
            by_field_order = sorted(
                form.errors.items(), key=lambda item: order.get(item[0], -1)
            )
            for name, errors in by_field_order:
                if name == "__all__":
                    summary.extend((where, str(error), "") for error in errors)
                    continue
                field = form.fields.get(name)
                label = getattr(form, "summary_labels", {}).get(name) or (
                    (field.label if field else name) or name
                )
                anchor = form[name].auto_id if field else ""
                if field and isinstance(field.widget, forms.RadioSelect):
                    anchor += "_0"
                prefix = f"{where} · {label}" if where else label
                summary.extend((prefix, str(error), anchor) for error in errors)

        collect(self.form, "")
        for title, formset in (
            ("Citation", self.citations),
            ("Relation", self.relations),
        ):
            for error in formset.non_form_errors():
                summary.append((f"{title}s", str(error), ""))
            for number, form in enumerate(formset.forms, start=1):
                collect(form, f"{title} {number}")
        return summary


SAVE_REFUSED = (
    "Nothing was saved: the database refused a row, most likely because someone "
    "else changed the same citations or relations meanwhile. Check the rows and "
    "save again."
)


# --------------------------------------------------------------------------
# The review workflow
# --------------------------------------------------------------------------


class SeenStateForm(forms.Form):
    """What the person saw when the page loaded: the claim's version and the
    latest ruling (0 for none), so that a step on a claim that changed since is
    refused rather than taken blind."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    last_review = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args, claim: Claim, last_review: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.claim = claim
        self.fields["version"].initial = claim.version
        self.fields["last_review"].initial = last_review
        for name in ("version", "last_review"):
            self.fields[name].error_messages["required"] = (
                "The form was incomplete: reload the page and try again."
            )

    def clean(self) -> dict:
        data = super().clean()
        # Hidden fields' errors would be invisible: say it once, at the top.
        if self.has_error("version") or self.has_error("last_review"):
            self.errors.pop("version", None)
            self.errors.pop("last_review", None)
            raise forms.ValidationError(
                "The form was incomplete: reload the page and try again."
            )
        return data


def _clean_rationale(text: str) -> str:
    problem = review.rationale_problem(text)
    if problem:
        raise forms.ValidationError(problem)
    return text.strip()


class SubmitForm(SeenStateForm):
    note = forms.CharField(
        label="Note for the reviewer",
        required=False,
        max_length=review.RATIONALE_MAX_CHARS,
        widget=FastTextarea(attrs={"rows": 2}),
        help_text="Optional: what the reviewer should look at first.",
    )


class RulingForm(SeenStateForm):
    outcome = forms.ChoiceField(label="Ruling", widget=forms.RadioSelect)
    rationale = forms.CharField(
        label="Rationale",
        max_length=review.RATIONALE_MAX_CHARS,
        widget=FastTextarea(attrs={"rows": 4}),
        help_text=review.RATIONALE_RULE.replace("Write", "Required; write"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Review.Outcome.choices)
        # A page offers what the claim allows now; a post may name any ruling,
        # so that one made stale by another reviewer is refused by the workflow
        # with who ruled and what, rather than as an unknown choice.
        steps = review.allowed_rulings(self.claim) if not self.is_bound else []
        self.fields["outcome"].choices = [
            (step, labels[step]) for step in steps or review.RULINGS
        ]

    def clean_rationale(self) -> str:
        return _clean_rationale(self.cleaned_data["rationale"])


class ReopenForm(SeenStateForm):
    rationale = forms.CharField(
        label="Why reopen",
        max_length=review.RATIONALE_MAX_CHARS,
        widget=FastTextarea(attrs={"rows": 3}),
        help_text=review.RATIONALE_RULE.replace("Write", "Required; write"),
    )

    def clean_rationale(self) -> str:
        return _clean_rationale(self.cleaned_data["rationale"])
