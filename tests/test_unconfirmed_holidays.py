"""Confirming or rejecting an unconfirmed day off (issue 13): 24/11/2026 "Ngày Văn hóa Việt Nam" is listed by
the holidays package but no enacted source confirms it.  An organizer admin (the calendar page) decides it for
the province, the operator (``flask workdays confirm-holiday|reject-holiday --scope all``) for everyone, once,
with the deciding document; a rejection that moves a passed grace end takes the after-the-fact path.

On SQLite and, with TEST_DATABASE_URL, on PostgreSQL (the decisions live in the database).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from workflow.db import db
from workflow.models import AuditEvent, Campaign, HolidayDecision, Organizer, Participation

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

CODE = "TGG-2026"
CAMPAIGN_2026 = """
organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@stttt.tiengiang.gov.vn}
campaign:
  code: TGG-2026
  title: Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2026
  year: 2026
  deadline: 2026-11-20
  grace_working_days: 5
units:
  - {code: STC, name: Sở Tài chính, group: department, emails: [vanthu.stc@tiengiang.gov.vn]}
  - {code: SYT, name: Sở Y tế, group: department, emails: [vanthu.syt@tiengiang.gov.vn]}
"""
OTHER = """
organizer: {code: HNI, name: Sở Thông tin và Truyền thông Hà Nội, email: stttt@hanoi.gov.vn}
campaign:
  code: HNI-2026
  title: Đánh giá chỉ số chuyển đổi số năm 2026
  year: 2026
  deadline: 2026-11-20
  grace_working_days: 5
units:
  - {code: SNV, name: Sở Nội vụ, group: department, emails: [snv@hanoi.gov.vn]}
"""
DOC = ["--doc-number", "45/2026/QH15", "--doc-date", "2026-06-20", "--doc-issuer", "Quốc hội"]
CITE_VI = "45/2026/QH15 ngày 20/06/2026 của Quốc hội"
NOW = "2026-12-02T09:00:00+07:00"
#: Grace: Mon 23/11, (Tue 24/11 off, unconfirmed), 25, 26, 27, Mon 30/11 -> ends 24:00 on 30/11.
GRACE_END = "2026-12-01T00:00:00+07:00"
#: If 24/11 is a working day: 23, 24, 25, 26, 27/11 -> ends 24:00 on Friday 27/11.
GRACE_END_IF_WORKING = "2026-11-28T00:00:00+07:00"


def wd(runner, *args):
    return runner.invoke(args=["workdays", *args])


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def grace_end(runner, code: str, now: str = NOW) -> str:
    import json

    result = runner.invoke(args=["campaign", "status", code, "--json", "--now", now])
    assert result.exit_code == 0, result.output
    return next(m["ends_at"] for m in json.loads(result.stdout)["milestones"] if m["kind"] == "grace_end")


def test_confirmed_for_everyone_stays_a_day_off_citing_its_document(runner, make_campaign):
    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    before = next(x for x in wd(runner, "holidays", "2026").stdout.splitlines() if x.startswith("2026-11-24\t"))
    assert "UNCONFIRMED" in before

    result = wd(runner, "confirm-holiday", "2026-11-24", "--scope", "all", *DOC, "--actor", "vanhanh@hanchot.vn",
                "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\t")[1:4] == ["2026-11-24", "confirmed", "*"]

    line = next(x for x in wd(runner, "holidays", "2026").stdout.splitlines() if x.startswith("2026-11-24\t"))
    assert "UNCONFIRMED" not in line and f"(theo {CITE_VI})" in line and "Văn hóa Việt Nam" in line
    assert wd(runner, "is-working", "2026-11-24").stdout.splitlines() == [
        "no", f"Ngày Văn hóa Việt Nam (theo {CITE_VI})"]
    assert wd(runner, "is-working", "2026-11-24", "--lang", "en").stdout.splitlines()[1].endswith(
        "(per 45/2026/QH15 of 20/06/2026 (Quốc hội))")
    explain = wd(runner, "add", "2026-11-20", "3", "--explain").stdout
    assert "CHƯA XÁC NHẬN" not in explain and CITE_VI in explain
    # Nothing moves: it was a day off and stays one.
    assert grace_end(runner, CODE) == GRACE_END
    (event,) = audit("calendar.holiday_confirmed")
    assert event.actor == "vanhanh@hanchot.vn" and event.organizer_id is None and CITE_VI in event.to_value

    # Once: a second decision, for everyone or for a province, is refused with the first one named.
    again = wd(runner, "reject-holiday", "2026-11-24", "--scope", "all", *DOC, "--now", NOW)
    assert again.exit_code == 2 and "already decided for everyone" in again.stderr
    province = wd(runner, "reject-holiday", "2026-11-24", "--scope", "TGG", *DOC, "--now", NOW)
    assert province.exit_code == 2 and "already decided for everyone" in province.stderr
    assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 1


def test_rejected_for_a_province_after_grace_end_needs_a_reason_per_campaign(runner, make_campaign):
    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    make_campaign(OTHER, now="2026-10-01T08:00:00+07:00")
    assert runner.invoke(args=["tick", "--now", "2026-12-01T00:05:00+07:00"]).exit_code == 0
    excluded = db.session.scalars(select(Participation).join(Campaign).where(
        Campaign.code == CODE, Participation.status == "excluded")).all()
    assert {p.unit.code for p in excluded} == {"STC", "SYT"}

    # Rejecting 24/11 moves TGG-2026's passed grace end to 27/11: refused, naming the move; nothing changes.
    result = wd(runner, "reject-holiday", "2026-11-24", "--scope", "TGG", *DOC, "--now", NOW)
    assert result.exit_code == 2, result.output
    assert f"affected\t{CODE}\tgrace_end\t{GRACE_END}\t{GRACE_END_IF_WORKING}" in result.stderr
    assert "HNI-2026" not in result.stderr  # another province's campaign is not touched
    assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 0
    assert not audit("calendar.change_after_the_fact") and not audit("calendar.holiday_rejected")
    assert wd(runner, "is-working", "2026-11-24", "--organizer", "TGG").stdout.startswith("no\n")

    reason = "Công văn 99/UBND-VX: tỉnh không nghỉ ngày 24/11/2026; hạn gia hạn tính lại"
    ok = wd(runner, "reject-holiday", "2026-11-24", "--scope", "TGG", *DOC, "--actor", "giamdoc@stttt.tiengiang.gov.vn",
            "--campaign-reason", f"{CODE}={reason}", "--now", NOW)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.split("\t")[1:4] == ["2026-11-24", "rejected", "TGG"]
    assert wd(runner, "is-working", "2026-11-24", "--organizer", "TGG").stdout.splitlines() == [
        "yes", f"Ngày làm việc (không nghỉ “Ngày Văn hóa Việt Nam”) (theo {CITE_VI})"]
    # Only in that scope: everyone else keeps the (still unconfirmed) day off.
    assert "CHƯA XÁC NHẬN" in wd(runner, "is-working", "2026-11-24", "--organizer", "HNI").stdout
    assert grace_end(runner, CODE) == GRACE_END_IF_WORKING
    assert grace_end(runner, "HNI-2026") == GRACE_END
    (event,) = audit("calendar.change_after_the_fact")
    assert (event.actor, event.reason) == ("giamdoc@stttt.tiengiang.gov.vn", reason)
    assert f"grace_end {GRACE_END} -> {GRACE_END_IF_WORKING}" in event.to_value
    (decided,) = audit("calendar.holiday_rejected")
    assert decided.organizer_id == db.session.scalar(select(Organizer.id).where(Organizer.code == "TGG"))
    # An earlier grace end reopens no exclusion.
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Participation).join(Campaign).where(
        Campaign.code == CODE, Participation.status == "excluded")) == 2


def test_only_an_unconfirmed_day_can_be_decided_and_the_document_is_required(runner, make_campaign):
    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    national_day = wd(runner, "confirm-holiday", "2026-09-02", "--scope", "all", *DOC)
    assert national_day.exit_code == 2 and "not an unconfirmed day off" in national_day.stderr
    blank = wd(runner, "confirm-holiday", "2026-11-24", "--scope", "TGG", "--doc-number", " ", "--doc-date",
               "2026-06-20", "--doc-issuer", "Quốc hội")
    assert blank.exit_code == 2 and "number, date and issuer" in blank.stderr
    unknown = wd(runner, "confirm-holiday", "2026-11-24", "--scope", "XYZ", *DOC)
    assert unknown.exit_code == 2 and "no organizer" in unknown.stderr
    assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 0


def test_the_document_file_is_kept_with_the_decision(runner, make_campaign, tmp_path):
    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    pdf = tmp_path / "nghi-quyet-45.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% nghi quyet\n")
    result = wd(runner, "confirm-holiday", "2026-11-24", "--scope", "TGG", *DOC, "--file", str(pdf), "--now", NOW)
    assert result.exit_code == 0, result.output
    row = db.session.scalar(select(HolidayDecision))
    assert row.original_name == "nghi-quyet-45.pdf" and len(row.sha256) == 64 and row.stored_name
    # The orphan cleaner keeps it (it is referenced).
    from workflow.db import utcnow
    from workflow.operations import ORPHAN_MIN_AGE, clean_orphan_files

    folder = runner.app.config["UPLOAD_FOLDER"]
    summary = clean_orphan_files(folder, utcnow() + ORPHAN_MIN_AGE * 2, delete=False)
    assert summary["unreferenced"] == 0


def test_the_calendar_page_confirms_for_the_province(app, make_campaign, make_user):
    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    make_user("viewer@tgg.example", "viewer", "TGG")
    client = app.test_client()
    login(client, "viewer@tgg.example")
    page = client.get("/calendar/2026").get_data(as_text=True)
    assert 'id="unconfirmed"' in page and "24/11/2026" in page and 'name="decision"' not in page
    form = {"day": "24/11/2026", "decision": "confirmed", "doc_number": "45/2026/QH15", "doc_date": "20/06/2026",
            "doc_issuer": "Quốc hội"}
    assert client.post("/calendar/holidays/decide", data=form).status_code == 403
    client = app.test_client()
    login(client, "admin@tgg.example")
    page = client.get("/calendar/2026").get_data(as_text=True)
    assert 'name="decision"' in page
    missing = client.post("/calendar/holidays/decide", data={**form, "doc_issuer": ""}, follow_redirects=True)
    assert missing.status_code == 200 and "cơ quan ban hành" in missing.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 0
    done = client.post("/calendar/holidays/decide", data=form, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Đã xác nhận" in text
    assert CITE_VI in text and 'data-day="2026-11-24" data-reason="holiday"' in text
    cell = text.split('data-day="2026-11-24"')[0].rsplit("<td", 1)[1]
    assert "CHƯA XÁC NHẬN" not in cell
    row = db.session.scalar(select(HolidayDecision))
    assert (row.decision, row.day, row.decided_by) == ("confirmed", date(2026, 11, 24), "admin@tgg.example")
    assert row.organizer_id == db.session.scalar(select(Organizer.id).where(Organizer.code == "TGG"))
    again = client.post("/calendar/holidays/decide", data=form, follow_redirects=True)
    assert "đã được quyết định" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 1


def test_the_calendar_page_rejection_after_grace_end_asks_a_reason_per_campaign(app, make_campaign, make_user):
    import time_machine

    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    client = app.test_client()
    form = {"day": "2026-11-24", "decision": "rejected", "doc_number": "99/UBND-VX", "doc_date": "2026-11-10",
            "doc_issuer": "UBND tỉnh Tiền Giang"}
    with time_machine.travel(NOW, tick=False):
        login(client, "admin@tgg.example")
        asked = client.post("/calendar/holidays/decide", data=form)
        page = asked.get_data(as_text=True)
        assert asked.status_code == 409 and 'data-campaign="TGG-2026"' in page
        assert f'name="campaign_reason-{CODE}"' in page and 'value="99/UBND-VX"' in page
        assert db.session.scalar(select(func.count()).select_from(HolidayDecision)) == 0
        reason = "Tỉnh đi làm ngày 24/11/2026 (Công văn 99/UBND-VX); hết gia hạn sớm hơn một ngày"
        done = client.post("/calendar/holidays/decide", data={**form, f"campaign_reason-{CODE}": reason},
                           follow_redirects=True)
        assert done.status_code == 200 and "là ngày làm việc" in done.get_data(as_text=True)
    (event,) = audit("calendar.change_after_the_fact")
    assert (event.actor, event.reason) == ("admin@tgg.example", reason)
    row = db.session.scalar(select(HolidayDecision))
    assert (row.decision, row.doc_issuer) == ("rejected", "UBND tỉnh Tiền Giang")


def test_the_dashboard_warns_when_the_campaigns_dates_depend_on_an_unconfirmed_day(app, make_campaign, make_user,
                                                                                   runner):
    import time_machine

    make_campaign(CAMPAIGN_2026, now="2026-10-01T08:00:00+07:00")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    client = app.test_client()
    with time_machine.travel("2026-11-16T09:00:00+07:00", tick=False):
        login(client, "admin@tgg.example")
        page = client.get(f"/campaigns/{CODE}").get_data(as_text=True)
        (warning,) = page.split('class="alert alert-warning unconfirmed-day"')[1:]
        warning = warning.split("</div>")[0]
        assert 'data-day="2026-11-24"' in warning and "24/11/2026" in warning and "Ngày Văn hóa Việt Nam" in warning
        assert "Hết thời gian gia hạn: Thứ Hai 30/11/2026 → Thứ Sáu 27/11/2026" in warning
        assert "Nhắc hạn trong gia hạn" in warning  # the grace reminders move too
        english = client.get(f"/campaigns/{CODE}?lang=en").get_data(as_text=True)
        assert "Grace period ends: Monday 30/11/2026 → Friday 27/11/2026" in english
        client.get(f"/campaigns/{CODE}?lang=vi")
    # Once decided (here confirmed), the dates no longer rest on an unconfirmed day: no warning.
    assert wd(runner, "confirm-holiday", "2026-11-24", "--scope", "TGG", *DOC, "--now", NOW).exit_code == 0
    with time_machine.travel("2026-11-16T09:05:00+07:00", tick=False):
        page = client.get(f"/campaigns/{CODE}").get_data(as_text=True)
        assert "unconfirmed-day" not in page


def test_no_warning_for_a_campaign_far_from_any_unconfirmed_day(app, two_provinces):
    import time_machine

    client = app.test_client()
    with time_machine.travel("2019-10-20T09:00:00+07:00", tick=False):
        login(client, "admin@tgg.example")
        page = client.get("/campaigns/TGG-2019").get_data(as_text=True)
    assert page.count("<h1") >= 1 and "unconfirmed-day" not in page


def test_a_date_given_by_the_layer_above_is_compared_too(app, make_campaign):
    """``extra`` (the reminder days, from notifications.rules) is worked out with both calendars."""
    from workflow.calendar_dependence import unconfirmed_dependence
    from workflow.campaigns import calendar_of
    from workflow.periods import LOCAL_TZ, working_days_from

    campaign = make_campaign(CAMPAIGN_2026.replace("grace_working_days: 5", "grace_working_days: 0"),
                             now="2026-10-01T08:00:00+07:00")
    cal = calendar_of(campaign)
    assert unconfirmed_dependence(campaign, cal, LOCAL_TZ) == []  # no grace: nothing counted across 24/11
    # A period sent Monday 23/11/2026 for 3 working days ends Friday 27/11 (24/11 off), Thursday 26/11 if worked.
    (found,) = unconfirmed_dependence(campaign, cal, LOCAL_TZ, extra=lambda c: {
        "r": ("Hạn xác nhận", "Confirmation", working_days_from(date(2026, 11, 23), 3, c, LOCAL_TZ).last_day)})
    assert found.day == date(2026, 11, 24)
    assert [(m.now, m.if_working) for m in found.moves] == [(date(2026, 11, 27), date(2026, 11, 26))]
