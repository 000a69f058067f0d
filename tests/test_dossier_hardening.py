"""Issue 13, "Dossiers": what did not hold when the service was attacked and used carelessly.

A unit's own token files documents, not an empty dossier, and cannot claim the organizer's e-office
channel or incoming number; an upload is received when its request began, not when its body had
arrived; killed uploads leave no orphans for long; packed files are bounded before they are read;
file names hide nothing and are refused for their length; the CSV export's type is right; signed-in
pages are not cached; addresses are checked as addresses.  SQLite and, with TEST_DATABASE_URL,
PostgreSQL wherever the database is used.
"""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from datetime import timedelta

import pytest
import time_machine
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from cli.jobs import JOBS, files_job
from tests.conftest import TWO_PROVINCES, local, login
from tests.test_api import UNIT_SUBMISSION, Api, assert_problem, make_token, submissions_of
from tests.test_web_unit import docx_bytes, pdf_bytes
from workflow import operations as ops
from workflow.campaign_files import CampaignFileError, parse
from workflow.db import db, utcnow
from workflow.models import Campaign, Participation, Submission, SubmissionDocument, Unit
from workflow.storage import DocumentRefused, clean_name, store_document
from workflow.unit_files import UnitFileError, read_units

IN_TIME = local(2019, 10, 24, 16, 0)
URL = "/api/v1/campaigns/TGG-2019/units/STC/submissions"


@pytest.fixture
def unit_token(two_provinces):
    return make_token("TGG", "read", "record", unit="STC", name="iOffice Sở Tài chính")


# -- a unit's own dossier ------------------------------------------------------------------------------------------

def test_a_units_token_cannot_replace_its_dossier_with_an_empty_one(client, unit_token):
    api = Api(client)
    with time_machine.travel(IN_TIME, tick=False):
        assert api.post(URL, unit_token, json=UNIT_SUBMISSION).status_code == 201
        assert_problem(api.post(URL, unit_token, json={"documents": []}), 422, "documents")
        assert_problem(api.post(URL, unit_token, json={}), 422, "documents")
        # Documents named by their hash only are not documents sent.
        only_hashes = {"documents": [{"name": "bao-cao.pdf", "sha256": "ab" * 32, "size": 10}]}
        assert_problem(api.post(URL, unit_token, json=only_hashes), 422, "documents")
    assert submissions_of("TGG", "STC") == 1
    sub = db.session.scalar(select(Submission).join(Participation).join(Unit).where(Unit.code == "STC"))
    assert len(sub.documents) == 1 and sub.documents[0].stored_name


@pytest.mark.parametrize("claim, field", [({"channel": "eoffice"}, "channel"), ({"channel": "email"}, "channel"),
                                          ({"doc_number": "2345/VBĐ"}, "doc_number")])
def test_a_units_token_cannot_claim_the_e_office_channel_or_an_incoming_number(client, unit_token, claim, field):
    with time_machine.travel(IN_TIME, tick=False):
        assert_problem(Api(client).post(URL, unit_token, json={**UNIT_SUBMISSION, **claim}), 403, field)
    assert submissions_of("TGG", "STC") == 0


def test_the_organizers_staff_still_record_e_office_dossiers(client, two_provinces):
    from tests.test_api import SUBMISSION

    staff = make_token("TGG", "read", "record", name="Văn thư Sở")
    with time_machine.travel(IN_TIME, tick=False):
        r = Api(client).post(URL, staff, json=SUBMISSION)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["channel"] == "eoffice" and r.get_json()["doc_number"] == "2345/VBĐ"


def test_the_rule_is_the_operations_for_every_interface(app, two_provinces):
    """The web upload and the API both call ops.record_submission(by_unit=True); the rule is there."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2019"))
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == "STC"))
    now = IN_TIME
    for kwargs in ({"channel": "eoffice", "doc_number": "1/VBĐ"}, {"channel": "upload", "doc_number": "1/VBĐ"},
                   {"channel": "upload"}):
        with pytest.raises(ops.OperationError):
            ops.record_submission(campaign, unit, received_at=now, recorded_by="stc", now=now, by_unit=True, **kwargs)
    db.session.rollback()


# -- the received instant -------------------------------------------------------------------------------------------

class SlowBody(io.BytesIO):
    """An upload whose body takes 15 seconds to arrive: the clock moves when it is first read."""

    def __init__(self, data: bytes, traveller):
        super().__init__(data)
        self.traveller, self.moved = traveller, False

    def _arrive(self):
        if not self.moved:
            self.moved = True
            self.traveller.shift(timedelta(seconds=15))

    def read(self, *args):
        self._arrive()
        return super().read(*args)

    def read1(self, *args):
        self._arrive()
        return super().read1(*args)

    def readinto(self, buffer):
        self._arrive()
        return super().readinto(buffer)

    def readline(self, *args):
        self._arrive()
        return super().readline(*args)


def test_an_upload_begun_before_midnight_is_received_before_midnight_even_with_the_csrf_check(app, client,
                                                                                            two_provinces):
    """Deadline Friday 25/10/2019, grace 5 working days: an upload begun at 23:59:52 and finished at
    00:00:07 on the 26th is on time.  The CSRF check reads the body first: it used to set the instant."""
    app.config["WTF_CSRF_ENABLED"] = True
    with time_machine.travel(local(2019, 10, 25, 23, 50), tick=False):  # (a CSRF token lasts an hour)
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post("/login", data={"email": "stc@tgg.example", "password": "mat-khau-thu-nghiem",
                                           "csrf_token": token}).status_code == 302
        page = client.get("/campaigns/TGG-2019/units/STC").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    boundary, body = encode_multipart({"csrf_token": token, "documents": FileStorage(
        io.BytesIO(pdf_bytes() * 2000), filename="hs.pdf", content_type="application/pdf")})
    with time_machine.travel(local(2019, 10, 25, 23, 59, 52), tick=False) as traveller:
        slow = SlowBody(body, traveller)
        r = client.post("/campaigns/TGG-2019/units/STC/upload", input_stream=slow,
                        content_type=f"multipart/form-data; boundary={boundary}", content_length=len(body))
    assert r.status_code == 303, re.findall(r'class="alert[^"]*"[^>]*>(.*?)<', r.get_data(as_text=True), re.S)
    db.session.expire_all()
    # TGG-2019's participation (the unit takes part in more than one campaign: without the campaign the
    # row read first depended on the table's physical order, which differed on PostgreSQL after DELETEs).
    p = db.session.scalar(select(Participation).join(Unit).join(Campaign, Campaign.id == Participation.campaign_id)
                          .where(Unit.code == "STC", Campaign.code == "TGG-2019"))
    assert p.status == "on_time"
    assert p.received_at == local(2019, 10, 25, 23, 59, 52)
    assert slow.moved  # the body was read, and the clock moved while it was


# -- orphans --------------------------------------------------------------------------------------------------------

def test_orphan_files_are_removed_by_the_scheduler_job_and_counted_by_the_cli(app, client, two_provinces, runner):
    folder = app.config["UPLOAD_FOLDER"]
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        login(client, "stc@tgg.example")
        r = client.post("/campaigns/TGG-2019/units/STC/upload", data={"documents": (io.BytesIO(pdf_bytes()), "a.pdf")},
                        content_type="multipart/form-data")
        assert r.status_code == 303
    kept = db.session.scalar(select(SubmissionDocument.stored_name))
    os.makedirs(folder, exist_ok=True)
    orphan = store_document(folder, "mo-coi.pdf", pdf_bytes()).stored_name  # written, never recorded
    partial = f".{'ab' * 16}.pdf.part"
    with open(os.path.join(folder, partial), "wb") as fh:
        fh.write(b"%PDF-1.4 half")
    young = store_document(folder, "dang-ghi.pdf", pdf_bytes()).stored_name  # being recorded now
    other = "ghi-chu.txt"  # not ours: never touched
    open(os.path.join(folder, other), "w").close()
    hour_ago = time.time() - 2 * 3600
    for name in (kept, orphan, partial, other):
        os.utime(os.path.join(folder, name), (hour_ago, hour_ago))

    counted = runner.invoke(args=["files", "orphans", "--json"])
    assert counted.exit_code == 0 and '"partial": 1' in counted.output and '"unreferenced": 1' in counted.output
    assert sorted(os.listdir(folder)) == sorted([kept, orphan, partial, young, other])  # counting removes nothing

    assert "files" in {job.name for job in JOBS}
    summary = files_job(utcnow(), "test")
    assert summary["removed"] == 2
    assert sorted(os.listdir(folder)) == sorted([kept, young, other])
    with time_machine.travel(local(2019, 10, 24, 9, 30), tick=False):
        download = client.get(f"/campaigns/TGG-2019/units/STC/documents/{db.session.scalar(select(SubmissionDocument.id))}")
        assert download.status_code == 200 and download.get_data() == pdf_bytes()
        download.close()


def test_milestone_documents_and_the_decision_file_are_never_taken_for_orphans(app, two_provinces, runner, tmp_path):
    """The signed letter attached to a milestone and the People's Committee decision live in the upload folder
    beside the dossiers; the cleaner once knew only dossier documents and would have deleted both an hour later."""
    from workflow.award_models import CampaignDecision
    from workflow.milestone_docs import MilestoneDocument

    folder = app.config["UPLOAD_FOLDER"]
    signed = tmp_path / "cong-van-1270.pdf"
    signed.write_bytes(pdf_bytes())
    r = runner.invoke(args=["campaign", "attach", "TGG-2019", "deadline", "--number", "1270/STTTT-CNTT&BCVT",
                            "--date", "2019-10-07", "--issuer", "Sở Thông tin và Truyền thông", "--file", str(signed)])
    assert r.exit_code == 0, r.output
    letter = db.session.scalar(select(MilestoneDocument.stored_name))
    decided = store_document(folder, "qd-2950.pdf", pdf_bytes())
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2019"))
    db.session.add(CampaignDecision(campaign_id=campaign.id, number="2950/QĐ-UBND", decided_on=local(2019, 12, 20).date(),
                                    signer="KT. CHỦ TỊCH", original_name="qd-2950.pdf", stored_name=decided.stored_name,
                                    sha256=decided.sha256, recorded_by="test"))
    db.session.commit()
    orphan = store_document(folder, "mo-coi.docx", docx_bytes()).stored_name
    hour_ago = time.time() - 2 * 3600
    for name in (letter, decided.stored_name, orphan):
        os.utime(os.path.join(folder, name), (hour_ago, hour_ago))

    summary = files_job(utcnow(), "test")
    assert summary["removed"] == 1
    assert sorted(os.listdir(folder)) == sorted([letter, decided.stored_name])


# -- packed files ---------------------------------------------------------------------------------------------------

def _xlsx_bomb(unpacked_mb: int) -> bytes:
    """A workbook saved by openpyxl whose sheet is swapped for one with a header and a unit whose name,
    an inline string, unpacks to ``unpacked_mb`` MB: a few hundred KB on disk."""
    wb = Workbook()
    wb.active.append(["Mã đơn vị"])
    saved = io.BytesIO()
    wb.save(saved)
    out = io.BytesIO()
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(saved) as real, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in real.infolist():
            if item.filename != sheet:
                z.writestr(item, real.read(item))
        with z.open(sheet, "w", force_zip64=True) as part:
            part.write('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                       '<row r="1"><c r="A1" t="inlineStr"><is><t>Mã đơn vị</t></is></c>'
                       '<c r="B1" t="inlineStr"><is><t>Tên đơn vị</t></is></c>'
                       '<c r="C1" t="inlineStr"><is><t>Khối</t></is></c></row>'
                       '<row r="2"><c r="A2" t="inlineStr"><is><t>STC</t></is></c>'
                       '<c r="B2" t="inlineStr"><is><t>'.encode())
            chunk = b"A" * (1024 * 1024)
            for _ in range(unpacked_mb):
                part.write(chunk)
            part.write(b"</t></is></c></row></sheetData></worksheet>")
    return out.getvalue()


def test_an_xlsx_unit_list_that_unpacks_to_hundreds_of_mb_is_refused_before_it_is_read():
    bomb = _xlsx_bomb(100)
    assert len(bomb) < 400 * 1024
    with pytest.raises(UnitFileError, match="quá lớn khi giải nén"):
        read_units(bomb, "don-vi.xlsx")


def test_a_docx_that_unpacks_beyond_the_bound_is_not_stored(tmp_path, monkeypatch):
    import workflow.storage as storage

    monkeypatch.setattr(storage, "MAX_UNPACKED_DOCUMENT", 1024 * 1024)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes())) as real, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in real.infolist():
            z.writestr(item, real.read(item))
        z.writestr("word/media/pad.bin", b"\0" * (3 * 1024 * 1024))
    with pytest.raises(DocumentRefused, match="unpacks to too much"):
        store_document(tmp_path, "bao-cao.docx", out.getvalue())
    assert list(tmp_path.iterdir()) == []
    assert store_document(tmp_path, "bao-cao.docx", docx_bytes()).size > 0


def test_a_csv_unit_list_is_bounded_in_size():
    big = ("Mã đơn vị,Tên đơn vị,Khối\n" + "X,Y,Sở\n" * 3_000_000).encode()
    with pytest.raises(UnitFileError, match="quá lớn"):
        read_units(big, "don-vi.csv")


# -- file names -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bao-cao\u202efdp.exe.pdf", "bao\u200bcao.pdf", "bao\u2066cao\u2069.pdf",
                                  "\ufeffbao-cao.pdf", "bao\u00adcao.pdf"])
def test_names_with_format_characters_are_refused(tmp_path, name):
    with pytest.raises(DocumentRefused, match="hidden format character"):
        clean_name(name)
    assert list(tmp_path.iterdir()) == []


def test_a_long_name_is_refused_for_its_length_not_its_extension(tmp_path):
    name = "bao-cao-" + "rat-dai-" * 40 + ".pdf"
    with pytest.raises(DocumentRefused) as refused:
        store_document(tmp_path, name, pdf_bytes())
    assert "quá dài" in refused.value.message_vi and "định dạng" not in refused.value.message_vi
    assert clean_name("Báo cáo ứng dụng CNTT năm 2019 (bản ký số).pdf") == "Báo cáo ứng dụng CNTT năm 2019 (bản ký số).pdf"


def test_the_upload_form_says_why_a_name_is_refused(client, two_provinces):
    with time_machine.travel(IN_TIME, tick=False):
        login(client, "stc@tgg.example")
        r = client.post("/campaigns/TGG-2019/units/STC/upload",
                        data={"documents": (io.BytesIO(pdf_bytes()), "x" * 300 + ".pdf")},
                        content_type="multipart/form-data")
    assert r.status_code == 422 and "quá dài" in r.get_data(as_text=True)
    assert submissions_of("TGG", "STC") == 0


# -- answers --------------------------------------------------------------------------------------------------------

def test_the_csv_export_has_one_charset(client, two_provinces):
    login(client, "admin@tgg.example")
    r = client.get("/campaigns/TGG-2019/export.csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_signed_in_pages_are_private_and_not_stored(client, two_provinces):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login(client, "admin@tgg.example")
    for url in ("/campaigns", "/campaigns/TGG-2019", "/campaigns/TGG-2019"):  # the third from the page cache
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url
    assert client.get("/campaigns/TGG-2019/export.csv").headers["Cache-Control"] == "no-store"  # the view's own


# -- addresses ------------------------------------------------------------------------------------------------------

BAD = ["nguyen..van@tiengiang.gov.vn", "vanthu@-tgg.vn", "<vanthu>@tgg.gov.vn", "vanthu@tgg.gov.vn."]


@pytest.mark.parametrize("address", BAD)
def test_addresses_are_checked_as_addresses_in_unit_lists(address):
    data = f"Mã đơn vị,Tên đơn vị,Khối,Thư điện tử,Thư lãnh đạo\nSTC,Sở Tài chính,Sở,{address},\n" \
           f"SYT,Sở Y tế,Sở,vanthu.syt@tiengiang.gov.vn,{address}\n"
    result = read_units(data.encode(), "don-vi.csv")
    assert [(e.row, e.message) for e in result.errors] == [
        (2, f"“{address}” không phải địa chỉ thư điện tử hợp lệ."),
        (3, f"“{address}” không phải địa chỉ thư điện tử hợp lệ.")]


@pytest.mark.parametrize("address", BAD)
def test_addresses_are_checked_as_addresses_in_campaign_files(address):
    text = TWO_PROVINCES["TGG"].replace("vanthu.stc@tiengiang.gov.vn", address)
    with pytest.raises(CampaignFileError, match="is not an e-mail address"):
        parse(text)


def test_addresses_are_checked_as_addresses_in_the_setup_form_and_for_accounts(client, two_provinces, runner):
    r = runner.invoke(args=["user", "create", "nguyen..van@tgg.example", "--role", "viewer", "--organizer", "TGG"])
    assert r.exit_code == 2
    login(client, "admin@tgg.example")
    page = client.get("/campaigns/TGG-2019/edit").get_data(as_text=True)
    assert "council_emails" in page
    with time_machine.travel(local(2019, 10, 8, 9, 0), tick=False):
        login(client, "admin@tgg.example")
        edited = client.post("/campaigns/TGG-2019/edit", data={"council_emails": "hoidong..thidua@tiengiang.gov.vn",
                                                              "reason": "Bổ sung hội đồng"})
    assert "hoidong..thidua@tiengiang.gov.vn" in edited.get_data(as_text=True)
    assert "Địa chỉ thư điện tử không hợp lệ" in edited.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Campaign.council_emails).where(Campaign.code == "TGG-2019")) in ([], None)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 2
