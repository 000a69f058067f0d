"""The deadline (or the grace end) passes while an agency's upload runs (issue 15), in a real browser with the
server's clock fixed (time-machine reaches the live server's thread): the page warns during the upload by the
server's clock (not the device's, which here is years away), and the server's answer says how the dossier
counts — the received instant is when the request reached the server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import local
from tests.test_browser import CHROMIUM, pdf_bytes, sign_in
from tests.test_browser import browser as browser  # noqa: F401  (the fixtures)
from tests.test_browser import live_server as live_server  # noqa: F401
from tests.test_browser_daily import WIDTHS, axe_problems
from workflow.db import db
from workflow.models import Participation, Unit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)"),
]

#: TGG-2019: deadline 24:00 Friday 25/10/2019, five working days of grace to 24:00 Friday 01/11/2019.
DEADLINE_AT = local(2019, 10, 26, 0, 0)
GRACE_ENDS_AT = local(2019, 11, 2, 0, 0)
SERVER_SECONDS = 4.0  # how long the server takes to take in the files (a slow link)


@pytest.fixture
def slow_upload(monkeypatch):
    """The server reads the files slowly: the request starts, the clock runs on, then the files are stored."""
    import web.pages.unit as unit_pages

    real = unit_pages.store_document

    def slow(*args, **kwargs):
        time.sleep(SERVER_SECONDS)
        return real(*args, **kwargs)

    monkeypatch.setattr(unit_pages, "store_document", slow)


def participation(code: str) -> Participation:
    db.session.expire_all()
    return db.session.scalar(select(Participation).join(Unit, Unit.id == Participation.unit_id)
                             .where(Unit.code == code, Participation.campaign.has(code="TGG-2019")))


ACCEPTED = "text=Đã nhận hồ sơ: biên nhận số"
REFUSED = "text=Hồ sơ không được tiếp nhận"


def upload_across(browser, live_server, tmp_path, email: str, unit: str, instant, *, wait_ms: int = 0,  # noqa: F811
                  answer: str = ACCEPTED):
    """Sign in before ``instant``, show the agency page 3 s before it, upload (after ``wait_ms``), wait for
    the server's answer."""
    pdf = tmp_path / f"Bao-cao-{unit}.pdf"
    pdf.write_bytes(pdf_bytes())
    context = browser.new_context(viewport=WIDTHS[1], locale="vi-VN", is_mobile=True)
    page = context.new_page()
    with time_machine.travel(instant - timedelta(minutes=2), tick=True):
        sign_in(page, live_server, email)
    with time_machine.travel(instant - timedelta(seconds=3), tick=True):
        page.goto(f"{live_server}/campaigns/TGG-2019/units/{unit}")
        page.wait_for_load_state("networkidle")  # the server's clock is read
        page.set_input_files("#documents", str(pdf))
        if wait_ms:
            page.wait_for_timeout(wait_ms)
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector(answer, timeout=30_000)  # the server's answer, written by unit.js
        return page


def test_deadline_passes_during_the_upload(app, live_server, browser, two_provinces, slow_upload, tmp_path):  # noqa: F811
    pdf = tmp_path / "Bao-cao-STC.pdf"
    pdf.write_bytes(pdf_bytes())
    context = browser.new_context(viewport=WIDTHS[1], locale="vi-VN", is_mobile=True)
    page = context.new_page()
    with time_machine.travel(DEADLINE_AT - timedelta(minutes=2), tick=True):
        sign_in(page, live_server, "stc@tgg.example")
    with time_machine.travel(DEADLINE_AT - timedelta(seconds=3), tick=True):
        page.goto(f"{live_server}/campaigns/TGG-2019/units/STC")
        page.wait_for_load_state("networkidle")
        page.set_input_files("#documents", str(pdf))
        page.click("#upload-form button[type=submit]")
        # While the server takes the files in, the deadline passes by its clock: the page says so.
        page.wait_for_selector("#upload-late:not(.d-none)", timeout=10_000)
        during = page.inner_text("#upload-late")
        page.wait_for_selector(ACCEPTED, timeout=30_000)
    assert "Hạn chót đã qua trong lúc đang tải lên" in during and "trước hạn chót" in during
    answer = page.inner_text("main")
    assert "Hồ sơ được ghi nhận là nộp đúng hạn." in answer, answer[:800]
    assert "Hạn chót (24:00 Thứ Sáu 25/10/2019) đã qua trong lúc tải lên" in answer
    assert "23:59:5" in answer  # when the server began receiving it
    p = participation("STC")
    assert p.status == "on_time" and p.received_at < DEADLINE_AT
    assert axe_problems(page) == []


def test_grace_end_passes_during_the_upload_and_a_late_start_is_refused(  # noqa: F811
        app, live_server, browser, two_provinces, slow_upload, tmp_path, make_user):
    page = upload_across(browser, live_server, tmp_path, "syt@tgg.example", "SYT", GRACE_ENDS_AT)
    answer = page.inner_text("main")
    assert "Hồ sơ được ghi nhận là nộp trễ 5 ngày làm việc (trong thời gian gia hạn)." in answer, answer[:800]
    assert "Thời gian gia hạn (đến 24:00 Thứ Sáu 01/11/2019) đã hết trong lúc tải lên" in answer
    p = participation("SYT")
    assert p.status == "late" and p.received_at < GRACE_ENDS_AT

    # The form was shown before grace end, but the upload began after it: refused, and the page says when.
    make_user("caibe@tgg.example", "focal_point", "TGG", "CAIBE")
    page = upload_across(browser, live_server, tmp_path, "caibe@tgg.example", "CAIBE", GRACE_ENDS_AT,
                         wait_ms=3500, answer=REFUSED)
    answer = page.inner_text("main")
    assert "Hồ sơ không được tiếp nhận: máy chủ bắt đầu nhận lúc 00:00:0" in answer, answer[:800]
    assert "sau khi hết thời gian gia hạn (24:00 Thứ Sáu 01/11/2019)" in answer
    assert participation("CAIBE").received_at is None
    assert axe_problems(page) == []
