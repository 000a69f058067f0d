"""The Vietnamese working-day calendar.

Working days are Monday to Friday, minus public holidays and compensatory days
off, plus the Saturdays the government turns into working days when it swaps
days around a holiday (shared/DOMAIN.md, rule 3).  The holiday data comes from
the ``holidays`` package (country VN, always ``language="vi"`` for names, with
``en_US`` for the English explanation); local overrides (a provincial closure
for a storm, an extra working day) are layered on top.

The arithmetic API is workalendar's: :class:`VietnamCalendar` is a
``workalendar.core.Calendar`` whose ``holidays``, ``is_working_day``,
``add_working_days``, ``sub_working_days`` and ``get_working_days_delta``
honour all of the above.  Stock workalendar walks day by day and checks the
weekend before the holidays, which cannot express a make-up Saturday; here the
working days are precomputed once per range of years into a sorted array of
date ordinals, and every question is a binary search on it.

This module knows nothing of Flask or the database.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import holidays as holidays_pkg
import yaml
from babel.dates import format_date
from workalendar.core import SAT, SUN, Calendar, cleaned_date

OverrideKind = Literal["day_off", "working_day"]
_Date = date

#: Shipped corrections to the package's data, each citing its source
#: (docs/holiday-verification.md explains how they were checked).
CORRECTIONS_FILE = Path(__file__).with_name("data") / "holiday_corrections.yaml"
#: The legal source of each national day off and make-up day (the notice that decided it, or the Labour
#: Code), and the package's days that nothing enacted confirms.
SOURCES_FILE = Path(__file__).with_name("data") / "holiday_sources.yaml"

#: Years that are precomputed together; the window grows on demand.
_WINDOW_MARGIN = 2
#: The years the calendar answers for (wider than the accepted input range, periods.FIRST_DATE..LAST_DATE,
#: so that a period counted from a date near its edge can end after it).  A day or a result outside raises
#: :class:`CalendarRangeError` instead of wrapping around.
FIRST_YEAR, LAST_YEAR = 1900, 2200


class CalendarRangeError(ValueError):
    """A day, or the result of a computation, outside the years the calendar supports."""

    def __init__(self, day: object):
        super().__init__(f"{day} is outside the working-day calendar's years {FIRST_YEAR}..{LAST_YEAR}")


def _whole(delta) -> int:
    """A whole number of working days; 1.5 is refused rather than truncated, as are bools and NaN."""
    if isinstance(delta, bool):
        raise TypeError("the number of working days must be a whole number, not a bool")
    try:
        whole = int(delta)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"the number of working days must be a whole number, not {delta!r}") from None
    if whole != delta:
        raise ValueError(f"the number of working days must be a whole number, not {delta!r}")
    return whole


def _supported(day: date) -> date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarRangeError(day)
    return day


@dataclass(frozen=True)
class Override:
    """A day whose status an organizer (or shipped data) decided locally."""

    day: date
    kind: OverrideKind
    reason: str
    document: str = ""
    #: Who it applies to: an organizer's code, or None for everyone.
    scope: str | None = None
    reason_en: str = ""
    #: A national decision shipped as data (a correction to the package), not a
    #: provincial one: explained as a holiday or a make-up day, with its source.
    national: bool = False
    #: A decision on an unconfirmed national day off (:class:`~workflow.models.HolidayDecision`):
    #: ``confirmed`` (kind day_off) or ``rejected`` (kind working_day); ``document`` cites it.
    settles: str | None = None
    document_en: str = ""

    @property
    def is_day_off(self) -> bool:
        return self.kind == "day_off"


@dataclass(frozen=True)
class DayStatus:
    """Whether a day is a working day, and why, in Vietnamese and English."""

    day: date
    working: bool
    #: working | weekend | holiday | makeup_workday | local_day_off |
    #: local_working_day
    reason: str
    name_vi: str
    name_en: str
    document: str = ""
    #: A day off the holidays package lists that no enacted law or shipped notice confirms.
    unconfirmed: bool = False
    document_en: str = ""

    def describe(self, lang: str = "vi") -> str:
        name = self.name_vi if lang == "vi" else self.name_en
        document = self.document_en if lang != "vi" and self.document_en else self.document
        if document:
            doc = "theo" if lang == "vi" else "per"
            name = f"{name} ({doc} {document})"
        if self.unconfirmed:
            name += (" [CHƯA XÁC NHẬN: chưa có văn bản pháp lý đã ban hành]" if lang == "vi"
                     else " [UNCONFIRMED: no enacted legal source]")
        return name


def _locale(lang: str) -> str:
    return "vi" if lang == "vi" else "en"


def weekday_name(day: date, lang: str = "vi") -> str:
    """The weekday's name from Babel's CLDR data: ``Thứ Sáu`` / ``Friday``."""
    return weekday_names(lang)[day.weekday()]


@functools.cache
def weekday_names(lang: str = "vi") -> tuple[str, ...]:
    """Monday to Sunday, as a calendar's column heads (``Thứ Hai`` … ``Chủ Nhật``); asked once per language
    (Babel takes ~25 µs a name, and a dashboard's calendar strip names fifty days)."""
    monday = date(2024, 1, 1)
    return tuple(format_date(monday + timedelta(days=i), "EEEE", locale=_locale(lang)) for i in range(7))


@functools.lru_cache(maxsize=8192)
def format_day(day: date, lang: str = "vi") -> str:
    """``Thứ Sáu 25/10/2019`` / ``Friday 25/10/2019`` (Babel, pattern ``EEEE dd/MM/yyyy``).

    Cached: Babel takes ~27 µs a call against ~4.5 µs for the old hand-kept list, and the
    timeline, the calendar page and every mail format the same few hundred days.
    """
    return format_date(day, "EEEE dd/MM/yyyy", locale=_locale(lang))


def load_corrections(path: Path = CORRECTIONS_FILE) -> tuple[Override, ...]:
    """Read the shipped corrections to the holiday package's data."""
    if not path.exists():
        return ()
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return tuple(
        Override(
            day=row["date"] if isinstance(row["date"], date) else date.fromisoformat(str(row["date"])),
            kind=row["kind"],
            reason=row["name_vi"],
            reason_en=row.get("name_en", row["name_vi"]),
            document=row.get("source", ""),
            national=True,
        )
        for row in rows
    )


@dataclass(frozen=True)
class Notice:
    """A government notice that decided days off and make-up days of a year."""

    number: str
    issued: _Date | None
    issuer: str
    days: frozenset[date]

    def cite(self) -> str:
        when = f" ngày {self.issued:%d/%m/%Y}" if self.issued else ""
        return f"{self.number}{when} của {self.issuer}"

    def cite_en(self) -> str:
        when = f" of {self.issued:%d/%m/%Y}" if self.issued else ""
        return f"{self.number}{when} ({self.issuer})"


@dataclass(frozen=True)
class Sources:
    notices: tuple[Notice, ...]
    #: (first year, source vi, source en), newest first.
    labour_code: tuple[tuple[int, str, str], ...]
    #: (name fragment, note vi, note en)
    unconfirmed: tuple[tuple[str, str, str], ...]

    def notice_of(self, day: date) -> Notice | None:
        return next((n for n in self.notices if day in n.days), None)

    def code_of(self, year: int) -> tuple[str, str]:
        return next(((vi, en) for first, vi, en in self.labour_code if year >= first), ("", ""))

    def is_unconfirmed(self, name_vi: str) -> bool:
        return any(fragment in name_vi for fragment, _vi, _en in self.unconfirmed)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def load_sources(path: Path = SOURCES_FILE) -> Sources:
    """Read the shipped table of legal sources (workflow/data/holiday_sources.yaml)."""
    if not path.exists():
        return Sources((), (), ())
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    notices = tuple(Notice(str(n["number"]), _as_date(n.get("date")), str(n["issuer"]),
                           frozenset(d for d in (_as_date(x) for x in n.get("days") or ()) if d is not None))
                    for n in doc.get("notices") or ())
    code = tuple(sorted(((int(r["from"]), str(r["source"]), str(r.get("source_en", r["source"])))
                         for r in doc.get("labour_code") or ()), reverse=True))
    unconfirmed = tuple((str(r["name"]), str(r.get("note", "")), str(r.get("note_en", "")))
                        for r in doc.get("unconfirmed") or ())
    return Sources(notices, code, unconfirmed)


_SWAP_RE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


class VietnamCalendar(Calendar):
    """Việt Nam: the working days of state agencies."""

    WEEKEND_DAYS = (SAT, SUN)

    def __init__(self, overrides: Iterable[Override] = (), corrections: Iterable[Override] | None = None):
        super().__init__()
        if corrections is None:
            corrections = load_corrections()
        # Shipped corrections first, so a local decision wins over them.
        self._overrides: dict[date, Override] = {o.day: o for o in corrections}
        self._overrides.update({o.day: o for o in overrides})
        self._lock = threading.Lock()
        self._first_year = 0
        self._last_year = -1
        #: Sorted ordinals of every working day in [first_year, last_year].
        self._work: list[int] = []
        self._work_set: frozenset[int] = frozenset()
        self._years: dict[int, tuple[dict[date, tuple[str, str]], frozenset[date]]] = {}
        self.sources = load_sources()

    # -- data ----------------------------------------------------------------

    @property
    def overrides(self) -> tuple[Override, ...]:
        return tuple(sorted(self._overrides.values(), key=lambda o: o.day))

    def _year_data(self, year: int) -> tuple[dict[date, tuple[str, str]], frozenset[date]]:
        """The package's data for ``year``: days off -> (vi, en), make-up days."""
        cached = self._years.get(year)
        if cached is None:
            vi = holidays_pkg.country_holidays("VN", years=year, language="vi")
            en = holidays_pkg.country_holidays("VN", years=year, language="en_US")
            days = {d: (vi[d], _english_name(vi[d], en.get(d, vi[d]))) for d in sorted(vi) if d.year == year}
            makeup = frozenset(d for d in vi.weekend_workdays if d.year == year)
            cached = self._years[year] = (days, makeup)
        return cached

    def _national_days_off(self, year: int) -> dict[date, tuple[str, str]]:
        """Public holidays and compensatory days of ``year``: day -> (vi, en)."""
        return self._year_data(year)[0]

    def _makeup_saturdays(self, year: int) -> frozenset[date]:
        return self._year_data(year)[1]

    def get_calendar_holidays(self, year: int) -> list[tuple[date, str]]:
        """The days off of ``year`` that are not plain weekends, Vietnamese names.

        Includes local days off; excludes days an override makes working.
        """
        days = {d: vi for d, (vi, _en) in self._national_days_off(year).items()}
        for o in self._overrides.values():
            if o.day.year != year:
                continue
            if o.is_day_off:
                days[o.day] = o.reason
            else:
                days.pop(o.day, None)
        return sorted(days.items())

    def working_weekend_days(self, year: int) -> list[tuple[date, str]]:
        """Weekend days that are working days in ``year`` (make-up or local)."""
        return [(s.day, s.name_vi) for s in (self.day_status(d) for d in self._weekend_candidates(year)) if s.working]

    def _weekend_candidates(self, year: int) -> list[date]:
        days = set(self._makeup_saturdays(year))
        days |= {o.day for o in self._overrides.values() if o.day.year == year and not o.is_day_off}
        return sorted(d for d in days if d.weekday() in self.WEEKEND_DAYS)

    def _build(self, first_year: int, last_year: int) -> None:
        work: list[int] = []
        for year in range(first_year, last_year + 1):
            off = {d.toordinal() for d, _ in self.get_calendar_holidays(year)}
            extra = {d.toordinal() for d in self._weekend_candidates(year)}
            extra -= {o.day.toordinal() for o in self._overrides.values() if o.is_day_off}
            start = date(year, 1, 1).toordinal()
            end = date(year, 12, 31).toordinal()
            for n in range(start, end + 1):
                # date.fromordinal(1) is a Monday: weekday == (n - 1) % 7.
                if (n - 1) % 7 < 5:
                    if n not in off:
                        work.append(n)
                elif n in extra:
                    work.append(n)
        self._work = work
        self._work_set = frozenset(work)
        self._first_year, self._last_year = first_year, last_year

    def _ensure(self, first_year: int, last_year: int) -> None:
        if self._first_year <= first_year and last_year <= self._last_year:
            return
        with self._lock:
            if self._first_year <= first_year and last_year <= self._last_year:
                return
            if self._last_year < self._first_year:  # empty
                lo, hi = first_year - _WINDOW_MARGIN, last_year + _WINDOW_MARGIN
            else:
                lo = min(self._first_year, first_year - _WINDOW_MARGIN)
                hi = max(self._last_year, last_year + _WINDOW_MARGIN)
            lo, hi = max(lo, FIRST_YEAR - _WINDOW_MARGIN), min(hi, LAST_YEAR + _WINDOW_MARGIN)
            self._build(lo, hi)

    def working_day_ordinals(self, first_year: int, last_year: int) -> list[int]:
        """The sorted ordinals of the working days (for batch arithmetic)."""
        self._ensure(first_year, last_year)
        return self._work

    # -- workalendar API -----------------------------------------------------

    def is_working_day(self, day, extra_working_days=None, extra_holidays=None) -> bool:
        day = _supported(cleaned_date(day))
        if extra_working_days and day in tuple(map(cleaned_date, extra_working_days)):
            return True
        if extra_holidays and day in tuple(map(cleaned_date, extra_holidays)):
            return False
        self._ensure(day.year, day.year)
        return day.toordinal() in self._work_set

    def is_holiday(self, day, extra_holidays=None) -> bool:
        day = cleaned_date(day)
        if extra_holidays and day in tuple(map(cleaned_date, extra_holidays)):
            return True
        return day in self.holidays_set(day.year)

    def holidays_set(self, year=None):
        year = year or date.today().year
        cached: dict[int, frozenset] | None = getattr(self, "_holiday_sets", None)
        if cached is None:
            cached = self._holiday_sets = {}
        if year not in cached:
            cached[year] = frozenset(d for d, _ in self.holidays(year))
        return cached[year]

    def add_working_days(self, day, delta, extra_working_days=None, extra_holidays=None, keep_datetime=False):
        """Return the ``delta``-th working day after ``day`` (before, if negative).

        ``day`` itself is never counted, as in stock workalendar and as the
        Civil Code counts a period from a given day.  ``delta`` must be a whole number (1.5 raises
        ValueError rather than being truncated); a day or result outside the calendar's years
        (FIRST_YEAR..LAST_YEAR) raises :class:`CalendarRangeError`.
        """
        delta = _whole(delta)
        if extra_working_days or extra_holidays:
            return super().add_working_days(day, delta, extra_working_days, extra_holidays, keep_datetime)
        original = day
        day = _supported(cleaned_date(day))
        if delta == 0:
            return cleaned_date(original, keep_datetime)
        ordinal = day.toordinal()
        # A generous window: 250 working days a year at least.
        years = abs(delta) // 240 + 1
        if delta > 0:
            self._ensure(day.year, day.year + years)
            work = self._work
            index = bisect.bisect_right(work, ordinal) + delta - 1
        else:
            self._ensure(day.year - years, day.year)
            work = self._work
            index = bisect.bisect_left(work, ordinal) + delta
        if not 0 <= index < len(work):
            raise CalendarRangeError(f"{delta:+d} working days from {day.isoformat()}")
        result = _supported(date.fromordinal(work[index]))
        if keep_datetime and isinstance(original, datetime):
            return datetime.combine(result, original.timetz())
        return result

    def get_working_days_delta(self, start, end, include_start=False, extra_working_days=None, extra_holidays=None):
        """Working days after ``start`` up to and including ``end`` (order-free)."""
        if extra_working_days or extra_holidays:
            return super().get_working_days_delta(start, end, include_start, extra_working_days, extra_holidays)
        start, end = _supported(cleaned_date(start)), _supported(cleaned_date(end))
        if start == end:
            return 0
        if start > end:
            start, end = end, start
        self._ensure(start.year, end.year)
        work = self._work
        lo = bisect.bisect_left(work, start.toordinal()) if include_start else bisect.bisect_right(work, start.toordinal())
        return bisect.bisect_right(work, end.toordinal()) - lo

    def sub_working_days(self, day, delta, extra_working_days=None, extra_holidays=None, keep_datetime=False):
        """Stock workalendar's: ``add_working_days(day, -abs(delta))``; a fractional delta is refused."""
        return super().sub_working_days(day, _whole(delta), extra_working_days, extra_holidays, keep_datetime)

    # find_following_working_day is NOT overridden: it keeps workalendar's documented meaning (the day itself
    # or the first day after it that is not a weekend day; holidays and make-up Saturdays are ignored).
    # The holiday-aware roll-forward of the Civil Code (art. 148) is next_working_day.

    def next_working_day(self, day) -> date:
        """``day`` if it is a working day, else the first working day after it: holidays, compensatory and
        local days off skipped, make-up Saturdays counted (what a period rolled forward ends on)."""
        day = _supported(cleaned_date(day))
        if self.is_working_day(day):
            return day
        return self.add_working_days(day, 1)

    # -- explanations --------------------------------------------------------

    def day_status(self, day: date) -> DayStatus:
        """Whether ``day`` is a working day and why."""
        day = cleaned_date(day)
        override = self._overrides.get(day)
        if override is not None:
            if override.settles == "confirmed":
                return DayStatus(day, False, "holiday", override.reason, override.reason_en or override.reason,
                                 override.document, document_en=override.document_en)
            if override.settles == "rejected":
                return DayStatus(day, True, "working", f"Ngày làm việc (không nghỉ “{override.reason}”)",
                                 f"Working day (not a day off: “{override.reason_en or override.reason}”)",
                                 override.document, document_en=override.document_en)
            if override.national:
                return DayStatus(day, not override.is_day_off, "holiday" if override.is_day_off else "makeup_workday",
                                 override.reason, override.reason_en or override.reason, override.document)
            if override.is_day_off:
                return DayStatus(day, False, "local_day_off", override.reason, override.reason_en or override.reason, override.document)
            return DayStatus(day, True, "local_working_day", override.reason, override.reason_en or override.reason, override.document)
        national = self._national_days_off(day.year)
        weekend = day.weekday() in self.WEEKEND_DAYS
        if weekend and day in self._makeup_saturdays(day.year):
            nearby = {}
            for y in (day.year - 1, day.year, day.year + 1):
                nearby.update(self._national_days_off(y))
            swapped = [d for d, (vi, _) in nearby.items() if _swap_target(vi) == day]
            if swapped:
                off = swapped[0].strftime("%d/%m/%Y")
                vi, en = f"Ngày làm việc bù (cho ngày nghỉ {off})", f"Make-up working day (for the day off on {off})"
            else:
                vi, en = "Ngày làm việc bù", "Make-up working day"
            notice = self.sources.notice_of(day)
            return DayStatus(day, True, "makeup_workday", vi, en, notice.cite() if notice else "",
                             document_en=notice.cite_en() if notice else "")
        if day in national:
            vi, en = national[day]
            if weekend:
                return DayStatus(day, False, "weekend", f"{weekday_name(day)}, {vi}", f"{weekday_name(day, 'en')}, {en}")
            notice = self.sources.notice_of(day)
            if notice is not None:
                source, source_en = notice.cite(), notice.cite_en()
            elif self.sources.is_unconfirmed(vi):
                source, source_en = "", ""  # the Labour Code does not list it (yet)
            else:
                source, source_en = self.sources.code_of(day.year)
            return DayStatus(day, False, "holiday", vi, en, source, unconfirmed=self.sources.is_unconfirmed(vi),
                             document_en=source_en)
        if weekend:
            return DayStatus(day, False, "weekend", weekday_name(day), weekday_name(day, "en"))
        return DayStatus(day, True, "working", "Ngày làm việc", "Working day")

    def unconfirmed_days(self, first: date, last: date) -> list[DayStatus]:
        """The days off in ``first..last`` that the holidays package lists but no enacted source confirms,
        and no decision (:class:`Override` with ``settles``) has confirmed or rejected."""
        found = []
        for year in range(max(first.year, FIRST_YEAR), min(last.year, LAST_YEAR) + 1):
            for day, (vi, _en) in self._national_days_off(year).items():
                if first <= day <= last and self.sources.is_unconfirmed(vi) and day not in self._overrides:
                    status = self.day_status(day)
                    if status.unconfirmed:
                        found.append(status)
        return sorted(found, key=lambda s: s.day)

    # -- batch arithmetic ----------------------------------------------------

    def add_working_days_many(self, days, deltas):
        """Vectorised :meth:`add_working_days`: ``datetime64[D]`` in and out.

        ``days`` and ``deltas`` broadcast together.  For each pair, the
        ``delta``-th working day after the day (before it, if negative; the
        day itself is never counted; 0 returns the day unchanged).
        """
        import numpy as np  # noqa: PLC0415  (the batch path only; importing numpy costs 0.2 s, so not at start-up)

        days = np.asarray(days, dtype="datetime64[D]")
        deltas = np.asarray(deltas)
        if deltas.dtype.kind not in "iub":
            if deltas.size and not np.array_equal(deltas, np.trunc(deltas)):
                raise ValueError("deltas must be whole numbers")
        deltas = deltas.astype(np.int64)
        days, deltas = np.broadcast_arrays(days, deltas)
        if days.size == 0:
            return days.copy()
        if np.isnat(days).any():
            raise ValueError("days must not contain NaT")
        epoch = 719163  # date(1970, 1, 1).toordinal()
        ordinals = days.astype(np.int64) + epoch
        first = date.fromordinal(int(ordinals.min())).year
        last = date.fromordinal(int(ordinals.max())).year
        # As in add_working_days: at least 240 working days a year.
        years = int(np.abs(deltas).max()) // 240 + 1
        work_list = self.working_day_ordinals(first - years, last + years)
        cached = getattr(self, "_work_np", None)
        if cached is None or cached[0] is not work_list:
            cached = self._work_np = (work_list, np.asarray(work_list, dtype=np.int64))
        work = cached[1]
        index = np.where(
            deltas > 0,
            np.searchsorted(work, ordinals, side="right") + deltas - 1,
            np.searchsorted(work, ordinals, side="left") + deltas,
        )
        zero = deltas == 0
        if ((index < 0) | (index >= len(work)))[~zero].any():  # pragma: no cover - window guarantees it
            raise OverflowError("date out of the calendar's range")
        result = np.where(zero, ordinals, work[np.clip(index, 0, len(work) - 1)])
        return (result - epoch).astype("datetime64[D]")


def _swap_target(name_vi: str) -> date | None:
    """The make-up day named in 'Ngày nghỉ (thay cho ngày 04/05/2019)'."""
    if "thay cho" not in name_vi:
        return None
    match = _SWAP_RE.search(name_vi)
    if not match:
        return None
    d, m, y = (int(g) for g in match.groups())
    return date(y, m, d)


def _english_name(name_vi: str, name_en: str) -> str:
    """The package's English names of swapped days use US dates; use ours."""
    target = _swap_target(name_vi)
    if target is None:
        return name_en
    return f"Day off (in lieu of working on {target:%d/%m/%Y})"


_shared: VietnamCalendar | None = None
_shared_lock = threading.Lock()


def national_calendar() -> VietnamCalendar:
    """The one shared calendar with national data and shipped corrections."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = VietnamCalendar()
    return _shared


_scoped: dict[tuple, VietnamCalendar] = {}


def calendar_with(overrides: Sequence[Override]) -> VietnamCalendar:
    """A shared calendar for a set of local overrides (cached by content).

    Adding or removing an override changes the key, so the next computation
    uses a calendar that honours it at once.
    """
    if not overrides:
        return national_calendar()
    key = tuple(sorted((o.day, o.kind, o.reason, o.document, o.scope or "", o.reason_en, o.settles or "",
                        o.document_en) for o in overrides))
    cal = _scoped.get(key)
    if cal is None:
        if len(_scoped) > 256:
            _scoped.clear()
        cal = _scoped[key] = VietnamCalendar(overrides)
    return cal
