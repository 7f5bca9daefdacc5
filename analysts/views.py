"""The signed-in person's profile: their roles and their REST API tokens.

A token's key is shown once, in the answer to the request that made it, and
never stored: the page lists tokens by name and the key's first characters.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from analysts.audit import record
from analysts.forms import ApiTokenForm
from analysts.models import ApiToken, AuditEntry

MAX_LIVE_TOKENS = 20


def token_facts(token: ApiToken) -> dict:
    """What the audit trail keeps of a token: never its key or the key's hash."""
    return {
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def render_profile(
    request: HttpRequest,
    form: ApiTokenForm | None = None,
    new_key: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    return render(
        request,
        "analysts/profile.html",
        {
            "roles": sorted(user.role_names) + (["Administrator"] * user.is_superuser),
            "tokens": user.api_tokens.all(),
            "form": form or ApiTokenForm(),
            "new_key": new_key,
            "may_have_tokens": user.is_staff_member,
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render_profile(request)


@login_required
@require_POST
def apitoken_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_staff_member:
        raise PermissionDenied("API tokens are for people who hold a role.")
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return render_profile(request, form=form)
    if user.api_tokens.usable().count() >= MAX_LIVE_TOKENS:
        form.add_error(
            None,
            f"You have {MAX_LIVE_TOKENS} live tokens already: revoke one first.",
        )
        return render_profile(request, form=form)
    with transaction.atomic():
        token, key = ApiToken.issue(
            user, form.cleaned_data["name"], expires_at=form.expires_at()
        )
        record(user, AuditEntry.Action.CREATE, token, after=token_facts(token))
    # Shown in this answer only; a redirect would have to keep it somewhere.
    return render_profile(request, new_key=key)


@login_required
@require_POST
def apitoken_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens.all(), pk=pk)
    if token.revoked_at is None:
        with transaction.atomic():
            before = token_facts(token)
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(
                request.user,
                AuditEntry.Action.UPDATE,
                token,
                before=before,
                after=token_facts(token),
                note="revoked",
            )
        messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("analysts:profile")
