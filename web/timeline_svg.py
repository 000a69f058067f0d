"""A campaign's timeline drawn as SVG, on the server.

Pure: a :class:`~workflow.timeline.Timeline`, today's local date and the
non-working days in, an SVG string out.  No inline ``style`` attributes (the
Content-Security-Policy forbids them): colours and fonts are presentation
attributes.  Every mark carries a ``<title>`` so that screen readers and
pointer hovers say what it is.

Layout: a date axis on top (one column per day), the non-working days as
ticks under the axis, the grace period shaded, then one row per milestone: a
bar for a date range, a diamond for a single date; green when done, red when
overdue, grey when still ahead.  A vertical line marks today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from workflow.timeline import Timeline, TimelineItem
from workflow.workdays import format_day

#: Texts of the drawing; the web layer passes them translated.
LABELS_VI: dict[str, str] = {
    "title": "Tiến độ đợt đánh giá",
    "today": "Hôm nay",
    "grace": "Thời gian gia hạn",
    "overdue": "quá hạn",
    "done": "đã xong",
    "passed": "đã qua",
    "ahead": "chưa đến",
    "current": "đang diễn ra",
    "day_off": "Ngày nghỉ",
    "today_outside": "Hôm nay ({day}) nằm ngoài khoảng thời gian của đợt",
    "summary": "{n} mốc thời gian, hạn nộp {deadline}, hết gia hạn {grace}",
}

COLORS = {
    "overdue": "#dc3545",
    "done": "#198754",
    "ahead": "#6c757d",
    "current": "#0d6efd",
    "deadline": "#0d6efd",
    "today": "#0d6efd",
    "grace": "#ffc107",
    "holiday": "#fd7e14",
    "weekend": "#adb5bd",
    "axis": "#495057",
    "text": "#212529",
}

WIDTH = 1000
LEFT = 16
RIGHT = 16
AXIS_Y = 44
ROW_TOP = 72
ROW_HEIGHT = 36
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
#: How far from the campaign's dates today may be and still widen the axis.
TODAY_REACH = timedelta(days=90)


def axis_range(timeline: Timeline, today: date) -> tuple[date, date]:
    """The first and last day drawn (inclusive)."""
    starts = [i.start or i.end for i in timeline.items]
    ends = [i.end for i in timeline.items]
    first = min(starts + [timeline.deadline.last_day - timedelta(days=14)]) - timedelta(days=3)
    last = max(ends) + timedelta(days=4)
    if first - TODAY_REACH <= today < first:
        first = today - timedelta(days=3)
    if last < today <= last + TODAY_REACH:
        last = today + timedelta(days=3)
    return first, last


def _status(item: TimelineItem, today: date) -> str:
    if item.overdue:
        return "overdue"
    if item.reached:
        return "done"
    if item.start and item.start <= today <= item.end:
        return "current"
    return "ahead"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tick_step(days: int) -> int | None:
    """Days between axis labels; None: label the first of each month."""
    for step in (1, 2, 7, 14):
        if days / step <= 16:
            return step
    return None


def render_timeline_svg(timeline: Timeline, today: date, holidays: Mapping[date, str] | Iterable[date] = (),
                        *, lang: str = "vi", labels: Mapping[str, str] | None = None,
                        element_id: str = "timeline") -> str:
    """The timeline as a standalone SVG document (also fine inline in HTML).

    ``holidays``: the non-working days to mark, with their names when given
    as a mapping (weekends as well as public holidays and local closures).
    """
    text = dict(LABELS_VI)
    text.update(labels or {})
    names: dict[date, str] = dict(holidays) if isinstance(holidays, Mapping) else {d: "" for d in holidays}
    first, last = axis_range(timeline, today)
    days = (last - first).days + 1
    scale = (WIDTH - LEFT - RIGHT) / days

    def x(day: date) -> float:
        """The left edge of a day's column."""
        return LEFT + (day - first).days * scale

    items = timeline.items
    height = ROW_TOP + ROW_HEIGHT * len(items) + 16
    out: list[str] = []
    add = out.append
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    summary = text["summary"].format(n=len(items), deadline=format_day(timeline.deadline.last_day, lang),
                                     grace=format_day(timeline.grace_end, lang))
    add(f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(element_id)} class="timeline-svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" font-family={quoteattr(FONT)} font-size="13" '
        f'fill="{COLORS["text"]}">')
    add(f'<title id="{title_id}">{escape(text["title"])}</title>')
    add(f'<desc id="{desc_id}">{escape(summary)}</desc>')

    # The grace period: from 24:00 of the deadline to 24:00 of its last day.
    grace_x0 = x(timeline.deadline.last_day + timedelta(days=1))
    grace_x1 = x(timeline.grace_end + timedelta(days=1))
    if grace_x1 > grace_x0:
        grace_from = format_day(timeline.deadline.last_day + timedelta(days=1), lang)
        add(f'<rect data-kind="grace" x="{_num(grace_x0)}" y="{AXIS_Y - 14}" width="{_num(grace_x1 - grace_x0)}" '
            f'height="{height - AXIS_Y + 10}" fill="{COLORS["grace"]}" fill-opacity="0.22">'
            f'<title>{escape(text["grace"])}: {escape(grace_from)}'
            f' – {escape(format_day(timeline.grace_end, lang))}</title></rect>')

    # The axis, its labels, and the days off as ticks under it.
    add(f'<line x1="{LEFT}" y1="{AXIS_Y}" x2="{WIDTH - RIGHT}" y2="{AXIS_Y}" stroke="{COLORS["axis"]}" '
        f'stroke-width="1"/>')
    step = _tick_step(days)
    day = first
    while day <= last:
        if step is None:
            labelled = day.day == 1
            label = f"{day:%m/%Y}"
        elif step == 1 or step == 2:
            labelled = (day - first).days % step == 0
            label = f"{day:%d/%m}"
        else:
            labelled = day.weekday() == 0 and (step == 7 or ((day - first).days // 7) % 2 == 0)
            label = f"{day:%d/%m}"
        if labelled:
            cx = x(day) + scale / 2
            add(f'<line x1="{_num(cx)}" y1="{AXIS_Y - 4}" x2="{_num(cx)}" y2="{AXIS_Y}" '
                f'stroke="{COLORS["axis"]}"/>')
            add(f'<text x="{_num(cx)}" y="{AXIS_Y - 8}" text-anchor="middle" font-size="12">{escape(label)}</text>')
        if day in names:
            kind = "weekend" if day.weekday() >= 5 and _plain_weekend(names[day]) else "holiday"
            tip = names[day] or text["day_off"]
            add(f'<rect data-kind="day-off" data-day="{day.isoformat()}" x="{_num(x(day) + 0.5)}" y="{AXIS_Y + 2}" '
                f'width="{_num(max(scale - 1, 1))}" height="{10 if kind == "holiday" else 6}" '
                f'fill="{COLORS[kind]}"><title>{escape(format_day(day, lang))}: {escape(tip)}</title></rect>')
        day += timedelta(days=1)

    # Today, under the milestones so that their labels stay readable.
    if first <= today <= last:
        tx = x(today) + scale / 2
        add(f'<g data-kind="today" data-day="{today.isoformat()}">'
            f'<title>{escape(text["today"])}: {escape(format_day(today, lang))}</title>'
            f'<line x1="{_num(tx)}" y1="{AXIS_Y - 30}" x2="{_num(tx)}" y2="{height - 6}" stroke="{COLORS["today"]}" '
            f'stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{_num(tx + 4)}" y="{AXIS_Y - 22}" fill="{COLORS["today"]}" font-weight="bold">'
            f'{escape(text["today"])}</text></g>')
    else:
        note = text["today_outside"].format(day=format_day(today, lang))
        add(f'<text data-kind="today-outside" x="{WIDTH - RIGHT}" y="{height - 4}" text-anchor="end" '
            f'font-size="12" fill="{COLORS["axis"]}">{escape(note)}</text>')
    # One row per milestone.
    for row, item in enumerate(items):
        y = ROW_TOP + row * ROW_HEIGHT
        status = _status(item, today)
        color = COLORS[status]
        if item.kind in ("deadline", "grace_end"):
            # Dates, not work: blue while ahead, grey once passed.
            color = COLORS["deadline"] if status == "ahead" else COLORS["axis"]
        state_text = text["passed"] if status == "done" and item.kind in ("deadline", "grace_end") else text[status]
        tip = f"{item.name(lang)}: {item.when(lang)} ({state_text})"
        overdue = ' data-overdue="true"' if item.overdue else ""
        add(f'<g data-kind="milestone" data-milestone={quoteattr(item.kind)} data-status="{status}"{overdue}>')
        add(f"<title>{escape(tip)}</title>")
        if item.start and item.start != item.end:
            x0, x1 = x(item.start), x(item.end + timedelta(days=1))
            add(f'<rect x="{_num(x0)}" y="{y + 12}" width="{_num(max(x1 - x0, 2))}" height="12" rx="3" '
                f'fill="{color}" stroke="{color}"/>')
            anchor_x, right_edge = x0, x1
        else:
            cx = x(item.end) + scale / 2
            add(f'<path d="M{_num(cx)} {y + 10} L{_num(cx + 8)} {y + 18} L{_num(cx)} {y + 26} '
                f'L{_num(cx - 8)} {y + 18} Z" fill="{color}" stroke="{color}"/>')
            anchor_x, right_edge = cx - 8, cx + 8
        suffix = f" ({text['overdue']})" if item.overdue else ""
        fill = color if item.overdue else COLORS["text"]
        add(_label(item, lang, suffix, anchor_x, right_edge, y + 22, fill))
        add("</g>")

    add("</svg>")
    return "".join(out)


#: Roughly how wide a character of the labels is, in user units.
CHAR_WIDTH = 7.2


def _label(item: TimelineItem, lang: str, suffix: str, left: float, right: float, y: float, fill: str) -> str:
    """The milestone's name and dates beside its mark: right of it, else left, else shortened."""
    for label in (f"{item.name(lang)} — {item.when(lang)}{suffix}", f"{item.name(lang)}{suffix}"):
        width = CHAR_WIDTH * len(label)
        if right + 8 + width <= WIDTH - RIGHT:
            return f'<text x="{_num(right + 8)}" y="{y}" fill="{fill}">{escape(label)}</text>'
        if left - 8 - width >= LEFT:
            return f'<text x="{_num(left - 8)}" y="{y}" text-anchor="end" fill="{fill}">{escape(label)}</text>'
    label = f"{item.name(lang)}{suffix}"
    if right + 8 + CHAR_WIDTH * len(label) > WIDTH - RIGHT:
        # No room on either side: the name above the mark.
        x = min(max(left, LEFT), WIDTH - RIGHT - CHAR_WIDTH * len(label))
        return f'<text x="{_num(max(x, LEFT))}" y="{y - 14}" font-size="12" fill="{fill}">{escape(label)}</text>'
    return f'<text x="{_num(right + 8)}" y="{y}" fill="{fill}">{escape(label)}</text>'


def _plain_weekend(name: str) -> bool:
    """A weekend day with no other name ("Thứ Bảy", "Saturday")."""
    return name in ("Thứ Bảy", "Chủ Nhật", "Saturday", "Sunday", "")
