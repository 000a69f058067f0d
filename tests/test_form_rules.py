"""The campaign form's reminder rules and score settings (issues 15 and 13): edited in the form, checked by the
campaign file's own parser and checks, previewed with the dates and recipients the tick would use, saved
through ``operations.edit_campaign`` and audited as sentences; reminders already sent are never sent twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import time_machine
from sqlalchemy import func, select

from notifications.models import OutboxMail
from notifications.queue import plan_campaign_reminders
from tests.conftest import local
from tests.test_web_setup import NEW_CAMPAIGN, audit, campaign, form_values, signed_in, text
from tests.test_web_setup import pending_folder as pending_folder  # noqa: F401  (the fixtures)
from tests.test_web_setup import world as world  # noqa: F401
from workflow.audit import describe
from workflow.campaign_files import CampaignFileError, parse
from workflow.db import db


def edit_values(client) -> dict[str, str]:
    page = client.get("/campaigns/TGG-2019/edit")
    assert page.status_code == 200
    return form_values(text(page))


def reminder_rows(**status) -> int:
    query = select(func.count()).select_from(OutboxMail).where(OutboxMail.kind.in_(("reminder", "escalation")))
    if status:
        query = query.where(OutboxMail.status == status["status"])
    return db.session.scalar(query)


def test_the_form_shows_the_rules_and_the_planned_reminders_with_dates_and_recipients(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = edit_values(client)
        assert [values[f"before_deadline-{i}"] for i in range(6)] == ["10", "5", "3", "1", "", ""]
        assert values["on_deadline_day"] == values["grace_days"] == values["escalate"] == values["digest"] == "y"
        assert (values["milestone_lead_days"], values["office_start"], values["office_end"]) == ("2", "07:30",
                                                                                                "17:00")
        assert values["corrections"] == "keep_on_time"
        assert (values["score_maximum"], values["score_bonus"]) == ("100", "5")
        page = text(client.get("/campaigns/TGG-2019/edit"))
        plan = page[page.index('id="reminder-plan"'):]
        # Deadline Friday 25/10/2019: 10 working days before is Friday 11/10, 1 before Thursday 24/10.
        assert "Thứ Sáu 11/10/2019" in plan and "10 ngày làm việc trước hạn nộp" in plan
        assert "6 đơn vị chưa nộp: 6 địa chỉ đầu mối" in plan
        # The escalated day: the two communes' districts get a copy (no unit has a head's address here).
        assert "Thứ Năm 24/10/2019" in plan
        assert "bản sao cho thủ trưởng đơn vị và đầu mối cấp huyện: 2 địa chỉ" in plan
        # Grace: five working days from Monday 28/10; the preliminary review (31/10) reminded 2 working days before.
        assert "Thứ Sáu 01/11/2019" in plan and "Trong thời gian gia hạn: còn 1 ngày làm việc" in plan
        assert "2 ngày làm việc trước mốc “Hoàn thành thẩm định sơ bộ”" in plan
        assert "Cơ quan tổ chức và Hội đồng thẩm định: 1 địa chỉ" in plan
        assert "thidua@stttt.tiengiang.gov.vn" in plan  # the digest's recipient
        assert "vanthu.stc@tiengiang.gov.vn" in plan and "vanthu.mytho@tiengiang.gov.vn" in plan


def test_preview_uses_the_rules_as_typed_and_saves_nothing(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = edit_values(client)
        typed = dict(values, **{"before_deadline-0": "7", "before_deadline-1": "", "before_deadline-2": "",
                                "before_deadline-3": "", "preview_reminders": "1"})
        del typed["grace_days"]
        response = client.post("/campaigns/TGG-2019/edit", data=typed)
        assert response.status_code == 200
        page = text(response)
        plan = page[page.index('id="reminder-plan"'):]
        assert "chưa lưu" in plan
        # 7 working days before Friday 25/10 is Wednesday 16/10; nothing 10, 5, 3 or 1 day before; no grace days.
        assert "Thứ Tư 16/10/2019" in plan and "7 ngày làm việc trước hạn nộp" in plan
        assert "10 ngày làm việc trước hạn nộp" not in plan and "Trong thời gian gia hạn" not in plan
        assert form_values(page)["before_deadline-0"] == "7"  # what was typed is kept
        assert campaign("TGG-2019").reminder_rules is None
        assert audit("reminders.changed") == []


def test_a_bad_rule_gets_a_vietnamese_message_next_to_it_and_nothing_is_lost(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = edit_values(client)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, **{"before_deadline-4": "61"},
                                                                      title="Tên mới"))
        assert response.status_code == 422
        page = text(response)
        assert "Mỗi lần nhắc trước hạn là một số ngày làm việc từ 1 đến 60." in page
        assert page.index("Mỗi lần nhắc trước hạn") > page.index('id="before-deadline"')  # next to the list
        assert form_values(page)["before_deadline-4"] == "61" and form_values(page)["title"] == "Tên mới"

        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, office_start="18:00"))
        assert response.status_code == 422
        assert "Giờ bắt đầu gửi thư phải trước giờ kết thúc." in text(response)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, office_end="25:00"))
        assert "“07:30-25:00”" not in text(response) and "không phải giờ trong ngày" in text(response)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, milestone_lead_days="31"))
        assert response.status_code == 422
        assert "từ 0 đến 30" in text(response)
        response = client.post("/campaigns/TGG-2019/edit?lang=en", data=dict(values, milestone_lead_days="31"))
        assert "milestone_lead_days must be a whole number between 0 and 30" in text(response)
        c = campaign("TGG-2019")
        assert c.reminder_rules is None and c.title != "Tên mới"
        assert audit("reminders.changed") == []


def test_saved_rules_are_audited_as_a_sentence_and_sent_reminders_are_never_sent_twice(client, world):
    friday = local(2019, 10, 11, 9, 0)  # 10 working days before the deadline
    with time_machine.travel(friday, tick=False):
        c = campaign("TGG-2019")
        assert plan_campaign_reminders(c, friday) == 7  # six focal points and the organizer's digest
        assert reminder_rows() == 6
        db.session.commit()
        db.session.execute(OutboxMail.__table__.update().where(OutboxMail.recipient.like("vanthu.%"))
                           .values(status="sent"))
        db.session.commit()
        assert (reminder_rows(status="sent"), reminder_rows(status="pending")) == (4, 2)

        signed_in(client, world, "admin")
        values = edit_values(client)
        # Today's reminder stays planned (10 kept), 5 becomes 2, the sending hours start at 08:00.
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, **{"before_deadline-1": "2"},
                                                                      office_start="08:00"))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert c.reminder_rules["before_deadline"] == [10, 3, 2, 1]
        assert c.reminder_rules["office_hours"] == "08:00-17:00"
        [event] = audit("reminders.changed", c.id)
        assert event.actor == "admin@tgg.example"
        assert describe(event, "vi") == ("Thay đổi quy tắc nhắc hạn: nhắc trước hạn từ 10, 5, 3, 1 ngày làm việc "
                                         "thành 10, 3, 2, 1 ngày làm việc; giờ gửi thư từ 07:30-17:00 thành "
                                         "08:00-17:00.")
        assert describe(event, "en").startswith("Reminder rules changed: reminders before the deadline from 10, 5, "
                                                "3, 1 working days to 10, 3, 2, 1 working days")
        assert "Thay đổi quy tắc nhắc hạn: nhắc trước hạn" in text(client.get("/campaigns/TGG-2019/audit"))
        # Planned again the same day: nothing new, what was sent stays sent, what waits still waits.
        plan_campaign_reminders(c, friday)
        db.session.commit()
        assert (reminder_rows(status="sent"), reminder_rows(status="pending"), reminder_rows()) == (4, 2, 6)

        # Today's reminder removed from the rules: the two still waiting are dropped, the sent ones stay.
        values = edit_values(client)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, **{"before_deadline-0": ""}))
        assert response.status_code == 302
        assert (reminder_rows(status="sent"), reminder_rows(status="dropped"), reminder_rows()) == (4, 2, 6)
        plan_campaign_reminders(campaign("TGG-2019"), friday)
        db.session.commit()
        assert (reminder_rows(status="sent"), reminder_rows(status="dropped"), reminder_rows()) == (4, 2, 6)
        assert len(audit("reminders.changed")) == 2


def test_unchanged_rules_and_a_post_without_them_change_nothing(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = edit_values(client)
        response = client.post("/campaigns/TGG-2019/edit", data=values)
        assert response.status_code == 302
        assert campaign("TGG-2019").reminder_rules is None and audit("reminders.changed") == []
        assert audit("scoring.changed") == []
        # A client that knows nothing of these fields (an older page) leaves them as they are.
        old = {k: v for k, v in values.items() if not k.startswith(("before_deadline", "office_", "score_",
                                                                   "corrections", "milestone_lead"))}
        response = client.post("/campaigns/TGG-2019/edit", data=dict(old, title="Tên mới"))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert c.title == "Tên mới" and c.reminder_rules is None
        assert (c.score_maximum, c.score_bonus, c.correction_keeps_on_time) == (100, 5, True)


def test_score_settings_checked_like_the_campaign_file_audited_and_shown(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = edit_values(client)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, score_maximum="100",
                                                                      score_bonus="950,5"))
        assert response.status_code == 422
        page = text(response)
        assert "Điểm tối đa (100) cộng điểm thưởng (950.5) không được vượt quá 1000." in page
        assert form_values(page)["score_bonus"] == "950,5"
        # The campaign file says the same thing through the same check.
        try:
            parse("organizer: {code: X, name: X}\ncampaign: {code: X-1, title: T, year: 2019, deadline: 2019-10-25,"
                  " grace_working_days: 0, scoring: {maximum: 100, bonus: 950.5}}\nunits: [{code: A, name: A, "
                  "group: department}]", "x.yaml")
        except CampaignFileError as exc:
            assert "maximum + bonus must not exceed 1000" in str(exc)
        else:
            raise AssertionError("the file import accepted 1050.5 points")
        for bad in ("1e309", "-1", "12,345"):
            response = client.post("/campaigns/TGG-2019/edit", data=dict(values, score_maximum=bad))
            assert response.status_code == 422, bad
            assert "Số điểm phải từ 0 đến 1000, tối đa hai chữ số thập phân." in text(response)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, score_maximum=""))
        assert response.status_code == 422 and "Vui lòng nhập điểm tối đa" in text(response)
        assert audit("scoring.changed") == []

        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, score_maximum="90", score_bonus="10",
                                                                      corrections="reclassify"))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert (c.score_maximum, c.score_bonus, c.correction_keeps_on_time) == (Decimal(90), Decimal(10), False)
        [event] = audit("scoring.changed", c.id)
        assert describe(event, "vi") == (
            "Thay đổi cách chấm điểm: điểm tối đa từ 100 thành 90; điểm thưởng từ 5 thành 10; hồ sơ đúng hạn sửa "
            "trong thời gian gia hạn: từ “giữ đúng hạn” thành “xếp lại theo lần sửa”.")
        dashboard = text(client.get("/campaigns/TGG-2019"))
        assert "điểm tối đa 90, điểm thưởng tối đa 10" in dashboard
        assert "hồ sơ đúng hạn sửa trong thời gian gia hạn được xếp lại theo lần sửa" in dashboard
        assert "maximum 90, bonus at most 10" in text(client.get("/campaigns/TGG-2019?lang=en"))
        values = edit_values(client)
        assert (values["score_maximum"], values["score_bonus"], values["corrections"]) == ("90", "10", "reclassify")


def test_a_new_campaign_takes_its_rules_and_score_settings_from_the_form(client, world):
    signed_in(client, world, "admin")
    defaults = form_values(text(client.get("/campaigns/new")))
    assert [defaults[f"before_deadline-{i}"] for i in range(4)] == ["10", "5", "3", "1"]
    assert (defaults["score_maximum"], defaults["score_bonus"], defaults["corrections"]) == ("100", "0",
                                                                                             "keep_on_time")
    response = client.post("/campaigns/new", data=dict(defaults, **NEW_CAMPAIGN))
    assert response.status_code == 302
    c = campaign("TGG-2020")
    assert c.reminder_rules is None  # the defaults: nothing of its own in its file
    assert (c.score_maximum, c.score_bonus, c.correction_keeps_on_time) == (100, 0, True)

    data = dict(defaults, **NEW_CAMPAIGN)
    data.update(code="TGG-2020B", score_bonus="5", corrections="reclassify", office_end="16:30", digest="")
    data.pop("digest")
    data["before_deadline-0"], data["before_deadline-1"] = "", "8"
    response = client.post("/campaigns/new", data=data)
    assert response.status_code == 302, text(response)
    c = campaign("TGG-2020B")
    assert c.reminder_rules["before_deadline"] == [8, 3, 1]
    assert c.reminder_rules["digest"] is False and c.reminder_rules["office_hours"] == "07:30-16:30"
    assert (c.score_bonus, c.correction_keeps_on_time) == (5, False)
    assert c.deadline == date(2020, 10, 25)

    response = client.post("/campaigns/new", data=dict(data, **{"code": "TGG-2020C", "before_deadline-2": "0"}))
    assert response.status_code == 422
    assert "Mỗi lần nhắc trước hạn là một số ngày làm việc từ 1 đến 60." in text(response)
    assert campaign("TGG-2020C") is None


def test_the_cli_sets_the_rules_through_the_same_operation(runner, world):
    refused = runner.invoke(args=["reminders", "set", "TGG-2019", '{"before_deadline": [0]}'])
    assert refused.exit_code == 2 and "between 1 and 60" in refused.output
    assert audit("reminders.changed") == []
    done = runner.invoke(args=["reminders", "set", "TGG-2019", '{"digest": false}', "--actor", "thidua"])
    assert done.exit_code == 0, done.output
    [event] = audit("reminders.changed")
    assert event.actor == "thidua"
    assert describe(event, "vi") == "Thay đổi quy tắc nhắc hạn: bản tin hằng ngày cho cơ quan tổ chức từ có thành không."
    assert campaign("TGG-2019").reminder_rules["digest"] is False
    again = runner.invoke(args=["reminders", "set", "TGG-2019", '{"digest": false}'])
    assert again.exit_code == 0 and len(audit("reminders.changed")) == 1  # unchanged: nothing recorded


def test_a_change_of_the_rules_never_drops_an_organizers_remind_now(client, world, app):
    """The organizer's "remind now" (bulk action) is not planned by the rules: editing the rules afterwards
    must not drop it before it goes out."""
    friday = local(2019, 10, 11, 9, 0)
    with time_machine.travel(friday, tick=False):
        r = app.test_cli_runner().invoke(args=["campaign", "remind", "TGG-2019", "--status", "not_submitted",
                                               "--reason", "Đề nghị nộp sớm", "--now", friday.isoformat()])
        assert r.exit_code == 0, r.output
        urgent = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.kind == "organizer_reminder", OutboxMail.status == "pending"))
        assert urgent > 0
        signed_in(client, world, "admin")
        values = edit_values(client)
        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, **{"before_deadline-0": ""}))
        assert response.status_code == 302
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.kind == "organizer_reminder", OutboxMail.status == "pending")) == urgent
