"""factory_boy factories for the domain; tests build only what they assert on."""

import factory
from django.apps import apps as django_apps
from django.contrib.auth.models import Group

from analysts.models import Analyst
from analysts.roles import ensure_roles
from claims.confirmation_store import ON_CONFIRMATION
from claims.models import Citation, Claim, ClaimConfirmation, Place, Relation, Topic
from sources.models import Document, Source


class AnalystFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Analyst
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            groups = Group.objects.filter(name__in=extracted)
            if len(groups) < len(set(extracted)):
                # A transactional test's flush empties the tables the data
                # migration filled; put the roles back as a fresh database has them.
                ensure_roles(django_apps)
            self.groups.add(*Group.objects.filter(name__in=extracted))


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"Source {n}")
    kind = Source.Kind.AGENCY
    grade = "C"


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    title = factory.Sequence(lambda n: f"Document {n}")
    publisher = factory.SubFactory(SourceFactory)
    kind = Document.Kind.ARTICLE


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic

    name = factory.Sequence(lambda n: f"Topic {n}")


class PlaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Place

    name = factory.Sequence(lambda n: f"Place {n}")


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    statement = factory.Sequence(lambda n: f"Claim number {n} happened.")
    logged_by = factory.SubFactory(AnalystFactory, roles=["Analyst"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """The claim; stored confirmation values given (likelihood=0.9, ...)
        are set on its ClaimConfirmation, as a test seeding a list needs."""
        stored = {name: kwargs.pop(name) for name in ON_CONFIRMATION if name in kwargs}
        claim = super()._create(model_class, *args, **kwargs)
        if stored:
            ClaimConfirmation.objects.filter(claim=claim).update(**stored)
            for name, value in stored.items():
                setattr(claim.confirmation, name, value)
        return claim


class CitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citation

    claim = factory.SubFactory(ClaimFactory)
    document = factory.SubFactory(DocumentFactory)
    source = factory.SubFactory(SourceFactory)
    excerpt = factory.Sequence(lambda n: f"Excerpt {n}.")
    credibility = 3
    created_by = factory.SelfAttribute("claim.logged_by")


class RelationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Relation

    claim_a = factory.SubFactory(ClaimFactory)
    claim_b = factory.SubFactory(ClaimFactory)
    kind = Relation.Kind.CORROBORATES
    rationale = "Same event, independent reporting."
    created_by = factory.SelfAttribute("claim_a.logged_by")
