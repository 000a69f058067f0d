"""The tick at grace end does not grow with the number of units.

Tiền Giang alone has 208 units; a ministry-wide campaign could have thousands.
The exclusion at grace end is set-based: an INSERT … SELECT of one audit entry
per excluded unit, one UPDATE, one query and one insert for the notice mails.
Here a campaign of 10,000 units and one of 1,000 are built with bulk inserts
and ticked at grace end inside ``count_statements``: the number of SQL
statements is the same for both.
"""

from __future__ import annotations

import time as clock
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select

from notifications.models import OutboxMail
from tests.conftest import _empty_tables, local
from workflow import tally
from workflow.db import db
from workflow.models import AuditEvent, Campaign, Organizer, Participation, Unit
from workflow.operations import run_tick
from workflow.standing import DEFAULT_TIERS

pytestmark = [pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning"),
              pytest.mark.slow]

DEADLINE = date(2019, 10, 25)
GRACE_END = local(2019, 11, 2, 0, 0, 0)  # 5 working days after Friday 25/10/2019, at 24:00
GROUPS = ("department", "district", "vertical", "commune")


def build(n: int, *, emails: bool = False) -> dict:
    """A campaign of ``n`` units, inserted in bulk: every 10th has sent its dossier on time, one
    silent unit was reinstated by the organizer; the rest are silent."""
    org = Organizer(code=f"ORG{n}", name=f"Sở TTTT thử nghiệm {n}", province="Thử nghiệm", email="")
    db.session.add(org)
    db.session.flush()
    campaign = Campaign(organizer_id=org.id, code=f"SCALE-{n}", title=f"Đợt đánh giá {n} đơn vị", year=2019,
                        deadline=DEADLINE, grace_working_days=5, state="open", tiers=DEFAULT_TIERS,
                        required_documents={}, council_emails=[], commune_nomination=False)
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(insert(Unit), [
        {"organizer_id": org.id, "code": f"U{i:05d}", "name": f"Đơn vị số {i}", "group": GROUPS[i % 4],
         "parent_id": None, "head_email": "", "language": "vi",
         "emails": [f"vanthu.u{i}@thunghiem.gov.vn"] if emails else []}
        for i in range(n)])
    unit_ids = db.session.scalars(select(Unit.id).where(Unit.organizer_id == org.id).order_by(Unit.code)).all()
    rows = []
    for i, unit_id in enumerate(unit_ids):
        sent = i % 10 == 0
        rows.append({"campaign_id": campaign.id, "unit_id": unit_id, "status": "on_time" if sent else "not_submitted",
                     "received_at": local(2019, 10, 24, 9) if sent else None, "late_working_days": 0,
                     "reinstated_reason": "Công văn giải trình số 5/UBND" if i == 1 else "",
                     "returned_reason": "", "nominated": False})
    db.session.execute(insert(Participation), rows)
    # As an import or `flask demo generate` leaves it: the standing tally at a row per cell, so the tick
    # measured has no fold to do (folding is 2 statements per crowded campaign: tests/test_standing_tally.py).
    tally.compact_tallies()
    db.session.commit()
    submitted = len(range(0, n, 10))
    return {"campaign_id": campaign.id, "units": n, "silent": n - submitted - 1}


def excluded_count(campaign_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Participation).where(
        Participation.campaign_id == campaign_id, Participation.status == "excluded"))


def audit_rows(campaign_id: int) -> tuple[int, int]:
    """(unit.excluded entries, distinct units among them)."""
    return db.session.execute(select(func.count(), func.count(AuditEvent.unit_id.distinct())).where(
        AuditEvent.campaign_id == campaign_id, AuditEvent.action == "unit.excluded")).one()


def tick_and_check(count_statements, n: int, *, emails: bool = False) -> dict:
    info = build(n, emails=emails)
    cid = info["campaign_id"]
    db.session.expunge_all()
    started = clock.perf_counter()
    with count_statements() as counter:
        summary = run_tick(GRACE_END)
    db.session.commit()
    info["seconds"] = clock.perf_counter() - started
    info["statements"] = counter["n"]
    info["sql"] = counter["sql"]
    assert summary["campaigns_moved"] == 1

    db.session.expire_all()
    assert db.session.get(Campaign, cid).state == "preliminary_review"
    assert excluded_count(cid) == info["silent"]
    assert audit_rows(cid) == (info["silent"], info["silent"])
    # Those that sent, and the reinstated unit, are untouched.
    statuses = dict(db.session.execute(select(Participation.status, func.count()).where(
        Participation.campaign_id == cid).group_by(Participation.status)).all())
    assert statuses == {"excluded": info["silent"], "on_time": len(range(0, n, 10)), "not_submitted": 1}
    info["mails"] = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.campaign_id == cid, OutboxMail.kind == "excluded"))

    # A second tick (and a later one) excludes nobody again and touches no unit.
    for later in (GRACE_END, GRACE_END + timedelta(hours=3)):
        with count_statements() as again:
            summary = run_tick(later)
        db.session.commit()
        assert summary["campaigns_moved"] == 0
        assert not any("participation" in sql.lower() and sql.lstrip().upper().startswith("UPDATE")
                       for sql in again["sql"])
    assert audit_rows(cid) == (info["silent"], info["silent"])
    assert excluded_count(cid) == info["silent"]
    info["statements_again"] = again["n"]
    return info


def fresh_database() -> None:
    db.session.remove()
    _empty_tables()


def test_tick_statements_do_not_grow_with_the_number_of_units(app, count_statements):
    small = tick_and_check(count_statements, 1_000)
    fresh_database()
    large = tick_and_check(count_statements, 10_000)
    dialect = db.engine.dialect.name
    for info in (small, large):
        print(f"\n[{dialect}] {info['units']:>6} units: {info['statements']} statements at grace end "
              f"({info['silent']} excluded, {info['seconds']:.2f}s), {info['statements_again']} on the next tick")
    assert large["statements"] == small["statements"], (small["sql"], large["sql"])
    assert large["statements_again"] == small["statements_again"]
    assert small["mails"] == large["mails"] == 0  # no addresses: no notice to queue


def test_exclusion_notices_are_queued_in_bulk(app, count_statements):
    """With an address per unit, one notice per excluded unit, still in a fixed number of statements."""
    small = tick_and_check(count_statements, 100, emails=True)
    fresh_database()
    large = tick_and_check(count_statements, 1_000, emails=True)
    dialect = db.engine.dialect.name
    for info in (small, large):
        print(f"\n[{dialect}] {info['units']:>6} units with e-mail: {info['statements']} statements, "
              f"{info['mails']} notices queued ({info['seconds']:.2f}s)")
    assert small["mails"] == small["silent"] and large["mails"] == large["silent"]
    assert large["statements"] == small["statements"], (small["sql"], large["sql"])
