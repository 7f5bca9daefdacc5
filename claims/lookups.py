"""The place picker's lookup endpoint and field (see sources/lookups.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse

from claims.models import Place
from sources.lookups import LookupChoiceField, LookupMultipleChoiceField, find


def lookup_places(query: str) -> list[Place]:
    return find(Place.objects.only("pk", "name"), "name", query, ("name", "pk"))


@login_required
def place_lookup(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        [
            {"id": place.pk, "label": place.name, "detail": f"#{place.pk}"}
            for place in lookup_places(request.GET.get("q", ""))
        ],
        safe=False,
    )


def place_field(**kwargs) -> LookupChoiceField:
    return LookupChoiceField(
        Place.objects.all(), lookup="claims:place_lookup", noun="place", **kwargs
    )


def places_field(**kwargs) -> LookupMultipleChoiceField:
    return LookupMultipleChoiceField(
        Place.objects.all(), lookup="claims:place_lookup", noun="place", **kwargs
    )
