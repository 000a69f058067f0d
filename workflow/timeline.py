"""A campaign's timeline: what is due when, where the campaign stands at ``now``.

Pure: takes plain values (dates, a calendar, a time zone, ``now``), returns
plain values.  The state shown is derived from the recorded state and the
clock, so it is never stale even when the tick has not run yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .machine import ORDER, advance_by_time
from .periods import LOCAL_TZ, Period, check_date, deadline_on, end_of_day, working_days_from
from .workdays import VietnamCalendar, format_day

#: Later milestones in timeline order: kind -> (vi, en, the state that is
#: reached when the milestone's work is done).
MILESTONES: dict[str, tuple[str, str, str]] = {
    "preliminary_review": ("Hoàn thành thẩm định sơ bộ", "Preliminary review done", "field_inspection"),
    "field_inspection": ("Kiểm tra thực tế", "Field inspection", "awards"),
    "award_notice": ("Thông báo đơn vị đề nghị khen thưởng", "Award units notified", "awards"),
    "award_dossiers": ("Hạn nộp hồ sơ đề nghị khen thưởng", "Award dossiers due", "approval"),
    "approval": ("UBND tỉnh phê duyệt", "Approval by the People's Committee", "approved"),
    "publication": ("Công bố kết quả", "Results published", "approved"),
}
#: Milestones that span days (a start and an end); the others are one last day.
#: With MILESTONES, the one place that defines the milestones: the campaign form's
#: fields, checks and lists are derived from these two (web/pages/setup.py).
RANGED_MILESTONES = frozenset({"field_inspection"})


def grace_period(deadline: date, grace_working_days: int, cal: VietnamCalendar, tz: ZoneInfo = LOCAL_TZ) -> Period:
    """The grace period: ``grace_working_days`` working days counted from the day after the deadline
    (Civil Code 2015, art. 147), ending at 24:00 of its last day.  The one place the grace end is worked
    out: the timeline, the reminder rules, the campaign form's preview and the demo all call it."""
    return working_days_from(deadline, grace_working_days, cal, tz)


def grace_days(deadline: date, grace_working_days: int, cal: VietnamCalendar) -> list[date]:
    """The working days of the grace period, in order; the last one is :func:`grace_period`'s last day."""
    days, day = [], deadline
    for _ in range(grace_working_days):
        day = cal.add_working_days(day, 1)
        days.append(day)
    return days


@dataclass(frozen=True)
class MilestoneDates:
    start: date | None
    end: date


@dataclass(frozen=True)
class TimelineItem:
    """One milestone of the timeline, computed."""

    kind: str
    name_vi: str
    name_en: str
    start: date | None
    end: date
    #: 24:00 local time of ``end``.
    ends_at: datetime
    computed: bool = False
    overdue: bool = False
    reached: bool = False
    period: Period | None = None

    def name(self, lang: str = "vi") -> str:
        return self.name_vi if lang == "vi" else self.name_en

    def when(self, lang: str = "vi") -> str:
        if self.start and self.start != self.end:
            return f"{format_day(self.start, lang)} – {format_day(self.end, lang)}"
        return format_day(self.end, lang)


@dataclass(frozen=True)
class Timeline:
    deadline: Period
    grace: Period
    items: tuple[TimelineItem, ...]

    @property
    def deadline_at(self) -> datetime:
        return self.deadline.ends_at

    @property
    def grace_ends_at(self) -> datetime:
        return self.grace.ends_at

    @property
    def grace_end(self) -> date:
        return self.grace.last_day


def compute(deadline: date, grace_working_days: int, milestones: dict[str, MilestoneDates],
            cal: VietnamCalendar, *, state: str = "open", now: datetime | None = None,
            tz: ZoneInfo = LOCAL_TZ) -> Timeline:
    """The campaign's milestones with computed instants and overdue flags.

    A date outside the accepted range (periods.FIRST_DATE..LAST_DATE) raises
    :class:`~workflow.periods.DateOutOfRange` naming it, before any arithmetic.
    """
    check_date(deadline, "deadline")
    for kind, span in milestones.items():
        check_date(span.end, kind)
        if span.start is not None:
            check_date(span.start, kind)
    dl = deadline_on(deadline, cal, tz)
    grace = grace_period(deadline, grace_working_days, cal, tz)
    current = effective_state(state, dl.ends_at, grace.ends_at, now) if now else state
    items = [
        TimelineItem("deadline", "Hạn nộp hồ sơ", "Submission deadline", None, deadline, dl.ends_at,
                     period=dl, reached=_index(current) >= _index("grace"),
                     overdue=False),
        TimelineItem("grace_end", f"Hết thời gian gia hạn ({grace_working_days} ngày làm việc)",
                     f"Grace period ends ({grace_working_days} working days)", None, grace.last_day,
                     grace.ends_at, computed=True, period=grace, reached=_index(current) >= _index("preliminary_review")),
    ]
    for kind, (vi, en, reached_state) in MILESTONES.items():
        dates = milestones.get(kind)
        if dates is None:
            continue
        ends_at = end_of_day(dates.end, tz)
        reached = current != "cancelled" and _index(current) >= _index(reached_state)
        # A milestone ending on or before the grace end (seed 000: preliminary review "before 01/11" while
        # grace runs to 01/11) cannot be done while dossiers may still arrive: it is not overdue until the
        # grace period is over (milestone_warnings names both dates meanwhile).
        due_at = max(ends_at, grace.ends_at)
        overdue = bool(now and now >= due_at and not reached and current != "cancelled")
        items.append(TimelineItem(kind, vi, en, dates.start, dates.end, ends_at, reached=reached, overdue=overdue))
    return Timeline(dl, grace, tuple(items))


def _index(state: str) -> int:
    return ORDER.index(state) if state in ORDER else -1


def effective_state(state: str, deadline_at: datetime, grace_ends_at: datetime, now: datetime) -> str:
    """The recorded state moved on by what time has done by ``now``."""
    if state not in ("open", "grace"):
        return state
    new_state, _ = advance_by_time(state, deadline_passed=now >= deadline_at, grace_ended=now >= grace_ends_at)
    return new_state


@dataclass(frozen=True)
class MilestoneWarning:
    """A later milestone that ends on or before the grace end: its work cannot start before it is due."""

    kind: str
    end: date
    grace_end: date

    def message(self, lang: str = "vi") -> str:
        vi, en, _state = MILESTONES[self.kind]
        if lang == "vi":
            return (f"Mốc “{vi}” ({format_day(self.end)}) không sau ngày hết thời gian gia hạn "
                    f"({format_day(self.grace_end)}): việc của mốc này chỉ bắt đầu được khi hết gia hạn.")
        return (f"Milestone “{en}” ({format_day(self.end, 'en')}) is not after the grace end "
                f"({format_day(self.grace_end, 'en')}): its work can only start once grace is over.")


def milestone_warnings(deadline: date, grace_working_days: int, milestones: dict[str, MilestoneDates],
                       cal: VietnamCalendar) -> list[MilestoneWarning]:
    """Later milestones that end on or before the grace period's last day (seed 000: preliminary review
    "before 01/11" while grace runs to 01/11), in timeline order."""
    grace_end = grace_period(deadline, grace_working_days, cal).last_day
    return [MilestoneWarning(kind, milestones[kind].end, grace_end) for kind in MILESTONES
            if kind in milestones and milestones[kind].end <= grace_end]
