"""The units table's bulk bar in a real browser (issue 15): by keyboard only, tick the whole page, choose the
action, confirm with a message; axe-core finds no serious or critical violation on the dashboard (with units)
nor on the confirmation step, at 1366×768 and 390×844."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.conftest import local
from tests.test_browser import CHROMIUM, sign_in
from tests.test_browser import browser as browser  # noqa: F401  (the fixtures)
from tests.test_browser import live_server as live_server  # noqa: F401
from tests.test_browser_daily import WIDTHS, axe_problems
from workflow.db import db
from workflow.models import AuditEvent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)"),
]

IN_GRACE = local(2019, 10, 29, 10, 0)


def test_bulk_reminder_by_keyboard_without_axe_violations(app, live_server, browser, two_provinces):  # noqa: F811
    with time_machine.travel(IN_GRACE, tick=True):
        problems = []
        for viewport in WIDTHS:
            context = browser.new_context(viewport=viewport, locale="vi-VN")
            page = context.new_page()
            sign_in(page, live_server, "admin@tgg.example")
            page.goto(f"{live_server}/campaigns/TGG-2019?status=not_submitted")
            problems += axe_problems(page)
            context.close()
        assert problems == []

        context = browser.new_context(viewport=WIDTHS[0], locale="vi-VN")
        page = context.new_page()
        sign_in(page, live_server, "admin@tgg.example")
        page.goto(f"{live_server}/campaigns/TGG-2019?status=not_submitted")
        page.focus("#bulk-all")
        page.keyboard.press("Space")  # the whole page, by keyboard
        assert page.inner_text("#bulk-count") == "(6)"
        assert page.locator("input.bulk-unit:checked").count() == 6  # one box per unit: the table serves phones too
        page.focus("#bulk-action")
        page.keyboard.press("Home")  # the first action: send a reminder now
        assert page.input_value("#bulk-action") == "remind"
        page.focus("#bulk-form button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_selector("#bulk-confirm-form")
        assert "Áp dụng cho 6 đơn vị" in page.inner_text("main")
        assert axe_problems(page) == []
        page.focus("#bulk-reason")
        page.keyboard.type("Đề nghị gửi hồ sơ trước 16:00 thứ Sáu 01/11/2019.")
        page.keyboard.press("Tab")  # to the send button
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Đã gửi thư nhắc cho 6 đơn vị")
        assert axe_problems(page) == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count(func.distinct(OutboxMail.unit_id))).where(
        OutboxMail.kind == "organizer_reminder")) == 6
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "unit.reminded")) == 6


def test_action_fields_suggest_units_as_the_officer_types(app, live_server, browser, two_provinces):  # noqa: F811
    """The action forms' datalists come from the server as one types (static/suggest.js): empty in the page,
    filled on focus, narrowed by the typed words without diacritics."""
    with time_machine.travel(IN_GRACE, tick=True):
        context = browser.new_context(viewport=WIDTHS[0], locale="vi-VN")
        page = context.new_page()
        sign_in(page, live_server, "admin@tgg.example")
        page.goto(f"{live_server}/campaigns/TGG-2019")
        assert page.locator("#units-nominate option").count() == 0  # the page carries no option lists
        page.focus("#a-nominate-unit")
        page.wait_for_function("() => document.querySelectorAll('#units-nominate option').length > 0")
        every = page.eval_on_selector_all("#units-nominate option", "os => os.map(o => o.value)")
        assert "CAIBE-TT" in every and "STC" not in every  # only units with a district above them
        page.keyboard.type("cai be")
        page.wait_for_function("() => [...document.querySelectorAll('#units-nominate option')].every(o => o.value === 'CAIBE-TT')"
                               " && document.querySelectorAll('#units-nominate option').length === 1")
        # The name and its unaccented form: the browser shows the options whose text contains what was typed.
        assert page.eval_on_selector("#units-nominate option", "o => o.textContent") == \
            "UBND thị trấn Cái Bè · ubnd thi tran cai be"
        page.keyboard.type(" khong co")  # nothing matches: the list empties
        page.wait_for_function("() => document.querySelectorAll('#units-nominate option').length === 0")
        context.close()
