"""The evaluation on the database: sheets, submission, verification, the confirmation round, scores.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from notifications.models import OutboxMail
from tests.conftest import local
from workflow import campaigns, evaluation, operations
from workflow.criteria import ConfirmationRound, SheetEntry
from workflow.db import db
from workflow.models import AuditEvent, Participation, Unit
from workflow.operations import OperationError

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
      - {code: 2, title: Dịch vụ công trực tuyến, max: 10}
      - {code: 2.1, title: "Tỷ lệ TTHC mức 3, 4", max: 6, kind: ratio, proportional: true, na: true}
      - {code: 2.2, title: Có cán bộ chuyên trách, max: 4, kind: yes_no}
      - {code: 3, title: Một cửa cấp huyện, max: 5, groups: [district]}
      - {code: 3.1, title: Bộ phận một cửa hiện đại, max: 5, kind: yes_no, groups: [district]}
"""

FULL = {"1.1": {"numerator": "45", "denominator": "50"}, "1.2": {"links": ["https://stc.tiengiang.gov.vn/cddh"]},
        "2.1": {"na": True, "explanation": "Sở không có thủ tục hành chính mức 3, 4"}, "2.2": {"yes": True}}


@pytest.fixture
def setup(make_campaign):
    campaign = make_campaign(CAMPAIGN)
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    return campaign, units


def audit(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_draft_then_submit_is_the_dossier_submission(setup):
    campaign, units = setup
    stc = units["STC"]
    view = evaluation.save_draft(campaign, stc, FULL, actor="stc@x", now=local(2019, 10, 20, 9))
    assert view.draft_score.claimed_total == 20
    db.session.commit()
    p = db.session.scalar(select(Participation).where(Participation.unit_id == stc.id))
    assert p.status == "not_submitted" and p.self_score is None  # a draft is not a dossier
    view = evaluation.submit_sheet(campaign, stc, actor="stc@x", now=local(2019, 10, 28, 10))
    db.session.commit()
    assert (p.status, p.late_working_days) == ("late", 1)
    assert p.self_score == Decimal(20)
    assert p.submissions[-1].receipt_number == "TGG-2019/STC/1"
    assert db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "receipt", OutboxMail.unit_id == stc.id))
    assert audit("sheet.submitted")[0].to_value.startswith("v1 self-assessed total 20")


def test_a_refused_value_saves_nothing(setup):
    campaign, units = setup
    with pytest.raises(OperationError) as exc:
        evaluation.save_draft(campaign, units["STC"], {"2.2": {"yes": True}, "1.1": {"numerator": "5"}},
                              actor="x", now=local(2019, 10, 20, 9))
    assert exc.value.field == "1.1.denominator"
    db.session.rollback()
    assert db.session.scalars(select(SheetEntry)).all() == []
    with pytest.raises(OperationError) as exc:
        evaluation.save_draft(campaign, units["STC"], {"3.1": {"yes": True}}, actor="x", now=local(2019, 10, 20, 9))
    assert exc.value.field == "3.1"  # a district criterion is not in a department's sheet


def test_a_sheet_one_second_after_grace_end_is_refused_as_dossiers_are(setup):
    campaign, units = setup
    evaluation.save_draft(campaign, units["STC"], FULL, actor="x", now=local(2019, 10, 20, 9))
    grace_end = campaigns.timeline_of(campaign).grace_ends_at
    assert grace_end == local(2019, 11, 2, 0, 0, 0)
    with pytest.raises(OperationError) as exc:
        evaluation.submit_sheet(campaign, units["STC"], actor="x", now=local(2019, 11, 2, 0, 0, 1))
    assert "gia hạn" in exc.value.message_vi or "loại" in exc.value.message_vi
    with pytest.raises(OperationError):
        evaluation.save_draft(campaign, units["STC"], {"2.2": {"yes": False}}, actor="x", now=local(2019, 11, 2, 0, 0, 1))
    # one second before: accepted, late
    evaluation.submit_sheet(campaign, units["STC"], actor="x", now=local(2019, 11, 1, 23, 59, 59))
    p = db.session.scalar(select(Participation).where(Participation.unit_id == units["STC"].id))
    assert p.status == "late" and p.late_working_days == 5


def test_single_number_scores_are_refused_when_a_set_exists(setup):
    campaign, units = setup
    with pytest.raises(OperationError) as exc:
        operations.set_scores(campaign, units["STC"], actor="a", now=local(2019, 10, 20, 9),
                              verified_score=Decimal(150))
    assert "bộ tiêu chí" in exc.value.message_vi


def test_verification_needs_a_note_and_scores_by_the_rule(setup):
    campaign, units = setup
    stc = units["STC"]
    evaluation.save_draft(campaign, stc, FULL, actor="x", now=local(2019, 10, 20, 9))
    evaluation.submit_sheet(campaign, stc, actor="x", now=local(2019, 10, 21, 9))
    db.session.commit()
    with pytest.raises(OperationError) as exc:
        evaluation.verify(campaign, stc, "1.1", actor="admin", now=local(2019, 10, 29, 9), stage="preliminary_review",
                          value={"numerator": "40", "denominator": "50"})
    assert exc.value.field == "note"
    db.session.rollback()
    evaluation.verify(campaign, stc, "1.1", actor="admin", now=local(2019, 10, 29, 9), stage="preliminary_review",
                      value={"numerator": "40", "denominator": "50"}, note="Phần mềm QLVB: 40/50 văn bản có ký số")
    evaluation.verify(campaign, stc, "1.2", actor="council", now=local(2019, 11, 5, 9), stage="field_inspection",
                      link_not_found=True, note="Không tìm thấy mục Chỉ đạo điều hành")
    _p, view = evaluation.view_of(campaign, stc)
    assert (view.score.claimed_total, view.score.verified_total) == (20, 13)
    assert view.score.verified["1.1"] == 3 and view.score.verified["1.2"] == 0


def test_the_confirmation_round_end_to_end(setup):
    campaign, units = setup
    stc, syt = units["STC"], units["SYT"]
    for unit in (stc, syt):
        evaluation.save_draft(campaign, unit, FULL, actor="x", now=local(2019, 10, 20, 9))
        evaluation.submit_sheet(campaign, unit, actor="x", now=local(2019, 10, 21, 9))
    db.session.commit()
    operations.run_tick(local(2019, 11, 4, 8))  # grace over: MYTHO excluded
    for unit in (stc, syt):
        evaluation.verify(campaign, unit, "1.1", actor="admin@tgg", now=local(2019, 11, 4, 9),
                          stage="preliminary_review", value={"numerator": "30", "denominator": "50"},
                          note="Đối chiếu phần mềm QLVB")
    # Sent Friday 8/11/2019: 3 working days → Wednesday 13/11/2019, 24:00.
    rnd = evaluation.send_figures(campaign, stc, actor="admin@tgg", now=local(2019, 11, 8, 9))
    rnd_syt = evaluation.send_figures(campaign, syt, actor="admin@tgg", now=local(2019, 11, 8, 9))
    db.session.commit()
    assert rnd.deadline.isoformat() == "2019-11-13" and rnd.due_at == local(2019, 11, 14, 0, 0)
    mails = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "confirmation")).all()
    assert {m.recipient for m in mails} == {"vanthu.stc@tiengiang.gov.vn", "vanthu.syt@tiengiang.gov.vn"}
    assert "13/11/2019" in mails[0].body_text and "1.1" in mails[0].body_text
    with pytest.raises(OperationError):  # out for confirmation: no re-verification meanwhile
        evaluation.verify(campaign, stc, "2.2", actor="admin", now=local(2019, 11, 8, 10), stage="preliminary_review",
                          value={"yes": True})
    db.session.rollback()
    # STC disputes 1.1 and confirms the rest; a dispute without a reason is refused.
    with pytest.raises(OperationError) as exc:
        evaluation.respond(campaign, stc, {"1.1": ("disputed", " ")}, actor="stc@x", now=local(2019, 11, 11, 9))
    assert exc.value.field == "1.1.reason"
    db.session.rollback()
    evaluation.respond(campaign, stc, {"1.1": ("disputed", "Số văn bản ký số là 45, kèm báo cáo phần mềm"),
                                       "1.2": ("confirmed", ""), "2.1": ("confirmed", ""), "2.2": ("confirmed", "")},
                       actor="stc@x", now=local(2019, 11, 11, 9))
    # SYT answers one criterion only.
    evaluation.respond(campaign, syt, {"2.2": ("confirmed", "")}, actor="syt@x", now=local(2019, 11, 11, 9))
    db.session.commit()
    assert rnd.outcome == "answered" and rnd.disputed == 1
    # The reminder goes out on the last day, a working day, in office hours; not twice.
    operations.run_tick(local(2019, 11, 12, 9))
    operations.run_tick(local(2019, 11, 13, 6))  # before office hours
    assert db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "confirmation_reminder")).all() == []
    operations.run_tick(local(2019, 11, 13, 9))
    operations.run_tick(local(2019, 11, 13, 10))
    db.session.commit()
    reminders = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "confirmation_reminder")).all()
    assert [r.recipient for r in reminders] == ["vanthu.syt@tiengiang.gov.vn"]
    assert "3 tiêu chí" in reminders[0].body_text
    # Answering after the deadline is refused; the tick records the figures as standing.
    with pytest.raises(OperationError):
        evaluation.respond(campaign, syt, {"1.1": ("disputed", "muộn")}, actor="syt@x", now=local(2019, 11, 14, 0, 0, 1))
    db.session.rollback()
    result = operations.run_tick(local(2019, 11, 14, 8))
    db.session.commit()
    assert result["confirmation_rounds_closed"] == 1
    assert rnd_syt.outcome == "lapsed" and rnd_syt.closed_at == local(2019, 11, 14, 0, 0)
    p_syt = db.session.scalar(select(Participation).where(Participation.unit_id == syt.id))
    assert (p_syt.status, p_syt.verified_score) == ("verified", Decimal(17))
    _p, view = evaluation.view_of(campaign, syt)
    assert {c: e.response for c, e in view.entries.items()} == {
        "1.1": "not_disputed_in_time", "1.2": "not_disputed_in_time", "2.1": "not_disputed_in_time",
        "2.2": "confirmed"}
    assert operations.run_tick(local(2019, 11, 15, 8))["confirmation_rounds_closed"] == 0  # idempotent
    # STC's dispute: the organizer re-verifies and settles; the figures stand.
    p_stc = db.session.scalar(select(Participation).where(Participation.unit_id == stc.id))
    assert p_stc.verified_score is None
    evaluation.verify(campaign, stc, "1.1", actor="admin@tgg", now=local(2019, 11, 15, 9), stage="field_inspection",
                      value={"numerator": "45", "denominator": "50"}, note="Đơn vị cung cấp báo cáo: 45/50")
    evaluation.settle(campaign, stc, actor="admin@tgg", now=local(2019, 11, 15, 10), reason="Chấp nhận ý kiến của đơn vị")
    db.session.commit()
    assert (p_stc.status, p_stc.verified_score) == ("verified", Decimal(20))
    # The campaign's totals (stored points added up) agree with the rules on each sheet.
    from workflow.sheets import campaign_scores
    totals = {s.unit_id: (s.claimed_total, s.verified_total, s.sections) for s in campaign_scores(campaign)}
    for unit in (stc, syt):
        _p, v = evaluation.view_of(campaign, unit)
        assert totals[unit.id][:2] == (v.score.claimed_total, v.score.verified_total)
        assert totals[unit.id][2] == {c: (v.score.claimed[c], v.score.verified[c]) for c in ("1", "2")}
    # Ranks and tiers from the verified totals; MYTHO excluded, not ranked.
    res = {r.participation.unit.code: r for r in campaigns.results(campaign, local(2019, 11, 15, 11))}
    assert (res["STC"].rank, res["STC"].rating, res["STC"].provisional) == (1, "Tốt", False)
    assert (res["SYT"].rank, res["SYT"].rating) == (2, "Khá")
    assert res["MYTHO"].rank is None and res["MYTHO"].status == "excluded"
    # The audit tells the whole story.
    actions = [a.action for a in db.session.scalars(select(AuditEvent).where(AuditEvent.unit_id == syt.id)
                                                     .order_by(AuditEvent.at, AuditEvent.id))]
    assert actions == ["sheet.saved", "submission.received", "sheet.submitted", "criterion.verified",
                       "figures.sent_for_confirmation", "figures.confirmed", "figures.not_disputed_in_time",
                       "figures.stand"]
    stand = audit("figures.stand")
    assert [(s.unit_id, s.reason) for s in stand] == [
        (syt.id, "not disputed in time"), (stc.id, "disputes settled: Chấp nhận ý kiến của đơn vị")]
    assert db.session.scalars(select(ConfirmationRound)).all()


def test_all_confirmed_means_the_figures_stand_at_once(setup):
    campaign, units = setup
    stc = units["STC"]
    evaluation.save_draft(campaign, stc, FULL, actor="x", now=local(2019, 10, 20, 9))
    evaluation.submit_sheet(campaign, stc, actor="x", now=local(2019, 10, 21, 9))
    evaluation.send_figures(campaign, stc, actor="admin", now=local(2019, 11, 4, 9), working_days=5)
    evaluation.respond(campaign, stc, {c: ("confirmed", "") for c in FULL}, actor="stc", now=local(2019, 11, 5, 9))
    p = db.session.scalar(select(Participation).where(Participation.unit_id == stc.id))
    assert (p.status, p.verified_score) == ("confirmed", Decimal(20))


def test_the_cli_runs_the_same_round(setup, runner, tmp_path):
    campaign, units = setup
    evaluation.save_draft(campaign, units["STC"], FULL, actor="x", now=local(2019, 10, 20, 9))
    db.session.commit()

    def ok(*args):
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output
    assert "submitted, self-assessed total 20" in ok("sheet", "submit", "TGG-2019", "STC",
                                                     "--now", "2019-10-21T09:00:00+07:00")
    refused = runner.invoke(args=["sheet", "verify", "TGG-2019", "STC", "1.1", "--value", "numerator=30",
                                  "--value", "denominator=50", "--now", "2019-11-04T09:00:00+07:00"])
    assert refused.exit_code == 1 and "ghi chú" in refused.output
    assert "3.00 points" in ok("sheet", "verify", "TGG-2019", "STC", "1.1", "--value", "numerator=30", "--value",
                               "denominator=50", "--note", "QLVB", "--now", "2019-11-04T09:00:00+07:00")
    assert "confirm by 24:00 07/11/2019" in ok("sheet", "send", "TGG-2019", "--all",
                                               "--now", "2019-11-04T10:00:00+07:00")
    assert "round answered" in ok("sheet", "respond", "TGG-2019", "STC", "1.1=disputed:45 văn bản", "1.2=confirmed",
                                  "2.1=confirmed", "2.2=confirmed", "--now", "2019-11-05T09:00:00+07:00")
    out = ok("sheet", "show", "TGG-2019", "STC", "--json")
    import json
    doc = json.loads(out)
    assert (doc["claimed_total"], doc["verified_total"]) == ("20.00", "17.00")
    assert [c["response"] for c in doc["criteria"]] == ["disputed", "confirmed", "confirmed", "confirmed"]
    xlsx = tmp_path / "set.xlsx"
    ok("criteria", "export", "TGG-2019", "-o", str(xlsx))
    assert "unchanged" in ok("criteria", "import", "TGG-2019", str(xlsx), "--now", "2019-11-05T09:00:00+07:00")


DEEP = CAMPAIGN.split("criteria:")[0] + """criteria:
  - code: DEEP
    items:
      - {code: 1, title: Ứng dụng CNTT, max: 10}
      - {code: 1.1, title: Cổng thông tin, max: 5}
      - {code: 1.1.1, title: Có chuyên mục, max: 4, kind: yes_no}
      - {code: 1.1.2, title: Cập nhật hằng tuần, max: 4, kind: yes_no}
      - {code: 1.2, title: Một cửa, max: 5, kind: yes_no}
      - {code: 2, title: Điểm thưởng, max: 3, kind: yes_no}
"""


def test_campaign_totals_agree_with_the_rules_on_a_deeper_tree(make_campaign):
    from workflow.sheets import campaign_scores
    campaign = make_campaign(DEEP)
    stc = db.session.scalar(select(Unit).where(Unit.code == "STC"))
    yes = {"yes": True}
    evaluation.save_draft(campaign, stc, {c: yes for c in ("1.1.1", "1.1.2", "1.2", "2")}, actor="x",
                          now=local(2019, 10, 20, 9))
    evaluation.submit_sheet(campaign, stc, actor="x", now=local(2019, 10, 21, 9))
    evaluation.verify(campaign, stc, "1.1.1", actor="a", now=local(2019, 11, 4, 9), stage="preliminary_review",
                      value={"yes": False}, note="Không có chuyên mục")
    db.session.commit()
    _p, view = evaluation.view_of(campaign, stc)
    (s,) = campaign_scores(campaign)
    assert (view.score.claimed["1.1"], view.score.claimed["1"], view.score.claimed_total) == (5, 10, 13)
    assert (view.score.verified["1.1"], view.score.verified_total) == (4, 12)
    assert (s.claimed_total, s.verified_total) == (view.score.claimed_total, view.score.verified_total)
    assert s.sections == {"1": (Decimal(10), Decimal(9)), "2": (Decimal(3), Decimal(3))}
