"""Reminders and mail through a real SMTP server (aiosmtpd on 127.0.0.1).

Campaign used: deadline Friday 25/10/2019, 5 working days of grace (ends at
24:00 Friday 01/11/2019).  The default reminders fall on 11/10 (10 working
days before), 18/10 (5), 22/10 (3), 24/10 (1, with escalation), 25/10 (the
deadline day) and each grace day 28/10 – 01/11.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from notifications.dispatch import dispatch_all, mail
from notifications.models import OutboxMail
from notifications.queue import insert_rows
from tests.conftest import ROOT, local
from workflow import operations as ops
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Unit

CAMPAIGN = """
organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@stttt.tiengiang.gov.vn}
campaign:
  code: TGG-2019
  title: Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019
  year: 2019
  document: {number: "1270/STTTT-CNTT&BCVT", date: 2019-10-07}
  deadline: 2019-10-25
  grace_working_days: 5
  council_emails: [hoidong@stttt.tiengiang.gov.vn]
  milestones:
    field_inspection: {start: 2019-11-04, end: 2019-11-15}
units:
  - {code: STC, name: Sở Tài chính, group: department, emails: [vanthu.stc@tiengiang.gov.vn], head_email: giamdoc.stc@tiengiang.gov.vn}
  - {code: SYT, name: Sở Y tế, group: department, emails: [vanthu.syt@tiengiang.gov.vn, cntt.syt@tiengiang.gov.vn]}
  - {code: MYTHO, name: UBND thành phố Mỹ Tho, group: district, emails: [vanthu.mytho@tiengiang.gov.vn]}
  - {code: MT-P1, name: UBND Phường 1, group: commune, parent: MYTHO, emails: [p1.mytho@tiengiang.gov.vn]}
"""


@pytest.fixture
def campaign(mail_app, runner, tmp_path):
    path = tmp_path / "tgg.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    result = runner.invoke(args=["campaign", "import", str(path), "--now", "2019-10-07T08:00:00+07:00"])
    assert result.exit_code == 0, result.output
    return db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2019"))


def tick(now: datetime) -> dict:
    from cli.jobs import tick as tick_job

    return tick_job(now)


def outbox(**filters) -> list[OutboxMail]:
    query = select(OutboxMail).order_by(OutboxMail.id)
    for name, value in filters.items():
        query = query.where(getattr(OutboxMail, name) == value)
    db.session.expire_all()
    return list(db.session.scalars(query))


def test_reminders_reach_the_units_through_smtp(campaign, smtp_server):
    # Thursday 24/10/2019 08:00: the last working day before the deadline.
    summary = tick(local(2019, 10, 24, 8, 0))
    assert summary["reminders_queued"] > 0
    sent = dispatch_all(local(2019, 10, 24, 8, 1))
    received = smtp_server.received
    # Units: STC (1 address) + SYT (2) + MYTHO (1) + MT-P1 (1) = 5 reminders;
    # escalation: STC's head, MT-P1's district coordinator (Mỹ Tho) = 2;
    # the organizer's daily digest = 1.
    reminders = [r for r in received if "Còn 1 ngày làm việc" in r.subject]
    assert sorted(r.rcpt_tos[0] for r in reminders) == sorted([
        "vanthu.stc@tiengiang.gov.vn", "vanthu.syt@tiengiang.gov.vn", "cntt.syt@tiengiang.gov.vn",
        "vanthu.mytho@tiengiang.gov.vn", "p1.mytho@tiengiang.gov.vn"])
    copies = {r.rcpt_tos[0]: r for r in received if "chưa gửi hồ sơ" in r.subject}
    assert sorted(copies) == ["giamdoc.stc@tiengiang.gov.vn", "vanthu.mytho@tiengiang.gov.vn"]
    assert "Sở Tài chính" in copies["giamdoc.stc@tiengiang.gov.vn"].subject
    assert "UBND Phường 1" in copies["vanthu.mytho@tiengiang.gov.vn"].subject
    assert len(received) == 8 == sent.sent
    one = next(r for r in reminders if r.rcpt_tos == ["vanthu.stc@tiengiang.gov.vn"])
    assert one.subject.startswith("[TGG-2019]")
    body = one.text()
    assert "Kính gửi: Sở Tài chính" in body
    assert "Thứ Sáu 25/10/2019" in body
    assert "ngày làm việc" in body
    assert one.html() and "Sở Tài chính" in one.html()
    digest = [r for r in received if r.rcpt_tos == ["thidua@stttt.tiengiang.gov.vn"]]
    assert len(digest) == 1 and digest[0].subject.startswith("[TGG-2019]")
    # Message-IDs are the outbox's, one per mail.
    assert sorted(smtp_server.message_ids()) == sorted(r.message_id for r in outbox(status="sent"))

    # The same tick again, later the same day: nothing new is queued or sent.
    tick(local(2019, 10, 24, 10, 0))
    again = dispatch_all(local(2019, 10, 24, 10, 1))
    assert again.sent == 0 and len(smtp_server.received) == 8


def test_no_reminder_on_weekends_holidays_or_outside_office_hours(campaign):
    assert tick(local(2019, 10, 19, 9, 0))["reminders_queued"] == 0   # Saturday
    assert tick(local(2019, 10, 24, 6, 59))["reminders_queued"] == 0  # before 07:30
    assert tick(local(2019, 10, 24, 17, 0))["reminders_queued"] == 0  # from 17:00
    assert tick(local(2019, 10, 23, 9, 0))["reminders_queued"] == 1   # no reminder day: only the digest
    assert [m.kind for m in outbox()] == ["digest"]


def test_grace_day_reminder_counts_days_left_before_exclusion(campaign, smtp_server):
    # Monday 28/10: first grace day of five → "còn 5 ngày làm việc".
    tick(local(2019, 10, 28, 9, 0))
    dispatch_all(local(2019, 10, 28, 9, 1))
    subjects = {r.subject for r in smtp_server.received if r.rcpt_tos == ["vanthu.stc@tiengiang.gov.vn"]}
    assert len(subjects) == 1
    assert subjects.pop().startswith("[TGG-2019] Còn 5 ngày làm việc trước khi bị loại khỏi đánh giá")


def test_a_reminder_that_stopped_being_true_is_dropped(campaign, smtp_server):
    tick(local(2019, 10, 24, 8, 0))
    stc = db.session.scalar(select(Unit).where(Unit.code == "STC"))
    ops.record_submission(campaign, stc, received_at=local(2019, 10, 24, 8, 5), channel="eoffice",
                          recorded_by="văn thư", now=local(2019, 10, 24, 8, 5), doc_number="2345")
    db.session.commit()
    dispatch_all(local(2019, 10, 24, 8, 6))
    to = [r.rcpt_tos[0] for r in smtp_server.received]
    assert "vanthu.stc@tiengiang.gov.vn" in to  # its receipt
    stc_reminders = [m for m in outbox(unit_id=stc.id) if m.kind in ("reminder", "escalation")]
    assert {m.status for m in stc_reminders} == {"dropped"}
    assert all("unit is on_time" in m.last_error for m in stc_reminders)
    assert not any("Còn 1 ngày" in r.subject for r in smtp_server.received if r.rcpt_tos[0].endswith("stc@tiengiang.gov.vn"))
    # A reminder whose office hours are over by the time it would go out is dropped too.
    tick(local(2019, 10, 25, 16, 59))
    before = len(smtp_server.received)
    result = dispatch_all(local(2019, 10, 25, 17, 30))
    late = smtp_server.received[before:]
    assert result.dropped == 4  # SYT ×2, MYTHO, MYTHO-P1: the deadline-day reminder
    assert [r.rcpt_tos[0] for r in late] == ["thidua@stttt.tiengiang.gov.vn"]  # only the digest went
    assert all(m.last_error == "dropped: office hours of its day are over"
               for m in outbox(status="dropped") if m.occurrence.startswith("deadline_day"))


def test_moving_the_deadline_replans_the_reminders(campaign, smtp_server):
    tick(local(2019, 10, 24, 8, 0))
    ops.move_milestone(campaign, "deadline", end=datetime(2019, 11, 8).date(), reason="Bão số 5",
                       actor="thidua", now=local(2019, 10, 24, 8, 2))
    db.session.commit()
    pending = [m for m in outbox() if m.kind == "reminder"]
    assert pending and {m.status for m in pending} == {"dropped"}
    assert all(m.last_error == "deadline moved" for m in pending)
    # 10 working days before Friday 08/11/2019 is Friday 25/10/2019.
    tick(local(2019, 10, 25, 8, 0))
    dispatch_all(local(2019, 10, 25, 8, 1))
    assert any("Còn 10 ngày làm việc" in r.subject for r in smtp_server.received)
    assert not any("Còn 1 ngày làm việc" in r.subject for r in smtp_server.received)


def test_smtp_down_then_back_every_mail_arrives_once(campaign, smtp_server):
    tick(local(2019, 10, 24, 8, 0))
    queued = len(outbox(status="pending"))
    smtp_server.stop()
    down = dispatch_all(local(2019, 10, 24, 8, 1))
    assert down.sent == 0 and down.retried == queued
    waiting = outbox(status="pending")
    assert len(waiting) == queued and all(m.attempts == 1 and "connection failed" in m.last_error for m in waiting)
    # Not before the backoff (60 s in the test config) has passed...
    assert dispatch_all(local(2019, 10, 24, 8, 1, 30)).claimed == 0
    smtp_server.start()
    back = dispatch_all(local(2019, 10, 24, 8, 3))
    assert back.sent == queued
    assert len(smtp_server.received) == queued == len(set(smtp_server.message_ids()))


def test_a_550_answer_fails_that_row_the_others_go_on_and_the_organizer_sees_it(campaign, smtp_server, runner):
    smtp_server.handler.reject.add("cntt.syt@tiengiang.gov.vn")
    tick(local(2019, 10, 24, 8, 0))
    result = dispatch_all(local(2019, 10, 24, 8, 1))
    assert result.failed == 1 and result.sent == 7
    failed = outbox(status="failed")
    assert [m.recipient for m in failed] == ["cntt.syt@tiengiang.gov.vn"]
    assert failed[0].last_error.startswith("550 5.1.1")
    assert "User unknown" in failed[0].last_error
    listing = runner.invoke(args=["mail", "outbox", "--status", "failed"])
    assert "cntt.syt@tiengiang.gov.vn" in listing.output and "550" in listing.output
    # The next day's digest tells the organizer what bounced.
    tick(local(2019, 10, 25, 8, 0))
    dispatch_all(local(2019, 10, 25, 8, 1))
    digest = [r for r in smtp_server.received if r.rcpt_tos == ["thidua@stttt.tiengiang.gov.vn"]]
    assert "cntt.syt@tiengiang.gov.vn" in digest[-1].text()


def test_without_mail_server_mail_stays_in_the_outbox(campaign, app):
    app.config["MAIL_SERVER"] = ""
    tick(local(2019, 10, 24, 8, 0))
    assert dispatch_all(local(2019, 10, 24, 8, 1)).claimed == 0
    rows = outbox()
    assert rows and {m.status for m in rows} == {"pending"}
    assert all(m.body_text and m.subject for m in rows)


def test_exclusion_notices_are_queued_with_the_exclusion(campaign, smtp_server):
    tick(local(2019, 11, 2, 0, 0, 1))
    excluded = outbox(kind="excluded")
    assert sorted(m.recipient for m in excluded) == sorted([
        "vanthu.stc@tiengiang.gov.vn", "vanthu.syt@tiengiang.gov.vn", "cntt.syt@tiengiang.gov.vn",
        "vanthu.mytho@tiengiang.gov.vn", "p1.mytho@tiengiang.gov.vn"])
    tick(local(2019, 11, 2, 0, 5))  # idempotent
    assert len(outbox(kind="excluded")) == 5
    # Queued in bulk by one INSERT … SELECT, rendered when sent: a real notice arrives.
    dispatch_all(local(2019, 11, 4, 8, 0))
    notices = {r.rcpt_tos[0]: r for r in smtp_server.received}
    stc = notices["vanthu.stc@tiengiang.gov.vn"]
    assert stc.subject.startswith("[TGG-2019]") and "Sở Tài chính" in stc.subject
    assert "Kính gửi" in stc.text() and "Thứ Sáu 01/11/2019" in stc.text()
    assert all(m.subject and m.body_text and m.status == "sent" for m in outbox(kind="excluded"))


# -- several processes ---------------------------------------------------------------

def _queue_plain(n: int, campaign: Campaign) -> None:
    now = datetime.now(UTC)
    rows = [{
        "key": f"test:{i}", "campaign_id": campaign.id, "unit_id": None, "kind": "receipt", "occurrence": str(i),
        "recipient": f"unit{i}@example.gov.vn", "language": "vi", "subject": f"[TGG-2019] Biên nhận {i}",
        "body_text": f"Biên nhận hồ sơ số {i}.\n", "body_html": "", "message_id": f"<test-{i}@han-chot.local>",
        "status": "pending", "attempts": 0, "next_attempt_at": now - timedelta(seconds=1), "expires_at": None,
        "planned_deadline": None, "claimed_by": "", "last_error": "", "created_at": now,
    } for i in range(n)]
    insert_rows(rows)
    db.session.commit()


def _scheduler(app, smtp_port: int, log_path) -> subprocess.Popen:
    env = dict(os.environ, FLASK_APP="app", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port), DISPATCH_SECONDS="0.2", TICK_SECONDS="3600",
               MAIL_BATCH_SIZE="50", MAIL_TIMEOUT="5", PYTHONUNBUFFERED="1")
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    with log_path.open("ab") as log:
        return subprocess.Popen([flask, "scheduler", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_each_mail_arrives_exactly_once(campaign, smtp_server, tmp_path):
    total = 600
    _queue_plain(total, campaign)
    log_path = tmp_path / "scheduler.log"
    first = _scheduler(current_app, smtp_server.port, log_path)
    try:
        assert _wait(lambda: len(smtp_server.received) >= 150, 60), log_path.read_text(errors="replace")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = len(smtp_server.received)
    assert at_kill < total, "the kill must land in the middle of the batch"
    second = _scheduler(current_app, smtp_server.port, log_path)
    try:
        assert _wait(lambda: len(smtp_server.received) >= total, 90), log_path.read_text(errors="replace")
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    # The subprocess's tick runs on the real clock and also excludes the
    # campaign's silent units (their notices arrive too): count the batch.
    ids = [m for m in smtp_server.message_ids() if m.startswith("<test-")]
    counts = {mid: ids.count(mid) for mid in set(ids)}
    assert len(counts) == total
    assert max(counts.values()) == 1, [m for m, c in counts.items() if c > 1]
    assert sorted(counts) == sorted(f"<test-{i}@han-chot.local>" for i in range(total))
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(OutboxMail.status == "sent",
                                                        OutboxMail.key.like("test:%"))) == total


@pytest.mark.slow
def test_two_schedulers_at_once_send_nothing_twice_and_tick_once(campaign, smtp_server, tmp_path):
    total = 500
    _queue_plain(total, campaign)
    # The campaign's grace ended long ago (real clock): the tick of whichever
    # scheduler acts excludes the four silent units, once, and queues their
    # five exclusion notices (SYT has two addresses).
    total += 5
    log_path = tmp_path / "schedulers.log"
    procs = [_scheduler(current_app, smtp_server.port, log_path) for _ in range(2)]
    try:
        assert _wait(lambda: len(smtp_server.received) >= total, 90), log_path.read_text(errors="replace")
        time.sleep(1.5)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(20)
    ids = smtp_server.message_ids()
    assert len(ids) == len(set(ids)) == total
    db.session.expire_all()
    grace_ends = db.session.scalar(select(func.count()).where(AuditEvent.action == "campaign.grace_ends"))
    excluded = db.session.scalar(select(func.count()).where(AuditEvent.action == "unit.excluded"))
    assert grace_ends == 1 and excluded == 4
    acting = log_path.read_text(errors="replace").count("now acting")
    assert acting == 1


def test_mail_timeout_applies_to_a_server_that_never_answers(campaign, mail_app):
    """Flask-Mail sets no socket timeout; MAIL_TIMEOUT does.  A server that accepts the connection and
    never greets (it hangs up after 10 s) fails the batch with a timeout, and the rows wait to retry."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def silent():
        conn, _ = listener.accept()
        stop.wait(10)
        conn.close()

    thread = threading.Thread(target=silent, daemon=True)
    thread.start()
    mail_app.config.update(MAIL_PORT=listener.getsockname()[1], MAIL_TIMEOUT=0.5)
    mail.init_app(mail_app)  # Flask-Mail reads the server's address when initialised
    try:
        tick(local(2019, 10, 24, 8, 0))
        result = dispatch_all(local(2019, 10, 24, 8, 1))
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    rows = outbox()
    assert result.sent == 0 and result.retried == len(rows) > 0
    assert {r.status for r in rows} == {"pending"}
    assert all("timed out" in r.last_error for r in rows), {r.last_error for r in rows}
