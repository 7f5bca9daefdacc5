import hashlib
from functools import partial

from django.conf import settings
from django.db import models
from django.db.models import Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.encoding import force_str

from sources.models import GRADE_VALUES, Document, Grade, Source


class ConstraintsCheckedByForm:
    """A model whose entry form may vouch for some of its check constraints.

    Django validates a model form's instance against each check constraint by
    asking the database (a savepoint and a query each) after building an
    expression for every field: on the entry page a few milliseconds a post.
    A form whose own checks cover a constraint, with a field-level message, or
    that does not edit its fields, names it in ``checked_by_form``
    (claims.forms.ChecksConstraintsItself); the database still enforces it.
    """

    _checked_by_form: frozenset[str] = frozenset()

    def get_constraints(self):
        return [
            (model, [c for c in constraints if c.name not in self._checked_by_form])
            for model, constraints in super().get_constraints()
        ]


class Level(models.TextChoices):
    """The word lists use for how confirmed a claim is."""

    UNSOURCED = "unsourced", "unsourced"
    SINGLE_SOURCE = "single_source", "single source"
    CORROBORATED = "corroborated", "corroborated"
    CONTESTED = "contested", "contested"
    CONFIRMED = "confirmed", "confirmed"
    REFUTED = "refuted", "refuted"


class LikelihoodTerm(models.TextChoices):
    """ICD 203 expressions of likelihood, in ascending order."""

    ALMOST_NO_CHANCE = "almost_no_chance", "almost no chance"
    VERY_UNLIKELY = "very_unlikely", "very unlikely"
    UNLIKELY = "unlikely", "unlikely"
    ROUGHLY_EVEN = "roughly_even", "roughly even chance"
    LIKELY = "likely", "likely"
    VERY_LIKELY = "very_likely", "very likely"
    ALMOST_CERTAIN = "almost_certain", "almost certain"


class Confidence(models.TextChoices):
    LOW = "low", "low"
    MODERATE = "moderate", "moderate"
    HIGH = "high", "high"


class Credibility(models.IntegerChoices):
    """Admiralty information credibility as typed at intake; 1 is only derived."""

    PROBABLY_TRUE = 2, "2 – probably true"
    POSSIBLY_TRUE = 3, "3 – possibly true"
    DOUBTFUL = 4, "4 – doubtful"
    IMPROBABLE = 5, "5 – improbable"
    CANNOT_BE_JUDGED = 6, "6 – truth cannot be judged"


class Topic(models.Model):
    """A subject area claims are filed under, e.g. 'North Korean troops in Russia'."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Place(models.Model):
    """A named place a claim is about, with coordinates where known."""

    name = models.CharField(max_length=200, unique=True)
    country = models.CharField(max_length=100, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90),
                name="place_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True)
                | Q(longitude__gte=-180, longitude__lte=180),
                name="place_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClaimQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ClaimQuerySet":
        if user.is_authenticated and user.is_staff_member:
            return self
        return self.none()

    def is_every_claim(self) -> bool:
        """Whether this queryset (a reader's visible_to()) holds every claim,
        unfiltered: what lets a reader skip per-claim visibility checks and
        read the archive-wide stored aggregates."""
        return not self.query.is_empty() and not self.query.where

    def editable_by(self, user) -> "ClaimQuerySet":
        """Claims whose statement and facets the user may change: analysts their
        own unruled claims; administrators any unruled claim."""
        if not user.is_authenticated:
            return self.none()
        unruled = self.filter(status__in=[Claim.Status.OPEN, Claim.Status.IN_REVIEW])
        if user.is_superuser:
            return unruled
        if user.is_analyst:
            return unruled.filter(logged_by=user)
        return self.none()

    def awaiting_review(self) -> "ClaimQuerySet":
        # The condition of claim_queue_idx: keep the two the same.
        return self.filter(Q(status=Claim.Status.IN_REVIEW) | Q(needs_rereview=True))

    def with_waiting_since(self) -> "ClaimQuerySet":
        """Annotate since when each claim has waited for review: when it was
        last submitted, else (imported in review) when it was logged. The
        expression of claim_queue_idx, which serves the queue's order."""
        return self.annotate(waiting_since=Coalesce("submitted_at", "created_at"))

    def with_involvement(self, user) -> "ClaimQuerySet":
        """Annotate whether the user logged each claim, cited a source for it or
        related it to another claim: the three things four-eyes forbids a
        reviewer to rule on. Subqueries, so the cost does not grow with rows."""
        return self.annotate(
            logged_by_me=ExpressionWrapper(
                Q(logged_by_id=user.pk), output_field=models.BooleanField()
            ),
            cited_by_me=Exists(
                Citation.objects.filter(claim=OuterRef("pk"), created_by_id=user.pk)
            ),
            related_by_me=Exists(
                Relation.objects.filter(
                    Q(claim_a=OuterRef("pk")) | Q(claim_b=OuterRef("pk")),
                    created_by_id=user.pk,
                )
            ),
        )

    def not_involving(self, user) -> "ClaimQuerySet":
        """Claims the user may rule on as far as four-eyes goes."""
        return (
            self.exclude(logged_by_id=user.pk)
            .exclude(
                Exists(
                    Citation.objects.filter(claim=OuterRef("pk"), created_by_id=user.pk)
                )
            )
            .exclude(
                Exists(
                    Relation.objects.filter(
                        Q(claim_a=OuterRef("pk")) | Q(claim_b=OuterRef("pk")),
                        created_by_id=user.pk,
                    )
                )
            )
        )

    def with_list_data(self) -> "ClaimQuerySet":
        """Rows for the lists (claim list, queue, dashboard, export): the topic
        and the analyst joined, and the stored confirmation's fields as
        columns of the row (_Confirmed reads them), not a ClaimConfirmation
        per row: fifty model instances fewer a page, and no claim and
        confirmation pointing at each other, a cycle that only the garbage
        collector frees."""
        return self.select_related("topic", "logged_by").annotate(
            **{
                f"{LISTED}{field.name}": F(f"confirmation__{field.name}")
                for field in ClaimConfirmation._meta.concrete_fields
                if not field.primary_key
            }
        )

    def with_confirmation_row(self) -> "ClaimQuerySet":
        """Claims with their ClaimConfirmation itself (the claim page, the API)."""
        return self.select_related("topic", "logged_by", "confirmation")

    def bulk_create(self, objs, batch_size=None, **kwargs) -> list:
        """The claims, each with its ClaimConfirmation (as Claim.save makes it)."""
        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            raise ValueError("claims are created with their confirmation rows")
        created = super().bulk_create(objs, batch_size=batch_size, **kwargs)
        rows = ClaimConfirmation.objects.bulk_create(
            [ClaimConfirmation(claim=claim) for claim in created],
            batch_size=batch_size,
        )
        for claim, row in zip(created, rows, strict=True):
            claim.confirmation = row
        return created


# The prefix of the columns that carry ClaimConfirmation's fields in a list's
# rows (ClaimQuerySet.with_list_data).
LISTED = "listed_"


class _Confirmed:
    """A field of the claim's ClaimConfirmation read as the claim's own
    (``claim.likelihood``, ``claim.get_confidence_display()``), for the pages,
    exports and rules that read a claim's confirmation: from the row itself
    when the claim has it (select_related("confirmation"), or one the store
    gave it), else from the list row's column (with_list_data), else read.
    Only confirmation_store writes it, so setting it on the claim is refused.
    ``display``: the field whose label a get_FOO_display() returns."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, claim, owner=None):
        if claim is None:
            return self
        if "confirmation" not in claim._state.fields_cache:
            # Every stored field is NOT NULL: None is a claim without its row,
            # which the row's own read reports as before.
            listed = claim.__dict__.get(f"{LISTED}{self.display or self.name}")
            if listed is not None:
                if self.display is None:
                    return listed
                label = CONFIRMATION_LABELS[self.display].get(listed, listed)
                # As Model._get_FIELD_display: a lazy label made a string.
                return partial(force_str, label, strings_only=True)
        return getattr(claim.confirmation, self.name)

    def __set__(self, claim, value) -> None:
        raise AttributeError(
            f"{self.name} is the claim's ClaimConfirmation's: set it there"
        )


class Claim(ConstraintsCheckedByForm, models.Model):
    """One statement, in one sentence, with optional structured facets.

    The confirmation fields are computed from the claim's citations, relations,
    the grades of the sources involved and its ruling, and stored so that lists
    sort and filter at scale.
    """

    class Kind(models.TextChoices):
        REPORTED_FACT = "reported_fact", "reported fact"
        FORECAST = "forecast", "forecast or intention"
        ASSESSMENT = "assessment", "assessment"

    class Qualifier(models.TextChoices):
        EXACT = "exact", "exactly"
        ABOUT = "about", "about"
        AT_LEAST = "at_least", "at least"
        AT_MOST = "at_most", "at most"

    class Precision(models.TextChoices):
        DAY = "day", "day"
        MONTH = "month", "month"
        YEAR = "year", "year"

    class Status(models.TextChoices):
        OPEN = "open", "open"
        IN_REVIEW = "in_review", "in review"
        CONFIRMED = "confirmed", "confirmed"
        REFUTED = "refuted", "refuted"

    statement = models.TextField(max_length=2000)
    kind = models.CharField(
        max_length=20, choices=Kind.choices, default=Kind.REPORTED_FACT
    )
    quantity_low = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True
    )
    quantity_high = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True
    )
    quantity_unit = models.CharField(max_length=100, blank=True)
    quantity_qualifier = models.CharField(
        max_length=10, choices=Qualifier.choices, blank=True
    )
    time_start = models.DateField(null=True, blank=True)
    time_end = models.DateField(null=True, blank=True)
    time_precision = models.CharField(
        max_length=10, choices=Precision.choices, blank=True
    )
    time_text = models.CharField(
        max_length=100,
        blank=True,
        help_text="The time as the source put it, e.g. 'early May 2024'.",
    )
    places = models.ManyToManyField(Place, blank=True, related_name="claims")
    # Indexed by claim_topic_list_idx, which leads with it.
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        db_index=False,
    )
    actors = models.CharField(
        max_length=500, blank=True, help_text="Who acts in the claim, comma-separated."
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN
    )
    # Indexed by claim_logged_by_list_idx, which leads with it.
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="logged_claims",
        db_index=False,
    )
    # Unique by a constraint, not unique=True: that would add a second,
    # varchar_pattern_ops index on PostgreSQL, one more write per recomputed claim.
    external_id = models.CharField(max_length=100, null=True, blank=True)
    submission_note = models.TextField(blank=True)
    # When the claim was last submitted for review: the queue's "waiting since".
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: every save of the statement or facets bumps it.
    version = models.PositiveIntegerField(default=1)

    # The level is the one stored confirmation field kept on the claim: the
    # lists filter by it beside the claim's other columns (claim_level_list_idx)
    # and a grade change seldom changes it. The rest, which changes with nearly
    # every recomputation, is ClaimConfirmation's: rewriting a claim's row adds
    # an entry to each of its dozen indexes, a confirmation's to two.
    level = models.CharField(
        max_length=20, choices=Level.choices, default=Level.UNSOURCED
    )
    needs_rereview = models.BooleanField(default=False)

    # The rest of the stored confirmation, ClaimConfirmation's (_Confirmed).
    computed_level = _Confirmed()
    likelihood = _Confirmed()
    likelihood_term = _Confirmed()
    confidence = _Confirmed()
    summary_rating = _Confirmed()
    confirmation_version = _Confirmed()
    report_count = _Confirmed()
    origin_count = _Confirmed()
    get_computed_level_display = _Confirmed(display="computed_level")
    get_likelihood_term_display = _Confirmed(display="likelihood_term")
    get_confidence_display = _Confirmed(display="confidence")

    objects = ClaimQuerySet.as_manager()

    # The statement and facets: what analysts edit and what a ruling locks.
    EDITABLE_FIELDS = (
        "statement",
        "kind",
        "quantity_low",
        "quantity_high",
        "quantity_unit",
        "quantity_qualifier",
        "time_start",
        "time_end",
        "time_precision",
        "time_text",
        "topic",
        "actors",
        "external_id",
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_low__isnull=True)
                | Q(quantity_high__isnull=True)
                | Q(quantity_low__lte=F("quantity_high")),
                name="claim_quantity_low_le_high",
            ),
            models.CheckConstraint(
                condition=Q(time_start__isnull=True)
                | Q(time_end__isnull=True)
                | Q(time_start__lte=F("time_end")),
                name="claim_time_start_le_end",
            ),
            models.UniqueConstraint(
                fields=["external_id"], name="claim_external_id_unique"
            ),
        ]
        # One index per offered order (each ending in id, for keyset pagination)
        # and per common filter followed by the default order, and no more: a
        # recomputation rewrites every index of each changed claim. On PostgreSQL
        # a migration adds "time of event, latest first" (NULLS LAST, which
        # SQLite's indexes cannot declare); the search indexes are ClaimText's.
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="claim_updated_idx"),
            models.Index(fields=["time_start", "id"], name="claim_time_start_idx"),
            models.Index(
                fields=["topic", "-updated_at", "-id"], name="claim_topic_list_idx"
            ),
            models.Index(
                fields=["level", "-updated_at", "-id"], name="claim_level_list_idx"
            ),
            models.Index(
                fields=["status", "-updated_at", "-id"], name="claim_status_list_idx"
            ),
            models.Index(
                fields=["logged_by", "-updated_at", "-id"],
                name="claim_logged_by_list_idx",
            ),
            models.Index(
                fields=["-updated_at", "-id"],
                condition=Q(needs_rereview=True),
                name="claim_rereview_idx",
            ),
            # The review queue, longest waiting first (with_waiting_since).
            models.Index(
                Coalesce("submitted_at", "created_at"),
                F("id"),
                condition=Q(status="in_review") | Q(needs_rereview=True),
                name="claim_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        text = self.statement
        return text if len(text) <= 80 else text[:79] + "…"

    def save(self, *args, **kwargs) -> None:
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            # Every claim has its stored confirmation row from the start, with
            # the values of a claim without evidence until it is recomputed.
            self.confirmation = ClaimConfirmation.objects.create(claim=self)

    def get_absolute_url(self) -> str:
        return reverse("claims:claim_detail", args=[self.pk])

    def refresh_from_db(self, *args, **kwargs) -> None:
        # A list row's confirmation columns are as they were when it was
        # listed: read afresh, the claim reads its ClaimConfirmation instead.
        for name in [name for name in self.__dict__ if name.startswith(LISTED)]:
            del self.__dict__[name]
        super().refresh_from_db(*args, **kwargs)

    @property
    def is_ruled(self) -> bool:
        return self.status in (self.Status.CONFIRMED, self.Status.REFUTED)

    def quantity_display(self) -> str:
        if self.quantity_low is None and self.quantity_high is None:
            return ""

        def fmt(value) -> str:
            return f"{value.normalize():,f}" if value is not None else "?"

        if self.quantity_high is None or self.quantity_low == self.quantity_high:
            number = fmt(
                self.quantity_low
                if self.quantity_low is not None
                else self.quantity_high
            )
        elif self.quantity_low is None:
            number = fmt(self.quantity_high)
        else:
            number = f"{fmt(self.quantity_low)}–{fmt(self.quantity_high)}"
        # get_quantity_qualifier_display(), without its per-call work (the
        # choices made hashable and a dict of them built: a list page's rows
        # spent more on it than on the rest of their facets).
        qualifier = (
            force_str(
                QUALIFIER_LABELS.get(self.quantity_qualifier, self.quantity_qualifier),
                strings_only=True,
            )
            if self.quantity_qualifier
            else ""
        )
        return " ".join(
            part for part in (qualifier, number, self.quantity_unit) if part
        )

    def time_display(self) -> str:
        if self.time_text:
            return self.time_text
        if self.time_start and self.time_end and self.time_start != self.time_end:
            return f"{self.time_start:%Y-%m-%d} – {self.time_end:%Y-%m-%d}"
        day = self.time_start or self.time_end
        return f"{day:%Y-%m-%d}" if day else ""


def labels(model, field_name: str) -> dict:
    """What get_FOO_display() returns for each stored value: a lookup, where
    the method does per call more work (make_hashable of every choice, a dict
    of them) than the rest of a row's cell."""
    return dict(model._meta.get_field(field_name).flatchoices)


QUALIFIER_LABELS = labels(Claim, "quantity_qualifier")


class ClaimConfirmation(models.Model):
    """A claim's stored confirmation but for its level (which the claim keeps):
    computed from its citations, relations, the grades of the sources involved
    and its ruling, written only by claims.confirmation_store.

    Kept apart so that a recomputation, which rewrites these values for every
    claim it changes (a grade change for a hundred thousand), writes narrow
    rows with two indexes rather than the claim's wide row and its dozen
    indexes: at a million claims that UPDATE took a quarter of the time
    (docs/performance.md, sessions 9 and 10). Every claim
    has one, made with it (Claim.save, ClaimQuerySet.bulk_create and the bulk
    loaders' COPY)."""

    claim = models.OneToOneField(
        Claim, on_delete=models.CASCADE, primary_key=True, related_name="confirmation"
    )
    computed_level = models.CharField(
        max_length=20, choices=Level.choices, default=Level.UNSOURCED
    )
    likelihood = models.FloatField(default=0.5)
    likelihood_term = models.CharField(
        max_length=20,
        choices=LikelihoodTerm.choices,
        default=LikelihoodTerm.ROUGHLY_EVEN,
    )
    confidence = models.CharField(
        max_length=10, choices=Confidence.choices, default=Confidence.LOW
    )
    summary_rating = models.CharField(max_length=20, blank=True)
    # The explanation in words is not stored: confirmation_store.explanations()
    # computes it when a page shows it.
    confirmation_version = models.CharField(max_length=20, blank=True)
    # Evidence counts for the lists, stored with the confirmation in the same
    # pass: every citation of the claim, and its distinct origins.
    report_count = models.PositiveIntegerField(default=0)
    origin_count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "claims_confirmation"
        ordering = ["claim_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(likelihood__gte=0, likelihood__lte=1),
                name="claim_likelihood_probability",
            ),
        ]
        # The claim list's "likelihood" orders (keyset: the claim's id breaks
        # ties, and equals claim_id through the join).
        indexes = [
            models.Index(
                fields=["-likelihood", "-claim"], name="confirmation_likelihood_idx"
            ),
        ]

    def __str__(self) -> str:
        return str(self.claim_id)


class ClaimText(models.Model):
    """The words of a claim as PostgreSQL's searches read them: a copy of its
    statement and actors, with the full-text vector and the trigram index.

    Kept apart so that storing a recomputed confirmation, which rewrites the
    claim's row, does not rewrite the GIN indexes of text that did not change.
    Written only by triggers on claims_claim (migration 0006); on SQLite the
    table stays empty and search reads the claims themselves.
    """

    claim = models.OneToOneField(
        Claim, on_delete=models.CASCADE, primary_key=True, related_name="search_text"
    )
    statement = models.TextField()
    actors = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["claim_id"]

    def __str__(self) -> str:
        return str(self.claim_id)


class CitationQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CitationQuerySet":
        return self.filter(claim__in=Claim.objects.visible_to(user))


def excerpt_digest(excerpt: str) -> str:
    normalized = " ".join(excerpt.split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


class Citation(ConstraintsCheckedByForm, models.Model):
    """Source S supports (or denies) claim C in document D, with the verbatim
    excerpt and the analyst's credibility rating of that report on its own."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="citations")
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="citations"
    )
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        related_name="citations",
        help_text="Who made the statement; need not be the document's publisher.",
    )
    supports = models.BooleanField(
        default=True, help_text="Unticked: the source denies the claim."
    )
    excerpt = models.TextField(max_length=5000, help_text="Verbatim.")
    excerpt_digest = models.CharField(max_length=64, editable=False)
    locator = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where in the document: page, paragraph, time.",
    )
    said_on = models.DateField(null=True, blank=True, verbose_name="date said")
    credibility = models.PositiveSmallIntegerField(choices=Credibility.choices)
    grade_at_citation = models.CharField(
        max_length=1,
        choices=Grade.choices,
        editable=False,
        help_text="The source's grade when it was cited.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="citations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CitationQuerySet.as_manager()

    class Meta:
        ordering = ["claim_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credibility__gte=2, credibility__lte=6),
                name="citation_credibility_2_to_6",
            ),
            models.CheckConstraint(
                condition=Q(grade_at_citation__in=GRADE_VALUES),
                name="citation_grade_at_citation_admiralty",
            ),
            models.UniqueConstraint(
                fields=["claim", "document", "source", "excerpt_digest"],
                name="citation_unique_excerpt",
                violation_error_message=(
                    "This source's excerpt of this document is already cited "
                    "for the claim."
                ),
            ),
        ]
        indexes = [models.Index(fields=["source", "claim"])]

    def __str__(self) -> str:
        verb = "supports" if self.supports else "denies"
        return f"{self.source} {verb} claim #{self.claim_id}"

    def save(self, *args, **kwargs) -> None:
        self.excerpt_digest = excerpt_digest(self.excerpt)
        if not self.grade_at_citation and self.source_id:
            self.grade_at_citation = self.source.grade
        super().save(*args, **kwargs)


class RelationQuerySet(models.QuerySet):
    def visible_to(self, user) -> "RelationQuerySet":
        return self.filter(claim_a__in=Claim.objects.visible_to(user))

    def involving(self, claim: Claim) -> "RelationQuerySet":
        return self.filter(Q(claim_a=claim) | Q(claim_b=claim))


class Relation(ConstraintsCheckedByForm, models.Model):
    """Two claims corroborate or contradict each other; symmetric, so one row per
    pair with the lower id first."""

    class Kind(models.TextChoices):
        CORROBORATES = "corroborates", "corroborates"
        CONTRADICTS = "contradicts", "contradicts"

    claim_a = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="relations_as_a"
    )
    claim_b = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="relations_as_b"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    rationale = models.TextField(max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="relations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RelationQuerySet.as_manager()

    class Meta:
        ordering = ["claim_a_id", "claim_b_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim_a__lt=F("claim_b")),
                name="relation_ordered_pair_not_self",
                violation_error_message="A claim cannot be related to itself.",
            ),
            models.UniqueConstraint(
                fields=["claim_a", "claim_b"],
                name="relation_one_per_pair",
                violation_error_message="These two claims are already related.",
            ),
        ]
        indexes = [models.Index(fields=["claim_b", "claim_a"])]

    def __str__(self) -> str:
        return f"#{self.claim_a_id} {self.kind} #{self.claim_b_id}"

    def save(self, *args, **kwargs) -> None:
        if (
            self.claim_a_id is not None
            and self.claim_b_id is not None
            and self.claim_a_id > self.claim_b_id
        ):
            self.claim_a_id, self.claim_b_id = self.claim_b_id, self.claim_a_id
        super().save(*args, **kwargs)

    def other(self, claim: Claim) -> Claim:
        return self.claim_b if claim.pk == self.claim_a_id else self.claim_a


class ReviewQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ReviewQuerySet":
        return self.filter(claim__in=Claim.objects.visible_to(user))

    # Bulk writes skip Review.save and Review.delete: refuse them here as well.
    def update(self, **kwargs) -> int:
        raise ValueError("Reviews are append-only: a ruling is never changed.")

    def delete(self):
        raise ValueError("Reviews are append-only: a ruling is never deleted.")

    delete.queryset_only = True


# The labels a list row's get_FOO_display() gives (_Confirmed).
CONFIRMATION_LABELS = {
    field.name: labels(ClaimConfirmation, field.name)
    for field in ClaimConfirmation._meta.concrete_fields
    if field.choices
}


class Review(models.Model):
    """A reviewer's ruling on a claim, with rationale and the computed result at
    that moment. Append-only: rulings are never edited or deleted."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", "confirmed"
        REFUTED = "refuted", "refuted"
        SENT_BACK = "sent_back", "sent back"
        REOPENED = "reopened", "reopened"

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    rationale = models.TextField(max_length=5000)
    likelihood_at = models.FloatField(null=True, blank=True)
    level_at = models.CharField(max_length=20, choices=Level.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["claim_id", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(rationale=""), name="review_rationale_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} claim #{self.claim_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Reviews are append-only: a ruling is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Reviews are append-only: a ruling is never deleted.")
