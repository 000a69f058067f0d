"""Periods counted as the Civil Code 2015 counts them (articles 147-148).

- A period counted in days starts the day AFTER the given day.
- It ends at 24:00 of its last day; 24:00 is the next day's 00:00:00, and the
  end is exclusive: 23:59:59 on the last day is inside, 00:00:00 is outside.
- When the last day of a period counted in calendar days is not a working day
  (a weekend day, a public holiday, a local closure), the period ends at the end
  of the next working day.
- A period counted in working days skips every day that is not a working day.

Pure functions over dates: they take a calendar and a time zone and return
aware datetimes, with an explanation of every day counted or skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from .workdays import DayStatus, VietnamCalendar, format_day, national_calendar

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

PeriodKind = str  # "working_days" | "calendar_days" | "deadline"

#: The one range of dates every date input accepts (forms, campaign files, the
#: API, the CLI, calendar overrides): years 1990 to 2100.  Stored data outside
#: it (written before the check, or by hand) is reported, never computed with.
FIRST_DATE, LAST_DATE = date(1990, 1, 1), date(2100, 12, 31)


class DateOutOfRange(ValueError):
    """A date outside :data:`FIRST_DATE`..:data:`LAST_DATE`, with messages for people."""

    def __init__(self, day: date, what: str = "date"):
        self.day, self.what = day, what
        self.message_vi = (f"Ngày {day:%d/%m/%Y} ({what}) nằm ngoài khoảng cho phép "
                           f"{FIRST_DATE:%d/%m/%Y}–{LAST_DATE:%d/%m/%Y}.")
        self.message_en = (f"{day.isoformat()} ({what}) is outside the accepted range "
                           f"{FIRST_DATE.isoformat()}..{LAST_DATE.isoformat()}.")
        super().__init__(self.message_en)


#: How a campaign whose stored dates are out of range is repaired (CLI, dashboard, API).
REPAIR_VI = ("Sửa bằng lệnh `flask campaign move MÃ_ĐỢT MỐC --end YYYY-MM-DD --reason …`, "
             "biểu mẫu “Sửa ngày” trên bảng điều hành của đợt, hoặc POST /api/v1/campaigns/MÃ_ĐỢT/milestones/MỐC/move.")
REPAIR_EN = ("Repair it with `flask campaign move CODE KIND --end YYYY-MM-DD --reason …`, the “Sửa ngày” form "
             "on the campaign's dashboard, or POST /api/v1/campaigns/CODE/milestones/KIND/move.")


_MIDNIGHT_END = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ]24:00(?::00(?:[.,]0+)?)?(.*)$")


def parse_iso_instant(text: str, default_tz: tzinfo | None = None) -> datetime:
    """``datetime.fromisoformat`` plus ISO 8601's end of day: ``2019-10-25T24:00+07:00`` is
    ``2019-10-26T00:00+07:00`` (officials write "24 giờ ngày 25/10").  ``Z`` is UTC.  Without an offset
    the instant is read in ``default_tz`` (left naive when None).  Raises ValueError."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    match = _MIDNIGHT_END.match(text)
    if match:
        instant = datetime.fromisoformat(f"{match[1]}T00:00{match[2]}") + timedelta(days=1)
    else:
        instant = datetime.fromisoformat(text)
    if instant.tzinfo is None and default_tz is not None:
        instant = instant.replace(tzinfo=default_tz)
    return instant


def in_range(day: date) -> bool:
    return FIRST_DATE <= day <= LAST_DATE


def check_date(day: date, what: str = "date") -> date:
    """``day`` itself when it is inside the accepted range, else :class:`DateOutOfRange`."""
    if not in_range(day):
        raise DateOutOfRange(day, what)
    return day


def end_of_day(day: date, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """24:00 local time of ``day``: the next day's 00:00:00, exclusive."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


@dataclass(frozen=True)
class CountedDay:
    """One day of a period: counted (the n-th) or skipped, and why."""

    status: DayStatus
    #: The n-th counted day, or None when skipped.
    number: int | None
    #: After a calendar-day period's nominal end: the roll-forward.
    rolled: bool = False
    #: The deadline day itself.
    deadline: bool = False

    @property
    def day(self) -> date:
        return self.status.day

    def line(self, lang: str = "vi") -> str:
        when = format_day(self.day, lang)
        if self.deadline:
            what = "hạn chót, hết ngày lúc 24:00" if lang == "vi" else "the deadline, ends at 24:00"
            if not self.status.working:
                what += f" ({self.status.describe(lang)})"
            return f"{when}: {what}"
        if self.rolled:
            if self.status.working:
                what = ("ngày làm việc tiếp theo: thời hạn kết thúc lúc 24:00" if lang == "vi"
                        else "next working day: the period ends at 24:00")
                return f"{when}: {what}"
            moved = "chuyển tiếp" if lang == "vi" else "carried over"
            return f"{when}: {moved} — {self.status.describe(lang)}"
        if self.number is not None:
            if self.status.reason in ("working",):
                what = f"ngày thứ {self.number}" if lang == "vi" else f"day {self.number}"
            else:
                what = (f"ngày thứ {self.number} — {self.status.describe(lang)}" if lang == "vi"
                        else f"day {self.number} — {self.status.describe(lang)}")
            return f"{when}: {what}"
        skipped = "không tính" if lang == "vi" else "skipped"
        return f"{when}: {skipped} — {self.status.describe(lang)}"


@dataclass(frozen=True)
class Period:
    """A computed period: its last day, when it ends, and why."""

    kind: PeriodKind
    start: date
    length: int
    last_day: date
    ends_at: datetime
    days: tuple[CountedDay, ...] = field(default=())
    #: For calendar days: the nominal last day when it was rolled forward.
    rolled_from: date | None = None

    def contains(self, instant: datetime) -> bool:
        """Whether an aware instant falls before the period's end."""
        return instant < self.ends_at

    def summary(self, lang: str = "vi") -> str:
        end = format_day(self.last_day, lang)
        if self.kind == "deadline":
            return (f"Hạn chót: hết ngày {end} (24:00 giờ Việt Nam)" if lang == "vi"
                    else f"Deadline: end of {end} (24:00 Vietnam time)")
        start = format_day(self.start, lang)
        if self.kind == "working_days":
            return (f"{self.length} ngày làm việc kể từ {start}: kết thúc lúc 24:00 {end}" if lang == "vi"
                    else f"{self.length} working days counted from {start}: ends at 24:00 on {end}")
        text = (f"{self.length} ngày kể từ {start}: kết thúc lúc 24:00 {end}" if lang == "vi"
                else f"{self.length} days counted from {start}: ends at 24:00 on {end}")
        if self.rolled_from is not None:
            rolled = format_day(self.rolled_from, lang)
            text += (f" (ngày cuối {rolled} không phải ngày làm việc nên chuyển sang ngày làm việc tiếp theo)" if lang == "vi"
                     else f" ({rolled} is not a working day, so the period runs to the next working day)")
        return text

    def explain(self, lang: str = "vi") -> list[str]:
        """The summary, then one line per day counted or skipped."""
        return [self.summary(lang)] + [d.line(lang) for d in self.days]

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "length": self.length,
            "last_day": self.last_day.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "rolled_from": self.rolled_from.isoformat() if self.rolled_from else None,
            "explanation": {"vi": self.explain("vi"), "en": self.explain("en")},
        }


def _days_between(cal: VietnamCalendar, first: date, last: date, count_working: bool) -> tuple[CountedDay, ...]:
    days = []
    number = 0
    day = first
    while day <= last:
        status = cal.day_status(day)
        if count_working:
            if status.working:
                number += 1
                days.append(CountedDay(status, number))
            else:
                days.append(CountedDay(status, None))
        else:
            number += 1
            days.append(CountedDay(status, number))
        day += timedelta(days=1)
    return tuple(days)


def working_days_from(start: date, n: int, cal: VietnamCalendar | None = None,
                      tz: ZoneInfo = LOCAL_TZ, explain: bool = True) -> Period:
    """"N working days counted from D": ends at 24:00 of the N-th working day after D."""
    if n < 0:
        raise ValueError("the number of working days cannot be negative")
    cal = cal or national_calendar()
    last = cal.add_working_days(start, n) if n else start
    days = _days_between(cal, start + timedelta(days=1), last, True) if explain else ()
    return Period("working_days", start, n, last, end_of_day(last, tz), days)


def calendar_days_from(start: date, n: int, cal: VietnamCalendar | None = None,
                       tz: ZoneInfo = LOCAL_TZ, explain: bool = True) -> Period:
    """"N days counted from D": ends at 24:00 of D + N, rolled to the next working day."""
    if n < 0:
        raise ValueError("the number of days cannot be negative")
    cal = cal or national_calendar()
    nominal = start + timedelta(days=n)
    last = cal.next_working_day(nominal)
    days: tuple[CountedDay, ...] = ()
    if explain:
        days = _days_between(cal, start + timedelta(days=1), nominal, False)
        extra = []
        day = nominal + timedelta(days=1)
        while day <= last:
            # Days after the nominal end are not counted: the period only runs
            # on to the end of the first working day (article 148).
            extra.append(CountedDay(cal.day_status(day), None, rolled=True))
            day += timedelta(days=1)
        days = days + tuple(extra)
    return Period("calendar_days", start, n, last, end_of_day(last, tz), days,
                  rolled_from=nominal if last != nominal else None)


def deadline_on(day: date, cal: VietnamCalendar | None = None, tz: ZoneInfo = LOCAL_TZ) -> Period:
    """A deadline given as a date ends at 24:00 local time of that date."""
    cal = cal or national_calendar()
    return Period("deadline", day, 0, day, end_of_day(day, tz), (CountedDay(cal.day_status(day), None, deadline=True),))


def working_days_late(deadline: date, received: datetime, cal: VietnamCalendar | None = None,
                      tz: ZoneInfo = LOCAL_TZ) -> int:
    """How many working days late an instant is against a date deadline.

    0 when on time; otherwise the number of working days after the deadline
    up to and including the local day of receipt (at least 1: a dossier that
    arrives on a weekend after the deadline is late by the working day it will
    be handled on).
    """
    cal = cal or national_calendar()
    if received < end_of_day(deadline, tz):
        return 0
    local_day = received.astimezone(tz).date()
    late = cal.get_working_days_delta(deadline, local_day)
    if not cal.is_working_day(local_day):
        late += 1
    return max(late, 1)
