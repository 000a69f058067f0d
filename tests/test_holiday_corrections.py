"""Corrections shipped as data where an official notice disagrees with the holidays package
(docs/holiday-verification.md): the 2026 New Year swap of letter 12729/VPCP-KGVX."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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


# -- every day off with its legal source (issue 13) -------------------------------------------

def test_every_shipped_notice_is_in_the_verification_document():
    import yaml as _yaml

    from workflow.workdays import SOURCES_FILE, load_sources

    doc = (Path(__file__).parent.parent / "docs" / "holiday-verification.md").read_text(encoding="utf-8")
    rows = _yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))["notices"]
    assert len(rows) == len(load_sources().notices) >= 7
    for row in rows:
        assert row["number"] in doc, row["number"]
        assert row["issuer"] in ("Văn phòng Chính phủ", "Bộ Lao động - Thương binh và Xã hội")
        if row["date"] is not None:
            day = row["date"]
            written = {f"{day.day}/{day.month}/{day.year}", f"{day:%d/%m/%Y}", f"{day.day:02d}/{day.month}/{day.year}"}
            assert any(w in doc for w in written), (row["number"], day)


def test_each_day_off_names_its_source():
    from workflow.workdays import VietnamCalendar

    cal = VietnamCalendar()
    swap = cal.day_status(date(2024, 4, 29))
    assert "2450/VPCP-KGVX ngày 12/04/2024 của Văn phòng Chính phủ" in swap.describe("vi")
    assert "2450/VPCP-KGVX of 12/04/2024" in swap.describe("en")
    assert "2450/VPCP-KGVX" in cal.day_status(date(2024, 5, 4)).describe("vi")  # the make-up Saturday
    assert cal.day_status(date(2024, 9, 2)).describe("vi").endswith("(theo Bộ luật Lao động 2019, Điều 112)")
    assert cal.day_status(date(2024, 9, 2)).describe("en").endswith("(per Labour Code 2019, article 112)")


def test_a_day_the_package_lists_but_no_source_confirms_is_marked_unconfirmed(runner):
    from workflow.periods import working_days_from
    from workflow.workdays import VietnamCalendar

    cal = VietnamCalendar()
    status = cal.day_status(date(2026, 11, 24))
    assert status.unconfirmed and "Điều 112" not in status.describe("vi")
    assert "CHƯA XÁC NHẬN" in status.describe("vi") and "UNCONFIRMED" in status.describe("en")
    assert any("24/11/2026" in line and "CHƯA XÁC NHẬN" in line
               for line in working_days_from(date(2026, 11, 20), 3, cal).explain("vi"))
    out = runner.invoke(args=["workdays", "holidays", "2026"]).stdout
    line = next(x for x in out.splitlines() if x.startswith("2026-11-24\t"))
    assert "UNCONFIRMED" in line
    explain = runner.invoke(args=["workdays", "add", "2026-11-20", "3", "--explain"]).stdout
    assert "CHƯA XÁC NHẬN" in explain
