"""Every kind of mail, at real size (a campaign of 5,000 units), through a real SMTP server with its
default limits.

aiosmtpd with its defaults refuses a line over 1,000 octets with its CRLF ("500 Line too long (see
RFC5321 4.5.3.1.6)"): the 8-bit bodies Flask-Mail wrote put the digest's unit list on one line of
several thousand octets.  Here each kind is queued by the very functions the service uses
(notifications/queue.py), built as sent (notifications/mime.py), checked line by line, sent by the
dispatcher to aiosmtpd, and the message the server received is decoded again and compared with the
text and HTML the outbox shows.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import and_, insert, select

from notifications import queue
from notifications.dispatch import dispatch_all, message_of
from notifications.mime import build_message, longest_line
from notifications.models import OutboxMail
from notifications.rules import MilestoneReminder, Occurrence
from tests.conftest import local
from workflow import awards, tick_health
from workflow.db import db
from workflow.models import Campaign, Milestone, Organizer, Participation, Submission, SubmissionDocument, Unit

ROOT = Path(__file__).resolve().parent.parent
UNITS = 5_000
#: Units with a mailbox (the others' mails would say the same thing to other names).
EMAILED_EVERY = 500
SENDER_NAME = "Sở Thông tin và Truyền thông tỉnh Tiền Giang – Phòng Công nghệ thông tin"
SENDER = f"{SENDER_NAME} <thidua@stttt.tiengiang.gov.vn>"
APP_URL = "https://hanchot.stttt.tiengiang.gov.vn"


def every_kind() -> set[str]:
    """Every mail the service can send: one template pair per kind (templates/mail/vi/*.txt)."""
    return {p.stem for p in (ROOT / "templates" / "mail" / "vi").glob("*.txt")}


def build_campaign() -> tuple[Campaign, list[Unit]]:
    """5,000 units: 20 departments, 11 districts, 30 vertical agencies, the rest communes; long
    Vietnamese names; 4,700 not submitted, 200 on time, 100 late (the digest's worst day)."""
    organizer = Organizer(code="TGG", name="Sở Thông tin và Truyền thông tỉnh Tiền Giang", province="Tiền Giang",
                          email="stttt@tiengiang.gov.vn")
    campaign = Campaign(
        organizer=organizer, code="TGG-2026", year=2026, state="open",
        title="Đánh giá, xếp loại mức độ ứng dụng công nghệ thông tin, chuyển đổi số trong các cơ quan nhà nước "
              "tỉnh Tiền Giang năm 2026",
        document_number="1270/STTTT-CNTT&BCVT", document_date=date(2026, 10, 7),
        data_period_start=date(2026, 1, 1), data_period_end=date(2026, 10, 1),
        deadline=date(2026, 12, 8), grace_working_days=5, council_emails=["hoidong.udcntt@tiengiang.gov.vn"])
    campaign.milestones.append(Milestone(kind="preliminary_review", end_date=date(2026, 12, 31)))
    campaign.milestones.append(Milestone(kind="award_dossiers", end_date=date(2027, 1, 29)))
    db.session.add(campaign)
    db.session.flush()
    groups = ["department"] * 20 + ["district"] * 11 + ["vertical"] * 30
    unit_rows = []
    for i in range(UNITS):
        group = groups[i] if i < len(groups) else "commune"
        emailed = i % EMAILED_EVERY == 0
        unit_rows.append({
            "organizer_id": organizer.id, "code": f"U{i:04d}", "group": group,
            "name": f"Ủy ban nhân dân xã Tân Phước Hưng số {i}, huyện Cai Lậy, tỉnh Tiền Giang",
            "emails": [f"vanthu.u{i:04d}@tiengiang.gov.vn"] if emailed else [],
            "head_email": f"chutich.u{i:04d}@tiengiang.gov.vn" if emailed else "",
            "language": "en" if emailed and (i // EMAILED_EVERY) % 2 else "vi"})
    db.session.execute(insert(Unit), unit_rows)
    ids = list(db.session.scalars(select(Unit.id).where(Unit.organizer_id == organizer.id).order_by(Unit.code)))
    part_rows = []
    for i, unit_id in enumerate(ids):
        status = "on_time" if 4_700 <= i < 4_900 else "late" if i >= 4_900 else "not_submitted"
        part_rows.append({"campaign_id": campaign.id, "unit_id": unit_id, "status": status,
                          "late_working_days": 2 if status == "late" else 0,
                          "received_at": datetime(2026, 12, 9, 2, 0, tzinfo=UTC) if status != "not_submitted"
                          else None})
    db.session.execute(insert(Participation), part_rows)
    # 80 reminders the servers refused: the digest lists 30 of them.
    db.session.execute(insert(OutboxMail), [{
        "key": f"bounce-{i}", "campaign_id": campaign.id, "unit_id": ids[i], "kind": "reminder",
        "occurrence": "x", "recipient": f"sai.dia.chi.{i}@tiengiang.gov.vn", "language": "vi",
        "subject": "[TGG-2026] Còn 1 ngày làm việc đến hạn nộp hồ sơ", "body_text": "…", "body_html": "",
        "message_id": f"<bounce-{i}@test>", "status": "failed", "attempts": 1, "claimed_by": "",
        "last_error": f"550 5.1.1 <sai.dia.chi.{i}@tiengiang.gov.vn>: Recipient address rejected: User unknown",
        "next_attempt_at": datetime(2026, 12, 1, tzinfo=UTC), "created_at": datetime(2026, 12, 1, tzinfo=UTC)}
        for i in range(80)])
    db.session.flush()
    emailed_units = [u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == organizer.id)
                                                   .order_by(Unit.code)) if u.emails]
    return campaign, emailed_units


def queue_every_kind(campaign: Campaign, units: list[Unit], now: datetime) -> None:
    """Each kind queued as the service queues it."""
    rules = queue.rules_of(campaign)
    silent = [u for u in units if u.code < "U4700"]
    queue._queue_unit_reminders(campaign, Occurrence(date(2026, 12, 7), "before_deadline", 1, escalate=True),
                                now, rules)
    queue._queue_digest(campaign, now)
    queue._queue_milestone_reminders(campaign, [MilestoneReminder("preliminary_review", now.date(),
                                                                  date(2026, 12, 31))], now)
    first, second = silent[0], silent[1]
    p = db.session.scalar(select(Participation).where(Participation.unit_id == first.id))
    sub = Submission(version=1, received_at=now, channel="upload", receipt_number=f"{campaign.code}/{first.code}/1",
                     recorded_by="vanthu@stttt.tiengiang.gov.vn", late_working_days=0)
    sub.documents.append(SubmissionDocument(
        original_name="Báo cáo kết quả ứng dụng CNTT, chuyển đổi số năm 2026 – " + "rất dài " * 20 + ".pdf",
        stored_name="", sha256="3b8f1c0e9a2d4f6b7c5e8a1d2f3b4c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b", size=254_312))
    p.submissions.append(sub)
    db.session.flush()
    queue.queue_receipt(campaign, first, sub, now)
    long_reason = "Bảng điểm tự chấm thiếu minh chứng cho tiêu chí 2.3; " * 60
    for kind in ("reinstated", "returned", "confirmation"):
        queue.queue_unit_notice(campaign, second, kind, reason=long_reason, occurrence=kind, now=now)
    queue.queue_exclusion_notices(campaign, and_(Participation.campaign_id == campaign.id,
                                                 Participation.unit_id.in_([u.id for u in silent[:3]])), now)
    queue.queue_results(campaign, now)
    # The award step's mails, as workflow/awards.py queues them (its one _queue for every award kind).
    awards._queue(campaign, second, "award_notice", occurrence="proposed", now=now)
    awards._queue(campaign, second, "award_reminder", occurrence=now.date().isoformat(), now=now,
                  extra={"overdue": False})
    awards._queue(campaign, first, "award_receipt", occurrence=sub.receipt_number, now=now, extra={
        "submission": sub, "status": "on_time", "late_days": 0, "received_text": "08:00:00 Thứ Hai 07/12/2026",
        "channel_name": "Nộp trực tuyến", "documents": list(sub.documents)})
    # The figures-confirmation round's reminder, with the context queue_confirmation_reminders gives it.
    queue.insert_rows([queue.build_row(
        kind="confirmation_reminder", campaign=campaign, unit_id=second.id, occurrence="round1",
        recipient=second.emails[0], language="vi", now=now,
        context=queue._campaign_context(campaign, "vi") | {"unit": second, "unanswered": 37,
                                                            "confirm_deadline_text": "Thứ Năm 10/12/2026"})])
    # The organizer's "remind now" from the dashboard's bulk action: every unit not submitted, one click.
    queue.queue_organizer_reminders(campaign, silent, reason=long_reason, occurrence="bulk-click-1", in_grace=False,
                                    now=now)
    # The failure notice of a campaign whose tick fails (workflow.operations.run_tick queues it).
    tick_health.record_failure(campaign.id, campaign.organizer_id,
                               ValueError("9999-12-31 (approval) is outside the supported dates " + "x" * 1500), now)
    queue.queue_tick_failure_notice(campaign, now)
    for kind in ("signin_link", "password_reset"):  # as web/pages/auth.py _send_link builds them
        user = type("User", (), {"name": "Nguyễn Thị Minh Khai", "email": first.emails[0]})()
        queue.insert_rows([queue.build_row(
            kind=kind, campaign=None, unit_id=first.id, occurrence=kind, recipient=first.emails[0], language="vi",
            context={"user": user, "organizer": campaign.organizer,
                     "link": f"{APP_URL}/login/link/{'x' * 43}"}, now=now)])
    db.session.commit()


@pytest.fixture
def big_campaign(mail_app):
    mail_app.config.update(MAIL_DEFAULT_SENDER=SENDER, APP_URL=APP_URL, MAIL_BATCH_SIZE=500)
    campaign, units = build_campaign()
    now = local(2026, 12, 7, 8, 0)
    queue_every_kind(campaign, units, now)
    return campaign, now


def test_every_kind_at_5000_units_is_accepted_by_a_default_aiosmtpd(big_campaign, smtp_server):
    campaign, now = big_campaign
    controller = smtp_server.controller
    assert controller is not None and set(controller.SMTP_kwargs) <= {"enable_SMTPUTF8", "hostname"}, \
        "the server must run with aiosmtpd's default limits"
    assert controller.smtpd.line_length_limit == 1001 and controller.smtpd.data_size_limit == 33_554_432

    rows = list(db.session.scalars(select(OutboxMail).where(OutboxMail.status == "pending").order_by(OutboxMail.id)))
    queue.render_missing(rows)
    db.session.commit()
    kinds = {r.kind for r in rows}
    assert kinds == every_kind(), f"kinds not covered: {every_kind() - kinds}"
    assert {r.language for r in rows if r.kind == "reminder"} == {"vi", "en"}

    # The digest of 5,000 units stays readable: the counts, the units that need action, a capped list.
    digest = next(r for r in rows if r.kind == "digest")
    assert "4.700 đơn vị chưa nộp" in digest.subject
    text = digest.body_text
    assert "Tổng số: 5.000" in text and "UBND cấp xã (4.939): Chưa nộp 4.639, Nộp đúng hạn 200, Nộp trễ" in text
    assert text.index("CẦN XỬ LÝ: đơn vị chưa nộp hồ sơ (4.700), 30 đơn vị đầu tiên") < text.index("Đơn vị nộp trễ")
    assert "  30. " in text and "  31. " not in text.split("CẦN XỬ LÝ: thư")[0]
    assert "… và 4.670 đơn vị khác." in text
    assert f"{APP_URL}/campaigns/TGG-2026?status=not_submitted#units" in text
    assert "CẦN XỬ LÝ: thư không gửi được (80)" in text and "… và 50 thư khác" in text
    assert len(text) < 20_000 and len(digest.body_html) < 30_000

    for row in rows:
        raw = message_of(row).as_bytes()
        assert longest_line(raw) <= 998, f"{row.kind}: a line of {longest_line(raw)} octets"
        assert longest_line(raw) <= 78, f"{row.kind}: a line of {longest_line(raw)} octets"
        assert b"Content-Transfer-Encoding: 8bit" not in raw

    result = dispatch_all(now + timedelta(minutes=1))
    db.session.expire_all()
    statuses = {r.status for r in db.session.scalars(select(OutboxMail).where(OutboxMail.id.in_([r.id for r in rows])))}
    assert statuses == {"sent"}, (statuses, result)
    received = {r.message_id: r for r in smtp_server.received}
    assert len(received) == len(rows)
    for row in rows:
        got = received[row.message_id]
        assert got.rcpt_tos == [row.recipient]
        assert got.subject == row.subject
        assert got.text() == row.body_text, row.kind
        assert got.html() == row.body_html, row.kind
        assert longest_line(got.raw) <= 998
        # RFC 2047 decoding of the display name (see notifications/mime.py on email.policy.default).
        assert str(make_header(decode_header(got.raw_header("From")))) == SENDER
        assert got.raw.isascii(), f"{row.kind}: 8-bit octets in the message"
        if not row.subject.isascii():  # RFC 2047 encoded-words
            assert "=?utf-8?" in got.raw_header("Subject")
        assert got.message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("subject", [
    "[TGG-2026] Copy of the reminder: Ủy ban nhân dân xã Tân Phước Hưng số 500, huyện Cai Lậy, tỉnh Tiền Giang "
    "has not yet submitted its dossier, deadline Tuesday 08/12/2026",
    "[TGG-2026] Please follow up: Ủy ban nhân dân xã Tân Phước Hưng số 595, huyện Cai Lậy, tỉnh Tiền Giang has not "
    "yet submitted its dossier, deadline Tuesday 08/12/2026",
    "[TGG-2026] Còn 1 ngày làm việc đến hạn nộp hồ sơ (hết Thứ Ba 08/12/2026)",
    "[TGG-2026] A plain ASCII subject that is long enough to be folded by the policy at seventy-eight characters",
])
def test_subjects_and_names_read_back_word_for_word(subject):
    """The SMTP policy's own folding dropped the space between two encoded-words ("nhân dân" came
    back "nhândân"); each subject and sender name reads back as written, by both of Python's parsers."""
    raw = build_message(sender=SENDER, recipient="a@tiengiang.gov.vn", subject=subject, text="x\n", html=None,
                        message_id="<x@test>").as_bytes()
    assert raw.isascii() and longest_line(raw) <= 78
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == subject
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    def unfold(value: str) -> str:  # RFC 5322 2.2.3: unfolding removes the CRLF, keeps the space
        return value.replace("\r\n", "").replace("\n", "")

    assert str(make_header(decode_header(unfold(legacy["Subject"])))) == subject
    assert str(make_header(decode_header(unfold(legacy["From"])))) == SENDER


def test_mail_show_raw_prints_the_message_as_sent(app, runner):
    """`flask mail show ID --raw`: the bytes the dispatcher sends, 7-bit, short lines, decodable."""
    app.config.update(MAIL_DEFAULT_SENDER=SENDER, APP_URL=APP_URL)
    text = "Kính gửi: Sở Y tế\n\n" + "Bảng điểm tự chấm thiếu minh chứng cho tiêu chí 2.3; " * 40 + "\n"
    queue.insert_rows([queue.build_row(
        kind="signin_link", campaign=None, unit_id=None, occurrence="x", recipient="syt@tiengiang.gov.vn",
        language="vi", context={"user": type("User", (), {"name": "Sở Y tế", "email": "syt@tiengiang.gov.vn"})(),
                                "organizer": type("O", (), {"name": "Sở TTTT"})(), "link": text}, now=local(2026, 12, 7))])
    db.session.commit()
    row = db.session.scalar(select(OutboxMail))
    result = runner.invoke(args=["mail", "show", str(row.id), "--raw"])
    assert result.exit_code == 0, result.output
    raw = result.output.encode("ascii")
    assert longest_line(raw) <= 78
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Message-ID"] == row.message_id and message["Subject"] == row.subject
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == row.body_text
    assert "Bảng điểm tự chấm thiếu minh chứng" in row.body_text
