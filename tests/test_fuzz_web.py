"""Fuzzing the web forms and query strings with Hypothesis: no answer is a server error.

Every route of ``app.url_map`` that accepts POST (the API's too, with a bearer
token; tests/test_api_schemathesis.py fuzzes the API against its document), and
the GET routes that read a query string or a free path segment, are sent random
data: for each field the route's form expects a value that is mostly a valid
one and sometimes junk (Vietnamese with diacritics, very long strings, NUL
bytes, HTML/JS, SQL-looking text, dates such as ``2019-13-45`` or
``31/12/2019``, numbers such as ``-1``, ``1e309``, ``NaN``), fields left out,
extra fields, repeated fields; where a route takes files, random files (random
bytes, wrong extensions, ``../../x.pdf``, empty files, broken XLSX/DOCX zips).

Signed in as the organizer admin of Tiền Giang (and as the focal point of Sở
Tài chính for the unit's routes; anonymous for the sign-in forms), at an
instant chosen per route (before the deadline, in grace, after grace).  Checks:
the status code is below 500, and an HTML answer never shows a traceback.  The
shared ``two_provinces`` data is changed by the examples (a campaign gets
cancelled, a unit reinstated…); nothing asserts on it.

Deterministic (``derandomize``) so that CI is reproducible;
``HANCHOT_FUZZ_EXAMPLES=300 HANCHOT_FUZZ_RANDOM=1`` searches harder locally.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from urllib.parse import quote

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import VN, login
from workflow.db import db
from workflow.machine import MANUAL_STEPS
from workflow.models import Unit
from workflow.timeline import MILESTONES

MAX_EXAMPLES = int(os.environ.get("HANCHOT_FUZZ_EXAMPLES", "40"))
DERANDOMIZE = not os.environ.get("HANCHOT_FUZZ_RANDOM")

# -- instants --------------------------------------------------------------------------------------------------------
# TGG-2019: deadline Friday 25/10/2019, five working days of grace (to 01/11/2019); BTN-2019 closed long ago.

OPEN = datetime(2019, 10, 21, 9, 0, tzinfo=VN)
GRACE = datetime(2019, 10, 29, 9, 0, tzinfo=VN)
CLOSED = datetime(2019, 11, 12, 9, 0, tzinfo=VN)

# -- values ----------------------------------------------------------------------------------------------------------

VIETNAMESE = ("aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
              "AĂÂĐÊÔƠƯÁÀẢÃẠẮẰẲẴẶẤẦẨẪẬÉÈẺẼẸẾỀỂỄỆÍÌỈĨỊÓÒỎÕỌỐỒỔỖỘỚỜỞỠỢÚÙỦŨỤỨỪỬỮỰÝỲỶỸỴ 0123456789,.;-_/")
NASTY = [
    "", " ", "\t", "\r\n", "\x00", "a\x00b", "STC\x00", "\x1b[31m", "\u202e", "\ufeff", "\U0001f4a9",
    "Sở Tài chính", "UBND thị trấn Cái Bè", "Đánh giá, xếp loại ứng dụng CNTT năm 2019",
    "Sở Tài chính".encode().decode("latin-1"), "S\u1edf T\u00e0i ch\u00ednh", "So\u031b\u0309 Ta\u0300i",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{7*7}}", "${7*7}", "%s%s%n",
    "' OR '1'='1", "'; DROP TABLE users; --", "1; SELECT pg_sleep(0)", "\\", "%", "_", "%00", "null", "None",
    "[]", "{}", "true",
    "-1", "0", "-0", "1", "5", "60", "61", "1000", "1000.01", "1e309", "-1e309", "1e-400", "1e999999", "NaN", "nan",
    "inf", "-Infinity", "1,5", "97,5", "92.5", "0x10", "1_000", "٣", "１２", "9" * 5000, "99999999999999999999",
    "2019-13-45", "31/12/2019", "25/10/2019", "2019-10-25", "29/02/2019", "2019-02-29", "0000-00-00", "0001-01-01",
    "9999-12-31", "1/1/1", "25-10-2019", "2019/10/25", " 2019-10-25 ", "2019-10-25T08:00:00+07:00", "20191025",
    "２０１９-１０-２５", "32/01/2019", "1989-12-31", "2101-01-01",
    "../../etc/passwd", "..", "/", "//evil.example", "http://evil.example/", "javascript:alert(1)",
    "admin@tgg.example", "ADMIN@TGG.EXAMPLE", "a@b", "@", "x@y.z" * 300,
]


def _long(chars: str) -> st.SearchStrategy[str]:
    return st.builds(lambda c, n: c * n, st.sampled_from(list(chars)), st.integers(300, 12000))


#: A value nobody should send.
JUNK: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.text(alphabet=VIETNAMESE, max_size=80),
    _long("xđ<\x00ự9 "),
)
JUNK_KEY = st.one_of(st.sampled_from(["csrf_token", "submit", "next", "id", "organizer_id", "state", "role",
                                      "tiers-99-name", "tiers-0-min", "documents", "digest", "unit", ""]),
                     st.text(max_size=12))


def one(*valid: str) -> st.SearchStrategy[str]:
    return st.sampled_from(valid)


DAY = st.one_of(
    one("2019-10-25", "25/10/2019", "2019-10-26", "2019-10-31", "2019-11-05", "2019-11-20", "2019-12-02",
        "2019-12-31", "2020-01-01", "2019-09-02", "2019-10-01", "2020-02-29", "1990-01-01", "2100-12-31"),
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
)
REASON = st.one_of(one("Theo Công văn số 123/UBND-KT ngày 01/11/2019.", "Lý do bất khả kháng: bão số 5."),
                   st.text(alphabet=VIETNAMESE, min_size=1, max_size=200))
UNIT_CODE = one("STC", "SYT", "MYTHO", "MYTHO-P1", "CAIBE", "CAIBE-TT", "PHANTHIET", "stc", " STC ", "KHONGCO")
SCORE = one("95", "92,5", "0", "1000", "100.25", "-1", "1001", "0,01")
EMAILS = one("hoidong@tiengiang.gov.vn", "a@tiengiang.gov.vn, b@tiengiang.gov.vn", "a@x.vn;b@y.vn\nc@z.vn", "")


@st.composite
def form(draw, fields: dict[str, st.SearchStrategy], extra: bool = True) -> dict:
    """Form data: each field mostly valid, sometimes junk, sometimes left out; repeated fields; extra fields."""
    careless = draw(st.booleans())
    data: dict = {}
    for name, valid in fields.items():
        pick = draw(st.integers(0, 3 if careless else 9))
        if pick == 0:
            continue
        value = draw(JUNK) if pick <= 2 else draw(valid)
        if draw(st.integers(0, 19)) == 0:
            value = [value, draw(st.one_of(valid, JUNK))]  # the same field twice
        data[name] = value
    if extra:
        for key, value in draw(st.dictionaries(JUNK_KEY, JUNK, max_size=3)).items():
            data.setdefault(key, value)
    return data


def segment(*valid: str) -> st.SearchStrategy[str]:
    """A path segment: a real one mostly, junk sometimes (URL-quoted, so it stays one segment)."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid),
                     JUNK.filter(bool)).map(lambda s: quote(s, safe=""))


def query(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    return form({**fields, "lang": one("vi", "en", "fr")})


# -- files -----------------------------------------------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                 b'2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
DOCX = _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"})
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")
CSV_HEADER = "Mã đơn vị,Tên đơn vị,Khối,Đơn vị cấp trên,Thư điện tử\n"
CSV_ROWS = ["STC,Sở Tài chính,department,,vanthu.stc@tiengiang.gov.vn", "MOI,Đơn vị mới,department,,moi@tgg.vn",
            "MOI-X,UBND xã Mới,commune,CAIBE,xa@tgg.vn", "SYT,Sở Y tế (đổi tên),Sở ban ngành,,",
            "CAIBE-TT,UBND thị trấn Cái Bè,commune,MOI-X,tt@tgg.vn", ",,,,", "X,Y,khong-co,,khong-phai-thu"]


def _xlsx_units() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Thư điện tử"])
    ws.append(["STC", "Sở Tài chính", "department", None, "vanthu.stc@tiengiang.gov.vn"])
    ws.append(["MOI", "Đơn vị mới", "Sở, ban, ngành", None, "moi@tgg.vn"])
    ws.append([12, 3.5, True, datetime(2019, 1, 1), "=1/0"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


XLSX = _xlsx_units()
XLSX_PARTS = zipfile.ZipFile(io.BytesIO(XLSX)).namelist()


def _replace_member(data: bytes, name: str, content: bytes) -> bytes:
    members = {n: zipfile.ZipFile(io.BytesIO(data)).read(n) for n in zipfile.ZipFile(io.BytesIO(data)).namelist()}
    members[name] = content
    return _zip(members)


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


CSV_FILE = st.builds(
    lambda rows, junk_rows, enc: (CSV_HEADER + "\n".join(rows + [",".join(_cell(c) for c in r) for r in junk_rows])
                                  ).encode(enc, errors="replace"),
    st.lists(st.sampled_from(CSV_ROWS), max_size=5),
    st.lists(st.lists(JUNK.map(lambda s: s[:200]), min_size=1, max_size=6), max_size=3),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1258"]),
)
BROKEN_OFFICE = st.builds(
    _replace_member, st.sampled_from([XLSX, DOCX]),
    st.sampled_from(XLSX_PARTS + ["[Content_Types].xml", "word/document.xml", "xl/worksheets/sheet9.xml"]),
    st.one_of(st.binary(max_size=64), st.just(b""), st.just(b"<?xml version='1.0'?><a>"),
              st.just(b"<!DOCTYPE a [<!ENTITY x 'x'>]><a>&x;</a>"), st.just(CONTENT_TYPES)),
)
CONTENT = st.one_of(
    st.binary(max_size=300), st.just(b""), st.just(b" \n"), st.just(PDF), st.just(DOCX), st.just(XLSX),
    st.just(OLE2 + b"\x00" * 64), st.binary(max_size=100).map(lambda b: b"PK\x03\x04" + b),
    st.binary(max_size=100).map(lambda b: b"%PDF-" + b), CSV_FILE, BROKEN_OFFICE,
    st.text(alphabet=VIETNAMESE, max_size=200).map(lambda s: s.encode("utf-8")),
)
FILENAME = st.one_of(
    one("Báo cáo tự chấm điểm.pdf", "bang-diem.docx", "so-lieu.xlsx", "cong-van.doc", "bang.xls", "don-vi.csv",
        "don-vi.xlsx", "HOSO.PDF", "../../x.pdf", "..\\..\\x.pdf", "/etc/passwd", "x.pdf.exe", "x.exe", "x",
        ".pdf", ".", "..", "a\x00.pdf", "a\nb.pdf", "con.pdf", " .pdf", "x" * 300 + ".pdf", "ký tự đặc biệt <>.docx",
        "don-vi.csv.xlsx", "noextension"),
    st.builds(lambda name, ext: name + ext, JUNK.map(lambda s: s[:100]),
              one(".pdf", ".docx", ".xlsx", ".doc", ".xls", ".csv", ".txt", "")),
)
FILES = st.lists(st.tuples(CONTENT, FILENAME), max_size=3)


# -- the routes ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """How to fuzz one route: who asks, when, and what a request looks like."""

    id: str
    rule: str                       # the url_map rule it covers
    method: str
    path: st.SearchStrategy[str]
    data: st.SearchStrategy[dict] = st.just({})
    query: st.SearchStrategy[dict] = st.just({})
    files: str | None = None        # the form field of the uploads
    json: bool = False              # API: a JSON body and the bearer token
    who: str = "admin"              # admin | focal | anonymous
    when: datetime = GRACE
    examples: tuple[dict, ...] = ()  # regressions: dicts of path/data/query/files


TGG = "TGG-2019"
CAMPAIGN = segment(TGG, "BTN-2019", "tgg-2019", "KHONGCO")
UNIT = segment("STC", "SYT", "MYTHO", "MYTHO-P1", "CAIBE-TT", "PHANTHIET", "KHONGCO")


def path(template: str, **parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.fixed_dictionaries(parts).map(lambda p: template.format(**p))


def campaign_path(suffix: str = "", **parts) -> st.SearchStrategy[str]:
    return path("/campaigns/{code}" + suffix, code=CAMPAIGN, **parts)


ACTION_FORMS: dict[str, dict[str, st.SearchStrategy]] = {
    "mark_step": {"step": one(*MANUAL_STEPS, "cancel", "launch"), "reason": REASON},
    "publish": {"reason": REASON},
    "cancel": {"reason": REASON},
    "move_milestone": {"kind": one("deadline", *MILESTONES), "end": DAY, "start": DAY, "reason": REASON},
    "return_dossier": {"unit": UNIT_CODE, "reason": REASON},
    "request_confirmation": {"unit": UNIT_CODE, "reason": REASON},
    "reinstate": {"unit": UNIT_CODE, "reason": REASON},
    "set_scores": {"unit": UNIT_CODE, "self_score": SCORE, "verified_score": SCORE, "reason": REASON},
    "nominate": {"unit": UNIT_CODE},
}


def campaign_fields(new: bool) -> dict[str, st.SearchStrategy]:
    fields = {
        "title": st.one_of(one("Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019"), REASON),
        "year": one("2019", "2020", "1990", "2100"),
        "document_number": one("1270/STTTT-CNTT&BCVT", "", "123/QĐ-UBND"),
        "document_date": DAY, "data_period_start": DAY, "data_period_end": DAY,
        "deadline": st.one_of(one("2019-10-25", "25/10/2019"), DAY),
        "grace_working_days": one("5", "0", "60", "3"),
        "preliminary_review": DAY, "field_inspection_start": DAY, "field_inspection_end": DAY,
        "award_notice": DAY, "award_dossiers": DAY, "approval": DAY, "publication": DAY,
        "council_emails": EMAILS, "commune_nomination": one("y", "on", ""),
    }
    for i, (name, minimum) in enumerate([("Xuất sắc", "90"), ("Tốt", "80"), ("Khá", "65"), ("Trung bình", "")]):
        fields[f"tiers-{i}-name"] = one(name, "")
        fields[f"tiers-{i}-min"] = st.one_of(one(minimum, "95", "70,5"), SCORE)
    fields["tiers-11-name"] = one("Yếu")
    fields["tiers-12-name"] = one("Kém")  # past max_entries
    if new:
        fields["code"] = one("TGG-2020", "TGG-2019", "BTN-2019", "Mới-2020", "a b", "X" * 64, "X" * 65)
        fields["state"] = one("draft", "open", "approved")
    else:
        fields["reason"] = REASON
    return fields


ROUTES: list[Route] = [
    # -- sign-in (anonymous) --
    Route("login", "/login", "POST", st.just("/login"), form({"email": one("admin@tgg.example", " Admin@TGG.example "),
                                                                 "password": one("mat-khau-thu-nghiem", "sai")}),
          query=query({"next": one("/campaigns", "//evil.example", "https://evil.example/", "/\\evil")}),
          who="anonymous"),
    Route("login-link", "/login/link", "POST", st.just("/login/link"),
          form({"email": one("admin@tgg.example", "khongco@tgg.example")}), who="anonymous"),
    Route("forgot", "/password/forgot", "POST", st.just("/password/forgot"),
          form({"email": one("admin@tgg.example", "khongco@tgg.example")}), who="anonymous"),
    Route("reset", "/password/reset/<token>", "POST", path("/password/reset/{t}", t=segment("abc", "x" * 43)),
          form({"password": one("mot-mat-khau-moi-dai", "ngan"), "confirm": one("mot-mat-khau-moi-dai", "khac")}),
          who="anonymous"),
    Route("magic", "/login/link/<token>", "GET", path("/login/link/{t}", t=segment("abc", "x" * 43)),
          who="anonymous"),
    Route("ics", "/campaigns/<code>/units/<unit_code>/calendar.ics", "GET",
          campaign_path("/units/{unit}/calendar.ics", unit=UNIT), query=query({"token": one("abc", "W1siYSJdXQ.x")}),
          who="anonymous"),
    Route("logout", "/logout", "POST", st.just("/logout"), form({})),
    # -- the organizer's actions --
    *[Route(f"act-{name}", "/campaigns/<code>/actions/<action>", "POST",
            campaign_path("/actions/{action}", action=segment(name)), form(fields), when=CLOSED)
      for name, fields in ACTION_FORMS.items()],
    Route("act-unknown", "/campaigns/<code>/actions/<action>", "POST",
          campaign_path("/actions/{action}", action=segment("launch", "delete")), form({"reason": REASON})),
    Route("act-move-in-grace", "/campaigns/<code>/actions/<action>", "POST",
          campaign_path("/actions/move_milestone"), form(ACTION_FORMS["move_milestone"]), when=GRACE),
    # -- the calendar --
    Route("override-add", "/calendar/overrides", "POST", st.just("/calendar/overrides"),
          form({"day": DAY, "kind": one("day_off", "working_day"), "reason": REASON,
                "document": one("Quyết định 12/QĐ-UBND", "")})),
    Route("override-remove", "/calendar/overrides/<int:override_id>/remove", "POST",
          path("/calendar/overrides/{id}/remove", id=st.one_of(one("1", "2", "3"), st.integers(-5, 10 ** 12).map(str),
                                                                 JUNK.filter(bool).map(lambda s: quote(s, safe="")))),
          form({"reason": REASON})),
    Route("calendar-year", "/calendar/<int:year>", "GET",
          path("/calendar/{year}", year=st.one_of(one("2019", "2020", "1990", "2100", "1989", "0", "-1", "02019"),
                                                  st.integers(-10 ** 6, 10 ** 20).map(str)))),
    # -- setting up --
    Route("new-campaign", "/campaigns/new", "POST", st.just("/campaigns/new"), form(campaign_fields(new=True))),
    Route("edit-campaign", "/campaigns/<code>/edit", "POST", campaign_path("/edit"), form(campaign_fields(new=False))),
    Route("edit-campaign-closed", "/campaigns/<code>/edit", "POST", campaign_path("/edit"),
          form(campaign_fields(new=False)), when=CLOSED),
    Route("import-units", "/campaigns/<code>/units/import", "POST", campaign_path("/units/import"), form({}),
          files="file"),
    Route("import-confirm", "/campaigns/<code>/units/import/confirm", "POST", campaign_path("/units/import/confirm"),
          form({"digest": one("PENDING", "0" * 64)})),
    Route("import-cancel", "/campaigns/<code>/units/import/cancel", "POST", campaign_path("/units/import/cancel"),
          form({"digest": one("PENDING", "")})),
    Route("grace-preview", "/campaigns/grace-preview", "GET", st.just("/campaigns/grace-preview"),
          query=query({"deadline": DAY, "grace": one("5", "0", "60", "61", "-1")})),
    Route("day-status", "/campaigns/day-status", "GET", st.just("/campaigns/day-status"), query=query({"day": DAY})),
    # -- the dashboard --
    Route("dashboard", "/campaigns/<code>", "GET", campaign_path(),
          query=query({"group": one("department", "district", "commune", "vertical"),
                       "status": one("not_submitted", "on_time", "late", "excluded", "returned"),
                       "q": one("STC", "Sở", "mỹ tho", "%", "_"),
                       "sort": one("code", "name", "status", "received", "score", "rating", "group"),
                       "dir": one("asc", "desc"), "page": one("1", "2", "0", "-1", "999999999999")})),
    Route("dashboard-closed", "/campaigns/<code>", "GET", campaign_path(),
          query=query({"status": one("excluded", "late"), "sort": one("score", "rating", "received"),
                       "dir": one("desc"), "page": one("1")}), when=CLOSED),
    Route("audit", "/campaigns/<code>/audit", "GET", campaign_path("/audit"),
          query=query({"page": one("1", "2", "0", "-1", "1e3", "99999999999999999999")})),
    Route("outbox", "/outbox", "GET", st.just("/outbox"),
          query=query({"status": one("pending", "sent", "failed", "dropped", "sending"),
                       "page": one("1", "2", "0", "-1", "99999999999999999999")})),
    Route("outbox-mail", "/outbox/<int:mail_id>", "GET",
          path("/outbox/{id}", id=st.one_of(st.integers(-1, 40).map(str), st.integers(0, 10 ** 20).map(str)))),
    Route("other-pages", "(pages without a form)", "GET",
          st.one_of([campaign_path(suffix) for suffix in ("/timeline.svg", "/export.xlsx", "/export.csv",
                                                         "/units/template.xlsx", "/units/import", "/edit")])
          | st.sampled_from(["/", "/campaigns", "/calendar", "/campaigns/new"]),
          query=query({})),
    # -- a unit's page --
    *[Route(f"upload-{who}-{phase}", "/campaigns/<code>/units/<unit_code>/upload", "POST",
            campaign_path("/units/{unit}/upload", unit=UNIT), form({}), files="documents", who=who, when=when)
      for who, phase, when in (("focal", "open", OPEN), ("focal", "grace", GRACE), ("focal", "closed", CLOSED),
                               ("admin", "open", OPEN))],
    *[Route(f"unit-confirm-{who}", "/campaigns/<code>/units/<unit_code>/confirm", "POST",
            campaign_path("/units/{unit}/confirm", unit=UNIT), form({}), who=who, when=CLOSED)
      for who in ("focal", "admin")],
    Route("unit-page", "/campaigns/<code>/units/<unit_code>", "GET", campaign_path("/units/{unit}", unit=UNIT),
          query=query({}), who="focal"),
    Route("unit-document", "/campaigns/<code>/units/<unit_code>/documents/<int:doc_id>", "GET",
          campaign_path("/units/{unit}/documents/{id}", unit=UNIT, id=st.integers(-1, 10 ** 20).map(str)),
          who="focal"),
    # -- the API's writes, with a bearer token (JSON bodies; schemathesis checks them against the document) --
    Route("api-submission", "/api/v1/campaigns/<code>/units/<unit_code>/submissions", "POST",
          path("/api/v1/campaigns/{code}/units/{unit}/submissions", code=CAMPAIGN, unit=UNIT),
          form({"received_at": one("2019-10-25T23:59:59+07:00", "2019-10-25"), "doc_number": one("12/STC"),
                "channel": one("eoffice", "email", "upload"),
                "documents": st.just([{"name": "a.pdf", "sha256": "0" * 64}])}), json=True),
    Route("api-steps", "/api/v1/campaigns/<code>/steps", "POST", campaign_path("/steps").map(lambda p: "/api/v1" + p),
          form({"step": one(*MANUAL_STEPS, "launch", "cancel"), "reason": REASON}), json=True, when=CLOSED),
    Route("api-move", "/api/v1/campaigns/<code>/milestones/<kind>/move", "POST",
          path("/api/v1/campaigns/{code}/milestones/{kind}/move", code=CAMPAIGN,
               kind=segment("deadline", *MILESTONES)),
          form({"end": DAY, "start": DAY, "reason": REASON}), json=True),
    *[Route(f"api-{what}", f"/api/v1/campaigns/<code>/units/<unit_code>/{what}", "POST",
            path("/api/v1/campaigns/{code}/units/{unit}/" + what, code=CAMPAIGN, unit=UNIT),
            form({"reason": REASON}), json=True, when=CLOSED) for what in ("return", "reinstate")],
]


# -- running them ----------------------------------------------------------------------------------------------------

def _send(client, route: Route, request: dict, token: str):
    kwargs: dict = {"query_string": request["query"]}
    data = dict(request["data"])
    if route.json:
        kwargs["json"] = data
        kwargs["headers"] = {"Authorization": f"Bearer {token}"}
    elif route.files:
        data[route.files] = [(io.BytesIO(content), name) for content, name in request["files"]]
        kwargs["data"] = data
        kwargs["content_type"] = "multipart/form-data"
    elif route.method == "POST":
        kwargs["data"] = data
    return client.open(request["path"], method=route.method, **kwargs)


def _check(response, route: Route, request: dict) -> None:
    body = response.get_data()
    assert response.status_code < 500, (route.id, request, response.status_code, body[:2000])
    if (response.mimetype or "").startswith("text/html"):
        assert b"Traceback" not in body, (route.id, request, body[:2000])


def _requests(route: Route) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"path": route.path, "data": route.data, "query": route.query,
                                  "files": FILES if route.files else st.just([])})


@dataclass
class Session:
    """A signed-in client whose session cookie is put back before each example."""

    client: object
    cookie: str | None
    prepare: Callable[[], None] = field(default=lambda: None)

    def reset(self) -> None:
        if self.cookie is None:
            self.client.delete_cookie("session")
        else:
            self.client.set_cookie("session", self.cookie)
        self.prepare()


def _seed(app, world) -> None:
    """Dossiers, an excluded unit, a confirmation request, overrides: so the actions have something to act on."""
    from workflow import operations as ops
    from workflow.calendars import add_override
    from workflow.models import Organizer

    tgg = world["tgg"]
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == tgg.organizer_id))}
    with time_machine.travel(OPEN, tick=False):
        for code, when in (("STC", OPEN), ("MYTHO-P1", OPEN), ("SYT", GRACE)):
            ops.record_submission(tgg, units[code], received_at=when, channel="email", recorded_by="test", now=when,
                                  doc_number=f"1/{code}")
        db.session.commit()
    ops.request_confirmation(tgg, units["STC"], actor="test", now=CLOSED)
    organizer = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
    for day in ("2019-11-04", "2019-11-06", "2019-12-28"):
        add_override(day=datetime.fromisoformat(day).date(), kind="day_off" if day != "2019-12-28" else "working_day",
                     reason="Bão", document="", organizer=organizer, actor="test")
    db.session.commit()


def _session(app, client, world, route: Route) -> Session:
    if route.who == "anonymous":
        return Session(client, None)
    login(client, world["users"]["focal" if route.who == "focal" else "admin"].email)
    session = Session(client, client.get_cookie("session").value)
    if route.id.startswith("import-"):
        # A previewed file waiting for confirmation: confirm and cancel then have something to find.
        def prepare():
            client.post(f"/campaigns/{TGG}/units/import", content_type="multipart/form-data",
                        data={"file": (io.BytesIO((CSV_HEADER + CSV_ROWS[1]).encode()), "don-vi.csv")})
        session.prepare = prepare if route.id != "import-units" else session.prepare
    return session


def _pending_digest(client) -> str:
    with client.session_transaction() as s:
        return (s.get("unit_import") or {}).get("digest", "")


@pytest.fixture
def world(app, two_provinces, tmp_path):
    app.config["UNIT_IMPORT_FOLDER"] = str(tmp_path / "unit-imports")
    _seed(app, two_provinces)
    return two_provinces


@pytest.fixture
def api_token(world):
    from workflow.api_tokens import SCOPES, create_token

    issued = create_token(organizer=world["tgg"].organizer, name="fuzz", scopes=list(SCOPES), actor="test")
    db.session.commit()
    return issued.token


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_no_server_error(app, client, world, api_token, route: Route):
    with time_machine.travel(route.when, tick=False):
        session = _session(app, client, world, route)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.filter_too_much, HealthCheck.data_too_large])
        @given(request=_requests(route))
        def run(request):
            # Hypothesis seeds the global PRNG alike for every example and the clock stands still: Message-IDs
            # (email.utils.make_msgid: time and random bits) would repeat, which no running server does.
            random.seed()
            session.reset()
            if request["data"].get("digest") == "PENDING":
                request = {**request, "data": {**request["data"], "digest": _pending_digest(client)}}
            response = _send(client, route, request, api_token)
            _check(response, route, request)
            if route.id == "import-units" and response.status_code == 200:
                digest = _pending_digest(client)
                if digest:  # what was previewed is saved: the whole import path, fuzzed
                    confirmed = client.post(f"/campaigns/{TGG}/units/import/confirm", data={"digest": digest})
                    _check(confirmed, route, request)

        for regression in route.examples:
            run = example(request={"path": "", "data": {}, "query": {}, "files": [], **regression})(run)
        run()


def test_every_post_route_is_fuzzed(app):
    """A new form is fuzzed too: every rule that accepts POST has a Route here."""
    covered = {r.rule for r in ROUTES}
    posting = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posting <= covered, sorted(posting - covered)
