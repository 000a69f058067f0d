"""The organizer's pages: the campaign dashboard, its actions, the audit trail, the outbox, the calendar."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from flask import g
from sqlalchemy import func, insert, select, update

from notifications.models import OutboxMail
from tests.conftest import local, login
from web.timeline_svg import render_timeline_svg
from workflow import operations as ops
from workflow.db import db, utcnow
from workflow.models import AuditEvent, CalendarOverride, Campaign, Participation, Unit
from workflow.periods import LOCAL_TZ
from workflow.timeline import MilestoneDates, compute
from workflow.workdays import national_calendar

DASH = "/campaigns/TGG-2019"
#: Inside the grace period (deadline Friday 25/10/2019, grace ends 24:00 Friday 01/11/2019).
IN_GRACE = local(2019, 10, 29, 10, 0)
#: After grace end: preliminary review; its milestone (31/10) is overdue.
AFTER_GRACE = local(2019, 11, 4, 9, 0)


@pytest.fixture
def client(app):
    """These tests sign in at the real time and then request pages at instants of 2019
    (time_machine); a session cookie signed "in the future" would be refused, so they
    use Flask's plain client, whose requests share the test's application context and
    so its signed-in user.  Access control across requests is tested with the isolated
    client in tests/test_web_access.py and tests/test_auth.py."""
    from flask.testing import FlaskClient

    return FlaskClient(app, app.response_class, use_cookies=True)


def sign_in(client, email: str) -> None:
    """Sign in through the real form.  Requests share the test's application context,
    hence its ``g``, where Flask-Login keeps the signed-in user: that is why requests
    made under time_machine still know the user although the session cookie was
    signed at the real time."""
    g.pop("_login_user", None)
    login(client, email)


def unit(code: str, organizer: str = "TGG") -> Unit:
    return db.session.scalar(select(Unit).join(Unit.organizer).where(Unit.code == code)
                             .where(Unit.organizer.has(code=organizer)))


def participation(campaign: Campaign, code: str) -> Participation:
    return db.session.scalar(select(Participation).where(Participation.campaign_id == campaign.id,
                                                         Participation.unit_id == unit(code).id))


def receive(campaign: Campaign, code: str, when: datetime) -> None:
    ops.record_submission(campaign, unit(code), received_at=when, channel="eoffice", recorded_by="vanthu@stttt",
                          now=when, doc_number=f"{code}-1")
    db.session.commit()


def counters(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-status="(\w+)"[^>]*>\s*<span[^>]*>(\d+)</span>', html)}


def table_units(html: str) -> list[str]:
    return re.findall(r'<tr data-unit="([^"]+)"', html)


def flashes(html: str) -> list[str]:
    import html as html_lib

    return [html_lib.unescape(m) for m in re.findall(r'<div class="alert alert-\w+" role="alert">(.*?)</div>', html,
                                                     re.S)]


def audit_actions(campaign: Campaign) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.campaign_id == campaign.id)
                                   .order_by(AuditEvent.id)))


@pytest.fixture
def tgg(two_provinces):
    """TGG-2019 with STC on time and SYT late (on Monday 28/10, 1 working day)."""
    campaign = two_provinces["tgg"]
    receive(campaign, "STC", local(2019, 10, 24, 15, 30))
    receive(campaign, "SYT", local(2019, 10, 28, 9, 15))
    return two_provinces


# -- the dashboard --------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "council", "viewer"])
def test_dashboard_renders_for_organizer_roles(client, tgg, role):
    sign_in(client, tgg["users"][role].email)
    with time_machine.travel(IN_GRACE, tick=False):
        response = client.get(DASH)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019" in html
    assert "1270/STTTT-CNTT&amp;BCVT" in html
    assert "Quá hạn, đang trong thời gian gia hạn" in html  # the state, derived from the clock
    assert "Thứ Sáu 25/10/2019" in html and "Thứ Sáu 01/11/2019" in html
    assert "<details" in html and "Thứ Hai 28/10/2019: ngày thứ 1" in html  # how the grace end is counted
    c = counters(html)
    assert c["on_time"] == 1 and c["late"] == 1 and c["not_submitted"] == 4 and c["excluded"] == 0
    assert "Nộp đúng hạn" in html and "Nộp trễ (trong thời gian gia hạn)" in html
    assert "Nếu thời hạn gia hạn kết thúc lúc này, các đơn vị sau sẽ bị loại (4)" in html
    assert "<svg" in html and 'data-kind="today"' in html
    assert "Sở Tài chính" in html and "1 ngày làm việc" in html
    assert "15:30 Thứ Năm 24/10/2019" in html  # received instant, local time
    assert "Nhận hồ sơ" in html  # the audit trail
    assert ('id="actions"' in html) == (role == "admin")
    assert "style=" not in html and "<script>" not in html


def test_dashboard_in_english_uses_the_english_names(client, tgg):
    sign_in(client, "viewer@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get(DASH + "?lang=en").get_data(as_text=True)
        svg = client.get(DASH + "/timeline.svg").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Deadline passed, grace period" in html and "Submission deadline" in html
    assert "Friday 25/10/2019" in html and "5 working days counted from Friday 25/10/2019" in html
    assert "Late (within grace)" in html
    assert "Grace period ends (5 working days)" in svg


def test_counters_after_grace_end_count_silent_units_as_excluded(client, tgg):
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        html = client.get(DASH).get_data(as_text=True)
    c = counters(html)
    assert c["excluded"] == 4 and c["on_time"] == 1 and c["late"] == 1
    assert "Thẩm định sơ bộ" in html
    assert "các đơn vị sau sẽ bị loại" not in html  # no preview once grace has ended


def test_filters_and_sorting(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        ops.set_scores(campaign, unit("STC"), actor="t", now=utcnow(),
                       self_score=Decimal("96"))
        ops.set_scores(campaign, unit("SYT"), actor="t", now=utcnow(),
                       self_score=Decimal("101.5"))
        db.session.commit()

        def units(**params):
            response = client.get(DASH, query_string=params)
            assert response.status_code == 200
            return table_units(response.get_data(as_text=True))

        assert units() == ["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1", "STC", "SYT"]
        assert units(dir="desc") == ["SYT", "STC", "MYTHO-P1", "MYTHO", "CAIBE-TT", "CAIBE"]
        assert units(group="district") == ["CAIBE", "MYTHO"]
        assert units(status="late") == ["SYT"]
        assert units(status="excluded") == ["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"]
        assert units(q="tài chính") == ["STC"]
        assert units(q="TAI CHINH") == ["STC"]  # without diacritics, any case
        assert units(q="mytho") == ["MYTHO", "MYTHO-P1"]
        assert units(q="mytho", group="commune") == ["MYTHO-P1"]
        # By name, as Vietnamese readers look them up: "Sở Tài chính" < "Sở Y tế" < "UBND huyện …" < "UBND Phường …".
        assert units(sort="name") == ["STC", "SYT", "CAIBE", "MYTHO-P1", "MYTHO", "CAIBE-TT"]
        assert units(sort="group")[:2] == ["STC", "SYT"]
        assert units(sort="received") == ["STC", "SYT", "CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"]
        assert units(sort="received", dir="desc")[:2] == ["SYT", "STC"]  # units without a dossier stay last
        assert units(sort="late", dir="desc")[0] == "SYT"
        assert units(sort="status")[:2] == ["STC", "SYT"]
        # Rating: SYT is Tốt (101.5), STC Khá (96); unrated units last.
        assert units(sort="rating")[:2] == ["SYT", "STC"]
        assert units(sort="rating", dir="desc")[:2] == ["STC", "SYT"]
        html = client.get(DASH, query_string={"sort": "rating"}).get_data(as_text=True)
        assert "Tốt" in html and "Khá" in html and "hạng 1 trong khối" in html
        # Nonsense parameters are ignored, not an error.
        assert units(sort="nope", page="x", status="nope") == []
        assert client.get(DASH, query_string={"sort": "nope", "page": "-3"}).status_code == 200


def test_reminders_sent_are_counted_per_unit(client, tgg):
    campaign = tgg["tgg"]
    stc, syt = unit("STC"), unit("SYT")
    rows = [("reminder", "sent", stc.id), ("escalation", "sent", stc.id), ("reminder", "pending", stc.id),
            ("reminder", "failed", syt.id), ("receipt", "sent", syt.id)]
    for i, (kind, status, unit_id) in enumerate(rows):
        db.session.add(OutboxMail(key=f"k{i}", campaign_id=campaign.id, unit_id=unit_id, kind=kind, occurrence=str(i),
                                  recipient="vanthu@example.gov.vn", subject=f"Thư {i}", body_text="Nội dung",
                                  message_id=f"<m{i}@test>", status=status,
                                  last_error="550 mailbox unavailable" if status == "failed" else ""))
    db.session.commit()
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get(DASH).get_data(as_text=True)
    row = re.search(r'<tr data-unit="STC">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'<td class="text-end"[^>]*>2</td>', row)
    row = re.search(r'<tr data-unit="SYT">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'<td class="text-end"[^>]*>0</td>', row)
    for sort in ("rating", "reminders", "name"):  # counted for the page's rows in every order
        with time_machine.travel(IN_GRACE, tick=False):
            page = client.get(DASH, query_string={"sort": sort}).get_data(as_text=True)
        row = re.search(r'<tr data-unit="STC">(.*?)</tr>', page, re.S).group(1)
        assert re.search(r'<td class="text-end"[^>]*>2</td>', row), sort
    assert "Thư gửi lỗi" in html and "550 mailbox unavailable" in html


EXAMPLES = [("binh-thuan-2019.yaml", "BTN", "BTN-UDCNTT-2019", local(2019, 9, 18, 9)),
            ("cao-bang-2018.yaml", "CBG", "CBG-UDCNTT-2018", local(2018, 11, 20, 9)),
            ("phu-tho-2016.yaml", "PTO", "PTO-UDCNTT-2016", local(2016, 10, 20, 9)),
            ("tien-giang-2020.yaml", "TGG", None, local(2020, 10, 20, 9))]


@pytest.mark.parametrize("name,organizer,code,when", EXAMPLES)
def test_the_example_campaigns_render(client, make_campaign, make_user, name, organizer, code, when):
    campaign = make_campaign(name, now=when.replace(month=max(when.month - 1, 1)).isoformat())
    make_user(f"admin@{organizer.lower()}.example", "organizer_admin", organizer)
    sign_in(client, f"admin@{organizer.lower()}.example")
    with time_machine.travel(when, tick=False):
        response = client.get(f"/campaigns/{code or campaign.code}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert counters(html)["not_submitted"] == len(campaign.participations)
    if campaign.grace_working_days == 0:
        assert "Không gia hạn" in html  # Cao Bằng, Phú Thọ: late means not evaluated


# -- the timeline drawing -------------------------------------------------------------------

def test_timeline_svg_marks_today_and_overdue_milestones(client, tgg):
    sign_in(client, "council@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        response = client.get(DASH + "/timeline.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    root = ET.fromstring(svg.split("?>", 1)[1])  # well-formed XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:title", ns).text == "Tiến độ đợt đánh giá"
    today = root.find(".//s:g[@data-kind='today']", ns)
    assert today.get("data-day") == "2019-11-04"
    assert today.find("s:line", ns) is not None
    assert "Hôm nay: Thứ Hai 04/11/2019" in today.find("s:title", ns).text
    review = root.find(".//s:g[@data-milestone='preliminary_review']", ns)
    assert review.get("data-overdue") == "true"
    assert review.find("s:path", ns).get("fill") == "#dc3545"
    assert "quá hạn" in review.find("s:title", ns).text
    inspection = root.find(".//s:g[@data-milestone='field_inspection']", ns)
    assert inspection.get("data-overdue") is None and inspection.find("s:rect", ns).get("fill") != "#dc3545"
    assert root.find(".//s:rect[@data-kind='grace']", ns) is not None
    assert root.findall(".//s:rect[@data-kind='day-off']", ns)  # the weekends, at least
    assert "style=" not in svg and "<script" not in svg


def test_timeline_svg_pure_marks_holidays_and_grace():
    """Bình Thuận 2019: deadline Sunday 15/09; National Day 02/09 falls inside the axis."""
    cal = national_calendar()
    tl = compute(date(2019, 9, 15), 5, {"approval": MilestoneDates(None, date(2019, 11, 24))}, cal,
                 state="open", now=datetime(2019, 9, 18, 3, tzinfo=UTC), tz=LOCAL_TZ)
    off = {date(2019, 9, 2): "Quốc khánh", date(2019, 9, 7): "Thứ Bảy"}
    svg = render_timeline_svg(tl, date(2019, 9, 18), off)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    holiday = root.find(".//s:rect[@data-day='2019-09-02']", ns)
    assert holiday is not None and holiday.get("fill") == "#fd7e14"
    assert "Quốc khánh" in holiday.find("s:title", ns).text
    assert root.find(".//s:rect[@data-day='2019-09-07']", ns).get("fill") == "#adb5bd"
    grace = root.find(".//s:rect[@data-kind='grace']", ns)
    assert float(grace.get("width")) > 0
    assert root.find(".//s:g[@data-kind='today']", ns).get("data-day") == "2019-09-18"
    # Today years away: no line, a note instead; the drawing stays readable.
    far = render_timeline_svg(tl, date(2025, 1, 1), set())
    assert 'data-kind="today"' not in far and "nằm ngoài khoảng thời gian" in far
    # Text is escaped.
    assert "<b>" not in render_timeline_svg(tl, date(2019, 9, 18), {date(2019, 9, 3): "<b>x</b>"})


# -- actions ----------------------------------------------------------------------------------

def post(client, action: str, **data):
    """POST an action, then read the flash on the dashboard it redirects to.

    In production every request has a session of its own; here the requests
    share the test's, so what earlier requests loaded is expired first (bulk
    UPDATEs, like the exclusion at grace end, do not refresh loaded objects).
    """
    db.session.expire_all()
    response = client.post(f"{DASH}/actions/{action}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert response.headers["Location"].endswith(DASH + "#actions")
    page = client.get(DASH)
    assert page.status_code == 200
    return flashes(page.get_data(as_text=True))


def test_actions_work_and_are_audited(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        msgs = post(client, "mark_step", step="review_done", reason="")
        assert any("Trạng thái mới: Kiểm tra thực tế" in m for m in msgs), msgs
        db.session.refresh(campaign)
        assert campaign.state == "field_inspection"

        msgs = post(client, "return_dossier", unit="STC", reason="Thiếu bảng điểm tự chấm")
        assert any("Đã trả lại hồ sơ của Sở Tài chính" in m for m in msgs), msgs
        assert participation(campaign, "STC").status == "returned"

        msgs = post(client, "request_confirmation", unit="SYT", reason="Kiểm tra số liệu dịch vụ công")
        assert any("Đã gửi số liệu để Sở Y tế xác nhận" in m for m in msgs)
        assert participation(campaign, "SYT").confirmation_requested_at is not None

        msgs = post(client, "set_scores", unit="SYT", self_score="97,5", verified_score="", reason="")
        assert any("Đã lưu điểm của Sở Y tế" in m for m in msgs), msgs
        assert participation(campaign, "SYT").self_score == Decimal("97.50")

        msgs = post(client, "nominate", unit="MYTHO-P1")
        assert participation(campaign, "MYTHO-P1").nominated

        msgs = post(client, "move_milestone", kind="approval", end="2019-12-06", start="",
                    reason="Công văn 55/UBND-KGVX lùi thời hạn phê duyệt")
        assert any("Đã điều chỉnh “UBND tỉnh phê duyệt” sang Thứ Sáu 06/12/2019" in m for m in msgs), msgs

        msgs = post(client, "cancel", reason="")
        assert "Cần ghi rõ lý do hủy đợt đánh giá." in msgs
        db.session.refresh(campaign)
        assert campaign.state == "field_inspection"

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id,
                                                         AuditEvent.actor == "admin@tgg.example")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["campaign.review_done", "submission.returned",
                                          "figures.sent_for_confirmation", "scores.entered", "unit.nominated",
                                          "milestone.moved"]
    assert events[1].reason == "Thiếu bảng điểm tự chấm"
    assert events[-1].reason == "Công văn 55/UBND-KGVX lùi thời hạn phê duyệt"
    assert all(e.at == AFTER_GRACE for e in events)
    # The audit page shows them, in words.
    html = client.get(DASH + "/audit").get_data(as_text=True)
    assert "Trả lại hồ sơ để chỉnh sửa" in html and "Thiếu bảng điểm tự chấm" in html
    assert "admin@tgg.example" in html and "Hoàn thành thẩm định sơ bộ" in html


def test_both_audit_tables_name_each_entrys_unit(client, tgg):
    """The dashboard's recent entries and the audit page show the unit an entry is about (code, its name on
    hover), "—" for a campaign-wide one; markup in a reason is shown as text."""
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        post(client, "return_dossier", unit="STC", reason="Thiếu <b>bảng điểm</b>")
        post(client, "move_milestone", kind="approval", end="2019-12-06", start="", reason="Công văn 55/UBND-KGVX")
        pages = {url: client.get(url).get_data(as_text=True) for url in (DASH, DASH + "/audit")}

    def row(html: str, action: str) -> str:
        start = html.index(f'<tr data-action="{action}">')
        return html[start:html.index("</tr>", start)]

    for url, html in pages.items():
        returned = row(html, "submission.returned")
        assert '<span class="mono" title="Sở Tài chính">STC</span>' in returned, url
        assert "Thiếu &lt;b&gt;bảng điểm&lt;/b&gt;" in returned and "<b>" not in returned, url
        assert "admin@tgg.example" in returned and "Trả lại hồ sơ để chỉnh sửa" in returned, url
        received = row(html, "submission.received")
        assert 'class="mono"' in received, url  # the setup's dossiers: a unit each
        assert "<td>—</td>" in row(html, "milestone.moved"), url


def test_early_approval_is_refused_naming_the_missing_steps_then_passes_with_a_reason(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    before = audit_actions(campaign)
    with time_machine.travel(AFTER_GRACE, tick=False):
        msgs = post(client, "publish", reason="")
        assert msgs == ["Chưa thể ghi nhận “UBND tỉnh đã phê duyệt kết quả”: còn thiếu bước: hoàn thành thẩm định "
                        "sơ bộ; hoàn thành kiểm tra thực tế; hoàn thành hồ sơ khen thưởng và trình UBND tỉnh. "
                        "Ghi lý do nếu vẫn muốn chuyển."]
        db.session.refresh(campaign)
        assert campaign.state == "open"  # nothing recorded, not even what time did
        assert audit_actions(campaign) == before

        msgs = post(client, "publish", reason="Quyết định 2950/QĐ-UBND phê duyệt kết quả")
        assert any("Đã ghi nhận UBND tỉnh phê duyệt" in m for m in msgs), msgs
        db.session.refresh(campaign)
        assert campaign.state == "approved"
        html = client.get(DASH).get_data(as_text=True)
        assert "Đã phê duyệt, công bố kết quả" in html
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.approval_received"))
    assert event.actor == "admin@tgg.example" and event.to_value == "approved"
    assert event.reason.startswith("Quyết định 2950/QĐ-UBND") and "skipped" in event.reason


def test_reinstate_needs_a_reason(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        msgs = post(client, "reinstate", unit="CAIBE", reason="   ")
        assert msgs == ["Cần ghi rõ lý do khôi phục đơn vị."]
        assert participation(campaign, "CAIBE").reinstated_reason == ""
        assert "unit.reinstated" not in audit_actions(campaign)

        msgs = post(client, "reinstate", unit="CAIBE", reason="Hồ sơ gửi đúng hạn qua bưu điện, số đến 1234")
        assert any("Đã khôi phục UBND huyện Cái Bè" in m for m in msgs), msgs
        p = participation(campaign, "CAIBE")
        assert p.status == "not_submitted" and p.reinstated_reason.startswith("Hồ sơ gửi đúng hạn")
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "unit.reinstated"))
        assert event.actor == "admin@tgg.example" and event.reason.startswith("Hồ sơ gửi đúng hạn")
        # Reinstating a unit that is not excluded is refused in words.
        msgs = post(client, "reinstate", unit="STC", reason="nhầm")
        assert msgs == ["Đơn vị STC không bị loại, không cần khôi phục."]


def test_bad_input_is_refused_in_vietnamese_and_changes_nothing(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    before = audit_actions(campaign)
    with time_machine.travel(AFTER_GRACE, tick=False):
        msgs = post(client, "move_milestone", kind="approval", end="ngày mai", reason="x")
        assert len(msgs) == 1 and "Ngày không hợp lệ" in msgs[0] and "chưa có gì thay đổi" in msgs[0]
        msgs = post(client, "move_milestone", kind="approval", end="2019-12-06", reason="")
        assert msgs == ["Cần ghi rõ lý do điều chỉnh mốc thời gian."]
        msgs = post(client, "move_milestone", kind="nonsense", end="2019-12-06", reason="x")
        assert "Mốc thời gian không hợp lệ" in msgs[0]
        msgs = post(client, "return_dossier", unit="KHONGCO", reason="x")
        assert msgs == ["Không có đơn vị mã “KHONGCO”."]
        msgs = post(client, "return_dossier", unit="PHANTHIET", reason="x")  # Bình Thuận's unit
        assert msgs == ["Không có đơn vị mã “PHANTHIET”."]
        msgs = post(client, "return_dossier", unit="", reason="x")
        assert "Vui lòng nhập mã đơn vị." in msgs[0]
        msgs = post(client, "set_scores", unit="STC", self_score="chín mươi")
        assert "Điểm phải là một số" in msgs[0]
        msgs = post(client, "set_scores", unit="STC", self_score="", verified_score="")
        assert msgs == ["Vui lòng nhập điểm tự chấm hoặc điểm thẩm định."]
        msgs = post(client, "set_scores", unit="STC", self_score="5000")
        assert msgs == ["Điểm phải từ 0 đến 1000."]
        msgs = post(client, "set_scores", unit="CAIBE", self_score="90")
        assert msgs == ["Đơn vị CAIBE không được đánh giá, xếp hạng (Bị loại khỏi đánh giá)."]
        msgs = post(client, "mark_step", step="launch", reason="")
        assert "Bước không hợp lệ" in msgs[0]
        msgs = post(client, "nominate", unit="STC")
        assert msgs == ["Chỉ đơn vị cấp xã (có huyện quản lý) mới được đề cử."]
        assert client.post(DASH + "/actions/drop_tables", data={}).status_code == 404
        assert client.get(DASH + "/actions/cancel").status_code == 405
    db.session.refresh(campaign)
    assert campaign.state == "open" and audit_actions(campaign) == before
    assert participation(campaign, "STC").self_score is None


# -- who may see and do what ----------------------------------------------------------------

def _tgg_ids(tgg):
    campaign = tgg["tgg"]
    mail = OutboxMail(key="k-tgg", campaign_id=campaign.id, unit_id=unit("STC").id, kind="reminder", occurrence="1",
                      recipient="vanthu.stc@tiengiang.gov.vn", subject="Nhắc hạn", body_text="Nội dung",
                      message_id="<k-tgg@test>", status="pending")
    override = CalendarOverride(organizer_id=campaign.organizer_id, day=date(2019, 10, 30), kind="day_off",
                                reason="Bão số 5", document="Công điện 1/CĐ-UBND", created_by="t")
    db.session.add_all([mail, override])
    db.session.commit()
    return mail.id, override.id


READ_ROUTES = [DASH, DASH + "/audit", DASH + "/timeline.svg"]
ACTION_NAMES = ["mark_step", "publish", "cancel", "move_milestone", "return_dossier", "request_confirmation",
                "reinstate", "set_scores", "nominate"]


def test_another_provinces_admin_gets_404_everywhere(client, tgg):
    mail_id, override_id = _tgg_ids(tgg)
    sign_in(client, "admin@btn.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        for url in READ_ROUTES:
            assert client.get(url).status_code == 404, url
        for action in ACTION_NAMES:
            assert client.post(f"{DASH}/actions/{action}", data={"reason": "x", "unit": "STC"}).status_code == 404
        assert client.get(f"/outbox/{mail_id}").status_code == 404
        assert "Nhắc hạn" not in client.get("/outbox").get_data(as_text=True)
        assert client.post(f"/calendar/overrides/{override_id}/remove").status_code == 404
        html = client.get("/calendar/2019").get_data(as_text=True)
        assert "Bão số 5" not in html
        # Its own campaign is fine.
        assert client.get("/campaigns/BTN-2019").status_code == 200
    assert db.session.get(CalendarOverride, override_id) is not None


def test_focal_points_and_coordinators_do_not_see_organizer_pages(client, tgg):
    mail_id, override_id = _tgg_ids(tgg)
    for email in ("stc@tgg.example", "mytho@tgg.example"):
        sign_in(client, email)
        for url in (DASH, DASH + "/audit"):
            assert client.get(url).status_code in (403, 404), (email, url)
        for action in ACTION_NAMES:
            assert client.post(f"{DASH}/actions/{action}", data={"reason": "x"}).status_code in (403, 404)
        assert client.get("/outbox").status_code == 403
        assert client.get(f"/outbox/{mail_id}").status_code == 403
        assert client.post("/calendar/overrides", data={"day": "2019-10-31", "kind": "day_off",
                                                         "reason": "x"}).status_code == 403
        assert client.post(f"/calendar/overrides/{override_id}/remove").status_code == 403
        # The calendar is everyone's to read; without the forms.
        html = client.get("/calendar/2019").get_data(as_text=True)
        assert "Bão số 5" in html and "/calendar/overrides" not in html
    assert client.get("/campaigns/BTN-2019").status_code == 404


@pytest.mark.parametrize("role", ["council", "viewer"])
def test_council_and_viewer_cannot_act(client, tgg, role):
    mail_id, override_id = _tgg_ids(tgg)
    sign_in(client, tgg["users"][role].email)
    before = audit_actions(tgg["tgg"])
    with time_machine.travel(AFTER_GRACE, tick=False):
        for action in ACTION_NAMES:
            data = {"reason": "có lý do", "unit": "CAIBE", "step": "review_done"}
            assert client.post(f"{DASH}/actions/{action}", data=data).status_code == 403, action
        assert client.get(DASH + "/audit").status_code == 200
        assert client.get("/outbox").status_code == 403
        assert client.post("/calendar/overrides", data={"day": "2019-10-31", "kind": "day_off",
                                                         "reason": "x"}).status_code == 403
        assert client.post(f"/calendar/overrides/{override_id}/remove").status_code == 403
    assert audit_actions(tgg["tgg"]) == before


# -- the outbox ----------------------------------------------------------------------------------

def test_outbox_lists_own_mail_by_status_and_shows_one(app, client, tgg):
    campaign, btn = tgg["tgg"], tgg["btn"]
    specs = [("pending", campaign.id, "reminder"), ("sent", campaign.id, "receipt"),
             ("failed", campaign.id, "escalation"), ("dropped", campaign.id, "reminder"),
             ("pending", btn.id, "reminder"), ("pending", None, "signin_link")]
    for i, (status, campaign_id, kind) in enumerate(specs):
        recipient = "council@tgg.example" if kind == "signin_link" else f"vanthu{i}@example.gov.vn"
        db.session.add(OutboxMail(key=f"k{i}", campaign_id=campaign_id, unit_id=None, kind=kind, occurrence=str(i),
                                  recipient=recipient, subject=f"Tiêu đề số {i}",
                                  body_text=f"Kính gửi đơn vị,\n<b>nội dung</b> {i}", message_id=f"<m{i}@t>",
                                  status=status, attempts=3 if status == "failed" else 0,
                                  last_error="550 5.1.1 user unknown" if status == "failed" else ""))
    db.session.add(OutboxMail(key="k-other-user", campaign_id=None, unit_id=None, kind="signin_link", occurrence="x",
                              recipient="admin@btn.example", subject="Tiêu đề BTN", body_text="x",
                              message_id="<mx@t>", status="pending"))
    db.session.commit()
    ids = {m.subject: m.id for m in db.session.scalars(select(OutboxMail))}
    sign_in(client, "admin@tgg.example")
    app.config["MAIL_SERVER"] = ""
    html = client.get("/outbox").get_data(as_text=True)
    assert "Chưa cấu hình máy chủ thư: thư được giữ trong hộp thư đi, chưa gửi." in html
    for i in (0, 1, 2, 3, 5):
        assert f"Tiêu đề số {i}" in html
    assert "Tiêu đề số 4" not in html and "Tiêu đề BTN" not in html

    def listed(status):
        return re.findall(r"Tiêu đề số (\d)", client.get(f"/outbox?status={status}").get_data(as_text=True))

    assert sorted(listed("pending")) == ["0", "5"]
    assert listed("sent") == ["1"] and listed("failed") == ["2"] and listed("dropped") == ["3"]
    assert "Chưa gửi" in html and "Gửi lỗi" in html

    response = client.get(f"/outbox/{ids['Tiêu đề số 2']}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<pre" in page and "Kính gửi đơn vị,\n&lt;b&gt;nội dung&lt;/b&gt; 2" in page
    assert "550 5.1.1 user unknown" in page and "vanthu2@example.gov.vn" in page and "Gửi lỗi" in page
    assert client.get(f"/outbox/{ids['Tiêu đề số 4']}").status_code == 404
    assert client.get(f"/outbox/{ids['Tiêu đề BTN']}").status_code == 404
    assert client.get("/outbox/999999").status_code == 404
    app.config["MAIL_SERVER"] = "smtp.example.gov.vn"
    assert "Chưa cấu hình máy chủ thư" not in client.get("/outbox").get_data(as_text=True)


# -- the calendar ----------------------------------------------------------------------------------

def test_calendar_shows_holidays_makeup_days_and_local_overrides(client, tgg):
    sign_in(client, "viewer@tgg.example")
    with time_machine.travel(local(2019, 10, 29, 9), tick=False):
        response = client.get("/calendar")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Lịch làm việc năm 2019" in html
    assert len(re.findall(r'class="table[^"]*month"', html)) == 12
    assert 'data-day="2019-09-02" data-reason="holiday"' in html and "Quốc khánh" in html
    assert 'data-day="2019-10-26" data-reason="weekend"' in html
    assert "border-primary" in html  # today
    # 2019: Saturday 12/10 was NOT a make-up day; 2020 and 2019 Tết lists come from the package.
    html = client.get("/calendar/2019").get_data(as_text=True)
    assert "Tết" in html
    assert client.get("/calendar/1800").status_code == 404
    assert client.get("/calendar/abc").status_code == 404


def test_admin_adds_and_removes_local_overrides_audited(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    # Decided before the deadline (a change after the fact needs more: the test after this one).
    with time_machine.travel(local(2019, 10, 22, 9), tick=False):
        response = client.post("/calendar/overrides", data={"day": "30/10/2019", "kind": "day_off",
                                                            "reason": "Nghỉ tránh bão số 5",
                                                            "document": "Công điện 1/CĐ-UBND"})
        assert response.status_code == 302 and response.headers["Location"].endswith("/calendar/2019")
        html = client.get("/calendar/2019").get_data(as_text=True)
    assert "Đã thêm ngày nghỉ Thứ Tư 30/10/2019" in html
    assert 'data-day="2019-10-30" data-reason="local_day_off"' in html and "Nghỉ tránh bão số 5" in html
    row = db.session.scalar(select(CalendarOverride).where(CalendarOverride.day == date(2019, 10, 30)))
    assert row.organizer_id == campaign.organizer_id and row.created_by == "admin@tgg.example"
    # The grace end moves with the calendar: 5 working days now end on Monday 04/11.
    with time_machine.travel(IN_GRACE, tick=False):
        assert "Thứ Hai 04/11/2019" in client.get(DASH).get_data(as_text=True)
    # The same day twice, a missing reason, a bad date: refused in words.
    client.post("/calendar/overrides", data={"day": "2019-10-30", "kind": "working_day", "reason": "x"})
    assert "đã có quyết định riêng của tỉnh" in client.get("/calendar/2019").get_data(as_text=True)
    client.post("/calendar/overrides", data={"day": "2019-10-31", "kind": "day_off", "reason": " "})
    assert "Vui lòng ghi rõ lý do." in client.get("/calendar/2019").get_data(as_text=True)
    client.post("/calendar/overrides", data={"day": "31-31-2019", "kind": "day_off", "reason": "x"})
    assert "Ngày không hợp lệ" in client.get("/calendar").get_data(as_text=True)
    client.post("/calendar/overrides", data={"day": "2019-10-31", "kind": "holiday", "reason": "x"})
    assert db.session.scalar(select(func.count()).select_from(CalendarOverride)) == 1

    with time_machine.travel(local(2019, 10, 23, 9), tick=False):
        response = client.post(f"/calendar/overrides/{row.id}/remove", data={"reason": "Bão đã tan"})
        assert response.status_code == 302
        assert "Đã bỏ quyết định riêng cho ngày Thứ Tư 30/10/2019" in client.get("/calendar/2019").get_data(
            as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CalendarOverride)) == 0
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "admin@tgg.example")))
    assert actions == ["calendar.override_added", "calendar.override_removed"]
    assert client.post(f"/calendar/overrides/{row.id}/remove").status_code == 404


def test_a_day_off_inside_an_ended_grace_period_asks_for_a_reason_per_campaign(client, tgg):
    from cli.jobs import tick

    campaign = tgg["tgg"]
    tick(AFTER_GRACE)
    db.session.expire_all()
    excluded = {p.unit.code for p in campaign.participations if p.status == "excluded"}
    assert excluded
    sign_in(client, "admin@tgg.example")
    data = {"day": "2019-10-30", "kind": "day_off", "reason": "Nghỉ tránh bão số 5"}
    with time_machine.travel(AFTER_GRACE, tick=False):
        response = client.post("/calendar/overrides", data=data)
        assert response.status_code == 409
        html = response.get_data(as_text=True)
        assert 'id="calendar-impact"' in html and f'data-campaign="{campaign.code}"' in html
        assert all(code in html for code in excluded)
        assert f'name="campaign_reason-{campaign.code}"' in html
        assert db.session.scalar(select(func.count()).select_from(CalendarOverride)) == 0
        reason = "Công điện 1/CĐ-UBND: nghỉ tránh bão áp dụng cả thời gian gia hạn"
        response = client.post("/calendar/overrides", data=data | {f"campaign_reason-{campaign.code}": reason})
        assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(CalendarOverride)) == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "calendar.change_after_the_fact"))
    assert (event.campaign_id, event.actor, event.reason) == (campaign.id, "admin@tgg.example", reason)


# -- the number of queries does not grow with the units -----------------------------------------

GROUPS = ("department", "vertical", "district", "commune")


def big_campaign_yaml(code: str, n: int) -> str:
    lines = ["organizer: {code: BIG, name: Sở Thông tin và Truyền thông tỉnh Thử Nghiệm}",
             "campaign:", f"  code: {code}", f"  title: Đợt thử {n} đơn vị", "  year: 2019",
             "  deadline: 2019-10-25", "  grace_working_days: 5", "  commune_nomination: true",
             "  milestones:", "    preliminary_review: 2019-10-31",
             "    field_inspection: {start: 2019-11-01, end: 2019-11-15}", "    approval: 2019-12-01",
             "units:"]
    for i in range(n):
        group = GROUPS[i % 4]
        parent = f", parent: U{i - 1:05d}" if group == "commune" else ""
        lines.append(f"  - {{code: U{i:05d}, name: Đơn vị số {i}, group: {group}, "
                     f"emails: [u{i}@thu.gov.vn]{parent}}}")
    return "\n".join(lines) + "\n"


def populate(campaign: Campaign) -> None:
    """Statuses, scores, reminders sent, a failed mail: the dashboard has something of everything."""
    rows = db.session.execute(select(Participation.id, Participation.unit_id)
                              .where(Participation.campaign_id == campaign.id).order_by(Participation.id)).all()
    on_time = [pid for i, (pid, _u) in enumerate(rows) if i % 5 == 0]
    late = [pid for i, (pid, _u) in enumerate(rows) if i % 5 == 1]
    db.session.execute(update(Participation).where(Participation.id.in_(on_time))
                       .values(status="on_time", received_at=local(2019, 10, 24, 10), self_score=Decimal("97")))
    db.session.execute(update(Participation).where(Participation.id.in_(late))
                       .values(status="late", received_at=local(2019, 10, 28, 10), late_working_days=1,
                               self_score=Decimal("101")))
    mails = [{"key": f"{campaign.code}-{i}", "campaign_id": campaign.id, "unit_id": unit_id, "kind": "reminder",
              "occurrence": str(i), "recipient": f"u{i}@thu.gov.vn", "subject": "Nhắc hạn", "body_text": "x",
              "message_id": f"<{campaign.code}-{i}@t>", "status": "failed" if i == 0 else "sent",
              "last_error": "550" if i == 0 else "", "language": "vi", "attempts": 1,
              "next_attempt_at": local(2019, 10, 20), "created_at": local(2019, 10, 20), "body_html": "",
              "claimed_by": ""}
             for i, (_pid, unit_id) in enumerate(rows) if i % 3 == 0]
    db.session.execute(insert(OutboxMail), mails)
    db.session.commit()


def dashboard_statements(client, count_statements, code: str) -> tuple[int, float, list[str]]:
    db.session.expire_all()  # nothing answered from what the test loaded
    with time_machine.travel(IN_GRACE, tick=False):
        started = time.perf_counter()
        with count_statements() as counter:
            response = client.get(f"/campaigns/{code}")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return counter["n"], elapsed, counter["sql"]


def test_dashboard_queries_do_not_grow_with_units(client, make_campaign, make_user, count_statements):
    small = make_campaign(big_campaign_yaml("BIG-50", 50))
    large = make_campaign(big_campaign_yaml("BIG-500", 500))
    populate(small)
    populate(large)
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")
    n_small, t_small, sql_small = dashboard_statements(client, count_statements, "BIG-50")
    n_large, t_large, sql_large = dashboard_statements(client, count_statements, "BIG-500")
    print(f"\ndashboard statements: 50 units {n_small} ({t_small:.3f} s), 500 units {n_large} ({t_large:.3f} s)")
    assert n_small == n_large, "\n".join(sql_large)
    assert n_large <= 20, "\n".join(sql_large)


@pytest.mark.slow
def test_dashboard_of_5000_units(client, make_campaign, make_user, count_statements):
    campaign = make_campaign(big_campaign_yaml("BIG-5000", 5000))
    populate(campaign)
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")
    n, elapsed, _sql = dashboard_statements(client, count_statements, "BIG-5000")
    dialect = db.engine.dialect.name
    print(f"\ndashboard of 5000 units on {dialect}: {n} statements, {elapsed:.2f} s")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get("/campaigns/BIG-5000", query_string={"status": "late", "sort": "rating"}).get_data(
            as_text=True)
    assert "Hiển thị 1000 / 5000 đơn vị." in html


# -- one campaign must never stop the others (issue 13) ---------------------------------

def test_move_milestone_form_refuses_a_date_out_of_range(client, tgg):
    campaign = tgg["tgg"]
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        messages = post(client, "move_milestone", kind="approval", end="9999-12-31", reason="Nhập thử")
    assert any("31/12/9999" in m and "31/12/2100" in m for m in messages), messages
    db.session.expire_all()
    assert all(m.end_date.year < 9999 for m in campaign.milestones)


def test_a_campaign_with_a_stored_date_out_of_range_gets_a_repair_page_and_the_tick_failure_shows(client, tgg):
    from cli.jobs import tick
    from workflow.models import Milestone

    campaign = tgg["tgg"]
    approval = next(m for m in campaign.milestones if m.kind == "approval")
    approval.end_date = date(9999, 12, 31)  # as if written before the check, or by hand
    db.session.commit()
    summary = tick(AFTER_GRACE)
    assert summary["campaigns_failed"] == 1
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE, tick=False):
        page = client.get(DASH)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'id="out-of-range"' in html and "9999-12-31" in html and 'id="tick-failure"' in html
        db.session.expire_all()
        response = client.post(f"{DASH}/actions/move_milestone",
                               data={"kind": "approval", "end": "2019-12-02", "reason": "Sửa ngày nhập sai"})
        assert response.status_code == 302
        db.session.expire_all()
        assert db.session.get(Milestone, approval.id).end_date == date(2019, 12, 2)
        assert "milestone.repaired" in audit_actions(campaign)
        page = client.get(DASH)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'id="out-of-range"' not in html and 'id="campaign-state"' in html


def test_a_district_coordinator_nominates_its_own_leading_commune(client, tgg):
    campaign = tgg["tgg"]
    campaign.commune_nomination = True
    db.session.commit()
    sign_in(client, "mytho@tgg.example")
    page = client.get(f"{DASH}/districts/MYTHO/nomination")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert table_units(html) == ["MYTHO-P1"]
    response = client.post(f"{DASH}/districts/MYTHO/nomination", data={"unit": "MYTHO-P1"})
    assert response.status_code == 303
    db.session.expire_all()
    assert participation(campaign, "MYTHO-P1").nominated
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "unit.nominated"))
    assert event.actor == "mytho@tgg.example"
    # Another district's commune, or another district's page: refused.
    client.post(f"{DASH}/districts/MYTHO/nomination", data={"unit": "CAIBE-TT"})
    db.session.expire_all()
    assert not participation(campaign, "CAIBE-TT").nominated
    assert client.get(f"{DASH}/districts/CAIBE/nomination").status_code == 404
    # The organizer may open any district's page.
    client.post("/logout")
    sign_in(client, "admin@tgg.example")
    assert client.get(f"{DASH}/districts/CAIBE/nomination").status_code == 200


# -- the action forms' suggestions ------------------------------------------------------

def test_action_fields_suggest_the_units_each_action_applies_to(client, tgg):
    """The page carries no option lists; each field asks as the officer types, diacritics and case aside."""
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(local(2019, 10, 29, 10, 0), tick=False):  # in grace: STC on time, SYT late
        page = client.get("/campaigns/TGG-2019").get_data(as_text=True)
        assert '<datalist id="units-return" data-suggest="/campaigns/TGG-2019/suggest/return"></datalist>' in page
        assert "<option" not in page.split('id="actions"')[1].split("</datalist>")[0]
        assert 'id="a-nominate-unit"' in page  # its units have parents

        def codes(name, q=""):
            answer = client.get(f"/campaigns/TGG-2019/suggest/{name}", query_string={"q": q})
            assert answer.status_code == 200 and answer.mimetype == "application/json"
            return [u["code"] for u in answer.get_json()["units"]], answer.get_json()["more"]

        assert codes("return") == (["STC", "SYT"], False)
        assert codes("return", "y TE") == (["SYT"], False)  # "Sở Y tế", without its diacritics
        assert codes("nominate", "cai be") == (["CAIBE-TT"], False)
        assert codes("reinstate") == ([], False)  # nobody is excluded while grace runs
        assert client.get("/campaigns/TGG-2019/suggest/return").get_json()["units"][0] == \
            {"code": "STC", "name": "Sở Tài chính", "folded": "so tai chinh"}
        missing = client.get("/campaigns/TGG-2019/suggest/everyone")
        assert missing.status_code == 404 and "error" in missing.get_json()
    with time_machine.travel(local(2019, 11, 5, 10, 0), tick=False):  # grace has ended: the silent are excluded
        assert codes("reinstate") == (["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"], False)


@pytest.mark.parametrize("role", ["viewer", "focal", "btn_admin"])
def test_suggestions_are_for_those_who_act_on_the_campaign(client, tgg, role):
    sign_in(client, tgg["users"][role].email)
    answer = client.get("/campaigns/TGG-2019/suggest/return")
    assert answer.status_code in (403, 404)
    assert "STC" not in answer.get_data(as_text=True)


def test_suggestions_say_when_more_units_match(client, make_campaign, make_user):
    campaign = make_campaign(big_campaign_yaml("SUG-50", 50))
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")
    with time_machine.travel(local(2019, 11, 5, 10, 0), tick=False):  # grace has ended: all 50 are excluded
        answer = client.get(f"/campaigns/{campaign.code}/suggest/reinstate").get_json()
    assert answer["more"] is True and len(answer["units"]) == 20
    assert [u["code"] for u in answer["units"]] == sorted(u["code"] for u in answer["units"])


def test_unit_names_and_codes_are_escaped_in_the_table(client, tgg):
    """The table's rows are drawn in Python (ROW_HTML): what a unit file says is shown as text, never as HTML."""
    stc = unit("STC")
    stc.name = 'Sở <b>Tài</b> chính & "Kho bạc"'
    db.session.commit()
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(IN_GRACE, tick=False):
        html = client.get(DASH).get_data(as_text=True)
    row = re.search(r'<tr data-unit="STC">(.*?)</tr>', html, re.S).group(1)
    assert "<b>" not in row
    assert ">Sở &lt;b&gt;Tài&lt;/b&gt; chính &amp; &#34;Kho bạc&#34;</a>" in row
    assert 'aria-label="Chọn STC — Sở &lt;b&gt;Tài&lt;/b&gt; chính &amp; &#34;Kho bạc&#34;"' in row
