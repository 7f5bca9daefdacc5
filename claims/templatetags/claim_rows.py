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


REREVIEW_FLAG = mark_safe(
    '<span class="badge flag-rereview" title="New evidence turns against '
    'the ruling">needs re-review</span>'
)


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _detail_prefix() -> str:
    # One reverse for the page, not two per row: the detail URL ends in "<pk>/".
    return reverse("claims:claim_detail", args=[0])[: -len("0/")]


def _claim_cells(claim, url: str, note: SafeString | str | None) -> SafeString:
    """The number and the statement with its facets; with a note (even empty,
    the queue's line), a line under them."""
    return format_html(
        '  <td class="col-id num"><a href="{url}" aria-label="Claim {pk}">{pk}</a>'
        "</td>\n"
        '  <td class="col-statement">\n'
        '    <a class="statement-link" href="{url}">{statement}</a>\n'
        '    <div class="facets">\n      {facets}\n    </div>\n'
        "{note}"
        "  </td>\n",
        url=url,
        pk=claim.pk,
        statement=claim.statement,
        facets=_facets(claim),
        note=format_html("    {}\n", note) if note is not None else "",
    )


def _judgement_cells(claim) -> SafeString:
    """Likelihood, confidence and the evidence counts, as badges and numbers."""
    return format_html(
        '  <td class="col-badge"><span class="badge likelihood-{term}">{term_label}'
        "</span></td>\n"
        '  <td class="col-badge"><span class="badge confidence-{confidence}">'
        "{confidence_label} confidence</span></td>\n"
        '  <td class="col-evidence num" title="{reports} report{reports_s} from '
        '{origins} distinct origin{origins_s}">{reports}<span class="muted"> / '
        "{origins}</span></td>\n",
        term=claim.likelihood_term,
        term_label=claim.get_likelihood_term_display(),
        confidence=claim.confidence,
        confidence_label=claim.get_confidence_display(),
        reports=claim.report_count,
        reports_s=_plural(claim.report_count),
        origins=claim.origin_count,
        origins_s=_plural(claim.origin_count),
    )


def _time(moment) -> SafeString:
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        date_format(local, "c"),
        date_format(local, "Y-m-d H:i"),
        date_format(local, "Y-m-d"),
    )


def claim_row(claim, detail_prefix: str) -> SafeString:
    status = ""
    if claim.status == "in_review":
        status = mark_safe('<span class="status status-in_review">in review</span>')
    elif claim.status == "open":
        status = mark_safe('<span class="visually-hidden">open</span>')
    return format_html(
        "<tr>\n{claim_cells}"
        '  <td class="col-badge col-level"><span class="badge level-{level}">'
        "{level_label}</span>\n    {status}\n    {flag}</td>\n"
        "{judgement_cells}"
        '  <td class="col-date">{changed}</td>\n'
        "</tr>",
        claim_cells=_claim_cells(claim, f"{detail_prefix}{claim.pk}/", note=None),
        level=claim.level,
        level_label=claim.get_level_display(),
        status=status,
        flag=REREVIEW_FLAG if claim.needs_rereview else "",
        judgement_cells=_judgement_cells(claim),
        changed=_time(claim.updated_at),
    )


@register.simple_tag
def claim_rows(claims) -> SafeString:
    """The <tr> of each claim, as the claim list shows them."""
    prefix = _detail_prefix()
    return mark_safe("".join(claim_row(claim, prefix) for claim in claims))  # noqa: S308


def queue_row(claim, detail_prefix: str) -> SafeString:
    """A row of the review queue: the claim list's facets, the submission note,
    how long it has waited and whether four-eyes lets the reader rule on it."""
    note = ""
    if claim.submission_note and claim.status == "in_review":
        note = format_html(
            '<p class="queue-note"><span class="label">Note:</span> {}</p>',
            Truncator(claim.submission_note).chars(200),
        )
    four_eyes = claim.four_eyes
    may_rule = "Yes"
    if four_eyes:
        may_rule = format_html(
            '<span class="four-eyes-mark">No: {}</span>', str(four_eyes).lower()
        )
    return format_html(
        "<tr{row_class}>\n{claim_cells}"
        '  <td class="col-badge col-level"><span class="badge level-{level}">'
        "{level_label}</span>\n"
        '    <span class="status status-{status}">{status_label}</span>\n'
        "    {flag}</td>\n"
        "{judgement_cells}"
        '  <td class="col-date">{waiting} <span class="muted">({since})</span></td>\n'
        '  <td class="col-four-eyes">{may_rule}</td>\n'
        "</tr>",
        row_class=mark_safe(' class="four-eyes"') if four_eyes else "",
        claim_cells=_claim_cells(claim, f"{detail_prefix}{claim.pk}/", note=note),
        level=claim.level,
        level_label=claim.get_level_display(),
        status=claim.status,
        status_label=claim.get_status_display(),
        flag=REREVIEW_FLAG if claim.needs_rereview else "",
        judgement_cells=_judgement_cells(claim),
        waiting=_time(claim.waiting_since),
        since=timesince(claim.waiting_since),
        may_rule=may_rule,
    )


@register.simple_tag
def queue_rows(claims) -> SafeString:
    """The <tr> of each claim, as the review queue shows them."""
    prefix = _detail_prefix()
    return mark_safe("".join(queue_row(claim, prefix) for claim in claims))  # noqa: S308
