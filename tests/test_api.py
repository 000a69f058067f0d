"""The JSON API (/api/v1, docs/api.md): tokens, scopes, isolation, reads, writes, idempotency, ETags, cursors.

Seeded with the campaigns of ``two_provinces`` (tests/conftest.py): TGG-2019 (Tiền Giang: deadline Friday
25/10/2019, 5 working days of grace, so grace ends at 24:00 on Friday
1/11/2019) and BTN-2019 (Bình Thuận, which has a unit coded STC too).  Writes
run at a travelled clock; every test runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from cli.tokens import token_cli
from tests.conftest import TWO_PROVINCES, local
from workflow.api_tokens import create_token, hash_token
from workflow.calendars import add_override
from workflow.db import db
from workflow.models import (
    ApiToken,
    AuditEvent,
    Campaign,
    IdempotencyRecord,
    Organizer,
    Participation,
    Submission,
    Unit,
)

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SHA = "9f2c4e1b7a3d5f60c8e2a4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5"
SUBMISSION = {"received_at": "2019-10-24T15:30:00+07:00", "doc_number": "2345/VBĐ", "channel": "eoffice",
              "documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf", "sha256": SHA, "size": 183422}]}
IN_TIME = local(2019, 10, 24, 16, 0)
#: What a unit's own token sends: its documents, with their content (no channel, number or instant:
#: those are the organizer's staff's, tests/test_dossier_hardening.py).
UNIT_SUBMISSION = {"documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf",
                                  "content_base64": base64.b64encode(PDF).decode()}]}


def _org(code: str) -> Organizer:
    return db.session.scalar(select(Organizer).where(Organizer.code == code))


def _unit(org: str, code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.organizer_id == _org(org).id, Unit.code == code))


def make_token(org: str, *scopes: str, unit: str | None = None, name: str = "VNPT iOffice") -> str:
    issued = create_token(organizer=_org(org), unit=_unit(org, unit) if unit else None, scopes=list(scopes),
                          name=name, actor="test")
    db.session.commit()
    return issued.token


@pytest.fixture
def provinces(make_campaign):
    """The ``two_provinces`` campaigns and units, without its accounts: the API knows tokens, not people."""
    return {"tgg": make_campaign(TWO_PROVINCES["TGG"], now="2019-10-07T08:00:00+07:00"),
            "btn": make_campaign(TWO_PROVINCES["BTN"], now="2019-08-07T08:00:00+07:00")}


@pytest.fixture
def tokens(provinces):
    return {
        "tgg": make_token("TGG", "read", "record", "manage"),
        "tgg_read": make_token("TGG", "read", name="Báo cáo"),
        "tgg_record": make_token("TGG", "record", name="iOffice ghi"),
        "stc": make_token("TGG", "read", "record", unit="STC", name="iOffice Sở Tài chính"),
        "btn": make_token("BTN", "read", "record", "manage", name="BTN script"),
    }


class Api:
    def __init__(self, client):
        self.client = client

    def __call__(self, method: str, url: str, token: str | None = None, *, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url, token=None, **kwargs):
        return self("GET", url, token, **kwargs)

    def post(self, url, token=None, **kwargs):
        return self("POST", url, token, **kwargs)


@pytest.fixture
def api(client):
    return Api(client)


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["detail"] and body["detail_vi"] and body["title"]
    assert body["detail_vi"] != body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def submissions_of(org: str, unit: str) -> int:
    return db.session.scalar(select(func.count(Submission.id)).join(Participation)
                             .where(Participation.unit_id == _unit(org, unit).id))


# -- the document and its rendering ------------------------------------------------------------------------------

def test_the_openapi_document_describes_every_route_of_the_api(app, api):
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/docs":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            # (a path may be served by several rules, one per method: GET and POST of the same path)
            served[path] = sorted({*served.get(path, []), *(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})})
    assert served == {path: sorted(ops) for path, ops in doc["paths"].items()}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["operationId"] and op["summary"] and op["responses"]
            if op.get("security", doc["security"]):
                assert "401" in op["responses"], (method, path)
            for code, resp in op["responses"].items():
                if code.startswith("4"):
                    assert resp == {"$ref": resp["$ref"]} and resp["$ref"].startswith("#/components/responses/")
    problem = doc["components"]["schemas"]["Problem"]
    assert {"detail", "detail_vi", "status"} <= set(problem["required"]) and "field" in problem["properties"]


def test_the_served_document_is_a_valid_openapi_3_1_document(api):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    doc = api.get("/api/v1/openapi.json").get_json()
    validate(doc)  # raises on any fault of the document
    broken = {**doc, "paths": {"/x": {"get": {"parameters": [{"name": "a", "in": "nowhere"}]}}}}
    with pytest.raises(OpenAPIValidationError):  # the check can fail
        validate(broken)


def test_the_documented_limits_are_the_enforced_ones(api, tokens):
    """One contract: what the document states is what the validation refuses (web/api/models.py)."""
    doc = api.get("/api/v1/openapi.json").get_json()
    limit = next(p for p in doc["paths"]["/api/v1/campaigns"]["get"]["parameters"] if p["name"] == "limit")["schema"]
    t = tokens["tgg"]
    assert api.get(f"/api/v1/campaigns?limit={limit['maximum']}", t).status_code == 200
    assert_problem(api.get(f"/api/v1/campaigns?limit={limit['maximum'] + 1}", t), 422, "limit")
    body = doc["components"]["schemas"]["SubmissionIn"]["properties"]["doc_number"]
    with time_machine.travel(IN_TIME, tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", t,
                                json={**SUBMISSION, "doc_number": "x" * (body["maxLength"] + 1)}), 422, "doc_number")
    assert submissions_of("TGG", "STC") == 0


def test_a_cursor_beyond_the_databases_integer_range_is_refused_not_a_500(api, tokens):
    """Issue 13: a cursor for id 2147483648 gave 500 on PostgreSQL (integer out of range)."""
    from web.api.types import encode_cursor

    t = tokens["tgg"]
    for url in ["/api/v1/campaigns", "/api/v1/campaigns/TGG-2019/units"]:
        last = api.get(f"{url}?cursor={encode_cursor(2**31 - 1)}", t)
        assert last.status_code == 200 and last.get_json()["items"] == [] and last.get_json()["next_cursor"] is None
        for beyond in (2**31, 10**18 - 1):
            assert_problem(api.get(f"{url}?cursor={encode_cursor(beyond)}", t), 422, "cursor")


def test_an_answer_off_its_contract_is_a_logged_500_problem(app, api, tokens, monkeypatch):
    """Answers are checked against their models too: a bug shows as a problem, not as an off-spec answer."""
    from web.api import views as api_module

    logged = []
    # (the logger itself, not caplog: Alembic's fileConfig may have disabled existing loggers in this process)
    monkeypatch.setattr(app.logger, "error", lambda message, *args: logged.append(message % args))
    monkeypatch.setattr(api_module, "timeline_document", lambda campaign, now: {"campaign": campaign.code})
    response = api.get("/api/v1/campaigns/TGG-2019/timeline", tokens["tgg"])
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "Server error" and "milestones" not in response.get_data(as_text=True)
    assert len(logged) == 1 and "off its contract" in logged[0] and "milestones" in logged[0]


def test_the_rendered_documentation_is_served_locally(api):
    response = api.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    doc = api.get("/api/v1/openapi.json").get_json()
    for ops in doc["paths"].values():
        for op in ops.values():
            assert f'id="{op["operationId"]}"' in html
    assert "Idempotency-Key" in html and "If-None-Match" in html and "detail_vi" in html
    assert "curl -sS -X POST" in html
    # Nothing from elsewhere: no CDN (restrictive networks, and the CSP forbids it).
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script>" not in html and "style=" not in html


def test_the_documentation_page_follows_the_ui_language(app, api):
    from markupsafe import escape

    from web.api.docs import INTRO, SECTIONS, SUMMARIES, inline_markdown, intro_paragraphs

    doc = api.get("/api/v1/openapi.json").get_json()
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    # Every operation and section has its Vietnamese words, and the introduction every paragraph.
    assert set(SUMMARIES) == {op["operationId"] for op in operations}
    assert set(SECTIONS) == {t["name"] for t in doc["tags"]}
    assert len(INTRO) == len(intro_paragraphs(doc))

    vi = api.get("/api/v1/docs").get_data(as_text=True)
    assert '<html lang="vi">' in vi
    for label in ("Tham số", "Câu trả lời", "Nội dung gửi", "Lược đồ dữ liệu", "Xác thực:", "Bắt buộc"):
        assert label in vi
    for english in ("Parameters", "Responses", "Request body", "Schemas", "Authentication", "có / yes"):
        assert english not in vi, english
    with app.test_request_context("/"):  # the Vietnamese words themselves
        summaries = [str(escape(str(SUMMARIES[op["operationId"]]))) for op in operations]
        scopes_paragraph = str(inline_markdown(str(INTRO[1])))
    for summary in summaries:
        assert f'<div class="fw-semibold mt-1">{summary}</div>' in vi
    assert scopes_paragraph in vi and "`read`" not in vi
    assert "<code>read</code>: Đọc đợt đánh giá, mốc thời gian" in vi
    assert "một trong: " in vi and " hoặc null" in vi

    en = api.get("/api/v1/docs?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en
    for label in ("Parameters", "Responses", "Request body", "Schemas", "Authentication:", "Required"):
        assert label in en
    for vietnamese in ("Tham số", "Câu trả lời", "Lược đồ", "Xác thực", "hoặc null"):
        assert vietnamese not in en, vietnamese
    # In English the page says what the OpenAPI document says, word for word.
    for op in operations:
        assert f'<div class="fw-semibold mt-1">{escape(op["summary"])}</div>' in en, op["operationId"]
    for tag in doc["tags"]:
        assert str(escape(tag["description"])) in en
    for paragraph in intro_paragraphs(doc):
        assert f"<p>{inline_markdown(paragraph)}</p>" in en
    assert str(inline_markdown(doc["components"]["securitySchemes"]["bearerAuth"]["description"])) in en
    assert "one of: " in en and " or null" in en


# -- tokens -------------------------------------------------------------------------------------------------------

def test_the_cli_creates_a_token_shown_once_lists_and_revokes_it(runner, provinces, api):
    result = runner.invoke(token_cli, ["create", "--organizer", "TGG", "--scope", "read", "--scope", "record",
                                       "--name", "VNPT iOffice"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"hc_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", token)
    assert "Shown once" in result.stderr
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    assert row.scopes == ["read", "record"] and row.prefix == token.split("_")[1] and row.unit_id is None
    assert token not in json.dumps([row.token_hash, row.prefix, row.name])
    assert api.get("/api/v1/me", token).get_json()["scopes"] == ["read", "record"]

    listing = runner.invoke(token_cli, ["list", "--organizer", "TGG"])
    assert row.prefix in listing.output and token not in listing.output

    refused = runner.invoke(token_cli, ["create", "--organizer", "TGG", "--unit", "STC", "--scope", "manage",
                                        "--name", "x"])
    assert refused.exit_code == 2 and "cannot have scope(s) manage" in refused.output
    assert runner.invoke(token_cli, ["create", "--organizer", "TGG", "--unit", "PHANTHIET", "--scope", "read",
                                     "--name", "x"]).exit_code == 2

    assert runner.invoke(token_cli, ["revoke", row.prefix, "--reason", "rotated"]).exit_code == 0
    assert runner.invoke(token_cli, ["revoke", str(row.id)]).exit_code == 2  # already revoked
    audit = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("api_token.%"))).all()
    assert audit == ["api_token.created", "api_token.revoked"]


def test_a_revoked_token_is_refused_at_once(runner, api, tokens):
    assert api.get("/api/v1/campaigns", tokens["tgg"]).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(tokens["tgg"])))
    assert runner.invoke(token_cli, ["revoke", str(row.id)]).exit_code == 0
    response = api.get("/api/v1/campaigns", tokens["tgg"])
    assert_problem(response, 401, "Authorization")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    with time_machine.travel(IN_TIME, tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"],
                                json=SUBMISSION), 401)
    assert submissions_of("TGG", "STC") == 0
    assert api.get("/api/v1/campaigns", tokens["tgg_read"]).status_code == 200  # the others still work


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer hc_zzzz_short",
                                    "Bearer hc_0123abcd_" + "A" * 43, "Token {token}", "Bearer {token}x"])
def test_missing_or_malformed_tokens_are_refused(api, tokens, header):
    headers = {} if header is None else {"Authorization": header.format(token=tokens["tgg"])}
    response = api.get("/api/v1/campaigns", headers=headers)
    assert_problem(response, 401, "Authorization")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="han-chot"')


def test_a_token_without_the_scope_is_refused(api, tokens):
    with time_machine.travel(IN_TIME, tick=False):
        body = assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg_read"],
                                       json=SUBMISSION), 403, "Authorization")
        assert "record" in body["detail"] and "record" in body["detail_vi"]
        assert_problem(api.get("/api/v1/campaigns", tokens["tgg_record"]), 403)
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/steps", tokens["tgg_record"],
                                json={"step": "review_done"}), 403)
        # A unit's token never manages, whatever it holds.
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/return", tokens["stc"],
                                json={"reason": "x"}), 403)
    assert submissions_of("TGG", "STC") == 0
    assert api.get("/api/v1/me", tokens["tgg_record"]).status_code == 200  # needs no scope


def test_last_use_is_noted(api, tokens):
    with time_machine.travel(IN_TIME, tick=False):
        api.get("/api/v1/me", tokens["tgg"])
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(tokens["tgg"])))
    assert row.last_used_at == IN_TIME


# -- isolation ------------------------------------------------------------------------------------------------------

def test_a_units_token_reads_only_its_own_unit(api, tokens):
    t = tokens["stc"]
    campaigns = api.get("/api/v1/campaigns", t).get_json()
    assert [c["code"] for c in campaigns["items"]] == ["TGG-2019"]
    assert campaigns["items"][0]["counts"] is None  # nothing about the other units
    assert api.get("/api/v1/campaigns/TGG-2019", t).get_json()["counts"] is None
    assert [u["code"] for u in api.get("/api/v1/campaigns/TGG-2019/units", t).get_json()["items"]] == ["STC"]
    assert api.get("/api/v1/campaigns/TGG-2019/units/STC", t).get_json()["code"] == "STC"
    assert api.get("/api/v1/campaigns/TGG-2019/my-status", t).get_json()["code"] == "STC"
    for url in ["/api/v1/campaigns/TGG-2019/units/SYT", "/api/v1/campaigns/TGG-2019/units/MYTHO",
                # Another organizer's campaign, and its own unit called STC too:
                "/api/v1/campaigns/BTN-2019", "/api/v1/campaigns/BTN-2019/units", "/api/v1/campaigns/BTN-2019/timeline",
                "/api/v1/campaigns/BTN-2019/units/STC", "/api/v1/campaigns/BTN-2019/my-status"]:
        assert_problem(api.get(url, t), 404)
    # Missing and forbidden look the same.
    missing = api.get("/api/v1/campaigns/TGG-2019/units/NOPE", t).get_json()
    other = api.get("/api/v1/campaigns/TGG-2019/units/SYT", t).get_json()
    assert missing == other


def test_a_units_token_writes_only_its_own_unit(api, tokens):
    t = tokens["stc"]
    with time_machine.travel(IN_TIME, tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/SYT/submissions", t, json=SUBMISSION), 404)
        assert_problem(api.post("/api/v1/campaigns/BTN-2019/units/STC/submissions", t, json=SUBMISSION), 404)
        assert submissions_of("TGG", "SYT") == 0 and submissions_of("BTN", "STC") == 0
        response = api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", t, json=UNIT_SUBMISSION)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert submissions_of("TGG", "STC") == 1


def test_an_organizers_token_cannot_reach_another_organizer(api, tokens):
    for url in ["/api/v1/campaigns/BTN-2019", "/api/v1/campaigns/BTN-2019/units",
                "/api/v1/campaigns/BTN-2019/units/STC", "/api/v1/campaigns/BTN-2019/timeline"]:
        assert_problem(api.get(url, tokens["tgg"]), 404)
    assert [c["code"] for c in api.get("/api/v1/campaigns", tokens["tgg"]).get_json()["items"]] == ["TGG-2019"]
    assert [c["code"] for c in api.get("/api/v1/campaigns", tokens["btn"]).get_json()["items"]] == ["BTN-2019"]
    with time_machine.travel(local(2019, 9, 10, 9, 0), tick=False):
        body = dict(SUBMISSION, received_at="2019-09-10T08:00:00+07:00")
        assert_problem(api.post("/api/v1/campaigns/BTN-2019/units/STC/submissions", tokens["tgg"], json=body), 404)
        for path, payload in [("steps", {"step": "cancel", "reason": "x"}),
                              ("milestones/deadline/move", {"end": "2019-09-30", "reason": "x"}),
                              ("units/STC/return", {"reason": "x"}), ("units/STC/reinstate", {"reason": "x"})]:
            assert_problem(api.post(f"/api/v1/campaigns/BTN-2019/{path}", tokens["tgg"], json=payload), 404)
    btn = db.session.scalar(select(Campaign).where(Campaign.code == "BTN-2019"))
    assert btn.state == "open" and btn.deadline.isoformat() == "2019-09-15"
    assert submissions_of("BTN", "STC") == 0


# -- reads ------------------------------------------------------------------------------------------------------------

def test_me(api, tokens):
    me = api.get("/api/v1/me", tokens["stc"]).get_json()
    assert me["organizer"]["code"] == "TGG" and me["unit"] == {"code": "STC", "name": "Sở Tài chính"}
    assert me["scopes"] == ["read", "record"] and me["name"] == "iOffice Sở Tài chính"


def test_a_campaign_and_its_timeline_with_computed_instants_and_explanations(api, tokens):
    with time_machine.travel(local(2019, 10, 20, 9, 0), tick=False):
        c = api.get("/api/v1/campaigns/TGG-2019", tokens["tgg"]).get_json()
        tl = api.get("/api/v1/campaigns/TGG-2019/timeline", tokens["tgg"]).get_json()
    assert c["state"] == "open" and c["state_name"] == "Đang nhận hồ sơ" and c["state_name_en"] == "Accepting submissions"
    assert c["deadline"] == "2019-10-25" and c["deadline_at"] == "2019-10-26T00:00:00+07:00"
    assert c["grace_ends_at"] == "2019-11-02T00:00:00+07:00"
    assert c["counts"]["not_submitted"] == 6
    kinds = [m["kind"] for m in tl["milestones"]]
    assert kinds[:2] == ["deadline", "grace_end"] and "field_inspection" in kinds
    grace = tl["milestones"][1]
    assert grace["computed"] and grace["end"] == "2019-11-01"
    assert grace["explanation"]["vi"][0].startswith("5 ngày làm việc kể từ Thứ Sáu 25/10/2019")
    assert any("Thứ Bảy 26/10/2019: không tính" in line for line in grace["explanation"]["vi"])
    assert grace["explanation"]["en"][0].startswith("5 working days counted from Friday 25/10/2019")
    inspection = next(m for m in tl["milestones"] if m["kind"] == "field_inspection")
    assert inspection["start"] == "2019-11-01" and inspection["explanation"] is None
    # Time moves the state shown, never stale:
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        c = api.get("/api/v1/campaigns/TGG-2019", tokens["tgg"]).get_json()
    assert c["state"] == "preliminary_review" and c["recorded_state"] == "open" and c["counts"]["excluded"] == 6


def test_units_and_their_status_match_the_cli_json(api, tokens, runner):
    with time_machine.travel(IN_TIME, tick=False):
        api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"], json=SUBMISSION)
        page = api.get("/api/v1/campaigns/TGG-2019/units", tokens["tgg"]).get_json()
    cli = json.loads(runner.invoke(args=["campaign", "status", "TGG-2019", "--json", "--now",
                                         IN_TIME.isoformat()]).output)
    by_code = {u["code"]: u for u in page["items"]}
    for unit in cli["units"]:
        assert {k: v for k, v in by_code[unit["code"]].items() if k != "status_name_en"} == unit
    assert by_code["STC"]["status"] == "on_time" and by_code["STC"]["status_name_en"] == "On time"
    assert by_code["MYTHO-P1"]["parent"] == "MYTHO"


@pytest.mark.parametrize("query, last_day, ends_at, rolled_from", [
    ("date=2019-10-25&days=5", "2019-11-01", "2019-11-02T00:00:00+07:00", None),
    # 10 calendar days from Thu 5/9/2019 end on Sunday 15/9: carried to Monday 16/9 (art. 148).
    ("date=2019-09-05&days=10&calendar_days=true", "2019-09-16", "2019-09-17T00:00:00+07:00", "2019-09-15"),
    ("date=2019-09-05&days=10&calendar_days=false", "2019-09-19", "2019-09-20T00:00:00+07:00", None),
    ("date=2019-10-25&days=0", "2019-10-25", "2019-10-26T00:00:00+07:00", None),
])
def test_workdays_add(api, tokens, query, last_day, ends_at, rolled_from):
    body = api.get(f"/api/v1/workdays/add?{query}", tokens["tgg_read"]).get_json()
    assert (body["last_day"], body["ends_at"], body["rolled_from"]) == (last_day, ends_at, rolled_from)
    assert body["explanation"]["vi"] and body["explanation"]["en"] and body["organizer"] == "TGG"


def test_workdays_use_the_tokens_organizers_calendar(api, tokens):
    add_override(day=__import__("datetime").date(2019, 10, 28), kind="day_off", reason="Nghỉ tránh bão số 5",
                 document="Công văn 4567/UBND-KT", organizer=_org("TGG"), actor="test")
    db.session.commit()
    tgg = api.get("/api/v1/workdays/add?date=2019-10-25&days=5", tokens["tgg"]).get_json()
    btn = api.get("/api/v1/workdays/add?date=2019-10-25&days=5", tokens["btn"]).get_json()
    assert tgg["last_day"] == "2019-11-04" and btn["last_day"] == "2019-11-01"
    day = api.get("/api/v1/workdays/is-working?date=2019-10-28", tokens["tgg"]).get_json()
    assert day == {"date": "2019-10-28", "working": False, "reason": "local_day_off", "name": "Nghỉ tránh bão số 5",
                   "name_en": "Nghỉ tránh bão số 5", "document": "Công văn 4567/UBND-KT", "organizer": "TGG",
                   "explanation": {"vi": "Nghỉ tránh bão số 5 (theo Công văn 4567/UBND-KT)",
                                   "en": "Nghỉ tránh bão số 5 (per Công văn 4567/UBND-KT)"}}
    national = api.get("/api/v1/workdays/is-working?date=2019-09-02", tokens["btn"]).get_json()
    assert national["working"] is False and national["reason"] == "holiday"
    assert api.get("/api/v1/workdays/is-working?date=2019-10-28", tokens["btn"]).get_json()["working"] is True


def test_workdays_need_a_read_token(api, tokens):
    assert_problem(api.get("/api/v1/workdays/is-working?date=2019-09-02"), 401)
    assert_problem(api.get("/api/v1/workdays/is-working?date=2019-09-02", tokens["tgg_record"]), 403)


# -- writes ----------------------------------------------------------------------------------------------------------

def test_record_a_dossier_received_through_eoffice(api, tokens):
    with time_machine.travel(IN_TIME, tick=False):
        response = api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"], json=SUBMISSION)
    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.get_json()
    assert receipt["receipt_number"] == "TGG-2019/STC/1" and receipt["version"] == 1
    assert receipt["received_at"] == "2019-10-24T15:30:00+07:00" and receipt["doc_number"] == "2345/VBĐ"
    assert receipt["recorded_by"] == "api:VNPT iOffice" and receipt["late_working_days"] == 0
    assert receipt["documents"] == [{"name": "bao-cao-ung-dung-cntt-2019.pdf", "sha256": SHA, "size": 183422,
                                     "stored": False}]
    assert receipt["unit"]["status"] == "on_time" and receipt["unit"]["versions"] == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "submission.received"))
    assert event.actor == "api:VNPT iOffice" and "#2345/VBĐ" in event.to_value and event.at == IN_TIME


def test_record_a_dossier_with_its_content_stored_here(app, api, tokens):
    doc = {"name": "bao-cao.pdf", "content_base64": base64.b64encode(PDF).decode()}
    with time_machine.travel(local(2019, 10, 28, 9, 0), tick=False):
        wrong = {**doc, "sha256": "0" * 64}
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/SYT/submissions", tokens["tgg"],
                                json={**SUBMISSION, "documents": [wrong]}), 422, "documents[0].sha256")
        fake = {"name": "bao-cao.pdf", "content_base64": base64.b64encode(b"MZ not a pdf").decode()}
        body = assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/SYT/submissions", tokens["tgg"],
                                       json={**SUBMISSION, "documents": [fake]}), 422, "documents[0].content_base64")
        assert "PDF" in body["detail_vi"]
        response = api.post("/api/v1/campaigns/TGG-2019/units/SYT/submissions", tokens["tgg"],
                            json={**SUBMISSION, "received_at": "2019-10-28T08:00:00+07:00", "documents": [doc]})
    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.get_json()
    assert receipt["documents"][0]["sha256"] == hashlib.sha256(PDF).hexdigest() and receipt["documents"][0]["stored"]
    assert receipt["unit"]["status"] == "late" and receipt["late_working_days"] == 1
    stored = list(Path(app.config["UPLOAD_FOLDER"]).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == PDF


def test_a_dossier_after_grace_is_refused_by_the_same_rules(app, api, tokens):
    doc = {"name": "bao-cao.pdf", "content_base64": base64.b64encode(PDF).decode()}
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        body = assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"],
                                       json={**SUBMISSION, "received_at": "2019-11-04T09:00:00+07:00",
                                             "documents": [doc]}), 409, "unit")
    assert "bị loại" in body["detail_vi"] and "excluded" in body["detail"]
    assert submissions_of("TGG", "STC") == 0
    assert not list(Path(app.config["UPLOAD_FOLDER"]).glob("*"))  # the stored file was removed


@pytest.mark.parametrize("change, status, field", [
    ({"received_at": None}, 422, "received_at"),
    ({"received_at": "2019-10-24T15:30:00"}, 422, "received_at"),          # no offset
    ({"received_at": "24/10/2019 15:30"}, 422, "received_at"),
    ({"received_at": "2019-10-24T25:30:00+07:00"}, 422, "received_at"),
    ({"received_at": "2019-10-25T09:00:00+07:00"}, 422, "received_at"),    # in the future of the clock
    ({"doc_number": None}, 422, "doc_number"),
    ({"doc_number": "  "}, 422, "doc_number"),
    ({"doc_number": "12\x00"}, 422, "doc_number"),
    ({"doc_number": 12}, 422, "doc_number"),
    ({"channel": "upload"}, 422, "channel"),
    ({"documents": "bao-cao.pdf"}, 422, "documents"),
    ({"documents": [{"name": "a.pdf"}]}, 422, "documents[0].sha256"),
    ({"documents": [{"name": "../a.pdf", "sha256": SHA}]}, 422, "documents[0].name"),
    ({"documents": [{"name": "a.pdf", "sha256": "xyz"}]}, 422, "documents[0].sha256"),
    ({"documents": [{"name": "a.pdf", "sha256": SHA, "size": -1}]}, 422, "documents[0].size"),
    ({"documents": [{"name": "a.pdf", "sha256": SHA, "owner": "x"}]}, 422, "owner"),
    ({"documents": [{"name": "a.pdf", "content_base64": "%%%"}]}, 422, "documents[0].content_base64"),
    ({"documents": [{"name": "a.pdf", "sha256": SHA, "content_base64": None}]}, 422, "documents[0].content_base64"),
    ({"documents": [{"name": "a.pdf", "sha256": None}]}, 422, "documents[0].sha256"),
    ({"doc_number": "null"}, 201, None),
    ({"extra": 1}, 422, "extra"),
])
def test_bad_input_is_a_4xx_problem_naming_the_field(api, tokens, change, status, field):
    body = {k: v for k, v in {**SUBMISSION, **change}.items() if v is not None}
    with time_machine.travel(IN_TIME, tick=False):
        response = api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"], json=body)
    if status == 201:  # the control: the text "null" is a document number like any other
        assert response.status_code == 201
        return
    assert_problem(response, status, field)
    assert submissions_of("TGG", "STC") == 0


@pytest.mark.parametrize("field", ["doc_number", "channel", "documents", "received_at"])
def test_null_is_not_a_missing_field(api, tokens, field):
    with time_machine.travel(IN_TIME, tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", tokens["tgg"],
                                json={**SUBMISSION, field: None}), 422, field)
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/steps", tokens["tgg"],
                                json={"step": "review_done", "reason": None}), 422, "reason")


def test_malformed_requests_are_problems_too(api, tokens):
    t = tokens["tgg"]
    url = "/api/v1/campaigns/TGG-2019/units/STC/submissions"
    assert_problem(api.post(url, t, data="{not json", content_type="application/json"), 400, "body")
    assert_problem(api.post(url, t, data="[]", content_type="application/json"), 422, "body")
    assert_problem(api.post(url, t, data="received_at=x", content_type="application/x-www-form-urlencoded"), 415)
    assert_problem(api.post(url, t, data=b"\xff\xfe", content_type="application/json"), 400, "body")
    assert_problem(api.post(url, t, data="[" * 100000, content_type="application/json"), 400, "body")
    assert_problem(api.get("/api/v1/campaigns?limit=0", t), 422, "limit")
    assert_problem(api.get("/api/v1/campaigns?limit=201", t), 422, "limit")
    assert_problem(api.get("/api/v1/campaigns?cursor=!!", t), 422, "cursor")
    assert_problem(api.get("/api/v1/campaigns?cursor=djE6eA", t), 422, "cursor")  # "v1:x"
    assert_problem(api.get("/api/v1/campaigns?lmit=5", t), 422, "lmit")
    assert_problem(api.get("/api/v1/workdays/add?date=2019-10-25&days=5&calendar_day=true", t), 422, "calendar_day")
    assert_problem(api.get("/api/v1/workdays/add?date=2019-02-30&days=5", t), 422, "date")
    assert_problem(api.get("/api/v1/workdays/add?date=9999-12-31&days=366", t), 422, "date")
    assert_problem(api.get("/api/v1/workdays/add?date=2019-10-25", t), 422, "days")
    assert_problem(api.get("/api/v1/workdays/add?date=2019-10-25&days=367", t), 422, "days")
    assert_problem(api.get("/api/v1/workdays/add?date=2019-10-25&days=5&calendar_days=yes", t), 422, "calendar_days")
    assert_problem(api.get("/api/v1/campaigns/NOPE", t), 404, "code")
    assert_problem(api.get("/api/v1/campaigns/%00", t), 404)
    assert_problem(api.get("/api/v1/nothing-here", t), 404)
    response = api("DELETE", "/api/v1/campaigns/TGG-2019", t)
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", t, json=SUBMISSION,
                            headers={"Idempotency-Key": "with space"}), 422, "Idempotency-Key")


# -- the organizer's actions ----------------------------------------------------------------------------------------

def test_mark_steps_with_the_rules_of_the_state_machine(api, tokens):
    t = tokens["tgg"]
    url = "/api/v1/campaigns/TGG-2019/steps"
    with time_machine.travel(local(2019, 10, 20, 9, 0), tick=False):
        body = assert_problem(api.post(url, t, json={"step": "review_done"}), 409, "state")
        assert "gia hạn" in body["detail_vi"]
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        skipped = assert_problem(api.post(url, t, json={"step": "awards_done"}), 409, "state")
        assert "preliminary review done" in skipped["detail"]
        done = api.post(url, t, json={"step": "review_done"}).get_json()
        assert (done["from"], done["to"]) == ("preliminary_review", "field_inspection")
        assert done["campaign"]["state"] == "field_inspection"
        forced = api.post(url, t, json={"step": "approval_received", "reason": "Quyết định 123/QĐ-UBND"}).get_json()
        assert forced["to"] == "approved" and forced["skipped"] == ["field inspection done",
                                                                     "award dossiers collected and submitted"]
        assert_problem(api.post(url, t, json={"step": "cancel", "reason": "x"}), 409, "state")
        assert_problem(api.post(url, t, json={"step": "publish"}), 422, "step")
    actors = db.session.scalars(select(AuditEvent.actor).where(AuditEvent.action.in_(
        ["campaign.review_done", "campaign.approval_received"]))).all()
    assert actors == ["api:VNPT iOffice", "api:VNPT iOffice"]


def test_move_a_milestone_with_a_reason(api, tokens):
    t = tokens["tgg"]
    with time_machine.travel(local(2019, 10, 20, 9, 0), tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/milestones/deadline/move", t,
                                json={"end": "2019-11-08", "reason": " "}), 422, "reason")
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/milestones/field_inspection/move", t,
                                json={"start": "2019-11-20", "end": "2019-11-10", "reason": "x"}), 422, "start")
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/milestones/nope/move", t,
                                json={"end": "2019-11-10", "reason": "x"}), 404, "kind")
        response = api.post("/api/v1/campaigns/TGG-2019/milestones/deadline/move", t,
                            json={"end": "2019-11-08", "reason": "Công văn 1400/STTTT: gia hạn do bão"})
    assert response.status_code == 200, response.get_data(as_text=True)
    tl = response.get_json()
    assert tl["deadline_at"] == "2019-11-09T00:00:00+07:00" and tl["grace_ends_at"] == "2019-11-16T00:00:00+07:00"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "milestone.moved"))
    assert (event.actor, event.from_value, event.to_value) == ("api:VNPT iOffice", "deadline 2019-10-25",
                                                               "deadline 2019-11-08")


def test_return_a_dossier_and_reinstate_a_unit(api, tokens):
    t = tokens["tgg"]
    with time_machine.travel(IN_TIME, tick=False):
        api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", t, json=SUBMISSION)
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/SYT/return", t, json={"reason": "x"}), 409, "unit")
        returned = api.post("/api/v1/campaigns/TGG-2019/units/STC/return", t,
                            json={"reason": "Thiếu bảng điểm tự chấm"}).get_json()
    assert returned["status"] == "returned" and returned["returned_reason"] == "Thiếu bảng điểm tự chấm"
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/STC/reinstate", t, json={"reason": "x"}), 409)
        assert_problem(api.post("/api/v1/campaigns/TGG-2019/units/SYT/reinstate", t, json={}), 422, "reason")
        back = api.post("/api/v1/campaigns/TGG-2019/units/SYT/reinstate", t,
                        json={"reason": "Quyết định 77/QĐ-STTTT: hồ sơ gửi đúng hạn nhưng lỗi đường truyền"})
    assert back.status_code == 200 and back.get_json()["status"] == "not_submitted"
    assert back.get_json()["reinstated_reason"].startswith("Quyết định 77")


# -- idempotency, ETag, cursors -------------------------------------------------------------------------------------

def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer_and_records_once(api, tokens):
    t = tokens["tgg"]
    url = "/api/v1/campaigns/TGG-2019/units/STC/submissions"
    key = {"Idempotency-Key": "eoffice-2345-VBD-2019"}
    with time_machine.travel(IN_TIME, tick=False):
        first = api.post(url, t, json=SUBMISSION, headers=key)
    with time_machine.travel(local(2019, 10, 24, 16, 5), tick=False):
        again = api.post(url, t, json=SUBMISSION, headers=key)
        # The same body, keys in another order: the same request.
        reordered = api.post(url, t, data=json.dumps(dict(reversed(list(SUBMISSION.items())))),
                             content_type="application/json", headers=key)
    assert first.status_code == again.status_code == reordered.status_code == 201
    assert "Idempotency-Replayed" not in first.headers and again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json() == first.get_json() == reordered.get_json()
    assert submissions_of("TGG", "STC") == 1
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "submission.received")) == 1
    with time_machine.travel(local(2019, 10, 24, 16, 10), tick=False):
        other = api.post(url, t, json={**SUBMISSION, "doc_number": "2346/VBĐ"}, headers=key)
        assert_problem(other, 422, "Idempotency-Key")
        # Keys belong to a token: another token may use the same key.
        assert api.post(url, tokens["stc"], json=UNIT_SUBMISSION, headers=key).status_code == 201
        assert api.post(url, t, json=SUBMISSION, headers={"Idempotency-Key": "another"}).status_code == 201
    assert submissions_of("TGG", "STC") == 3
    assert db.session.scalar(select(func.count(IdempotencyRecord.id))) == 3


def test_two_calls_with_the_same_key_at_once_record_once(api, tokens, monkeypatch):
    """The race: the retry looks for the key before the first call committed, runs, and only then collides."""
    from web.api import operation as api_module

    url = "/api/v1/campaigns/TGG-2019/units/STC/submissions"
    key = {"Idempotency-Key": "race"}
    with time_machine.travel(IN_TIME, tick=False):
        first = api.post(url, tokens["tgg"], json=SUBMISSION, headers=key)
        real = api_module._find_record
        calls = []

        def not_yet_committed(token_id, k):
            calls.append(k)
            return None if len(calls) == 1 else real(token_id, k)

        monkeypatch.setattr(api_module, "_find_record", not_yet_committed)
        second = api.post(url, tokens["tgg"], json=SUBMISSION, headers=key)
    assert len(calls) == 2  # missed once, then found after the collision
    assert second.status_code == 201 and second.headers["Idempotency-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert submissions_of("TGG", "STC") == 1
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "submission.received")) == 1


def test_a_refusal_is_replayed_too_but_not_a_malformed_request(api, tokens):
    t = tokens["tgg"]
    url = "/api/v1/campaigns/TGG-2019/units/STC/submissions"
    late = {**SUBMISSION, "received_at": "2019-11-04T09:00:00+07:00"}
    with time_machine.travel(local(2019, 11, 5, 9, 0), tick=False):
        first = api.post(url, t, json=late, headers={"Idempotency-Key": "k-1"})
        again = api.post(url, t, json=late, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 409
        assert again.get_json() == first.get_json() and again.headers["Idempotency-Replayed"] == "true"
        assert_problem(api.post(url, t, json={**late, "doc_number": ""}, headers={"Idempotency-Key": "k-2"}), 422)
    with time_machine.travel(IN_TIME, tick=False):
        fixed = api.post(url, t, json=SUBMISSION, headers={"Idempotency-Key": "k-2"})
    assert fixed.status_code == 201 and "Idempotency-Replayed" not in fixed.headers


def test_etags_let_a_poller_skip_unchanged_answers(api, tokens):
    t = tokens["tgg"]
    url = "/api/v1/campaigns/TGG-2019/units/STC"
    with time_machine.travel(local(2019, 10, 20, 9, 0), tick=False):
        first = api.get(url, t)
        etag = first.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag) and "no-cache" in first.headers["Cache-Control"]
        unchanged = api.get(url, t, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["ETag"] == etag
        assert api.get(url, t, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
        assert api.get(url, t, headers={"If-None-Match": '"other"'}).status_code == 200
    with time_machine.travel(IN_TIME, tick=False):
        api.post("/api/v1/campaigns/TGG-2019/units/STC/submissions", t, json=SUBMISSION)
        changed = api.get(url, t, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["status"] == "on_time"
    for url in ["/api/v1/campaigns", "/api/v1/campaigns/TGG-2019/timeline", "/api/v1/me",
                "/api/v1/workdays/is-working?date=2019-09-02", "/api/v1/openapi.json"]:
        etag = api.get(url, t).headers["ETag"]
        assert api.get(url, t, headers={"If-None-Match": etag}).status_code == 304, url


def test_cursor_pages_cover_everything_once(api, tokens, make_campaign):
    make_campaign("tien-giang-2019.yaml")
    make_campaign("tien-giang-2020.yaml")
    t = tokens["tgg"]

    def walk(url: str, limit: int) -> list[str]:
        seen, cursor, pages = [], None, 0
        while True:
            query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(f"{url}?{query}", t).get_json()
            assert len(page["items"]) <= limit
            seen += [item["code"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                return seen
            assert pages < 100

    campaigns = walk("/api/v1/campaigns", 1)
    assert campaigns == ["TGG-2019", "TGG-UDCNTT-2019", "TGG-UDCNTT-2020"]
    codes = walk("/api/v1/campaigns/TGG-UDCNTT-2020/units", 37)
    expected = db.session.scalars(select(Unit.code).join(Participation).join(Campaign)
                                  .where(Campaign.code == "TGG-UDCNTT-2020")).all()
    assert len(codes) == len(set(codes)) == len(expected) == 208 and set(codes) == set(expected)
    assert walk("/api/v1/campaigns/TGG-UDCNTT-2019/units", 200) == walk("/api/v1/campaigns/TGG-UDCNTT-2019/units", 46)
    # Exactly one page when the limit is the count: no empty page after it.
    assert api.get("/api/v1/campaigns/TGG-UDCNTT-2019/units?limit=46", t).get_json()["next_cursor"] is None
