from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Grade(models.TextChoices):
    """NATO Admiralty source reliability (STANAG 2511)."""

    A = "A", "A – completely reliable"
    B = "B", "B – usually reliable"
    C = "C", "C – fairly reliable"
    D = "D", "D – not usually reliable"
    E = "E", "E – unreliable"
    F = "F", "F – reliability cannot be judged"


GRADE_VALUES = [g.value for g in Grade]


class SourceQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SourceQuerySet":
        if user.is_authenticated and user.is_staff_member:
            return self
        return self.none()

    def editable_by(self, user) -> "SourceQuerySet":
        if user.is_authenticated and (user.is_analyst or user.is_manager):
            return self
        return self.none()

    def lineage_of(self, source: "Source") -> "SourceQuerySet":
        """The source and every source part of it, at any depth."""
        ids = {source.pk}
        frontier = {source.pk}
        while frontier:
            frontier = (
                set(
                    self.model.objects.filter(parent_id__in=frontier).values_list(
                        "pk", flat=True
                    )
                )
                - ids
            )
            ids |= frontier
        return self.filter(pk__in=ids)


class Source(models.Model):
    """Who originates information: a government, an agency, a person, an outlet,
    an unnamed human source, a sensor. Carries a reliability grade set by managers.

    A source may be part of another; the top of that chain is its origin, stored
    so that claims can count independent origins in one query.
    """

    class Kind(models.TextChoices):
        GOVERNMENT = "government", "government"
        AGENCY = "agency", "agency or organ"
        PERSON = "person", "named person"
        MEDIA = "media", "media outlet"
        ORGANIZATION = "organization", "organisation or institute"
        UNNAMED = "unnamed", "unnamed human source"
        SENSOR = "sensor", "sensor"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    country = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    grade = models.CharField(
        max_length=1, choices=Grade.choices, default=Grade.F, db_index=True
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parts",
        verbose_name="part of",
    )
    origin = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        editable=False,
        help_text="Top of the 'part of' chain; derived.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("change_grade", "Can change a source's reliability grade"),
            ("view_reliability_report", "Can view the source reliability report"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__in=GRADE_VALUES), name="source_grade_admiralty"
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="source_not_part_of_itself"
            ),
        ]
        indexes = [
            # The country filters list the distinct countries on every page:
            # an index-only scan rather than a sort of every source.
            models.Index(fields=["country"], name="source_country"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.origin_id = self.stored_origin_id() or self.pk
        super().save(*args, **kwargs)
        if self.origin_id is None:
            # A new top-level source is its own origin; its id exists only now.
            self.origin_id = self.pk
            type(self).objects.filter(pk=self.pk).update(origin_id=self.pk)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "parent" in update_fields:
            self.refresh_descendant_origins()

    def get_absolute_url(self) -> str:
        return reverse("sources:source_detail", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        if self.parent_id is None:
            return
        if self.pk is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A source cannot be part of itself."})
        seen = set()
        node = self.parent
        while node is not None:
            if self.pk is not None and node.pk == self.pk:
                raise ValidationError(
                    {
                        "parent": f"{self.parent} is already part of {self}; "
                        "a source cannot be part of itself through a chain."
                    }
                )
            if node.pk in seen:
                break
            seen.add(node.pk)
            node = node.parent

    def ancestors(self) -> list["Source"]:
        """The chain above this source, nearest first; stops on a cycle."""
        chain: list[Source] = []
        seen = {self.pk}
        node = self.parent
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain

    def compute_origin(self) -> "Source | None":
        top_id = self.stored_origin_id()
        return type(self).objects.get(pk=top_id) if top_id else None

    def stored_origin_id(self) -> int | None:
        """The id of the top of the "part of" chain as the database holds it now
        (None for a source part of nothing).

        Read upwards from the stored rows, not through ``self.parent``: a parent
        object loaded before that parent moved would give its old origin.
        """
        if self.parent_id is None:
            return None
        seen = {self.pk}
        top_id = self.parent_id
        while top_id not in seen:
            seen.add(top_id)
            above = (
                type(self)
                .objects.filter(pk=top_id)
                .values_list("parent_id", flat=True)
                .first()
            )
            if above is None:
                break
            top_id = above
        return top_id

    def refresh_descendant_origins(self) -> list[int]:
        """Re-derive the origin of every source below this one; returns the ids."""
        lineage = list(
            Source.objects.lineage_of(self)
            .exclude(pk=self.pk)
            .values_list("pk", flat=True)
        )
        if lineage:
            Source.objects.filter(pk__in=lineage).update(origin_id=self.origin_id)
        return lineage


class GradeChange(models.Model):
    """One change of a source's reliability grade with the manager's rationale."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="grade_changes"
    )
    old_grade = models.CharField(max_length=1, choices=Grade.choices, blank=True)
    new_grade = models.CharField(max_length=1, choices=Grade.choices)
    rationale = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="grade_changes",
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(new_grade__in=GRADE_VALUES), name="gradechange_new_grade"
            ),
            models.CheckConstraint(
                condition=~Q(rationale=""), name="gradechange_rationale_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.old_grade or '—'} → {self.new_grade}"


class DocumentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DocumentQuerySet":
        if user.is_authenticated and user.is_staff_member:
            return self
        return self.none()

    def editable_by(self, user) -> "DocumentQuerySet":
        if user.is_authenticated and user.is_analyst:
            return self
        return self.none()


class Document(models.Model):
    """One publication or statement in which claims were read."""

    class Kind(models.TextChoices):
        STATEMENT = "statement", "statement"
        ARTICLE = "article", "article"
        REPORT = "report", "report"
        VIDEO = "video", "video"
        POST = "post", "post"
        BRIEFING = "briefing", "briefing"

    title = models.CharField(max_length=500)
    publisher = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="documents"
    )
    published_on = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=1000, blank=True, verbose_name="URL")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField(blank=True)
    archived_copy = models.URLField(
        max_length=1000, blank=True, help_text="Where an archived copy is kept."
    )
    retracted = models.BooleanField(
        default=False,
        help_text="A retracted document's citations carry no evidential weight.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-published_on", "title", "id"]
        indexes = [
            models.Index(fields=["url"]),
            # The few retracted documents: the recomputation asks of each
            # citation whether its document is among them (confirmation_store).
            models.Index(
                fields=["id"],
                condition=Q(retracted=True),
                name="document_retracted_idx",
            ),
        ]

    def __str__(self) -> str:
        when = f" ({self.published_on:%Y-%m-%d})" if self.published_on else ""
        return f"{self.title}{when}"

    def get_absolute_url(self) -> str:
        return reverse("sources:document_detail", args=[self.pk])


class SourceSupport(models.Model):
    """A source (or, with ``by_origin``, an origin) supported a claim: the stored
    pair the reliability report counts, kept by ``sources.reliability.refresh`` in
    the transaction that changes the claim's citations, ruling or "part of"."""

    # The unique constraint below, led by the claim, serves as its index.
    claim = models.ForeignKey(
        "claims.Claim",
        # Left behind when a claim is deleted, until refresh() drops them with
        # the sums they counted in (claims.actions.delete_claims calls it).
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="source_supports",
        db_index=False,
    )
    subject = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="supports_given"
    )
    by_origin = models.BooleanField()
    # The claim's status, topic and event time, copied so that a filtered report
    # reads this table alone.
    status = models.CharField(max_length=20)
    topic = models.ForeignKey(
        "claims.Topic",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    time_start = models.DateField(null=True)
    time_end = models.DateField(null=True)
    first_day = models.DateField()
    last_day = models.DateField()
    # Among the claim's supporters, one of those that reported it first (ties too).
    is_first = models.BooleanField()
    # For a first reporter: days until the next supporter's first report.
    lead_days = models.IntegerField(null=True)

    class Meta:
        ordering = ["claim", "by_origin", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "by_origin", "subject"], name="source_support_once"
            )
        ]
        indexes = [
            # A record's latest report after a change, by a backward index scan.
            models.Index(
                fields=["by_origin", "subject", "last_day"],
                name="source_support_subject",
            ),
            # A record's median lead after a change: the subject's leads in order.
            models.Index(
                fields=["by_origin", "subject", "lead_days"],
                condition=Q(status="confirmed", is_first=True, lead_days__isnull=False),
                name="source_support_leads",
            ),
            # The filtered report: a topic's pairs, read from the index alone.
            models.Index(
                fields=["by_origin", "topic"],
                include=[
                    "subject",
                    "claim",
                    "status",
                    "time_start",
                    "time_end",
                    "last_day",
                    "is_first",
                    "lead_days",
                ],
                name="source_support_topic",
            ),
        ]

    def __str__(self) -> str:
        return f"source {self.subject_id} supports claim {self.claim_id}"


class ReportDay(models.Model):
    """A day on which some source reported a claim in support: the report's
    period filter looks here rather than at every citation."""

    claim = models.ForeignKey(
        "claims.Claim",
        # Left behind when a claim is deleted, until refresh() drops them with
        # the sums they counted in (claims.actions.delete_claims calls it).
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="report_days",
        db_index=False,
    )
    # The claim's topic, copied for the filtered report's index.
    topic = models.ForeignKey(
        "claims.Topic",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    day = models.DateField()

    class Meta:
        ordering = ["claim", "day"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "day"], name="report_day_once")
        ]
        indexes = [
            models.Index(fields=["topic", "day", "claim"], name="report_day_topic")
        ]

    def __str__(self) -> str:
        return f"claim {self.claim_id} reported on {self.day}"


class SourceRecord(models.Model):
    """A source's (or origin's) whole track record, summed from its
    SourceSupport rows: what the unfiltered reliability report reads."""

    subject = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="records"
    )
    by_origin = models.BooleanField()
    supported = models.IntegerField()
    confirmed = models.IntegerField()
    refuted = models.IntegerField()
    open = models.IntegerField()
    in_review = models.IntegerField()
    latest = models.DateField(null=True)
    firsts = models.IntegerField()
    median_lead = models.FloatField(null=True)
    # The 90 % interval of the accuracy and the grade it suggests: functions of
    # confirmed and refuted alone, computed in Python (reliability.fill_intervals)
    # and stored so that the report sorts and pages by them in SQL. NULL from the
    # moment the rulings change until the same transaction fills them in.
    low = models.FloatField(null=True)
    high = models.FloatField(null=True)
    suggested = models.CharField(
        max_length=1, choices=Grade.choices, blank=True, db_default=""
    )

    class Meta:
        ordering = ["by_origin", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["by_origin", "subject"], name="source_record_once"
            )
        ]
        indexes = [
            # The report's default order (most rulings first): its first page
            # reads 50 entries, not every record.
            models.Index(
                "by_origin",
                models.F("confirmed") + models.F("refuted"),
                name="source_record_rulings",
            ),
            # The records whose interval a refresh must fill (usually none):
            # found without reading every record, inside the writers' lock.
            models.Index(
                fields=["confirmed", "refuted"],
                condition=Q(low__isnull=True),
                name="source_record_unfilled",
            ),
            # The records a refresh's difference left supporting nothing, which
            # it deletes (reliability.WRITE_CHANGES_SQL): an empty index but
            # for that moment, where the planner read every record (0.7 ms of
            # each logged claim, inside the writers' lock).
            models.Index(
                fields=["by_origin", "subject"],
                condition=Q(supported=0),
                name="source_record_emptied",
            ),
        ]

    def __str__(self) -> str:
        return f"track record of source {self.subject_id}"


class StoredVersion(models.Model):
    """One row whose token changes, in the same transaction, with every write
    to the stored pairs and report days (sources.reliability): a reader that
    sees a token sees the pairs it stands for. The filtered report keeps its
    sums per token in memory. A random token, not a counter: a rolled-back
    change leaves the old token, and no later one repeats it."""

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"stored aggregates version {self.token}"
