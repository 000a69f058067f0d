"""The standing tally (workflow.models.StandingTally): what the database's triggers keep equals counting
the participations themselves, after every kind of change; folding keeps the sums; and the dashboard's
counts come from it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, delete, func, select, text, update

from tests.test_dashboard_sql import scramble
from tests.test_web_dashboard import big_campaign_yaml
from workflow import dashboard as dq
from workflow import operations as ops
from workflow import tally
from workflow.db import db
from workflow.models import Campaign, Participation, StandingTally, Unit

from .conftest import local

TRIGGERS = {"standing_tally_insert", "standing_tally_delete", "standing_tally_update", "standing_tally_unit",
            "standing_tally_campaign"}


def counted(campaign_id: int) -> dict[tuple, int]:
    """Every cell of the campaign counted from its participations and units: what the tally must say."""
    P, U = Participation, Unit
    silent = (P.status == "not_submitted") & (func.coalesce(P.reinstated_reason, "") == "")
    rows = db.session.execute(
        select(U.group, P.status, silent, P.late_working_days, U.parent_id.is_not(None), func.count())
        .join(U, U.id == P.unit_id).where(P.campaign_id == campaign_id)
        .group_by(U.group, P.status, silent, P.late_working_days, U.parent_id.is_not(None))).all()
    return {(g, s, bool(q), late, bool(parented)): n for g, s, q, late, parented, n in rows}


def tallied(campaign_id: int) -> dict[tuple, int]:
    T = StandingTally
    rows = db.session.execute(
        select(T.grp, T.status, T.silent, T.late_days, T.parented, func.sum(T.n)).where(T.campaign_id == campaign_id)
        .group_by(T.grp, T.status, T.silent, T.late_days, T.parented)).all()
    return {(g, s, bool(q), late, bool(parented)): n for g, s, q, late, parented, n in rows if n}


def rows_of(campaign_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(StandingTally)
                             .where(StandingTally.campaign_id == campaign_id))


def test_the_tally_triggers_exist_at_the_head(app):
    """A later migration that rebuilds participation, unit or campaign (SQLite's batch mode) drops their
    triggers with the old table: this fails until it creates them again."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        else:
            names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert TRIGGERS <= names


def test_the_tally_equals_the_participations_after_every_kind_of_change(app, make_campaign):
    campaign = make_campaign(big_campaign_yaml("TAL-1", 60))
    cid = campaign.id
    assert tallied(cid) == counted(cid) and sum(counted(cid).values()) == 60
    # Set-based updates of every column a cell is made of (statuses, late days, reinstatement).
    scramble(campaign, 5)
    assert tallied(cid) == counted(cid)
    # The write side's own operations (ORM): a dossier received late, one returned, one reinstated.
    campaign = db.session.get(Campaign, cid)
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == campaign.organizer_id))}
    db.session.execute(update(Participation).where(Participation.campaign_id == cid).values(
        status="not_submitted", received_at=None, late_working_days=0, reinstated_reason=""))
    db.session.commit()
    late = local(2019, 10, 29, 10)
    ops.record_submission(campaign, units["U00001"], received_at=late, channel="upload", recorded_by="t", now=late)
    ops.record_submission(campaign, units["U00002"], received_at=local(2019, 10, 24, 9), channel="upload",
                          recorded_by="t", now=local(2019, 10, 24, 9))
    db.session.commit()
    ops.return_dossier(campaign, units["U00002"], reason="Thiếu biểu mẫu", actor="t", now=late)
    db.session.commit()
    assert tallied(cid) == counted(cid)
    assert counted(cid)[("vertical", "late", False, 2, False)] == 1  # U00001: two working days late
    # The tick excludes the silent units after grace; one is reinstated.
    after = local(2019, 11, 4, 9)
    ops.run_tick(after)
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(Participation.campaign_id == cid,
                                                         Participation.status == "excluded")) > 50
    ops.reinstate(campaign, units["U00003"], reason="Lỗi đường truyền", actor="t", now=after)
    db.session.commit()
    assert tallied(cid) == counted(cid)
    # A unit moves to another group, another loses its parent: their rows move with them.
    db.session.execute(update(Unit).where(Unit.id == units["U00004"].id).values(group="commune"))
    db.session.execute(update(Unit).where(Unit.id == units["U00003"].id).values(parent_id=None))
    db.session.commit()
    assert tallied(cid) == counted(cid)
    # A participation deleted.
    db.session.execute(delete(Participation).where(Participation.campaign_id == cid,
                                                   Participation.unit_id == units["U00005"].id))
    db.session.commit()
    assert tallied(cid) == counted(cid) and sum(counted(cid).values()) == 59
    # The dashboard's counts are the tally's.
    counts = dq.status_counts(campaign, True)
    assert counts.total == 59
    assert counts.by_status["excluded"] == sum(n for (g, s, q, late_days, p), n in counted(cid).items()
                                               if s == "excluded" or q)
    assert counts.with_parent == sum(n for (g, s, q, late_days, p), n in counted(cid).items() if p)


def test_folding_keeps_the_sums_with_one_row_per_cell(app, make_campaign):
    campaign = make_campaign(big_campaign_yaml("TAL-2", 80))
    cid = campaign.id
    for seed in range(4):
        scramble(campaign, seed)
    before = tallied(cid)
    assert rows_of(cid) > 300 and before == counted(cid)
    folded = tally.compact_tallies(above=0)
    db.session.commit()
    assert rows_of(cid) == len(before) and folded > 0
    assert tallied(cid) == before == counted(cid)
    # A campaign under the threshold is left alone; the tick folds the crowded ones.
    assert tally.compact_tallies() == 0
    for seed in (9, 10):
        scramble(campaign, seed)
    crowded = rows_of(cid)
    assert crowded > tally.TALLY_ROWS
    summary = ops.run_tick(local(2019, 10, 20, 9))
    db.session.commit()
    assert summary["tally_rows_folded"] == crowded - rows_of(cid) > 0
    assert tallied(cid) == counted(cid)


def test_a_deleted_campaign_leaves_no_tally_rows(app, make_campaign):
    campaign = make_campaign(big_campaign_yaml("TAL-3", 20))
    cid = campaign.id
    scramble(campaign, 2)
    assert rows_of(cid) > 0
    db.session.execute(delete(Campaign).where(Campaign.id == cid))  # participations go by ON DELETE CASCADE
    db.session.commit()
    assert rows_of(cid) == 0


def fold_in_its_own_session(app) -> None:
    with app.app_context():
        try:
            tally.compact_tallies(above=0)
            db.session.commit()
        finally:
            db.session.remove()


def test_folding_loses_no_delta_written_meanwhile(app, make_campaign):
    """PostgreSQL: an upload's transaction writes its deltas and commits after a fold began and ended; its
    rows were not the fold's to delete, so the sums stay right."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a fold and an upload cannot overlap")
    campaign = make_campaign(big_campaign_yaml("TAL-4", 40))
    cid = campaign.id
    scramble(campaign, 3)
    db.session.commit()
    other = create_engine(db.engine.url)
    try:
        with other.connect() as conn:
            conn.execute(update(Participation).where(Participation.campaign_id == cid)
                         .values(status="on_time", late_working_days=0))  # uncommitted: its deltas too
            fold = threading.Thread(target=fold_in_its_own_session, args=(app,))
            fold.start()
            fold.join(timeout=30)
            assert not fold.is_alive()
            conn.commit()
    finally:
        other.dispose()
    db.session.expire_all()
    assert tallied(cid) == counted(cid)
    assert sum(counted(cid).values()) == 40 and {s for (_g, s, *_rest) in counted(cid)} == {"on_time"}


@pytest.mark.parametrize("first", ["unit", "participation"])
def test_an_upload_and_a_change_of_its_units_group_at_the_same_time(app, make_campaign, first):
    """PostgreSQL, two transactions: one moves a unit to another group while the other records its
    dossier.  Each trigger reads the other table; whichever comes second waits for the first to commit
    and counts what it committed, so the tally stays right (without the wait both count the other's old
    state, for good)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two transactions cannot overlap")
    campaign = make_campaign(big_campaign_yaml("TAL-5", 12))
    cid = campaign.id
    unit_id, pid = db.session.execute(
        select(Unit.id, Participation.id).join(Participation, Participation.unit_id == Unit.id)
        .where(Participation.campaign_id == cid, Unit.group == "department")).first()
    db.session.commit()
    moves = {"unit": text("UPDATE unit SET \"group\" = 'district' WHERE id = :id").bindparams(id=unit_id),
             "participation": text("UPDATE participation SET status = 'on_time' WHERE id = :id").bindparams(id=pid)}
    second = "participation" if first == "unit" else "unit"
    engine = create_engine(db.engine.url)
    try:
        with engine.connect() as one, engine.connect() as two:
            one.execute(moves[first])  # uncommitted
            done = threading.Event()

            def then():
                two.execute(moves[second])
                two.commit()
                done.set()

            worker = threading.Thread(target=then)
            worker.start()
            assert not done.wait(0.5)  # the second waits for the first
            one.commit()
            worker.join(timeout=30)
            assert done.is_set()
    finally:
        engine.dispose()
    db.session.expire_all()
    assert counted(cid)[("district", "on_time", False, 0, False)] >= 1
    assert tallied(cid) == counted(cid)
