"""Dossiers received per day against the deadline and the grace end, drawn as SVG on the server.

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

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 44
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
#: At most this many days drawn (the last ones): a bar stays wider than a finger's tap on a phone.
MAX_DAYS = 45


def _day(d: date) -> str:
    return f"{d:%d/%m}"


def render_received_svg(per_day: Mapping[date, int], deadline: date, grace_end: date, today: date, *,
                        labels: Mapping[str, str] | None = None, element_id: str = "received-chart",
                        first: date | None = None) -> str:
    """``per_day``: dossiers received on each local day.  The axis runs from the first day with a
    dossier (or ``first``) to the later of grace end and today, at most ``MAX_DAYS`` days."""
    text = {**LABELS_VI, **(labels or {})}
    start = min([*per_day, first or deadline - timedelta(days=14)])
    end = max(grace_end, min(today, grace_end + timedelta(days=7)), max(per_day, default=grace_end))
    if (end - start).days + 1 > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
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
