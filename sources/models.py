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

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        top = self.compute_origin()
        self.origin_id = top.pk if top else self.pk
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
        chain = self.ancestors()
        return chain[-1] if chain else None

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
        indexes = [models.Index(fields=["url"])]

    def __str__(self) -> str:
        when = f" ({self.published_on:%Y-%m-%d})" if self.published_on else ""
        return f"{self.title}{when}"

    def get_absolute_url(self) -> str:
        return reverse("sources:document_detail", args=[self.pk])
