"""Sign-in events: the audit rows for failed sign-ins and the session's clock.

Everywhere else the audit trail is written explicitly by the code making the
change. A failed sign-in happens inside django.contrib.auth (the login page, the
admin's login page), which tells the outside world only through the
user_login_failed signal, so a receiver is the one place to record it.
"""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from analysts.middleware import mark_sign_in
from analysts.models import AuditEntry

USERNAME_MAX = 150


@receiver(user_login_failed, dispatch_uid="analysts.record_failed_sign_in")
def record_failed_sign_in(sender, credentials: dict, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; only the name
    # typed is kept, and it may be anything, so it is cut to the field's size.
    username = str(credentials.get("username") or "")[:USERNAME_MAX]
    where = ""
    if request is not None:
        where = f"{request.method} {request.path[:200]} from {client_address(request)}"
    AuditEntry.objects.create(
        action=AuditEntry.Action.LOGIN_FAILED,
        model="analysts.analyst",
        object_repr=username,
        note=where,
    )


@receiver(user_logged_in, dispatch_uid="analysts.start_session_clock")
def start_session_clock(sender, request=None, user=None, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        mark_sign_in(session)


def client_address(request) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:45]
