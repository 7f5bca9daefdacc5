from django import forms
from django.contrib import admin
from django.db import models

from analysts.admin import AuditedAdmin
from claims import actions
from sources.models import Document, GradeChange, Source


class SourceAdminForm(forms.ModelForm):
    grade_rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required when the grade changes: why this grade.",
    )

    class Meta:
        model = Source
        fields = ("name", "kind", "country", "description", "grade", "parent")

    def clean(self):
        cleaned = super().clean()
        grade_changed = self.instance.pk is not None and "grade" in self.changed_data
        if grade_changed and not cleaned.get("grade_rationale", "").strip():
            self.add_error("grade_rationale", "Say why the grade changes.")
        return cleaned


class GradeChangeInline(admin.TabularInline):
    model = GradeChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "old_grade", "new_grade", "rationale", "changed_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(AuditedAdmin):
    form = SourceAdminForm
    list_display = ("name", "grade", "kind", "country", "parent", "origin")
    list_filter = ("grade", "kind", "country")
    search_fields = ("name", "description", "country")
    list_select_related = ("parent", "origin")
    autocomplete_fields = ("parent",)
    readonly_fields = ("origin", "created_at", "updated_at")
    inlines = (GradeChangeInline,)

    def save_model(self, request, obj, form, change):
        actions.save_source(
            request.user,
            obj,
            grade_rationale=form.cleaned_data.get("grade_rationale", ""),
        )

    def save_related(self, request, form, formsets, change):
        # The action above wrote the audit row; skip AuditedAdmin's.
        admin.ModelAdmin.save_related(self, request, form, formsets, change)


@admin.register(Document)
class DocumentAdmin(AuditedAdmin):
    list_display = ("title", "publisher", "published_on", "kind", "retracted")
    list_filter = ("kind", "retracted")
    search_fields = ("title", "url", "publisher__name")
    date_hierarchy = "published_on"
    autocomplete_fields = ("publisher",)
    # A URL typed without a scheme means https (Django 6's default, adopted now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_select_related = ("publisher",)

    def save_model(self, request, obj, form, change):
        actions.save_document(request.user, obj)

    def save_related(self, request, form, formsets, change):
        # The action above wrote the audit row; skip AuditedAdmin's.
        admin.ModelAdmin.save_related(self, request, form, formsets, change)


@admin.register(GradeChange)
class GradeChangeAdmin(admin.ModelAdmin):
    """Grade history: written with each grade change, never edited."""

    list_display = ("changed_at", "source", "old_grade", "new_grade", "changed_by")
    list_filter = ("new_grade",)
    search_fields = ("source__name", "rationale")
    list_select_related = ("source", "changed_by")
    readonly_fields = [f.name for f in GradeChange._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
