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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
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
#: Requests per route and status in this run (printed with HANCHOT_FUZZ_STATS=1 and -s).
CALLS: Counter = Counter()

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
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),  # NUL: in NASTY, enough
    st.text(alphabet=VIETNAMESE, max_size=80),
    _long("xđ<ự9 \n"),
)
JUNK_KEY = st.one_of(st.sampled_from(["csrf_token", "submit", "next", "id", "organizer_id", "state", "role",
                                      "tiers-11-name", "tiers-12-name", "tiers-99-min", "tiers--1-name",
                                      "tiers-0-min", "documents", "digest", "unit", "reason", ""]),
                     st.text(max_size=12))


def one(*valid: str) -> st.SearchStrategy[str]:
    return st.sampled_from(valid)


DAY = st.one_of(
    one("2019-10-25", "25/10/2019", "2019-10-26", "2019-10-31", "2019-11-05", "2019-11-20", "2019-12-02",
        "2019-12-31", "2020-01-01", "2019-09-02", "2019-10-01", "2020-02-29", "1990-01-01", "2100-12-31"),
    st.dates(date(1985, 1, 1), date(2105, 12, 31)).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
)
#: A date near the campaign's, as the date picker or a person types it.
NEAR_DAY = st.dates(date(2019, 9, 1), date(2020, 3, 31)).flatmap(
    lambda d: one(d.isoformat(), f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day}/{d.month}/{d.year}"))
REASON = st.one_of(one("Theo Công văn số 123/UBND-KT ngày 01/11/2019.", "Lý do bất khả kháng: bão số 5."),
                   st.text(alphabet=VIETNAMESE, min_size=1, max_size=200))
UNIT_CODE = one("STC", "SYT", "MYTHO", "MYTHO-P1", "CAIBE", "CAIBE-TT", "PHANTHIET", "stc", " STC ", "KHONGCO")
SCORE = one("95", "92,5", "0", "1000", "100.25", "-1", "1001", "0,01")
EMAILS = one("hoidong@tiengiang.gov.vn", "a@tiengiang.gov.vn, b@tiengiang.gov.vn", "a@x.vn;b@y.vn\nc@z.vn", "")


@st.composite
def form(draw, fields: dict[str, st.SearchStrategy], extra: bool = True) -> dict:
    """Form data: a person's form with a few mistakes (junk in some fields, some left out), or anything at all;
    sometimes a field twice; extra fields."""
    names = list(fields)
    careless = draw(st.sampled_from([False, False, False, True]))
    spoiled = omitted = set()
    if names and not careless:
        n = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
        spoiled = draw(st.sets(st.sampled_from(names), min_size=min(n, len(names)), max_size=min(n, len(names))))
        n = draw(st.sampled_from([0, 0, 0, 1, 2]))
        omitted = draw(st.sets(st.sampled_from(names), min_size=min(n, len(names)), max_size=min(n, len(names))))
    data: dict = {}
    for name, valid in fields.items():
        pick = draw(st.integers(0, 2)) if careless else 2 if name in spoiled else 1 if name in omitted else 0
        if pick == 1:
            continue
        value = draw(JUNK) if pick == 2 else draw(valid)
        if draw(st.integers(0, 19)) == 19:
            value = [value, draw(st.one_of(valid, JUNK))]  # the same field twice
        data[name] = value
    if extra:
        for key, value in draw(st.dictionaries(JUNK_KEY, JUNK, max_size=3)).items():
            data.setdefault(key, value)
    return data


@st.composite
def _segment(draw, valid: tuple[str, ...]) -> str:
    pick = draw(st.sampled_from([0] * 8 + [1, 2]))
    value = valid[0] if pick == 0 else draw(st.sampled_from(valid)) if pick == 1 else draw(JUNK.filter(bool))
    return quote(value, safe="")


def segment(*valid: str) -> st.SearchStrategy[str]:
    """A path segment: mostly the first one given, sometimes another, sometimes junk (URL-quoted: one segment)."""
    return _segment(valid)


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
            "CAIBE-TT,UBND thị trấn Cái Bè,commune,MOI-X,tt@tgg.vn", ",,,,", "X,Y,khong-co,,khong-phai-thu",
            "NUL-1,Tên có \x00 ở giữa,department,,"]
#: More than the first 4 KB that are looked at for NUL bytes, then a NUL.
LONG_CSV = (CSV_HEADER + "".join(f"D{i},Đơn vị số {i},department,,d{i}@tgg.vn\n" for i in range(120))
            + "NUL-2,Tên\x00lạ,department,,\n").encode()


def _xlsx_units() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Mã đơn vị", "Tên đơn vị", "Khối", "Đơn vị cấp trên", "Thư điện tử"])
    ws.append(["STC", "Sở Tài chính", "department", None, "vanthu.stc@tiengiang.gov.vn"])
    ws.append(["MOI", "Đơn vị mới", "Sở, ban, ngành", None, "moi@tgg.vn"])
    ws.append(["MOI-XA", "UBND xã Mới", "commune", "MOI", None])
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
    st.lists(st.lists(JUNK.map(lambda s: s[:200]), min_size=1, max_size=6), max_size=3)
    | st.lists(st.tuples(st.from_regex(r"[A-Z][A-Z0-9-]{0,10}", fullmatch=True), st.text(VIETNAMESE, min_size=1),
                         one("department", "district", "commune", "Sở, ban, ngành", "UBND cấp xã"),
                         one("", "MYTHO", "CAIBE", "STC", "KHONGCO"), EMAILS).map(list), max_size=3),
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
FILE = st.one_of(
    st.tuples(CONTENT, FILENAME),
    st.tuples(st.just(PDF), one("Báo cáo tự chấm điểm.pdf", "HOSO.PDF")), st.tuples(st.just(DOCX), one("a.docx")),
    st.tuples(CSV_FILE, one("don-vi.csv", "DON VI.CSV")), st.tuples(st.just(XLSX), one("đơn vị.xlsx")),
)
FILES = st.one_of(*[st.lists(FILE, min_size=1, max_size=3)] * 3, st.just([]))
#: A dossier: proper documents mostly.
DOSSIER = st.one_of(
    st.lists(st.sampled_from([(PDF, "Báo cáo tự chấm điểm.pdf"), (DOCX, "Bảng điểm.docx"), (XLSX, "Số liệu.xlsx"),
                              (OLE2 + b"\x00" * 64, "cong-van.doc")]), min_size=1, max_size=3),
    FILES)
#: The unit list: one file mostly.
UNIT_FILE = st.one_of(st.lists(FILE, min_size=1, max_size=1), st.lists(FILE, min_size=1, max_size=1), FILES)
#: A unit list that is damaged inside: a broken part of the XLSX zip, a NUL past the first 4 KB, UTF-16…
ODD_UNIT_FILE = st.tuples(st.one_of(BROKEN_OFFICE, st.just(LONG_CSV), CSV_FILE, CONTENT),
                          one("don-vi.xlsx", "don-vi.csv")).map(lambda f: [f])


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
    file_list: st.SearchStrategy[list] = FILES
    json: bool = False              # API: a JSON body and the bearer token
    who: str = "admin"              # admin | focal | anonymous
    when: datetime = GRACE


TGG = "TGG-2019"
#: Stand-ins filled in when the request is sent: the digest of the previewed unit file waiting for confirmation,
#: the calendar feed's token of Sở Tài chính, a fresh sign-in link's and password-reset link's token.
PENDING, ICS, MAGIC, RESET = "XX_PENDING_XX", "XX_ICS_XX", "XX_MAGIC_XX", "XX_RESET_XX"
#: … and a campaign code not used yet.
NEW_CODE = "XX_NEW_CODE_XX"
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


@st.composite
def _mostly(draw, value: str, other: st.SearchStrategy[str], odds: int) -> str:
    return value if draw(st.sampled_from([True] * odds + [False])) else draw(other)


def mostly(value: str, other: st.SearchStrategy[str] = NEAR_DAY, odds: int = 7) -> st.SearchStrategy[str]:
    """The value ``odds`` times out of ``odds + 1`` (a field left as it was), something else otherwise."""
    return _mostly(value, other, odds)


def campaign_fields(new: bool) -> dict[str, st.SearchStrategy]:
    """TGG-2019's form as it is filled in, each field mostly left as it is."""
    fields = {
        "title": mostly("Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019", REASON),
        "year": mostly("2019", one("2020", "1990", "2100", "1989", "2101")),
        "document_number": mostly("1270/STTTT-CNTT&BCVT", one("", "123/QĐ-UBND")),
        "document_date": mostly("2019-10-07"), "data_period_start": mostly(""), "data_period_end": mostly(""),
        "deadline": mostly("2019-10-25", st.one_of(one("25/10/2019", "2019-10-28"), DAY)),
        "grace_working_days": mostly("5", one("0", "60", "3", "61")),
        "preliminary_review": mostly("2019-10-31"), "field_inspection_start": mostly("2019-11-01"),
        "field_inspection_end": mostly("15/11/2019"), "award_notice": mostly(""), "award_dossiers": mostly(""),
        "approval": mostly("2019-12-01"), "publication": mostly(""),
        "council_emails": mostly("", EMAILS), "commune_nomination": one("", "y", "on"),
    }
    for i, (name, minimum) in enumerate([("Xuất sắc", "90"), ("Tốt", "80"), ("Khá", "65"), ("Trung bình", "")]):
        fields[f"tiers-{i}-name"] = mostly(name, one("", "Giỏi", "Xuất sắc"), odds=15)
        fields[f"tiers-{i}-min"] = mostly(minimum, st.one_of(one("95", "70,5", "1e400", "-5", ""), SCORE), odds=15)
    if new:
        fields["code"] = mostly(NEW_CODE, one("TGG-2019", "BTN-2019", "Mới-2020", "a b", "X" * 64, "X" * 65, "-X"))
        fields["state"] = mostly("draft", one("open", "approved"))
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
    # Since issue 13 the token of a mailed link is posted in the form (the link carries it after "#").
    Route("reset", "/password/reset", "POST", st.just("/password/reset"),
          form({"token": one(RESET, "abc", "x" * 43), "password": one("mot-mat-khau-moi-dai", "ngan"),
                "confirm": one("mot-mat-khau-moi-dai", "khac")}), who="anonymous"),
    Route("magic", "/login/link/use", "POST", st.just("/login/link/use"),
          form({"token": one(MAGIC, "abc", "x" * 43)}), who="anonymous"),
    Route("old-reset-link", "/password/reset/<path:token>", "POST",
          path("/password/reset/{t}", t=segment(RESET, "abc", "x" * 43)),
          form({"password": one("mot-mat-khau-moi-dai"), "confirm": one("mot-mat-khau-moi-dai")}), who="anonymous"),
    Route("ics", "/campaigns/<code>/units/<unit_code>/calendar.ics", "GET",
          campaign_path("/units/{unit}/calendar.ics", unit=UNIT),
          query=query({"token": one(ICS, "abc", "W1siYSJdXQ.x")}), who="anonymous"),
    Route("logout", "/logout", "POST", st.just("/logout"), form({})),
    # -- the organizer's actions --
    *[Route(f"act-{name}", "/campaigns/<code>/actions/<action>", "POST",
            campaign_path("/actions/{action}", action=segment(name)), form(fields), when=CLOSED)
      for name, fields in ACTION_FORMS.items()],
    Route("act-unknown", "/campaigns/<code>/actions/<action>", "POST",
          campaign_path("/actions/{action}", action=segment("launch", "delete")), form({"reason": REASON})),
    Route("act-move-in-grace", "/campaigns/<code>/actions/<action>", "POST",
          campaign_path("/actions/move_milestone"), form(ACTION_FORMS["move_milestone"]), when=GRACE),
    Route("nominate-district", "/campaigns/<code>/districts/<district_code>/nomination", "POST",
          campaign_path("/districts/{district}/nomination", district=segment("MYTHO", "CAIBE", "STC", "KHONGCO")),
          form({"unit": UNIT_CODE})),
    # -- bulk actions on the units table (web/pages/dashboard.py) --
    *[Route(f"bulk{suffix.replace('/', '-')}", f"/campaigns/<code>/bulk{suffix}", "POST", campaign_path(f"/bulk{suffix}"),
            form({"action": one("remind", "return", "export_csv", "export_xlsx", "delete"),
                  "scope": one("selected", "filter", "all"),
                  "units": st.lists(UNIT_CODE, max_size=4),
                  "status": one("", "not_submitted", "on_time", "late", "bogus"),
                  "group": one("", "department", "commune"), "q": one("", "Sở", "%_\\"),
                  "reason": REASON, "click": one("AbCdEf0123456789xyz", "short", "", "x" * 80, "a b c d e f g h")}),
            when=when)
      for suffix in ("", "/confirm") for when in (GRACE,)],
    # -- next year's campaign, the award step, letters (web/pages/yearly.py) --
    Route("clone", "/campaigns/<code>/clone", "POST", campaign_path("/clone"), form({
        "code": mostly(NEW_CODE, one("TGG-2019", "", "X" * 65, "a b")),
        "year": one("2020", "2027", "2019", "hai nghìn", "", "99999999999999999999", "2101"),
        "deadline": st.one_of(one("", "31/02/2027", "2027-02-01"), DAY),
        "previewed": one("", "1"), "confirm": one("", "1"), "leave_out": one("", "MYTHO", "KHONGCO", "STC")}),
        when=CLOSED),
    *[Route(f"awards-{name}", "/campaigns/<code>/awards/<action>", "POST",
            campaign_path("/awards/{action}", action=segment(name)), form(fields),
            files="file" if name == "decision" else None, when=CLOSED)
      for name, fields in {
          "propose": {"add": UNIT_CODE, "remove": UNIT_CODE, "reason": REASON},
          "dossier": {"unit": UNIT_CODE, "channel": one("upload", "eoffice", "email", "fax"), "doc_number": REASON,
                      "received_at": st.one_of(one("", "2019-11-20T10:00", "bad", "0001-01-01T00:00"), DAY)},
          "decision": {"number": REASON, "decided_on": DAY, "signer": REASON},
          "publish": {}, "unknown": {"reason": REASON}}.items()],
    Route("letters", "/campaigns/<code>/letters", "POST", campaign_path("/letters"), form({
        "kind": one("launch", "reminder", "exclusion", "results", "x"), "number": REASON, "day": DAY,
        "authority": REASON, "title": REASON, "signer": REASON}), when=CLOSED),
    # -- the calendar --
    Route("override-add", "/calendar/overrides", "POST", st.just("/calendar/overrides"),
          form({"day": DAY, "kind": one("day_off", "working_day"), "reason": REASON,
                "document": one("Quyết định 12/QĐ-UBND", "")})),
    Route("override-remove", "/calendar/overrides/<int:override_id>/remove", "POST",
          path("/calendar/overrides/{id}/remove", id=st.one_of(one("1", "2", "3"), st.integers(-5, 10 ** 12).map(str),
                                                                 JUNK.filter(bool).map(lambda s: quote(s, safe="")))),
          form({"reason": REASON})),
    # An unconfirmed day off decided with its document (24/11/2026 is the one the package lists unconfirmed).
    Route("holiday-decide", "/calendar/holidays/decide", "POST", st.just("/calendar/holidays/decide"),
          form({"day": one("2026-11-24", "24/11/2026", "2019-10-25"), "decision": one("confirmed", "rejected", "x"),
                "doc_number": one("123/TB-LĐTBXH", "", "x" * 200), "doc_date": DAY, "doc_issuer": REASON,
                "stored_name": one("", "../etc/passwd", "a" * 64 + ".pdf"), "sha256": one("", "0" * 64),
                "original_name": REASON}), files="file"),
    Route("calendar-year", "/calendar/<int:year>", "GET",
          path("/calendar/{year}", year=st.one_of(one("2019", "2020", "1990", "2100", "1989", "0", "-1", "02019"),
                                                  st.integers(-10 ** 6, 10 ** 20).map(str)))),
    # -- setting up --
    Route("new-campaign", "/campaigns/new", "POST", st.just("/campaigns/new"), form(campaign_fields(new=True))),
    Route("edit-campaign", "/campaigns/<code>/edit", "POST", campaign_path("/edit"), form(campaign_fields(new=False))),
    Route("edit-campaign-closed", "/campaigns/<code>/edit", "POST", campaign_path("/edit"),
          form(campaign_fields(new=False)), when=CLOSED),
    Route("import-units", "/campaigns/<code>/units/import", "POST", campaign_path("/units/import"), form({}),
          files="file", file_list=UNIT_FILE),
    Route("import-odd-files", "/campaigns/<code>/units/import", "POST", st.just(f"/campaigns/{TGG}/units/import"),
          files="file", file_list=ODD_UNIT_FILE),
    Route("import-confirm", "/campaigns/<code>/units/import/confirm", "POST", campaign_path("/units/import/confirm"),
          form({"digest": one(PENDING, "0" * 64)})),
    Route("import-cancel", "/campaigns/<code>/units/import/cancel", "POST", campaign_path("/units/import/cancel"),
          form({"digest": one(PENDING, "")})),
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
    Route("suggest", "/campaigns/<code>/suggest/<name>", "GET",
          campaign_path("/suggest/{name}", name=segment("return", "confirm", "reinstate", "scores", "nominate",
                                                        "silent")),
          query=query({"q": st.one_of(one("STC", "cai be", "Mỹ Tho", "%", "_", "\\", ""), st.text(max_size=300))})),
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
            campaign_path("/units/{unit}/upload", unit=UNIT), form({}), files="documents", file_list=DOSSIER, who=who,
            when=when)
      for who, phase, when in (("focal", "open", OPEN), ("focal", "grace", GRACE), ("focal", "closed", CLOSED),
                               ("admin", "open", OPEN))],
    *[Route(f"unit-confirm-{who}", "/campaigns/<code>/units/<unit_code>/confirm", "POST",
            campaign_path("/units/{unit}/confirm", unit=UNIT), form({}), who=who, when=CLOSED)
      for who in ("focal", "admin")],
    # The criteria sheet (issue 12): the world gives TGG-2019 a criteria set after seeding.
    *[Route(f"sheet-{what}-{phase}", "/campaigns/<code>/units/<unit_code>/sheet" + suffix, "POST",
            campaign_path("/units/{unit}/sheet" + suffix, unit=UNIT), form({"v-1.1-numerator": one("45", "", "-1", "1e999999999", "4,5"),
                 "v-1.1-denominator": one("50", "0", "", "mười"),
                 "v-1.2-links": one("https://stc.tiengiang.gov.vn/cddh", "không phải link", ""),
                 "v-2.1-na": one("1", ""), "v-2.1-explanation": one("Không có thủ tục hành chính", ""),
                 "v-2.2-yes": one("1", "0", "x"), "action": one("save", "submit", "x")}), who="focal", when=when)
      for what, suffix in (("save", ""), ("score", "/score"))
      for phase, when in (("open", OPEN), ("closed", CLOSED))],
    Route("sheet-verify", "/campaigns/<code>/units/<unit_code>/sheet/verify/<criterion>", "POST",
          campaign_path("/units/{unit}/sheet/verify/{c}", unit=UNIT, c=segment("1.1", "1.2", "2.1", "9.9")),
          form({"stage": one("preliminary_review", "field_inspection", "x"), "change_value": one("1", ""),
                "v-1.1-numerator": one("30", "", "60"), "v-1.1-denominator": one("50", "0"),
                "points": one("3", "", "-1", "abc", "1e999999999", "NaN"), "note": one("Đối chiếu", ""),
                "link_not_found": one("1", "")}), when=CLOSED),
    Route("sheet-send", "/campaigns/<code>/units/<unit_code>/sheet/send", "POST",
          campaign_path("/units/{unit}/sheet/send", unit=UNIT),
          form({"working_days": one("3", "0", "abc", "100", ""), "note": one("Ghi chú", "")}), when=CLOSED),
    Route("sheet-respond", "/campaigns/<code>/units/<unit_code>/sheet/respond", "POST",
          campaign_path("/units/{unit}/sheet/respond", unit=UNIT),
          form({"r-1.1": one("confirmed", "disputed", "x"), "r-1.1-reason": one("Có 45 văn bản", "")}),
          who="focal", when=CLOSED),
    Route("sheet-settle", "/campaigns/<code>/units/<unit_code>/sheet/settle", "POST",
          campaign_path("/units/{unit}/sheet/settle", unit=UNIT), form({"reason": one("Kết luận", "")}),
          when=CLOSED),
    Route("sheet-upload", "/campaigns/<code>/units/<unit_code>/sheet.xlsx", "POST",
          campaign_path("/units/{unit}/sheet.xlsx", unit=UNIT), form({}), files="file", who="focal", when=OPEN),
    # Evidence files on the sheet (issue 12): uploads for criterion 9.9 / 1.1 (not a file criterion), removal by id.
    Route("sheet-evidence", "/campaigns/<code>/units/<unit_code>/sheet/evidence/<criterion>", "POST",
          campaign_path("/units/{unit}/sheet/evidence/{c}", unit=UNIT, c=segment("1.1", "2.1", "9.9")), form({}),
          files="files", who="focal", when=OPEN),
    Route("sheet-evidence-remove", "/campaigns/<code>/units/<unit_code>/sheet/evidence/<int:file_id>/remove", "POST",
          campaign_path("/units/{unit}/sheet/evidence/{id}/remove", unit=UNIT,
                        id=st.one_of(one("1", "2"), st.integers(-1, 10 ** 20).map(str))), form({}),
          who="focal", when=OPEN),
    # The sheets through the API (web/api/sheet_views.py), with the organizer's token.
    Route("api-sheet-submit", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/submit", "POST",
          path("/api/v1/campaigns/{code}/units/{unit}/sheet/submit", code=CAMPAIGN, unit=UNIT),
          form({"values": st.one_of(st.none(), st.just({"1.1": {"numerator": 45, "denominator": 50}}),
                                    st.just({"1.1": {"numerator": 60, "denominator": 0}}))}), json=True, when=OPEN),
    Route("api-sheet-verify", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/criteria/<criterion>/verify", "POST",
          path("/api/v1/campaigns/{code}/units/{unit}/sheet/criteria/{c}/verify", code=CAMPAIGN, unit=UNIT,
               c=segment("1.1", "1.2", "2.1", "9.9")),
          form({"stage": one("preliminary_review", "field_inspection", "x"),
                "points": st.one_of(st.none(), st.floats(allow_nan=True), one("3", "abc", "1e999999999")),
                "value": st.one_of(st.none(), st.just({"numerator": 30, "denominator": 50})),
                "link_not_found": st.booleans(), "note": one("Đối chiếu", "")}), json=True, when=CLOSED),
    Route("api-sheet-confirmation", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/confirmation", "POST",
          path("/api/v1/campaigns/{code}/units/{unit}/sheet/confirmation", code=CAMPAIGN, unit=UNIT),
          form({"working_days": st.one_of(st.integers(-5, 100), one("3")), "note": one("Ghi chú", "")}), json=True,
          when=CLOSED),
    Route("api-confirmation-all", "/api/v1/campaigns/<code>/confirmation", "POST",
          path("/api/v1/campaigns/{code}/confirmation", code=CAMPAIGN),
          form({"working_days": st.one_of(st.integers(-5, 100), one("3")), "note": one("Ghi chú", "")}), json=True,
          when=CLOSED),
    Route("api-sheet-responses", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/responses", "POST",
          path("/api/v1/campaigns/{code}/units/{unit}/sheet/responses", code=CAMPAIGN, unit=UNIT),
          form({"answers": st.one_of(st.just({"1.1": {"answer": "disputed", "reason": ""}}),
                                     st.just({"1.1": {"answer": "confirmed"}}), st.just({}))}), json=True,
          when=CLOSED),
    Route("api-sheet-evidence", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/criteria/<criterion>/evidence",
          "POST", path("/api/v1/campaigns/{code}/units/{unit}/sheet/criteria/{c}/evidence", code=CAMPAIGN, unit=UNIT,
                       c=segment("1.1", "2.1", "9.9")),
          form({"name": one("a.pdf", "", "x" * 300), "content_base64": one("JVBERi0xLjQK", "", "!!")}), json=True,
          when=OPEN),
    Route("api-sheet-evidence-remove", "/api/v1/campaigns/<code>/units/<unit_code>/sheet/evidence/<int:file_id>/remove",
          "POST", path("/api/v1/campaigns/{code}/units/{unit}/sheet/evidence/{id}/remove", code=CAMPAIGN, unit=UNIT,
                       id=st.one_of(one("1", "2"), st.integers(-1, 10 ** 20).map(str))), form({}), json=True,
          when=OPEN),
    Route("unit-page", "/campaigns/<code>/units/<unit_code>", "GET", campaign_path("/units/{unit}", unit=UNIT),
          query=query({}), who="focal"),
    Route("unit-document", "/campaigns/<code>/units/<unit_code>/documents/<int:doc_id>", "GET",
          campaign_path("/units/{unit}/documents/{id}", unit=UNIT,
                        id=st.one_of(one("1", "2"), st.integers(-1, 10 ** 20).map(str))),
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
    # -- the whole year (web/api/year_views.py) --
    *[Route(f"api-{what.replace('/', '-')}", f"/api/v1/campaigns/<code>/{what}", "POST",
            campaign_path("/" + what).map(lambda p: "/api/v1" + p),
            form({"code": one(NEW_CODE, "TGG-2019", "TGG-2020", ""), "year": st.one_of(st.integers(1800, 2300),
                                                                                      one("2020")),
                  "deadline": DAY, "leave_out": st.lists(UNIT_CODE, max_size=3),
                  "leave_out_abolished": st.booleans()}), json=True) for what in ("clone", "clone/preview")],
    Route("api-proposals", "/api/v1/campaigns/<code>/awards/proposals", "POST",
          campaign_path("/awards/proposals").map(lambda p: "/api/v1" + p),
          form({"add": st.lists(UNIT_CODE, max_size=3), "remove": st.lists(UNIT_CODE, max_size=3),
                "reason": REASON}), json=True, when=CLOSED),
    Route("api-decision", "/api/v1/campaigns/<code>/decision", "POST",
          campaign_path("/decision").map(lambda p: "/api/v1" + p),
          form({"number": one("3421/QĐ-UBND", "", "x" * 200), "decided_on": DAY, "signer": REASON,
                "file": st.one_of(st.none(), st.just({"name": "a.pdf", "content_base64": "JVBERi0xLjQK"}))}),
          json=True, when=CLOSED),
    Route("api-publish", "/api/v1/campaigns/<code>/publish", "POST",
          campaign_path("/publish").map(lambda p: "/api/v1" + p), form({"reason": REASON}), json=True,
          when=CLOSED),
    Route("api-milestone-document", "/api/v1/campaigns/<code>/milestones/<kind>/documents", "POST",
          path("/api/v1/campaigns/{code}/milestones/{kind}/documents", code=CAMPAIGN,
               kind=segment("deadline", *MILESTONES)),
          form({"number": one("1270/STTTT-CNTT&BCVT", ""), "date": DAY, "issuer": REASON}), json=True),
]


#: TGG-2019's form as it is.
VALID_EDIT = {"title": "Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019", "year": "2019",
              "document_number": "1270/STTTT-CNTT&BCVT", "document_date": "2019-10-07", "deadline": "2019-10-25",
              "grace_working_days": "5", "preliminary_review": "2019-10-31", "field_inspection_start": "2019-11-01",
              "field_inspection_end": "2019-11-15", "approval": "2019-12-01", "tiers-0-name": "Xuất sắc",
              "tiers-0-min": "90", "tiers-1-name": "Tốt", "tiers-1-min": "80", "tiers-2-name": "Khá",
              "tiers-2-min": "65", "tiers-3-name": "Trung bình"}

#: What the fuzzing found, kept as explicit examples (each was a 500 before its fix).
REGRESSIONS: dict[str, tuple[dict, ...]] = {
    # A number in <int:…> too large for the database ("Python int too large to convert to SQLite INTEGER"):
    # the URL converter now stops at 2**31 - 1 (404).
    "override-remove": ({"path": "/calendar/overrides/99999999999999999999/remove", "data": {"reason": "x"}},),
    "outbox-mail": ({"path": "/outbox/99999999999999999999"},),
    # A 400-digit year or grace: wtforms' NumberRange makes a float of it (OverflowError).
    "new-campaign": ({"path": "/campaigns/new", "data": {"code": NEW_CODE, "year": "9" * 400,
                                                         "grace_working_days": "9" * 400, "deadline": "2020-10-23"}},
                     # A deadline of blanks passed InputRequired and was read as no date: NOT NULL violated.
                     {"path": "/campaigns/new", "data": {**VALID_EDIT, "code": NEW_CODE, "state": "draft",
                                                         "deadline": " "}}),
    "edit-campaign": ({"path": f"/campaigns/{TGG}/edit", "data": {"year": "-" + "9" * 400}},
                      {"path": f"/campaigns/{TGG}/edit",
                       "data": {**VALID_EDIT, "deadline": " ", "reason": "Lùi hạn."}}),
    # A NUL byte in a path segment or a field: PostgreSQL "text fields cannot contain NUL (0x00) bytes" (400 now).
    "act-return_dossier": ({"path": "/campaigns/%00/actions/return_dossier"},
                           {"path": f"/campaigns/{TGG}/actions/return_dossier",
                            "data": {"unit": "STC\x00", "reason": "Thiếu bảng điểm."}}),
    "audit": ({"path": "/campaigns/%00%00/audit"},),
    "unit-page": ({"path": f"/campaigns/{TGG}/units/%00"},),
    "unit-confirm-focal": ({"path": f"/campaigns/{TGG}/units/S%00TC/confirm"},),
    "override-add": ({"path": "/calendar/overrides", "data": {"day": "2019-11-20", "kind": "day_off",
                                                              "reason": "Bão\x00"}},),
    # A unit list damaged inside: a broken XML part of the XLSX (xml.etree ParseError while the rows are read),
    # a NUL in a CSV past the first 4 KB or in a UTF-16 CSV (then PostgreSQL refused the unit's name).
    "import-odd-files": tuple(
        {"path": f"/campaigns/{TGG}/units/import", "files": [(content, name)]} for content, name in (
            (_replace_member(XLSX, "xl/worksheets/sheet1.xml", b"<?xml version='1.0'?><a>"), "don-vi.xlsx"),
            (_replace_member(XLSX, "xl/styles.xml", b""), "don-vi.xlsx"),
            (_replace_member(XLSX, "xl/worksheets/sheet1.xml", zipfile.ZipFile(io.BytesIO(XLSX)).read(
                "xl/worksheets/sheet1.xml").replace(b't="inlineStr"><is><t>MOI</t></is>', b"><v>abc</v>")),
             "don-vi.xlsx"),
            (LONG_CSV, "don-vi.csv"),
            ((CSV_HEADER + CSV_ROWS[-1]).encode("utf-16"), "don-vi.csv"))),
}


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
    CALLS[route.id, response.status_code] += 1
    body = response.get_data()
    response.close()  # a download streams its file
    assert response.status_code < 500, (route.id, request, response.status_code, body[:2000])
    if (response.mimetype or "").startswith("text/html"):
        assert b"Traceback" not in body, (route.id, request, body[:2000])


def _requests(route: Route) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"path": route.path, "data": route.data, "query": route.query,
                                  "files": route.file_list if route.files else st.just([])})


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
    """Dossiers with a document, a confirmation request, local days off: so the actions have something to act on
    (after grace, the units that sent nothing are excluded)."""
    from workflow import operations as ops
    from workflow.calendars import add_override
    from workflow.models import Organizer
    from workflow.storage import store_document

    tgg = world["tgg"]
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == tgg.organizer_id))}
    with time_machine.travel(OPEN, tick=False):
        folder = app.config["UPLOAD_FOLDER"]
        for code, when in (("STC", OPEN), ("MYTHO-P1", OPEN), ("SYT", GRACE)):
            stored = store_document(folder, "Báo cáo.pdf", PDF)
            ops.record_submission(tgg, units[code], received_at=when, channel="upload", recorded_by="test", now=when,
                                  documents=[ops.DocumentInput(stored.original_name, stored.sha256, stored)])
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
    if route.id in ("import-confirm", "import-cancel"):
        def prepare():  # a previewed file waiting for confirmation: confirm and cancel have something to find
            client.post(f"/campaigns/{TGG}/units/import", content_type="multipart/form-data",
                        data={"file": (io.BytesIO((CSV_HEADER + CSV_ROWS[1]).encode()), "don-vi.csv")})

        session.prepare = prepare
    return session


def _pending_digest(client) -> str:
    with client.session_transaction() as s:
        return (s.get("unit_import") or {}).get("digest", "")


def _fill(request: dict, client, world) -> dict:
    """Put the real digest, tokens and links in place of their stand-ins."""
    from web.pages.unit import ics_token
    from workflow.accounts import issue_link
    from workflow.db import utcnow
    from workflow.models import User

    text = repr(request)
    wanted = [stand_in for stand_in in (PENDING, ICS, MAGIC, RESET, NEW_CODE) if stand_in in text]
    if not wanted:
        return request
    admin = db.session.scalar(select(User).where(User.email == world["users"]["admin"].email))
    make = {PENDING: lambda: _pending_digest(client),
            ICS: lambda: ics_token(world["tgg"], db.session.scalar(select(Unit).where(
                Unit.organizer_id == world["tgg"].organizer_id, Unit.code == "STC"))),
            MAGIC: lambda: issue_link(admin, "magic", utcnow()), RESET: lambda: issue_link(admin, "reset", utcnow()),
            NEW_CODE: lambda: f"TGG-{random.getrandbits(48):012x}"}
    real = {stand_in: make[stand_in]() for stand_in in wanted}
    db.session.commit()

    def put(value):
        if isinstance(value, str):
            for stand_in, text in real.items():
                value = value.replace(stand_in, text)
            return value
        if isinstance(value, dict):
            return {put(k): put(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(put(v) for v in value)
        return value

    return put(request)


@pytest.fixture(scope="module", autouse=True)
def _stats():
    yield
    if os.environ.get("HANCHOT_FUZZ_STATS"):
        routes: dict[str, list[str]] = {}
        for (route_id, status), n in sorted(CALLS.items()):
            routes.setdefault(route_id, []).append(f"{status}×{n}")
        print(f"\n{sum(CALLS.values())} requests")
        for route_id, counts in routes.items():
            print(f"  {route_id}: {' '.join(counts)}")


@pytest.fixture
def world(app, two_provinces, tmp_path):
    app.config["UNIT_IMPORT_FOLDER"] = str(tmp_path / "unit-imports")
    _seed(app, two_provinces)
    # A criteria set for the sheet routes (after seeding: with a set, the whole-dossier confirmation is refused).
    from tests.test_evaluation import CAMPAIGN as WITH_CRITERIA
    from workflow.campaign_files import parse_criteria, replace_criteria

    sets = parse_criteria("criteria:" + WITH_CRITERIA.split("criteria:", 1)[1], {"department", "district", "commune"})
    replace_criteria(two_provinces["tgg"], sets, actor="test", now=CLOSED)
    db.session.commit()
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
            request = _fill(request, client, world)
            response = _send(client, route, request, api_token)
            _check(response, route, request)
            if route.id.startswith("import-") and route.files and response.status_code == 200:
                digest = _pending_digest(client)
                if digest:  # what was previewed is saved: the whole import path, fuzzed
                    confirmed = client.post(f"/campaigns/{TGG}/units/import/confirm", data={"digest": digest})
                    _check(confirmed, route, request)

        for regression in REGRESSIONS.get(route.id, ()):
            run = example(request={"path": "", "data": {}, "query": {}, "files": [], **regression})(run)
        run()


def test_every_post_route_is_fuzzed(app):
    """A new form is fuzzed too: every rule that accepts POST has a Route here, and every regression a route."""
    covered = {r.rule for r in ROUTES}
    posting = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posting <= covered, sorted(posting - covered)
    assert set(REGRESSIONS) <= {r.id for r in ROUTES}
