"""Session limits and caching rules for signed-in people.

Django's session expiry is renewed whenever the session is saved, so on its own
it is neither an idle timeout nor an absolute lifetime: both are enforced here
from two timestamps kept in the session (seconds since the epoch).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
# The last-seen time is written at most this often: saving the session on every
# request would cost a database write per page for one minute's precision.
LAST_SEEN_PRECISION = 60


def mark_sign_in(session, now: float | None = None) -> None:
    now = int(time.time() if now is None else now)
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now


def session_expired(session, now: float) -> str:
    """Why a signed-in session has ended ("" while it is still good)."""
    signed_in_at = session.get(SIGNED_IN_AT)
    last_seen_at = session.get(LAST_SEEN_AT)
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        return "Your session reached its time limit. Please sign in again."
    if last_seen_at is not None and now - last_seen_at > settings.SESSION_IDLE_TIMEOUT:
        minutes = settings.SESSION_IDLE_TIMEOUT // 60
        return (
            f"You were signed out after {minutes} minutes without activity. "
            "Please sign in again."
        )
    return ""


class SessionIdleTimeoutMiddleware:
    """Signs out a session idle longer than SESSION_IDLE_TIMEOUT or older than
    SESSION_COOKIE_AGE; the request then goes on as anonymous, so a page that
    needs login sends the person to the sign-in page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self.check(request)
        return self.get_response(request)

    def check(self, request: HttpRequest) -> None:
        session = request.session
        now = time.time()
        reason = session_expired(session, now)
        if reason:
            logout(request)
            messages.info(request, reason)
            return
        if SIGNED_IN_AT not in session:
            # A session made before these limits existed starts counting now.
            mark_sign_in(session, now)
        elif now - session[LAST_SEEN_AT] >= LAST_SEEN_PRECISION:
            session[LAST_SEEN_AT] = int(now)


class NoStoreForSignedInMiddleware:
    """Cache-Control: no-store on every answer to a signed-in person (pages, CSV,
    JSON) and on the whole API, so that no shared or browser cache keeps a copy
    of the archive after the person has gone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Read after the view: the REST framework sets request.user for a token.
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith(
            "/api/"
        ):
            patch_cache_control(response, no_store=True, private=True)
        return response
