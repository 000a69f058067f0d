"""Daily use in a real browser (issue 15): dates typed as dd/mm/yyyy in every date field of an
English-locale Chromium (whose native date inputs would show mm/dd/yyyy), and axe-core on every page
at 1366×768 and 390×844, failing on any serious or critical violation.

axe-core 4.14.1 is vendored from the npm registry into tests/assets/ (MPL-2.0, its licence beside
it); it is injected into the pages by the test, never served by the app.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import ROOT
from tests.test_browser import CHROMIUM, save_screenshot, sign_in
from tests.test_browser import browser as browser  # noqa: F401  (the fixtures)
from tests.test_browser import live_server as live_server  # noqa: F401
from workflow.db import db

AXE = ROOT / "tests" / "assets" / "axe.min.js"
AXE_SOURCE = AXE.read_text(encoding="utf-8")
WIDTHS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)"),
]


def axe_problems(page) -> list[str]:
    """The serious and critical axe-core violations of the page as shown, one line per rule."""
    # evaluated through the DevTools protocol: the app's CSP (no inline script) stays in force
    # (once per loaded page: a page checked again at another width already has it)
    page.evaluate("source => { if (typeof window.axe === 'undefined') (0, eval)(source); }", AXE_SOURCE)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{page.url} [{v['impact']}] {v['id']}: {v['help']} — "
            + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_dates_day_first_in_every_field_and_no_serious_axe_violation(app, live_server, browser, make_user):
    from workflow.models import CalendarOverride, Campaign, Organizer

    org = Organizer(code="TGG", name="Sở Thông tin và Truyền thông tỉnh Tiền Giang", province="Tiền Giang",
                    email="thidua@stttt.tiengiang.gov.vn")
    db.session.add(org)
    db.session.commit()
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    year = date.today().year + 1

    # An English browser: a native date input would read 08/12 as 12 August.
    context = browser.new_context(viewport=WIDTHS[0], locale="en-US")
    page = context.new_page()
    sign_in(page, live_server, "admin@tgg.example")
    page.goto(f"{live_server}/campaigns/new")
    page.fill("#code", f"TGG-{year}")
    page.fill("#title", f"Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm {year}")
    page.fill("#year", str(year))
    page.fill("#document_number", "1270/STTTT-CNTT&BCVT")
    for field, value in (("#document_date", f"02/03/{year}"), ("#deadline", f"08/12/{year}"),
                         ("#preliminary_review", f"18/12/{year}")):
        page.locator(field).press_sequentially(value)
        page.keyboard.press("Escape")  # the picker closes; what was typed stays
    assert page.input_value("#deadline") == f"08/12/{year}"
    page.fill("#grace_working_days", "2")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    db.session.expire_all()
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == f"TGG-{year}"))
    assert campaign is not None, page.inner_text("main")
    assert (campaign.deadline, campaign.document_date) == (date(year, 12, 8), date(year, 3, 2))

    # The picker writes day first too.
    page.goto(f"{live_server}/campaigns/TGG-{year}/edit")
    assert page.input_value("#deadline") == f"08/12/{year}"
    page.click("#deadline")
    page.locator(".datepicker.active .datepicker-cell.day:not(.prev):not(.next)", has_text="9").first.click()
    assert page.input_value("#deadline") == f"09/12/{year}"

    # A reminder rule added in the form and previewed (the real page, its CSRF token): nothing saved.
    page.goto(f"{live_server}/campaigns/TGG-{year}/edit")
    page.fill("#before_deadline-4", "7")
    page.click("button[name=preview_reminders]")
    page.wait_for_load_state("networkidle")
    plan = page.inner_text("#reminder-plan")
    assert "7 ngày làm việc trước hạn nộp" in plan and "chưa lưu" in plan, plan
    assert page.input_value("#before_deadline-4") == "7"
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).reminder_rules is None

    # A milestone moved on the dashboard.
    page.goto(f"{live_server}/campaigns/TGG-{year}")
    page.select_option("#a-move-kind", "deadline")
    page.locator("#a-move-end").press_sequentially(f"10/12/{year}")
    page.keyboard.press("Escape")
    page.fill("#a-move-reason", "Công văn 1300/STTTT-CNTT gia hạn")
    page.click("form[action$='/actions/move_milestone'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).deadline == date(year, 12, 10), page.inner_text("main")

    # A provincial closure on the calendar.
    page.goto(f"{live_server}/calendar/{year}")
    page.locator("#o-day").press_sequentially(f"04/11/{year}")
    page.keyboard.press("Escape")
    page.fill("#o-reason", "Nghỉ tránh bão số 9")
    page.click("form[action$='/calendar/overrides'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    db.session.expire_all()
    assert db.session.scalar(select(CalendarOverride.day).where(CalendarOverride.reason == "Nghỉ tránh bão số 9")) \
        == date(year, 11, 4), page.inner_text("main")

    # The audit trail reads as sentences, with local dates.
    page.goto(f"{live_server}/campaigns/TGG-{year}/audit")
    audit = page.inner_text("main")
    assert f"from 08/12/{year} to 10/12/{year}" in audit or f"từ 08/12/{year} thành 10/12/{year}" in audit
    save_screenshot(page, "audit-trail.png")

    # axe-core on every page at both widths, in Vietnamese and then in English: each page is loaded once per
    # language and checked at both widths by resizing the page already loaded (no second load, no new sign-in).
    pages = ["/campaigns", f"/campaigns/TGG-{year}", f"/campaigns/TGG-{year}/edit", f"/campaigns/TGG-{year}/audit",
             f"/campaigns/TGG-{year}/units/import", f"/calendar/{year}", "/api/v1/docs"]
    problems: list[str] = []
    ctx = browser.new_context(viewport=WIDTHS[0], locale="vi-VN")
    p = ctx.new_page()

    def check_both_widths() -> None:
        p.wait_for_load_state("networkidle")
        for viewport in WIDTHS:
            p.set_viewport_size(viewport)
            problems.extend(f"{p.evaluate('document.documentElement.lang')} {viewport['width']}px {line}"
                            for line in axe_problems(p))

    for language in ("vi", "en"):
        p.goto(f"{live_server}/login?lang={language}")
        assert p.evaluate("document.documentElement.lang") == language
        check_both_widths()
    p.goto(f"{live_server}/login?lang=vi")
    sign_in(p, live_server, "admin@tgg.example")
    seconds = {}
    for language in ("vi", "en"):
        started = time.perf_counter()
        for index, path in enumerate(pages):
            p.goto(live_server + path + (f"?lang={language}" if index == 0 else ""))
            assert p.evaluate("document.documentElement.lang") == language, path  # the switch holds page to page
            check_both_widths()
        seconds[language] = time.perf_counter() - started
    ctx.close()
    print(f"axe on {len(pages)} pages at both widths: Vietnamese {seconds['vi']:.1f} s, English (added) "
          f"{seconds['en']:.1f} s")
    assert problems == [], "\n".join(problems)
