"""Reminder rules: which reminders are due at ``now``.  Pure: no Flask, no database.

Defaults (editable per campaign): to each unit that has not submitted, 10, 5,
3 and 1 working days before the deadline, on the deadline day, and on each
working day of the grace period; a daily digest to the organizer while
submissions are open and during grace; a reminder N working days before each
later milestone.  Reminders go out on working days only, inside office hours,
and only on their own day: one that was missed (the server was down all day)
would no longer be true, so it is not sent late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from workflow.periods import LOCAL_TZ
from workflow.timeline import MILESTONES, grace_days
from workflow.workdays import VietnamCalendar


class RulesError(ValueError):
    """A reminder setting refused: ``key`` names the setting, ``message_vi`` says why in Vietnamese (the
    English message is the exception's text, as campaign files and the CLI report it)."""

    def __init__(self, message: str, key: str = "", message_vi: str = ""):
        super().__init__(message)
        self.key, self.message_vi = key, message_vi or message


def _parse_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise RulesError(f"{text!r} is not a time of day (HH:MM)", "office_hours",
                         f"“{text}” không phải giờ trong ngày (giờ:phút, ví dụ 07:30).") from None


@dataclass(frozen=True)
class ReminderRules:
    before_deadline: tuple[int, ...] = (10, 5, 3, 1)
    on_deadline_day: bool = True
    grace_days: bool = True
    escalate: bool = True
    digest: bool = True
    milestone_lead_days: int = 2
    office_start: time = time(7, 30)
    office_end: time = time(17, 0)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ReminderRules:
        if not data:
            return cls()
        known = {"before_deadline", "on_deadline_day", "grace_days", "escalate", "digest", "milestone_lead_days",
                 "office_hours"}
        unknown = set(data) - known
        if unknown:
            names = ", ".join(sorted(str(k) for k in unknown))
            raise RulesError(f"unknown reminder setting(s): {names}", "", f"Không có thiết lập nhắc hạn: {names}.")
        kwargs: dict[str, Any] = {}
        if "before_deadline" in data:
            values = data["before_deadline"]
            if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 60
                                                       for v in values):
                raise RulesError("before_deadline must be a list of working-day counts between 1 and 60",
                                 "before_deadline", "Mỗi lần nhắc trước hạn là một số ngày làm việc từ 1 đến 60.")
            kwargs["before_deadline"] = tuple(sorted(set(values), reverse=True))
        for name in ("on_deadline_day", "grace_days", "escalate", "digest"):
            if name in data:
                if not isinstance(data[name], bool):
                    raise RulesError(f"{name} must be true or false", name, "Chỉ nhận có (true) hoặc không (false).")
                kwargs[name] = data[name]
        if "milestone_lead_days" in data:
            value = data["milestone_lead_days"]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 30:
                raise RulesError("milestone_lead_days must be a whole number between 0 and 30", "milestone_lead_days",
                                 "Số ngày làm việc nhắc trước các mốc phải là số nguyên từ 0 đến 30 (0: không nhắc).")
            kwargs["milestone_lead_days"] = value
        if "office_hours" in data:
            start, _, end = str(data["office_hours"]).partition("-")
            kwargs["office_start"], kwargs["office_end"] = _parse_time(start), _parse_time(end)
            if kwargs["office_start"] >= kwargs["office_end"]:
                raise RulesError("office_hours must be START-END with START before END", "office_hours",
                                 "Giờ bắt đầu gửi thư phải trước giờ kết thúc.")
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {"before_deadline": list(self.before_deadline), "on_deadline_day": self.on_deadline_day,
                "grace_days": self.grace_days, "escalate": self.escalate, "digest": self.digest,
                "milestone_lead_days": self.milestone_lead_days,
                "office_hours": f"{self.office_start:%H:%M}-{self.office_end:%H:%M}"}


@dataclass(frozen=True)
class Occurrence:
    """A planned reminder to the units that have not submitted."""

    day: date
    #: before_deadline | deadline_day | grace_day
    rule: str
    #: Working days left: before the deadline (before_deadline), or before
    #: exclusion, today included (grace_day).
    days_left: int
    escalate: bool = False

    @property
    def key(self) -> str:
        return f"{self.rule}-{self.days_left}-{self.day.isoformat()}"


def unit_reminders(deadline: date, grace_working_days: int, cal: VietnamCalendar,
                   rules: ReminderRules) -> list[Occurrence]:
    """Every reminder to silent units for a campaign, in date order."""
    plan: dict[date, Occurrence] = {}
    last_before = cal.sub_working_days(deadline, 1)
    for n in rules.before_deadline:
        day = cal.sub_working_days(deadline, n)
        plan[day] = Occurrence(day, "before_deadline", n, escalate=rules.escalate and day == last_before)
    if rules.on_deadline_day and cal.is_working_day(deadline):
        plan[deadline] = Occurrence(deadline, "deadline_day", 0)
    if rules.grace_days and grace_working_days:
        for k, day in enumerate(grace_days(deadline, grace_working_days, cal), start=1):
            plan[day] = Occurrence(day, "grace_day", grace_working_days - k + 1)
    return [plan[d] for d in sorted(plan)]


def in_office_hours(now: datetime, cal: VietnamCalendar, rules: ReminderRules, tz: ZoneInfo = LOCAL_TZ) -> bool:
    local = now.astimezone(tz)
    return cal.is_working_day(local.date()) and rules.office_start <= local.time() < rules.office_end


def office_closes_at(day: date, rules: ReminderRules, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    return datetime.combine(day, rules.office_end, tzinfo=tz)


def due_unit_reminder(occurrences: list[Occurrence], now: datetime, cal: VietnamCalendar, rules: ReminderRules,
                      tz: ZoneInfo = LOCAL_TZ) -> Occurrence | None:
    """Today's reminder, if there is one and the office is open now."""
    if not in_office_hours(now, cal, rules, tz):
        return None
    today = now.astimezone(tz).date()
    for occurrence in occurrences:
        if occurrence.day == today:
            return occurrence
    return None


@dataclass(frozen=True)
class MilestoneReminder:
    kind: str
    day: date
    milestone_end: date


def due_milestone_reminders(milestones: dict[str, date], now: datetime, cal: VietnamCalendar, rules: ReminderRules,
                            tz: ZoneInfo = LOCAL_TZ) -> list[MilestoneReminder]:
    """Reminders to the organizer and council N working days before later milestones."""
    if not rules.milestone_lead_days or not in_office_hours(now, cal, rules, tz):
        return []
    today = now.astimezone(tz).date()
    due = []
    for kind, end in milestones.items():
        day = cal.sub_working_days(end, rules.milestone_lead_days)
        if day == today:
            due.append(MilestoneReminder(kind, day, end))
    return due


def digest_due(now: datetime, cal: VietnamCalendar, rules: ReminderRules, tz: ZoneInfo = LOCAL_TZ) -> bool:
    return rules.digest and in_office_hours(now, cal, rules, tz)


def reminder_dates(deadline: date, grace_working_days: int, milestones: dict[str, date], cal: VietnamCalendar,
                   rules: ReminderRules) -> dict[str, tuple[str, str, date]]:
    """The days reminders go out, as computed dates (key -> (label vi, label en, day)): the units' reminders
    before the deadline and in grace, and the organizer's N working days before each later milestone.  The
    dashboard compares them with and without an unconfirmed day off (workflow.calendar_dependence)."""
    out: dict[str, tuple[str, str, date]] = {}
    for occ in unit_reminders(deadline, grace_working_days, cal, rules):
        if occ.rule == "before_deadline":
            out[f"reminder-before-{occ.days_left}"] = (
                f"Nhắc hạn {occ.days_left} ngày làm việc trước hạn chót",
                f"Reminder {occ.days_left} working day{'s' if occ.days_left != 1 else ''} before the deadline",
                occ.day)
        elif occ.rule == "grace_day":
            out[f"reminder-grace-{occ.days_left}"] = (
                f"Nhắc hạn trong gia hạn (còn {occ.days_left} ngày làm việc)",
                f"Grace reminder ({occ.days_left} working day{'s' if occ.days_left != 1 else ''} left)", occ.day)
    if rules.milestone_lead_days:
        for kind, end in milestones.items():
            vi, en, _state = MILESTONES.get(kind, (kind, kind, ""))
            out[f"milestone-reminder-{kind}"] = (f"Nhắc mốc “{vi}”", f"Reminder of “{en}”",
                                                 cal.sub_working_days(end, rules.milestone_lead_days))
    return out
