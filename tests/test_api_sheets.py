"""The sheets through the JSON API (issue 12, docs/api.md "Sheets"): criteria, draft, submit, verify,
confirmation round, results, evidence files; isolation of units' tokens; queries per sheet.

Tiền Giang 2019: deadline Friday 25/10/2019, 5 working days of grace, so grace ends at 24:00 on Friday
1/11/2019.  Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.conftest import local
from workflow.api_tokens import create_token
from workflow.confirmation import lapse_rounds
from workflow.criteria import SheetEntry, SheetFile
from workflow.db import db
from workflow.models import AuditEvent, Organizer, Participation, Unit

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

CAMPAIGN = """
organizer: {code: TGG, name: Sở Thông tin và Truyền thông tỉnh Tiền Giang, email: thidua@stttt.tiengiang.gov.vn}
campaign:
  code: TGG-2019
  title: Đánh giá, xếp loại ứng dụng CNTT năm 2019
  year: 2019
  deadline: 2019-10-25
  grace_working_days: 5
  tiers:
    - {name: Tốt, min: 18}
    - {name: Khá, min: 12}
    - {name: Yếu}
units:
  - {code: STC, name: Sở Tài chính, group: department, emails: [vanthu.stc@tiengiang.gov.vn]}
  - {code: SYT, name: Sở Y tế, group: department, emails: [vanthu.syt@tiengiang.gov.vn]}
  - {code: MYTHO, name: UBND thành phố Mỹ Tho, group: district, emails: [vanthu.mytho@tiengiang.gov.vn]}
criteria:
  - code: TGG-2019
    items:
      - {code: 1, title: Hạ tầng kỹ thuật CNTT, max: 10}
      - {code: 1.1, title: Tỷ lệ văn bản điện tử, max: 6, kind: ratio, bands: [{min: 90, points: 6}, {min: 50, points: 3}]}
      - {code: 1.2, title: Mục Chỉ đạo điều hành, max: 4, kind: link}
      - {code: 2, title: Dịch vụ công trực tuyến, max: 12}
      - {code: 2.1, title: "Tỷ lệ TTHC mức 3, 4", max: 6, kind: ratio, proportional: true, na: true}
      - {code: 2.2, title: Có cán bộ chuyên trách, max: 4, kind: yes_no}
      - {code: 2.3, title: Quy chế an toàn thông tin, max: 2, kind: file, guidance: Đính kèm quyết định ban hành.}
      - {code: 3, title: Một cửa cấp huyện, max: 5, groups: [district]}
      - {code: 3.1, title: Bộ phận một cửa hiện đại, max: 5, kind: yes_no, groups: [district]}
"""

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DRAFT = {"1.1": {"numerator": 45, "denominator": "50"}, "1.2": {"links": ["https://stc.tiengiang.gov.vn/cddh"]},
         "2.1": {"na": True, "explanation": "Sở không có thủ tục hành chính mức 3, 4"}, "2.2": {"yes": True}}
BASE = "/api/v1/campaigns/TGG-2019"
STC = f"{BASE}/units/STC/sheet"


def _org() -> Organizer:
    return db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))


def _unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def make_token(*scopes: str, unit: str | None = None, name: str = "iOffice") -> str:
    issued = create_token(organizer=_org(), unit=_unit(unit) if unit else None, scopes=list(scopes), name=name,
                          actor="test")
    db.session.commit()
    return issued.token


@pytest.fixture
def tokens(make_campaign):
    make_campaign(CAMPAIGN)
    return {"org": make_token("read", "record", "manage", name="Sở TTTT"),
            "stc": make_token("read", "record", unit="STC", name="iOffice STC"),
            "syt": make_token("read", "record", unit="SYT", name="iOffice SYT")}


class Api:
    def __init__(self, client):
        self.client = client

    def __call__(self, method, url, token, json=None, headers=None):
        h = {"Authorization": f"Bearer {token}", **(headers or {})}
        return self.client.open(url, method=method, headers=h, json=json)


@pytest.fixture
def api(client):
    return Api(client)


def problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["detail"] and body["detail_vi"]
    if field is not None:
        assert body["field"] == field, body
    return body


def by_code(sheet: dict) -> dict:
    return {c["code"]: c for c in sheet["criteria"]}


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


# -- the criteria ------------------------------------------------------------------------------------------------

def test_the_criteria_set_is_a_tree_with_kinds_rules_and_groups(tokens, api):
    r = api("GET", f"{BASE}/criteria", tokens["stc"])
    assert r.status_code == 200 and r.headers["ETag"]
    (cs,) = r.get_json()["sets"]
    nodes = {n["code"]: n for n in cs["nodes"]}
    assert [n["code"] for n in cs["nodes"]] == ["1", "1.1", "1.2", "2", "2.1", "2.2", "2.3", "3", "3.1"]
    assert nodes["1"] == {**nodes["1"], "parent": None, "depth": 0, "leaf": False, "kind": None, "maximum": 10}
    assert nodes["1.1"]["parent"] == "1" and nodes["1.1"]["kind"] == "ratio"
    assert nodes["1.1"]["rule"] == {"bands": [{"min": "90", "points": "6"}, {"min": "50", "points": "3"}]}
    assert nodes["1.1"]["rule_text"] == ">=90%:6; >=50%:3"
    assert nodes["2.1"]["allow_na"] is True and nodes["2.1"]["rule"] == {"proportional": True}
    assert nodes["2.3"]["kind"] == "file" and nodes["2.3"]["guidance"] == "Đính kèm quyết định ban hành."
    assert nodes["3.1"]["groups"] == ["district"]
    assert api("GET", f"{BASE}/criteria", tokens["stc"], headers={"If-None-Match": r.headers["ETag"]}).status_code \
        == 304


# -- the whole walk ----------------------------------------------------------------------------------------------

def test_the_api_walk_draft_submit_verify_confirm_results(tokens, api):
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        r = api("GET", STC, tokens["stc"])
        assert r.status_code == 200
        sheet = r.get_json()
        assert sheet["state"] == "not_started" and sheet["maximum"] == 22 and sheet["may_change"] is True
        assert "3.1" not in by_code(sheet)  # a district criterion is not in a department's sheet

        r = api("PUT", f"{STC}/draft", tokens["stc"], {"values": DRAFT}, headers={"Idempotency-Key": "d-1"})
        assert r.status_code == 200, r.get_data(as_text=True)
        sheet = r.get_json()
        c = by_code(sheet)
        assert sheet["state"] == "draft" and sheet["draft_total"] == 20
        assert c["1.1"]["draft"] == {"numerator": "45", "denominator": "50"} and c["1.1"]["draft_points"] == 6
        assert c["1.2"]["draft_points"] == 4 and c["2.1"]["draft_points"] == 6
        assert c["2.3"]["draft_points"] == 0  # no evidence file: no points
        assert [s["draft"] for s in sheet["sections"]] == [10, 10]
        assert sheet["claimed_total"] is None
        replay = api("PUT", f"{STC}/draft", tokens["stc"], {"values": DRAFT}, headers={"Idempotency-Key": "d-1"})
        assert replay.headers["Idempotency-Replayed"] == "true"
        assert len(audit("sheet.saved")) == 1

    with time_machine.travel(local(2019, 10, 24, 16, 0, 5), tick=False):
        r = api("POST", f"{STC}/submit", tokens["stc"], {})
        assert r.status_code == 201, r.get_data(as_text=True)
        body = r.get_json()
        assert body["receipt"]["receipt_number"] == "TGG-2019/STC/1"
        assert body["receipt"]["received_at"] == "2019-10-24T16:00:05+07:00"
        assert body["receipt"]["late_working_days"] == 0 and body["receipt"]["channel"] == "upload"
        assert body["receipt"]["recorded_by"] == "api:iOffice STC"
        sheet = body["sheet"]
        assert sheet["state"] == "submitted" and sheet["claimed_total"] == 20 and sheet["verified_total"] == 20
        assert sheet["dossier_status"] == "on_time" and sheet["receipt_number"] == "TGG-2019/STC/1"
    p = db.session.scalar(select(Participation).where(Participation.unit_id == _unit("STC").id))
    assert p.status == "on_time" and p.self_score == 20
    assert db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "receipt", OutboxMail.unit_id == p.unit_id))

    with time_machine.travel(local(2019, 11, 5, 9), tick=False):
        # the organizer verifies one criterion down: 40/50 = 80 % → 3 points, with a note
        r = api("POST", f"{STC}/criteria/1.1/verify", tokens["org"],
                {"value": {"numerator": 40, "denominator": 50}})
        problem(r, 422, "note")
        r = api("POST", f"{STC}/criteria/1.1/verify", tokens["org"],
                {"value": {"numerator": 40, "denominator": 50}, "note": "Theo hệ thống QLVB: 40/50"})
        assert r.status_code == 200, r.get_data(as_text=True)
        sheet = r.get_json()
        c = by_code(sheet)
        assert c["1.1"]["verified_points"] == 3 and c["1.1"]["claimed_points"] == 6
        assert c["1.1"]["verified"]["value"] == {"numerator": "40", "denominator": "50"}
        assert c["1.1"]["verified"]["note"] == "Theo hệ thống QLVB: 40/50"
        assert c["1.1"]["verified"]["stage"] == "preliminary_review" and c["1.1"]["verified"]["by"] == "api:Sở TTTT"
        assert sheet["verified_total"] == 17 and sheet["claimed_total"] == 20
        assert sheet["sections"][0] == {**sheet["sections"][0], "claimed": 10, "verified": 7}

        r = api("POST", f"{STC}/confirmation", tokens["org"], {})
        assert r.status_code == 200, r.get_data(as_text=True)
        conf = r.get_json()["confirmation"]
        # 3 working days from Tuesday 5/11/2019: Friday 8/11/2019, 24:00
        assert conf["state"] == "open" and conf["working_days"] == 3 and conf["deadline"] == "2019-11-08"
        assert conf["due_at"] == "2019-11-09T00:00:00+07:00" and conf["changed"] == ["1.1"]
        assert db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "confirmation"))
        problem(api("POST", f"{STC}/criteria/1.2/verify", tokens["org"], {"note": "x"}), 409)

    with time_machine.travel(local(2019, 11, 6, 10), tick=False):
        r = api("POST", f"{STC}/responses", tokens["stc"], {"answers": {"1.1": {"answer": "disputed"}}})
        problem(r, 422, "1.1.reason")
        answers = {"1.1": {"answer": "disputed", "reason": "Báo cáo tháng 10: 45/50"}}
        answers.update({code: {"answer": "confirmed"} for code in ("1.2", "2.1", "2.2", "2.3")})
        r = api("POST", f"{STC}/responses", tokens["stc"], {"answers": answers})
        assert r.status_code == 200, r.get_data(as_text=True)
        sheet = r.get_json()
        c = by_code(sheet)
        assert c["1.1"]["response"]["answer"] == "disputed"
        assert c["1.1"]["response"]["reason"] == "Báo cáo tháng 10: 45/50"
        assert c["2.2"]["response"]["answer"] == "confirmed"
        assert sheet["confirmation"]["state"] == "answered" and sheet["confirmation"]["disputed"] == 1
    assert [e.to_value for e in audit("figures.disputed")] == ["disputed"]
    assert len(audit("figures.confirmed")) == 4

    with time_machine.travel(local(2019, 11, 6, 11), tick=False):
        r = api("GET", f"{BASE}/results", tokens["org"])
        assert r.status_code == 200, r.get_data(as_text=True)
        groups = {g["group"]: g for g in r.get_json()["groups"]}
        dept = groups["department"]
        assert [s["code"] for s in dept["sections"]] == ["1", "2"]
        stc = next(u for u in dept["units"] if u["code"] == "STC")
        assert stc["sections"]["1"] == {"claimed": 10, "verified": 7}
        assert stc["claimed_total"] == 20 and stc["verified_total"] == 17
        assert stc["rank"] == 1 and dept["units"][0]["code"] == "STC"
        problem(api("GET", f"{BASE}/results", tokens["stc"]), 403, "Authorization")


def test_rule_errors_are_reported_per_criterion_and_nothing_is_saved(tokens, api):
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        values = {"2.2": {"yes": True}, "1.1": {"numerator": 5}, "2.1": {"na": True},
                  "1.2": {"links": ["ftp://x"]}, "9.9": {"yes": True}}
        body = problem(api("PUT", f"{STC}/draft", tokens["stc"], {"values": values}), 422)
        fields = {e["code"]: e["field"] for e in body["errors"]}
        assert fields == {"1.1": "values.1.1.denominator", "2.1": "values.2.1.explanation",
                          "1.2": "values.1.2.links", "9.9": "values.9.9"}
        assert all(e["detail"] and e["detail_vi"] for e in body["errors"])
        assert body["field"] == body["errors"][0]["field"]
        assert db.session.scalar(select(func.count(SheetEntry.id))) == 0
        body = problem(api("PUT", f"{STC}/draft", tokens["stc"],
                           {"values": {"1.1": {"numerator": 60, "denominator": 50}}}), 422, "values.1.1.numerator")
        assert "lớn hơn mẫu số" in body["detail_vi"]
        problem(api("PUT", f"{STC}/draft", tokens["stc"], {"values": {"1.1": {"numerator": 1, "denominator": 0}}}),
                422, "values.1.1.denominator")
        problem(api("PUT", f"{STC}/draft", tokens["stc"], {"values": {"2.2": {"na": True, "explanation": "x"}}}),
                422, "values.2.2.na")  # N/A where the criterion does not allow it
        problem(api("PUT", f"{STC}/draft", tokens["stc"], {"values": {"2.3": {"files": ["x.pdf"]}}}), 422)
    assert db.session.scalar(select(func.count(SheetEntry.id))) == 0


def test_submit_late_in_grace_and_refused_one_second_after_grace_end(tokens, api):
    with time_machine.travel(local(2019, 10, 28, 10), tick=False):  # Monday after the deadline
        r = api("POST", f"{STC}/submit", tokens["stc"], {"values": DRAFT})
        assert r.status_code == 201, r.get_data(as_text=True)
        assert r.get_json()["receipt"]["late_working_days"] == 1
        assert r.get_json()["sheet"]["dossier_status"] == "late"
    with time_machine.travel(local(2019, 11, 2, 0, 0, 1), tick=False):
        sheet = f"{BASE}/units/SYT/sheet"
        problem(api("POST", f"{sheet}/submit", tokens["syt"], {"values": DRAFT}), 409)
        problem(api("PUT", f"{sheet}/draft", tokens["syt"], {"values": DRAFT}), 409, "sheet")
        assert api("GET", sheet, tokens["syt"]).get_json()["may_change"] is False
    syt = db.session.scalar(select(Participation).where(Participation.unit_id == _unit("SYT").id))
    assert syt.submissions == [] and db.session.scalar(select(func.count(SheetEntry.id))) == 5  # STC's 5 criteria only


def test_a_units_token_sees_and_writes_only_its_own_sheet_and_cannot_verify(tokens, api):
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        problem(api("GET", f"{BASE}/units/SYT/sheet", tokens["stc"]), 404, "unit_code")
        problem(api("PUT", f"{BASE}/units/SYT/sheet/draft", tokens["stc"], {"values": DRAFT}), 404, "unit_code")
        problem(api("POST", f"{BASE}/units/SYT/sheet/submit", tokens["stc"], {}), 404, "unit_code")
        assert api("POST", f"{STC}/submit", tokens["stc"], {"values": DRAFT}).status_code == 201
        problem(api("POST", f"{STC}/criteria/1.1/verify", tokens["stc"], {"points": 0, "note": "x"}), 403,
                "Authorization")
        problem(api("POST", f"{STC}/confirmation", tokens["stc"], {}), 403, "Authorization")
        problem(api("POST", f"{BASE}/confirmation", tokens["stc"], {}), 403, "Authorization")
        # the organizer's token neither fills nor submits a unit's sheet
        problem(api("PUT", f"{BASE}/units/SYT/sheet/draft", tokens["org"], {"values": DRAFT}), 403, "Authorization")
        # a read-only token writes nothing
        problem(api("PUT", f"{STC}/draft", make_token("read", unit="STC", name="ro"), {"values": DRAFT}), 403)
        # flags are the organizer's: the unit's answer carries none
        assert api("GET", STC, tokens["stc"]).get_json()["flags"] == []
    assert db.session.scalar(select(func.count(SheetEntry.id)).join(SheetEntry.sheet)) == 5


def test_figures_sent_to_all_and_lapsed_stand(tokens, api):
    with time_machine.travel(local(2019, 10, 21, 9), tick=False):
        assert api("POST", f"{STC}/submit", tokens["stc"], {"values": DRAFT}).status_code == 201
        assert api("POST", f"{BASE}/units/SYT/sheet/submit", tokens["syt"], {"values": DRAFT}).status_code == 201
    with time_machine.travel(local(2019, 11, 5, 9), tick=False):
        r = api("POST", f"{BASE}/confirmation", tokens["org"], {"working_days": 2, "note": "Đề nghị xác nhận"})
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_json()
        assert [s["unit"] for s in body["sent"]] == ["STC", "SYT"] and body["refused"] == []
        assert {s["deadline"] for s in body["sent"]} == {"2019-11-07"}
        again = api("POST", f"{BASE}/confirmation", tokens["org"], {})
        assert again.get_json()["sent"] == [] and [x["unit"] for x in again.get_json()["refused"]] == ["STC", "SYT"]
    lapse_rounds(local(2019, 11, 8, 0, 0, 1))
    db.session.commit()
    with time_machine.travel(local(2019, 11, 8, 9), tick=False):
        sheet = api("GET", STC, tokens["stc"]).get_json()
        assert sheet["confirmation"]["state"] == "lapsed"
        assert {c["response"]["answer"] for c in sheet["criteria"] if c["leaf"]} == {"not_disputed_in_time"}
        problem(api("POST", f"{STC}/responses", tokens["stc"], {"answers": {"1.1": {"answer": "confirmed"}}}), 409)


# -- evidence files ----------------------------------------------------------------------------------------------

def test_evidence_upload_listing_removal_and_refusal_after_submit(tokens, api, app, client):
    folder = Path(app.config["UPLOAD_FOLDER"])
    content = {"name": "quyet-dinh-quy-che-attt.pdf", "content_base64": base64.b64encode(PDF).decode()}
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        r = api("POST", f"{STC}/criteria/2.3/evidence", tokens["stc"], content)
        assert r.status_code == 201, r.get_data(as_text=True)
        f = r.get_json()["file"]
        assert f["name"] == "quyet-dinh-quy-che-attt.pdf" and f["size"] == len(PDF)
        assert f["sha256"] == hashlib.sha256(PDF).hexdigest()
        c = by_code(r.get_json()["sheet"])
        assert c["2.3"]["draft_points"] == 2 and [x["id"] for x in c["2.3"]["files"]] == [f["id"]]
        stored = db.session.scalar(select(SheetFile.stored_name))
        assert (folder / stored).read_bytes() == PDF
        # a non-file criterion, a fake PDF, another unit: refused, nothing kept on the disk
        problem(api("POST", f"{STC}/criteria/1.1/evidence", tokens["stc"], content), 422, "code")
        fake = {"name": "x.pdf", "content_base64": base64.b64encode(b"MZ not a pdf").decode()}
        problem(api("POST", f"{STC}/criteria/2.3/evidence", tokens["stc"], fake), 422, "content_base64")
        problem(api("POST", f"{BASE}/units/SYT/sheet/criteria/2.3/evidence", tokens["stc"], content), 404)
        problem(api("POST", f"{STC}/evidence/{f['id']}/remove", tokens["syt"], {}), 404)
        assert sorted(p.name for p in folder.iterdir()) == [stored]
        # saving the draft keeps the files (they are attached, never typed)
        r = api("PUT", f"{STC}/draft", tokens["stc"], {"values": {**DRAFT, "2.3": {}}})
        assert by_code(r.get_json())["2.3"]["draft_points"] == 2 and r.get_json()["draft_total"] == 22
        # removal while a draft: the file leaves the disk, the criterion scores nothing
        r = api("POST", f"{STC}/evidence/{f['id']}/remove", tokens["stc"], {})
        assert r.status_code == 200, r.get_data(as_text=True)
        assert by_code(r.get_json())["2.3"]["files"] == [] and by_code(r.get_json())["2.3"]["draft_points"] == 0
        assert list(folder.iterdir()) == []
        r = api("POST", f"{STC}/criteria/2.3/evidence", tokens["stc"], content)
        second = r.get_json()["file"]
        r = api("POST", f"{STC}/submit", tokens["stc"], {})
        assert r.get_json()["sheet"]["claimed_total"] == 22
        # after submit: no change from the unit side
        problem(api("POST", f"{STC}/criteria/2.3/evidence", tokens["stc"], content), 409, "sheet")
        problem(api("POST", f"{STC}/evidence/{second['id']}/remove", tokens["stc"], {}), 409, "sheet")
        assert len(list(folder.iterdir())) == 1
    assert [e.action for e in audit("evidence.attached")] == ["evidence.attached"] * 2
    assert len(audit("evidence.removed")) == 1


# -- scale ---------------------------------------------------------------------------------------------------------

def _big_campaign(n: int) -> str:
    items = []
    for s in range(1, 7):
        items.append(f"      - {{code: {s}, title: Mục {s}, max: 100}}")
        for i in range(1, n // 6 + 1):
            kind = ("ratio, proportional: true" if i % 3 == 0 else "link" if i % 3 == 1 else "yes_no")
            items.append(f"      - {{code: {s}.{i}, title: Tiêu chí {s}.{i}, max: 1, kind: {kind}}}")
    head = CAMPAIGN.split("criteria:")[0]
    return head + "criteria:\n  - code: BIG\n    items:\n" + "\n".join(items) + "\n"


def test_a_120_criterion_sheet_reads_and_saves_in_a_constant_number_of_queries(make_campaign, api,
                                                                                count_statements):
    make_campaign(_big_campaign(120))
    token = make_token("read", "record", unit="STC")
    values = {}
    for s in range(1, 7):
        for i in range(1, 21):
            code = f"{s}.{i}"
            values[code] = ({"numerator": 1, "denominator": 2} if i % 3 == 0 else
                            {"links": ["https://stc.tiengiang.gov.vn/a"]} if i % 3 == 1 else {"yes": True})
    small = dict(list(values.items())[:6])
    with time_machine.travel(local(2019, 10, 20, 9), tick=False):
        counts = {}
        for label, vals in (("small", small), ("all", values)):
            with count_statements() as put:
                r = api("PUT", f"{STC}/draft", token, {"values": vals})
            assert r.status_code == 200, r.get_data(as_text=True)
            with count_statements() as get:
                r = api("GET", STC, token)
            assert r.status_code == 200
            counts[label] = (put["n"], get["n"])
        assert len([c for c in r.get_json()["criteria"] if c["leaf"]]) == 120
        assert counts["all"][1] == counts["small"][1]  # a read: the same statements for 120 criteria as for 6
        # a save inserts the new entries in one batch per statement kind, whatever their number
        assert counts["all"][0] <= counts["small"][0] + 2, counts
        print(f"\nsheet of 120 criteria through the API: GET {counts['all'][1]} statements, PUT {counts['all'][0]}")
