"""A real browser (Debian's Chromium, driven by Playwright) walks the app.

An organizer creates a campaign and imports its units from an XLSX file and
sees the dashboard; a focal point signs in, uploads a dossier and sees the
receipt; the clock passes grace end and the organizer sees the exclusion and
reinstates one unit with a reason.  Screenshots of the dashboard and of the
agency page are saved to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, ROOT, VN
from workflow.db import db

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)"),
]

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port by a thread of this process (time-machine reaches it)."""
    from werkzeug.serving import make_server

    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def save_screenshot(page, name: str) -> None:
    """The page, whole, as docs/screenshots/NAME: written beside and renamed into place, so that the
    SQLite and PostgreSQL runs of one test on two pytest-xdist workers never leave a half-written PNG."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    partial = target.with_name(f".{name}.{os.getpid()}.part")
    partial.write_bytes(page.screenshot(full_page=True))
    os.replace(partial, target)


def units_xlsx(path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Thư điện tử"])
    ws.append(["STC", "Sở Tài chính", "Sở, ban, ngành", "", "vanthu.stc@tiengiang.gov.vn"])
    ws.append(["SYT", "Sở Y tế", "Sở, ban, ngành", "", "vanthu.syt@tiengiang.gov.vn"])
    ws.append(["MYTHO", "UBND thành phố Mỹ Tho", "UBND cấp huyện", "", "vanthu.mytho@tiengiang.gov.vn"])
    ws.append(["MYTHO-P1", "UBND Phường 1", "UBND cấp xã", "MYTHO", "p1.mytho@tiengiang.gov.vn"])
    wb.save(path)


def pdf_bytes() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.inner_text("main")


def test_organizer_and_agency_walk_through_a_campaign(app, live_server, browser, make_user, tmp_path):
    import time_machine

    from workflow.calendars import calendar_for
    from workflow.models import Organizer, Participation, Unit

    org = Organizer(code="TGG", name="Sở Thông tin và Truyền thông tỉnh Tiền Giang", province="Tiền Giang",
                    email="thidua@stttt.tiengiang.gov.vn")
    db.session.add(org)
    db.session.commit()
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    cal = calendar_for(None)
    today = datetime.now(VN).date()
    deadline = cal.add_working_days(today, 3)
    grace_end = cal.add_working_days(deadline, 2)

    # -- the organizer creates the campaign and imports its units ------------------
    organizer = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = organizer.new_page()
    sign_in(page, live_server, "admin@tgg.example")
    page.goto(f"{live_server}/campaigns/new")
    page.fill("#code", "TGG-2026")
    page.fill("#title", "Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2026")
    page.fill("#year", str(today.year))
    page.fill("#document_number", "1270/STTTT-CNTT&BCVT")
    page.locator("#deadline").press_sequentially(deadline.strftime("%d/%m/%Y"))  # typed as officials write it
    page.keyboard.press("Escape")
    page.fill("#grace_working_days", "2")
    page.check("input[name=state][value=open]")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "TGG-2026" in page.inner_text("main")

    xlsx = tmp_path / "don-vi.xlsx"
    units_xlsx(xlsx)
    page.goto(f"{live_server}/campaigns/TGG-2026/units/import")
    page.set_input_files("input[type=file]", str(xlsx))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    preview = page.inner_text("main")
    assert "Sở Tài chính" in preview and "UBND Phường 1" in preview
    page.click("form[action$='/units/import/confirm'] button[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server}/campaigns/TGG-2026")
    dashboard = page.inner_text("main")
    for name in ("Sở Tài chính", "Sở Y tế", "UBND thành phố Mỹ Tho", "UBND Phường 1"):
        assert name in dashboard
    assert page.locator("svg").count() >= 1  # the timeline

    # -- a focal point signs in, uploads its dossier, sees the receipt -------------
    make_user("stc@tgg.example", "focal_point", "TGG", "STC")
    agency = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    apage = agency.new_page()
    sign_in(apage, live_server, "stc@tgg.example")
    assert "/campaigns/TGG-2026/units/STC" in apage.url
    pdf = tmp_path / "Bao-cao-UDCNTT-2026.pdf"
    pdf.write_bytes(pdf_bytes())
    apage.set_input_files("#documents", str(pdf))
    apage.click("#upload-form button[type=submit]")  # sent by unit.js with a progress bar
    apage.wait_for_selector("text=Đã nộp đúng hạn lúc")
    text = apage.inner_text("main")
    assert "Đã nộp đúng hạn lúc" in text
    assert hashlib.sha256(pdf_bytes()).hexdigest() in text
    assert "TGG-2026/STC/1" in text  # the receipt number
    save_screenshot(apage, "agency-page.png")
    from tests.test_browser_daily import axe_problems

    assert axe_problems(apage) == []  # the agency page on a phone
    receipt = agency.browser.new_context(viewport={"width": 794, "height": 1123}, locale="vi-VN").new_page()  # A4
    sign_in(receipt, live_server, "stc@tgg.example")
    receipt.goto(f"{live_server}/campaigns/TGG-2026/units/STC/receipt")
    assert axe_problems(receipt) == []
    receipt.emulate_media(media="print")
    assert receipt.locator(".navbar").is_hidden() and receipt.locator("[data-print]").is_hidden()
    assert hashlib.sha256(pdf_bytes()).hexdigest() in receipt.inner_text("main")
    assert receipt.evaluate("document.documentElement.scrollHeight") <= 1123  # one A4 sheet at 96 dpi
    save_screenshot(receipt, "receipt.png")

    page.goto(f"{live_server}/campaigns/TGG-2026")
    save_screenshot(page, "dashboard.png")

    # -- the clock passes grace end -------------------------------------------------
    after = datetime.combine(grace_end + timedelta(days=1), time(9, 0), tzinfo=VN)
    after = datetime.combine(cal.next_working_day(after.date()), time(9, 0), tzinfo=VN)
    with time_machine.travel(after, tick=True):
        from cli.jobs import tick

        tick(after)
        later = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        lpage = later.new_page()
        sign_in(lpage, live_server, "admin@tgg.example")  # the old session is more than 8 h old now
        lpage.goto(f"{live_server}/campaigns/TGG-2026")
        text = lpage.inner_text("main")
        assert "Bị loại khỏi đánh giá" in text
        lpage.fill("#a-reinstate-unit", "SYT")
        lpage.fill("#a-reinstate-reason", "Bão số 9 làm gián đoạn đường truyền (Công văn 123/UBND-VP)")
        lpage.click("form[action$='/actions/reinstate'] button[type=submit]")
        lpage.wait_for_load_state("networkidle")
        text = lpage.inner_text("main")
        assert "Bão số 9 làm gián đoạn đường truyền" in text  # in the audit trail
        lpage.goto(f"{live_server}/campaigns/TGG-2026/units/SYT")
        assert "Bão số 9" in lpage.inner_text("main")
        lpage.goto(f"{live_server}/campaigns/TGG-2026")
        save_screenshot(lpage, "dashboard-after-grace.png")

    db.session.expire_all()
    statuses = dict(db.session.execute(
        select(Unit.code, Participation.status).join(Participation, Participation.unit_id == Unit.id)).all())
    assert statuses == {"STC": "on_time", "SYT": "not_submitted", "MYTHO": "excluded", "MYTHO-P1": "excluded"}
    reinstated = db.session.scalar(select(Participation.reinstated_reason).join(Unit).where(Unit.code == "SYT"))
    assert reinstated.startswith("Bão số 9")
