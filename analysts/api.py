"""What every part of the REST API shares: parsing, paging, error bodies, the
role permissions and the OpenAPI description of all of it.

The endpoints themselves live beside their models (claims/api.py,
sources/api.py); config/api_urls.py routes them; analysts/api_schema.py
describes the shared parts in the OpenAPI schema. DRF imports this module while
it defines its own views, so it must not import rest_framework.views itself.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as RefusedByDjango
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, pagination, parsers, permissions

MAX_PAGE_SIZE = 200
PAGE_SIZE = 50


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "too_large"


class Conflict(exceptions.APIException):
    """409: the change collides with the stored state (a stale version, a
    locked ruling, a duplicate the database refuses)."""

    status_code = 409
    default_detail = "The change conflicts with the stored record."
    default_code = "conflict"

    def __init__(self, detail: str | None = None, current: dict | None = None):
        super().__init__(detail)
        self.current = current


class BoundedJSONParser(parsers.JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE, refused by their declared
    length before a byte is read. DRF reads the raw stream, which bypasses the
    limit Django applies to request.body."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(
                    f"The request body is {length:,} bytes; the API accepts at "
                    f"most {limit:,}."
                )
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - nested too deeply."
            ) from None


class Pagination(pagination.LimitOffsetPagination):
    default_limit = PAGE_SIZE
    max_limit = MAX_PAGE_SIZE


def exception_handler(exc, context):
    """DRF's handler, plus the exceptions it leaves to Django (and so to a 500 or
    an HTML page): every error body is JSON with a "detail" or field messages.

    A change refused to a signed-in user (a 403) goes to Django's 403 handler
    instead, as the web pages' refusals do: it runs once the request's
    transaction has rolled back, so its audit row survives, and it answers
    the API in JSON (config.views.permission_denied)."""
    # Imported here: DRF reads this module's parser while defining its views.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, exceptions.PermissionDenied) and is_refused_change(
        context.get("request")
    ):
        raise RefusedByDjango(str(exc.detail)) from exc
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, IntegrityError):
        exc = Conflict("The database refused the change: it collides with a record.")
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Conflict) and exc.current is not None:
        response.data = {"detail": response.data["detail"], "current": exc.current}
    return response


def is_refused_change(request) -> bool:
    """A change a signed-in user asked for: what the audit trail records when
    it is refused. A refused read changes nothing and is not recorded."""
    if request is None or request.method in permissions.SAFE_METHODS:
        return False
    # The user DRF authenticated (token or session); a failed authentication
    # leaves the anonymous user.
    user = getattr(request, "_user", None)
    return bool(user is not None and user.is_authenticated)


# Role permissions ------------------------------------------------------------
# Reading needs a signed-in user; what they see is then cut by visible_to(). A
# write needs the role named here; which rows it may touch is editable_by()'s.


class _RoleForWrites(permissions.BasePermission):
    message = "Your role does not allow this change."

    def has_role(self, user) -> bool:
        raise NotImplementedError

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return self.has_role(user)


class AnalystsWrite(_RoleForWrites):
    message = "Only analysts make this change."

    def has_role(self, user) -> bool:
        return user.is_analyst


class AnalystsAndManagersWrite(_RoleForWrites):
    message = "Only analysts and managers make this change."

    def has_role(self, user) -> bool:
        return user.is_analyst or user.is_manager


class ReviewersWrite(_RoleForWrites):
    message = "Only reviewers rule on claims."

    def has_role(self, user) -> bool:
        return user.is_reviewer


class ManagersOnly(permissions.BasePermission):
    message = "Only managers may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_manager)
