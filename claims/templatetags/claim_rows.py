"""The claim list's and the review queue's rows, written in Python.

Fifty rows through `{% include %}` cost the list page about 23 ms of its 55 at a
million claims (docs/performance.md); the same markup from format_html costs a
few. Every value is escaped by format_html. tests/test_claim_rows.py checks the
HTML equals the templates this replaced (kept in tests/reference/).
"""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince

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


def queue_row(claim, detail_prefix: str) -> SafeString:
    """A row of the review queue: the claim list's facets, the submission note,
    how long it has waited and whether four-eyes lets the reader rule on it."""
    url = f"{detail_prefix}{claim.pk}/"
    note = ""
    if claim.submission_note and claim.status == "in_review":
        note = format_html(
            '<p class="queue-note"><span class="label">Note:</span> {}</p>',
            Truncator(claim.submission_note).chars(200),
        )
    flag = ""
    if claim.needs_rereview:
        flag = mark_safe(
            '<span class="badge flag-rereview" title="New evidence turns against '
            'the ruling">needs re-review</span>'
        )
    waiting = timezone.localtime(claim.waiting_since)
    four_eyes = claim.four_eyes
    return format_html(
        "<tr{row_class}>\n"
        '  <td class="col-id num"><a href="{url}" aria-label="Claim {pk}">{pk}</a>'
        "</td>\n"
        '  <td class="col-statement">\n'
        '    <a class="statement-link" href="{url}">{statement}</a>\n'
        '    <div class="facets">\n      {facets}\n    </div>\n'
        "    {note}\n"
        "  </td>\n"
        '  <td class="col-badge col-level"><span class="badge level-{level}">'
        "{level_label}</span>\n"
        '    <span class="status status-{status}">{status_label}</span>\n'
        "    {flag}</td>\n"
        '  <td class="col-badge"><span class="badge likelihood-{term}">{term_label}'
        "</span></td>\n"
        '  <td class="col-badge"><span class="badge confidence-{confidence}">'
        "{confidence_label} confidence</span></td>\n"
        '  <td class="col-evidence num" title="{reports} report{reports_s} from '
        '{origins} distinct origin{origins_s}">{reports}<span class="muted"> / '
        "{origins}</span></td>\n"
        '  <td class="col-date"><time datetime="{iso}" title="{minute}">{day}</time>'
        ' <span class="muted">({since})</span></td>\n'
        '  <td class="col-four-eyes">{may_rule}</td>\n'
        "</tr>",
        row_class=mark_safe(' class="four-eyes"') if four_eyes else "",
        url=url,
        pk=claim.pk,
        statement=claim.statement,
        facets=_facets(claim),
        note=note,
        level=claim.level,
        level_label=claim.get_level_display(),
        status=claim.status,
        status_label=claim.get_status_display(),
        flag=flag,
        term=claim.likelihood_term,
        term_label=claim.get_likelihood_term_display(),
        confidence=claim.confidence,
        confidence_label=claim.get_confidence_display(),
        reports=claim.report_count,
        reports_s=_plural(claim.report_count),
        origins=claim.origin_count,
        origins_s=_plural(claim.origin_count),
        iso=date_format(waiting, "c"),
        minute=date_format(waiting, "Y-m-d H:i"),
        day=date_format(waiting, "Y-m-d"),
        since=timesince(claim.waiting_since),
        may_rule=(
            format_html(
                '<span class="four-eyes-mark">No: {}</span>', str(four_eyes).lower()
            )
            if four_eyes
            else "Yes"
        ),
    )


@register.simple_tag
def queue_rows(claims) -> SafeString:
    """The <tr> of each claim, as the review queue shows them."""
    detail_prefix = reverse("claims:claim_detail", args=[0])[: -len("0/")]
    return mark_safe("".join(queue_row(claim, detail_prefix) for claim in claims))  # noqa: S308
