"""``flask campaign``, ``flask submission``, ``flask tick``: each example campaign played out.

What a DIC officer sees through the command line: a campaign file imported,
dossiers recorded at the edges of the deadline and of the grace period, the
tick excluding the silent units (once), an exclusion reversed with a written
reason, scores entered, ranks within each group with shared ranks for ties,
the state machine refusing skipped steps, export round trips and bad files
refused whole.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL
(the ``app`` fixture).  Dates come from the example files themselves (read with
``yaml.safe_load``), so a new example file is played out too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tests.conftest import EXAMPLES, VN, _empty_tables
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Milestone, Organizer, Participation, Submission, Unit
from workflow.standing import DEFAULT_TIERS
from workflow.workdays import national_calendar

# migrations/env.py calls the deprecated ``db.get_engine()`` when the schema is built.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "test-mini.yaml")
NOMINATION_FILES = [p for p in EXAMPLE_FILES
                    if (yaml.safe_load(p.read_text(encoding="utf-8"))["campaign"].get("commune_nomination"))]
TGG_2019 = EXAMPLES / "tien-giang-2019.yaml"
ONE_SECOND = timedelta(seconds=1)


def ids(paths):
    return [p.stem for p in paths]


# -- helpers ---------------------------------------------------------------------------------------


def cli(runner, *args: str):
    return runner.invoke(args=[str(a) for a in args])


def ok(runner, *args: str) -> str:
    result = cli(runner, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def refused(runner, *args: str, code: int = 1) -> str:
    """Run a command that must be refused with ``code``; its stderr."""
    result = cli(runner, *args)
    assert result.exit_code == code, (args, result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stderr


def status(runner, code: str, now: datetime) -> dict:
    return json.loads(ok(runner, "campaign", "status", code, "--json", "--now", now.isoformat()))


def units_by_code(doc: dict) -> dict[str, dict]:
    return {u["code"]: u for u in doc["units"]}


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def unit_id(code: str) -> int:
    return db.session.scalar(select(Unit.id).where(Unit.code == code))


def midnight(day: date) -> datetime:
    """00:00:00 local of ``day``, i.e. 24:00 of the day before."""
    return datetime.combine(day, time(0), tzinfo=VN)


def expected_rating(score: Decimal, tiers: list[dict]) -> str:
    for tier in tiers:
        if tier.get("min") is None or score >= Decimal(str(tier["min"])):
            return tier["name"]
    raise AssertionError("no tier")


def results_lines(runner, code: str, now: datetime) -> list[tuple[str, int, str, Decimal, str, bool]]:
    """``campaign results``: (group, rank, unit, score, rating, provisional) per line."""
    rows = []
    for line in ok(runner, "campaign", "results", code, "--now", now.isoformat()).splitlines():
        group, rank, unit, score, rating = line.split("\t")
        provisional = rating.endswith(" (provisional)")
        rows.append((group, int(rank), unit, Decimal(score), rating.removesuffix(" (provisional)"), provisional))
    return rows


@dataclass
class Plan:
    """An example file read with plain YAML, and the instants that matter, computed independently."""

    path: Path
    spec: dict
    code: str
    deadline: date
    grace: int
    grace_last: date
    deadline_at: datetime
    grace_end: datetime
    tiers: list[dict]
    #: The five department units played: early, on_time, next_day, before_end, after_end.
    picks: dict[str, str] = field(default_factory=dict)
    silent: list[str] = field(default_factory=list)

    @property
    def after(self) -> datetime:
        """One second after grace end: the tick's instant."""
        return self.grace_end + ONE_SECOND

    @property
    def import_at(self) -> datetime:
        return datetime.combine(self.deadline - timedelta(days=20), time(8), tzinfo=VN)

    def expected_status(self, role: str) -> tuple[str, int]:
        """(status, late working days) at grace end of each played unit."""
        if role in ("early", "on_time"):
            return "on_time", 0
        if role == "next_day":
            return ("late", 1) if self.grace else ("excluded", 0)
        if role == "before_end":
            return ("late", self.grace) if self.grace else ("on_time", 0)
        return "excluded", 0


def plan_for(path: Path) -> Plan:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    c = spec["campaign"]
    deadline, grace = c["deadline"], c["grace_working_days"]
    assert isinstance(deadline, date) and isinstance(grace, int)
    cal = national_calendar()
    grace_last = cal.add_working_days(deadline, grace) if grace else deadline
    departments = [u["code"] for u in spec["units"] if u["group"] == "department"]
    picks = dict(zip(("early", "on_time", "next_day", "before_end", "after_end"), departments[:5]))
    plan = Plan(path, spec, c["code"], deadline, grace, grace_last, midnight(deadline + timedelta(days=1)),
                midnight(grace_last + timedelta(days=1)), c.get("tiers") or DEFAULT_TIERS, picks)
    plan.silent = [u["code"] for u in spec["units"] if u["code"] not in picks.values()]
    return plan


def import_and_open(runner, plan: Plan) -> str:
    out = ok(runner, "campaign", "import", plan.path, "--now", plan.import_at.isoformat())
    assert out.startswith(f"created {plan.code}: {len(plan.spec['units'])} units")
    if plan.spec["campaign"].get("state") == "draft":
        assert out.rstrip().endswith("state draft")
        ok(runner, "campaign", "step", plan.code, "launch", "--now", plan.import_at.isoformat())
    return out


def record(runner, plan: Plan, unit: str, at: datetime, *extra: str):
    return cli(runner, "submission", "record", "--campaign", plan.code, "--unit", unit, "--at", at.isoformat(),
               "--now", at.isoformat(), *extra)


def play(runner, path: Path, tick: bool = True) -> Plan:
    """Import, record the four edge dossiers (and an early one), then tick after grace end."""
    plan = plan_for(path)
    import_and_open(runner, plan)
    p = plan.picks
    early = record(runner, plan, p["early"], datetime.combine(plan.deadline, time(9, 30), tzinfo=VN),
                   "--channel", "eoffice", "--doc-number", "1001/VBĐ", "--sha256", "bao-cao.pdf=" + "a" * 64)
    assert early.exit_code == 0, early.output
    on_time = record(runner, plan, p["on_time"], plan.deadline_at - ONE_SECOND,
                     "--channel", "email", "--doc-number", "1002/VBĐ")
    assert on_time.exit_code == 0, on_time.output
    assert on_time.stdout.split("\t")[:2] == [p["on_time"], "on_time"]
    assert "late" not in on_time.stdout.split("\t", 2)[2]

    next_day = record(runner, plan, p["next_day"], plan.deadline_at, "--channel", "eoffice",
                      "--doc-number", "1003/VBĐ")
    if plan.grace:
        assert next_day.exit_code == 0, next_day.output
        assert next_day.stdout.split("\t")[:2] == [p["next_day"], "late"]
        assert next_day.stdout.rstrip().endswith("late 1 working day(s)")
    else:
        # No grace at all (Cao Bằng, Phú Thọ): 24:00 of the deadline day is already too late.
        assert next_day.exit_code == 1, next_day.output
        assert "Lỗi:" in next_day.stderr and "hết thời gian gia hạn" in next_day.stderr
        assert next_day.stdout == ""

    before_end = record(runner, plan, p["before_end"], plan.grace_end - ONE_SECOND, "--channel", "eoffice",
                        "--doc-number", "1004/VBĐ")
    assert before_end.exit_code == 0, before_end.output
    status_text, late = plan.expected_status("before_end")
    assert before_end.stdout.split("\t")[:2] == [p["before_end"], status_text]
    if late:
        assert before_end.stdout.rstrip().endswith(f"late {late} working day(s)")

    after_end = record(runner, plan, p["after_end"], plan.after, "--channel", "eoffice", "--doc-number", "1005/VBĐ")
    assert after_end.exit_code == 1, after_end.output
    assert "Lỗi:" in after_end.stderr and "Error:" in after_end.stderr
    assert after_end.stdout == ""
    assert count(Submission, Submission.participation_id.in_(
        select(Participation.id).where(Participation.unit_id == unit_id(p["after_end"])))) == 0
    if tick:
        out = ok(runner, "tick", "--now", plan.after.isoformat())
        assert "campaigns_moved=1" in out
    return plan


def excluded_codes(plan: Plan) -> set[str]:
    codes = set(plan.silent) | {plan.picks["after_end"]}
    if not plan.grace:
        codes.add(plan.picks["next_day"])
    return codes


# -- each example played out -------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=ids(EXAMPLE_FILES))
def test_example_plays_out_to_preliminary_review(runner, path):
    plan = play(runner, path)
    doc = status(runner, plan.code, plan.after)
    assert doc["campaign"]["state"] == "preliminary_review"
    assert doc["campaign"]["recorded_state"] == "preliminary_review"
    assert doc["campaign"]["deadline"] == plan.deadline.isoformat()
    assert doc["campaign"]["grace_working_days"] == plan.grace

    units = units_by_code(doc)
    assert len(units) == len(plan.spec["units"])
    for role, code in plan.picks.items():
        assert (units[code]["status"], units[code]["late_working_days"]) == plan.expected_status(role), (role, code)
    for code in excluded_codes(plan):
        assert units[code]["status"] == "excluded", code
        assert units[code]["rank"] is None and units[code]["rating"] is None
    assert units[plan.picks["on_time"]]["received_at"] == (plan.deadline_at - ONE_SECOND).isoformat()
    assert units[plan.picks["on_time"]]["received_at"].endswith("T23:59:59+07:00")
    assert units[plan.picks["after_end"]]["versions"] == 0
    assert doc["counts"]["excluded"] == len(excluded_codes(plan))

    milestones = {m["kind"]: m for m in doc["milestones"]}
    assert milestones["deadline"]["end"] == plan.deadline.isoformat()
    assert milestones["deadline"]["ends_at"] == f"{plan.deadline + timedelta(days=1)}T00:00:00+07:00"
    assert milestones["grace_end"]["end"] == plan.grace_last.isoformat()
    assert milestones["grace_end"]["ends_at"] == f"{plan.grace_last + timedelta(days=1)}T00:00:00+07:00"
    assert milestones["deadline"]["reached"] and milestones["grace_end"]["reached"]
    for kind, value in (plan.spec["campaign"].get("milestones") or {}).items():
        end = value["end"] if isinstance(value, dict) else value
        assert milestones[kind]["end"] == end.isoformat()
        assert milestones[kind]["ends_at"] == f"{end + timedelta(days=1)}T00:00:00+07:00"
        assert milestones[kind]["overdue"] == (plan.after >= midnight(end + timedelta(days=1)))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=ids(EXAMPLE_FILES))
def test_tick_again_changes_nothing(runner, path):
    plan = play(runner, path)
    excluded = excluded_codes(plan)
    events = audit("unit.excluded")
    assert len(events) == len(excluded)
    assert sorted(e.unit_id for e in events) == sorted(unit_id(c) for c in excluded)
    assert {e.actor for e in events} == {"system"}
    assert all(e.at == plan.grace_end for e in events)
    before = status(runner, plan.code, plan.after)

    for later in (plan.after, plan.after + timedelta(hours=1), plan.after + timedelta(days=3)):
        out = ok(runner, "tick", "--now", later.isoformat())
        assert "campaigns_moved=0" in out
    assert len(audit("unit.excluded")) == len(excluded)
    assert len(audit("campaign.grace_ends")) == 1
    assert status(runner, plan.code, plan.after) == before


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=ids(EXAMPLE_FILES))
def test_reinstatement_needs_a_written_reason_that_stays_on_record(runner, path):
    plan = play(runner, path)
    unit = plan.picks["after_end"]
    now = (plan.after + timedelta(days=2)).isoformat()
    # No --reason, or a blank one: refused, with the rule's message.
    for args in ((), ("--reason", "   ")):
        err = refused(runner, "campaign", "reinstate", plan.code, unit, *args, "--now", now)
        assert "Cần ghi rõ lý do khôi phục" in err
    assert units_by_code(status(runner, plan.code, plan.after))[unit]["status"] == "excluded"
    assert audit("unit.reinstated") == []
    # A unit that is not excluded needs no reinstatement.
    err = refused(runner, "campaign", "reinstate", plan.code, plan.picks["on_time"], "--reason", "x", "--now", now)
    assert "không bị loại" in err

    reason = "Hồ sơ gửi qua bưu điện ngày 24/10, thất lạc do lỗi của bưu cục (Công văn 12/BĐ)"
    out = ok(runner, "campaign", "reinstate", plan.code, unit, "--reason", reason, "--now", now)
    assert out.split("\t")[:2] == [unit, "not_submitted"]
    doc = units_by_code(status(runner, plan.code, plan.after + timedelta(days=3)))
    assert doc[unit]["status"] == "not_submitted"
    assert doc[unit]["reinstated_reason"] == reason
    (event,) = audit("unit.reinstated")
    assert (event.unit_id, event.reason, event.from_value, event.to_value) == (
        unit_id(unit), reason, "excluded", "not_submitted")
    # The reinstated unit may now send its dossier, after grace end; others stay excluded.
    sent = record(runner, plan, unit, plan.after + timedelta(days=3), "--channel", "eoffice",
                  "--doc-number", "2001/VBĐ")
    assert sent.exit_code == 0, sent.output
    assert units_by_code(status(runner, plan.code, plan.after + timedelta(days=3)))[unit]["versions"] == 1
    other = sorted(plan.silent)[0]
    late = record(runner, plan, other, plan.after + timedelta(days=3), "--channel", "eoffice",
                  "--doc-number", "2002/VBĐ")
    assert late.exit_code == 1 and "đã bị loại" in late.stderr
    # Ticking later does not exclude the reinstated unit again.
    ok(runner, "tick", "--now", (plan.after + timedelta(days=4)).isoformat())
    assert len(audit("unit.excluded")) == len(excluded_codes(plan))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=ids(EXAMPLE_FILES))
def test_scores_ranks_and_tiers(runner, path):
    plan = play(runner, path)
    p = plan.picks
    now = plan.after + timedelta(days=5)
    at = now.isoformat()
    ok(runner, "campaign", "reinstate", plan.code, p["after_end"], "--reason", "Lỗi đường truyền của hệ thống",
       "--now", at)
    assert record(runner, plan, p["after_end"], now - timedelta(hours=1), "--channel", "eoffice",
                  "--doc-number", "3001/VBĐ").exit_code == 0

    # Above the campaign's maximum (100 without a declared bonus) is refused, naming the maximum (issue 13).
    err = refused(runner, "campaign", "score", plan.code, p["early"], "--self", "150", "--now", at)
    assert "từ 0 đến 100" in err and "150" in err
    ok(runner, "campaign", "score", plan.code, p["early"], "--self", "100", "--verified", "100", "--now", at)
    ok(runner, "campaign", "score", plan.code, p["on_time"], "--self", "98", "--now", at)  # provisional
    ok(runner, "campaign", "score", plan.code, p["before_end"], "--self", "90", "--verified", "98", "--now", at)
    ok(runner, "campaign", "score", plan.code, p["after_end"], "--verified", "95", "--now", at)
    if plan.grace:
        ok(runner, "campaign", "score", plan.code, p["next_day"], "--verified", "89.5", "--now", at)
    else:
        err = refused(runner, "campaign", "score", plan.code, p["next_day"], "--verified", "89.5", "--now", at)
        assert "không được đánh giá" in err
    silent = sorted(plan.silent)[0]
    err = refused(runner, "campaign", "score", plan.code, silent, "--self", "120", "--now", at)
    assert "không được đánh giá" in err
    refused(runner, "campaign", "score", plan.code, p["early"], "--verified", "mười", "--now", at, code=2)
    refused(runner, "campaign", "score", plan.code, p["early"], "--verified", "-1", "--now", at)

    rows = results_lines(runner, plan.code, now)
    dept = [(rank, unit, score, rating, prov) for group, rank, unit, score, rating, prov in rows
            if group == "department"]
    expected = [(1, p["early"], Decimal(100), False), (2, p["before_end"], Decimal(98), False),
                (2, p["on_time"], Decimal(98), True), (4, p["after_end"], Decimal(95), False)]
    if plan.grace:
        expected.append((5, p["next_day"], Decimal("89.5"), False))
    expected.sort(key=lambda e: (e[0], e[1]))
    assert [(rank, unit, score, prov) for rank, unit, score, rating, prov in dept] == expected
    for rank, unit, score, rating, prov in dept:
        assert rating == expected_rating(score, plan.tiers)
    if [t["name"] for t in plan.tiers] == ["Tốt", "Khá", "Trung bình", "Yếu"]:
        ratings = {unit: rating for rank, unit, score, rating, prov in dept}
        assert ratings[p["early"]] == "Tốt" and ratings[p["on_time"]] == "Khá"
        assert ratings[p["after_end"]] == "Khá"
        if plan.grace:
            assert ratings[p["next_day"]] == "Yếu"

    ranked = {unit for group, rank, unit, score, rating, prov in rows}
    assert not ranked & (excluded_codes(plan) - {p["after_end"]})
    units = units_by_code(status(runner, plan.code, now))
    for code in excluded_codes(plan) - {p["after_end"]}:
        assert (units[code]["status"], units[code]["rating"], units[code]["rank"], units[code]["score"]) == (
            "excluded", None, None, None)
    assert units[p["early"]]["status"] == "verified"
    assert units[p["on_time"]]["provisional"] is True and units[p["on_time"]]["status"] == "on_time"
    assert len(audit("scores.entered")) == (5 if plan.grace else 4)


@pytest.mark.parametrize("path", NOMINATION_FILES, ids=ids(NOMINATION_FILES))
def test_only_nominated_communes_are_ranked(runner, path):
    plan = plan_for(path)
    import_and_open(runner, plan)
    communes = [u for u in plan.spec["units"] if u["group"] == "commune"]
    # Two communes of different districts, and a third: a sibling of the first when the file has one.
    first = communes[0]
    second = next(u for u in communes if u["parent"] != first["parent"])
    third = next((u for u in communes if u["parent"] == first["parent"] and u is not first),
                 next(u for u in communes if u["parent"] not in (first["parent"], second["parent"])))
    district = next(u["code"] for u in plan.spec["units"] if u["group"] == "district")
    chosen = [first["code"], second["code"], third["code"], district]
    for i, code in enumerate(chosen):
        sent = record(runner, plan, code, datetime.combine(plan.deadline, time(8 + i), tzinfo=VN),
                      "--channel", "eoffice", "--doc-number", f"{4000 + i}/VBĐ")
        assert sent.exit_code == 0, sent.output
    ok(runner, "tick", "--now", plan.after.isoformat())
    at = plan.after.isoformat()
    for code, score in zip(chosen, ("99", "97", "100", "96")):
        ok(runner, "campaign", "score", plan.code, code, "--verified", score, "--now", at)

    def ranked(group):
        return [(rank, unit) for g, rank, unit, *_ in results_lines(runner, plan.code, plan.after) if g == group]

    assert ranked("commune") == []  # nobody nominated yet
    assert ranked("district") == [(1, district)]
    ok(runner, "campaign", "nominate", plan.code, first["code"], "--now", at)
    ok(runner, "campaign", "nominate", plan.code, second["code"], "--now", at)
    assert ranked("commune") == [(1, first["code"]), (2, second["code"])]
    units = units_by_code(status(runner, plan.code, plan.after))
    assert units[third["code"]]["rank"] is None and units[third["code"]]["score"] == 100
    if third["parent"] == first["parent"]:
        # One commune per district: nominating a sibling replaces the first nominee.
        ok(runner, "campaign", "nominate", plan.code, third["code"], "--now", at)
        assert ranked("commune") == [(1, third["code"]), (2, second["code"])]
        assert units_by_code(status(runner, plan.code, plan.after))[first["code"]]["nominated"] is False
    err = refused(runner, "campaign", "nominate", plan.code, district, "--now", at)
    assert "cấp xã" in err
    assert len(audit("unit.nominated")) >= 2


# -- the state machine through the CLI ------------------------------------------------------------------


def test_steps_refused_when_skipped_and_passed_with_a_reason(runner):
    plan = plan_for(TGG_2019)
    import_and_open(runner, plan)
    code = plan.code
    # The submission window cannot be closed by hand, even in the grace period.
    for when in (plan.deadline_at - timedelta(days=1), plan.deadline_at + timedelta(days=1)):
        err = refused(runner, "campaign", "step", code, "review_done", "--now", when.isoformat())
        assert "thời hạn nhận hồ sơ" in err and "chưa kết thúc" in err
        err = refused(runner, "campaign", "step", code, "review_done", "--reason", "xong sớm", "--now",
                      when.isoformat())
        assert "chưa kết thúc" in err
    err = refused(runner, "campaign", "step", code, "launch", "--now", plan.deadline_at.isoformat())
    assert "đã được phát động" in err
    doc = status(runner, code, plan.deadline_at + timedelta(days=1))
    assert doc["campaign"]["state"] == "grace"

    # After grace end, the step moves the campaign even without a tick first.
    out = ok(runner, "campaign", "step", code, "review_done", "--now", plan.after.isoformat())
    assert out.split("\t")[:2] == [code, "field_inspection"]
    later = (plan.after + timedelta(days=10)).isoformat()
    err = refused(runner, "campaign", "step", code, "approval_received", "--now", later)
    assert "còn thiếu bước" in err
    assert "hoàn thành kiểm tra thực tế" in err and "hoàn thành hồ sơ khen thưởng và trình UBND tỉnh" in err
    assert status(runner, code, plan.after)["campaign"]["state"] == "field_inspection"
    err = refused(runner, "campaign", "step", code, "review_done", "--now", later)
    assert "đã qua" in err

    reason = "UBND tỉnh phê duyệt theo Quyết định 3456/QĐ-UBND; khen thưởng xét riêng"
    out = ok(runner, "campaign", "step", code, "approval_received", "--reason", reason, "--now", later)
    assert out.split("\t")[:2] == [code, "approved"]
    (event,) = audit("campaign.approval_received")
    assert reason in event.reason and "skipped" in event.reason
    assert (event.from_value, event.to_value) == ("field_inspection", "approved")
    doc = status(runner, code, plan.after + timedelta(days=11))
    assert doc["campaign"]["state"] == "approved"
    err = refused(runner, "campaign", "step", code, "cancel", "--reason", "nhầm", "--now", later)
    assert "Không thể hủy" in err
    assert [e.action for e in audit("campaign.grace_ends")] == ["campaign.grace_ends"]


def test_cancel_needs_a_reason(runner):
    plan = plan_for(TGG_2019)
    import_and_open(runner, plan)
    now = (plan.deadline_at - timedelta(days=3)).isoformat()
    for args in ((), ("--reason", ""), ("--reason", "   ")):
        err = refused(runner, "campaign", "step", plan.code, "cancel", *args, "--now", now)
        assert "Cần ghi rõ lý do hủy" in err
    assert status(runner, plan.code, plan.deadline_at - timedelta(days=3))["campaign"]["state"] == "open"
    reason = "Thực hiện theo Kế hoạch mới của UBND tỉnh, tổ chức lại đợt đánh giá"
    out = ok(runner, "campaign", "step", plan.code, "cancel", "--reason", reason, "--now", now)
    assert out.split("\t")[:2] == [plan.code, "cancelled"]
    doc = status(runner, plan.code, plan.after)
    assert doc["campaign"]["state"] == "cancelled" and doc["campaign"]["cancel_reason"] == reason
    (event,) = audit("campaign.cancel")
    assert event.reason == reason
    # A cancelled campaign takes no dossier and the tick leaves it alone.
    sent = record(runner, plan, plan.picks["early"], plan.deadline_at - timedelta(days=2), "--channel", "eoffice",
                  "--doc-number", "1/VBĐ")
    assert sent.exit_code == 1
    ok(runner, "tick", "--now", plan.after.isoformat())
    assert audit("unit.excluded") == []


# -- export round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=ids(EXAMPLE_FILES))
def test_export_round_trip(runner, path, tmp_path):
    plan = plan_for(path)
    ok(runner, "campaign", "import", path, "--now", plan.import_at.isoformat())
    first = ok(runner, "campaign", "export", plan.code)
    exported = tmp_path / "exported.yaml"
    exported.write_text(first, encoding="utf-8")
    # The same database: an update that changes nothing.
    out = ok(runner, "campaign", "import", exported, "--now", plan.import_at.isoformat())
    assert out.startswith(f"updated {plan.code}: {len(plan.spec['units'])} units (0 new)")
    assert ok(runner, "campaign", "export", plan.code) == first
    assert audit("milestone.moved") == [] and audit("milestone.removed") == []
    # A fresh database.
    db.session.remove()
    _empty_tables()
    out = ok(runner, "campaign", "import", exported, "--now", plan.import_at.isoformat())
    assert out.startswith(f"created {plan.code}: {len(plan.spec['units'])} units")
    assert ok(runner, "campaign", "export", plan.code) == first
    # And with -o to a file.
    again = tmp_path / "again.yaml"
    ok(runner, "campaign", "export", plan.code, "-o", again)
    assert again.read_text(encoding="utf-8") == first


# -- bad files -----------------------------------------------------------------------------------------------


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def _bad_missing_deadline(text):
    return text.replace("  deadline: 2019-10-25\n", ""), "  code: TGG-UDCNTT-2019", "deadline"


def _bad_date(text):
    return text.replace("deadline: 2019-10-25", "deadline: 2019-13-45"), "deadline: 2019-13-45", "deadline"


def _bad_twice(text):
    return text.replace("- {code: SNV,", "- {code: VPUBND,"), 'name: "Sở Nội vụ"', "code"


def _bad_parent(text):
    return (text.replace("group: commune, parent: CHOGAO,", "group: commune, parent: CHO-GAO,"),
            "parent: CHO-GAO", "parent")


def _bad_grace(text):
    return (text.replace("grace_working_days: 5", "grace_working_days: năm ngày"), "grace_working_days:",
            "grace_working_days")


def _bad_yaml(text):
    return text.replace("  - {code: SYT,", "\t- {code: SYT,"), "\t- {code: SYT,", None


BAD_FILES = {"missing-deadline": _bad_missing_deadline, "bad-date": _bad_date, "unit-twice": _bad_twice,
             "unknown-parent": _bad_parent, "grace-not-a-number": _bad_grace, "broken-yaml": _bad_yaml}


def _row_counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Organizer, Campaign, Unit, Participation, Milestone, AuditEvent)}


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("existing", [False, True], ids=["new", "update"])
def test_bad_file_is_refused_whole(runner, tmp_path, case, existing):
    # Another campaign is there already, and in the "update" case this one too.
    ok(runner, "campaign", "import", EXAMPLES / "binh-thuan-2019.yaml", "--now", "2019-08-08T08:00:00+07:00")
    if existing:
        ok(runner, "campaign", "import", TGG_2019, "--now", "2019-10-08T08:00:00+07:00")
    before, exported = _row_counts(), existing and ok(runner, "campaign", "export", "TGG-UDCNTT-2019")
    text, needle, field_name = BAD_FILES[case](TGG_2019.read_text(encoding="utf-8"))
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text, encoding="utf-8")
    line = _line_of(text, needle)

    result = cli(runner, "campaign", "import", bad, "--now", "2019-10-09T08:00:00+07:00")
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    message = result.stderr.rstrip("\n")
    assert "\n" not in message and message.startswith("Error: ")
    assert f"line {line}" in message, (message, line)
    if field_name:
        assert f"field '{field_name}'" in message
    else:
        assert "not valid YAML" in message
    assert _row_counts() == before
    if existing:
        assert ok(runner, "campaign", "export", "TGG-UDCNTT-2019") == exported


def test_failed_update_leaves_the_previous_version_intact(runner, tmp_path):
    plan = plan_for(TGG_2019)
    import_and_open(runner, plan)
    sent = record(runner, plan, "SNV", plan.deadline_at - timedelta(hours=5), "--channel", "eoffice",
                  "--doc-number", "77/VBĐ")
    assert sent.exit_code == 0
    before, exported = _row_counts(), ok(runner, "campaign", "export", plan.code)
    # Title, deadline and a milestone changed, a unit added... and SNV, which has a dossier, removed:
    # the last check fails after the rest has been applied in the session.
    text = TGG_2019.read_text(encoding="utf-8")
    text = (text.replace("deadline: 2019-10-25", "deadline: 2019-10-28")
            .replace("preliminary_review: 2019-10-31", "preliminary_review: 2019-11-04")
            .replace("  title: Đánh giá", "  title: SỬA ĐỔI Đánh giá")
            .replace('  - {code: SNV, name: "Sở Nội vụ",', '  - {code: SNV-MOI, name: "Sở Nội vụ (mới)",'))
    bad = tmp_path / "update.yaml"
    bad.write_text(text, encoding="utf-8")
    result = cli(runner, "campaign", "import", bad, "--now", "2019-10-20T08:00:00+07:00")
    assert result.exit_code == 2, (result.output, result.exception)
    assert "'SNV'" in result.stderr and "cannot be removed" in result.stderr
    assert _row_counts() == before
    assert ok(runner, "campaign", "export", plan.code) == exported
    doc = status(runner, plan.code, plan.deadline_at - timedelta(hours=1))
    assert doc["campaign"]["deadline"] == "2019-10-25" and not doc["campaign"]["title"].startswith("SỬA")
    assert units_by_code(doc)["SNV"]["versions"] == 1

    # A file whose organizer code differs: the campaign belongs to another organizer; the new
    # organizer row is not left behind either.
    other = tmp_path / "other-org.yaml"
    other.write_text(TGG_2019.read_text(encoding="utf-8").replace("  code: TGG\n", "  code: TGX\n", 1),
                     encoding="utf-8")
    result = cli(runner, "campaign", "import", other, "--now", "2019-10-20T08:00:00+07:00")
    assert result.exit_code == 2 and "another organizer" in result.stderr
    assert _row_counts() == before


def test_status_shows_the_data_period_in_text_and_json(app, runner):
    """The period the figures cover, as the launching letter states it (Phú Thọ 2016: 01/10/2015 –
    31/10/2016); a campaign that declares none (Cao Bằng 2018) prints no such line and null."""
    ok(runner, "campaign", "import", str(EXAMPLES / "phu-tho-2016.yaml"), "--now", "2016-11-01T08:00:00+07:00")
    ok(runner, "campaign", "import", str(EXAMPLES / "cao-bang-2018.yaml"), "--now", "2018-11-01T08:00:00+07:00")
    now = "2016-11-02T08:00:00+07:00"
    text = ok(runner, "campaign", "status", "PTO-UDCNTT-2016", "--now", now)
    assert "data_period\t2015-10-01..2016-10-31\tSố liệu tính từ ngày 01/10/2015 đến ngày 31/10/2016\n" in text
    doc = json.loads(ok(runner, "campaign", "status", "PTO-UDCNTT-2016", "--json", "--now", now))
    assert doc["campaign"]["data_period"] == {
        "start": "2015-10-01", "end": "2016-10-31",
        "text": {"vi": "Số liệu tính từ ngày 01/10/2015 đến ngày 31/10/2016",
                 "en": "Figures for the period 01/10/2015 to 31/10/2016"}}
    code = yaml.safe_load((EXAMPLES / "cao-bang-2018.yaml").read_text(encoding="utf-8"))["campaign"]["code"]
    assert "data_period" not in ok(runner, "campaign", "status", code, "--now", now)
    assert json.loads(ok(runner, "campaign", "status", code, "--json", "--now", now))["campaign"]["data_period"] is None
def test_a_declared_bonus_raises_the_ceiling_and_the_file_keeps_it(runner, tmp_path):
    text = TGG_2019.read_text(encoding="utf-8").replace(
        "  grace_working_days: 5\n", "  grace_working_days: 5\n  scoring:\n    maximum: 100\n    bonus: 5.5\n", 1)
    assert "bonus: 5.5" in text
    path = tmp_path / "tgg-bonus.yaml"
    path.write_text(text, encoding="utf-8")
    plan = play(runner, path)
    at = (plan.after + timedelta(days=5)).isoformat()
    ok(runner, "campaign", "score", plan.code, plan.picks["early"], "--self", "105.5", "--now", at)
    err = refused(runner, "campaign", "score", plan.code, plan.picks["early"], "--self", "105.51", "--now", at)
    assert "105.5" in err
    exported = yaml.safe_load(ok(runner, "campaign", "export", plan.code))
    assert exported["campaign"]["scoring"] == {"maximum": 100, "bonus": 5.5}


@pytest.mark.parametrize("value", ["1e309", "inf", ".nan", "1001", "-1", "99.999"])
def test_a_tier_minimum_out_of_range_is_refused_in_the_file(runner, tmp_path, value):
    text = TGG_2019.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["campaign"]["tiers"][0]["min"] == 100
    text = text.replace("min: 100", f"min: {value}", 1)
    path = tmp_path / "tgg-tier.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli(runner, "campaign", "import", str(path), "--now", "2019-10-07T08:00:00+07:00")
    assert result.exit_code == 2, result.output  # a file refused, as for every other error in it
    assert "line 51, field 'min'" in result.output and "between 0 and 1000" in result.output


def test_a_milestone_before_the_grace_end_gets_a_warning_naming_both_dates(runner):
    """Seed 000: preliminary review "before 01/11/2019" while grace runs to Friday 01/11/2019."""
    result = cli(runner, "campaign", "import", str(TGG_2019), "--now", "2019-10-07T08:00:00+07:00")
    assert result.exit_code == 0, result.output
    assert "warning: Milestone “Preliminary review done” (Thursday 31/10/2019) is not after the grace end " \
           "(Friday 01/11/2019)" in result.stderr
    doc = json.loads(ok(runner, "campaign", "status", "TGG-UDCNTT-2019", "--json", "--now",
                        "2019-10-08T08:00:00+07:00"))
    assert [(w["kind"], w["end"], w["grace_end"]) for w in doc["warnings"]] == [
        ("preliminary_review", "2019-10-31", "2019-11-01")]
    assert "31/10/2019" in doc["warnings"][0]["message"] and "01/11/2019" in doc["warnings"][0]["message"]
    text = ok(runner, "campaign", "status", "TGG-UDCNTT-2019", "--now", "2019-10-08T08:00:00+07:00")
    assert "warning\tpreliminary_review\t2019-10-31\tgrace ends 2019-11-01" in text
