"""Site-wide answers that belong to no app: the health check, the sign-in
lock-out page and the 403 handler."""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from analysts.models import AuditEntry

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# Outside ATOMIC_REQUESTS: opening the request's transaction would itself need
# the database, and a dead database must answer 503 here, not 500.
@transaction.non_atomic_requests
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether the app answers and its database with it; nothing more, since
    anyone may ask."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: the database does not answer.", exc_info=True)
        return JsonResponse({"status": "error", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def locked_out(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in: the same words whether or not
    the account exists, naming neither the account nor the attempts left."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request, "registration/locked_out.html", {"minutes": minutes}, status=429
    )


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """The 403 page; a refused change by a signed-in person is also audited.

    Django calls this handler after ATOMIC_REQUESTS has rolled the view's
    transaction back, so the audit row is written in a transaction of its own
    and survives. A refused GET changes nothing and is not recorded: every GET
    leaves the database as it was.
    """
    user = getattr(request, "user", None)
    if (
        user is not None
        and user.is_authenticated
        and request.method not in SAFE_METHODS
    ):
        record_refused_request(request, user, exception)
    match = request.resolver_match
    if match is not None and "api" in match.namespaces:
        # The API's refusals reach here from analysts.api.exception_handler.
        detail = str(exception or "") or "You do not have permission to do this."
        return JsonResponse({"detail": detail}, status=403)
    return render(request, "403.html", status=403)


def record_refused_request(request: HttpRequest, user, exception) -> None:
    match = request.resolver_match
    reason = str(exception or "")[:300]
    note = f"{request.method} {request.path[:500]}"
    if reason:
        note += f": {reason}"
    try:
        with transaction.atomic():
            AuditEntry.objects.create(
                actor=user,
                actor_username=user.get_username(),
                action=AuditEntry.Action.REFUSED,
                object_repr=match.view_name if match else "",
                object_id=str(match.kwargs.get("pk", ""))[:64] if match else "",
                note=note,
            )
    except DatabaseError:
        # The refusal still stands; a database too broken to record it shows
        # in the logs.
        logger.exception("Could not record a refused %s %s", request.method, note)
