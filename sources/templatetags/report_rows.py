"""The reliability report's table rows, column heads and chart marks, written
in Python (its filter fields are claims.templatetags.filter_fields').

Fifty rows and fifty chart marks through the template language cost the report
about 60 ms of its 70 at a million claims (docs/performance.md); the same markup
written here costs a few. Every text and URL goes through esc(); numbers and
the fixed words are written as they are. tests/test_report_rows.py checks the
HTML equals the template markup this replaced (kept in tests/reference/), with
hostile names. The heads and chart axes followed (about 1 ms of
the unfiltered report's 12): every template node costs microseconds, and the
report missed its 100 ms budget by about that much.
"""

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import get_language

from claims.markup import esc, truncated
from sources.reliability import AGREEMENT_ORDER, figure

register = template.Library()

# |slugify of each "Record vs grade" word, once.
AGREEMENT_SLUGS = {word: slugify(word) for word in AGREEMENT_ORDER}


def _count(count: int, url: str, title: str = "") -> str:
    """A count linking to the claims behind it; 0 without a link."""
    if not count:
        return "0"
    title = f' title="{esc(title)}"' if title else ""
    return f'<a href="{esc(url)}"{title}>{count}</a>'


def _still_open(record) -> str:
    links = record.links
    if not record.still_open:
        return "0"
    if not record.in_review:
        return _count(record.still_open, links["open"])
    if not record.open:
        return _count(record.still_open, links["in_review"], "all in review")
    title = (
        f"{record.open} open and {record.in_review} in review; "
        "the claim list shows one status at a time"
    )
    return _count(record.still_open, links["supported"], title)


def _latest(record) -> str:
    if not record.latest:
        return "—"
    day = record.latest.isoformat()
    return f'<time datetime="{day}">{day}</time>'


def report_row(record, actions: bool, language: str) -> str:
    links = record.links
    name = esc(record.name)
    grade, suggested = esc(record.grade), esc(record.suggested)
    median = record.median_lead
    action = ""
    if actions:
        action = (
            f'<td class="actions"><a href="{esc(links["change_grade"])}" '
            f'aria-label="Change the grade of {name}">Change grade</a></td>'
        )
    mismatch = ' class="mismatch"' if record.mismatch else ""
    accuracy, low, high = record.texts(language)
    agreement = esc(record.agreement)
    slug = AGREEMENT_SLUGS.get(record.agreement) or esc(slugify(record.agreement))
    return (
        f"<tr{mismatch}>\n"
        f'<th scope="row" class="col-name"><a href="{esc(links["detail"])}">'
        f"{name}</a></th>\n"
        f"<td>{esc(record.get_kind_display())}</td>\n"
        f"<td>{esc(record.country)}</td>\n"
        f'<td class="col-grade"><span class="grade grade-{grade}" '
        f'title="Source reliability: {esc(record.get_grade_display())}">'
        f"{grade}</span></td>\n"
        f'<td class="col-grade"><span class="grade grade-{suggested}" '
        f'title="Source reliability: {suggested}">{suggested}</span></td>\n'
        f'<td class="col-agreement"><span class="agreement '
        f'agreement-{slug}">{agreement}</span></td>\n'
        f'<td class="num">{_count(record.supported, links["supported"])}</td>\n'
        f'<td class="num">{_count(record.confirmed, links["confirmed"])}</td>\n'
        f'<td class="num">{_count(record.refuted, links["refuted"])}</td>\n'
        f'<td class="num">{_still_open(record)}</td>\n'
        f'<td class="num">{int(record.rulings)}</td>\n'
        f'<td class="num">{esc(accuracy)}</td>\n'
        f'<td class="num">{esc(low)}</td>\n'
        f'<td class="num">{esc(high)}</td>\n'
        '<td class="num">'
        f"{_count(record.firsts, links['confirmed'], 'Of its confirmed claims')}"
        "</td>\n"
        '<td class="num">'
        f"{'—' if median is None else esc(figure(median, -1, language))}</td>\n"
        f'<td class="num col-date">{_latest(record)}</td>\n{action}\n</tr>\n'
    )


@register.simple_tag
def report_rows(rows, actions: bool = True) -> SafeString:
    """The <tr> of each record, as the report's table shows them; without the
    "Change grade" cell for the printed report."""
    language = get_language()
    return mark_safe(  # noqa: S308 - every part escaped
        "".join(report_row(record, actions, language) for record in rows)
    )


def chart_point(point, chart) -> str:
    record = point.record
    name = esc(record.name)
    grade, suggested = esc(record.grade), esc(record.suggested)
    rulings = int(record.rulings)
    y = float(point.y)
    # As the template's |add: did, in whole units.
    hit_y, name_x = int(y) - 10, int(chart.plot_left) - 8
    letter_x = int(chart.plot_right) + 10
    return (
        f'<g class="point chart-grade-{grade}'
        f'{" mismatch" if record.mismatch else ""}">\n'
        f"<title>{name}: accuracy {esc(point.accuracy)}, 90 % interval "
        f"{esc(point.low)}–{esc(point.high)}, {rulings} ruling"
        f"{'' if rulings == 1 else 's'}; assigned {grade}, record suggests "
        f"{suggested}</title>\n"
        f'<rect class="hit" x="0" y="{hit_y}" width="{int(chart.width)}" '
        'height="20"/>\n'
        f'<text class="name" x="{name_x}" y="{y}" dy="0.35em" text-anchor="end">'
        f"{truncated(record.name, 36)}</text>\n"
        f'<line class="interval" x1="{float(point.x_low)}" '
        f'x2="{float(point.x_high)}" y1="{y}" y2="{y}"/>\n'
        f'<circle class="mean" cx="{float(point.x_mean)}" cy="{y}" r="4.5"/>\n'
        f'<text class="letter" x="{letter_x}" y="{y}" dy="0.35em">{grade}'
        f"{'→' + suggested if record.mismatch else ''}</text>\n</g>\n"
    )


@register.simple_tag
def chart_points(chart) -> SafeString:
    """One mark per plotted record: its interval, its accuracy, its grade."""
    return mark_safe("".join(chart_point(point, chart) for point in chart.points))  # noqa: S308


@register.simple_tag
def chart_description(chart) -> SafeString:
    """The chart's figures in words, for the SVG's <desc>."""
    return mark_safe(  # noqa: S308 - every part escaped
        "".join(
            f"{esc(point.record.name)}: {esc(point.accuracy)} "
            f"({esc(point.low)} to {esc(point.high)}), "
            f"grade {esc(point.record.grade)}. "
            for point in chart.points
        )
    )


def _header_cell(column: dict, first: bool, subject: str, query, links: bool) -> str:
    state = column["state"]
    label = "Origin" if first and subject == "origin" else esc(column["label"])
    if links:
        # {% querystring ordering=column.value page=None %}, escaped.
        params = query.copy()
        params["ordering"] = column["value"]
        if "page" in params:
            del params["page"]
        label = (
            f'<a href="?{esc(params.urlencode())}" '
            f'class="sort sort-{esc(state or "none")}">{label}</a>'
        )
    sort = f' aria-sort="{esc(state)}"' if state else ""
    numeric = " num" if column["numeric"] else ""
    return (
        f'<th scope="col"{sort} class="col-{esc(column["key"])}{numeric}">{label}</th>'
    )


@register.simple_tag(takes_context=True)
def report_header(context, columns, subject: str, links: bool = True) -> SafeString:
    """The header row's column cells, each a link that sorts by it (none on
    paper)."""
    query = context.request.GET
    return mark_safe(  # noqa: S308 - every part escaped
        "".join(
            _header_cell(column, index == 0, subject, query, links)
            for index, column in enumerate(columns)
        )
    )


@register.simple_tag
def chart_axes(chart) -> SafeString:
    """The chart's grid lines with their ticks, and the grade thresholds."""
    top, bottom = int(chart.top), chart.bottom
    ticks = "".join(
        f'\n<line class="grid" x1="{esc(x)}" x2="{esc(x)}" y1="{top - 6}" '
        f'y2="{esc(bottom)}"/>\n<text class="tick" x="{esc(x)}" '
        f'y="{int(bottom) + 16}" text-anchor="middle">{esc(label)}</text>'
        for x, label in chart.ticks
    )
    thresholds = "".join(
        f'\n<line class="threshold" x1="{esc(x)}" x2="{esc(x)}" y1="{top - 14}" '
        f'y2="{esc(bottom)}"/>\n<text class="threshold-label" x="{esc(x)}" '
        f'y="{top - 18}" text-anchor="middle">{esc(grade)}</text>'
        for x, grade in chart.thresholds
    )
    return mark_safe(f"{ticks}{thresholds}")  # noqa: S308 - every part escaped
