"""REST endpoints for sources and documents.

Reads go through visible_to(), writes through editable_by() and claims.actions,
filters through the FilterSets the pages use. A grade is never written by a
source PATCH: it changes only through POST /sources/{id}/grade/ (managers), with
a rationale, as on the source page.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from analysts.api import AnalystsAndManagersWrite, AnalystsWrite, ManagersOnly
from claims import actions
from sources import reliability
from sources.filters import DocumentFilter, SourceFilter, with_citation_count
from sources.forms import (
    DESCRIPTION_MAX,
    DOCUMENT_TEXT_MAX,
    GradeForm,
    ReliabilityFilterForm,
)
from sources.models import Document, Grade, Source


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 1000,
        "anyOf": [{"format": "uri"}, {"maxLength": 0}],
        "description": "A web address (http or https), or empty.",
    }
)
class OptionalUrl(serializers.CharField):
    """A URL or nothing: the schema says so (an empty string is no "uri")."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=1000, required=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if value:
            try:
                URLValidator()(value)
            except DjangoValidationError:
                raise ValidationError("Enter a valid URL (http or https).") from None
        return value


class VisibleSources(serializers.PrimaryKeyRelatedField):
    """A source id the requesting user may see; any other id is "does not
    exist", so the answer tells nothing about records out of sight."""

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        user = request.user if request is not None else None
        if user is None:
            return Source.objects.none()
        return Source.objects.visible_to(user)


class SourceSerializer(serializers.ModelSerializer):
    parent = VisibleSources(
        allow_null=True,
        required=False,
        help_text="The larger body this source is part of; the top of the chain "
        "is its origin.",
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX, required=False, allow_blank=True
    )
    citation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "country",
            "description",
            "grade",
            "parent",
            "origin",
            "citation_count",
            "created_at",
            "updated_at",
        ]
        # Grades change only through the grade endpoint, with a rationale.
        read_only_fields = ["grade", "origin", "created_at", "updated_at"]

    def validate(self, attrs: dict) -> dict:
        source = Source(**{**self._current(), **attrs})
        try:
            source.clean()
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {"pk": self.instance.pk, "parent": self.instance.parent}


class GradeChangeSerializer(serializers.Serializer):
    grade = serializers.ChoiceField(choices=Grade.choices)
    rationale = serializers.CharField(
        help_text="Why the grade changes; kept in the grade history."
    )


class SourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Sources of information and their reliability grades."""

    serializer_class = SourceSerializer
    filterset_class = SourceFilter
    permission_classes = [AnalystsAndManagersWrite]

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        if self.action in ("update", "partial_update"):
            sources = Source.objects.editable_by(user)
        else:
            sources = Source.objects.visible_to(user)
        return with_citation_count(sources.select_related("parent", "origin"))

    def perform_create(self, serializer: SourceSerializer) -> None:
        source = Source(**serializer.validated_data)
        actions.save_source(self.request.user, source)
        serializer.instance = self.get_queryset().get(pk=source.pk)

    def perform_update(self, serializer: SourceSerializer) -> None:
        source = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(source, name, value)
        actions.save_source(self.request.user, source)

    @extend_schema(
        request=GradeChangeSerializer,
        responses={200: SourceSerializer},
        summary="Change a source's reliability grade (managers)",
    )
    @action(detail=True, methods=["post"], permission_classes=[ManagersOnly])
    def grade(self, request, pk=None) -> Response:
        source = self.get_object()
        incoming = GradeChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        # The page's form holds the rules (a different grade, a real rationale).
        form = GradeForm(incoming.validated_data, source=source)
        if not form.is_valid():
            raise ValidationError(form.errors)
        actions.change_grade(
            request.user,
            source,
            form.cleaned_data["grade"],
            form.cleaned_data["rationale"],
        )
        fresh = self.get_queryset().get(pk=source.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_200_OK)


class DocumentSerializer(serializers.ModelSerializer):
    publisher = VisibleSources()
    url = OptionalUrl()
    archived_copy = OptionalUrl(help_text="Where an archived copy is kept.")
    text = serializers.CharField(
        max_length=DOCUMENT_TEXT_MAX, required=False, allow_blank=True
    )
    citation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "publisher",
            "published_on",
            "url",
            "kind",
            "archived_copy",
            "retracted",
            "text",
            "citation_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class DocumentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Publications and statements in which claims were read."""

    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    permission_classes = [AnalystsWrite]

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        if self.action in ("update", "partial_update"):
            documents = Document.objects.editable_by(user)
        else:
            documents = Document.objects.visible_to(user)
        return with_citation_count(documents.select_related("publisher"))

    def perform_create(self, serializer: DocumentSerializer) -> None:
        document = Document(**serializer.validated_data)
        actions.save_document(self.request.user, document)
        serializer.instance = self.get_queryset().get(pk=document.pk)

    def perform_update(self, serializer: DocumentSerializer) -> None:
        document = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(document, name, value)
        actions.save_document(self.request.user, document)


class ReliabilityRowSerializer(serializers.Serializer):
    """One source's (or origin's) track record against reviewers' rulings."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    country = serializers.CharField()
    grade = serializers.CharField(help_text="The grade assigned.")
    suggested = serializers.CharField(help_text="The grade the record suggests.")
    agreement = serializers.CharField()
    mismatch = serializers.BooleanField()
    supported = serializers.IntegerField(help_text="Claims it supported.")
    confirmed = serializers.IntegerField()
    refuted = serializers.IntegerField()
    still_open = serializers.IntegerField()
    rulings = serializers.IntegerField()
    accuracy = serializers.FloatField(help_text="Beta posterior mean.")
    low = serializers.FloatField(help_text="90 % credible interval, lower end.")
    high = serializers.FloatField(help_text="90 % credible interval, upper end.")
    firsts = serializers.IntegerField(
        help_text="Claims later confirmed it reported first."
    )
    median_lead = serializers.FloatField(allow_null=True)
    latest = serializers.DateField(allow_null=True)


class ReliabilityView(generics.GenericAPIView):
    """The source reliability report (managers): the same figures, filters and
    sorting as the report page, from sources.reliability."""

    permission_classes = [ManagersOnly]
    serializer_class = ReliabilityRowSerializer
    queryset = Source.objects.none()
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("by", str, enum=["source", "origin"]),
            OpenApiParameter("topic", int),
            OpenApiParameter("period_from", OpenApiTypes.DATE),
            OpenApiParameter("period_to", OpenApiTypes.DATE),
            OpenApiParameter("kind", str, enum=[k.value for k in Source.Kind]),
            OpenApiParameter("country", str),
            OpenApiParameter(
                "ordering",
                str,
                enum=[value for value, _ in reliability.ORDERING_CHOICES],
            ),
        ],
        summary="The source reliability report (managers)",
    )
    def get(self, request) -> Response:
        form = ReliabilityFilterForm(
            request.query_params,
            countries=reliability.countries(),
            orderings=reliability.ORDERING_CHOICES,
        )
        if not form.is_valid():
            raise ValidationError(form.errors)
        data = form.cleaned_data
        selection = reliability.Selection(
            by_origin=data.get("by") == "origin",
            topic=data.get("topic"),
            period_from=data.get("period_from"),
            period_to=data.get("period_to"),
            kind=data.get("kind", ""),
            country=data.get("country", ""),
        )
        records = reliability.sort_records(
            reliability.source_records(request.user, selection),
            data.get("ordering") or reliability.DEFAULT_ORDERING,
        )
        page = self.paginate_queryset(records)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
