"""Next year's campaign: `flask campaign clone` moves every date to the same place in the new year.

Every expected date below was worked out by hand from the official calendars (counted on paper,
working day by working day; the holidays are those `flask workdays holidays YEAR` prints):

* Tiền Giang 2019 → 2020 (default deadline): 25/10/2020 is a Sunday → Monday 26/10/2020.
* Bình Thuận 2019 → 2020: its 2019 deadline was a Sunday; 15/09/2020 is a Tuesday.
* Cao Bằng 2018 → 2019: deadline only. Phú Thọ 2016 → 2017: 21/10/2017 is a Saturday → 23/10.
* Tiền Giang 2020 → 2021: the plan of 13/02/2020 is 177 working days before the deadline.
* Across Tết 2027 (29 Tết 04/02 – mùng năm 10/02): deadline Monday 01/02/2027.
* Across 30/4–1/5 2027 (30/4 Friday, 1/5 Saturday, 3/5 off in lieu; Giỗ Tổ Friday 16/4): deadline 26/04/2027.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import import_example
from workflow.db import db
from workflow.models import AuditEvent, Campaign

D = date.fromisoformat

#: (example, source code, new year, --deadline or None) -> every date of the new campaign.
CASES = {
    "tgg-2019-default": ("tien-giang-2019.yaml", "TGG-UDCNTT-2019", 2020, None, {
        "deadline": "2020-10-26",             # 25/10/2020 Sunday -> next working day
        "document_date": "2020-10-06",        # 14 working days before the deadline (07/10 -> 25/10/2019)
        "data_period_start": "2020-01-01", "data_period_end": "2020-10-01",
        "preliminary_review": "2020-10-30",   # 4 wd after: 27, 28, 29, 30/10
        "field_inspection.start": "2020-11-02",  # 5 wd after (= the grace end, as in 2019)
        "field_inspection": "2020-11-16",     # 15 wd after
        "award_notice": "2020-11-18",         # 17 wd after
        "award_dossiers": "2020-11-26",       # 23 wd after
        "approval": "2020-11-30",             # "trước ngày 02/12/2019": 26 wd after = Tue 01/12/2020, less a day
    }),
    "btn-2019-default": ("binh-thuan-2019.yaml", "BTN-UDCNTT-2019", 2020, None, {
        "deadline": "2020-09-15",
        "document_date": "2020-08-07",        # 26 wd before (02/09 off both years)
        "data_period_start": "2019-09-01", "data_period_end": "2020-08-31",
        "preliminary_review": "2020-09-29",   # "trước ngày 30/9": 30/09 is 11 wd after, less a day
        "field_inspection.start": "2020-10-01",  # 12 wd after
        "field_inspection": "2020-11-09",     # "trước ngày 10/11" (a Sunday in 2019): Mon 11/11 = 41 wd, less 2 days
        "approval": "2020-11-24",             # "trước ngày 25/11": 51 wd after, less a day
    }),
    "cbg-2018-default": ("cao-bang-2018.yaml", "CBG-UDCNTT-2018", 2019, None, {
        "deadline": "2019-11-26",
    }),
    "pto-2016-default": ("phu-tho-2016.yaml", "PTO-UDCNTT-2016", 2017, None, {
        "deadline": "2017-10-23",             # 21/10/2017 Saturday -> Monday
        "document_date": "2017-10-05",        # 12 wd before
        "data_period_start": "2016-10-01", "data_period_end": "2017-10-31",
    }),
    "tgg-2020-default": ("tien-giang-2020.yaml", "TGG-UDCNTT-2020", 2021, None, {
        "deadline": "2021-10-25",             # 23/10/2021 Saturday -> Monday
        "document_date": "2021-02-04",        # 177 wd before: counted back across Tết 2021 (10–16/02)
    }),
    "tgg-2019-across-tet": ("tien-giang-2019.yaml", "TGG-UDCNTT-2019", 2027, "2027-02-01", {
        "deadline": "2027-02-01",
        "document_date": "2027-01-12",        # 14 wd before
        "data_period_start": "2027-01-01", "data_period_end": "2027-10-01",
        "preliminary_review": "2027-02-12",   # 2, 3/02, then Tết, 11, 12/02
        "field_inspection.start": "2027-02-15",  # the 5th working day: the grace end
        "field_inspection": "2027-03-01",
        "award_notice": "2027-03-03",
        "award_dossiers": "2027-03-11",
        "approval": "2027-03-15",             # 26 wd = Tue 16/03, less a day
    }),
    "tgg-2019-across-30-4": ("tien-giang-2019.yaml", "TGG-UDCNTT-2019", 2027, "2027-04-26", {
        "deadline": "2027-04-26",
        "document_date": "2027-04-05",        # 14 wd before, skipping Giỗ Tổ (Fri 16/04)
        "data_period_start": "2027-01-01", "data_period_end": "2027-10-01",
        "preliminary_review": "2027-05-04",   # 27, 28, 29/04, then 30/4, 1/5, 3/5 off, 4/05
        "field_inspection.start": "2027-05-05",
        "field_inspection": "2027-05-19",
        "award_notice": "2027-05-21",
        "award_dossiers": "2027-05-31",
        "approval": "2027-06-02",
    }),
}


@pytest.mark.parametrize("case", list(CASES))
def test_clone_moves_every_date_to_the_same_place(runner, case):
    example, code, year, deadline, expected = CASES[case]
    import_example(runner, example)
    args = ["campaign", "clone", code, "--code", f"{code}-NEXT", "--year", str(year), "--now", "2026-12-01T09:00:00+07:00"]
    if deadline:
        args += ["--deadline", deadline]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    old = db.session.scalar(select(Campaign).where(Campaign.code == code))
    new = db.session.scalar(select(Campaign).where(Campaign.code == f"{code}-NEXT"))
    got = {"deadline": new.deadline}
    if new.document_date:
        got["document_date"] = new.document_date
    if new.data_period_start:
        got["data_period_start"], got["data_period_end"] = new.data_period_start, new.data_period_end
    for m in new.milestones:
        got[m.kind] = m.end_date
        if m.start_date:
            got[f"{m.kind}.start"] = m.start_date
    assert {k: v.isoformat() for k, v in got.items()} == expected
    # Every date is in the output too, old and new side by side.
    for what, day in expected.items():
        assert f"\t{what}\t" in result.output and f"\t{day}\t" in result.output
    # The same everything else, as a new draft linked to the old one.
    assert new.state == "draft" and new.previous_id == old.id and new.year == year
    assert new.grace_working_days == old.grace_working_days
    assert new.tiers == old.tiers and new.reminder_rules == old.reminder_rules
    assert new.commune_nomination == old.commune_nomination and new.council_emails == old.council_emails
    assert set(new.required_documents) == set(old.required_documents)
    assert sorted(p.unit.code for p in new.participations) == sorted(p.unit.code for p in old.participations)
    assert new.document_number == ""
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.cloned",
                                                      AuditEvent.campaign_id == new.id)) is not None


def test_grace_of_five_working_days_stays_five_across_tet(runner, app):
    from workflow.campaigns import timeline_of
    import_example(runner, "tien-giang-2019.yaml")
    assert runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2027", "--year", "2027",
                               "--deadline", "2027-02-01"]).exit_code == 0
    new = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2027"))
    assert timeline_of(new).grace_end == D("2027-02-15")


def test_required_documents_and_title_name_the_new_year(runner):
    import_example(runner, "tien-giang-2019.yaml")
    runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020", "--year", "2020"])
    new = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2020"))
    assert new.title.endswith("năm 2020")
    first = new.required_documents["department"][0]
    assert "năm 2020" in first
    # A 2019 letter cited by a document keeps its own date.
    assert "ngày 19/3/2019" in new.required_documents["department"][1]


def test_cloning_twice_is_refused(runner):
    import_example(runner, "tien-giang-2019.yaml")
    first = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020", "--year", "2020"])
    assert first.exit_code == 0
    again = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020B", "--year", "2020"])
    assert again.exit_code == 1
    assert "đã được sao chép sang năm sau: TGG-2020" in again.output
    assert db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2020B")) is None


def test_cloning_into_an_existing_code_is_refused(runner):
    import_example(runner, "tien-giang-2019.yaml")
    import_example(runner, "tien-giang-2020.yaml")
    before = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2020"))
    n_before = len(before.participations)
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-UDCNTT-2020",
                                 "--year", "2020"])
    assert result.exit_code == 1
    assert "Đã có đợt đánh giá mã “TGG-UDCNTT-2020”" in result.output
    db.session.expire_all()
    after = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2020"))
    assert after.previous_id is None and len(after.participations) == n_before


def test_a_year_not_after_the_source_is_refused(runner):
    import_example(runner, "tien-giang-2019.yaml")
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "X", "--year", "2019"])
    assert result.exit_code == 1 and "phải sau năm 2019" in result.output


def test_dry_run_saves_nothing_and_shows_warnings(runner):
    import_example(runner, "tien-giang-2019.yaml")
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2027", "--year", "2027",
                                 "--deadline", "2027-02-01", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2027")) is None
    # The review planned before the grace end in 2019 is still so: a warning.
    assert "warning\tpreliminary_review\t2027-02-12\tbefore_grace_end" in result.output
    # The districts were abolished on 1 July 2025.
    assert "abolished\tMYTHO\tkept" in result.output


def test_a_date_landing_on_a_day_off_is_a_warning(runner):
    import_example(runner, "tien-giang-2019.yaml")
    # approval "trước ngày 02/12": with the deadline on 05/02/2027 (Tết), the day before the 26th
    # working day is a Sunday.
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "X", "--year", "2027",
                                 "--deadline", "2027-02-05", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "warning\tdeadline\t2027-02-05\tday_off" in result.output


def test_abolished_districts_can_be_left_out(runner):
    import_example(runner, "tien-giang-2019.yaml")
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2026", "--year", "2026",
                                 "--leave-out-abolished"])
    assert result.exit_code == 0, result.output
    new = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-2026"))
    groups = {p.unit.group for p in new.participations}
    assert "district" not in groups and "commune" in groups
    assert len(new.participations) == 46 - 11
    # The units themselves stay (the 2019 campaign still has them).
    old = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2019"))
    assert len(old.participations) == 46


def test_unknown_unit_to_leave_out_is_refused(runner):
    import_example(runner, "tien-giang-2019.yaml")
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "X", "--year", "2020",
                                 "--leave-out", "NOPE"])
    assert result.exit_code == 1 and "NOPE" in result.output


# -- the web preview and the results page --------------------------------------------

from tests.conftest import login  # noqa: E402


@pytest.fixture
def admin(client, runner, make_user):
    import_example(runner, "tien-giang-2019.yaml")
    make_user("admin@tgg.example", "organizer_admin", "TGG")
    login(client, "admin@tgg.example")
    return client


def test_dashboard_button_opens_the_preview_which_saves_nothing(admin):
    page = admin.get("/campaigns/TGG-UDCNTT-2019").get_data(as_text=True)
    assert "/campaigns/TGG-UDCNTT-2019/clone" in page and "Tạo đợt năm sau" in page
    form = admin.get("/campaigns/TGG-UDCNTT-2019/clone").get_data(as_text=True)
    assert 'value="TGG-UDCNTT-2020"' in form
    r = admin.post("/campaigns/TGG-UDCNTT-2019/clone", data={"code": "TGG-UDCNTT-2027", "year": "2027",
                                                             "deadline": "2027-02-01"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Xem trước: TGG-UDCNTT-2027, năm 2027" in html
    assert "12/02/2027" in html and "15/02/2027" in html  # review, grace end / inspection start
    assert "không sau ngày hết thời gian gia hạn" in html  # the warning
    # The districts are proposed for leaving out: their boxes are ticked.
    assert 'value="MYTHO" id' in html and 'value="MYTHO" id="lo-' in html
    assert db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2027")) is None


def test_confirming_the_preview_creates_the_draft(admin):
    r = admin.post("/campaigns/TGG-UDCNTT-2019/clone", data={
        "code": "TGG-UDCNTT-2027", "year": "2027", "deadline": "2027-02-01", "previewed": "1", "confirm": "1",
        "leave_out": ["MYTHO", "GOCONG"]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/campaigns/TGG-UDCNTT-2027")
    new = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2027"))
    assert new.state == "draft" and len(new.participations) == 44
    assert {m.kind: m.end_date for m in new.milestones}["award_dossiers"] == D("2027-03-11")
    again = admin.post("/campaigns/TGG-UDCNTT-2019/clone", data={"code": "OTHER", "year": "2027", "confirm": "1"})
    assert again.status_code == 422 and "đã được sao chép sang năm sau" in again.get_data(as_text=True)


@pytest.mark.parametrize("data, message", [
    ({"code": "X", "year": "hai nghìn"}, "Năm phải là một số"),
    ({"code": "X", "year": "2027", "deadline": "31/02/2027"}, "Hạn nộp không phải là ngày hợp lệ"),
    ({"code": "TGG-UDCNTT-2019", "year": "2027"}, "Đã có đợt đánh giá mã"),
    ({"code": "", "year": "2027"}, "Cần mã của đợt đánh giá mới"),
])
def test_bad_clone_input_is_refused_in_vietnamese(admin, data, message):
    r = admin.post("/campaigns/TGG-UDCNTT-2019/clone", data=data)
    assert r.status_code == 422 and message in r.get_data(as_text=True)


def test_results_show_last_years_score_and_rank(admin, runner):
    from decimal import Decimal

    from workflow import operations as ops
    from workflow.models import Unit
    old = db.session.scalar(select(Campaign).where(Campaign.code == "TGG-UDCNTT-2019"))
    old.score_bonus = 5  # "Tốt: từ 100 điểm trở lên" (seed 002): scores pass 100 with bonus points
    now = datetime(2019, 10, 20, 3, 0, tzinfo=UTC)
    for code, score in (("SYT", "98.5"), ("STP", "101")):
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        ops.record_submission(old, unit, received_at=now, channel="upload", recorded_by="t", now=now)
        ops.set_scores(old, unit, actor="t", now=now, verified_score=Decimal(score))
    db.session.commit()
    assert runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020", "--year", "2020"]
                         ).exit_code == 0
    html = admin.get("/campaigns/TGG-2020/results").get_data(as_text=True)
    assert "Năm trước: TGG-UDCNTT-2019 (năm 2019)" in html
    row = html.split('data-unit="SYT"')[1].split("</tr>")[0]
    assert '<td class="text-end prev-score">98,50</td><td class="prev-rank">2</td>' in row
    row = html.split('data-unit="STP"')[1].split("</tr>")[0]
    assert '<td class="text-end prev-score">101,00</td><td class="prev-rank">1</td>' in row
