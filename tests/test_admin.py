"""Django admin: every page opens for an administrator with the demo data loaded,
and changes made there are audited and recompute the confirmation."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from analysts.models import AuditEntry
from claims.confirmation_store import explanations
from claims.models import Claim
from sources.models import GradeChange, Source


@pytest.fixture
def demo(db):
    call_command("load_demo", verbosity=0)


def test_every_admin_page_opens_for_an_administrator(demo, ada, client):
    client.force_login(ada)
    assert client.get(reverse("admin:index")).status_code == 200
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code == 200, changelist
        assert client.get(changelist, {"q": "<script>"}).status_code == 200
        if model_admin.has_add_permission(response.wsgi_request):
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert client.get(add).status_code == 200, add
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            change = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
            )
            assert client.get(change).status_code == 200, change


def test_the_claim_list_shows_level_likelihood_and_confidence_badges(demo, ada, client):
    client.force_login(ada)
    page = client.get(
        reverse("admin:claims_claim_changelist"), {"o": "4"}
    ).content.decode()
    claim = Claim.objects.exclude(level="unsourced").first()
    assert f'class="badge level-{claim.level}"' in page
    assert f'class="badge likelihood-{claim.likelihood_term}"' in page
    assert f'class="badge confidence-{claim.confidence}"' in page


def test_a_claim_page_in_the_admin_explains_the_confirmation(demo, ada, client):
    client.force_login(ada)
    claim = Claim.objects.exclude(level="unsourced").order_by("pk").first()
    page = client.get(
        reverse("admin:claims_claim_change", args=[claim.pk])
    ).content.decode()
    lines = explanations([claim.pk])[claim.pk]
    assert lines
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    assert f'<ul class="explanation">{items}</ul>' in page


def test_the_audit_trail_cannot_be_changed_in_the_admin(demo, ada, client):
    client.force_login(ada)
    entry = AuditEntry.objects.first()
    url = reverse("admin:analysts_auditentry_change", args=[entry.pk])
    client.post(url, {"note": "rewritten"})
    entry.refresh_from_db()
    assert entry.note != "rewritten"
    delete = reverse("admin:analysts_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_grade_changed_in_the_admin_is_audited_and_recomputes_claims(
    demo, ada, client
):
    client.force_login(ada)
    source = (
        Source.objects.filter(citations__supports=True, grade__in="ABC")
        .distinct()
        .first()
    )
    claim = Claim.objects.filter(citations__source=source).first()
    before = claim.likelihood
    url = reverse("admin:sources_source_change", args=[source.pk])
    data = {
        "name": source.name,
        "kind": source.kind,
        "country": source.country,
        "description": source.description,
        "grade": "E",
        "parent": source.parent_id or "",
        "grade_rationale": "",
        "grade_changes-TOTAL_FORMS": "0",
        "grade_changes-INITIAL_FORMS": str(source.grade_changes.count()),
        "grade_changes-MIN_NUM_FORMS": "0",
        "grade_changes-MAX_NUM_FORMS": "1000",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "Say why the grade changes." in refused.content.decode()
    data["grade_rationale"] = "Two of its reports were refuted this month."
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    source.refresh_from_db()
    assert source.grade == "E"
    assert GradeChange.objects.filter(source=source, new_grade="E").exists()
    assert AuditEntry.objects.filter(
        model="sources.source", object_id=str(source.pk), action="update"
    ).exists()
    claim.refresh_from_db()
    assert claim.likelihood < before
