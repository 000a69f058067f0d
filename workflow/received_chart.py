"""Dossiers received per day against the deadline and the grace end, drawn as SVG on the server
(the dashboard), and as an HTML table with inline styles and as text (the daily digest: Gmail and
Outlook do not render inline SVG).

Pure (no Flask, no database): counts per local day in, an SVG string out, so that the dashboard
and the daily digest (notifications) draw the same chart.  Like web/timeline_svg.py: no inline
``style`` (the Content-Security-Policy forbids it), a ``<title>`` on every bar, a ``<desc>`` that
says the totals in words, and a viewBox so that it scales to a phone's width with labels large
enough to read (the text is sized for a 390 px wide rendering of the 640-unit-wide drawing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

LABELS_VI: dict[str, str] = {
    "title": "Hồ sơ nhận được theo ngày",
    "deadline": "Hạn nộp",
    "grace_end": "Hết gia hạn",
    "today": "Hôm nay",
    "bar": "{day}: {n} hồ sơ",
    "summary": "{total} hồ sơ nhận được từ {first} đến {last}; nhiều nhất {max} hồ sơ một ngày.",
    "empty": "Chưa nhận được hồ sơ nào.",
}

LABELS_EN: dict[str, str] = {
    "title": "Dossiers received per day",
    "deadline": "Deadline",
    "grace_end": "Grace ends",
    "today": "Today",
    "bar": "{day}: {n} dossiers",
    "summary": "{total} dossiers received from {first} to {last}; at most {max} in a day.",
    "empty": "No dossier received yet.",
}

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, BOTTOM = 44, 12, 44
FONT_SIZE = 14
#: The labels of the deadline, grace end and today sit in rows above the plot, ROW_HEIGHT apart;
#: the plot starts below the last row used.
ROW_HEIGHT, FIRST_BASELINE = 20, 18
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
#: At most this many days drawn (the last ones): a bar stays wider than a finger's tap on a phone.
MAX_DAYS = 45


def _day(d: date) -> str:
    return f"{d:%d/%m}"


def axis(per_day: Mapping[date, int], deadline: date, grace_end: date, today: date,
         first: date | None = None) -> list[date]:
    """The days drawn: from the first day with a dossier (or ``first``, or two weeks before the deadline)
    to the later of grace end and today (at most a week after grace end), at most ``MAX_DAYS`` (the last)."""
    start = min([*per_day, first or deadline - timedelta(days=14)])
    end = max(grace_end, min(today, grace_end + timedelta(days=7)), max(per_day, default=grace_end))
    if (end - start).days + 1 > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


#: The longest bar of the mail's HTML chart, in pixels (fits a phone's 320 px with the date and count).
MAIL_BAR_PX = 200
#: The longest bar of the text chart, in characters (a line stays under 78 characters).
TEXT_BAR = 30


def _marks(d: date, deadline: date, grace_end: date, text: Mapping[str, str]) -> str:
    marks = []
    if d == deadline:
        marks.append(text["deadline"])
    if d == grace_end and grace_end != deadline:
        marks.append(text["grace_end"])
    return ", ".join(marks)


def render_received_html(per_day: Mapping[date, int], deadline: date, grace_end: date, today: date, *,
                         labels: Mapping[str, str] | None = None, first: date | None = None) -> str:
    """The same chart for a mail's HTML part: one table row per day (date, a bar as a table cell with a
    width and ``bgcolor``, which Gmail and Outlook render, the count, the deadline/grace end marks), the
    grace period's rows shaded, late days' bars orange.  Inline styles only; one row per line."""
    text = {**LABELS_VI, **(labels or {})}
    days = axis(per_day, deadline, grace_end, today, first)
    shown = {d: per_day.get(d, 0) for d in days}
    total = sum(per_day.values())
    top = max([1, *shown.values()])
    out = ['<table id="received-chart" role="presentation" cellpadding="0" cellspacing="0" '
           'style="border-collapse: collapse; font-size: 13px; margin: 4px 0 8px">',
           f'<caption style="text-align: left; font-weight: bold; padding: 0 0 4px">{escape(text["title"])}</caption>']
    for d in days:
        n = shown[d]
        in_grace = deadline < d <= grace_end
        row_bg = ' style="background: #fff3cd"' if in_grace else ""
        width = max(1, round(MAIL_BAR_PX * n / top)) if n else 0
        color = "#b35c00" if d > deadline else "#0d6efd"
        bar = (f'<table role="presentation" cellpadding="0" cellspacing="0"><tr><td width="{width}" height="12" '
               f'bgcolor="{color}" style="width: {width}px; height: 12px; background: {color}; font-size: 1px; '
               f'line-height: 1px">&nbsp;</td></tr></table>') if n else ""
        mark = _marks(d, deadline, grace_end, text)
        mark_cell = (f'<td style="padding: 1px 6px; color: {"#dc3545" if d == deadline else "#8a6d00"}; '
                     f'font-weight: bold">{escape(mark)}</td>') if mark else '<td></td>'
        out.append(f'<tr data-day="{d.isoformat()}"{row_bg}><td style="padding: 1px 6px; white-space: nowrap">'
                   f'{_day(d)}</td><td style="padding: 1px 0; width: {MAIL_BAR_PX}px">{bar}</td>'
                   f'<td style="padding: 1px 6px; text-align: right">{n or ""}</td>{mark_cell}</tr>')
    summary = text["summary"].format(total=total, first=_day(days[0]), last=_day(days[-1]),
                                     max=max(shown.values(), default=0)) if total else text["empty"]
    out.append(f'<tr><td colspan="4" style="padding: 4px 6px 0; color: #495057">{escape(summary)}</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def render_received_text(per_day: Mapping[date, int], deadline: date, grace_end: date, today: date, *,
                         labels: Mapping[str, str] | None = None, first: date | None = None) -> str:
    """The same chart for a mail's text part, compact: one line per day that received dossiers or carries
    a mark (``25/10 ##########   12  <- Hạn nộp``), bars scaled to ``TEXT_BAR`` characters, ``+`` for a
    late day (after the deadline), the totals last.  Every line under 78 characters."""
    text = {**LABELS_VI, **(labels or {})}
    days = axis(per_day, deadline, grace_end, today, first)
    shown = {d: per_day.get(d, 0) for d in days}
    total = sum(per_day.values())
    if not total:
        return text["empty"]
    top = max([1, *shown.values()])
    lines = [text["title"] + ":"]
    for d in days:
        n = shown[d]
        mark = _marks(d, deadline, grace_end, text)
        if not n and not mark:
            continue
        bar = ("+" if d > deadline else "#") * (max(1, round(TEXT_BAR * n / top)) if n else 0)
        line = f"  {_day(d)} {bar:<{TEXT_BAR}} {n:>5}"
        if mark:
            line += f"  <- {mark}"
        lines.append(line.rstrip()[:77])
    lines.append("  " + text["summary"].format(total=total, first=_day(days[0]), last=_day(days[-1]),
                                               max=max(shown.values(), default=0)))
    return "\n".join(lines)


def label_width(text: str, font_size: float = FONT_SIZE) -> float:
    """A generous width of a bold label (about 0.62 em a character: wider than system-ui draws
    digits and Vietnamese letters), so that boxes computed from it never understate the text."""
    return 0.62 * font_size * len(text)


@dataclass(frozen=True)
class LabelBox:
    """Where a mark's label is drawn: its text's anchor point and the box the text fills."""

    key: str
    x: float  # the text's anchor x (the SVG ``x``)
    baseline: float  # the SVG ``y``
    anchor: str  # start | end
    left: float
    right: float
    top: float
    bottom: float

    def overlaps(self, other: LabelBox, gap: float = 2) -> bool:
        return not (self.right + gap <= other.left or other.right + gap <= self.left
                    or self.bottom + gap <= other.top or other.bottom + gap <= self.top)


def label_box(key: str, x: float, baseline: float, anchor: str, text: str,
              font_size: float = FONT_SIZE) -> LabelBox:
    """The box of a label drawn at (x, baseline) with ``text-anchor`` anchor: ascent with a stacked
    Vietnamese diacritic above, descent below."""
    width = label_width(text, font_size)
    left = x - width if anchor == "end" else x
    return LabelBox(key, x, baseline, anchor, left, left + width, baseline - font_size,
                    baseline + font_size * 0.25)


def layout_labels(marks: Sequence[tuple[str, float, str]], width: float = WIDTH) -> list[LabelBox]:
    """Place the marks' labels (key, line x, text) so that no two overlap and none leaves the drawing:
    each goes in the first row where it fits, beside its line, on the side facing the middle first,
    else on the other side (so a deadline and a grace end one day apart stand on opposite sides of
    their lines, or one above the other)."""
    placed: list[LabelBox] = []
    for key, lx, text in marks:
        preferred = "end" if lx > width / 2 else "start"
        sides = (preferred, "start" if preferred == "end" else "end")
        chosen = None
        for row in range(len(marks) + 1):
            baseline = FIRST_BASELINE + ROW_HEIGHT * row
            for anchor in sides:
                box = label_box(key, lx - 4 if anchor == "end" else lx + 4, baseline, anchor, text)
                if box.left < 0 or box.right > width:
                    continue
                if not any(box.overlaps(other) for other in placed):
                    chosen = box
                    break
            if chosen is not None:
                break
        if chosen is None:  # wider than the drawing on both sides: its own row, from the left edge
            baseline = FIRST_BASELINE + ROW_HEIGHT * rows_used(placed) if placed else FIRST_BASELINE
            chosen = label_box(key, 0, baseline, "start", text)
        placed.append(chosen)
    return placed


def rows_used(boxes: Sequence[LabelBox]) -> int:
    return 1 + max((round((b.baseline - FIRST_BASELINE) / ROW_HEIGHT) for b in boxes), default=0)


def render_received_svg(per_day: Mapping[date, int], deadline: date, grace_end: date, today: date, *,
                        labels: Mapping[str, str] | None = None, element_id: str = "received-chart",
                        first: date | None = None) -> str:
    """``per_day``: dossiers received on each local day.  The axis runs from the first day with a
    dossier (or ``first``) to the later of grace end and today, at most ``MAX_DAYS`` days."""
    text = {**LABELS_VI, **(labels or {})}
    days = axis(per_day, deadline, grace_end, today, first)
    start, end = days[0], days[-1]
    shown = {d: per_day.get(d, 0) for d in days}
    total = sum(per_day.values())
    top = max([1, *shown.values()])
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / len(days)
    bar_w = max(2.0, step * 0.7)

    def x(d: date) -> float:
        return LEFT + (d - start).days * step

    # the deadline, grace end and today as vertical lines (at the end of their day), labels laid out first:
    # the plot starts below the rows they take
    marks = [("deadline", deadline, "#dc3545", ""), ("grace_end", grace_end, "#8a6d00", "6 3")]
    if start <= today <= end:
        marks.append(("today", today, "#495057", "2 3"))
    marks = [m for m in marks if start <= m[1] <= end and not (m[0] == "grace_end" and m[1] == deadline)]
    line_x = {key: x(d) + step if key != "today" else x(d) + step / 2 for key, d, _c, _d in marks}
    boxes = layout_labels([(key, line_x[key], f"{text[key]} {_day(d)}") for key, d, _c, _d in marks])
    plot_top = FIRST_BASELINE + ROW_HEIGHT * (rows_used(boxes) - 1) + 10
    plot_h = HEIGHT - plot_top - BOTTOM

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(element_id)} viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="100%" role="img" aria-labelledby="{element_id}-title {element_id}-desc" '
           f'font-family={quoteattr(FONT)} font-size="{FONT_SIZE}">',
           f'<title id="{element_id}-title">{escape(text["title"])}</title>']
    summary = text["summary"].format(total=total, first=_day(days[0]), last=_day(days[-1]),
                                     max=max(shown.values(), default=0)) if total else text["empty"]
    out.append(f'<desc id="{element_id}-desc">{escape(summary)}</desc>')
    # the axis and a scale of three values
    base = plot_top + plot_h
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#495057"/>')
    for value in sorted({0, top // 2, top}):
        y = base - plot_h * value / top
        out.append(f'<text x="{LEFT - 6}" y="{y + 5:.1f}" text-anchor="end" fill="#212529">{value}</text>')
        if value:
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dee2e6"/>')
    # the grace period, shaded
    if grace_end > deadline and start <= grace_end:
        gx = x(max(start, deadline + timedelta(days=1)))
        out.append(f'<rect x="{gx:.1f}" y="{plot_top}" width="{x(grace_end) + step - gx:.1f}" height="{plot_h}" '
                   f'fill="#fff3cd"><title>{escape(text["grace_end"])} {_day(grace_end)}</title></rect>')
    for d in days:
        n = shown[d]
        if n:
            h = plot_h * n / top
            late = d > deadline
            out.append(f'<rect class="bar" data-day="{d.isoformat()}" data-n="{n}" x="{x(d) + (step - bar_w) / 2:.1f}" '
                       f'y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                       f'fill="{"#b35c00" if late else "#0d6efd"}">'
                       f'<title>{escape(text["bar"].format(day=_day(d), n=n))}</title></rect>')
    # dates under the axis: about six, always the first and the last
    every = max(1, round(len(days) / 6))
    for i, d in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            out.append(f'<text x="{x(d) + step / 2:.1f}" y="{base + 18}" text-anchor="middle" '
                       f'fill="#212529">{_day(d)}</text>')
    for (key, d, color, dash), box in zip(marks, boxes, strict=True):
        lx = line_x[key]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line class="mark-{key}" x1="{lx:.1f}" y1="{plot_top - 4}" x2="{lx:.1f}" y2="{base}" '
                   f'stroke="{color}" stroke-width="2"{dash_attr}><title>{escape(text[key])} {_day(d)}</title></line>')
        out.append(f'<text class="mark-label" data-mark="{key}" x="{box.x:.1f}" y="{box.baseline:.0f}" '
                   f'text-anchor="{box.anchor}" fill="{color}" font-weight="600">{escape(text[key])} {_day(d)}</text>')
    out.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" fill="#212529">{escape(summary)}</text>')
    out.append("</svg>")
    return "".join(out)
