"""Evidence files from the sheet page (issue 12): upload on a criterion of kind "file", listed with name,
size and SHA-256 and a download link on the sheet, the verifier's view and the printable sheet; removable
while the sheet is a draft; refused after submit and after grace end; no orphan left on the disk.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import time_machine
from sqlalchemy import func, select

from tests.conftest import local, login
from tests.test_api_sheets import CAMPAIGN, PDF
from workflow.criteria import SheetFile
from workflow.db import db
from workflow.models import AuditEvent
from workflow.operations import clean_orphan_files

SHEET = "/campaigns/TGG-2019/units/STC/sheet"
FORM = {"v-1.1-numerator": "45", "v-1.1-denominator": "50", "v-1.2-links": "https://stc.tiengiang.gov.vn/cddh",
        "v-2.1-na": "1", "v-2.1-explanation": "Sở không có thủ tục hành chính mức 3, 4", "v-2.2-yes": "1"}
DOCX_NAME = "Quyết định ban hành quy chế ATTT.pdf"


def setup(make_campaign, make_user):
    make_campaign(CAMPAIGN)
    make_user("stc@tgg.example", "focal_point", "TGG", "STC")
    make_user("syt@tgg.example", "focal_point", "TGG", "SYT")
    make_user("admin@tgg.example", "organizer_admin", "TGG")


def upload(client, data: bytes, name: str = DOCX_NAME, criterion: str = "2.3", url: str = SHEET):
    return client.post(f"{url}/evidence/{criterion}", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_evidence_is_uploaded_listed_downloaded_scored_and_removed_while_a_draft(app, client, make_campaign,
                                                                               make_user):
    setup(make_campaign, make_user)
    folder = Path(app.config["UPLOAD_FOLDER"])
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        login(client, "stc@tgg.example")
        html = client.get(SHEET).get_data(as_text=True)
        assert 'form="ev-2.3"' in html and 'id="ev-2.3"' in html and 'type="file"' in html
        r = upload(client, PDF)
        assert r.status_code == 303
        f = db.session.scalar(select(SheetFile))
        assert (f.original_name, f.size, f.sha256) == (DOCX_NAME, len(PDF), hashlib.sha256(PDF).hexdigest())
        assert (folder / f.stored_name).read_bytes() == PDF
        html = client.get(SHEET).get_data(as_text=True)
        assert DOCX_NAME in html and f.sha256 in html and "byte" in html
        download = f"{SHEET}/evidence/{f.id}"
        assert download in html
        got = client.get(download)
        assert got.status_code == 200 and got.data == PDF and "attachment" in got.headers["Content-Disposition"]
        got.close()
        # the criterion scores by its rule now that a file is present: 20 + 2
        saved = client.post(SHEET, data={**FORM, "action": "save"})
        assert saved.status_code == 303
        assert '<strong class="fs-4" id="total">22</strong>' in client.get(SHEET).get_data(as_text=True)
        # refused: a file that is not what its name says, a criterion that takes no file; nothing stored
        bad = upload(client, b"MZ\x90\x00 not a pdf", "bao-cao.pdf")
        assert bad.status_code == 303
        assert "không phải là tệp PDF thật" in client.get(SHEET).get_data(as_text=True)
        upload(client, PDF, criterion="1.1")
        assert db.session.scalar(select(func.count(SheetFile.id))) == 1
        assert sorted(p.name for p in folder.iterdir()) == [f.stored_name]
        # another unit's focal point can neither read nor remove it
        client.post("/logout")
        login(client, "syt@tgg.example")
        assert client.get(download).status_code in (403, 404)
        assert client.post(f"{SHEET}/evidence/{f.id}/remove").status_code in (403, 404)
        assert (folder / f.stored_name).exists()
        client.post("/logout")
        login(client, "stc@tgg.example")
        removed = client.post(f"{SHEET}/evidence/{f.id}/remove")
        assert removed.status_code == 303
        assert db.session.scalar(select(func.count(SheetFile.id))) == 0 and list(folder.iterdir()) == []
        assert '<strong class="fs-4" id="total">20</strong>' in client.get(SHEET).get_data(as_text=True)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("evidence.%"))
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["evidence.attached", "evidence.removed"]


def test_evidence_cannot_change_after_submit_nor_after_grace_end_and_shows_to_the_verifier(app, client,
                                                                                         make_campaign, make_user):
    setup(make_campaign, make_user)
    folder = Path(app.config["UPLOAD_FOLDER"])
    with time_machine.travel(local(2019, 10, 21, 9), tick=False):
        login(client, "stc@tgg.example")
        upload(client, PDF)
        assert client.post(SHEET, data={**FORM, "action": "submit"}).status_code == 303
        f = db.session.scalar(select(SheetFile))
        html = client.get(SHEET).get_data(as_text=True)
        assert 'id="ev-2.3"' not in html and f"rm-{f.id}" not in html  # no upload, no removal
        upload(client, PDF)
        assert "không thể thêm hoặc gỡ tệp minh chứng" in client.get(SHEET).get_data(as_text=True)
        assert client.post(f"{SHEET}/evidence/{f.id}/remove").status_code == 303
        assert db.session.scalar(select(func.count(SheetFile.id))) == 1
        assert [p.name for p in folder.iterdir()] == [f.stored_name]
        client.post("/logout")
        login(client, "admin@tgg.example")
        verifier = client.get(SHEET).get_data(as_text=True)
        assert DOCX_NAME in verifier and f.sha256 in verifier
        printed = client.get(f"{SHEET}/print").get_data(as_text=True)
        assert DOCX_NAME in printed and f.sha256 in printed and f"{SHEET}/evidence/{f.id}" in printed
        got = client.get(f"{SHEET}/evidence/{f.id}")
        assert got.data == PDF
        got.close()
    with time_machine.travel(local(2019, 11, 2, 0, 0, 1), tick=False):  # 1 s after grace end
        client.post("/logout")
        login(client, "syt@tgg.example")
        syt = "/campaigns/TGG-2019/units/SYT/sheet"
        upload(client, PDF, url=syt)
        assert db.session.scalar(select(func.count(SheetFile.id))) == 1
        assert [p.name for p in folder.iterdir()] == [f.stored_name]


def test_evidence_files_are_never_taken_for_orphans(app, client, make_campaign, make_user):
    setup(make_campaign, make_user)
    folder = Path(app.config["UPLOAD_FOLDER"])
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        login(client, "stc@tgg.example")
        upload(client, PDF)
    f = db.session.scalar(select(SheetFile))
    stray = folder / ("0" * 32 + ".pdf")
    stray.write_bytes(PDF)
    old = time.time() - 7200
    for p in folder.iterdir():
        os.utime(p, (old, old))
    summary = clean_orphan_files(folder, datetime.now(UTC))
    assert summary["removed"] == 1 and not stray.exists() and (folder / f.stored_name).exists()
