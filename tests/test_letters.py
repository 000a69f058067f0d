"""Official letters as DOCX (NĐ 30/2020 format) with the campaign's real data; each one opens in
LibreOffice (converted to PDF when `soffice` is installed)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from docx import Document
from sqlalchemy import select

from tests.conftest import import_example, local
from workflow import operations as ops
from workflow.db import db
from workflow.models import Campaign, Unit

CODE = "TGG-UDCNTT-2019"
HEAD = ["--number", "1270/STTTT-CNTT&BCVT", "--date", "2019-10-07", "--title", "Giám đốc", "--signer", "Trần Văn Dũng"]


def text_of(path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return "\n".join(parts)


@pytest.fixture
def campaign(runner):
    import_example(runner, "tien-giang-2019.yaml")
    c = db.session.scalar(select(Campaign).where(Campaign.code == CODE))
    c.score_bonus = 5  # "Tốt: từ 100 điểm trở lên" (seed 002): scores pass 100 with bonus points
    sent = local(2019, 10, 24, 10)
    for code, score in (("SYT", "101"), ("STP", "96.5"), ("CATINH", "102")):
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        ops.record_submission(c, unit, received_at=sent, channel="upload", recorded_by="t", now=sent)
        ops.set_scores(c, unit, actor="t", now=sent, self_score=Decimal(score))
    db.session.commit()
    return c


def letter(runner, tmp_path, kind, now):
    out = tmp_path / f"{kind}.docx"
    r = runner.invoke(args=["campaign", "letter", CODE, kind, *HEAD, "-o", str(out), "--now", now])
    assert r.exit_code == 0, r.output
    return out


def common(text):
    assert "UBND TỈNH TIỀN GIANG" in text and "SỞ THÔNG TIN VÀ TRUYỀN THÔNG" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
    assert "Số: 1270/STTTT-CNTT&BCVT" in text and "Tiền Giang, ngày 07 tháng 10 năm 2019" in text
    assert "\nV/v " in text and "Kính gửi:" in text and "Nơi nhận:" in text
    assert "GIÁM ĐỐC" in text and "Trần Văn Dũng" in text


def test_launching_letter(runner, campaign, tmp_path):
    text = text_of(letter(runner, tmp_path, "launch", "2019-10-07T08:00:00+07:00"))
    common(text)
    assert "đến hết ngày 25/10/2019" in text
    assert "5 ngày làm việc kể từ ngày 25/10/2019, tức đến hết ngày 01/11/2019" in text
    assert "từ ngày 01/01/2019 đến ngày 01/10/2019" in text
    assert "Kiểm tra thực tế: từ ngày 01/11/2019 đến ngày 15/11/2019" in text
    assert "Hạn nộp hồ sơ đề nghị khen thưởng: hoàn thành trước ngày 28/11/2019" in text  # as the seed says it
    assert "Bảng điểm tự chấm của cơ quan" in text and "Kết quả xét thi đua cấp huyện" in text


def test_reminder_letter_lists_units_not_submitted_by_group(runner, campaign, tmp_path):
    text = text_of(letter(runner, tmp_path, "reminder", "2019-10-28T08:00:00+07:00"))
    common(text)
    assert "chưa nhận được hồ sơ của 43 cơ quan, đơn vị" in text
    assert "Các sở, ban, ngành (17):" in text and "Các cơ quan ngành dọc (4):" in text
    assert "Sở Nội vụ" in text and "Sở Y tế" not in text and "Công an tỉnh" not in text


def test_exclusion_notice(runner, campaign, tmp_path):
    runner.invoke(args=["tick", "--now", "2019-11-04T08:00:00+07:00"])
    text = text_of(letter(runner, tmp_path, "exclusion", "2019-11-04T08:00:00+07:00"))
    common(text)
    assert "đã kết thúc vào ngày 01/11/2019" in text and "(43 đơn vị)" in text
    assert "UBND thành phố Mỹ Tho" in text and "Sở Y tế" not in text


def test_results_letter_with_the_annexed_table(runner, campaign, tmp_path):
    text = text_of(letter(runner, tmp_path, "results", "2019-11-04T08:00:00+07:00"))
    common(text)
    assert "Phụ lục" in text and "KẾT QUẢ ĐÁNH GIÁ, XẾP HẠNG MỨC ĐỘ ỨNG DỤNG CNTT NĂM 2019" in text
    doc = Document(str(tmp_path / "results.docx"))
    grid = [[c.text for c in row.cells] for t in doc.tables[2:] for row in t.rows]
    assert ["1", "Sở Y tế", "101,00", "Tốt"] in grid and ["2", "Sở Tư pháp", "96,50", "Khá"] in grid
    assert ["1", "Công an tỉnh", "102,00", "Tốt"] in grid


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_every_letter_opens_in_libreoffice(runner, campaign, tmp_path):
    runner.invoke(args=["tick", "--now", "2019-11-04T08:00:00+07:00"])
    files = [letter(runner, tmp_path, k, "2019-11-04T08:00:00+07:00")
             for k in ("launch", "reminder", "exclusion", "results")]
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), *map(str, files)], check=True, capture_output=True, timeout=240)
    for f in files:
        pdf = f.with_suffix(".pdf")
        assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), f"{f.name} did not convert"
        if shutil.which("pdftotext"):
            out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
            assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in out and "Trần Văn Dũng" in out


def test_a_milestone_carries_the_document_that_moved_it_and_a_signed_letter_attached_back(
        runner, campaign, tmp_path, client, make_user):
    import json

    from tests.conftest import login
    r = runner.invoke(args=["campaign", "move", CODE, "field_inspection", "--start", "2019-11-04", "--end",
                            "2019-11-18", "--reason", "Hội đồng dời lịch", "--doc-number", "15/QĐ-HĐTĐ",
                            "--doc-date", "2019-10-30", "--doc-issuer", "Hội đồng thẩm định",
                            "--now", "2019-10-30T09:00:00+07:00"])
    assert r.exit_code == 0, r.output
    signed = letter(runner, tmp_path, "launch", "2019-10-07T08:00:00+07:00")
    r = runner.invoke(args=["campaign", "attach", CODE, "deadline", "--number", "1270/STTTT-CNTT&BCVT", "--date",
                            "2019-10-07", "--issuer", "Sở Thông tin và Truyền thông", "--file", str(signed)])
    assert r.exit_code == 0, r.output
    assert r.output.split("\t")[4].strip() != "-"  # the file's SHA-256
    doc = json.loads(runner.invoke(args=["campaign", "status", CODE, "--json",
                                         "--now", "2019-10-30T10:00:00+07:00"]).output)
    by_kind = {m["kind"]: m for m in doc["milestones"]}
    assert by_kind["field_inspection"]["document"] == {"number": "15/QĐ-HĐTĐ", "date": "2019-10-30",
                                                       "issuer": "Hội đồng thẩm định", "sha256": None}
    assert by_kind["deadline"]["document"]["number"] == "1270/STTTT-CNTT&BCVT"
    assert by_kind["preliminary_review"]["document"] is None
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    login(client, "admin@tgg.example")
    html = client.get(f"/campaigns/{CODE}").get_data(as_text=True)
    assert "Văn bản 15/QĐ-HĐTĐ" in html and "Hội đồng thẩm định" in html
    r = runner.invoke(args=["campaign", "attach", CODE, "deadline", "--number", " "])
    assert r.exit_code == 1 and "Cần số, ký hiệu" in r.output


def test_the_letter_downloads_from_the_web_form(campaign, client, make_user, tmp_path):
    from tests.conftest import login
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    login(client, "admin@tgg.example")
    assert f"/campaigns/{CODE}/letters" in client.get(f"/campaigns/{CODE}").get_data(as_text=True)
    r = client.post(f"/campaigns/{CODE}/letters", data={"kind": "launch", "number": "1270/STTTT-CNTT&BCVT",
                                                        "day": "2019-10-07", "title": "Giám đốc",
                                                        "signer": "Trần Văn Dũng"})
    assert r.status_code == 200 and r.mimetype.endswith("wordprocessingml.document")
    assert "TGG-UDCNTT-2019-launch-2019-10-07.docx" in r.headers["Content-Disposition"]
    out = tmp_path / "web.docx"
    out.write_bytes(r.data)
    common(text_of(out))
    r = client.post(f"/campaigns/{CODE}/letters", data={"kind": "launch", "day": "07/10", "title": "x", "signer": "y"})
    assert r.status_code == 422 and "Ngày văn bản không hợp lệ" in r.get_data(as_text=True)
