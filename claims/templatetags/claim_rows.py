"""The claim list's and the review queue's rows, written in Python.

Fifty rows through `{% include %}` cost the list page about 23 ms of its 55 at a
million claims (docs/performance.md); the same markup from f-strings costs a
few (format_html, which did it before, costs more per call than the row's own
work). Every text value goes through esc() (conditional_escape, see
claims/markup.py); numbers and formatted dates need none.
tests/test_claim_rows.py checks the HTML equals the templates this replaced
(kept in tests/reference/).
"""

from collections import defaultdict

from django import template
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from claims.confirmation_store import fetch_for_ids
from claims.markup import esc, time_since, truncated
from claims.models import CONFIRMATION_LABELS, Claim, labels

register = template.Library()


KINDS = labels(Claim, "kind")
LEVELS = labels(Claim, "level")
TERMS = CONFIRMATION_LABELS["likelihood_term"]
CONFIDENCES = CONFIRMATION_LABELS["confidence"]
STATUSES = labels(Claim, "status")


def label(choices: dict, value) -> str:
    """The escaped label of value (the value itself, as get_FOO_display, when it
    is not a choice)."""
    return esc(choices.get(value, value))


INDENT = "\n      "

REREVIEW_FLAG = (
    '<span class="badge flag-rereview" title="New evidence turns against '
    'the ruling">needs re-review</span>'
)


def _facet(text) -> str:
    return f'<span class="facet">{esc(text)}</span>' if text else ""


def _place_links(ids) -> QuerySet:
    return (
        Claim.places.through.objects.filter(claim_id__in=ids)
        .order_by("place__name", "place_id")
        .values_list("claim_id", "place__name")
    )


def place_names(claims) -> dict[int, str]:
    """Each claim's places as its facet lists them (the places' own order: name,
    then id), read in one query of (claim, name) pairs rather than a place
    instance per row through prefetch_related; its SQL compiled by Django once
    per process (fetch_for_ids), not on every page."""
    names = defaultdict(list)
    ids = [claim.pk for claim in claims]
    if ids:
        links = fetch_for_ids("claim_rows.place_names", _place_links, ids)
        for claim_id, name in links:
            names[claim_id].append(name)
    return {claim_id: ", ".join(each) for claim_id, each in names.items()}


def _facets(claim, places: str) -> str:
    return INDENT.join(
        (
            f'<span class="facet kind-{esc(claim.kind)}">'
            f"{label(KINDS, claim.kind)}</span>",
            _facet(claim.quantity_display()),
            _facet(claim.time_display()),
            _facet(places),
            _facet(claim.topic.name if claim.topic_id else ""),
            f'<span class="facet muted">by {esc(claim.logged_by.get_username())}'
            "</span>",
        )
    )


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _detail_prefix() -> str:
    # One reverse for the page, not two per row: the detail URL ends in "<pk>/".
    return reverse("claims:claim_detail", args=[0])[: -len("0/")]


def _claim_cells(claim, url: str, places: str, note: str | None) -> str:
    """The number and the statement with its facets; with a note (even empty,
    the queue's line), a line under them."""
    url = esc(url)
    note_line = f"    {note}\n" if note is not None else ""
    return (
        f'  <td class="col-id num"><a href="{url}" aria-label="Claim {claim.pk}">'
        f"{claim.pk}</a></td>\n"
        '  <td class="col-statement">\n'
        f'    <a class="statement-link" href="{url}">{esc(claim.statement)}</a>\n'
        f'    <div class="facets">\n      {_facets(claim, places)}\n    </div>\n'
        f"{note_line}"
        "  </td>\n"
    )


def _judgement_cells(claim) -> str:
    """Likelihood, confidence and the evidence counts, as badges and numbers."""
    reports = claim.report_count
    origins = claim.origin_count
    return (
        f'  <td class="col-badge"><span class="badge likelihood-'
        f'{esc(claim.likelihood_term)}">{label(TERMS, claim.likelihood_term)}'
        "</span></td>\n"
        f'  <td class="col-badge"><span class="badge confidence-'
        f'{esc(claim.confidence)}">{label(CONFIDENCES, claim.confidence)} '
        "confidence</span></td>\n"
        f'  <td class="col-evidence num" title="{reports} report{_plural(reports)} '
        f'from {origins} distinct origin{_plural(origins)}">{reports}'
        f'<span class="muted"> / {origins}</span></td>\n'
    )


def _level_badge(claim) -> str:
    return (
        f'  <td class="col-badge col-level"><span class="badge level-'
        f'{esc(claim.level)}">{label(LEVELS, claim.level)}</span>\n'
    )


def _time(moment, zone=None) -> str:
    # As the date filter's "c", "Y-m-d H:i" and "Y-m-d", without its formatter
    # object per call (three a row); in the page's time zone, read once a page
    # by the caller (reading it costs more than the rest of a cell).
    local = timezone.localtime(moment, zone)
    day = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    return (
        f'<time datetime="{local.isoformat()}" '
        f'title="{day} {local.hour:02d}:{local.minute:02d}">{day}</time>'
    )


def claim_row(claim, detail_prefix: str, places: str, zone=None) -> str:
    status = ""
    if claim.status == "in_review":
        status = '<span class="status status-in_review">in review</span>'
    elif claim.status == "open":
        status = '<span class="visually-hidden">open</span>'
    flag = REREVIEW_FLAG if claim.needs_rereview else ""
    return (
        "<tr>\n"
        f"{_claim_cells(claim, f'{detail_prefix}{claim.pk}/', places, note=None)}"
        f"{_level_badge(claim)}"
        f"    {status}\n"
        f"    {flag}</td>\n"
        f"{_judgement_cells(claim)}"
        f'  <td class="col-date">{_time(claim.updated_at, zone)}</td>\n'
        "</tr>"
    )


@register.simple_tag
def claim_rows(claims) -> SafeString:
    """The <tr> of each claim, as the claim list shows them."""
    prefix = _detail_prefix()
    places = place_names(claims)
    zone = timezone.get_current_timezone()
    return mark_safe(  # noqa: S308
        "".join(
            claim_row(claim, prefix, places.get(claim.pk, ""), zone) for claim in claims
        )
    )


def queue_row(claim, detail_prefix: str, places: str, now, zone=None) -> str:
    """A row of the review queue: the claim list's facets, the submission note,
    how long it has waited and whether four-eyes lets the reader rule on it."""
    note = ""
    if claim.submission_note and claim.status == "in_review":
        note = (
            '<p class="queue-note"><span class="label">Note:</span> '
            f"{truncated(claim.submission_note, 200)}</p>"
        )
    four_eyes = claim.four_eyes
    may_rule = "Yes"
    if four_eyes:
        may_rule = (
            f'<span class="four-eyes-mark">No: {esc(str(four_eyes).lower())}</span>'
        )
    row_class = ' class="four-eyes"' if four_eyes else ""
    flag = REREVIEW_FLAG if claim.needs_rereview else ""
    waiting = claim.waiting_since
    return (
        f"<tr{row_class}>\n"
        f"{_claim_cells(claim, f'{detail_prefix}{claim.pk}/', places, note=note)}"
        f"{_level_badge(claim)}"
        f'    <span class="status status-{esc(claim.status)}">'
        f"{label(STATUSES, claim.status)}</span>\n"
        f"    {flag}</td>\n"
        f"{_judgement_cells(claim)}"
        f'  <td class="col-date">{_time(waiting, zone)} <span class="muted">'
        f"({esc(time_since(waiting, now))})</span></td>\n"
        f'  <td class="col-four-eyes">{may_rule}</td>\n'
        "</tr>"
    )


@register.simple_tag
def queue_rows(claims) -> SafeString:
    """The <tr> of each claim, as the review queue shows them."""
    prefix = _detail_prefix()
    places = place_names(claims)
    now = timezone.now()  # one moment for the page's waiting times
    zone = timezone.get_current_timezone()
    return mark_safe(  # noqa: S308
        "".join(
            queue_row(claim, prefix, places.get(claim.pk, ""), now, zone)
            for claim in claims
        )
    )
