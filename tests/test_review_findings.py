"""Regression tests for defects found in review (access control, uploads, mail).

Each test names the defect it guards against; every test runs on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from notifications.models import OutboxMail
from tests.conftest import login
from tests.test_web_unit import pdf_bytes
from workflow.api_tokens import create_token
from workflow.db import db
from workflow.models import Organizer
from workflow.storage import DocumentRefused, clean_name, store_document

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


# -- open redirect after sign-in ----------------------------------------------------------------

@pytest.mark.parametrize("target", ["/\\evil.example/", "/\\/evil.example", "/\t/evil.example", "/%5Cevil.example",
                                    "/\r\n/evil.example"])
def test_sign_in_never_redirects_off_site(client, two_provinces, target):
    """``next=/<TAB>/evil.example`` passed the "starts with / but not //" check and went out as
    ``Location: //evil.example``: an open redirect from the sign-in page (a line break gave a 500
    after a successful sign-in)."""
    from urllib.parse import quote

    response = client.post("/login?next=" + quote(target, safe=""),
                           data={"email": "stc@tgg.example", "password": "mat-khau-thu-nghiem"})
    assert response.status_code == 302
    location = response.headers["Location"]
    # As a browser reads it: tabs and line breaks dropped, a backslash taken for a slash.
    seen = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", seen, re.IGNORECASE), location


def test_sign_in_still_follows_a_local_next(client, two_provinces):
    response = client.post("/login?next=/campaigns/TGG-2019/units/STC",
                           data={"email": "stc@tgg.example", "password": "mat-khau-thu-nghiem"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/campaigns/TGG-2019/units/STC"


# -- sign-in and reset links readable in the outbox -----------------------------------------------

@pytest.mark.parametrize("path, kind, victim", [
    ("/login/link", "signin_link", "council@tgg.example"),
    ("/password/forgot", "password_reset", "stc@tgg.example"),
])
def test_outbox_does_not_hand_an_admin_another_accounts_link(app, client, two_provinces, path, kind, victim):
    """Anyone may ask for a sign-in or reset link for any address; the admin's outbox showed
    the mail's text, link included: the admin could sign in as (or reset the password of) any
    account of the province and act in its name (confirm a unit's figures as the unit)."""
    assert client.post(path, data={"email": victim}).status_code == 302
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == kind, OutboxMail.recipient == victim))
    # (the token travels after "#" since issue 13: tests/test_sign_in_hardening.py)
    token = re.search(r"/(?:login/link/use|password/reset)#([A-Za-z0-9_-]+)", mail.body_text).group(1)
    login(client, "admin@tgg.example")
    page = client.get(f"/outbox/{mail.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert victim in text  # the mail is still listed and shown
    assert token not in text
    assert token not in client.get("/outbox").get_data(as_text=True)
    # What is stored (and sent) is unchanged: the recipient's link still works.
    db.session.expire_all()
    assert token in db.session.get(OutboxMail, mail.id).body_text


# -- control characters in document names --------------------------------------------------------

@pytest.mark.parametrize("name", ["bao\r\ncao.pdf", "bao\ncao.pdf", "bao\x07cao.pdf", "bao\x7fcao.pdf"])
def test_document_names_with_control_characters_are_refused(tmp_path, name):
    """A stored name with CR/LF made its download answer 500 (Werkzeug refuses the header) and
    let the name break lines of the receipt mail; the OpenAPI document already says such names
    are not accepted."""
    with pytest.raises(DocumentRefused):
        clean_name(name)
    with pytest.raises(DocumentRefused):
        store_document(tmp_path, name, pdf_bytes())
    assert list(tmp_path.iterdir()) == []


def test_api_refuses_a_document_name_with_a_line_break(app, client, two_provinces):
    org = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
    issued = create_token(organizer=org, scopes=["read", "record"], name="iOffice", actor="test")
    db.session.commit()
    body = {"received_at": "2019-10-24T15:30:00+07:00", "doc_number": "2345/VBĐ", "channel": "eoffice",
            "documents": [{"name": "bao\r\ncao.pdf", "content_base64": base64.b64encode(pdf_bytes()).decode()}]}
    response = client.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", json=body,
                           headers={"Authorization": f"Bearer {issued.token}"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == "documents[0].name"


def test_a_document_name_keeps_its_vietnamese_and_spaces(tmp_path):
    assert clean_name("  Báo cáo tự đánh giá 2019.pdf ") == "Báo cáo tự đánh giá 2019.pdf"


# -- the campaign list of a unit's people ----------------------------------------------------------

OTHER_TGG_CAMPAIGN = """
organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@stttt.tiengiang.gov.vn}
campaign:
  code: TGG-YTE-2019
  title: Chuyên đề riêng của ngành y tế KHONGTHAMGIA
  year: 2019
  deadline: 2019-11-29
  grace_working_days: 5
units:
  - {code: SYT, name: Sở Y tế, group: department, emails: [vanthu.syt@tiengiang.gov.vn]}
"""


def test_campaign_list_shows_a_unit_only_the_campaigns_it_takes_part_in(client, two_provinces, make_campaign):
    """A campaign a unit does not take part in answers 404 to its people (access.campaign_or_404:
    a URL must not tell whether it exists), yet /campaigns listed its code, title and deadline."""
    make_campaign(OTHER_TGG_CAMPAIGN)
    login(client, "stc@tgg.example")
    page = client.get("/campaigns").get_data(as_text=True)
    assert "TGG-2019" in page
    assert "TGG-YTE-2019" not in page and "KHONGTHAMGIA" not in page
    assert client.get("/campaigns/TGG-YTE-2019/units/STC").status_code == 404
    client.post("/logout")
    login(client, "mytho@tgg.example")  # a district coordinator: its district and communes
    page = client.get("/campaigns").get_data(as_text=True)
    assert "TGG-2019" in page and "TGG-YTE-2019" not in page
    client.post("/logout")
    login(client, "syt@tgg.example")
    assert "TGG-YTE-2019" in client.get("/campaigns").get_data(as_text=True)
    client.post("/logout")
    login(client, "viewer@tgg.example")  # the organizer's people see every campaign of theirs
    page = client.get("/campaigns").get_data(as_text=True)
    assert "TGG-2019" in page and "TGG-YTE-2019" in page



def test_a_units_own_token_cannot_backdate_its_dossier(app, client, two_provinces, runner):
    """With a unit's token the received instant is the server's clock, not what the unit claims."""
    import time_machine
    from sqlalchemy import select as _select

    from tests.conftest import local as _local
    from workflow.models import Participation as _P
    from workflow.models import Unit as _U

    made = runner.invoke(args=["token", "create", "--organizer", "TGG", "--unit", "STC", "--scope", "read",
                               "--scope", "record", "--name", "iOffice STC"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    with time_machine.travel(_local(2019, 11, 1, 10, 0), tick=False):  # inside grace: late by 5 working days
        r = client.post("/api/v1/campaigns/TGG-2019/units/STC/submissions",
                        headers={"Authorization": f"Bearer {token}"},
                        # (documents with their content, no incoming number: a unit's dossier since issue 13)
                        json={"received_at": "2019-10-20T09:00:00+07:00",
                              "documents": [{"name": "bao-cao.pdf",
                                             "content_base64": base64.b64encode(pdf_bytes()).decode()}]})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["received_at"].startswith("2019-11-01T10:00:00")
    db_status = db.session.scalar(_select(_P.status).join(_U).where(_U.code == "STC"))
    assert db_status == "late"
