"""REST API authentication by personal token: "Authorization: Token <key>".

The key is looked up by its SHA-256 hash, so the database never holds a usable
key. Revoked and expired tokens, and tokens of deactivated users, are refused.
"""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from analysts.models import ApiToken

KEYWORD = "Token"
# Refreshed at most this often: a write on every request would cost more than
# the minute-level precision is worth.
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_KEY_LENGTH = 200


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: give 'Token' and the key, separated by "
                "one space."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: the key has characters no key has."
            ) from None
        if len(key) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is deactivated.")
        if token.last_used_at is None or now - token.last_used_at > (
            LAST_USED_PRECISION
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
