"""The campaign's whole year through the API (issue 16): next year's campaign, the award step, the decision and
the public results, milestone documents and official letters, with the same operations as the web and the CLI.

Tiền Giang 2019 (examples/tien-giang-2019.yaml) as in tests/test_awards.py, Bình Thuận 2019 as the other
province; both databases."""

from __future__ import annotations

import base64
import hashlib
import io
from decimal import Decimal

import pytest
import time_machine
from docx import Document
from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.conftest import import_example, local
from tests.test_api import PDF, Api, assert_problem, make_token
from tests.test_awards import CODE, mails, to_award_step, unit
from tests.test_yearly_clone import CASES
from workflow import operations as ops
from workflow.award_models import AwardProposal
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Submission

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

PDF_FILE = {"name": "quyet-dinh-3421.pdf", "content_base64": base64.b64encode(PDF).decode()}


@pytest.fixture
def api(client):
    return Api(client)


def campaign(code):
    return db.session.scalar(select(Campaign).where(Campaign.code == code))


def dates_of(c: Campaign) -> dict[str, str]:
    got = {"deadline": c.deadline}
    if c.document_date:
        got["document_date"] = c.document_date
    if c.data_period_start:
        got["data_period_start"], got["data_period_end"] = c.data_period_start, c.data_period_end
    for mi in c.milestones:
        got[mi.kind] = mi.end_date
        if mi.start_date:
            got[f"{mi.kind}.start"] = mi.start_date
    return {k: v.isoformat() for k, v in got.items()}


# -- next year's campaign --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["tgg-2019-across-tet", "tgg-2019-across-30-4", "btn-2019-default"])
def test_clone_via_the_api_is_the_clone_of_the_cli(api, runner, case):
    example, code, year, deadline, expected = CASES[case]
    import_example(runner, example)
    token = make_token(code.split("-")[0], "read", "manage")
    body = {"code": f"{code}-API", "year": year, **({"deadline": deadline} if deadline else {})}
    cli_args = ["campaign", "clone", code, "--code", f"{code}-API", "--year", str(year), "--dry-run"]
    cli = runner.invoke(args=cli_args + (["--deadline", deadline] if deadline else []))
    assert cli.exit_code == 0, cli.output
    cli_dates = {line.split("\t")[1]: line.split("\t")[3] for line in cli.output.splitlines()
                 if line.startswith("date\t")}
    cli_warnings = sorted(tuple(line.split("\t")[1:4]) for line in cli.output.splitlines()
                          if line.startswith("warning\t"))

    preview = api.post(f"/api/v1/campaigns/{code}/clone/preview", token, json=body)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    plan = preview.get_json()
    assert {mv["what"]: mv["new"] for mv in plan["moves"]} == cli_dates == expected
    assert sorted((w["what"], w["day"], w["kind"]) for w in plan["warnings"]) == cli_warnings
    assert campaign(f"{code}-API") is None  # the preview saves nothing

    r = api.post(f"/api/v1/campaigns/{code}/clone", token, json=body, headers={"Idempotency-Key": "clone-1"})
    assert r.status_code == 201, r.get_data(as_text=True)
    created = r.get_json()
    assert created["campaign"]["code"] == f"{code}-API" and created["campaign"]["state"] == "draft"
    assert created["previous"] == code and created["moves"] == plan["moves"]
    new = campaign(f"{code}-API")
    assert dates_of(new) == expected  # the hand-worked table the CLI is tested against
    assert new.previous_id == campaign(code).id
    assert db.session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "campaign.cloned")) \
        == "api:VNPT iOffice"
    # A retry with the same key is the first answer, and clones nothing twice.
    again = api.post(f"/api/v1/campaigns/{code}/clone", token, json=body, headers={"Idempotency-Key": "clone-1"})
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert db.session.scalar(select(func.count(Campaign.id))) == 2


def test_clone_refusals_are_clear(api, runner):
    import_example(runner, "tien-giang-2019.yaml")
    import_example(runner, "tien-giang-2020.yaml")
    token = make_token("TGG", "read", "manage")
    url = "/api/v1/campaigns/TGG-UDCNTT-2019/clone"
    body = assert_problem(api.post(url, token, json={"code": "TGG-UDCNTT-2020", "year": 2020}), 409, "code")
    assert "Đã có đợt đánh giá mã “TGG-UDCNTT-2020”" in body["detail_vi"]
    assert_problem(api.post(url, token, json={"code": "X", "year": 2019}), 422, "year")
    assert_problem(api.post(url, token, json={"code": "X", "year": 2020, "leave_out": ["NOPE"]}), 422, "leave_out")
    assert_problem(api.post(url, token, json={"code": "X", "year": 2020, "deadline": "2031-01-01"}), 422,
                   "deadline")
    r = api.post(url, token, json={"code": "TGG-2026", "year": 2026, "leave_out_abolished": True})
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.get_json()
    assert "MYTHO" in doc["left_out"] and doc["units_kept"] == 46 - 11
    assert doc["criteria"] == {"sets": 0, "criteria": 0}
    assert {u["code"]: u["abolished"] for u in doc["units"]}["MYTHO"] is True
    body = assert_problem(api.post(url, token, json={"code": "TGG-2026B", "year": 2026}), 409, "code")
    assert "đã được sao chép sang năm sau: TGG-2026" in body["detail_vi"]
    assert campaign("TGG-2026B") is None


def test_the_clone_preview_counts_the_criteria_copied(api, runner):
    from tests.test_criteria_files import import_criteria
    import_example(runner, "cao-bang-2018.yaml", now="2018-08-01T08:00:00+07:00")
    import_criteria(runner, "CBG-UDCNTT-2018", "cao-bang-2018.yaml")
    dry = runner.invoke(args=["campaign", "clone", "CBG-UDCNTT-2018", "--code", "CBG-2019", "--year", "2019",
                              "--dry-run"]).output
    line = next(x for x in dry.splitlines() if x.startswith("criteria\t")).split("\t")
    r = api.post("/api/v1/campaigns/CBG-UDCNTT-2018/clone/preview", make_token("CBG", "manage"),
                 json={"code": "CBG-2019", "year": 2019})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["criteria"] == {"sets": int(line[1].split()[0]), "criteria": int(line[2].split()[0])}
    assert r.get_json()["criteria"]["criteria"] > 10


# -- the award step ----------------------------------------------------------------------------------------------------

def test_the_award_walk_through_the_api(api, runner):
    to_award_step(runner)
    org = make_token("TGG", "read", "record", "manage")
    syt = make_token("TGG", "read", "record", unit="SYT", name="SYT")
    snv = make_token("TGG", "read", "record", unit="SNV", name="SNV")
    base = f"/api/v1/campaigns/{CODE}"
    at = local(2019, 11, 18, 9)
    with time_machine.travel(at, tick=False):
        step = api.get(f"{base}/awards", org).get_json()
        ranked = {r["unit"]: r for r in step["ranking"]}
        assert {u for u, r in ranked.items() if r["by_ranking"]} == {"SYT", "STP", "CATINH"}
        assert not any(r["proposed"] for r in ranked.values()) and step["award_deadline"] == "2019-11-27"
        # A unit's token cannot propose; a change to the ranking's list needs a reason.
        assert_problem(api.post(f"{base}/awards/proposals", syt, json={}), 403, "Authorization")
        body = assert_problem(api.post(f"{base}/awards/proposals", org, json={"add": ["SNV"]}), 422, "reason")
        assert "Cần ghi rõ lý do" in body["detail_vi"]
        assert_problem(api.post(f"{base}/awards/proposals", org, json={"add": ["STC"], "reason": "x"}), 409, "unit")
        r = api.post(f"{base}/awards/proposals", org, json={"add": ["SNV"], "reason": "Đề xuất của Hội đồng"})
        assert r.status_code == 200, r.get_data(as_text=True)
    step = r.get_json()
    props = {p["unit"]: p for p in step["proposals"]}
    assert set(props) == {"SYT", "STP", "SNV", "CATINH"}
    assert props["SNV"]["from_ranking"] is False and props["SNV"]["reason"] == "Đề xuất của Hội đồng"
    assert all(p["notified_at"] and p["dossier_status"] == "not_submitted" for p in props.values())
    # The notices, as the CLI queues them: each proposed unit at each of its addresses.
    assert mails("award_notice", "SYT") == 2 and mails("award_notice", "CATINH") == 1
    assert mails("award_notice") == 7

    sub_url = f"{base}/units/{{}}/submissions"
    # On time, through e-office (the organizer's token).
    with time_machine.travel(local(2019, 11, 27, 17), tick=False):
        r = api.post(sub_url.format("SYT"), org, json={"kind": "award", "received_at": "2019-11-27T16:00:00+07:00",
                                                      "doc_number": "4521", "channel": "eoffice",
                                                      "documents": [{"name": "ho-so-khen-thuong.pdf",
                                                                     "sha256": "a" * 64}]})
    assert r.status_code == 201, r.get_data(as_text=True)
    receipt = r.get_json()
    assert receipt["kind"] == "award" and receipt["status"] == "on_time"
    assert receipt["receipt_number"] == f"{CODE}/SYT/KT1" and receipt["late_working_days"] == 0
    assert receipt["unit"]["versions"] == 1  # the evaluation dossier's versions are unchanged
    # Late within the grace, by e-mail: 28 and 29/11 are 2 working days.
    with time_machine.travel(local(2019, 11, 29, 11), tick=False):
        r = api.post(sub_url.format("STP"), org, json={"kind": "award", "received_at": "2019-11-29T10:00:00+07:00",
                                                      "doc_number": "TD-88", "channel": "email"})
    assert r.status_code == 201 and r.get_json()["status"] == "late" and r.get_json()["late_working_days"] == 2
    # The unit's own token uploads on the last day of the grace (Wed 04/12/2019): late 5; it may not date it.
    with time_machine.travel(local(2019, 12, 4, 23), tick=False):
        assert_problem(api.post(sub_url.format("SNV"), snv, json={"kind": "award", "documents": []}), 422,
                       "documents")
        r = api.post(sub_url.format("SNV"), snv, json={"kind": "award", "documents": [
            {"name": "ho-so-khen-thuong.pdf", "content_base64": base64.b64encode(PDF).decode()}]})
        assert r.status_code == 201, r.get_data(as_text=True)
        assert r.get_json()["late_working_days"] == 5 and r.get_json()["documents"][0]["stored"]
        # Another unit's award dossier is not the unit's to send.
        assert_problem(api.post(sub_url.format("SYT"), snv, json={"kind": "award", "documents": []}), 404)
    # After the grace: refused, nothing recorded.
    with time_machine.travel(local(2019, 12, 5, 8), tick=False):
        body = assert_problem(api.post(sub_url.format("CATINH"), org, json={
            "kind": "award", "received_at": "2019-12-05T07:30:00+07:00", "doc_number": "9", "channel": "eoffice"}),
            409)
    assert "sau khi hết thời gian gia hạn" in body["detail_vi"]
    assert db.session.scalar(select(func.count()).select_from(Submission).where(Submission.kind == "award")) == 3
    assert mails("award_receipt", "SYT") == 2
    status = {p.participation.unit.code: (p.dossier_status, p.late_working_days)
              for p in db.session.scalars(select(AwardProposal))}
    assert status == {"SYT": ("on_time", 0), "STP": ("late", 2), "SNV": ("late", 5), "CATINH": ("not_submitted", 0)}

    # The award dossiers listed: all of them for the organizer, its own for a unit.
    listed = api.get(f"{base}/awards/dossiers", org).get_json()["items"]
    assert sorted((d["unit"], d["status"], d["receipt_number"]) for d in listed) == [
        ("SNV", "late", f"{CODE}/SNV/KT1"), ("STP", "late", f"{CODE}/STP/KT1"), ("SYT", "on_time", f"{CODE}/SYT/KT1")]
    assert [d["unit"] for d in api.get(f"{base}/awards/dossiers", snv).get_json()["items"]] == ["SNV"]
    own = api.get(f"{base}/awards", syt).get_json()
    assert [r["unit"] for r in own["ranking"]] == ["SYT"] and [p["unit"] for p in own["proposals"]] == ["SYT"]
    assert own["proposals"][0]["dossiers"][0]["doc_number"] == "4521"


def test_decision_publish_and_the_public_results(api, runner):
    c = to_award_step(runner)
    org = make_token("TGG", "read", "manage")
    base = f"/api/v1/campaigns/{CODE}"
    ops.mark_step(c, "awards_done", actor="t", now=local(2019, 12, 5, 9))
    db.session.commit()
    # Nothing is public before publication.
    assert_problem(api.get(f"/api/v1/public/results/{CODE}"), 404, "code")
    assert api.get("/api/v1/public/results").get_json() == {"items": []}
    with time_machine.travel(local(2019, 12, 6, 9), tick=False):
        body = assert_problem(api.post(f"{base}/publish", org, json={}), 409, "decision")
        assert "quyết định phê duyệt" in body["detail_vi"]
        assert_problem(api.post(f"{base}/decision", org, json={"number": "1", "decided_on": "2019-12-07",
                                                               "signer": "X"}), 422, "decided_on")
        bad = {"name": "x.pdf", "content_base64": base64.b64encode(b"not a pdf").decode()}
        assert_problem(api.post(f"{base}/decision", org, json={"number": "1", "decided_on": "2019-12-06",
                                                               "signer": "X", "file": bad}), 422)
        r = api.post(f"{base}/decision", org, json={
            "number": "3421/QĐ-UBND", "decided_on": "2019-12-06",
            "signer": "KT. CHỦ TỊCH, PHÓ CHỦ TỊCH Nguyễn Văn Vĩnh", "file": PDF_FILE})
        assert r.status_code == 200, r.get_data(as_text=True)
        decision = r.get_json()
        assert decision["file"] == {"name": "quyet-dinh-3421.pdf", "sha256": hashlib.sha256(PDF).hexdigest()}
        assert decision["published_at"] is None
        assert_problem(api.get(f"/api/v1/public/results/{CODE}"), 404)  # recorded, not yet published
    with time_machine.travel(local(2019, 12, 6, 10), tick=False):
        r = api.post(f"{base}/publish", org, json={})
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["published_units"] == 4 and r.get_json()["published_at"]
        assert_problem(api.post(f"{base}/publish", org, json={}), 409)
    assert campaign(CODE).state == "approved"
    assert mails("results", "SYT") == 2 and mails("results", "STC") == 2
    # A score changed after publication is not shown: only the published figures.
    ops.set_scores(c, unit("SNV"), actor="t", now=local(2019, 12, 7, 9), verified_score=Decimal("50"))
    db.session.commit()
    r = api.get(f"/api/v1/public/results/{CODE}")  # no token
    assert r.status_code == 200, r.get_data(as_text=True)
    doc = r.get_json()
    assert doc["decision"] == {"number": "3421/QĐ-UBND", "decided_on": "2019-12-06",
                               "signer": "KT. CHỦ TỊCH, PHÓ CHỦ TỊCH Nguyễn Văn Vĩnh"}
    rows = {row["unit"]: row for g in doc["groups"] for row in g["items"]}
    assert set(rows) == {"SYT", "STP", "SNV", "CATINH"}  # excluded units are neither listed nor scored
    assert rows["SNV"]["score"] == "96.00" and rows["SNV"]["rating"] == "Khá"
    assert rows["SYT"]["rank"] == 1 and rows["SYT"]["name"] == "Sở Y tế"
    assert [i["code"] for i in api.get("/api/v1/public/results").get_json()["items"]] == [CODE]
    # Another campaign, not published: not there.
    import_example(runner, "binh-thuan-2019.yaml")
    assert_problem(api.get("/api/v1/public/results/BTN-UDCNTT-2019"), 404)
    assert_problem(api.get("/api/v1/public/results/NOPE"), 404)


# -- milestone documents and letters -----------------------------------------------------------------------------------

def test_a_milestone_document_is_on_the_timeline(api, runner):
    import_example(runner, "tien-giang-2019.yaml")
    import_example(runner, "binh-thuan-2019.yaml")
    org = make_token("TGG", "read", "manage")
    url = f"/api/v1/campaigns/{CODE}/milestones/deadline/documents"
    with time_machine.travel(local(2019, 10, 8, 9), tick=False):
        assert_problem(api.post(url, org, json={"number": " "}), 422, "number")
        r = api.post(url, org, json={"number": "1270/STTTT-CNTT&BCVT", "date": "2019-10-07",
                                     "issuer": "Sở Thông tin và Truyền thông", "file": PDF_FILE})
    assert r.status_code == 200, r.get_data(as_text=True)
    deadline = next(mi for mi in r.get_json()["milestones"] if mi["kind"] == "deadline")
    assert deadline["document"] == {"number": "1270/STTTT-CNTT&BCVT", "date": "2019-10-07",
                                    "issuer": "Sở Thông tin và Truyền thông", "sha256": hashlib.sha256(PDF).hexdigest()}
    timeline = api.get(f"/api/v1/campaigns/{CODE}/timeline", org).get_json()
    assert next(mi for mi in timeline["milestones"] if mi["kind"] == "deadline")["document"]["number"] \
        == "1270/STTTT-CNTT&BCVT"
    listed = api.get(url, org).get_json()
    assert [(i["number"], i["file"]["name"]) for i in listed["items"]] == [("1270/STTTT-CNTT&BCVT", "quyet-dinh-3421.pdf")]
    # A milestone the campaign does not have cannot carry a document (Bình Thuận has no award notice).
    btn = make_token("BTN", "read", "manage", name="BTN")
    body = assert_problem(api.post("/api/v1/campaigns/BTN-UDCNTT-2019/milestones/award_notice/documents", btn,
                                   json={"number": "1/TB"}), 409, "kind")
    assert "không có mốc" in body["detail_vi"]


def _text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        parts += [cell.text for row in t.rows for cell in row.cells]
    return "\n".join(parts)


def test_a_letter_downloads_as_docx_with_the_campaigns_data(api, runner):
    import_example(runner, "tien-giang-2019.yaml")
    org = make_token("TGG", "read", "manage")
    c = campaign(CODE)
    query = {"date": "2019-10-07", "number": "1270/STTTT-CNTT&BCVT", "authority": "KT. GIÁM ĐỐC",
             "title": "PHÓ GIÁM ĐỐC", "signer": "Nguyễn Văn Cường"}
    r = api.get(f"/api/v1/campaigns/{CODE}/letters/launch", org, query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{CODE}-launch-2019-10-07.docx"'
    text = _text(r.get_data())
    assert c.title in text and "Số: 1270/STTTT-CNTT&BCVT" in text and "Nguyễn Văn Cường" in text
    assert "25/10/2019" in text and "Tiền Giang, ngày 07 tháng 10 năm 2019" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Kính gửi" in text
    # Polling: the same letter again is a 304 with its ETag.
    again = api.get(f"/api/v1/campaigns/{CODE}/letters/launch", org, query_string=query,
                    headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    # The reminder names the units that have not submitted.
    sent = local(2019, 10, 20, 9)
    ops.record_submission(c, unit("SYT"), received_at=sent, channel="upload", recorded_by="t", now=sent)
    db.session.commit()
    r = api.get(f"/api/v1/campaigns/{CODE}/letters/reminder", org, query_string={**query, "date": "2019-10-21"})
    text = _text(r.get_data())
    assert "Sở Tài chính" in text and "Sở Y tế" not in text
    # Bad input: a problem naming the field; an unknown letter is not found.
    assert_problem(api.get(f"/api/v1/campaigns/{CODE}/letters/launch", org,
                           query_string={**query, "signer": ""}), 422, "signer")
    assert_problem(api.get(f"/api/v1/campaigns/{CODE}/letters/launch", org,
                           query_string={**query, "date": "07/10/2019"}), 422, "date")
    assert_problem(api.get(f"/api/v1/campaigns/{CODE}/letters/memo", org, query_string=query), 404)


# -- isolation ------------------------------------------------------------------------------------------------------

def test_another_province_and_a_unit_see_nothing_of_it(api, runner):
    to_award_step(runner)
    import_example(runner, "binh-thuan-2019.yaml")
    btn = make_token("BTN", "read", "record", "manage", name="BTN")
    syt = make_token("TGG", "read", "record", unit="SYT", name="SYT")
    base = f"/api/v1/campaigns/{CODE}"
    letter = {"date": "2019-10-07", "title": "GIÁM ĐỐC", "signer": "A"}
    for method, url, kwargs in [
            ("GET", f"{base}/awards", {}), ("GET", f"{base}/awards/dossiers", {}),
            ("POST", f"{base}/awards/proposals", {"json": {}}),
            ("POST", f"{base}/clone/preview", {"json": {"code": "X", "year": 2020}}),
            ("POST", f"{base}/clone", {"json": {"code": "X", "year": 2020}}),
            ("POST", f"{base}/decision", {"json": {"number": "1", "decided_on": "2019-12-01", "signer": "A"}}),
            ("POST", f"{base}/publish", {"json": {}}),
            ("GET", f"{base}/milestones/deadline/documents", {}),
            ("POST", f"{base}/milestones/deadline/documents", {"json": {"number": "1"}}),
            ("GET", f"{base}/letters/launch", {"query_string": letter})]:
        assert_problem(api(method, url, btn, **kwargs), 404, "code")
    # A unit's token (it never holds the manage scope) cannot do the organizer's part.
    for method, url, kwargs in [
            ("POST", f"{base}/awards/proposals", {"json": {"add": ["SNV"], "reason": "x"}}),
            ("POST", f"{base}/clone", {"json": {"code": "X", "year": 2020}}),
            ("POST", f"{base}/clone/preview", {"json": {"code": "X", "year": 2020}}),
            ("POST", f"{base}/decision", {"json": {"number": "1", "decided_on": "2019-12-01", "signer": "A"}}),
            ("POST", f"{base}/publish", {"json": {}}),
            ("POST", f"{base}/milestones/deadline/documents", {"json": {"number": "1"}}),
            ("GET", f"{base}/letters/launch", {"query_string": letter})]:
        assert_problem(api(method, url, syt, **kwargs), 403, "Authorization")
    assert db.session.scalar(select(func.count(AwardProposal.id))) == 0
    assert campaign("X") is None
    assert db.session.scalar(select(func.count(OutboxMail.id)).where(OutboxMail.kind == "award_notice")) == 0


def test_a_letter_with_characters_a_docx_cannot_hold_is_refused_not_a_500(api, runner, client, make_user):
    """U+FFFF passes as printable text but XML 1.0 (so python-docx) refuses it."""
    from tests.conftest import login
    import_example(runner, "tien-giang-2019.yaml")
    org = make_token("TGG", "read", "manage")
    query = {"date": "2019-10-07", "title": "GIÁM ĐỐC\uffff", "signer": "A"}
    body = assert_problem(api.get(f"/api/v1/campaigns/{CODE}/letters/launch", org, query_string=query), 422,
                          "title")
    assert "ký tự không hợp lệ" in body["detail_vi"]
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    login(client, "admin@tgg.example")
    r = client.post(f"/campaigns/{CODE}/letters", data={"kind": "launch", "day": "2019-10-07", "title": "GIÁM ĐỐC",
                                                         "signer": "Nguyễn Văn A\ufffe"})
    assert r.status_code == 422 and "ký tự không hợp lệ" in r.get_data(as_text=True)
    result = runner.invoke(args=["campaign", "letter", CODE, "launch", "--date", "2019-10-07", "--title", "GIÁM ĐỐC",
                                 "--signer", "A\uffff", "-o", "/dev/null"])
    assert result.exit_code != 0 and "ký tự không hợp lệ" in result.output


def test_the_same_letter_is_the_same_file(runner):
    """The bytes do not depend on the second the letter was made (its ETag holds while the letter does)."""
    from workflow import letters
    import_example(runner, "tien-giang-2019.yaml")
    head = letters.LetterHead("1270/STTTT-CNTT&BCVT", local(2019, 10, 7, 9).date(), "", "GIÁM ĐỐC", "Nguyễn Văn A")
    with time_machine.travel(local(2019, 10, 8, 9), tick=False):
        first = letters.build(campaign(CODE), "launch", head, local(2019, 10, 8, 9))
    with time_machine.travel(local(2019, 10, 8, 9, 0, 7), tick=False):
        second = letters.build(campaign(CODE), "launch", head, local(2019, 10, 8, 9))
    assert first == second
    assert "Nguyễn Văn A" in _text(first)
