"""The claim list's rows, written in Python.

Fifty rows through `{% include %}` cost the list page about 23 ms of its 55 at a
million claims (docs/performance.md); the same markup from format_html costs a
few. Every value is escaped by format_html. tests/test_claim_rows.py checks the
HTML equals the template this replaced (kept as tests/reference/claim_row.html).
"""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

INDENT = "\n      "


def _facets(claim) -> SafeString:
    parts = [
        format_html(
            '<span class="facet kind-{}">{}</span>',
            claim.kind,
            claim.get_kind_display(),
        )
    ]
    for text in (claim.quantity_display(), claim.time_display()):
        parts.append(format_html('<span class="facet">{}</span>', text) if text else "")
    places = ", ".join(place.name for place in claim.places.all())
    parts.append(format_html('<span class="facet">{}</span>', places) if places else "")
    topic = claim.topic.name if claim.topic_id else ""
    parts.append(format_html('<span class="facet">{}</span>', topic) if topic else "")
    parts.append(
        format_html(
            '<span class="facet muted">by {}</span>', claim.logged_by.get_username()
        )
    )
    return mark_safe(INDENT.join(parts))  # noqa: S308 - format_html's parts


def _level(claim) -> SafeString:
    status = ""
    if claim.status == "in_review":
        status = mark_safe('<span class="status status-in_review">in review</span>')
    elif claim.status == "open":
        status = mark_safe('<span class="visually-hidden">open</span>')
    flag = ""
    if claim.needs_rereview:
        flag = mark_safe(
            '<span class="badge flag-rereview" title="New evidence turns against '
            'the ruling">needs re-review</span>'
        )
    return format_html(
        '<span class="badge level-{}">{}</span>\n    {}\n    {}',
        claim.level,
        claim.get_level_display(),
        status,
        flag,
    )


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def claim_row(claim, detail_prefix: str) -> SafeString:
    url = f"{detail_prefix}{claim.pk}/"
    changed = timezone.localtime(claim.updated_at)
    return format_html(
        "<tr>\n"
        '  <td class="col-id num"><a href="{url}" aria-label="Claim {pk}">{pk}</a>'
        "</td>\n"
        '  <td class="col-statement">\n'
        '    <a class="statement-link" href="{url}">{statement}</a>\n'
        '    <div class="facets">\n      {facets}\n    </div>\n'
        "  </td>\n"
        '  <td class="col-badge col-level">{level}</td>\n'
        '  <td class="col-badge"><span class="badge likelihood-{term}">{term_label}'
        "</span></td>\n"
        '  <td class="col-badge"><span class="badge confidence-{confidence}">'
        "{confidence_label} confidence</span></td>\n"
        '  <td class="col-evidence num" title="{reports} report{reports_s} from '
        '{origins} distinct origin{origins_s}">{reports}<span class="muted"> / '
        "{origins}</span></td>\n"
        '  <td class="col-date"><time datetime="{iso}" title="{minute}">{day}</time>'
        "</td>\n"
        "</tr>",
        url=url,
        pk=claim.pk,
        statement=claim.statement,
        facets=_facets(claim),
        level=_level(claim),
        term=claim.likelihood_term,
        term_label=claim.get_likelihood_term_display(),
        confidence=claim.confidence,
        confidence_label=claim.get_confidence_display(),
        reports=claim.report_count,
        reports_s=_plural(claim.report_count),
        origins=claim.origin_count,
        origins_s=_plural(claim.origin_count),
        iso=date_format(changed, "c"),
        minute=date_format(changed, "Y-m-d H:i"),
        day=date_format(changed, "Y-m-d"),
    )


@register.simple_tag
def claim_rows(claims) -> SafeString:
    """The <tr> of each claim, as the claim list shows them."""
    # One reverse for the page, not two per row: the detail URL ends in "<pk>/".
    detail_prefix = reverse("claims:claim_detail", args=[0])[: -len("0/")]
    return mark_safe("".join(claim_row(claim, detail_prefix) for claim in claims))  # noqa: S308
