"""Corrections shipped as data where an official notice disagrees with the holidays package
(docs/holiday-verification.md): the 2026 New Year swap of letter 12729/VPCP-KGVX."""

from __future__ import annotations

from datetime import date

import holidays

from workflow.workdays import CORRECTIONS_FILE, load_corrections, national_calendar


def test_every_correction_names_its_source():
    corrections = load_corrections(CORRECTIONS_FILE)
    assert corrections, "the file ships at least the 2026 swap"
    for c in corrections:
        assert c.kind in ("day_off", "working_day") and c.reason and c.reason_en and c.document
        assert c.national


def test_the_package_lacks_the_2026_new_year_swap_and_we_add_it():
    package = holidays.country_holidays("VN", years=2026, language="vi")
    assert date(2026, 1, 2) not in package and date(2026, 1, 10) not in package.weekend_workdays
    cal = national_calendar()
    friday = cal.day_status(date(2026, 1, 2))
    assert not friday.working and friday.reason == "holiday" and "12729/VPCP-KGVX" in friday.document
    saturday = cal.day_status(date(2026, 1, 10))
    assert saturday.working and saturday.reason == "makeup_workday"
    # The first working day after New Year's Eve 2025 is Monday 05/01/2026, and
    # the week of 05–10/01/2026 has six working days.
    assert cal.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 5)
    assert cal.get_working_days_delta(date(2026, 1, 4), date(2026, 1, 10)) == 6
    assert (date(2026, 1, 2), "Ngày nghỉ (thay cho ngày 10/01/2026)") in cal.holidays(2026)
