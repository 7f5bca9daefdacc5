from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Now
from django.utils.functional import cached_property

ANALYST = "Analyst"
REVIEWER = "Reviewer"
MANAGER = "Manager"
ROLES = (ANALYST, REVIEWER, MANAGER)


class Analyst(AbstractUser):
    """A person who signs in: analyst, reviewer, manager or administrator.

    Roles are groups (a person may hold several); administrators are superusers.
    """

    class Meta:
        ordering = ["username"]
        verbose_name = "user"

    @cached_property
    def role_names(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, role: str) -> bool:
        return self.is_superuser or role in self.role_names

    @property
    def is_analyst(self) -> bool:
        return self.has_role(ANALYST)

    @property
    def is_reviewer(self) -> bool:
        return self.has_role(REVIEWER)

    @property
    def is_manager(self) -> bool:
        return self.has_role(MANAGER)

    @property
    def is_staff_member(self) -> bool:
        """Holds any role at all: may read the shared archive."""
        return self.is_superuser or bool(self.role_names)


class AuditEntry(models.Model):
    """One recorded change or refused action: who, when (database clock), what,
    and the record before and after. Written by the code that makes the change,
    in the same transaction; never edited."""

    class Action(models.TextChoices):
        CREATE = "create", "created"
        UPDATE = "update", "changed"
        DELETE = "delete", "deleted"
        SUBMIT = "submit", "submitted for review"
        RULE = "rule", "ruled"
        REFUSED = "refused", "refused"
        LOGIN_FAILED = "login_failed", "failed sign-in"

    actor = models.ForeignKey(
        Analyst,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    # Kept apart from the foreign key so the name survives the user's deletion.
    actor_username = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(db_default=Now(), editable=False, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    model = models.CharField(max_length=100, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["model", "object_id", "-at"])]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{who} {self.get_action_display()} {self.model} {self.object_repr}"

    def changed_fields(self) -> list[tuple[str, object, object]]:
        before = self.before or {}
        after = self.after or {}
        keys = sorted(set(before) | set(after))
        return [
            (k, before.get(k), after.get(k))
            for k in keys
            if before.get(k) != after.get(k)
        ]
