"""Periods counted as the Civil Code 2015 counts them (workflow/periods.py).

shared/DOMAIN.md, rule 2: a period in days starts the day after the given day
and ends at 24:00 of its last day (Asia/Ho_Chi_Minh); a period in calendar days
whose last day is not a working day runs to the end of the next working day; a
period in working days skips weekends and holidays.  Expected dates are worked
out by hand from the `holidays` package's VN data (see tests/test_workdays.py).
"""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow.periods import (  # noqa: E402
    LOCAL_TZ,
    calendar_days_from,
    deadline_on,
    end_of_day,
    working_days_from,
    working_days_late,
)
from workflow.workdays import Override, VietnamCalendar  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def cal() -> VietnamCalendar:
    return VietnamCalendar(corrections=())


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def assert_clean_vietnamese(lines):
    for line in lines:
        assert unicodedata.is_normalized("NFC", line), line
        # No mojibake of UTF-8 read as Latin-1 / cp1252.
        assert not any(bad in line for bad in ("Ã", "Â»", "áº", "á»", "\ufffd")), line


# -- seeds -------------------------------------------------------------------

def test_tien_giang_2019(cal):
    period = working_days_from(date(2019, 10, 25), 5, cal)
    assert period.last_day == date(2019, 11, 1)
    assert period.ends_at == local(2019, 11, 2, 0, 0)
    assert period.ends_at.isoformat() == "2019-11-02T00:00:00+07:00"
    assert period.ends_at.utcoffset() == timedelta(hours=7)
    assert period.as_dict()["ends_at"] == "2019-11-02T00:00:00+07:00"
    # The shared national calendar gives the same answer.
    assert working_days_from(date(2019, 10, 25), 5).last_day == date(2019, 11, 1)


def test_binh_thuan_2019_deadline_on_a_sunday(cal):
    assert date(2019, 9, 15).weekday() == 6
    period = working_days_from(date(2019, 9, 15), 5, cal)
    assert period.last_day == date(2019, 9, 20)
    assert period.ends_at == local(2019, 9, 21)
    assert [d.day for d in period.days] == [date(2019, 9, d) for d in range(16, 21)]
    assert [d.number for d in period.days] == [1, 2, 3, 4, 5]


def test_cao_bang_2018_no_grace(cal):
    grace = working_days_from(date(2018, 11, 26), 0, cal)
    assert grace.last_day == date(2018, 11, 26)
    assert grace.ends_at == local(2018, 11, 27)
    assert grace.days == ()
    deadline = deadline_on(date(2018, 11, 26), cal)
    assert deadline.ends_at == grace.ends_at
    assert deadline.contains(local(2018, 11, 26, 23, 59, 59))
    assert not deadline.contains(local(2018, 11, 27, 0, 0, 0))
    assert working_days_late(date(2018, 11, 26), local(2018, 11, 27, 0, 0), cal) == 1


# -- holidays and swaps --------------------------------------------------------

def test_tet_2019(cal):
    # From Fri 1/2/2019: Sat 2, Sun 3 weekend; Mon 4 .. Fri 8/2 Tết (Giao thừa,
    # Tết, Mùng hai, Mùng ba, Mùng bốn); Sat 9, Sun 10 weekend; Mon 11 (1) ..
    # Fri 15/2 (5).
    period = working_days_from(date(2019, 2, 1), 5, cal)
    assert period.last_day == date(2019, 2, 15)
    skipped = [d.day for d in period.days if d.number is None]
    assert skipped == [date(2019, 2, d) for d in range(2, 11)]
    counted = [(d.day, d.number) for d in period.days if d.number is not None]
    assert counted == [(date(2019, 2, 10 + i), i) for i in range(1, 6)]


def test_reunification_2019_with_makeup_saturday(cal):
    # Fri 26/4: Sat 27, Sun 28; 29/4 (swapped), 30/4, 1/5 off; Thu 2/5 (1),
    # Fri 3/5 (2), Sat 4/5 (3, make-up), Sun 5/5 skipped, Mon 6 (4), Tue 7/5 (5).
    period = working_days_from(date(2019, 4, 26), 5, cal)
    assert period.last_day == date(2019, 5, 7)
    by_day = {d.day: d for d in period.days}
    assert by_day[date(2019, 5, 4)].number == 3
    assert by_day[date(2019, 5, 4)].status.reason == "makeup_workday"
    assert by_day[date(2019, 4, 29)].number is None
    assert by_day[date(2019, 4, 29)].status.reason == "holiday"


def test_national_day_2024(cal):
    # Fri 30/8/2024: Sat 31, Sun 1/9, Mon 2/9 and Tue 3/9 off; Wed 4 (1),
    # Thu 5 (2), Fri 6/9 (3).
    period = working_days_from(date(2024, 8, 30), 3, cal)
    assert period.last_day == date(2024, 9, 6)
    assert [d.status.name_vi for d in period.days[2:4]] == ["Quốc khánh", "Quốc khánh"]


def test_2025_swap(cal):
    # Thu 24/4/2025: Fri 25 (1), Sat 26 (2, make-up for Fri 2/5), Sun 27, Mon
    # 28 (3), Tue 29 (4), 30/4, 1/5, 2/5 off, Sat 3, Sun 4, Mon 5/5 (5).
    period = working_days_from(date(2025, 4, 24), 5, cal)
    assert period.last_day == date(2025, 5, 5)
    assert period.ends_at == local(2025, 5, 6)


def test_local_closure_moves_the_grace_period():
    closure = Override(date(2019, 10, 30), "day_off", "Nghỉ tránh bão số 5", "Quyết định số 123/QĐ-UBND",
                       reason_en="Offices closed for storm no. 5")
    local_cal = VietnamCalendar(overrides=[closure], corrections=())
    # 28 (1), 29 (2), 30 closed, 31 (3), 1/11 (4), Sat 2, Sun 3, Mon 4/11 (5).
    period = working_days_from(date(2019, 10, 25), 5, local_cal)
    assert period.last_day == date(2019, 11, 4)
    assert period.ends_at == local(2019, 11, 5)
    vi = period.explain("vi")
    assert "Thứ Tư 30/10/2019: không tính — Nghỉ tránh bão số 5 (theo Quyết định số 123/QĐ-UBND)" in vi
    en = period.explain("en")
    assert "Wednesday 30/10/2019: skipped — Offices closed for storm no. 5 (per Quyết định số 123/QĐ-UBND)" in en
    # Late by the closure's shift: 2/11 is no longer past the grace period.
    assert working_days_late(date(2019, 10, 25), local(2019, 11, 2, 8), local_cal) == 5


def test_local_extra_working_day():
    saturday = Override(date(2019, 10, 26), "working_day", "Làm việc ngày thứ Bảy", "Công văn số 45/UBND")
    local_cal = VietnamCalendar(overrides=[saturday], corrections=())
    # Sat 26 (1), Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31/10 (5).
    period = working_days_from(date(2019, 10, 25), 5, local_cal)
    assert period.last_day == date(2019, 10, 31)
    assert "Thứ Bảy 26/10/2019: ngày thứ 1 — Làm việc ngày thứ Bảy (theo Công văn số 45/UBND)" in period.explain("vi")


# -- calendar days ---------------------------------------------------------------

def test_calendar_days_ending_on_a_working_day(cal):
    # 10 days from Mon 21/10/2019: nominal last day Thu 31/10, a working day.
    period = calendar_days_from(date(2019, 10, 21), 10, cal)
    assert period.last_day == date(2019, 10, 31)
    assert period.rolled_from is None
    assert [d.number for d in period.days] == list(range(1, 11))  # every day counts


def test_calendar_days_rolled_from_a_sunday(cal):
    # 10 days from Thu 5/9/2019: nominal Sun 15/9 -> end of Mon 16/9.
    period = calendar_days_from(date(2019, 9, 5), 10, cal)
    assert period.rolled_from == date(2019, 9, 15)
    assert period.last_day == date(2019, 9, 16)
    assert period.ends_at == local(2019, 9, 17)
    assert period.as_dict()["rolled_from"] == "2019-09-15"


def test_calendar_days_rolled_from_a_holiday(cal):
    # 10 days from Sat 20/4/2019: nominal Tue 30/4 (holiday); Wed 1/5 holiday
    # too; the next working day is Thu 2/5.
    period = calendar_days_from(date(2019, 4, 20), 10, cal)
    assert period.rolled_from == date(2019, 4, 30)
    assert period.last_day == date(2019, 5, 2)
    # 4 days from Thu 31/1/2019: nominal Mon 4/2 (Giao thừa); Tết until Fri
    # 8/2, then the weekend: Mon 11/2.
    tet = calendar_days_from(date(2019, 1, 31), 4, cal)
    assert (tet.rolled_from, tet.last_day) == (date(2019, 2, 4), date(2019, 2, 11))


def test_calendar_days_ending_on_a_makeup_saturday(cal):
    # 8 days from Fri 26/4/2019: nominal Sat 4/5/2019, a make-up working day.
    period = calendar_days_from(date(2019, 4, 26), 8, cal)
    assert period.last_day == date(2019, 5, 4)
    assert period.rolled_from is None


def test_calendar_days_rolled_by_a_local_closure():
    local_cal = VietnamCalendar(overrides=[Override(date(2019, 10, 31), "day_off", "Nghỉ tránh bão")], corrections=())
    period = calendar_days_from(date(2019, 10, 21), 10, local_cal)
    assert (period.rolled_from, period.last_day) == (date(2019, 10, 31), date(2019, 11, 1))


def test_negative_lengths_are_refused(cal):
    with pytest.raises(ValueError):
        working_days_from(date(2019, 10, 25), -1, cal)
    with pytest.raises(ValueError):
        calendar_days_from(date(2019, 10, 25), -1, cal)


# -- 24:00 -------------------------------------------------------------------------

def test_the_24_00_boundary(cal):
    period = working_days_from(date(2019, 10, 25), 5, cal)
    assert period.ends_at.tzinfo == LOCAL_TZ
    assert str(period.ends_at.tzinfo) == "Asia/Ho_Chi_Minh"
    assert period.contains(local(2019, 11, 1, 23, 59, 59))
    assert period.contains(local(2019, 11, 1, 23, 59, 59, 999999))
    assert not period.contains(local(2019, 11, 2, 0, 0, 0))
    # The same instants seen from UTC.
    assert period.contains(datetime(2019, 11, 1, 16, 59, 59, tzinfo=UTC))
    assert not period.contains(datetime(2019, 11, 1, 17, 0, 0, tzinfo=UTC))
    assert end_of_day(date(2019, 11, 1)) == local(2019, 11, 2)


def test_deadline_on(cal):
    deadline = deadline_on(date(2019, 10, 25), cal)
    assert deadline.kind == "deadline"
    assert deadline.last_day == date(2019, 10, 25)
    assert deadline.ends_at == local(2019, 10, 26)
    assert deadline.contains(local(2019, 10, 25, 23, 59, 59))
    assert not deadline.contains(local(2019, 10, 26))
    assert deadline.summary("vi") == "Hạn chót: hết ngày Thứ Sáu 25/10/2019 (24:00 giờ Việt Nam)"
    assert deadline.summary("en") == "Deadline: end of Friday 25/10/2019 (24:00 Vietnam time)"


def test_working_days_late(cal):
    d = date(2019, 10, 25)  # Friday
    assert working_days_late(d, local(2019, 10, 20, 9), cal) == 0
    assert working_days_late(d, local(2019, 10, 25, 23, 59, 59), cal) == 0
    assert working_days_late(d, local(2019, 10, 26, 0, 0), cal) == 1  # Saturday after a Friday deadline
    assert working_days_late(d, local(2019, 10, 27, 12), cal) == 1  # Sunday: still the Monday
    assert working_days_late(d, local(2019, 10, 28, 9), cal) == 1
    assert working_days_late(d, local(2019, 11, 1, 23, 59), cal) == 5  # last day of the grace
    assert working_days_late(d, local(2019, 11, 2, 0, 0), cal) == 6  # past it
    # An instant in UTC is judged in local time: 17:00 UTC on 25/10 is 00:00 on 26/10.
    assert working_days_late(d, datetime(2019, 10, 25, 16, 59, tzinfo=UTC), cal) == 0
    assert working_days_late(d, datetime(2019, 10, 25, 17, 0, tzinfo=UTC), cal) == 1
    # Bình Thuận: Sunday deadline 15/9/2019.
    assert working_days_late(date(2019, 9, 15), local(2019, 9, 16, 8), cal) == 1
    assert working_days_late(date(2019, 9, 15), local(2019, 9, 20, 17), cal) == 5
    assert working_days_late(date(2019, 9, 15), local(2019, 9, 21, 8), cal) == 6
    # Across Tết: a deadline on Fri 1/2/2019, received during Tết, is late by
    # the first working day after it (Mon 11/2).
    assert working_days_late(date(2019, 2, 1), local(2019, 2, 5, 10), cal) == 1
    assert working_days_late(date(2019, 2, 1), local(2019, 2, 11, 10), cal) == 1
    assert working_days_late(date(2019, 2, 1), local(2019, 2, 12, 10), cal) == 2
    # A make-up Saturday is a working day of its own.
    assert working_days_late(date(2019, 5, 3), local(2019, 5, 4, 10), cal) == 1
    assert working_days_late(date(2019, 5, 3), local(2019, 5, 6, 10), cal) == 2


# -- explanations ------------------------------------------------------------------

#: The legal sources the explanations name (workflow/data/holiday_sources.yaml).
N2019 = "(theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)"
N2019_EN = "(per 3238/TB-LĐTBXH (Bộ Lao động - Thương binh và Xã hội))"

def test_explain_tet_vi(cal):
    lines = working_days_from(date(2019, 2, 1), 5, cal).explain("vi")
    assert_clean_vietnamese(lines)
    assert lines[0] == "5 ngày làm việc kể từ Thứ Sáu 01/02/2019: kết thúc lúc 24:00 Thứ Sáu 15/02/2019"
    assert lines[1:] == [
        "Thứ Bảy 02/02/2019: không tính — Thứ Bảy",
        "Chủ Nhật 03/02/2019: không tính — Chủ Nhật",
        "Thứ Hai 04/02/2019: không tính — Giao thừa Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)",
        "Thứ Ba 05/02/2019: không tính — Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)",
        "Thứ Tư 06/02/2019: không tính — Mùng hai Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)",
        "Thứ Năm 07/02/2019: không tính — Mùng ba Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)",
        "Thứ Sáu 08/02/2019: không tính — Mùng bốn Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)",
        "Thứ Bảy 09/02/2019: không tính — Thứ Bảy",
        "Chủ Nhật 10/02/2019: không tính — Chủ Nhật",
        "Thứ Hai 11/02/2019: ngày thứ 1",
        "Thứ Ba 12/02/2019: ngày thứ 2",
        "Thứ Tư 13/02/2019: ngày thứ 3",
        "Thứ Năm 14/02/2019: ngày thứ 4",
        "Thứ Sáu 15/02/2019: ngày thứ 5",
    ]


def test_explain_tet_en(cal):
    lines = working_days_from(date(2019, 2, 1), 5, cal).explain("en")
    assert lines[0] == "5 working days counted from Friday 01/02/2019: ends at 24:00 on Friday 15/02/2019"
    assert "Saturday 02/02/2019: skipped — Saturday" in lines
    assert "Wednesday 06/02/2019: skipped — Second Day of Lunar New Year" f" {N2019_EN}" in lines
    assert "Monday 11/02/2019: day 1" in lines
    assert lines[-1] == "Friday 15/02/2019: day 5"


def test_explain_makeup_saturday(cal):
    period = working_days_from(date(2019, 4, 26), 5, cal)
    vi, en = period.explain("vi"), period.explain("en")
    assert_clean_vietnamese(vi)
    assert "Thứ Hai 29/04/2019: không tính — Ngày nghỉ (thay cho ngày 04/05/2019)" f" {N2019}" in vi
    assert "Thứ Ba 30/04/2019: không tính — Ngày Chiến thắng (theo Bộ luật Lao động 2012, Điều 115)" in vi
    assert "Thứ Tư 01/05/2019: không tính — Ngày Quốc tế Lao động (theo Bộ luật Lao động 2012, Điều 115)" in vi
    assert "Thứ Bảy 04/05/2019: ngày thứ 3 — Ngày làm việc bù (cho ngày nghỉ 29/04/2019)" f" {N2019}" in vi
    assert "Chủ Nhật 05/05/2019: không tính — Chủ Nhật" in vi
    # English: day/month dates, not the package's US-style "05/04/2019".
    assert "Monday 29/04/2019: skipped — Day off (in lieu of working on 04/05/2019)" f" {N2019_EN}" in en
    assert "Saturday 04/05/2019: day 3 — Make-up working day (for the day off on 29/04/2019)" f" {N2019_EN}" in en
    assert period.as_dict()["explanation"] == {"vi": vi, "en": en}


def test_explain_weekend_holiday(cal):
    # Giỗ Tổ Hùng Vương 2019 fell on Sunday 14/4, compensated on Monday 15/4.
    lines = working_days_from(date(2019, 4, 12), 1, cal).explain("vi")
    assert_clean_vietnamese(lines)
    assert lines[1:] == [
        "Thứ Bảy 13/04/2019: không tính — Thứ Bảy",
        "Chủ Nhật 14/04/2019: không tính — Chủ Nhật, Ngày Giỗ Tổ Hùng Vương",
        "Thứ Hai 15/04/2019: không tính — Ngày Giỗ Tổ Hùng Vương (nghỉ bù) (theo Bộ luật Lao động 2012, Điều 115)",
        "Thứ Ba 16/04/2019: ngày thứ 1",
    ]


def test_explain_calendar_days_roll(cal):
    period = calendar_days_from(date(2019, 9, 5), 10, cal)
    vi, en = period.explain("vi"), period.explain("en")
    assert_clean_vietnamese(vi)
    assert vi[0] == ("10 ngày kể từ Thứ Năm 05/09/2019: kết thúc lúc 24:00 Thứ Hai 16/09/2019 "
                     "(ngày cuối Chủ Nhật 15/09/2019 không phải ngày làm việc nên chuyển sang ngày làm việc tiếp theo)")
    assert en[0] == ("10 days counted from Thursday 05/09/2019: ends at 24:00 on Monday 16/09/2019 "
                     "(Sunday 15/09/2019 is not a working day, so the period runs to the next working day)")
    # Calendar days count weekends too.
    assert "Thứ Bảy 07/09/2019: ngày thứ 2 — Thứ Bảy" in vi
    assert "Chủ Nhật 15/09/2019: ngày thứ 10 — Chủ Nhật" in vi
    assert period.days[-1].day == date(2019, 9, 16)


def test_explain_diacritics(cal):
    text = "\n".join(working_days_from(date(2019, 4, 26), 5, cal).explain("vi")
                     + working_days_from(date(2019, 2, 1), 5, cal).explain("vi")
                     + deadline_on(date(2019, 9, 15), cal).explain("vi"))
    for word in ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật",
                 "ngày làm việc", "kể từ", "kết thúc lúc", "không tính", "ngày thứ",
                 "Mùng hai Tết Nguyên Đán", "Mùng bốn Tết Nguyên Đán", "Ngày Quốc tế Lao động",
                 "Ngày làm việc bù", "Hạn chót: hết ngày", "giờ Việt Nam"):
        assert word in text, word
    # Precomposed (NFC) characters only, e.g. "ứ" as the one code point U+1EE9.
    assert "\u1ee9" in text and unicodedata.is_normalized("NFC", text)
