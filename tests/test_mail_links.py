"""A mail's link, opened in a real browser (Debian's Chromium, Playwright) by its recipient, lands on
the recipient's own page; the HTML mail reads on a 390 px phone; the outbox shows the plain text with
its line breaks.

The mails are queued by the service's own functions (notifications/queue.py) with APP_URL set to
the live server, as the tick, the dossier desk and the organizer's actions queue them.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from notifications import queue
from notifications.models import OutboxMail
from notifications.rules import MilestoneReminder, Occurrence
from tests import test_browser
from tests.conftest import PASSWORD, local
from workflow.db import db
from workflow.models import Campaign, Participation, Submission, SubmissionDocument, Unit

CHROMIUM = test_browser.CHROMIUM
#: The browser tests' own fixtures: the app on a loopback port, Debian's Chromium.
live_server = test_browser.live_server
browser = test_browser.browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)"),
]

CAMPAIGN = """
organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@tgg.example}
campaign:
  code: TGG-2019
  title: Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019
  year: 2019
  document: {number: "1270/STTTT-CNTT&BCVT", date: 2019-10-07}
  data_period: {start: 2019-01-01, end: 2019-10-01}
  deadline: 2019-10-25
  grace_working_days: 5
  council_emails: [hoidong@tgg.example]
  milestones:
    field_inspection: {start: 2019-11-04, end: 2019-11-15}
units:
  - {code: STC, name: Sở Tài chính, group: department, emails: [stc@tgg.example], head_email: giamdoc.stc@tgg.example}
  - {code: SYT, name: Sở Y tế, group: department, emails: [syt@tgg.example]}
  - {code: MYTHO, name: UBND thành phố Mỹ Tho, group: district, emails: [mytho@tgg.example]}
  - {code: MT-P1, name: UBND Phường 1, group: commune, parent: MYTHO, emails: [p1@tgg.example]}
"""


@pytest.fixture
def mails(app, live_server, make_campaign, make_user):
    """Accounts for each recipient, and one mail of each kind that links to a page, queued with
    APP_URL = the live server."""
    app.config["APP_URL"] = live_server
    campaign = make_campaign(CAMPAIGN)
    for email, role, unit in (("thidua@tgg.example", "organizer_admin", None),
                              ("hoidong@tgg.example", "council", None),
                              ("stc@tgg.example", "focal_point", "STC"),
                              ("syt@tgg.example", "focal_point", "SYT"),
                              ("mytho@tgg.example", "district_coordinator", "MYTHO"),
                              ("p1@tgg.example", "focal_point", "MT-P1")):
        make_user(email, role, "TGG", unit)
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2019"))
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    now = local(2019, 10, 24, 8, 0)
    queue._queue_unit_reminders(campaign, Occurrence(date(2019, 10, 24), "before_deadline", 1, escalate=True), now,
                                queue.rules_of(campaign))
    queue.queue_unit_notice(campaign, units["SYT"], "returned", reason="Thiếu bảng điểm tự chấm.", occurrence="r",
                            now=now)
    participation = db.session.scalar(select(Participation).where(Participation.unit_id == units["MYTHO"].id))
    submission = Submission(version=1, received_at=now, channel="upload", receipt_number="TGG-2019/MYTHO/1",
                            recorded_by="mytho@tgg.example", late_working_days=0)
    submission.documents.append(SubmissionDocument(
        original_name="Bao_cao_ket_qua_trien_khai_ung_dung_CNTT_nam_2019_UBND_thanh_pho_My_Tho_ban_chinh_thuc.pdf",
        stored_name="", size=254_312, sha256="3b8f1c0e9a2d4f6b7c5e8a1d2f3b4c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"))
    participation.submissions.append(submission)
    participation.status, participation.received_at = "on_time", now
    db.session.flush()
    queue.queue_receipt(campaign, units["MYTHO"], submission, now)
    queue._queue_digest(campaign, now)
    queue._queue_milestone_reminders(campaign, [MilestoneReminder("field_inspection", date(2019, 10, 28),
                                                                  date(2019, 11, 15))], now)
    db.session.commit()
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def link_of(mail: OutboxMail, base: str) -> str:
    """The link the plain text gives, which the HTML part's <a href> repeats."""
    links = re.findall(re.escape(base) + r"[^\s<>\"]*", mail.body_text)
    assert links, f"{mail.kind} to {mail.recipient}: no link to {base}"
    link = links[-1].rstrip(".,")
    assert f'href="{link}"' in mail.body_html.replace("&amp;", "&"), mail.kind
    return link


def sign_in(page, base: str, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")


#: (kind, recipient) → the path the recipient must land on, and what that page shows.
EXPECTED = {
    ("reminder", "stc@tgg.example"): ("/campaigns/TGG-2019/units/STC", "Sở Tài chính"),
    ("reminder", "p1@tgg.example"): ("/campaigns/TGG-2019/units/MT-P1", "UBND Phường 1"),
    ("escalation", "mytho@tgg.example"): ("/campaigns/TGG-2019/units/MT-P1", "UBND Phường 1"),
    ("returned", "syt@tgg.example"): ("/campaigns/TGG-2019/units/SYT", "Sở Y tế"),
    ("receipt", "mytho@tgg.example"): ("/campaigns/TGG-2019/units/MYTHO", "TGG-2019/MYTHO/1"),
    ("digest", "thidua@tgg.example"): ("/campaigns/TGG-2019", "Sở Tài chính"),
    ("milestone", "hoidong@tgg.example"): ("/campaigns/TGG-2019", "Sở Tài chính"),
    ("milestone", "thidua@tgg.example"): ("/campaigns/TGG-2019", "Sở Tài chính"),
}


def test_each_mail_link_opens_the_recipients_own_page(mails, live_server, browser):
    by_key = {(m.kind, m.recipient): m for m in mails}
    assert set(EXPECTED) <= set(by_key), set(EXPECTED) - set(by_key)
    for (kind, recipient), (path, shows) in EXPECTED.items():
        link = link_of(by_key[(kind, recipient)], live_server)
        assert link.startswith(live_server + path), (kind, link)
        # The recipient clicks the link signed out: sign-in first, then the page the link names.
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
        page = context.new_page()
        page.goto(link)
        assert "/login" in page.url, (kind, page.url)
        sign_in(page, live_server, recipient)
        landed = page.url.split("#")[0]
        assert landed.split("?")[0] == live_server + path, (kind, recipient, page.url)
        assert page.locator("main").inner_text().count(shows) >= 1, (kind, recipient)
        context.close()

    # The digest's "full list" link is the dashboard filtered to the units that have not sent.
    digest = by_key[("digest", "thidua@tgg.example")]
    assert f"{live_server}/campaigns/TGG-2019?status=not_submitted#units" in digest.body_text


def test_the_unit_page_a_reminder_opens_shows_the_data_period(mails, live_server, browser):
    reminder = next(m for m in mails if m.kind == "reminder" and m.recipient == "stc@tgg.example")
    assert "Số liệu tính từ ngày 01/01/2019 đến ngày 01/10/2019." in reminder.body_text
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    page = context.new_page()
    page.goto(link_of(reminder, live_server))
    sign_in(page, live_server, "stc@tgg.example")
    assert "Số liệu tính từ ngày 01/01/2019 đến ngày 01/10/2019" in page.locator("#data-period").inner_text()
    context.close()


def test_html_mail_reads_on_a_390_px_phone(mails, browser):
    """No sideways scrolling at 390 px: the viewport meta is there and long names, codes and links wrap."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=3)
    page = context.new_page()
    for mail in mails:
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in mail.body_html
        page.set_content(mail.body_html)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{mail.kind} to {mail.recipient}: {width} px wide"
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 15, (mail.kind, size)
    context.close()


def test_outbox_shows_the_plain_text_with_its_line_breaks(mails, live_server, browser):
    digest = next(m for m in mails if m.kind == "digest")
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    sign_in(page, live_server, "thidua@tgg.example")
    page.goto(f"{live_server}/outbox/{digest.id}")
    body = page.locator("#mail-body")
    assert body.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    shown = body.inner_text()
    assert shown.strip().splitlines() == digest.body_text.strip().splitlines()
    assert len(shown.splitlines()) > 20
    # Each line of the digest starts on its own line on screen, too (not one wrapped paragraph).
    tops = body.evaluate("""e => {
        const r = document.createRange(); const tops = new Set();
        for (const n of e.childNodes) { r.selectNodeContents(n); for (const b of r.getClientRects()) tops.add(Math.round(b.top)); }
        return tops.size; }""")
    assert tops >= len(digest.body_text.strip().splitlines())
    context.close()
