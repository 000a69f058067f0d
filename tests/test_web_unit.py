"""The unit's page: status, countdown, upload of real files, receipt, refusals, ICS, download."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import local, login
from web.ics import AllDayEvent, calendar_bytes
from workflow import operations as ops
from workflow.db import db
from workflow.models import AuditEvent, Participation, Submission, SubmissionDocument, Unit

PAGE = "/campaigns/TGG-2019/units/STC"
UPLOAD = PAGE + "/upload"


def sign_in(client, email: str):
    """Sign in through the real form (conftest.login)."""
    return login(client, email)


def pdf_bytes(text: str = "Bao cao") -> bytes:
    """A minimal, real PDF."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
            + f"% {text}\n".encode() + b"trailer<</Root 1 0 R>>\n%%EOF\n")


def docx_bytes() -> bytes:
    """A minimal, real DOCX: the content types and the main document part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?>'
                   '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/word/document.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml",
                   '<?xml version="1.0" encoding="UTF-8"?>'
                   '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                   '<w:body><w:p><w:r><w:t>Bảng điểm tự chấm</w:t></w:r></w:p></w:body></w:document>')
    return buffer.getvalue()


def post_files(client, files, url=UPLOAD):
    return client.post(url, data={"documents": [(io.BytesIO(data), name) for name, data in files]},
                       content_type="multipart/form-data")


def stored_files(app) -> list[str]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def stc(two_provinces) -> Participation:
    return next(p for p in two_provinces["tgg"].participations if p.unit.code == "STC")


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- the page ----------------------------------------------------------------------

def test_focal_point_sees_status_countdown_and_dates(client, two_provinces):
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):  # Monday
        sign_in(client, "stc@tgg.example")
        response = client.get(PAGE)
    html = text_of(response)
    Path("/tmp/unit_page_before.html").write_text(html, encoding="utf-8")
    assert response.status_code == 200
    assert "Sở Tài chính" in html
    assert "Chưa nộp hồ sơ" in html
    assert "Còn 5 ngày làm việc đến hạn chót" in html
    assert "tính cả hôm nay" in html
    assert "Thứ Sáu 25/10/2019" in html  # the deadline with its weekday
    assert "Thứ Sáu 01/11/2019" in html  # the grace end
    assert "<details>" in html and "hạn chót, hết ngày lúc 24:00" in html
    assert 'class="progress-bar' in html
    assert 'enctype="multipart/form-data"' in html and "multiple" in html
    assert "calendar.ics?token=" in html
    # CSP: no inline styles or scripts.
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "Sở Y tế" not in html


def test_countdown_in_grace_warns_of_exclusion(client, two_provinces):
    with time_machine.travel(local(2019, 10, 28, 8, 0), tick=False):  # Monday after the deadline
        sign_in(client, "stc@tgg.example")
        html = text_of(client.get(PAGE))
    assert "còn 5 ngày làm việc trước khi bị loại khỏi đánh giá" in html
    assert "bg-danger" in html


def test_upload_pdf_and_docx_gives_a_receipt_with_sha256(app, client, two_provinces):
    pdf, docx = pdf_bytes(), docx_bytes()
    with time_machine.travel(local(2019, 10, 24, 10, 42, 5), tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, [("Báo cáo CNTT 2019.pdf", pdf), ("Bảng điểm tự chấm.docx", docx)])
        assert response.status_code == 303
        html = text_of(client.get(response.headers["Location"]))
    Path("/tmp/unit_page_receipt.html").write_text(html, encoding="utf-8")
    assert "Đã nộp đúng hạn lúc 10:42, Thứ Năm 24/10/2019" in html
    assert hashlib.sha256(pdf).hexdigest() in html
    assert hashlib.sha256(docx).hexdigest() in html
    assert "TGG-2019/STC/1" in html
    assert "Báo cáo CNTT 2019.pdf" in html and "Nộp trực tuyến" in html
    assert "10:42:05, Thứ Năm 24/10/2019" in html
    assert len(stored_files(app)) == 2
    p = stc(two_provinces)
    db.session.refresh(p)
    assert p.status == "on_time"
    assert [d.sha256 for d in p.submissions[0].documents] == [hashlib.sha256(pdf).hexdigest(),
                                                              hashlib.sha256(docx).hexdigest()]
    assert p.submissions[0].recorded_by == "stc@tgg.example"


def test_printable_receipt_holds_number_instant_channel_files_and_hashes(client, two_provinces):
    pdf, docx = pdf_bytes(), docx_bytes()
    with time_machine.travel(local(2019, 10, 24, 10, 42, 5), tick=False):
        sign_in(client, "stc@tgg.example")
        post_files(client, [("Báo cáo CNTT 2019.pdf", pdf), ("Bảng điểm tự chấm.docx", docx)])
        page = text_of(client.get(PAGE))
        assert PAGE + "/receipt" in page  # linked from the agency page
        html = text_of(client.get(PAGE + "/receipt"))
        assert client.get(PAGE + "/receipt?v=7").status_code == 404
        assert client.get("/campaigns/TGG-2019/units/SYT/receipt").status_code in (403, 404)  # not its own
    assert "Giấy biên nhận hồ sơ" in html and "TGG-2019/STC/1" in html
    assert "10:42:05, Thứ Năm 24/10/2019" in html and "Nộp trực tuyến" in html
    assert "Báo cáo CNTT 2019.pdf" in html and "Bảng điểm tự chấm.docx" in html
    assert hashlib.sha256(pdf).hexdigest() in html and hashlib.sha256(docx).hexdigest() in html
    assert "data-print" in html and "onclick" not in html  # the print button works under the CSP


def test_download_own_document_returns_the_same_bytes(client, two_provinces):
    pdf = pdf_bytes("tải về")
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        post_files(client, [("Báo cáo.pdf", pdf)])
        doc = db.session.scalar(select(SubmissionDocument))
        with client.get(f"{PAGE}/documents/{doc.id}") as response:
            assert response.status_code == 200
            assert response.data == pdf
            assert response.mimetype == "application/pdf"
            assert "attachment" in response.headers["Content-Disposition"]
            assert "B%C3%A1o%20c%C3%A1o.pdf" in response.headers["Content-Disposition"]


def test_replacement_dossier_keeps_history(client, two_provinces):
    with time_machine.travel(local(2019, 10, 23, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        post_files(client, [("v1.pdf", pdf_bytes("v1"))])
    with time_machine.travel(local(2019, 10, 28, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        post_files(client, [("v2.pdf", pdf_bytes("v2"))])
        html = text_of(client.get(PAGE))
    # Issue 13: the correction of an on-time dossier keeps its on-time standing; both instants are shown.
    assert "Đã nộp đúng hạn lúc 09:00, Thứ Tư 23/10/2019; đã bổ sung, sửa đổi lúc 09:00, Thứ Hai 28/10/2019" in html
    assert "Các phiên bản hồ sơ" in html
    assert "TGG-2019/STC/1" in html and "TGG-2019/STC/2" in html
    assert "v1.pdf" in html and "v2.pdf" in html


@pytest.mark.parametrize("instant, status, sentence", [
    (local(2019, 10, 25, 23, 59, 59), "on_time", "Đã nộp đúng hạn lúc 23:59, Thứ Sáu 25/10/2019"),
    (local(2019, 10, 26, 0, 0, 0), "late", "Đã nộp trễ 1 ngày làm việc lúc 00:00, Thứ Bảy 26/10/2019"),
])
def test_the_deadline_ends_at_midnight(client, two_provinces, instant, status, sentence):
    with time_machine.travel(instant, tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, [("Báo cáo.pdf", pdf_bytes())])
        assert response.status_code == 303
        html = text_of(client.get(PAGE))
    p = stc(two_provinces)
    db.session.refresh(p)
    assert p.status == status
    assert sentence in html


@pytest.mark.parametrize("files, message", [
    ([("Báo cáo.pdf", docx_bytes())], "không phải là tệp PDF thật"),
    ([("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00")], "không đúng định dạng"),
    ([("../../x.pdf", pdf_bytes())], "Tên tệp không hợp lệ"),
    ([("Báo cáo.pdf", pdf_bytes()), ("virus.exe", b"MZ\x90\x00")], "không đúng định dạng"),
    ([("Bảng điểm.docx", b"PK\x03\x04 not really a zip")], "không phải là tệp DOCX thật"),
])
def test_refused_files_store_and_record_nothing(app, client, two_provinces, files, message):
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, files)
    html = text_of(response)
    assert response.status_code == 422
    assert message in html
    assert "Không có tệp nào được lưu" in html
    assert stored_files(app) == []
    assert count(Submission) == 0
    assert count(SubmissionDocument) == 0
    p = stc(two_provinces)
    db.session.refresh(p)
    assert p.status == "not_submitted"


def test_no_file_chosen(app, client, two_provinces):
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        response = client.post(UPLOAD, data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Vui lòng chọn ít nhất một tệp" in text_of(response)
    assert count(Submission) == 0


def test_disk_full_records_nothing_and_removes_what_was_written(app, client, two_provinces, monkeypatch):
    import workflow.storage as storage

    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, [("a.pdf", pdf_bytes("a")), ("b.pdf", pdf_bytes("b"))])
    assert response.status_code == 422
    assert "hết dung lượng" in text_of(response)
    assert stored_files(app) == []
    assert count(Submission) == 0


def test_too_large_gets_a_vietnamese_message(app, client, two_provinces):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, [("lớn.pdf", pdf_bytes("x" * 5000))])
    html = text_of(response)
    assert response.status_code == 413
    assert "Tệp quá lớn" in html and "Không có tệp nào được lưu" in html
    assert "Sở Tài chính" in html  # shown on the unit's page
    assert stored_files(app) == []
    assert count(Submission) == 0


def test_after_grace_end_a_silent_unit_is_excluded_and_refused(app, client, two_provinces):
    with time_machine.travel(local(2019, 11, 2, 0, 0, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        page = text_of(client.get(PAGE))
        response = post_files(client, [("Báo cáo.pdf", pdf_bytes())])
    assert "Bị loại khỏi đánh giá" in page
    assert 'id="upload-form"' not in page
    assert response.status_code == 409
    assert "đã bị loại khỏi đánh giá" in text_of(response)
    assert stored_files(app) == [] and count(Submission) == 0


def test_after_grace_end_no_replacement(app, client, two_provinces):
    campaign = two_provinces["tgg"]
    unit = stc(two_provinces).unit
    ops.record_submission(campaign, unit, received_at=local(2019, 10, 24, 9, 0), channel="email",
                          doc_number="123/STC", recorded_by="admin@tgg.example", now=local(2019, 10, 24, 9, 0))
    db.session.commit()
    with time_machine.travel(local(2019, 11, 4, 8, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        response = post_files(client, [("Báo cáo.pdf", pdf_bytes())])
    assert response.status_code == 409
    assert "Đã hết thời gian nhận hồ sơ" in text_of(response)
    assert stored_files(app) == [] and count(Submission) == 1


def test_excluded_then_reinstated_shows_the_reason(client, two_provinces):
    campaign = two_provinces["tgg"]
    unit = stc(two_provinces).unit
    ops.run_tick(local(2019, 11, 2, 0, 5))
    db.session.commit()
    db.session.expire_all()  # the tick's set-based UPDATE bypasses the loaded objects
    ops.reinstate(campaign, unit, reason="Công văn 45/STC ngày 04/11/2019: lỗi hệ thống thư điện tử",
                  actor="admin@tgg.example", now=local(2019, 11, 4, 9, 0))
    db.session.commit()
    with time_machine.travel(local(2019, 11, 4, 10, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        html = text_of(client.get(PAGE))
    assert "được cơ quan tổ chức khôi phục" in html
    assert "lỗi hệ thống thư điện tử" in html
    assert 'id="upload-form"' in html  # reinstated: may send


def test_confirm_figures(client, two_provinces):
    campaign = two_provinces["tgg"]
    unit = stc(two_provinces).unit
    ops.record_submission(campaign, unit, received_at=local(2019, 10, 24, 9, 0), channel="email",
                          doc_number="123/STC", recorded_by="admin@tgg.example", now=local(2019, 10, 24, 9, 0))
    ops.request_confirmation(campaign, unit, actor="admin@tgg.example", now=local(2019, 11, 5, 9, 0))
    db.session.commit()
    with time_machine.travel(local(2019, 11, 5, 10, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        html = text_of(client.get(PAGE))
        assert "Xác nhận số liệu" in html
        response = client.post(PAGE + "/confirm")
        assert response.status_code == 303
        after = text_of(client.get(PAGE))
    p = stc(two_provinces)
    db.session.refresh(p)
    assert p.status == "confirmed"
    assert "Đã xác nhận số liệu" in after
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "figures.confirmed")).actor == \
        "stc@tgg.example"


def test_organizer_side(app, client, two_provinces):
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "council@tgg.example")
        html = text_of(client.get(PAGE))
        assert "Chưa nộp" in html and 'id="upload-form"' not in html
        assert post_files(client, [("a.pdf", pdf_bytes())]).status_code == 403
        client.post("/logout")
        sign_in(client, "admin@tgg.example")
        assert 'id="upload-form"' in text_of(client.get(PAGE))
        assert post_files(client, [("a.pdf", pdf_bytes())]).status_code == 303
    assert db.session.scalar(select(Submission)).recorded_by == "admin@tgg.example"


def test_coordinator_sees_its_commune_but_may_not_upload(client, two_provinces):
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        sign_in(client, "mytho@tgg.example")
        assert client.get("/campaigns/TGG-2019/units/MYTHO-P1").status_code == 200
        response = post_files(client, [("a.pdf", pdf_bytes())], url="/campaigns/TGG-2019/units/MYTHO-P1/upload")
    assert response.status_code == 403


# -- the calendar feed ---------------------------------------------------------------

def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_ics_feed_opens_without_cookies_and_is_well_formed(app, client, two_provinces):
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        html = text_of(client.get(PAGE))
    url = re.search(r'value="(http://[^"]+calendar\.ics\?token=[^"]+)"', html).group(1)
    response = app.test_client().get(url.replace("&amp;", "&"))  # no cookies
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # a calendar client gets no session
    assert response.mimetype == "text/calendar"
    raw = response.data
    text = raw.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 5  # deadline, grace end, 3 milestones
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(set(uids)) == 5
    assert sum(line.startswith("DTSTAMP:") for line in lines) == 5
    assert "DTSTART;VALUE=DATE:20191025" in lines and "DTEND;VALUE=DATE:20191026" in lines
    assert "DTSTART;VALUE=DATE:20191101" in lines  # grace end
    assert "BEGIN:VALARM" in lines and "END:VALARM" in lines
    summary = next(line for line in lines if line.startswith("SUMMARY:Hạn chót"))
    assert "\\," in summary  # escaped comma
    assert "DTSTART;VALUE=DATE:20191101" in lines and "DTEND;VALUE=DATE:20191116" in lines  # inspection


def test_moving_a_milestone_raises_its_ics_sequence_and_changes_its_date(app, client, two_provinces):
    """Outlook and Google update an event only when its SEQUENCE grows: a moved inspection does."""
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        url = re.search(r'value="(http://[^"]+calendar\.ics\?token=[^"]+)"',
                        text_of(client.get(PAGE))).group(1).replace("&amp;", "&")

    def events(at):
        with time_machine.travel(at, tick=False):
            raw = app.test_client().get(url).data
        return {str(e["UID"]).split("-")[2].split("@")[0]: e for e in Calendar.from_ical(raw).walk("VEVENT")}

    before = events(local(2019, 10, 22, 9, 0))
    again = events(local(2019, 10, 23, 9, 0))
    assert again["field_inspection"]["DTSTAMP"].dt == before["field_inspection"]["DTSTAMP"].dt  # stable across fetches
    assert before["field_inspection"]["DTSTART"].dt == date(2019, 11, 1)
    campaign = two_provinces["tgg"]
    with time_machine.travel(local(2019, 10, 24, 10, 0), tick=False):
        ops.move_milestone(campaign, "field_inspection", start=date(2019, 11, 4), end=date(2019, 11, 18),
                           reason="Lịch đoàn kiểm tra thay đổi", actor="admin@tgg.example", now=local(2019, 10, 24, 10, 0))
        db.session.commit()
    after = events(local(2019, 10, 25, 9, 0))
    assert after["field_inspection"]["SEQUENCE"] > before["field_inspection"]["SEQUENCE"]
    assert after["field_inspection"]["DTSTART"].dt == date(2019, 11, 4)
    assert after["field_inspection"]["DTEND"].dt == date(2019, 11, 19)
    assert after["field_inspection"]["LAST-MODIFIED"].dt > before["field_inspection"]["LAST-MODIFIED"].dt
    assert after["deadline"]["SEQUENCE"] == before["deadline"]["SEQUENCE"]  # the others did not move
    with time_machine.travel(local(2019, 10, 24, 11, 0), tick=False):
        ops.move_milestone(campaign, "deadline", end=date(2019, 10, 28), reason="Gia hạn do bão",
                           actor="admin@tgg.example", now=local(2019, 10, 24, 11, 0))
        db.session.commit()
    moved = events(local(2019, 10, 25, 9, 0))
    assert moved["deadline"]["SEQUENCE"] > after["deadline"]["SEQUENCE"]
    assert moved["grace_end"]["SEQUENCE"] > after["grace_end"]["SEQUENCE"]  # the grace end follows the deadline
    assert moved["deadline"]["DTSTART"].dt == date(2019, 10, 28)


def test_ics_refuses_a_bad_or_foreign_token(app, client, two_provinces):
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        html = text_of(client.get(PAGE))
    token = re.search(r"calendar\.ics\?token=([^\"&]+)", html).group(1)
    anonymous = app.test_client()
    assert anonymous.get(PAGE + "/calendar.ics").status_code == 404
    assert anonymous.get(PAGE + "/calendar.ics?token=" + token[:-2] + "xx").status_code == 404
    assert anonymous.get("/campaigns/TGG-2019/units/SYT/calendar.ics?token=" + token).status_code == 404


def test_long_vietnamese_lines_are_folded_and_escaped():
    """icalendar folds at 75 octets without splitting a character and escapes commas and semicolons."""
    summary = "Hạn chót nộp hồ sơ đánh giá ứng dụng công nghệ thông tin; đến hết 24:00, " * 3
    raw = calendar_bytes([AllDayEvent("x@y", date(2019, 10, 25), date(2019, 10, 25), summary)],
                         now=local(2019, 1, 1), name="N")
    parts = raw.split(b"\r\n")
    assert all(len(p) <= 75 for p in parts)
    assert all(p.decode("utf-8") is not None for p in parts)  # no character split across lines
    text = raw.decode("utf-8")
    assert "\\;" in text and "\\," in text
    assert "DTSTAMP:20181231T170000Z" in text
    event = Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == summary


def test_unit_not_in_campaign_is_404(client, two_provinces):
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):
        sign_in(client, "admin@tgg.example")
        assert client.get("/campaigns/TGG-2019/units/NOPE").status_code == 404
    assert db.session.scalar(select(Unit).where(Unit.code == "SYT")) is not None


def test_countdown_before_a_deadline_on_a_sunday(client, two_provinces):
    """Bình Thuận 2019: deadline Sunday 15/9; on Saturday no working day is left, yet it is not late."""
    with time_machine.travel(local(2019, 9, 14, 10, 0), tick=False):
        sign_in(client, "admin@btn.example")
        html = text_of(client.get("/campaigns/BTN-2019/units/PHANTHIET"))
    assert "Không còn ngày làm việc nào trước hạn chót" in html
    assert "Chủ Nhật 15/09/2019" in html
    assert "Thứ Sáu 20/09/2019" in html  # grace: Monday 16 to Friday 20


def test_agency_page_shows_the_data_period(client, two_provinces):
    """The period the reported figures cover, beside the launching letter; nothing when undeclared."""
    campaign = two_provinces["tgg"]
    with time_machine.travel(local(2019, 10, 21, 9, 0), tick=False):
        sign_in(client, "stc@tgg.example")
        assert 'id="data-period"' not in client.get(PAGE).get_data(as_text=True)
        campaign.data_period_start, campaign.data_period_end = date(2019, 1, 1), date(2019, 10, 1)
        db.session.commit()
        html = client.get(PAGE).get_data(as_text=True)
        assert re.search(r'id="data-period">Số liệu tính từ ngày 01/01/2019 đến ngày 01/10/2019\.<', html)
        campaign.data_period_start = None
        db.session.commit()
        html = client.get(PAGE).get_data(as_text=True)
        assert 'id="data-period">Số liệu tính đến ngày 01/10/2019.<' in html
