"""``flask workdays``: the output formats are contracts (cli/workdays.py).

Driven through Flask's CLI runner on the ``app`` fixture, so every test runs on
SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (overrides live in the
database).  With click >= 8.2 the runner keeps stdout and stderr apart:
``result.stdout`` and ``result.stderr`` each hold one stream and
``result.output`` both, interleaved.
"""

from __future__ import annotations

from datetime import date

import pytest

from workflow.db import db
from workflow.models import AuditEvent, CalendarOverride, Organizer

# migrations/env.py (the stock Flask-Migrate template) calls the deprecated
# ``db.get_engine()`` when the ``migrated`` fixture builds the schema; pytest.ini
# turns that warning into an error.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

YAGI_REASON = "Nghỉ tránh bão số 3 (Yagi)"
YAGI_DOC = "Công văn 1234/UBND-VP"


def run(runner, *args: str):
    return runner.invoke(args=["workdays", *args])


def ok(runner, *args: str) -> list[str]:
    """Run a command that must succeed; its stdout lines."""
    result = run(runner, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    assert result.stderr == "", (args, result.stderr)
    return result.stdout.splitlines()


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


@pytest.fixture
def tgg(app) -> Organizer:
    org = Organizer(code="TGG", name="Sở Thông tin và Truyền thông Tiền Giang", province="Tiền Giang")
    other = Organizer(code="HNI", name="Sở Thông tin và Truyền thông Hà Nội", province="Hà Nội")
    db.session.add_all([org, other])
    db.session.commit()
    return org


# -- add ---------------------------------------------------------------------


def test_add_first_line_is_the_iso_last_day(runner):
    # Fri 25/10/2019 + 5 working days: Sat 26 and Sun 27 skipped, Mon 28 .. Fri 1/11.
    assert ok(runner, "add", "2019-10-25", "5") == ["2019-11-01"]


def test_add_explain_in_vietnamese_names_the_skipped_weekend(runner):
    lines = ok(runner, "add", "2019-10-25", "5", "--explain")
    assert lines[0] == "2019-11-01"
    assert len(lines) > 1
    text = "\n".join(lines[1:])
    assert "Thứ Bảy 26/10/2019: không tính — Thứ Bảy" in text
    assert "Chủ Nhật 27/10/2019: không tính — Chủ Nhật" in text
    assert "Thứ Hai 28/10/2019: ngày thứ 1" in text
    assert "Thứ Sáu 01/11/2019: ngày thứ 5" in text
    # Every day from 26/10 to 1/11 has its line, after the summary.
    assert len(lines) == 1 + 1 + 7


def test_add_explain_in_english(runner):
    lines = ok(runner, "add", "2019-10-25", "5", "--explain", "--lang", "en")
    assert lines[0] == "2019-11-01"
    text = "\n".join(lines[1:])
    assert "5 working days counted from Friday 25/10/2019" in text
    assert "Saturday 26/10/2019: skipped — Saturday" in text
    assert "Sunday 27/10/2019: skipped — Sunday" in text
    assert "Friday 01/11/2019: day 5" in text
    assert "không tính" not in text


def test_add_calendar_days_rolls_forward_to_the_next_working_day(runner):
    # Thu 5/9/2019 + 10 calendar days = Sun 15/9: not a working day, so Mon 16/9.
    assert ok(runner, "add", "2019-09-05", "10", "--calendar-days") == ["2019-09-16"]
    lines = ok(runner, "add", "2019-09-05", "10", "--calendar-days", "--explain")
    assert lines[0] == "2019-09-16"
    text = "\n".join(lines)
    assert "Chủ Nhật 15/09/2019" in text
    assert "chuyển sang ngày làm việc tiếp theo" in text


def test_add_zero_is_the_day_itself(runner):
    assert ok(runner, "add", "2019-10-25", "0") == ["2019-10-25"]


# -- between, is-working, holidays -------------------------------------------


def test_between_counts_working_days_after_start(runner):
    assert ok(runner, "between", "2019-10-25", "2019-11-01") == ["5"]


def test_is_working_on_a_make_up_saturday(runner):
    lines = ok(runner, "is-working", "2019-05-04")
    assert lines[0] == "yes"
    assert "làm việc bù" in lines[1]
    assert len(lines) == 2


def test_is_working_on_a_public_holiday(runner):
    lines = ok(runner, "is-working", "2019-04-30")
    assert lines[0] == "no"
    assert "Ngày Chiến thắng" in lines[1]
    assert len(lines) == 2


def test_is_working_in_english(runner):
    lines = ok(runner, "is-working", "2019-05-04", "--lang", "en")
    assert lines[0] == "yes"
    assert "Make-up working day" in lines[1]


def test_holidays_lines_are_iso_tab_name(runner):
    lines = ok(runner, "holidays", "2019")
    rows = {}
    for line in lines:
        iso, sep, name = line.partition("\t")
        assert sep == "\t" and name, line
        assert "\t" not in name, line
        day = date.fromisoformat(iso)
        assert day.year == 2019
        rows[day] = name
    assert [d.isoformat() for d in rows] == sorted(d.isoformat() for d in rows)
    # Each day with the legal source an official would cite (issue 13).
    assert rows[date(2019, 2, 5)] == "Tết Nguyên Đán (theo 3238/TB-LĐTBXH của Bộ Lao động - Thương binh và Xã hội)"
    assert rows[date(2019, 4, 30)].endswith("(theo Bộ luật Lao động 2012, Điều 115)")
    assert "làm việc bù" in rows[date(2019, 5, 4)]
    assert "làm việc bù" in rows[date(2019, 1, 5)]
    assert "Ngày Chiến thắng" in rows[date(2019, 4, 30)]


# -- malformed input: one line, status 2 -------------------------------------


@pytest.mark.parametrize(
    "args, word",
    [
        (["add", "2019-13-45", "5"], "2019-13-45"),
        (["add", "abc", "5"], "abc"),
        (["add", "2019-10-25", "-1"], "-1"),
        (["add", "2019-10-25", "x"], "'x'"),
        (["holidays", "20x9"], "20x9"),
        (["is-working", "2019-02-30"], "2019-02-30"),
        (["between", "2019-11-01", "2019-10-25"], "before"),
        (["add", "2019-10-25", "5", "--organizer", "NOPE"], "NOPE"),
    ],
    ids=["bad-month-day", "not-a-date", "negative-n", "n-not-a-number", "bad-year", "feb-30", "end-before-start",
         "unknown-organizer"],
)
def test_malformed_input_prints_one_line_and_exits_2(runner, args, word):
    result = run(runner, *args)
    assert result.exit_code == 2, (args, result.output)
    assert result.stdout == ""
    assert result.output == result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert word in lines[0]
    assert "Traceback" not in result.output


# -- overrides ---------------------------------------------------------------


def add_yagi(runner) -> int:
    lines = ok(runner, "override", "add", "2024-09-09", "--reason", YAGI_REASON, "--document", YAGI_DOC)
    assert len(lines) == 1
    oid, day, kind, scope, reason, document = lines[0].split("\t")
    assert (day, kind, scope, reason, document) == ("2024-09-09", "day_off", "*", YAGI_REASON, YAGI_DOC)
    return int(oid)


def test_global_closure_applies_at_once_and_is_audited(runner):
    # Fri 6/9/2024 + 1 working day is Mon 9/9 ...
    assert ok(runner, "add", "2024-09-06", "1") == ["2024-09-09"]
    assert ok(runner, "is-working", "2024-09-09")[0] == "yes"
    add_yagi(runner)
    # ... until the storm closure: the very next command honours it.
    assert ok(runner, "add", "2024-09-06", "1") == ["2024-09-10"]
    assert ok(runner, "between", "2024-09-06", "2024-09-10") == ["1"]
    lines = ok(runner, "is-working", "2024-09-09")
    assert lines[0] == "no"
    assert YAGI_REASON in lines[1] and YAGI_DOC in lines[1]
    explained = "\n".join(ok(runner, "add", "2024-09-06", "1", "--explain"))
    assert "Thứ Hai 09/09/2024: không tính" in explained and YAGI_REASON in explained
    # Listed with the holidays of the year, and applies to every organizer.
    assert any(line.startswith("2024-09-09\t") and YAGI_REASON in line for line in ok(runner, "holidays", "2024"))

    events = audit("calendar.override_added")
    assert len(events) == 1
    assert events[0].actor == "cli"
    assert events[0].organizer_id is None
    assert "2024-09-09" in events[0].to_value and YAGI_DOC in events[0].to_value
    assert events[0].reason == YAGI_REASON


def test_global_closure_applies_to_every_organizer(runner, tgg):
    add_yagi(runner)
    assert ok(runner, "add", "2024-09-06", "1", "--organizer", "TGG") == ["2024-09-10"]
    assert ok(runner, "add", "2024-09-06", "1", "--organizer", "HNI") == ["2024-09-10"]


def test_organizer_override_applies_only_to_that_organizer(runner, tgg):
    lines = ok(runner, "override", "add", "2024-10-28", "--organizer", "TGG",
               "--reason", "Nghỉ tránh bão số 6 (Trà Mi)", "--document", "Quyết định 99/QĐ-UBND", "--actor", "an@tgg.gov.vn")
    oid, day, kind, scope, *_ = lines[0].split("\t")
    assert (day, kind, scope) == ("2024-10-28", "day_off", "TGG")

    # Fri 25/10/2024 + 1 working day: Mon 28/10 for everyone but Tiền Giang.
    assert ok(runner, "add", "2024-10-25", "1", "--organizer", "TGG") == ["2024-10-29"]
    assert ok(runner, "add", "2024-10-25", "1", "--organizer", "HNI") == ["2024-10-28"]
    assert ok(runner, "add", "2024-10-25", "1") == ["2024-10-28"]
    assert ok(runner, "is-working", "2024-10-28", "--organizer", "TGG")[0] == "no"
    assert ok(runner, "is-working", "2024-10-28")[0] == "yes"

    events = audit("calendar.override_added")
    assert len(events) == 1
    assert events[0].organizer_id == tgg.id
    assert events[0].actor == "an@tgg.gov.vn"

    listed = ok(runner, "override", "list")
    assert listed == [f"{oid}\t2024-10-28\tday_off\tTGG\tNghỉ tránh bão số 6 (Trà Mi)\tQuyết định 99/QĐ-UBND"]
    assert ok(runner, "override", "list", "--organizer", "TGG") == listed
    assert ok(runner, "override", "list", "--organizer", "HNI") == []


def test_override_list_shows_global_and_scoped(runner, tgg):
    yagi = add_yagi(runner)
    ok(runner, "override", "add", "2024-10-28", "--organizer", "TGG", "--reason", "Bão Trà Mi")
    listed = ok(runner, "override", "list")
    assert [line.split("\t")[:4] for line in listed] == [
        [str(yagi), "2024-09-09", "day_off", "*"],
        [listed[1].split("\t")[0], "2024-10-28", "day_off", "TGG"],
    ]
    # An organizer sees everyone's overrides and its own, not another's.
    assert [line.split("\t")[1] for line in ok(runner, "override", "list", "--organizer", "HNI")] == ["2024-09-09"]
    assert [line.split("\t")[1] for line in ok(runner, "override", "list", "--organizer", "TGG")] == [
        "2024-09-09", "2024-10-28"]


def test_override_remove_restores_the_day_and_is_audited(runner):
    oid = add_yagi(runner)
    assert ok(runner, "add", "2024-09-06", "1") == ["2024-09-10"]
    lines = ok(runner, "override", "remove", str(oid), "--reason", "Nhập nhầm")
    assert lines == [f"removed {oid}\t2024-09-09\tday_off"]
    assert ok(runner, "override", "list") == []
    assert ok(runner, "add", "2024-09-06", "1") == ["2024-09-09"]
    assert ok(runner, "is-working", "2024-09-09")[0] == "yes"
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(CalendarOverride)) == 0

    events = audit("calendar.override_removed")
    assert len(events) == 1
    assert "2024-09-09" in events[0].from_value and YAGI_REASON in events[0].from_value
    assert events[0].reason == "Nhập nhầm"
    # The entry for the addition stays.
    assert len(audit("calendar.override_added")) == 1


def test_removing_an_unknown_override_fails_cleanly(runner):
    for args, word in ((["override", "remove", "999"], "999"), (["override", "remove", "abc"], "abc")):
        result = run(runner, *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and word in result.stderr
    assert audit("calendar.override_removed") == []


def test_extra_working_day_makes_a_saturday_count(runner):
    # Sat 14/9/2024 is an ordinary weekend day: Fri 13/9 + 1 = Mon 16/9.
    assert ok(runner, "add", "2024-09-13", "1") == ["2024-09-16"]
    assert ok(runner, "is-working", "2024-09-14")[0] == "no"
    lines = ok(runner, "override", "add", "2024-09-14", "--kind", "working_day",
               "--reason", "Làm việc bù cho ngày nghỉ tránh bão", "--document", "Công văn 1300/UBND-VP")
    assert lines[0].split("\t")[1:4] == ["2024-09-14", "working_day", "*"]
    assert ok(runner, "add", "2024-09-13", "1") == ["2024-09-14"]
    assert ok(runner, "between", "2024-09-13", "2024-09-16") == ["2"]
    status = ok(runner, "is-working", "2024-09-14")
    assert status[0] == "yes"
    assert "Làm việc bù cho ngày nghỉ tránh bão" in status[1] and "Công văn 1300/UBND-VP" in status[1]
    assert any(line.startswith("2024-09-14\t") for line in ok(runner, "holidays", "2024"))


def test_duplicate_override_on_the_same_day_and_scope_fails(runner, tgg):
    oid = add_yagi(runner)
    result = run(runner, "override", "add", "2024-09-09", "--reason", "Lần nữa")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "2024-09-09" in lines[0] and "already has an override" in lines[0] and f"#{oid}" in lines[0]
    assert len(audit("calendar.override_added")) == 1

    # Another scope on the same day is allowed; a second one in that scope is not.
    ok(runner, "override", "add", "2024-09-09", "--organizer", "TGG", "--kind", "working_day", "--reason", "Trực bão")
    result = run(runner, "override", "add", "2024-09-09", "--organizer", "TGG", "--reason", "Lần nữa")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "already has an override" in result.stderr
    # The organizer's own decision wins over everyone's on that day.
    assert ok(runner, "is-working", "2024-09-09", "--organizer", "TGG")[0] == "yes"
    assert ok(runner, "is-working", "2024-09-09")[0] == "no"
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(CalendarOverride)) == 2


def test_override_add_rejects_bad_input(runner):
    for args in (["override", "add", "2024-13-01", "--reason", "x"],
                 ["override", "add", "2024-09-09", "--reason", "   "]):
        result = run(runner, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
    assert audit("calendar.override_added") == []


# -- calendar changes after the fact (issue 13) -----------------------------------------------

def test_a_day_off_inside_an_ended_grace_period_needs_a_reason_per_campaign(runner):
    from sqlalchemy import select

    from tests.conftest import import_example
    from workflow.models import Campaign, Participation

    import_example(runner, "tien-giang-2019.yaml")
    code = "TGG-UDCNTT-2019"
    # Grace ended at 24:00 on Friday 01/11/2019; the tick excluded the silent units.
    assert runner.invoke(args=["tick", "--now", "2019-11-02T00:05:00+07:00"]).exit_code == 0
    excluded = db.session.scalars(select(Participation).join(Campaign).where(
        Campaign.code == code, Participation.status == "excluded")).all()
    assert excluded
    now = "2019-11-04T09:00:00+07:00"

    # A local day off dated inside that grace period would move its end to Monday 04/11: refused, naming the
    # campaign, the move and the excluded units it would reopen; nothing changes.
    result = run(runner, "override", "add", "2019-10-30", "--reason", "Nghỉ tránh bão", "--organizer", "TGG",
                 "--now", now)
    assert result.exit_code == 2, result.output
    assert f"affected\t{code}\tgrace_end\t2019-11-02T00:00:00+07:00\t2019-11-05T00:00:00+07:00" in result.stderr
    units_line = next(line for line in result.stderr.splitlines() if line.startswith(f"units\t{code}\t"))
    assert set(units_line.split("\t")[2].split()) >= {p.unit.code for p in excluded}
    assert "--campaign-reason" in result.stderr
    assert db.session.scalar(select(CalendarOverride.id)) is None
    assert not audit("calendar.change_after_the_fact")
    # The excluded unit cannot file "late" as if grace had reopened.
    unit = excluded[0].unit.code
    late = runner.invoke(args=["submission", "record", "--campaign", code, "--unit", unit, "--at", now,
                               "--channel", "eoffice", "--doc-number", "9/VBĐ", "--now", now])
    assert late.exit_code == 1 and "đã bị loại" in late.stderr

    # With the organizer's written reason for the campaign: applied, and the campaign's audit shows who and why.
    reason = "Quyết định 55/QĐ-UBND: nghỉ tránh bão ngày 30/10 áp dụng cả thời gian gia hạn"
    lines = ok(runner, "override", "add", "2019-10-30", "--reason", "Nghỉ tránh bão", "--organizer", "TGG",
               "--actor", "giamdoc@stttt.tiengiang.gov.vn", "--campaign-reason", f"{code}={reason}", "--now", now)
    assert lines[0].split("\t")[1:3] == ["2019-10-30", "day_off"]
    (event,) = audit("calendar.change_after_the_fact")
    assert (event.actor, event.reason) == ("giamdoc@stttt.tiengiang.gov.vn", reason)
    assert event.campaign_id == db.session.scalar(select(Campaign.id).where(Campaign.code == code))
    assert "grace_end 2019-11-02T00:00:00+07:00 -> 2019-11-05T00:00:00+07:00" in event.to_value


def test_a_change_that_moves_no_passed_date_needs_no_campaign_reason(runner):
    from tests.conftest import import_example

    import_example(runner, "tien-giang-2019.yaml")
    ok(runner, "override", "add", "2019-12-20", "--reason", "Nghỉ lễ địa phương", "--organizer", "TGG",
       "--now", "2019-11-04T09:00:00+07:00")
    assert not audit("calendar.change_after_the_fact")


def test_an_override_out_of_the_date_range_is_refused(runner):
    result = run(runner, "override", "add", "9999-12-31", "--reason", "thử")
    assert result.exit_code == 2 and "2100-12-31" in result.stderr
