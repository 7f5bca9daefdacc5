"""The claim page's loops, written in Python.

A claim with 30 citations and 10 relations spent most of its ~55 ms at a million
claims rendering the per-citation loop, the related claims (one `{% include %}`
each), the rulings, the audit trail and the explanation through the template
engine; the same markup from f-strings costs a few milliseconds. Every text value
goes through esc() (conditional_escape, see claims/markup.py).
tests/test_claim_detail_rows.py checks the HTML equals the template markup this
replaced (kept in tests/reference/detail_*.html).
"""

from functools import lru_cache

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe

from analysts.models import AuditEntry
from claims.markup import esc, truncated
from claims.models import Citation, Review, labels
from claims.templatetags.claim_rows import (
    CONFIDENCES,
    LEVELS,
    TERMS,
    _detail_prefix,
    _plural,
    label,
)
from sources.models import Source

register = template.Library()


# The labels of get_FOO_display() (see claims.models.labels): a citation writes four.
CITED_GRADES = labels(Citation, "grade_at_citation")
CREDIBILITIES = labels(Citation, "credibility")
GRADES = labels(Source, "grade")
OUTCOMES = labels(Review, "outcome")
LEVELS_AT = labels(Review, "level_at")
ACTIONS = labels(AuditEntry, "action")

NO_CITATIONS = (
    '\n      <p class="empty">No citations: nothing ties this claim to a source '
    "yet.</p>\n      "
)


def _prefix(name: str) -> str:
    # One reverse for the page, not two per citation: the URL ends in "<pk>/".
    return reverse(name, args=[0])[: -len("0/")]


@lru_cache(maxsize=4096)
def _day(day) -> str:
    """A date as `|date:"Y-m-d"` writes it; cached, as it depends on nothing
    else and a page's citations repeat their days."""
    return date_format(day, "Y-m-d")


def _linebreaksbr(text) -> str:
    """What `|linebreaksbr` writes: escaped, each line break a <br>."""
    text = esc(text).replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "<br>")


def _time(moment, shown: str) -> str:
    """<time> with the ISO moment, shown as `shown` (a date format), both in the
    current time zone as the `date` filter writes them."""
    local = timezone.localtime(moment)
    return f'<time datetime="{local.isoformat()}">{_shown(local, shown)}</time>'


def _shown(local, shown: str) -> str:
    """date_format(local, shown) for the formats the page uses, written
    directly: Django's formatter object per call cost the claim page about
    5 % of its time in its audit rows (tests/test_claim_detail_rows.py checks
    the two agree). "c" is isoformat(); Y, m, d, H, i, s are zero-padded."""
    day = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    if shown == "Y-m-d":
        return day
    if shown == "Y-m-d H:i":
        return f"{day} {local.hour:02d}:{local.minute:02d}"
    if shown == "Y-m-d H:i:s":
        return f"{day} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    return date_format(local, shown)


def _citation(citation, source_prefix: str, document_prefix: str) -> str:
    source = citation.source
    document = citation.document
    stance = "supports" if citation.supports else "denies"
    extra = ""
    if document.published_on:
        extra += f' <span class="muted">({_day(document.published_on)})</span>'
    if document.publisher_id != citation.source_id:
        extra += (
            f' <span class="muted">published by {esc(document.publisher.name)}</span>'
        )
    if document.retracted:
        extra += ' <span class="badge flag-retracted">retracted</span>'
    where = (
        f"<div><dt>Where</dt><dd>{esc(citation.locator)}</dd></div>"
        if citation.locator
        else ""
    )
    said_on = (
        f"<div><dt>Said on</dt><dd>{_day(citation.said_on)}</dd></div>"
        if citation.said_on
        else ""
    )
    cited = citation.grade_at_citation
    now = source.grade
    changed = ' <span class="changed">changed since</span>' if cited != now else ""
    return (
        f"\n          \n          \n          "
        f'<li class="citation {stance}">\n'
        f'            <blockquote class="excerpt">{_linebreaksbr(citation.excerpt)}'
        "</blockquote>\n"
        '            <dl class="citation-meta">\n'
        f'              <div><dt>Stance</dt><dd><span class="stance stance-{stance}">'
        f"{stance}</span></dd></div>\n"
        f'              <div><dt>Source</dt><dd><a href="{source_prefix}'
        f'{citation.source_id}/">{esc(source.name)}</a></dd></div>\n'
        f'              <div><dt>Document</dt><dd><a href="{document_prefix}'
        f'{citation.document_id}/">{esc(document.title)}</a>{extra}</dd></div>\n'
        f"              {where}\n"
        f"              {said_on}\n"
        "              <div><dt>Credibility</dt><dd>"
        f"{label(CREDIBILITIES, citation.credibility)}"
        "</dd></div>\n"
        f'              <div><dt>Grade</dt><dd><span class="grade grade-{esc(cited)}" '
        f'title="{label(CITED_GRADES, cited)}">{esc(cited)}</span>'
        f' when cited · <span class="grade grade-{esc(now)}" '
        f'title="{label(GRADES, now)}">{esc(now)}</span> now{changed}'
        "</dd></div>\n"
        "            </dl>\n"
        "          </li>\n"
        "          "
    )


def _origin_group(group, source_prefix: str, document_prefix: str) -> str:
    origin = group.origin
    count = len(group.citations)
    denying = group.denying
    stances = f" · {group.supporting} supporting, {denying} denying" if denying else ""
    citations = "".join(
        _citation(citation, source_prefix, document_prefix)
        for citation in group.citations
    )
    grade = esc(origin.grade)
    grade_label = label(GRADES, origin.grade)
    return (
        "\n      \n"
        f'      <article class="origin-group" aria-labelledby="origin-{origin.pk}">\n'
        '        <header class="origin-head">\n'
        f'          <h3 id="origin-{origin.pk}"><a href="{source_prefix}{origin.pk}/">'
        f"{esc(origin.name)}</a>\n"
        f'            <span class="grade grade-{grade}" '
        f'title="{grade_label}">{grade}</span></h3>\n'
        f'          <p class="origin-count"><strong>{count} report{_plural(count)}, '
        f"1 origin</strong>{stances}</p>\n"
        "        </header>\n"
        '        <ol class="citations">\n'
        f"          {citations}\n"
        "        </ol>\n"
        "      </article>\n"
        "      "
    )


@register.simple_tag
def citation_groups(origin_groups) -> SafeString:
    """Each origin with its citations, or the line saying there are none."""
    if not origin_groups:
        return mark_safe(NO_CITATIONS)  # noqa: S308 - a constant
    source_prefix = _prefix("sources:source_detail")
    document_prefix = _prefix("sources:document_detail")
    return mark_safe(  # noqa: S308 - every value escaped by esc()
        "".join(
            _origin_group(group, source_prefix, document_prefix)
            for group in origin_groups
        )
    )


def _related(relation, detail_prefix: str) -> str:
    other = relation.other_claim
    return (
        "\n"
        '<li class="related-claim">\n'
        f'  <a class="statement-link" href="{detail_prefix}{other.pk}/">'
        f'<span class="muted">#{other.pk}</span> {esc(other.statement)}</a>\n'
        '  <div class="badges">\n'
        f'    <span class="badge level-{esc(other.level)}">'
        f"{label(LEVELS, other.level)}</span>\n"
        f'    <span class="badge likelihood-{esc(other.likelihood_term)}">'
        f"{label(TERMS, other.likelihood_term)}</span>\n"
        f'    <span class="badge confidence-{esc(other.confidence)}">'
        f"{label(CONFIDENCES, other.confidence)} confidence</span>\n"
        "  </div>\n"
        '  <p class="rationale"><span class="label">Rationale:</span> '
        f"{esc(relation.rationale)}</p>\n"
        f'  <p class="meta">Linked by {esc(relation.created_by.get_username())} on '
        f"{_time(relation.created_at, 'Y-m-d')}</p>\n"
        "</li>\n\n"
    )


@register.simple_tag
def related_claims(relations) -> SafeString:
    """The <li> of each related claim (relation.other_claim), with the link's
    rationale and who made it."""
    prefix = _detail_prefix()
    return mark_safe(  # noqa: S308 - every value escaped by esc()
        "".join(_related(relation, prefix) for relation in relations)
    )


def _review(review) -> str:
    level = ""
    if review.level_at:
        level = (
            f'<span class="badge level-{esc(review.level_at)}">'
            f"{label(LEVELS_AT, review.level_at)}</span>"
        )
    term = getattr(review, "likelihood_term_at", None)
    likelihood = ""
    if term:
        likelihood = (
            f' <span class="badge likelihood-{esc(term.value)}">'
            f"{esc(term.label)}</span>"
        )
    return (
        "\n          <tr>\n"
        f'            <td class="col-date">{_time(review.created_at, "Y-m-d H:i")}'
        "</td>\n"
        f"            <td>{esc(review.reviewer.get_username())}</td>\n"
        f'            <td><span class="badge ruling-{esc(review.outcome)}">'
        f"{label(OUTCOMES, review.outcome)}</span></td>\n"
        f"            <td>{level}\n"
        f"                {likelihood}</td>\n"
        f'            <td class="prose">{_linebreaksbr(review.rationale)}</td>\n'
        "          </tr>\n"
        "          "
    )


@register.simple_tag
def review_rows(reviews) -> SafeString:
    """The <tr> of each ruling."""
    return mark_safe("".join(_review(review) for review in reviews))  # noqa: S308


def _change(name, old, new) -> str:
    old = "—" if old is None else old
    new = "—" if new is None else new
    return (
        f"<li><code>{esc(name)}</code>: <del>{truncated(old, 120)}</del> → "
        f"<ins>{truncated(new, 120)}</ins></li>"
    )


def _audit_entry(entry) -> str:
    what = f"{label(ACTIONS, entry.action)} {esc(entry.kind)}"
    if entry.kind != "claim":
        what += f" #{esc(entry.object_id)}"
        if entry.object_repr:
            what += f' <span class="muted">({truncated(entry.object_repr, 80)})</span>'
    if entry.note:
        what += f'<div class="muted">{truncated(entry.note, 200)}</div>'
    if entry.changes:
        changes = "".join(_change(*change) for change in entry.changes)
        changes = f'<ul class="changes">{changes}</ul>'
    else:
        changes = '<span class="muted">—</span>'
    return (
        "\n          <tr>\n"
        f'            <td class="col-date">{_time(entry.at, "Y-m-d H:i:s")}</td>\n'
        f"            <td>{esc(entry.actor_username or 'system')}</td>\n"
        f"            <td>{what}</td>\n"
        f"            <td>{changes}</td>\n"
        "          </tr>\n"
        "          "
    )


@register.simple_tag
def audit_rows(entries) -> SafeString:
    """The <tr> of each audit entry (with .kind and .changes, see
    claims.views.audit_trail)."""
    return mark_safe("".join(_audit_entry(entry) for entry in entries))  # noqa: S308


@register.simple_tag
def explanation_lines(lines) -> SafeString:
    """An <li> for each line of the confirmation's explanation, marked with its
    first character (the sign of its weight)."""
    return mark_safe(  # noqa: S308 - every value escaped by esc()
        "".join(
            f'<li class="explain-line" data-sign="{esc(line[0] if line else "")}">'
            f"{esc(line)}</li>"
            for line in lines
        )
    )
