"""One campaign must never stop the others (issue 13).

A campaign whose stored data is out of range (a milestone at 9999-12-31 written
straight into the database) fails on its own: the tick rolls back its savepoint,
records the failure for its dashboard and the organizer's digest, retries it next
tick, and every other campaign is excluded, moved and reminded as usual.  The
repair path (CLI ``campaign move``, the dashboard's form) works on it.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from cli.jobs import tick
from notifications.models import OutboxMail
from tests.conftest import local
from tests.test_tick_scale import GRACE_END, build, excluded_count
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Milestone
from workflow.tick_health import TickFailure, failures_of

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


def broken_campaign() -> dict:
    info = build(40, emails=True)
    db.session.add(Milestone(campaign_id=info["campaign_id"], kind="approval", end_date=date(9999, 12, 31)))
    db.session.commit()
    return info


def reminders(campaign_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.campaign_id == campaign_id, OutboxMail.kind != "excluded"))


def test_a_campaign_out_of_range_does_not_stop_the_others(app, runner):
    good = build(20, emails=True)
    bad = broken_campaign()
    other = build(30, emails=True)

    # The day before the deadline: reminders are queued for the healthy campaigns.
    summary = tick(local(2019, 10, 24, 9, 0))
    assert summary["campaigns_failed"] == 1
    assert reminders(good["campaign_id"]) > 0
    assert reminders(other["campaign_id"]) > 0
    assert reminders(bad["campaign_id"]) == 0
    failure = db.session.get(TickFailure, bad["campaign_id"])
    assert "9999-12-31" in failure.error and "approval" in failure.error
    first_seen = failure.first_seen

    # Grace end: the others exclude their silent units and move on; the broken one is retried and fails again.
    summary = tick(GRACE_END)
    assert summary["campaigns_moved"] == 2 and summary["campaigns_failed"] == 1
    db.session.expire_all()
    for info in (good, other):
        assert db.session.get(Campaign, info["campaign_id"]).state == "preliminary_review"
        assert excluded_count(info["campaign_id"]) == info["silent"]
    assert db.session.get(Campaign, bad["campaign_id"]).state == "open"
    assert excluded_count(bad["campaign_id"]) == 0
    failure = db.session.get(TickFailure, bad["campaign_id"])
    assert failure.count == 2 and failure.first_seen == first_seen and failure.last_seen == GRACE_END
    assert [f.campaign_code for f in failures_of(failure.organizer_id)] == ["SCALE-40"]

    # The repair path works on the broken campaign, and the next tick catches up with what time has done.
    result = runner.invoke(args=["campaign", "move", "SCALE-40", "approval", "--end", "2019-12-02",
                                 "--reason", "Sửa ngày nhập sai", "--now", "2019-11-04T09:00:00+07:00"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.campaign_id == bad["campaign_id"], AuditEvent.action == "milestone.repaired")) == 1
    summary = tick(local(2019, 11, 4, 9, 5))
    assert summary["campaigns_failed"] == 0
    db.session.expire_all()
    assert db.session.get(Campaign, bad["campaign_id"]).state == "preliminary_review"
    assert excluded_count(bad["campaign_id"]) == bad["silent"]
    assert db.session.get(TickFailure, bad["campaign_id"]) is None


def test_a_move_out_of_range_is_refused_everywhere_by_one_rule(app, runner):
    build(20)
    result = runner.invoke(args=["campaign", "move", "SCALE-20", "approval", "--end", "9999-12-31",
                                 "--reason", "thử", "--now", "2019-10-20T09:00:00+07:00"])
    assert result.exit_code != 0
    assert "9999-12-31" in result.output and "2100-12-31" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Milestone)) == 0


DIGEST_ORG = "organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@stttt.tiengiang.gov.vn}"


def _digest_campaign(code: str) -> str:
    return f"""
{DIGEST_ORG}
campaign:
  code: {code}
  title: Đợt {code}
  year: 2019
  deadline: 2019-10-25
  grace_working_days: 5
units:
  - {{code: STC, name: Sở Tài chính, group: department, emails: [vanthu.stc@tiengiang.gov.vn]}}
"""


def test_a_failing_campaign_is_at_the_top_of_the_organizers_digest_until_repaired(mail_app, runner, make_campaign,
                                                                                 smtp_server):
    from notifications.dispatch import dispatch_all
    from tests.conftest import local

    broken = make_campaign(_digest_campaign("TGG-HONG"))
    make_campaign(_digest_campaign("TGG-TOT"))
    db.session.add(Milestone(campaign_id=broken.id, kind="approval", end_date=date(9999, 12, 31)))
    db.session.commit()

    assert tick(local(2019, 10, 21, 9, 0))["campaigns_failed"] == 1
    dispatch_all(local(2019, 10, 21, 9, 1))
    (digest,) = [r for r in smtp_server.received if r.rcpt_tos == ["thidua@stttt.tiengiang.gov.vn"]
                 and "[TGG-TOT]" in r.subject]
    text = digest.message.get_body(("plain",)).get_content()
    html = digest.message.get_body(("html",)).get_content()
    top = text.split("Tình hình nhận hồ sơ đợt")[0]
    assert "CẦN XỬ LÝ NGAY" in top and "TGG-HONG – Đợt TGG-HONG" in top
    assert "9999-12-31" in top and "approval" in top
    assert "Từ 09:00:00 Thứ Hai 21/10/2019, đã thử lại 1 lần" in top
    assert "/campaigns/TGG-HONG" in top  # the repair page
    assert html.index('id="tick-failures"') < html.index("Tình hình nhận hồ sơ đợt")
    assert "9999-12-31" in html and 'href="http' in html.split('id="tick-failures"')[1].split("</div>")[0]
    assert all(len(line) <= 998 for line in digest.raw.split(b"\r\n"))

    # Retried the next day: still failing, counted; then repaired, and the next digest has no failure in it.
    assert tick(local(2019, 10, 22, 9, 0))["campaigns_failed"] == 1
    dispatch_all(local(2019, 10, 22, 9, 1))
    second = [r for r in smtp_server.received if "[TGG-TOT]" in r.subject][-1]
    assert "đã thử lại 2 lần" in second.message.get_body(("plain",)).get_content()
    result = runner.invoke(args=["campaign", "move", "TGG-HONG", "approval", "--end", "2019-12-02",
                                 "--reason", "Sửa ngày nhập sai", "--now", "2019-10-22T10:00:00+07:00"])
    assert result.exit_code == 0, result.output
    assert tick(local(2019, 10, 23, 9, 0))["campaigns_failed"] == 0
    dispatch_all(local(2019, 10, 23, 9, 1))
    third = [r for r in smtp_server.received if "[TGG-TOT]" in r.subject][-1]
    assert third is not second
    for part in (third.message.get_body(("plain",)).get_content(), third.message.get_body(("html",)).get_content()):
        assert "TGG-HONG" not in part and "CẦN XỬ LÝ NGAY" not in part and "tick-failures" not in part


def test_an_organizers_only_campaign_failing_is_told_by_mail_once_a_day_until_repaired(mail_app, runner,
                                                                                      make_campaign, smtp_server):
    """With no other campaign running there is no other digest to carry the failure (the failing campaign's
    own work, its digest included, is rolled back): the organizer's mailbox gets the failure notice, once a
    local day while it fails, and none once it is repaired."""
    from notifications.dispatch import dispatch_all

    broken = make_campaign(_digest_campaign("TGG-HONG"))
    db.session.add(Milestone(campaign_id=broken.id, kind="approval", end_date=date(9999, 12, 31)))
    db.session.commit()

    assert tick(local(2019, 10, 21, 9, 0))["campaigns_failed"] == 1
    assert tick(local(2019, 10, 21, 9, 5))["campaigns_failed"] == 1  # the next tick of the same day
    dispatch_all(local(2019, 10, 21, 9, 6))
    notices = [r for r in smtp_server.received if "[TGG-HONG]" in r.subject]
    assert len(notices) == 1
    (notice,) = notices
    assert notice.rcpt_tos == ["thidua@stttt.tiengiang.gov.vn"]
    assert "CẦN XỬ LÝ NGAY" in notice.subject
    text = notice.message.get_body(("plain",)).get_content()
    assert "TGG-HONG – Đợt TGG-HONG" in text and "9999-12-31" in text and "approval" in text
    assert "Từ 09:00:00 Thứ Hai 21/10/2019, đã thử lại 1 lần" in text and "/campaigns/TGG-HONG" in text
    html = notice.message.get_body(("html",)).get_content()
    assert 'id="tick-failures"' in html and "9999-12-31" in html
    assert all(len(line) <= 998 for line in notice.raw.split(b"\r\n"))

    assert tick(local(2019, 10, 22, 9, 0))["campaigns_failed"] == 1  # a new day: told again
    dispatch_all(local(2019, 10, 22, 9, 1))
    assert len([r for r in smtp_server.received if "[TGG-HONG]" in r.subject and "CẦN XỬ LÝ NGAY" in r.subject]) == 2
    result = runner.invoke(args=["campaign", "move", "TGG-HONG", "approval", "--end", "2019-12-02",
                                 "--reason", "Sửa ngày nhập sai", "--now", "2019-10-22T10:00:00+07:00"])
    assert result.exit_code == 0, result.output
    assert tick(local(2019, 10, 23, 9, 0))["campaigns_failed"] == 0
    dispatch_all(local(2019, 10, 23, 9, 1))
    assert len([r for r in smtp_server.received if "CẦN XỬ LÝ NGAY" in r.subject]) == 2
