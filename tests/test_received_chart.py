"""The received-per-day chart's labels (issue 15): the deadline, grace-end and today labels never touch,
whatever the grace period, computed from the SVG the dashboard serves (pure: no app, no database)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from workflow.received_chart import WIDTH, label_box, render_received_svg
from workflow.workdays import VietnamCalendar

SVG = "{http://www.w3.org/2000/svg}"
CAL = VietnamCalendar()


def boxes_of(svg: str):
    """Each mark label's box, from the drawn text's x, y, anchor and words; and the top of the mark lines."""
    root = ET.fromstring(svg)
    boxes = [label_box(t.get("data-mark"), float(t.get("x")), float(t.get("y")), t.get("text-anchor"), t.text)
             for t in root.iter(f"{SVG}text") if t.get("class") == "mark-label"]
    line_tops = [float(line.get("y1")) for line in root.iter(f"{SVG}line")
                 if (line.get("class") or "").startswith("mark-")]
    return boxes, line_tops


def grace_end_of(deadline: date, n: int) -> date:
    day = deadline
    for _ in range(n):
        day += timedelta(days=1)
        while not CAL.is_working_day(day):
            day += timedelta(days=1)
    return day


@pytest.mark.parametrize("grace_days", [0, 1, 2, 5])
@pytest.mark.parametrize("deadline", [date(2026, 12, 3), date(2026, 12, 4)])  # a Thursday, a Friday
@pytest.mark.parametrize("history_days", [10, 44])  # wide bars, and the narrowest (45 days drawn)
def test_deadline_grace_and_today_labels_never_overlap(grace_days, deadline, history_days):
    grace_end = grace_end_of(deadline, grace_days)
    per_day = {deadline - timedelta(days=i): 1 + i % 3 for i in range(history_days)}
    todays = {deadline, deadline + timedelta(days=1), grace_end, grace_end + timedelta(days=1), deadline - timedelta(days=3)}
    for today in sorted(todays):
        svg = render_received_svg(per_day, deadline, grace_end, today)
        boxes, line_tops = boxes_of(svg)
        keys = [b.key for b in boxes]
        assert "deadline" in keys and ("grace_end" in keys) == (grace_days > 0), keys
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b, gap=0), (grace_days, today, a, b)
        for box in boxes:
            assert 0 <= box.left and box.right <= WIDTH, box
            assert box.bottom < min(line_tops), (box, line_tops)  # above every line, the plot below them


def test_labels_side_by_side_would_be_caught():
    """The check itself: two labels drawn at the same place (as the old layout did a day apart) overlap."""
    a = label_box("deadline", 400, 18, "end", "Hạn nộp 04/12")
    b = label_box("grace_end", 413, 18, "end", "Hết gia hạn 07/12")
    assert a.overlaps(b, gap=0)


def test_close_deadline_and_grace_end_stand_apart_and_stay_readable():
    deadline = date(2026, 12, 3)
    svg = render_received_svg({deadline - timedelta(days=i): 1 for i in range(44)}, deadline,
                              grace_end_of(deadline, 1), date(2026, 12, 1))
    boxes, _tops = boxes_of(svg)
    texts = {t.get("data-mark"): t.text for t in ET.fromstring(svg).iter(f"{SVG}text")
             if t.get("class") == "mark-label"}
    assert texts == {"deadline": "Hạn nộp 03/12", "grace_end": "Hết gia hạn 04/12", "today": "Hôm nay 01/12"}
    assert len(boxes) == 3
