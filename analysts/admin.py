from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from analysts.audit import record, snapshot
from analysts.models import Analyst, AuditEntry


class AuditedAdmin(admin.ModelAdmin):
    """Writes an audit row for every create, change and delete made in the admin."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        self._pending_audit = (obj, before, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj, before, change = self._pending_audit
        record(
            request.user,
            AuditEntry.Action.UPDATE if change else AuditEntry.Action.CREATE,
            obj,
            before=before,
            after=snapshot(obj),
        )

    def delete_model(self, request, obj):
        record(request.user, AuditEntry.Action.DELETE, obj, before=snapshot(obj))
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Analyst)
class AnalystAdmin(UserAdmin):
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "roles",
        "is_active",
        "is_superuser",
        "last_login",
    )
    list_filter = ("groups", "is_active", "is_superuser", "is_staff")

    @admin.display(description="roles")
    def roles(self, obj: Analyst) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all())) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail: readable by administrators, changeable by nobody."""

    list_display = (
        "at",
        "actor_username",
        "action",
        "model",
        "object_id",
        "object_repr",
    )
    list_filter = ("action", "model")
    search_fields = ("actor_username", "object_repr", "object_id", "note")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
