import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, Group
from django.db import models, router
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.functional import cached_property

from analysts import reads

ANALYST = "Analyst"
REVIEWER = "Reviewer"
MANAGER = "Manager"
ROLES = (ANALYST, REVIEWER, MANAGER)


def _roles(pk):
    return Group.objects.filter(user=pk).values_list("name")


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
        if self.pk is None:  # as the relation refuses an unsaved user
            return frozenset(self.groups.values_list("name", flat=True))
        # Read on every page: through SQL compiled once (analysts/reads.py).
        alias = self._state.db or router.db_for_read(Group)
        names = reads.rows("roles", _roles, self.pk, alias)
        return frozenset(name for (name,) in names)

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


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=Now())
        )


class ApiToken(models.Model):
    """A personal key for the REST API, made and revoked by its owner on their
    profile page. Only a SHA-256 hash of the key is kept: the key is shown once,
    when it is made, and cannot be recovered afterwards."""

    # "ct_" marks the key as this application's in logs and secret scanners.
    KEY_PREFIX = "ct_"
    PREFIX_LENGTH = 8

    user = models.ForeignKey(
        Analyst, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    prefix = models.CharField(
        max_length=PREFIX_LENGTH, help_text="The key's first characters, to tell it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @classmethod
    def issue(cls, user: Analyst, name: str, expires_at=None) -> tuple["ApiToken", str]:
        """A new token and its key; the key exists only in the return value."""
        key = cls.KEY_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=key[: cls.PREFIX_LENGTH],
            key_hash=cls.hash_key(key),
            expires_at=expires_at,
        )
        return token, key

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
