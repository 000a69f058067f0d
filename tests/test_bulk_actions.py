"""Bulk actions on the dashboard's units table (issue 15): tick units, or take every unit matching the filter
(on every page, resolved by the server), then remind now, export, or return for correction; a confirmation
step with the count and the first names, a reason where the issue asks, audit per unit, a report of what was
done and what was skipped; idempotent on a form sent twice; bounded SQL at 5,000 units."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import time_machine
from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.test_dashboard_sql import big_campaign_yaml, populate
from tests.test_web_dashboard import DASH, IN_GRACE, client, flashes, participation, sign_in, tgg  # noqa: F401
from workflow import operations as ops
from workflow.audit import describe
from workflow.dashboard import UnitSelection
from workflow.db import db
from workflow.models import AuditEvent, Campaign

from .conftest import local

BULK = f"{DASH}/bulk"
CONFIRM = f"{DASH}/bulk/confirm"
BEFORE_DEADLINE = local(2019, 10, 22, 9)


def mails(campaign: Campaign, kind: str) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.campaign_id == campaign.id,
                                                            OutboxMail.kind == kind).order_by(OutboxMail.id)))


def events(campaign: Campaign, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id,
                                                            AuditEvent.action == action).order_by(AuditEvent.id)))


def confirm_form(html: str) -> dict[str, list[str]]:
    """The hidden fields of the confirmation step's form, as the browser would send them."""
    form = re.search(r'<form method="post" action="[^"]*/bulk/confirm" id="bulk-confirm-form">(.*?)</form>', html,
                     re.S).group(1)
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(value)
    data.pop("csrf_token", None)
    return data


def test_dashboard_shows_the_bulk_bar_and_a_box_per_row_to_managers_only(client, tgg):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get(f"{DASH}?status=not_submitted").get_data(as_text=True)
    assert 'id="bulk-form"' in html and 'id="bulk-all"' in html
    boxes = re.findall(r'<input class="form-check-input bulk-unit[^"]*" type="checkbox" name="units" value="([^"]+)" '
                       r'form="bulk-form"', html)
    assert sorted(boxes) == ["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"]  # one box per unit, phones included
    assert "Tất cả 4 đơn vị khớp với bộ lọc hiện tại, trên mọi trang" in html
    assert '<input type="hidden" name="status" value="not_submitted">' in html
    sign_in(client, "viewer@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get(DASH).get_data(as_text=True)
    assert 'id="bulk-form"' not in html and "bulk-unit" not in html
    with time_machine.travel(IN_GRACE, tick=False):
        assert client.post(BULK, data={"action": "remind", "scope": "filter"}).status_code == 403


def test_remind_confirms_with_count_and_names_then_queues_once_with_audit(client, tgg):  # noqa: F811
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        step = client.post(BULK, data={"action": "remind", "scope": "filter"})  # every unit of the campaign
    html = step.get_data(as_text=True)
    assert step.status_code == 200
    assert "Áp dụng cho 4 đơn vị" in html
    names = re.findall(r'<span class="mono">([^<]+)</span> — ', html)
    assert names == ["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"]
    skipped = re.search(r'id="bulk-skipped">(.*?)</ul>', html, re.S).group(1)
    assert "1 đơn vị “Nộp đúng hạn”: bỏ qua (chỉ nhắc đơn vị chưa nộp hồ sơ)." in skipped
    assert "1 đơn vị “Nộp trễ" in skipped
    assert mails(campaign, "organizer_reminder") == [] and events(campaign, "unit.reminded") == []  # nothing yet

    data = confirm_form(html) | {"reason": ["Đề nghị gửi hồ sơ trước 16:00 thứ Sáu."]}
    with time_machine.travel(IN_GRACE, tick=False):
        done = client.post(CONFIRM, data=data, follow_redirects=True)
        again = client.post(CONFIRM, data=data, follow_redirects=True)  # the same form sent twice
    messages = flashes(done.get_data(as_text=True))
    assert any(m.startswith("Đã gửi thư nhắc cho 4 đơn vị") for m in messages), messages
    assert any("1 đơn vị “Nộp đúng hạn”: bỏ qua" in m for m in messages), messages
    assert any("đã được thực hiện (4 đơn vị); không thực hiện lại" in m for m in flashes(again.get_data(as_text=True)))

    queued = mails(campaign, "organizer_reminder")
    recipients = {m.unit_id for m in queued}
    assert len(recipients) == 4 and len(queued) == len({m.key for m in queued})
    sample = queued[0]
    assert "Thư này do Sở Thông tin và Truyền thông tỉnh Tiền Giang (cơ quan tổ chức) gửi trực tiếp" in sample.body_text
    assert "Đề nghị gửi hồ sơ trước 16:00 thứ Sáu." in sample.body_text
    assert "hết gia hạn" in sample.subject  # in grace: the grace end is the date that matters
    assert "/campaigns/TGG-2019/units/" in sample.body_text  # the unit's own page
    reminded = events(campaign, "unit.reminded")
    assert len(reminded) == 4 and {e.reason for e in reminded} == {"Đề nghị gửi hồ sơ trước 16:00 thứ Sáu."}
    assert len(events(campaign, "bulk.reminded")) == 1
    assert describe(reminded[0]) == "Cơ quan tổ chức gửi thư nhắc nộp hồ sơ."
    assert describe(events(campaign, "bulk.reminded")[0]) == \
        "Gửi thư nhắc nộp hồ sơ cho 4 đơn vị (thao tác hàng loạt; bỏ qua 2 đơn vị)."
    with time_machine.travel(IN_GRACE, tick=False):
        audit = client.get(f"{DASH}/audit").get_data(as_text=True)
    assert "Cơ quan tổ chức gửi thư nhắc nộp hồ sơ." in audit and "Đề nghị gửi hồ sơ trước 16:00 thứ Sáu." in audit


def test_remind_needs_a_message_and_an_open_campaign(client, tgg):  # noqa: F811
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.post(BULK, data={"action": "remind", "scope": "filter"}).get_data(as_text=True)
        data = confirm_form(html)
        refused = client.post(CONFIRM, data=data | {"reason": ["   "]}, follow_redirects=True)
    assert any("Cần ghi rõ lý do" in m for m in flashes(refused.get_data(as_text=True)))
    assert mails(campaign, "organizer_reminder") == [] and events(campaign, "unit.reminded") == []
    with time_machine.travel(local(2019, 11, 4, 9), tick=False):  # grace over
        closed = client.post(CONFIRM, data=data | {"reason": ["Nhắc"]}, follow_redirects=True)
    assert any("không còn nhận hồ sơ" in m for m in flashes(closed.get_data(as_text=True)))
    assert mails(campaign, "organizer_reminder") == []


def test_nothing_ticked_says_so(client, tgg):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        response = client.post(BULK, data={"action": "remind", "scope": "selected"}, follow_redirects=True)
    assert any("Chưa chọn đơn vị nào" in m for m in flashes(response.get_data(as_text=True)))


def test_return_for_correction_only_units_with_a_dossier_with_reason_and_audit(client, tgg):  # noqa: F811
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    ticked = {"action": "return", "scope": "selected", "units": ["STC", "SYT", "CAIBE", "NOPE"]}
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.post(BULK, data=ticked).get_data(as_text=True)
    assert "Áp dụng cho 2 đơn vị" in html
    assert "1 đơn vị “Chưa nộp”: bỏ qua (chưa có hồ sơ để trả lại)." in html
    assert "1 mã không phải đơn vị của đợt này: bỏ qua." in html
    data = confirm_form(html)
    assert data["units"] == ["STC", "SYT", "CAIBE", "NOPE"] and data["scope"] == ["selected"]
    with time_machine.travel(IN_GRACE, tick=False):
        done = client.post(CONFIRM, data=data | {"reason": ["Thiếu biểu mẫu số 2."]}, follow_redirects=True)
        client.post(CONFIRM, data=data | {"reason": ["Thiếu biểu mẫu số 2."]})  # sent again: nothing more
    messages = flashes(done.get_data(as_text=True))
    assert any(m.startswith("Đã trả lại hồ sơ của 2 đơn vị để chỉnh sửa") for m in messages), messages
    db.session.expire_all()
    assert participation(campaign, "STC").status == "returned"
    assert participation(campaign, "STC").returned_reason == "Thiếu biểu mẫu số 2."
    assert participation(campaign, "SYT").status == "returned"
    assert participation(campaign, "CAIBE").status == "not_submitted"
    returned = events(campaign, "submission.returned")
    assert sorted((e.from_value, e.to_value) for e in returned) == [("late", "returned"), ("on_time", "returned")]
    assert describe(returned[0]).startswith("Trả lại hồ sơ để chỉnh sửa: từ “Nộp")
    notices = mails(campaign, "returned")
    assert {m.unit_id for m in notices} == {participation(campaign, "STC").unit_id, participation(campaign, "SYT").unit_id}
    assert all("Thiếu biểu mẫu số 2." in m.body_text for m in notices)
    assert len(events(campaign, "bulk.returned")) == 1


def test_export_of_the_ticked_units_in_the_unit_table_format(client, tgg):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    ticked = {"action": "export_csv", "scope": "selected", "units": ["SYT", "STC"]}
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.post(BULK, data=ticked).get_data(as_text=True)
        assert "Áp dụng cho 2 đơn vị" in html and "Tải xuống danh sách 2 đơn vị" in html
        part = client.post(CONFIRM, data=confirm_form(html))
        whole = client.get(f"{DASH}/export.csv")
        xlsx = client.post(CONFIRM, data=confirm_form(html) | {"action": ["export_xlsx"]})
    assert part.status_code == 200 and "attachment" in part.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(part.get_data().decode("utf-8-sig")), delimiter=";"))
    all_rows = list(csv.reader(io.StringIO(whole.get_data().decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == all_rows[0]  # the same columns
    assert [r[0] for r in rows[1:]] == ["STC", "SYT"]
    assert rows[1:] == [r for r in all_rows[1:] if r[0] in ("STC", "SYT")]  # the same rows, ranks included
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    codes = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert "STC" in codes and "SYT" in codes and "CAIBE" not in codes


def test_all_matching_the_filter_takes_every_page_and_the_statements_stay_bounded(
        client, make_campaign, make_user, count_statements):  # noqa: F811
    """5,000 units: "all not submitted" is resolved by the server across its 30 pages; reminding and returning
    them take a fixed number of statements, the same at 5,000 as at 50."""
    statements = {}
    for n in (50, 5000):
        campaign = make_campaign(big_campaign_yaml(f"BIG-{n}", n))
        populate(campaign)  # one in five on time, one in five late, the rest not submitted
        silent = n - 2 * (n // 5)
        db.session.expire_all()
        campaign = db.session.get(Campaign, campaign.id)
        with time_machine.travel(IN_GRACE, tick=False):
            with count_statements() as remind:
                result = ops.remind_units(campaign, UnitSelection(status="not_submitted"), reason="Nhắc",
                                          actor="admin@big", now=IN_GRACE, click=f"remind-{n}-click")
            db.session.commit()
            assert result.done == silent and result.queued == silent and result.skipped == {}
            db.session.expire_all()
            campaign = db.session.get(Campaign, campaign.id)
            with count_statements() as back:
                returned = ops.return_dossiers(campaign, UnitSelection(), reason="Thiếu biểu mẫu", actor="admin@big",
                                               now=IN_GRACE, click=f"return-{n}-click")
            db.session.commit()
        assert returned.done == n - silent and returned.skipped == {"not_submitted": silent}
        statements[n] = (remind["n"], back["n"])
        assert db.session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.campaign_id == campaign.id, OutboxMail.kind == "organizer_reminder")) == silent
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.campaign_id == campaign.id, AuditEvent.action == "unit.reminded")) == silent
    print("statements (remind, return) at 50 and 5000 units:", statements)
    assert statements[50] == statements[5000], statements
    assert max(statements[5000]) <= 12, statements

    # The page shows 100; "all matching the filter" names them all.
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.post("/campaigns/BIG-5000/bulk", data={"action": "export_csv", "scope": "filter",
                                                              "status": "returned"}).get_data(as_text=True)
        assert "Áp dụng cho 2000 đơn vị" in html and "… và 1980 đơn vị khác." in html
        exported = client.post("/campaigns/BIG-5000/bulk/confirm", data=confirm_form(html))
    assert len(exported.get_data().decode("utf-8-sig").strip().splitlines()) == 1 + 2000


def test_cli_remind_calls_the_same_operation(runner, tgg):  # noqa: F811
    campaign = tgg["tgg"]
    args = ["campaign", "remind", "TGG-2019", "--status", "not_submitted", "--reason", "Nhắc lần cuối",
            "--request-id", "cli-run-000001", "--now", "2019-10-29T10:00:00+07:00"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("TGG-2019\treminded\t4\t")
    again = runner.invoke(args=args)
    assert again.output.strip() == "TGG-2019\talready\t4"
    assert len({m.unit_id for m in mails(campaign, "organizer_reminder")}) == 4
    picked = runner.invoke(args=["campaign", "remind", "TGG-2019", "--units", "STC,CAIBE", "--reason", "Nhắc",
                                 "--now", "2019-10-29T10:00:00+07:00"])
    assert picked.exit_code == 0, picked.output
    assert picked.output.splitlines() == [picked.output.splitlines()[0], "skipped\ton_time\t1"]
    assert "\treminded\t1\t" in picked.output
    no_reason = runner.invoke(args=["campaign", "remind", "TGG-2019", "--reason", " ",
                                    "--now", "2019-10-29T10:00:00+07:00"])
    assert no_reason.exit_code == 1 and "lý do" in no_reason.output
