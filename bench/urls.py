"""The application's URLs plus /bench/baseline: a bare Django view that returns
a constant without touching the database, the yardstick every figure of
bench/run is divided by."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns


# Outside ATOMIC_REQUESTS, so not even a connection health check runs.
@transaction.non_atomic_requests
def baseline(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path("bench/baseline", baseline), *app_urlpatterns]
