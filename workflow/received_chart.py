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

from collections.abc import Mapping
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
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 44
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
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(days)
    bar_w = max(2.0, step * 0.7)

    def x(d: date) -> float:
        return LEFT + (d - start).days * step

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(element_id)} viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="100%" role="img" aria-labelledby="{element_id}-title {element_id}-desc" '
           f'font-family={quoteattr(FONT)} font-size="14">',
           f'<title id="{element_id}-title">{escape(text["title"])}</title>']
    summary = text["summary"].format(total=total, first=_day(days[0]), last=_day(days[-1]),
                                     max=max(shown.values(), default=0)) if total else text["empty"]
    out.append(f'<desc id="{element_id}-desc">{escape(summary)}</desc>')
    # the axis and a scale of three values
    base = TOP + plot_h
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#495057"/>')
    for value in sorted({0, top // 2, top}):
        y = base - plot_h * value / top
        out.append(f'<text x="{LEFT - 6}" y="{y + 5:.1f}" text-anchor="end" fill="#212529">{value}</text>')
        if value:
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dee2e6"/>')
    # the grace period, shaded
    if grace_end > deadline and start <= grace_end:
        gx = x(max(start, deadline + timedelta(days=1)))
        out.append(f'<rect x="{gx:.1f}" y="{TOP}" width="{x(grace_end) + step - gx:.1f}" height="{plot_h}" '
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
    # the deadline, grace end and today as vertical lines (at the end of their day)
    marks = [("deadline", deadline, "#dc3545", ""), ("grace_end", grace_end, "#8a6d00", "6 3")]
    if start <= today <= end:
        marks.append(("today", today, "#495057", "2 3"))
    for i, (key, d, color, dash) in enumerate(marks):
        if not start <= d <= end or (key == "grace_end" and d == deadline):
            continue
        lx = x(d) + step if key != "today" else x(d) + step / 2
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line class="mark-{key}" x1="{lx:.1f}" y1="{TOP - 4}" x2="{lx:.1f}" y2="{base}" '
                   f'stroke="{color}" stroke-width="2"{dash_attr}><title>{escape(text[key])} {_day(d)}</title></line>')
        anchor = "end" if lx > WIDTH / 2 else "start"
        out.append(f'<text x="{lx + (-4 if anchor == "end" else 4):.1f}" y="{TOP - 10 + 14 * (i % 2) + (i // 2) * 0}" '
                   f'text-anchor="{anchor}" fill="{color}" font-weight="600">{escape(text[key])} {_day(d)}</text>')
    out.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" fill="#212529">{escape(summary)}</text>')
    out.append("</svg>")
    return "".join(out)
