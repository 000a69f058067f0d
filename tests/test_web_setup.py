"""Campaign set-up pages through the web client: create, edit, import units, export results."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import local, login
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Participation, Unit


@pytest.fixture
def pending_folder(app, tmp_path) -> Path:
    folder = tmp_path / "unit-imports"
    app.config["UNIT_IMPORT_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def world(two_provinces, pending_folder):
    return two_provinces


def signed_in(client, world, who: str):
    login(client, world["users"][who].email)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


class _Fields(HTMLParser):
    """The values a browser would send for the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.values, self._textarea = form_id, False, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "name" not in a:
            return
        if tag == "input" and a.get("type") not in ("checkbox", "radio", "submit", "file"):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "input" and "checked" in a:
            self.values[a["name"]] = a.get("value") or "y"
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            if self._textarea:
                value = self.values[self._textarea]  # a browser drops one leading newline
                self.values[self._textarea] = value[2:] if value.startswith("\r\n") else value.removeprefix("\n")
            self._textarea = None
        if tag == "form":
            self.inside = False


def form_values(html: str, form_id: str = "campaign-form") -> dict[str, str]:
    parser = _Fields(form_id)
    parser.feed(html)
    return parser.values


def audit(action: str, campaign_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if campaign_id is not None:
        query = query.where(AuditEvent.campaign_id == campaign_id)
    return db.session.scalars(query).all()


def campaign(code: str) -> Campaign:
    db.session.expire_all()
    return db.session.scalar(select(Campaign).where(Campaign.code == code))


NEW_CAMPAIGN = {
    "code": "TGG-2020", "title": "Đánh giá, xếp hạng mức độ ứng dụng CNTT năm 2020", "year": "2020",
    "document_number": "35/KH-UBND", "document_date": "2020-03-02", "data_period_start": "2020-01-01",
    "data_period_end": "2020-10-01", "deadline": "2020-10-25", "grace_working_days": "5",
    "preliminary_review": "2020-11-06", "field_inspection_start": "2020-11-09", "field_inspection_end": "2020-11-20",
    "award_notice": "", "award_dossiers": "", "approval": "2020-12-01", "publication": "",
    "tiers-0-name": "Tốt", "tiers-0-min": "100", "tiers-1-name": "Khá", "tiers-1-min": "95",
    "tiers-2-name": "Trung bình", "tiers-2-min": "90", "tiers-3-name": "Yếu", "tiers-3-min": "",
    "council_emails": "hoidong@tiengiang.gov.vn; thuky.hd@tiengiang.gov.vn", "commune_nomination": "y",
    "state": "open",
}


# -- create ---------------------------------------------------------------------

def test_new_campaign_form_defaults_to_tien_giang_tiers(client, world):
    signed_in(client, world, "admin")
    response = client.get("/campaigns/new")
    assert response.status_code == 200
    values = form_values(text(response))
    assert [values[f"tiers-{i}-name"] for i in range(4)] == ["Tốt", "Khá", "Trung bình", "Yếu"]
    assert [values[f"tiers-{i}-min"] for i in range(4)] == ["100", "95", "90", ""]
    assert values["grace_working_days"] == "5"
    assert 'src="/static/setup.js"' in text(response)
    assert "<script>" not in text(response) and " style=" not in text(response)  # CSP: no inline code


def test_create_campaign_sunday_deadline_is_a_warning_and_grace_end_is_shown(client, world):
    signed_in(client, world, "admin")
    response = client.post("/campaigns/new", data=NEW_CAMPAIGN)
    assert response.status_code == 302 and response.headers["Location"].endswith("/campaigns/TGG-2020/edit")
    page = text(client.get(response.headers["Location"]))
    assert "Đã tạo đợt đánh giá TGG-2020" in page
    # 25/10/2020 is a Sunday: said, and saved anyway.
    assert "Chủ Nhật 25/10/2020 không phải ngày làm việc (Chủ Nhật)" in page
    # Five working days counted from Sunday 25/10: Monday 26 … Friday 30.
    assert "Thứ Sáu 30/10/2020" in page
    assert '<span id="grace-end-text" aria-live="polite">24:00 Thứ Sáu 30/10/2020</span>' in page

    c = campaign("TGG-2020")
    assert c.organizer_id == world["users"]["admin"].organizer_id
    assert (c.deadline, c.grace_working_days, c.state, c.year) == (date(2020, 10, 25), 5, "open", 2020)
    assert (c.document_number, c.document_date) == ("35/KH-UBND", date(2020, 3, 2))
    assert (c.data_period_start, c.data_period_end) == (date(2020, 1, 1), date(2020, 10, 1))
    assert c.commune_nomination is True
    assert c.council_emails == ["hoidong@tiengiang.gov.vn", "thuky.hd@tiengiang.gov.vn"]
    assert [(t["name"], t["min"]) for t in c.tiers] == [("Tốt", 100), ("Khá", 95), ("Trung bình", 90), ("Yếu", None)]
    assert c.tiers[0]["name_en"] == "Good"
    assert {m.kind: (m.start_date, m.end_date) for m in c.milestones} == {
        "preliminary_review": (None, date(2020, 11, 6)),
        "field_inspection": (date(2020, 11, 9), date(2020, 11, 20)),
        "approval": (None, date(2020, 12, 1))}
    created = audit("campaign.created", c.id)
    assert len(created) == 1 and created[0].actor == "admin@tgg.example"
    assert len(audit("campaign.launch", c.id)) == 1
    # The edit page shows what was saved.
    values = form_values(page)
    assert values["deadline"] == "25/10/2020" and values["field_inspection_start"] == "09/11/2020"  # dd/mm/yyyy, not the browser locale


def test_create_errors_are_in_vietnamese_next_to_each_field_and_nothing_is_lost(client, world):
    signed_in(client, world, "admin")
    data = dict(NEW_CAMPAIGN, code="TGG 2020!", deadline="2020-13-45", grace_working_days="-1",
                field_inspection_start="2020-11-20", field_inspection_end="2020-11-09",
                **{"tiers-1-min": "101", "tiers-2-min": "chín mươi"}, council_emails="hoidong@")
    response = client.post("/campaigns/new", data=data)
    assert response.status_code == 422
    page = text(response)
    for message in ("Mã chỉ gồm chữ cái không dấu", "Ngày không hợp lệ; nhập theo dạng ngày/tháng/năm",
                    "Số ngày gia hạn phải từ 0 đến 60.", "Ngày kết thúc trước ngày bắt đầu.",
                    "Nhập một số điểm, ví dụ 95 hoặc 92,5.", "Địa chỉ thư điện tử không hợp lệ: hoidong@."):
        assert message in page, message
    values = form_values(page)
    assert values["title"] == NEW_CAMPAIGN["title"] and values["code"] == "TGG 2020!"
    assert values["deadline"] == "2020-13-45" and values["tiers-2-min"] == "chín mươi"
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 2

    data = dict(NEW_CAMPAIGN, **{"tiers-1-min": "101"})
    page = text(client.post("/campaigns/new", data=data))
    assert "điểm tối thiểu phải giảm dần" in page
    data = dict(NEW_CAMPAIGN, code="TGG-2019")  # taken
    page = text(client.post("/campaigns/new", data=data))
    assert "Mã này đã được dùng" in page
    data = dict(NEW_CAMPAIGN, grace_working_days="0", deadline="")
    page = text(client.post("/campaigns/new", data=data))
    assert "Vui lòng nhập hạn nộp hồ sơ." in page
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 2


def test_grace_zero_is_allowed(client, world):
    signed_in(client, world, "admin")
    data = dict(NEW_CAMPAIGN, code="CBG-LIKE", deadline="2018-11-26", grace_working_days="0", state="draft")
    assert client.post("/campaigns/new", data=data).status_code == 302
    c = campaign("CBG-LIKE")
    assert (c.grace_working_days, c.state) == (0, "draft")


# -- the grace preview ------------------------------------------------------------

def test_grace_preview_json(client, world):
    signed_in(client, world, "admin")
    body = client.get("/campaigns/grace-preview?deadline=2019-10-25&grace=5").get_json()
    assert body["grace_end"] == "2019-11-01" and body["grace_end_text"] == "Thứ Sáu 01/11/2019"
    assert body["deadline_warning"] is None
    assert body["explanation"][0].startswith("5 ngày làm việc kể từ Thứ Sáu 25/10/2019")
    assert len(body["explanation"]) == 1 + 7  # the summary, then 28/10 … 01/11 and the weekend between

    body = client.get("/campaigns/grace-preview?deadline=2019-09-15&grace=5").get_json()
    assert body["grace_end"] == "2019-09-20"
    assert body["deadline_warning"].startswith("Chủ Nhật 15/09/2019 không phải ngày làm việc (Chủ Nhật).")

    body = client.get("/campaigns/grace-preview?deadline=2019-10-25&grace=0").get_json()
    assert body["grace_end"] == "2019-10-25"

    for query, message in (("deadline=25/10/2019&grace=5", "Hạn nộp hồ sơ không hợp lệ"),
                           ("deadline=2019-10-25&grace=abc", "Số ngày gia hạn phải là số nguyên"),
                           ("deadline=2019-10-25&grace=61", "Số ngày gia hạn phải là số nguyên"),
                           ("grace=5", "Hạn nộp hồ sơ không hợp lệ")):
        response = client.get(f"/campaigns/grace-preview?{query}")
        assert response.status_code == 400 and message in response.get_json()["error"], query

    day = client.get("/campaigns/day-status?day=2019-09-02").get_json()
    assert day["working"] is False and day["warning"] == (
        "Thứ Hai 02/09/2019 không phải ngày làm việc (Quốc khánh (theo Bộ luật Lao động 2012, Điều 115)).")
    assert client.get("/campaigns/day-status?day=2019-10-25").get_json()["warning"] is None
    assert client.get("/campaigns/day-status?day=x").status_code == 400


def test_grace_preview_needs_sign_in(client, world):
    response = client.get("/campaigns/grace-preview?deadline=2019-10-25&grace=5")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_grace_preview_honours_the_organizers_own_days_off(client, world):
    from workflow.calendars import add_override

    tgg = world["tgg"].organizer
    add_override(day=date(2019, 10, 28), kind="day_off", reason="Bão số 5", document="QĐ 1/QĐ-UBND",
                 organizer=tgg, actor="test")
    db.session.commit()
    signed_in(client, world, "admin")
    assert client.get("/campaigns/grace-preview?deadline=2019-10-25&grace=5").get_json()["grace_end"] == "2019-11-04"
    client.post("/logout")
    signed_in(client, world, "btn_admin")
    assert client.get("/campaigns/grace-preview?deadline=2019-10-25&grace=5").get_json()["grace_end"] == "2019-11-01"


# -- edit -----------------------------------------------------------------------

def test_edit_deadline_needs_a_reason_and_is_audited(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        page = client.get("/campaigns/TGG-2019/edit")
        assert page.status_code == 200
        values = form_values(text(page))
        assert values["deadline"] == "25/10/2019" and values["preliminary_review"] == "31/10/2019"

        response = client.post("/campaigns/TGG-2019/edit", data=dict(values, deadline="2019-10-28"))
        assert response.status_code == 422
        assert "Cần ghi rõ lý do điều chỉnh mốc thời gian" in text(response)
        assert form_values(text(response))["deadline"] == "2019-10-28"  # what was typed is kept
        assert campaign("TGG-2019").deadline == date(2019, 10, 25)
        assert audit("milestone.moved") == []

        reason = "Công văn 1300/STTTT-CNTT: lùi hạn do bão"
        response = client.post("/campaigns/TGG-2019/edit",
                               data=dict(values, deadline="2019-10-28", field_inspection_end="2019-11-18",
                                         reason=reason))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert c.deadline == date(2019, 10, 28)
        assert {m.kind: m.end_date for m in c.milestones}["field_inspection"] == date(2019, 11, 18)
        moved = audit("milestone.moved", c.id)
        assert [(e.from_value, e.to_value, e.reason, e.actor) for e in moved] == [
            ("deadline 2019-10-25", "deadline 2019-10-28", reason, "admin@tgg.example"),
            ("field_inspection 2019-11-01..2019-11-15", "field_inspection 2019-11-01..2019-11-18", reason,
             "admin@tgg.example")]
        page = text(client.get("/campaigns/TGG-2019/edit"))
        # 28/10 + 5 working days = Monday 04/11.
        assert "Thứ Hai 04/11/2019" in page


def test_edit_plain_fields_without_reason_and_grace_with_reason(client, world):
    with time_machine.travel(local(2019, 10, 10, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = form_values(text(client.get("/campaigns/TGG-2019/edit")))
        response = client.post("/campaigns/TGG-2019/edit",
                               data=dict(values, title="Chuyên đề thi đua ứng dụng CNTT 2019 (sửa)",
                                         data_period_start="2019-01-01", data_period_end="2019-10-01",
                                         **{"tiers-3-name": "Kém"}))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert c.title == "Chuyên đề thi đua ứng dụng CNTT 2019 (sửa)" and c.data_period_end == date(2019, 10, 1)
        assert [t["name"] for t in c.tiers] == ["Tốt", "Khá", "Trung bình", "Kém"]
        assert len(audit("campaign.updated", c.id)) == 1 and audit("milestone.moved", c.id) == []
        assert db.session.scalar(select(func.count()).select_from(Participation)
                                 .where(Participation.campaign_id == c.id)) == 6

        values = form_values(text(client.get("/campaigns/TGG-2019/edit")))
        assert client.post("/campaigns/TGG-2019/edit",
                           data=dict(values, grace_working_days="3")).status_code == 422
        response = client.post("/campaigns/TGG-2019/edit",
                               data=dict(values, grace_working_days="3", approval="", reason="Theo Kế hoạch sửa đổi"))
        assert response.status_code == 302
        c = campaign("TGG-2019")
        assert c.grace_working_days == 3 and "approval" not in {m.kind for m in c.milestones}
        assert [(e.action, e.from_value, e.to_value, e.reason) for e in
                audit("milestone.moved", c.id) + audit("milestone.removed", c.id)] == [
            ("milestone.moved", "grace_working_days 5", "grace_working_days 3", "Theo Kế hoạch sửa đổi"),
            ("milestone.removed", "approval ..2019-12-01", "", "Theo Kế hoạch sửa đổi")]


def test_deadline_cannot_move_after_submissions_closed(client, world):
    with time_machine.travel(local(2019, 11, 20, 9, 0), tick=False):
        signed_in(client, world, "admin")
        values = form_values(text(client.get("/campaigns/TGG-2019/edit")))
        response = client.post("/campaigns/TGG-2019/edit",
                               data=dict(values, deadline="2019-11-29", reason="Muốn nhận thêm hồ sơ"))
        assert response.status_code == 422
        assert "Đã hết thời gian nhận hồ sơ; không thể dời hạn chót." in text(response)
        c = campaign("TGG-2019")
        assert c.deadline == date(2019, 10, 25) and c.state == "open"  # nothing kept, not even the tick's work
        assert audit("milestone.moved") == []


# -- units import ---------------------------------------------------------------

IMPORT_HEADER = ["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Thư điện tử", "Thư lãnh đạo"]


def xlsx_file(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str, code: str = "TGG-2019"):
    return client.post(f"/campaigns/{code}/units/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def unit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Unit))


def test_import_preview_shows_every_bad_row_and_saves_nothing(client, world, pending_folder):
    signed_in(client, world, "admin")
    rows = [IMPORT_HEADER,
            ["SNV", "Sở Nội vụ", "Sở, ban, ngành", "", "snv@tiengiang.gov.vn", ""],
            ["", "Sở Xây dựng", "Sở, ban, ngành", "", "sxd@tiengiang.gov.vn", ""],
            ["SNV", "Sở Nội vụ (lặp)", "Sở, ban, ngành", "", "snv2@tiengiang.gov.vn", ""],
            ["HDND", "Văn phòng HĐND", "Hội đồng", "", "hdnd@tiengiang.gov.vn", ""],
            ["CB-HH", "UBND xã Hòa Hưng", "UBND cấp xã", "KHONGCO", "hh@tiengiang.gov.vn", ""],
            ["SGTVT", "Sở Giao thông vận tải", "department", "", "sgtvt@tiengiang", ""]]
    before = unit_count()
    response = upload(client, xlsx_file(rows), "don-vi.xlsx")
    assert response.status_code == 422
    page = text(response)
    assert "Tệp có 5 lỗi; chưa có gì được lưu." in page
    errors = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
                        page[page.index('id="import-errors"'):])
    assert [(row, column) for row, column, _ in errors] == [
        ("3", "Mã đơn vị"), ("4", "Mã đơn vị"), ("5", "Khối"), ("6", "Đơn vị cấp trên"), ("7", "Thư điện tử")]
    assert errors[1][2] == "Mã “SNV” bị trùng với dòng 2."
    assert "/units/import/confirm" not in page  # no way to confirm a bad file
    assert unit_count() == before
    assert not pending_folder.exists() or list(pending_folder.iterdir()) == []
    # A confirm without a previewed good file saves nothing either.
    response = client.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": "0" * 64})
    assert response.status_code == 302
    assert "Không tìm thấy tệp đang chờ xác nhận" in text(client.get(response.headers["Location"]))
    assert unit_count() == before


def test_import_unreadable_or_wrong_file(client, world):
    signed_in(client, world, "admin")
    response = upload(client, b"PK\x03\x04 broken", "don-vi.xlsx")
    assert response.status_code == 422 and "Không đọc được tệp Excel" in text(response)
    response = upload(client, b"%PDF-1.4", "don-vi.pdf")
    assert response.status_code == 422 and "Chỉ nhận tệp Excel .xlsx, .xls, OpenDocument .ods hoặc .csv." in text(response)
    response = client.post("/campaigns/TGG-2019/units/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Vui lòng chọn tệp danh sách đơn vị." in text(response)


def test_import_good_csv_previews_then_saves_all(client, world, pending_folder):
    signed_in(client, world, "admin")
    rows = [["code", "name", "group", "parent", "emails", "head_email"],
            ["STC", "Sở Tài chính tỉnh Tiền Giang", "Sở, ban, ngành", "", "vanthu.stc@tiengiang.gov.vn", ""],
            ["SYT", "Sở Y tế", "Sở, ban, ngành", "", "vanthu.syt@tiengiang.gov.vn", ""],
            ["SNV", "Sở Nội vụ", "Sở, ban, ngành", "", "snv@tiengiang.gov.vn;tccb@tiengiang.gov.vn",
             "giamdoc.snv@tiengiang.gov.vn"],
            ["CAIBE-HH", "UBND xã Hòa Hưng", "UBND cấp xã", "CAIBE", "hh.caibe@tiengiang.gov.vn", ""],
            ["CATINH", "Công an tỉnh", "Cơ quan ngành dọc", "", "", ""]]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    data = ("\ufeff" + out.getvalue()).encode("utf-8")
    response = upload(client, data, "don-vi.csv")
    assert response.status_code == 200, text(response)[:2000]
    page = text(response)
    found = {code: kind for kind, code in re.findall(r'<tr data-kind="(\w+)">\s*<td>\d+</td><td class="text-nowrap">'
                                                       r'([^<]+)</td>', page)}
    assert found == {"STC": "changed", "SYT": "unchanged", "SNV": "new", "CAIBE-HH": "new", "CATINH": "new"}
    assert "Sở Tài chính tỉnh Tiền Giang" in page and "<del>Sở Tài chính</del>" in page
    assert "Chưa có thư điện tử đầu mối" in page  # CATINH: a warning, not an error
    assert len(list(pending_folder.iterdir())) == 1
    # Nothing saved yet.
    assert db.session.scalar(select(Unit).where(Unit.code == "SNV")) is None
    digest = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', page).group(1)
    # A digest that is not the previewed file's is refused.
    response = client.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": "f" * 64})
    assert response.status_code == 302 and db.session.scalar(select(Unit).where(Unit.code == "SNV")) is None

    response = client.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": digest})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "3 đơn vị mới, 1 đơn vị cập nhật, 1 không đổi" in page
    db.session.expire_all()
    c = campaign("TGG-2019")
    codes = set(db.session.scalars(select(Unit.code).join(Participation, Participation.unit_id == Unit.id)
                                   .where(Participation.campaign_id == c.id)))
    assert codes == {"STC", "SYT", "MYTHO", "MYTHO-P1", "CAIBE", "CAIBE-TT", "SNV", "CAIBE-HH", "CATINH"}
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == c.organizer_id))}
    assert units["STC"].name == "Sở Tài chính tỉnh Tiền Giang"
    assert units["SNV"].emails == ["snv@tiengiang.gov.vn", "tccb@tiengiang.gov.vn"]
    assert units["SNV"].head_email == "giamdoc.snv@tiengiang.gov.vn" and units["SNV"].group == "department"
    assert units["CAIBE-HH"].parent_id == units["CAIBE"].id and units["CAIBE-HH"].group == "commune"
    updated = audit("campaign.updated", c.id)
    assert len(updated) == 1 and updated[0].reason == "import from don-vi.csv"
    assert updated[0].actor == "admin@tgg.example"
    assert list(pending_folder.iterdir()) == []  # the waiting copy is gone
    # The same confirm again finds nothing to save.
    response = client.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": digest})
    assert "Không tìm thấy tệp đang chờ xác nhận" in text(client.get(response.headers["Location"]))
    assert len(audit("campaign.updated", c.id)) == 1


def test_pending_file_is_tied_to_the_session(client, app, world):
    signed_in(client, world, "admin")
    rows = [IMPORT_HEADER, ["SNV", "Sở Nội vụ", "Sở, ban, ngành", "", "snv@tiengiang.gov.vn", ""]]
    page = text(upload(client, xlsx_file(rows), "a.xlsx"))
    digest = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', page).group(1)
    other = app.test_client()
    login(other, "admin@tgg.example")
    response = other.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": digest})
    assert response.status_code == 302
    assert db.session.scalar(select(Unit).where(Unit.code == "SNV")) is None
    # and cancelling discards it
    client.post("/campaigns/TGG-2019/units/import/cancel")
    client.post("/campaigns/TGG-2019/units/import/confirm", data={"digest": digest})
    assert db.session.scalar(select(Unit).where(Unit.code == "SNV")) is None


def test_template_download_reads_back(client, world):
    signed_in(client, world, "admin")
    response = client.get("/campaigns/TGG-2019/units/template.xlsx")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in ws[1]] == IMPORT_HEADER
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["MYTHO-P1"][2:4] == ("UBND cấp xã", "MYTHO")
    # Uploaded back unchanged: everything is "unchanged".
    page = text(upload(client, response.data, "mau.xlsx"))
    assert 'data-kind="changed"' not in page and 'data-kind="new"' not in page
    assert page.count('data-kind="unchanged"') == 6


# -- export ---------------------------------------------------------------------

def _play(world):
    """Two dossiers, one late; grace ends; a reinstatement; scores."""
    from workflow import operations as ops

    c = world["tgg"]
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == c.organizer_id))}
    ops.record_submission(c, units["STC"], received_at=local(2019, 10, 24, 10, 0, 5), channel="upload",
                          recorded_by="stc@tgg.example", now=local(2019, 10, 24, 10, 0, 5))
    ops.record_submission(c, units["SYT"], received_at=local(2019, 10, 28, 9, 30), channel="eoffice",
                          doc_number="2345/SYT-VP", recorded_by="admin@tgg.example", now=local(2019, 10, 28, 10, 0))
    ops.reinstate(c, units["MYTHO-P1"], reason="Hồ sơ gửi qua bưu điện ngày 30/10/2019 (số đến 77)",
                  actor="admin@tgg.example", now=local(2019, 11, 5, 9, 0))
    ops.set_scores(c, units["STC"], actor="council@tgg.example", now=local(2019, 11, 5, 9, 0),
                   self_score=Decimal("99.5"), verified_score=Decimal("98"))
    ops.set_scores(c, units["SYT"], actor="council@tgg.example", now=local(2019, 11, 5, 9, 0),
                   self_score=Decimal("101"))
    db.session.commit()


EXPECTED = {
    "STC": ["STC", "Sở Tài chính", "Sở, ban, ngành", "", "Đã thẩm định", "24/10/2019 10:00:05", "Nộp trực tuyến", "",
            "0", "99.5", "98", "Khá", "2", ""],
    "SYT": ["SYT", "Sở Y tế", "Sở, ban, ngành", "", "Nộp trễ (trong thời gian gia hạn)", "28/10/2019 09:30:00",
            "Phần mềm quản lý văn bản và điều hành", "2345/SYT-VP", "1", "101", "", "Tốt", "1", ""],
    "MYTHO": ["MYTHO", "UBND thành phố Mỹ Tho", "UBND cấp huyện", "", "Bị loại khỏi đánh giá", "", "", "", "", "", "",
              "", "", ""],
    "MYTHO-P1": ["MYTHO-P1", "UBND Phường 1", "UBND cấp xã", "MYTHO", "Chưa nộp", "", "", "", "", "", "", "", "",
                 "Hồ sơ gửi qua bưu điện ngày 30/10/2019 (số đến 77)"],
}
HEADER = ["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Trạng thái", "Thời điểm nhận hồ sơ", "Kênh gửi",
          "Số văn bản đến", "Số ngày làm việc trễ", "Điểm tự chấm", "Điểm thẩm định", "Xếp loại",
          "Thứ hạng trong khối", "Lý do khôi phục"]


def test_export_csv(client, world):
    _play(world)
    signed_in(client, world, "viewer")
    response = client.get("/campaigns/TGG-2019/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and 'filename="TGG-2019-ket-qua.csv"' in response.headers[
        "Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    # Vietnamese page: ';', the list separator of Vietnamese Windows, so Excel splits the columns.
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == HEADER
    by_code = {r[0]: r for r in rows[1:]}
    assert len(by_code) == 6
    for code, expected in EXPECTED.items():
        assert by_code[code] == expected, code
    comma = client.get("/campaigns/TGG-2019/export.csv?sep=,").data.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(comma))) == rows
    with_line = client.get("/campaigns/TGG-2019/export.csv?sep=;&sep_line=1").data.decode("utf-8-sig")
    assert with_line.startswith("sep=;\r\n" + ";".join(HEADER[:2]))
    assert client.get("/campaigns/TGG-2019/export.csv?sep=x").status_code == 400


def test_export_xlsx(client, world):
    _play(world)
    signed_in(client, world, "council")
    response = client.get("/campaigns/TGG-2019/export.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    assert ws.freeze_panes == "A2" and ws.column_dimensions["B"].width > 20
    assert [c.value for c in ws[1]] == HEADER
    by_code = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    stc = by_code["STC"]
    assert stc[:5] == ("STC", "Sở Tài chính", "Sở, ban, ngành", None, "Đã thẩm định")
    assert stc[5] == datetime(2019, 10, 24, 10, 0, 5)
    assert stc[8:13] == (0, 99.5, 98, "Khá", 2)
    assert by_code["SYT"][6:13] == ("Phần mềm quản lý văn bản và điều hành", "2345/SYT-VP", 1, 101, None, "Tốt", 1)
    assert by_code["MYTHO"][4] == "Bị loại khỏi đánh giá" and by_code["MYTHO"][12] is None
    assert by_code["MYTHO-P1"][13] == EXPECTED["MYTHO-P1"][13]


def test_export_queries_do_not_grow_with_units(client, world, make_campaign, count_statements):
    units = "\n".join(f"  - {{code: U{i:03d}, name: Đơn vị {i}, group: department, emails: [u{i}@x.gov.vn]}}"
                      for i in range(40))
    make_campaign(f"""
organizer: {{code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang}}
campaign: {{code: TGG-BIG, title: Lớn, year: 2019, deadline: 2019-10-25, grace_working_days: 5}}
units:
{units}
""")
    signed_in(client, world, "admin")
    counts = {}
    for code in ("TGG-2019", "TGG-BIG"):
        client.get(f"/campaigns/{code}/export.csv")  # warm
        db.session.expunge_all()  # nothing left over from the set-up: both start cold
        with count_statements() as counter:
            assert client.get(f"/campaigns/{code}/export.csv").status_code == 200
        counts[code] = counter["n"]
    assert counts["TGG-2019"] == counts["TGG-BIG"], counts


# -- who may do what ------------------------------------------------------------

WRITE_ROUTES = [("get", "/campaigns/TGG-2019/edit"), ("post", "/campaigns/TGG-2019/edit"),
                ("get", "/campaigns/TGG-2019/units/import"), ("post", "/campaigns/TGG-2019/units/import"),
                ("post", "/campaigns/TGG-2019/units/import/confirm"),
                ("post", "/campaigns/TGG-2019/units/import/cancel"),
                ("get", "/campaigns/TGG-2019/units/template.xlsx")]
READ_ROUTES = [("get", "/campaigns/TGG-2019/export.xlsx"), ("get", "/campaigns/TGG-2019/export.csv")]


def test_other_province_sees_nothing(client, world):
    signed_in(client, world, "btn_admin")
    for method, url in WRITE_ROUTES + READ_ROUTES:
        assert getattr(client, method)(url).status_code == 404, url
    assert client.get("/campaigns/new").status_code == 200  # its own new campaign
    assert client.get("/campaigns/BTN-2019/edit").status_code == 200


@pytest.mark.parametrize("who", ["council", "viewer"])
def test_council_and_viewer_only_read(client, world, who):
    signed_in(client, world, who)
    for method, url in WRITE_ROUTES + [("get", "/campaigns/new"), ("post", "/campaigns/new")]:
        assert getattr(client, method)(url).status_code == 403, url
    for method, url in READ_ROUTES:
        assert getattr(client, method)(url).status_code == 200, url
    assert client.post("/campaigns/new", data=NEW_CAMPAIGN).status_code == 403
    assert campaign("TGG-2020") is None


@pytest.mark.parametrize("who", ["focal", "coordinator"])
def test_units_cannot_export_or_set_up(client, world, who):
    signed_in(client, world, who)
    for method, url in WRITE_ROUTES + READ_ROUTES + [("get", "/campaigns/new")]:
        assert getattr(client, method)(url).status_code == 403, url
    assert client.get("/campaigns/BTN-2019/export.csv").status_code == 404


def test_signed_out_goes_to_login(client, world):
    for method, url in WRITE_ROUTES + READ_ROUTES + [("get", "/campaigns/new")]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
