"""The REST API's routes, mounted at /api/v1/ under the namespace "api".

Names follow DRF's router: "api:claim-list", "api:claim-detail", and one per
extra action ("api:source-grade"). Format-suffix patterns are left out: the API
speaks JSON only.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

import analysts.api_schema  # noqa: F401  (registers the token scheme)
from claims.api import (
    CitationViewSet,
    ClaimViewSet,
    PlaceViewSet,
    RelationViewSet,
    ReviewViewSet,
    TopicViewSet,
)
from sources.api import DocumentViewSet, ReliabilityView, SourceViewSet


class Router(DefaultRouter):
    include_format_suffixes = False

    def get_lookup_regex(self, viewset, lookup_prefix: str = "") -> str:
        # Any id reaches the view, which answers a JSON 404 for "1.5" or "abc".
        return rf"(?P<{lookup_prefix}pk>[^/]+)"


def not_found(request: HttpRequest, path: str) -> JsonResponse:
    """Any other path under /api/v1/: the API's 404 body, not the pages' HTML."""
    return JsonResponse({"detail": "Not found."}, status=404)


router = Router()
router.register("claims", ClaimViewSet, basename="claim")
router.register("citations", CitationViewSet, basename="citation")
router.register("relations", RelationViewSet, basename="relation")
router.register("reviews", ReviewViewSet, basename="review")
router.register("sources", SourceViewSet, basename="source")
router.register("documents", DocumentViewSet, basename="document")
router.register("places", PlaceViewSet, basename="place")
router.register("topics", TopicViewSet, basename="topic")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own: the
    # pages' CSP allows no inline script. Signed-out visitors go to sign in.
    path(
        "docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema"),
            login_url="login",
        ),
        name="docs",
    ),
    path("reliability/", ReliabilityView.as_view(), name="reliability"),
    *router.urls,
    re_path(r"^(?P<path>.+)$", not_found, name="not_found"),
]
