"""REST endpoints for claims, citations, relations, places, topics and reviews.

The rules are the pages' rules, from the same places: Claim.objects.visible_to()
and editable_by() decide which rows a user reads and changes, ClaimFilter filters
and sorts, claims.actions writes (audit row and recomputation in the same
transaction) and claims.review decides the workflow. Every serializer lists its
fields; status, logger, confirmation and grade are never writable here.
"""

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.manager import BaseManager
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from analysts.api import AnalystsWrite, Conflict, ReviewersWrite
from analysts.audit import record, snapshot
from analysts.models import AuditEntry
from claims import actions, review
from claims.confirmation_store import STORED_FIELDS, explanations
from claims.exports import export_response
from claims.filters import ClaimFilter
from claims.imports import MAX_PLACES, facet_problems
from claims.models import (
    Citation,
    Claim,
    Confidence,
    Level,
    LikelihoodTerm,
    Place,
    Relation,
    Review,
    Topic,
    excerpt_digest,
)
from sources.api import VisibleSources
from sources.models import Document


class StableOrdering(OrderingFilter):
    """?ordering= on the fields a view names, with the id breaking ties so that
    pages never shuffle."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering = [*ordering, "id"]
        return ordering


# Lists without a FilterSet of their own: exact-match filters and ordering.
FILTER_AND_ORDER = [DjangoFilterBackend, StableOrdering]
STATEMENT_MAX = 2000
TEXT_MAX = 5000


def refusal_response(refusal: review.Refused) -> Response:
    """A workflow refusal as an answer, not an exception: the refusal's audit row
    must survive, and a raised exception would roll the request back."""
    return Response(
        {"detail": str(refusal), "code": refusal.code}, status=refusal.http_status
    )


class VisibleClaims(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet:
        return Claim.objects.visible_to(self.context["request"].user)


class VisibleDocuments(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet:
        return Document.objects.visible_to(self.context["request"].user)


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class PlaceIds(serializers.Field):
    """Place ids, checked in one query (a list of related fields would ask the
    database once per id)."""

    default_error_messages = {
        "not_a_list": "Give a list of place ids.",
        "too_many": f"A claim has at most {MAX_PLACES} places.",
        "bad_id": "Place ids are positive whole numbers.",
        "unknown": "There is no place with id {ids}.",
    }

    def to_representation(self, places) -> list[int]:
        return [place.pk for place in places.all()]

    def to_internal_value(self, data) -> list[Place]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if len(data) > MAX_PLACES:
            self.fail("too_many")
        if not all(
            isinstance(pk, int) and not isinstance(pk, bool) and 0 < pk < 2**63
            for pk in data
        ):
            self.fail("bad_id")
        found = {place.pk: place for place in Place.objects.filter(pk__in=set(data))}
        missing = sorted(set(data) - set(found))
        if missing:
            self.fail("unknown", ids=", ".join(map(str, missing)))
        return [found[pk] for pk in dict.fromkeys(data)]


class ClaimCitationSerializer(serializers.ModelSerializer):
    """A citation as shown inside its claim; changed through /citations/."""

    source_name = serializers.CharField(source="source.name", read_only=True)
    document_title = serializers.CharField(source="document.title", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Citation
        fields = [
            "id",
            "document",
            "document_title",
            "source",
            "source_name",
            "supports",
            "excerpt",
            "locator",
            "said_on",
            "credibility",
            "grade_at_citation",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ClaimRelationSerializer(serializers.Serializer):
    """A relation as seen from one of its claims; changed through /relations/."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Relation.Kind.choices)
    claim = serializers.IntegerField(help_text="The other claim.")
    rationale = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class ClaimListSerializer(serializers.ListSerializer):
    """Claims, their explanations computed for the whole page in one go (three
    queries, whatever its size), not per claim."""

    def to_representation(self, data) -> list:
        claims = list(data.all() if isinstance(data, BaseManager) else data)
        found = explanations([claim.pk for claim in claims])
        for claim in claims:
            claim.computed_explanation = found.get(claim.pk, ())
        return super().to_representation(claims)


class ClaimSerializer(serializers.ModelSerializer):
    statement = serializers.CharField(max_length=STATEMENT_MAX)
    places = PlaceIds(required=False)
    topic = serializers.PrimaryKeyRelatedField(
        queryset=Topic.objects.all(), allow_null=True, required=False
    )
    logged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="Required to change a claim: the version you read. A stale "
        "version is refused with 409 and the claim as it is now.",
    )
    citations = ClaimCitationSerializer(many=True, read_only=True)
    relations = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField(
        help_text="What the confirmation rests on, in words, one line per "
        "contribution; computed from the claim's evidence as it is now."
    )
    # The stored confirmation but for the level is the claim's
    # ClaimConfirmation's, read with it (claim_queryset).
    computed_level = serializers.ChoiceField(
        Level.choices, source="confirmation.computed_level", read_only=True
    )
    likelihood = serializers.FloatField(
        source="confirmation.likelihood", read_only=True
    )
    likelihood_term = serializers.ChoiceField(
        LikelihoodTerm.choices, source="confirmation.likelihood_term", read_only=True
    )
    confidence = serializers.ChoiceField(
        Confidence.choices, source="confirmation.confidence", read_only=True
    )
    summary_rating = serializers.CharField(
        source="confirmation.summary_rating", read_only=True
    )
    confirmation_version = serializers.CharField(
        source="confirmation.confirmation_version", read_only=True
    )

    class Meta:
        model = Claim
        list_serializer_class = ClaimListSerializer
        fields = [
            "id",
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
            "places",
            "topic",
            "actors",
            "external_id",
            "status",
            "submission_note",
            "logged_by",
            "version",
            "created_at",
            "updated_at",
            *STORED_FIELDS,
            "explanation",
            "needs_rereview",
            "citations",
            "relations",
        ]
        # The computed confirmation is the store's alone: whatever it stores is
        # read-only here, from the one list (confirmation_store.STORED_FIELDS).
        read_only_fields = [
            "status",
            "submission_note",
            "created_at",
            "updated_at",
            *STORED_FIELDS,
            "needs_rereview",
        ]

    def get_explanation(self, claim: Claim) -> list[str]:
        lines = getattr(claim, "computed_explanation", None)
        if lines is None:
            lines = explanations([claim.pk]).get(claim.pk, ())
        return list(lines)

    @extend_schema_field(ClaimRelationSerializer(many=True))
    def get_relations(self, claim: Claim) -> list[dict]:
        relations = sorted(
            [*claim.relations_as_a.all(), *claim.relations_as_b.all()],
            key=lambda relation: relation.pk,
        )
        return [
            {
                "id": relation.pk,
                "kind": relation.kind,
                "claim": relation.claim_b_id
                if relation.claim_a_id == claim.pk
                else relation.claim_a_id,
                "rationale": relation.rationale,
                "created_by": relation.created_by.get_username(),
                "created_at": serializers.DateTimeField().to_representation(
                    relation.created_at
                ),
            }
            for relation in relations
        ]

    def validate_statement(self, value: str) -> str:
        return value.strip()

    def validate_external_id(self, value: str | None) -> str | None:
        # Empty means none: two claims without one must not collide.
        return (value or "").strip() or None

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None and "version" not in attrs:
            raise ValidationError(
                {"version": "Give the version you read: a change needs it."}
            )
        merged = {
            name: getattr(self.instance, name)
            for name in Claim.EDITABLE_FIELDS
            if self.instance is not None
        }
        merged.update(attrs)
        problems = facet_problems(merged)
        if problems:
            raise ValidationError(problems)
        return attrs


def claim_queryset(user) -> QuerySet:
    """Claims with everything the representation shows, in a fixed number of
    queries whatever the page size."""
    return (
        Claim.objects.visible_to(user)
        .with_confirmation_row()
        .prefetch_related(
            "places",
            Prefetch(
                "citations",
                queryset=Citation.objects.select_related(
                    "source", "document", "created_by"
                ),
            ),
            Prefetch(
                "relations_as_a",
                queryset=Relation.objects.select_related("created_by"),
            ),
            Prefetch(
                "relations_as_b",
                queryset=Relation.objects.select_related("created_by"),
            ),
        )
    )


class SubmitSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=review.RATIONALE_MAX_CHARS
    )
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class ClaimViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Claims with their facets, citations, relations and how confirmed they are.

    Filters and sorting are the claim list's (ClaimFilter); `ordering` takes its
    values. Changing a claim needs the `version` read: a stale one is answered
    409 with the claim as it is now. A ruled claim is locked (409).
    """

    serializer_class = ClaimSerializer
    filterset_class = ClaimFilter
    permission_classes = [AnalystsWrite]

    def get_queryset(self) -> QuerySet:
        return claim_queryset(self.request.user)

    def editable_object(self) -> Claim:
        """The claim to change: 404 when out of sight, 409 when ruled (locked),
        403 when it is someone else's."""
        claim = self.get_object()
        user = self.request.user
        if Claim.objects.editable_by(user).filter(pk=claim.pk).exists():
            return claim
        if claim.is_ruled:
            raise Conflict(
                f"Claim #{claim.pk} is ruled {claim.get_status_display()}: its "
                "statement and facets are locked until a reviewer reopens it."
            )
        raise PermissionDenied(
            f"Claim #{claim.pk} was logged by {claim.logged_by.get_username()}: "
            "only they (or an administrator) change it."
        )

    def current(self, claim: Claim) -> dict:
        fresh = self.get_queryset().get(pk=claim.pk)
        return ClaimSerializer(fresh, context=self.get_serializer_context()).data

    def perform_create(self, serializer: ClaimSerializer) -> None:
        data = dict(serializer.validated_data)
        places = data.pop("places", None)
        data.pop("version", None)
        claim = Claim(**data, logged_by=self.request.user)
        actions.save_claim(self.request.user, claim, places=places)
        serializer.instance = self.get_queryset().get(pk=claim.pk)

    def update(self, request, *args, **kwargs) -> Response:
        partial = kwargs.pop("partial", False)
        claim = self.editable_object()
        serializer = self.get_serializer(claim, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        places = data.pop("places", None)
        expected = data.pop("version")
        for name, value in data.items():
            setattr(claim, name, value)
        try:
            with transaction.atomic():
                actions.save_claim(
                    request.user, claim, places=places, expected_version=expected
                )
        except review.ChangedMeanwhile as refusal:
            raise Conflict(str(refusal), current=self.current(claim)) from None
        except review.Refused as refusal:
            return refusal_response(refusal)
        return Response(self.current(claim))

    @extend_schema(
        request=SubmitSerializer,
        responses={200: ClaimSerializer},
        summary="Submit a claim for review (its analyst)",
    )
    @action(detail=True, methods=["post"], permission_classes=[AnalystsWrite])
    def submit(self, request, pk=None) -> Response:
        claim = self.get_object()
        incoming = SubmitSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            actions.submit_claim(
                request.user,
                claim,
                incoming.validated_data.get("note", ""),
                expected_version=incoming.validated_data.get("version"),
            )
        except review.Refused as refusal:
            return refusal_response(refusal)
        return Response(self.current(claim))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as",
                str,
                enum=["json", "csv"],
                description="The file format: JSON (the import format, the "
                "default) or CSV.",
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        },
        summary="Export the filtered claims in the import format",
        filters=True,
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request) -> Response:
        kind = request.query_params.get("as", "json")
        if kind not in ("json", "csv"):
            raise ValidationError({"as": "Give json or csv."})
        # The list's filters (ClaimFilter), through the same backend.
        claims = self.filter_queryset(Claim.objects.visible_to(request.user))
        return export_response(claims, kind)


class CitationSerializer(serializers.ModelSerializer):
    claim = VisibleClaims()
    document = VisibleDocuments()
    source = VisibleSources()
    excerpt = serializers.CharField(max_length=TEXT_MAX)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Citation
        fields = [
            "id",
            "claim",
            "document",
            "source",
            "supports",
            "excerpt",
            "locator",
            "said_on",
            "credibility",
            "grade_at_citation",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["grade_at_citation", "created_at"]

    def validate_claim(self, claim: Claim) -> Claim:
        if self.instance is not None and claim.pk != self.instance.claim_id:
            raise ValidationError("A citation stays with its claim.")
        check_claim_editable(self.context["request"].user, claim)
        return claim

    def validate(self, attrs: dict) -> dict:
        merged = {
            "claim": getattr(self.instance, "claim", None),
            "document": getattr(self.instance, "document", None),
            "source": getattr(self.instance, "source", None),
            "excerpt": getattr(self.instance, "excerpt", ""),
            **attrs,
        }
        duplicates = Citation.objects.filter(
            claim=merged["claim"],
            document=merged["document"],
            source=merged["source"],
            excerpt_digest=excerpt_digest(merged["excerpt"]),
        )
        if self.instance is not None:
            duplicates = duplicates.exclude(pk=self.instance.pk)
        if duplicates.exists():
            raise ValidationError(
                {
                    "excerpt": "This source's excerpt of this document is already "
                    "cited for the claim."
                }
            )
        return attrs


def check_claim_editable(user, claim: Claim) -> None:
    """Citations and relations are part of a claim: changing them needs the claim
    to be changeable by the user, as on the claim's page."""
    if Claim.objects.editable_by(user).filter(pk=claim.pk).exists():
        return
    if claim.is_ruled:
        raise ValidationError(
            f"Claim #{claim.pk} is ruled {claim.get_status_display()}: it is "
            "locked until a reviewer reopens it."
        )
    raise ValidationError(
        f"Claim #{claim.pk} was logged by {claim.logged_by.get_username()}: only "
        "they (or an administrator) change its citations and relations."
    )


class CitationViewSet(viewsets.ModelViewSet):
    """Source S supports (or denies) claim C in document D. Written only on
    claims the user may change; the claim's confirmation is recomputed."""

    serializer_class = CitationSerializer
    permission_classes = [AnalystsWrite]
    filter_backends = FILTER_AND_ORDER
    filterset_fields = ["claim", "document", "source", "supports"]
    ordering_fields = ["id", "created_at", "credibility", "said_on"]

    def get_queryset(self) -> QuerySet:
        return Citation.objects.visible_to(self.request.user).select_related(
            "claim", "claim__logged_by", "created_by"
        )

    def perform_create(self, serializer: CitationSerializer) -> None:
        citation = Citation(**serializer.validated_data, created_by=self.request.user)
        with transaction.atomic():
            actions.add_citation(self.request.user, citation)
        serializer.instance = citation

    def perform_update(self, serializer: CitationSerializer) -> None:
        check_claim_editable_or_deny(self.request.user, serializer.instance.claim)
        citation = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(citation, name, value)
        with transaction.atomic():
            actions.update_citation(self.request.user, citation)

    def perform_destroy(self, citation: Citation) -> None:
        check_claim_editable_or_deny(self.request.user, citation.claim)
        actions.delete_citation(self.request.user, citation)


def check_claim_editable_or_deny(user, claim: Claim) -> None:
    try:
        check_claim_editable(user, claim)
    except ValidationError as error:
        detail = error.detail[0] if isinstance(error.detail, list) else error.detail
        if claim.is_ruled:
            raise Conflict(str(detail)) from None
        raise PermissionDenied(str(detail)) from None


class RelationSerializer(serializers.ModelSerializer):
    claim_a = VisibleClaims()
    claim_b = VisibleClaims()
    rationale = serializers.CharField(max_length=TEXT_MAX)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Relation
        fields = [
            "id",
            "claim_a",
            "claim_b",
            "kind",
            "rationale",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        # The pair's uniqueness is checked in validate(), in either order.
        validators = []

    def validate(self, attrs: dict) -> dict:
        first = attrs.get("claim_a", getattr(self.instance, "claim_a", None))
        second = attrs.get("claim_b", getattr(self.instance, "claim_b", None))
        if self.instance is not None and {first.pk, second.pk} != {
            self.instance.claim_a_id,
            self.instance.claim_b_id,
        }:
            raise ValidationError(
                {"claim_b": "A relation keeps its two claims; make a new one."}
            )
        if first.pk == second.pk:
            raise ValidationError({"claim_b": "A claim cannot be related to itself."})
        if self.instance is None:
            user = self.context["request"].user
            editable = Claim.objects.editable_by(user).filter(
                pk__in=[first.pk, second.pk]
            )
            if not editable.exists():
                raise ValidationError(
                    {
                        "claim_a": "Relate a claim you may change (your own, "
                        "unruled) to another."
                    }
                )
            low, high = sorted((first.pk, second.pk))
            if Relation.objects.filter(claim_a_id=low, claim_b_id=high).exists():
                raise ValidationError(
                    {"claim_b": "These two claims are already related."}
                )
        return attrs


class RelationViewSet(viewsets.ModelViewSet):
    """Two claims corroborate or contradict each other (symmetric: stored with
    the lower id as claim_a)."""

    serializer_class = RelationSerializer
    permission_classes = [AnalystsWrite]
    filter_backends = FILTER_AND_ORDER
    filterset_fields = ["claim_a", "claim_b", "kind"]
    ordering_fields = ["id", "created_at"]

    def get_queryset(self) -> QuerySet:
        return Relation.objects.visible_to(self.request.user).select_related(
            "created_by"
        )

    def check_either_end_editable(self, relation: Relation) -> None:
        user = self.request.user
        editable = Claim.objects.editable_by(user).filter(
            pk__in=[relation.claim_a_id, relation.claim_b_id]
        )
        if not editable.exists():
            raise PermissionDenied(
                "Neither claim of this relation is one you may change."
            )

    def perform_create(self, serializer: RelationSerializer) -> None:
        data = serializer.validated_data
        low, high = sorted((data["claim_a"], data["claim_b"]), key=lambda c: c.pk)
        relation = Relation(
            claim_a=low,
            claim_b=high,
            kind=data["kind"],
            rationale=data["rationale"],
            created_by=self.request.user,
        )
        with transaction.atomic():
            actions.add_relation(self.request.user, relation)
        serializer.instance = relation

    def perform_update(self, serializer: RelationSerializer) -> None:
        relation = serializer.instance
        self.check_either_end_editable(relation)
        for name in ("kind", "rationale"):
            if name in serializer.validated_data:
                setattr(relation, name, serializer.validated_data[name])
        with transaction.atomic():
            actions.update_relation(self.request.user, relation)

    def perform_destroy(self, relation: Relation) -> None:
        self.check_either_end_editable(relation)
        actions.delete_relation(self.request.user, relation)


class PlaceSerializer(serializers.ModelSerializer):
    latitude = serializers.FloatField(
        min_value=-90, max_value=90, allow_null=True, required=False
    )
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, allow_null=True, required=False
    )

    class Meta:
        model = Place
        fields = ["id", "name", "country", "latitude", "longitude"]


class TopicSerializer(serializers.ModelSerializer):
    description = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True
    )

    class Meta:
        model = Topic
        fields = ["id", "name", "description"]


class AuditedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Places and topics carry no confirmation, so no workflow: a save and its
    audit row, in one transaction."""

    permission_classes = [AnalystsWrite]

    @transaction.atomic
    def perform_create(self, serializer) -> None:
        obj = serializer.save()
        record(self.request.user, AuditEntry.Action.CREATE, obj, after=snapshot(obj))

    @transaction.atomic
    def perform_update(self, serializer) -> None:
        before = snapshot(serializer.instance)
        obj = serializer.save()
        record(
            self.request.user,
            AuditEntry.Action.UPDATE,
            obj,
            before=before,
            after=snapshot(obj),
        )


def shared_vocabulary(model, user) -> QuerySet:
    """Places and topics are read by every role holder, as on the pages."""
    if user.is_authenticated and user.is_staff_member:
        return model.objects.all()
    return model.objects.none()


class PlaceViewSet(AuditedViewSet):
    """Named places claims are about."""

    serializer_class = PlaceSerializer
    filter_backends = FILTER_AND_ORDER
    filterset_fields = {"name": ["exact", "icontains"], "country": ["exact"]}
    ordering_fields = ["name", "country", "id"]

    def get_queryset(self) -> QuerySet:
        return shared_vocabulary(Place, self.request.user)


class TopicViewSet(AuditedViewSet):
    """Subject areas claims are filed under."""

    serializer_class = TopicSerializer
    filter_backends = FILTER_AND_ORDER
    filterset_fields = {"name": ["exact", "icontains"]}
    ordering_fields = ["name", "id"]

    def get_queryset(self) -> QuerySet:
        return shared_vocabulary(Topic, self.request.user)


class ReviewSerializer(serializers.ModelSerializer):
    claim = VisibleClaims()
    level_at = serializers.ChoiceField(
        choices=Level.choices,
        allow_blank=True,
        read_only=True,
        help_text="The computed level when the ruling was made.",
    )
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    outcome = serializers.ChoiceField(choices=Review.Outcome.choices)
    rationale = serializers.CharField(max_length=review.RATIONALE_MAX_CHARS)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        write_only=True,
        help_text="The claim's version you read; a ruling on a claim changed "
        "since is refused (409).",
    )

    class Meta:
        model = Review
        fields = [
            "id",
            "claim",
            "reviewer",
            "outcome",
            "rationale",
            "likelihood_at",
            "level_at",
            "created_at",
            "version",
        ]
        read_only_fields = ["likelihood_at", "level_at", "created_at"]


class ReviewViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Reviewers' rulings, append-only. Creating one rules on the claim
    (confirmed, refuted, sent back) or reopens a ruled claim, under the review
    workflow's rules: reviewers only, four-eyes, the allowed transitions."""

    serializer_class = ReviewSerializer
    permission_classes = [ReviewersWrite]
    filter_backends = FILTER_AND_ORDER
    filterset_fields = ["claim", "outcome", "reviewer"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> QuerySet:
        return Review.objects.visible_to(self.request.user).select_related("reviewer")

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        claim, outcome = data["claim"], data["outcome"]
        try:
            if outcome == Review.Outcome.REOPENED:
                ruling = actions.reopen_claim(
                    request.user,
                    claim,
                    data["rationale"],
                    expected_version=data.get("version"),
                )
            else:
                ruling = actions.rule_claim(
                    request.user,
                    claim,
                    outcome,
                    data["rationale"],
                    expected_version=data.get("version"),
                )
        except review.Refused as refusal:
            return refusal_response(refusal)
        return Response(
            self.get_serializer(ruling).data, status=status.HTTP_201_CREATED
        )
