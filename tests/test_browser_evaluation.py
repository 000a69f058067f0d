"""A real browser (Debian's Chromium through Playwright) fills, verifies and confirms a criteria sheet.

The focal point fills a ratio, a link and an N/A with its explanation and sees
the total change as it types, saves a draft, comes back, submits; the organizer
verifies one criterion down and sends the figures for confirmation; the unit
disputes that criterion.  Screenshots go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import time_machine
from playwright.sync_api import expect

from tests.conftest import local
from tests.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    browser,
    live_server,
    pytestmark,  # noqa: F401
    save_screenshot,
    sign_in,
)
from tests.test_evaluation import CAMPAIGN


def by_id(element_id: str) -> str:
    return f"[id='{element_id}']"


def test_focal_point_fills_organizer_verifies_unit_disputes(app, live_server, browser, make_campaign,  # noqa: F811
                                                             make_user):
    make_campaign(CAMPAIGN)
    make_user("stc@tgg.example", "focal_point", "TGG", "STC")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    sheet_url = f"{live_server}/campaigns/TGG-2019/units/STC/sheet"

    with time_machine.travel(local(2019, 10, 21, 9), tick=True):
        unit = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        page = unit.new_page()
        sign_in(page, live_server, "stc@tgg.example")
        page.goto(f"{live_server}/campaigns/TGG-2019/units/STC")
        page.click("#sheet-link")
        page.wait_for_load_state("networkidle")
        assert page.inner_text("#total") == "0"
        page.fill(by_id("v-1.1-numerator"), "45")
        page.fill(by_id("v-1.1-denominator"), "50")
        expect(page.locator("#total")).to_have_text("6")
        assert page.inner_text(by_id("score-1.1")) == "6"
        page.fill(by_id("v-1.2-links"), "https://stc.tiengiang.gov.vn/chi-dao-dieu-hanh")
        expect(page.locator("#total")).to_have_text("10")
        page.check(by_id("v-2.1-na"))
        page.fill(by_id("v-2.1-explanation"), "Sở không có thủ tục hành chính mức độ 3, 4")
        expect(page.locator("#total")).to_have_text("16")
        page.check(by_id("v-2.2-yes-1"))
        expect(page.locator("#total")).to_have_text("20")
        # a numerator above its denominator is refused as it is typed
        page.fill(by_id("v-1.1-numerator"), "55")
        expect(page.locator(by_id("error-1.1"))).to_contain_text("lớn hơn mẫu số")
        page.fill(by_id("v-1.1-numerator"), "45")
        expect(page.locator("#total")).to_have_text("20")
        page.click("#save-draft")
        page.wait_for_load_state("networkidle")
        assert "Đã lưu bản nháp" in page.inner_text("main")
        # come back later: the draft is there
        page.goto(f"{live_server}/campaigns/TGG-2019/units/STC")
        page.goto(sheet_url)
        assert page.input_value(by_id("v-1.1-numerator")) == "45"
        assert page.input_value(by_id("v-2.1-explanation")) == "Sở không có thủ tục hành chính mức độ 3, 4"
        assert page.inner_text("#total") == "20"
        save_screenshot(page, "sheet-unit.png")
        page.click("#submit-sheet")
        page.wait_for_load_state("networkidle")
        text = page.inner_text("main")
        assert "Đã nộp phiếu đánh giá" in text and "Nộp đúng hạn" in text
        unit.close()

    with time_machine.travel(local(2019, 11, 4, 9), tick=True):
        org = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        page = org.new_page()
        sign_in(page, live_server, "admin@tgg.example")
        page.goto(sheet_url)
        row = page.locator(by_id("c-1.1"))
        row.locator("summary").click()
        row.locator("input[name='v-1.1-numerator']").fill("30")
        row.locator("textarea[name=note]").fill("Phần mềm QLVB: 30/50 văn bản có ký số")
        row.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.inner_text("#verified-total") == "17"
        assert page.inner_text(by_id("verified-1.1")) == "3"
        page.fill("#working_days", "3")
        page.click("#send-figures")
        page.wait_for_load_state("networkidle")
        assert "hạn xác nhận 24:00 ngày 07/11/2019" in page.inner_text("main")
        save_screenshot(page, "sheet-verifier.png")
        org.close()

    with time_machine.travel(local(2019, 11, 5, 9), tick=True):
        unit = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        page = unit.new_page()
        sign_in(page, live_server, "stc@tgg.example")
        page.goto(sheet_url)
        page.check(by_id("r-1.1-d"))
        page.fill(by_id("r-1.1-reason"), "Có 45 văn bản ký số, kèm báo cáo trích xuất từ phần mềm")
        for code in ("1.2", "2.1", "2.2"):
            page.check(by_id(f"r-{code}-c"))
        page.click("#send-response")
        page.wait_for_load_state("networkidle")
        text = page.inner_text("main")
        assert "Đã ghi ý kiến" in text and "Có 45 văn bản ký số" in text
        assert "số tiêu chí không đồng ý: 1" in text
        save_screenshot(page, "sheet-confirmation.png")
        unit.close()
