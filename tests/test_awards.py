"""The award step of seed 000, end to end: proposed units, notices, award dossiers on time, late and
refused, reminders, the decision, publication and the public page (both databases)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.conftest import import_example, local
from workflow import operations as ops
from workflow.award_models import AwardProposal
from workflow.db import db
from workflow.models import Campaign, Submission, Unit

CODE = "TGG-UDCNTT-2019"


def unit(code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def mails(kind, unit_code=None):
    q = select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == kind)
    if unit_code:
        q = q.where(OutboxMail.unit_id == unit(unit_code).id)
    return db.session.scalar(q)


def run(runner, *args):
    return runner.invoke(args=list(args))


def to_award_step(runner):
    """Tiền Giang 2019: four units send and are scored; the others are excluded at grace end."""
    import_example(runner, "tien-giang-2019.yaml")
    c = db.session.scalar(select(Campaign).where(Campaign.code == CODE))
    c.score_bonus = 5  # "Tốt: từ 100 điểm trở lên" (seed 002): scores pass 100 with bonus points
    sent = local(2019, 10, 24, 10, 0)
    for code, score in (("SYT", "101"), ("STP", "100"), ("SNV", "96"), ("CATINH", "102")):
        ops.record_submission(c, unit(code), received_at=sent, channel="upload", recorded_by="t", now=sent)
    db.session.commit()
    assert run(runner, "tick", "--now", "2019-11-04T08:00:00+07:00").exit_code == 0
    for code, score in (("SYT", "101"), ("STP", "100"), ("SNV", "96"), ("CATINH", "102")):
        ops.set_scores(c, unit(code), actor="t", now=local(2019, 11, 5, 9), verified_score=Decimal(score))
    ops.mark_step(c, "review_done", actor="t", now=local(2019, 11, 5, 10))
    ops.mark_step(c, "inspection_done", actor="t", now=local(2019, 11, 15, 16))
    db.session.commit()
    return c


def test_the_award_step_end_to_end(runner, app, client):
    c = to_award_step(runner)
    # Not before the award step.
    # A change to the ranking's list needs a reason.
    r = run(runner, "awards", "propose", CODE, "--add", "SNV", "--now", "2019-11-18T09:00:00+07:00")
    assert r.exit_code == 1 and "Cần ghi rõ lý do" in r.output
    r = run(runner, "awards", "propose", CODE, "--add", "SNV", "--reason", "Đề xuất của Hội đồng thẩm định",
            "--now", "2019-11-18T09:00:00+07:00")
    assert r.exit_code == 0, r.output
    lines = sorted(r.output.strip().splitlines())
    assert lines == ["proposed\tCATINH\tvertical\tranking\tnot_submitted",
                     "proposed\tSNV\tdepartment\tmanual\tnot_submitted",
                     "proposed\tSTP\tdepartment\tranking\tnot_submitted",
                     "proposed\tSYT\tdepartment\tranking\tnot_submitted"]
    # An excluded unit cannot be proposed.
    r = run(runner, "awards", "propose", CODE, "--add", "STC", "--reason", "x", "--now", "2019-11-18T09:00:00+07:00")
    assert r.exit_code == 1 and "không được đánh giá" in r.output
    # Each proposed unit got a notice at each of its addresses, once (proposing again sends nothing new).
    assert mails("award_notice", "SYT") == 2 and mails("award_notice", "CATINH") == 1
    run(runner, "awards", "propose", CODE, "--add", "SNV", "--reason", "Hội đồng", "--now", "2019-11-18T10:00:00+07:00")
    assert mails("award_notice") == 2 + 2 + 2 + 1
    notice = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "award_notice").limit(1))
    assert "27/11/2019" in notice.body_text and "hồ sơ đề nghị khen thưởng" in notice.body_text

    # Reminders: none before three working days ahead of 27/11; then once a day to those without a dossier.
    assert run(runner, "awards", "remind", CODE, "--now", "2019-11-21T09:00:00+07:00").output.strip() == "queued\t0"
    run(runner, "awards", "remind", CODE, "--now", "2019-11-22T09:00:00+07:00")
    assert mails("award_reminder") == 7
    run(runner, "awards", "remind", CODE, "--now", "2019-11-22T15:00:00+07:00")
    assert mails("award_reminder") == 7  # the same day: not again

    # On time, through e-office (needs the incoming number).
    r = run(runner, "awards", "dossier", CODE, "SYT", "--channel", "eoffice", "--received-at",
            "2019-11-27T16:00:00+07:00", "--now", "2019-11-27T17:00:00+07:00")
    assert r.exit_code == 1 and "số văn bản đến" in r.output
    r = run(runner, "awards", "dossier", CODE, "SYT", "--channel", "eoffice", "--doc-number", "4521",
            "--received-at", "2019-11-27T16:00:00+07:00", "--now", "2019-11-27T17:00:00+07:00")
    assert r.output.strip() == f"{CODE}/SYT/KT1\ton_time\t0", r.output
    # Late within the grace (28/11 Thu, 29/11 Fri: 2 working days), by e-mail.
    r = run(runner, "awards", "dossier", CODE, "STP", "--channel", "email", "--doc-number", "TD-88",
            "--received-at", "2019-11-29T10:00:00+07:00", "--now", "2019-11-29T11:00:00+07:00")
    assert r.output.strip() == f"{CODE}/STP/KT1\tlate\t2", r.output
    # Reminders after the milestone go only to those still without a dossier.
    run(runner, "awards", "remind", CODE, "--now", "2019-11-29T14:00:00+07:00")
    assert mails("award_reminder", "SYT") == 2 and mails("award_reminder", "CATINH") == 2
    late_reminder = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "award_reminder",
                                                               OutboxMail.occurrence == "2019-11-29").limit(1))
    assert "nộp trễ" in late_reminder.body_text
    # Uploaded on the last day of the grace (Wed 04/12/2019, 23:00): late 5.
    r = run(runner, "awards", "dossier", CODE, "SNV", "--channel", "upload", "--received-at",
            "2019-12-04T23:00:00+07:00", "--now", "2019-12-04T23:00:00+07:00")
    assert r.output.strip() == f"{CODE}/SNV/KT1\tlate\t5", r.output
    # After the grace: refused, nothing recorded.
    r = run(runner, "awards", "dossier", CODE, "CATINH", "--channel", "upload", "--now", "2019-12-05T08:00:00+07:00")
    assert r.exit_code == 1 and "sau khi hết thời gian gia hạn" in r.output
    assert db.session.scalar(select(func.count()).select_from(Submission).where(Submission.kind == "award")) == 3
    # Receipts as for the evaluation dossier; the evaluation dossier's versions are unchanged.
    assert mails("receipt", "SYT") == 2 and mails("award_receipt", "SYT") == 2
    receipt = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "award_receipt",
                                                         OutboxMail.unit_id == unit("STP").id).limit(1))
    assert "nộp trễ 2 ngày làm việc" in receipt.subject
    p = ops.participation_of(c, unit("SYT"))
    assert len(p.submissions) == 1 and p.status == "verified"
    status = {pr.participation.unit.code: (pr.dossier_status, pr.late_working_days)
              for pr in db.session.scalars(select(AwardProposal))}
    assert status == {"SYT": ("on_time", 0), "STP": ("late", 2), "SNV": ("late", 5), "CATINH": ("not_submitted", 0)}

    # The public page knows nothing yet.
    assert client.get(f"/ket-qua/{CODE}").status_code == 404
    assert CODE not in client.get("/ket-qua").get_data(as_text=True)

    # Publication needs the decision.
    ops.mark_step(c, "awards_done", actor="t", now=local(2019, 12, 5, 9))
    db.session.commit()
    r = run(runner, "campaign", "publish", CODE, "--now", "2019-12-06T09:00:00+07:00")
    assert r.exit_code == 1 and "quyết định phê duyệt" in r.output
    r = run(runner, "campaign", "decision", CODE, "--number", "3421/QĐ-UBND", "--date", "2019-12-06",
            "--signer", "KT. CHỦ TỊCH, PHÓ CHỦ TỊCH Nguyễn Văn Vĩnh", "--now", "2019-12-06T09:00:00+07:00")
    assert r.exit_code == 0, r.output
    r = run(runner, "campaign", "publish", CODE, "--now", "2019-12-06T10:00:00+07:00")
    assert r.output.strip() == f"published\t{CODE}\t3421/QĐ-UBND\t4 ranked units", r.output
    db.session.expire_all()
    assert db.session.scalar(select(Campaign).where(Campaign.code == CODE)).state == "approved"
    # Each unit mailed its result, as before.
    assert mails("results", "SYT") == 2 and mails("results", "STC") == 2

    # A score changed after publication is not shown: the page has only the published figures.
    ops.set_scores(c, unit("SNV"), actor="t", now=local(2019, 12, 7, 9), verified_score=Decimal("50"))
    db.session.commit()
    page = client.get(f"/ket-qua/{CODE}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Quyết định số <strong>3421/QĐ-UBND</strong>" in html and "Nguyễn Văn Vĩnh" in html
    assert "Sở Y tế" in html and "Công an tỉnh" in html
    snv = html.split('data-unit="SNV"')[1].split("</tr>")[0]
    assert "96,00" in snv and "Khá" in snv and "50" not in snv
    syt = html.split('data-unit="SYT"')[1].split("</tr>")[0]
    assert "<td>1</td>" in syt and "Tốt" in syt
    # Excluded units are neither listed nor scored.
    assert 'data-unit="STC"' not in html
    assert CODE in client.get("/ket-qua").get_data(as_text=True)
    r = run(runner, "campaign", "publish", CODE, "--now", "2019-12-06T11:00:00+07:00")
    assert r.exit_code == 1 and "đã được công bố" in r.output


def test_propose_is_refused_before_the_award_step(runner):
    import_example(runner, "tien-giang-2019.yaml")
    r = run(runner, "awards", "propose", CODE, "--now", "2019-10-20T09:00:00+07:00")
    assert r.exit_code == 1 and "sau khi hoàn thành kiểm tra thực tế" in r.output


def test_public_page_hides_unpublished_and_other_campaigns(runner, client):
    import_example(runner, "tien-giang-2019.yaml")
    assert client.get(f"/ket-qua/{CODE}").status_code == 404
    assert client.get("/ket-qua/NOPE").status_code == 404
    assert "Chưa có kết quả nào được công bố" in client.get("/ket-qua").get_data(as_text=True)


def test_the_award_page_lists_proposed_units_and_their_dossiers(runner, client, make_user):
    from tests.conftest import login
    to_award_step(runner)
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    login(client, "admin@tgg.example")
    assert "/campaigns/TGG-UDCNTT-2019/awards" in client.get(f"/campaigns/{CODE}").get_data(as_text=True)
    # The web form calls the same operation: a change without a reason is refused, in Vietnamese.
    r = client.post(f"/campaigns/{CODE}/awards/propose", data={"add": "SNV"})
    assert r.status_code == 422 and "Cần ghi rõ lý do" in r.get_data(as_text=True)
    r = client.post(f"/campaigns/{CODE}/awards/propose", data={"add": "SNV", "reason": "Hội đồng đề xuất"})
    assert r.status_code == 302
    r = client.post(f"/campaigns/{CODE}/awards/dossier", data={"unit": "SYT", "channel": "eoffice",
                                                               "doc_number": "4521", "received_at": "bad"})
    assert r.status_code == 422 and "Thời điểm nhận không hợp lệ" in r.get_data(as_text=True)
    r = client.post(f"/campaigns/{CODE}/awards/dossier", data={"unit": "SYT", "channel": "upload"})
    assert r.status_code == 409 and "sau khi hết thời gian gia hạn" in r.get_data(as_text=True)  # it is 2026 now
    html = client.get(f"/campaigns/{CODE}/awards").get_data(as_text=True)
    for code in ("SYT", "STP", "CATINH", "SNV"):
        assert f'data-unit="{code}"' in html
    assert "thay đổi thủ công: Hội đồng đề xuất" in html and "Chưa nộp" in html
    r = client.post(f"/campaigns/{CODE}/awards/decision", data={"number": "1/QĐ-UBND", "decided_on": "31/12",
                                                                "signer": "X"})
    assert r.status_code == 422 and "Ngày quyết định không hợp lệ" in r.get_data(as_text=True)
