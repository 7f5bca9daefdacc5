from django.contrib import admin
from django.utils.html import format_html, format_html_join

from analysts.admin import AuditedAdmin
from claims import actions
from claims.confirmation_store import explanations, recompute_claims, with_related
from claims.models import Citation, Claim, Place, Relation, Review, Topic

CONFIRMATION_FIELDS = (
    "level",
    "computed_level",
    "likelihood",
    "likelihood_term",
    "confidence",
    "summary_rating",
    "confirmation_version",
    "needs_rereview",
)


def badge(kind: str, value: str, label: str) -> str:
    return format_html('<span class="badge {}-{}">{}</span>', kind, value, label)


class CitationInline(admin.StackedInline):
    model = Citation
    extra = 0
    autocomplete_fields = ("document", "source")
    readonly_fields = ("grade_at_citation", "created_by", "created_at")
    fields = (
        ("document", "source", "supports"),
        "excerpt",
        ("locator", "said_on", "credibility"),
        ("grade_at_citation", "created_by", "created_at"),
    )


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "reviewer",
        "outcome",
        "rationale",
        "level_at",
        "likelihood_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Claim)
class ClaimAdmin(AuditedAdmin):
    list_display = (
        "id",
        "statement_short",
        "level_badge",
        "likelihood_badge",
        "confidence_badge",
        "summary_rating",
        "status",
        "topic",
        "updated_at",
    )
    list_display_links = ("id", "statement_short")
    list_filter = (
        "level",
        "confirmation__confidence",
        "confirmation__likelihood_term",
        "status",
        "kind",
        "needs_rereview",
        "topic",
    )
    search_fields = ("statement", "actors", "external_id")
    list_select_related = ("topic", "confirmation")
    autocomplete_fields = ("places", "topic")
    readonly_fields = (
        "status",
        "logged_by",
        "version",
        "created_at",
        "updated_at",
        "explanation_lines",
        *CONFIRMATION_FIELDS,
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "statement",
                    "kind",
                    "topic",
                    "actors",
                    "places",
                    "external_id",
                )
            },
        ),
        (
            "Quantity",
            {
                "fields": (
                    (
                        "quantity_qualifier",
                        "quantity_low",
                        "quantity_high",
                        "quantity_unit",
                    ),
                )
            },
        ),
        (
            "Time",
            {"fields": (("time_start", "time_end", "time_precision"), "time_text")},
        ),
        (
            "How confirmed",
            {
                "fields": (
                    ("level", "computed_level", "confidence"),
                    ("likelihood", "likelihood_term", "summary_rating"),
                    "explanation_lines",
                    ("confirmation_version", "needs_rereview"),
                )
            },
        ),
        (
            "Workflow",
            {
                "fields": (
                    ("status", "logged_by", "version"),
                    "submission_note",
                    ("created_at", "updated_at"),
                )
            },
        ),
    )
    inlines = (CitationInline, ReviewInline)

    @admin.display(description="statement")
    def statement_short(self, obj: Claim) -> str:
        return str(obj)

    # The claim's ClaimConfirmation's fields, shown by their labels.
    @admin.display(description="computed level")
    def computed_level(self, obj: Claim) -> str:
        return obj.get_computed_level_display()

    @admin.display(description="likelihood term")
    def likelihood_term(self, obj: Claim) -> str:
        return obj.get_likelihood_term_display()

    @admin.display(description="confidence")
    def confidence(self, obj: Claim) -> str:
        return obj.get_confidence_display()

    @admin.display(description="level", ordering="level")
    def level_badge(self, obj: Claim) -> str:
        return badge("level", obj.level, obj.get_level_display())

    @admin.display(description="likelihood", ordering="confirmation__likelihood")
    def likelihood_badge(self, obj: Claim) -> str:
        return badge(
            "likelihood", obj.likelihood_term, obj.get_likelihood_term_display()
        )

    @admin.display(description="confidence", ordering="confirmation__confidence")
    def confidence_badge(self, obj: Claim) -> str:
        return badge(
            "confidence", obj.confidence, f"{obj.get_confidence_display()} confidence"
        )

    @admin.display(description="explanation")
    def explanation_lines(self, obj: Claim) -> str:
        lines = explanations([obj.pk]).get(obj.pk) if obj.pk else None
        if not lines:
            return "—"
        return format_html(
            '<ul class="explanation">{}</ul>',
            format_html_join("", "<li>{}</li>", ((line,) for line in lines)),
        )

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_ruled:
            # A ruled claim is locked until a reviewer reopens it.
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.logged_by = request.user
        else:
            obj.version += 1
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        recompute_claims(with_related([form.instance.pk]))

    def delete_model(self, request, obj):
        actions.delete_claim(request.user, obj)

    def delete_queryset(self, request, queryset):
        actions.delete_claims(request.user, queryset)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Citation:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for citation in formset.deleted_objects:
            actions.delete_citation(request.user, citation)
        for citation in instances:
            if citation.pk is None:
                citation.created_by = request.user
                actions.add_citation(request.user, citation)
            else:
                actions.update_citation(request.user, citation)
        formset.save_m2m()


@admin.register(Citation)
class CitationAdmin(AuditedAdmin):
    list_display = (
        "id",
        "claim",
        "source",
        "supports",
        "credibility",
        "grade_at_citation",
        "document",
        "created_by",
        "created_at",
    )
    list_filter = ("supports", "credibility", "grade_at_citation")
    search_fields = ("excerpt", "source__name", "document__title", "claim__statement")
    autocomplete_fields = ("claim", "document", "source")
    readonly_fields = ("grade_at_citation", "created_by", "created_at")
    list_select_related = ("claim", "source", "document", "created_by")

    def save_model(self, request, obj, form, change):
        if change:
            actions.update_citation(request.user, obj)
        else:
            obj.created_by = request.user
            actions.add_citation(request.user, obj)

    def save_related(self, request, form, formsets, change):
        # The action above wrote the audit row; skip AuditedAdmin's.
        admin.ModelAdmin.save_related(self, request, form, formsets, change)

    def delete_model(self, request, obj):
        actions.delete_citation(request.user, obj)


@admin.register(Relation)
class RelationAdmin(AuditedAdmin):
    list_display = ("id", "claim_a", "kind", "claim_b", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("claim_a__statement", "claim_b__statement", "rationale")
    autocomplete_fields = ("claim_a", "claim_b")
    readonly_fields = ("created_by", "created_at")
    list_select_related = ("claim_a", "claim_b", "created_by")

    def save_model(self, request, obj, form, change):
        if change:
            actions.update_relation(request.user, obj)
        else:
            obj.created_by = request.user
            actions.add_relation(request.user, obj)

    def save_related(self, request, form, formsets, change):
        # The action above wrote the audit row; skip AuditedAdmin's.
        admin.ModelAdmin.save_related(self, request, form, formsets, change)

    def delete_model(self, request, obj):
        actions.delete_relation(request.user, obj)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Rulings are append-only and made through the review workflow."""

    list_display = (
        "created_at",
        "claim",
        "outcome",
        "reviewer",
        "level_at",
        "likelihood_at",
    )
    list_filter = ("outcome",)
    search_fields = ("claim__statement", "rationale", "reviewer__username")
    list_select_related = ("claim", "reviewer")
    readonly_fields = [f.name for f in Review._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(AuditedAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)


@admin.register(Place)
class PlaceAdmin(AuditedAdmin):
    list_display = ("name", "country", "latitude", "longitude")
    list_filter = ("country",)
    search_fields = ("name", "country")
