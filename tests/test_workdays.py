"""The working-day calendar (workflow/workdays.py): shared/DOMAIN.md, rule 3.

Every expected date below was worked out by hand from the `holidays` package's
data for VN (printed with ``holidays.country_holidays("VN", years=Y,
language="vi")`` and its ``weekend_workdays``); the reasoning is in the
comments.  The property tests compare the bisect arithmetic with a plain
day-by-day walk over the package's data, built here independently.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workalendar.core import SAT, SUN, Calendar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow.workdays import CalendarRangeError, Override, VietnamCalendar  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def cal() -> VietnamCalendar:
    # National data only: no shipped corrections, so that the expectations
    # below depend on the package's data alone.
    return VietnamCalendar(corrections=())


# -- an independent reference, straight from the holidays package ------------

REF_YEARS = range(2012, 2034)
_REF = holidays.country_holidays("VN", years=REF_YEARS, language="vi")
REF_OFF = frozenset(_REF.keys())
REF_MAKEUP = frozenset(_REF.weekend_workdays)


def ref_working(day: date) -> bool:
    """Mon-Fri minus the package's days off, plus its make-up weekend days."""
    if day in REF_MAKEUP:
        return True
    return day.weekday() < 5 and day not in REF_OFF


def ref_add(day: date, n: int) -> date:
    """The n-th working day after (n < 0: before) ``day``, walking day by day."""
    step = timedelta(days=1 if n >= 0 else -1)
    count = 0
    while count < abs(n):
        day += step
        if ref_working(day):
            count += 1
    return day


REF_WORKING_DAYS = [
    d for d in (date(2015, 1, 1) + timedelta(days=i) for i in range((date(2030, 12, 31) - date(2015, 1, 1)).days + 1))
    if ref_working(d)
]

dates_2015_2030 = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))


def test_package_data_is_what_the_expectations_assume():
    # The package's data these tests rely on (printed and checked by hand).
    h = holidays.country_holidays("VN", years=[2018, 2019, 2024, 2025], language="vi")
    assert h[date(2019, 2, 6)] == "Mùng hai Tết Nguyên Đán"
    assert h[date(2019, 4, 29)] == "Ngày nghỉ (thay cho ngày 04/05/2019)"
    assert h[date(2025, 5, 2)] == "Ngày nghỉ (thay cho ngày 26/04/2025)"
    assert h[date(2024, 9, 3)] == "Quốc khánh"
    assert {date(2019, 1, 5), date(2019, 5, 4), date(2024, 5, 4), date(2025, 4, 26)} <= set(REF_MAKEUP)
    assert all(d.weekday() == SAT for d in REF_MAKEUP)


# -- whole-range agreement with the package ------------------------------------

def test_every_day_2014_2031_agrees_with_package(cal):
    day, end = date(2014, 1, 1), date(2031, 12, 31)
    while day <= end:
        expected = ref_working(day)
        assert cal.is_working_day(day) is expected, day
        assert cal.day_status(day).working is expected, day
        day += timedelta(days=1)


# -- seeds -------------------------------------------------------------------

def test_tien_giang_2019_grace(cal):
    # Deadline Fri 25/10/2019; 5 working days after it: Mon 28, Tue 29, Wed 30,
    # Thu 31/10, Fri 1/11 (no holiday in between).
    assert cal.add_working_days(date(2019, 10, 25), 5) == date(2019, 11, 1)


def test_binh_thuan_2019_grace_from_a_sunday(cal):
    # Deadline Sun 15/9/2019; counted from it: Mon 16 .. Fri 20/9.
    assert date(2019, 9, 15).weekday() == SUN
    assert cal.add_working_days(date(2019, 9, 15), 5) == date(2019, 9, 20)


def test_cao_bang_2018_no_grace(cal):
    assert cal.add_working_days(date(2018, 11, 26), 0) == date(2018, 11, 26)


# -- holidays and swaps --------------------------------------------------------

def test_tet_2019(cal):
    # From Fri 1/2/2019: Sat 2, Sun 3 weekend; Mon 4 (Giao thừa) .. Fri 8/2
    # (Mùng bốn) Tết; Sat 9, Sun 10 weekend; then Mon 11 (1), 12 (2), 13 (3),
    # 14 (4), Fri 15/2 (5).
    assert cal.add_working_days(date(2019, 2, 1), 5) == date(2019, 2, 15)
    assert cal.add_working_days(date(2019, 2, 1), 1) == date(2019, 2, 11)
    assert cal.sub_working_days(date(2019, 2, 11), 1) == date(2019, 2, 1)
    assert cal.get_working_days_delta(date(2019, 2, 1), date(2019, 2, 15)) == 5


def test_reunification_2019_swap(cal):
    # 29/4/2019 (Mon) is off in exchange for Sat 4/5/2019, a working day.
    assert not cal.is_working_day(date(2019, 4, 29))
    assert not cal.is_working_day(date(2019, 4, 30))
    assert not cal.is_working_day(date(2019, 5, 1))
    assert cal.is_working_day(date(2019, 5, 4))
    assert not cal.is_working_day(date(2019, 5, 5))
    # From Fri 26/4: Sat 27, Sun 28 weekend; 29/4, 30/4, 1/5 off; Thu 2/5 (1),
    # Fri 3/5 (2), Sat 4/5 (3, make-up), Sun 5/5 skipped, Mon 6/5 (4), Tue 7/5 (5).
    assert cal.add_working_days(date(2019, 4, 26), 5) == date(2019, 5, 7)
    assert cal.add_working_days(date(2019, 5, 3), 1) == date(2019, 5, 4)
    assert cal.add_working_days(date(2019, 5, 4), 1) == date(2019, 5, 6)


def test_national_day_2024_with_adjacent_day(cal):
    # Mon 2/9/2024 and Tue 3/9/2024 off. From Fri 30/8: Sat 31, Sun 1 weekend,
    # Mon 2, Tue 3 off, Wed 4 (1), Thu 5 (2), Fri 6/9 (3).
    assert not cal.is_working_day(date(2024, 9, 2))
    assert not cal.is_working_day(date(2024, 9, 3))
    assert cal.add_working_days(date(2024, 8, 30), 3) == date(2024, 9, 6)
    # Sat 4/5/2024 is a make-up day (for Mon 29/4/2024).
    assert cal.is_working_day(date(2024, 5, 4))


def test_2025_swap(cal):
    # Fri 2/5/2025 off in exchange for Sat 26/4/2025.
    assert cal.is_working_day(date(2025, 4, 26))
    assert not cal.is_working_day(date(2025, 5, 2))
    assert cal.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 26)
    # From Thu 24/4: Fri 25 (1), Sat 26 (2, make-up), Sun 27 skipped, Mon 28 (3),
    # Tue 29 (4), Wed 30/4, Thu 1/5, Fri 2/5 off, Sat 3, Sun 4 weekend, Mon 5/5 (5).
    assert cal.add_working_days(date(2025, 4, 24), 5) == date(2025, 5, 5)
    assert cal.get_working_days_delta(date(2025, 4, 24), date(2025, 5, 5)) == 5


def test_local_closure_moves_the_deadline():
    closure = Override(date(2019, 10, 30), "day_off", "Nghỉ tránh bão số 5", "Quyết định số 123/QĐ-UBND")
    local = VietnamCalendar(overrides=[closure], corrections=())
    # 28 (1), 29 (2), 30 closed, 31 (3), 1/11 (4), Sat 2, Sun 3, Mon 4/11 (5).
    assert local.add_working_days(date(2019, 10, 25), 5) == date(2019, 11, 4)
    assert not local.is_working_day(date(2019, 10, 30))
    assert (date(2019, 10, 30), "Nghỉ tránh bão số 5") in local.holidays(2019)
    status = local.day_status(date(2019, 10, 30))
    assert (status.working, status.reason, status.document) == (False, "local_day_off", "Quyết định số 123/QĐ-UBND")


def test_local_extra_working_day():
    saturday = Override(date(2019, 10, 26), "working_day", "Làm việc ngày thứ Bảy", "Công văn số 45/UBND")
    local = VietnamCalendar(overrides=[saturday], corrections=())
    # Sat 26 (1), Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31/10 (5).
    assert local.add_working_days(date(2019, 10, 25), 5) == date(2019, 10, 31)
    assert local.working_weekend_days(2019)[-1] == (date(2019, 10, 26), "Làm việc ngày thứ Bảy")


def test_working_override_on_a_holiday_and_closure_on_a_makeup_saturday():
    local = VietnamCalendar(overrides=[
        Override(date(2019, 5, 1), "working_day", "Làm việc"),
        Override(date(2019, 5, 4), "day_off", "Nghỉ"),
    ], corrections=())
    assert local.is_working_day(date(2019, 5, 1))
    assert not local.is_working_day(date(2019, 5, 4))
    assert date(2019, 5, 1) not in dict(local.holidays(2019))
    # From Tue 30/4: Wed 1/5 (1), Thu 2 (2), Fri 3 (3), Sat 4 closed, Mon 6/5 (4).
    assert local.add_working_days(date(2019, 4, 30), 4) == date(2019, 5, 6)


# -- the workalendar API -----------------------------------------------------

def test_holidays_of_a_year(cal):
    days = cal.holidays(2019)
    assert days == sorted(days)
    named = dict(days)
    assert named[date(2019, 2, 6)] == "Mùng hai Tết Nguyên Đán"
    assert named[date(2019, 4, 29)] == "Ngày nghỉ (thay cho ngày 04/05/2019)"
    assert date(2019, 5, 4) not in named  # a make-up Saturday is no holiday
    assert set(named) == {d for d in REF_OFF if d.year == 2019}
    assert cal.is_holiday(date(2019, 2, 6)) and not cal.is_holiday(date(2019, 5, 4))
    assert cal.working_weekend_days(2019) == [
        (date(2019, 1, 5), "Ngày làm việc bù (cho ngày nghỉ 31/12/2018)"),
        (date(2019, 5, 4), "Ngày làm việc bù (cho ngày nghỉ 29/04/2019)"),
    ]


class _StockVN(Calendar):
    """Stock workalendar fed the same days off: it checks weekends first."""

    WEEKEND_DAYS = (SAT, SUN)

    def __init__(self, source):
        super().__init__()
        self._source = source

    def get_calendar_holidays(self, year):
        return list(self._source.holidays(year))


def test_makeup_saturdays_where_stock_workalendar_fails(cal):
    stock = _StockVN(cal)
    # Stock workalendar calls a Saturday a weekend day before anything else.
    assert not stock.is_working_day(date(2019, 5, 4))
    assert stock.add_working_days(date(2019, 5, 3), 1) == date(2019, 5, 6)
    # Ours honours the make-up Saturday in every method.
    assert cal.is_working_day(date(2019, 5, 4))
    assert cal.add_working_days(date(2019, 5, 3), 1) == date(2019, 5, 4)
    assert cal.sub_working_days(date(2019, 5, 6), 1) == date(2019, 5, 4)
    assert cal.get_working_days_delta(date(2019, 5, 3), date(2019, 5, 6)) == 2
    assert cal.next_working_day(date(2019, 5, 4)) == date(2019, 5, 4)
    # ... and the holiday-aware roll-forward, next_working_day, skips Tết.
    assert cal.next_working_day(date(2019, 2, 2)) == date(2019, 2, 11)
    # Stock only gets it right when told through extra_working_days.
    assert stock.add_working_days(date(2019, 5, 3), 1, extra_working_days=[date(2019, 5, 4)]) == date(2019, 5, 4)


def test_extra_arguments_fall_back_to_the_walk(cal):
    assert cal.add_working_days(date(2019, 10, 25), 5, extra_holidays=[date(2019, 10, 30)]) == date(2019, 11, 4)
    assert cal.add_working_days(date(2019, 10, 25), 5, extra_working_days=[date(2019, 10, 26)]) == date(2019, 10, 31)
    assert cal.is_working_day(date(2019, 10, 26), extra_working_days=[date(2019, 10, 26)])
    assert not cal.is_working_day(date(2019, 10, 28), extra_holidays=[date(2019, 10, 28)])
    assert cal.get_working_days_delta(date(2019, 10, 25), date(2019, 11, 1), extra_holidays=[date(2019, 10, 30)]) == 4


def test_keep_datetime(cal):
    received = datetime(2019, 10, 25, 15, 30, tzinfo=TZ)
    assert cal.add_working_days(received, 5) == date(2019, 11, 1)
    assert type(cal.add_working_days(received, 5)) is date
    kept = cal.add_working_days(received, 5, keep_datetime=True)
    assert kept == datetime(2019, 11, 1, 15, 30, tzinfo=TZ) and kept.tzinfo is TZ
    assert cal.add_working_days(received, 0, keep_datetime=True) == received
    assert cal.add_working_days(received, 0) == date(2019, 10, 25)
    assert cal.sub_working_days(received, 1, keep_datetime=True) == datetime(2019, 10, 24, 15, 30, tzinfo=TZ)
    # A plain date stays a date even with keep_datetime.
    assert type(cal.add_working_days(date(2019, 10, 25), 1, keep_datetime=True)) is date


def test_negative_delta_and_sub(cal):
    # Back from Mon 6/5/2019: Sat 4/5 (make-up) is the 1st, Fri 3/5 the 2nd,
    # Thu 2/5 the 3rd, then 1/5, 30/4, 29/4 off and the weekend: Fri 26/4 the 4th.
    assert cal.add_working_days(date(2019, 5, 6), -1) == date(2019, 5, 4)
    assert cal.add_working_days(date(2019, 5, 6), -4) == date(2019, 4, 26)
    assert cal.sub_working_days(date(2019, 5, 6), 4) == date(2019, 4, 26)
    assert cal.sub_working_days(date(2019, 5, 6), -4) == date(2019, 4, 26)  # workalendar: abs()
    # From a day off, counting back: 1st before Sun 10/2/2019 is Fri 1/2.
    assert cal.add_working_days(date(2019, 2, 10), -1) == date(2019, 2, 1)
    # Across a year boundary: 1/1/2019 off, 31/12/2018 off (swapped for Sat
    # 5/1/2019), Sat 29 and Sun 30/12 weekend: the 1st before Wed 2/1/2019 is Fri 28/12/2018.
    assert cal.add_working_days(date(2019, 1, 2), -1) == date(2018, 12, 28)
    assert cal.add_working_days(date(2019, 1, 4), 1) == date(2019, 1, 5)


def test_working_days_delta(cal):
    assert cal.get_working_days_delta(date(2019, 4, 26), date(2019, 5, 7)) == 5
    assert cal.get_working_days_delta(date(2019, 5, 7), date(2019, 4, 26)) == 5  # order-free
    assert cal.get_working_days_delta(date(2019, 4, 26), date(2019, 5, 7), include_start=True) == 6
    assert cal.get_working_days_delta(date(2019, 4, 27), date(2019, 5, 7), include_start=True) == 5
    assert cal.get_working_days_delta(date(2019, 5, 7), date(2019, 5, 7)) == 0
    assert cal.get_working_days_delta(date(2019, 2, 2), date(2019, 2, 10)) == 0


def test_far_dates_extend_the_window():
    fresh = VietnamCalendar(corrections=())
    assert fresh.add_working_days(date(2019, 10, 25), 5) == date(2019, 11, 1)
    # Then a date years away, both directions, and a long delta.
    assert fresh.add_working_days(date(2030, 12, 31), 1) == ref_add(date(2030, 12, 31), 1)
    assert fresh.add_working_days(date(2015, 1, 5), -3) == ref_add(date(2015, 1, 5), -3)
    assert fresh.add_working_days(date(2016, 6, 1), 1000) == ref_add(date(2016, 6, 1), 1000)
    assert fresh.add_working_days(date(2028, 6, 1), -1000) == ref_add(date(2028, 6, 1), -1000)


# -- the batch form ----------------------------------------------------------

def test_batch_examples(cal):
    days = np.array(["2019-10-25", "2019-09-15", "2018-11-26", "2019-02-01", "2019-04-26", "2019-05-06", "2025-04-25"],
                    dtype="datetime64[D]")
    deltas = np.array([5, 5, 0, 5, 5, -1, 1])
    out = cal.add_working_days_many(days, deltas)
    assert out.dtype == np.dtype("datetime64[D]")
    assert out.tolist() == [date(2019, 11, 1), date(2019, 9, 20), date(2018, 11, 26), date(2019, 2, 15),
                            date(2019, 5, 7), date(2019, 5, 4), date(2025, 4, 26)]


def test_batch_accepts_dates_and_broadcasts(cal):
    out = cal.add_working_days_many([date(2019, 5, 3), date(2019, 5, 6)], 1)
    assert out.tolist() == [date(2019, 5, 4), date(2019, 5, 7)]
    out = cal.add_working_days_many("2019-05-03", [0, 1, 2, -1])
    assert out.tolist() == [date(2019, 5, 3), date(2019, 5, 4), date(2019, 5, 6), date(2019, 5, 2)]
    assert cal.add_working_days_many(np.array([], dtype="datetime64[D]"), []).shape == (0,)
    with pytest.raises(ValueError):
        cal.add_working_days_many(["2019-05-03", "NaT"], 1)


def test_batch_with_a_local_closure():
    local = VietnamCalendar(overrides=[Override(date(2019, 10, 30), "day_off", "Nghỉ tránh bão")], corrections=())
    assert local.add_working_days_many(["2019-10-25"], [5]).tolist() == [date(2019, 11, 4)]


# -- properties ----------------------------------------------------------------

PROPS = settings(max_examples=300, deadline=None)


@PROPS
@given(index=st.integers(0, len(REF_WORKING_DAYS) - 1), n=st.integers(0, 400))
def test_add_and_sub_are_inverse_on_working_days(cal, index, n):
    day = REF_WORKING_DAYS[index]
    assert cal.sub_working_days(cal.add_working_days(day, n), n) == day
    assert cal.add_working_days(cal.sub_working_days(day, n), n) == day


@PROPS
@given(day=dates_2015_2030, n=st.integers(-400, 400))
def test_delta_of_add_is_n(cal, day, n):
    delta = cal.get_working_days_delta(day, cal.add_working_days(day, n))
    if n >= 0:
        assert delta == n
    else:
        # The delta counts the working days after the earlier date up to and
        # including ``day``: ``day`` itself counts only if it is a working day.
        assert delta == -n - (0 if ref_working(day) else 1)


@PROPS
@given(day=dates_2015_2030, n=st.integers(-300, 300))
def test_add_agrees_with_day_by_day_reference(cal, day, n):
    assert cal.add_working_days(day, n) == ref_add(day, n)


@PROPS
@given(day=dates_2015_2030)
def test_day_status_agrees_with_reference(cal, day):
    status = cal.day_status(day)
    assert status.working is ref_working(day)
    if day in REF_MAKEUP:
        assert status.reason == "makeup_workday"
    elif day in REF_OFF and day.weekday() < 5:
        assert status.reason == "holiday" and status.name_vi == _REF[day]


@PROPS
@given(pairs=st.lists(st.tuples(dates_2015_2030, st.integers(-400, 400)), min_size=1, max_size=50))
def test_batch_agrees_with_scalar(cal, pairs):
    days = np.array([d for d, _ in pairs], dtype="datetime64[D]")
    deltas = np.array([n for _, n in pairs], dtype=np.int64)
    out = cal.add_working_days_many(days, deltas)
    assert out.tolist() == [cal.add_working_days(d, n) for d, n in pairs]


# -- workalendar's contract where we override it (issue 13) ------------------------------------

def test_find_following_working_day_keeps_workalendars_documented_meaning(cal):
    stock = _StockVN(cal)
    # Stock: weekends only ("doesn't take into account the calendar holidays").
    for day in (date(2019, 2, 2), date(2019, 2, 4), date(2019, 5, 4), date(2019, 10, 25)):
        assert cal.find_following_working_day(day) == stock.find_following_working_day(day)
    assert cal.find_following_working_day(date(2019, 2, 4)) == date(2019, 2, 4)  # a Tết Monday: not a weekend
    assert cal.next_working_day(date(2019, 2, 4)) == date(2019, 2, 11)


@pytest.mark.parametrize("delta", [1.5, -0.5, 2.0000001, float("nan"), float("inf"), True])
def test_a_fractional_delta_is_refused_not_truncated(cal, delta):
    with pytest.raises((ValueError, TypeError)):
        cal.add_working_days(date(2019, 10, 25), delta)
    with pytest.raises((ValueError, TypeError)):
        cal.sub_working_days(date(2019, 10, 25), delta)


def test_a_whole_float_delta_still_counts(cal):
    assert cal.add_working_days(date(2019, 10, 25), 5.0) == date(2019, 11, 1)


@pytest.mark.parametrize(("day", "delta"), [(date(1, 1, 10), -20), (date(1899, 12, 31), 1), (date(2200, 12, 20), 30),
                                            (date(9999, 12, 31), 1), (date(1900, 1, 3), -5)])
def test_dates_outside_the_supported_years_raise_a_clear_error(cal, day, delta):
    with pytest.raises(CalendarRangeError, match="1900..2200"):
        cal.add_working_days(day, delta)


def test_outside_the_supported_years_every_question_raises(cal):
    with pytest.raises(CalendarRangeError):
        cal.is_working_day(date(1, 1, 10))
    with pytest.raises(CalendarRangeError):
        cal.get_working_days_delta(date(2019, 1, 1), date(9999, 1, 1))
    assert cal.add_working_days(date(1990, 1, 2), -1) == date(1989, 12, 29)  # inside: answers (1/1 is New Year)
    assert cal.add_working_days(date(2100, 12, 31), 5).year == 2101
