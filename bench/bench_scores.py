"""All scores of a campaign from its criteria sheets, beside one hand-written aggregate query.

    .venv/bin/python bench/bench_scores.py          # SCORES_UNITS=5000 SCORES_CRITERIA=120 SCORES_REPEAT=3
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_scores.py

Data (a private database: an SQLite file in a temporary directory, or with
BENCH_DATABASE_URL a database ``hanchot_scores_bench`` created and dropped on
that server): one campaign of SCORES_UNITS departments, one criteria set of
SCORES_CRITERIA leaves in 6 sections (a third ratios by bands, a third links,
a third yes/no with N/A allowed), every unit's sheet submitted with a value for
every criterion and one criterion in ten verified (a value changed, a link
marked not found, or points set).

Measured, in this process, each the median of SCORES_REPEAT runs:

* ``scores``: ``workflow.sheets.campaign_scores`` — every unit's claimed and
  verified totals and section subtotals, adding up the points the declared
  rules gave each criterion when it was submitted or verified (stored beside
  its values; the fill computes them with the same ``criteria_rules``
  functions), parents bounded by their maxima; SQL statements
  counted with a ``before_cursor_execute`` listener, at two sizes to show they
  do not grow with units or criteria;
* ``sql``: one hand-written aggregate over the same rows (every entry of every
  submitted sheet of the campaign, joined to its criterion, summed by sheet,
  one section subtotal) — what the database alone costs to read them.

Prints times, statements and the ratio (goal: scores within 3 × the query).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, text  # noqa: E402

UNITS = int(os.environ.get("SCORES_UNITS", "5000"))
CRITERIA = int(os.environ.get("SCORES_CRITERIA", "120"))
REPEAT = int(os.environ.get("SCORES_REPEAT", "3"))
PG = os.environ.get("BENCH_DATABASE_URL", "")


def make_app(url: str):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench")
    from app import create_app
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade
        upgrade(directory=str(ROOT / "migrations"))
    return app


def fill(units: int, criteria: int, tag: str) -> int:
    from workflow.criteria import CriteriaSet, Criterion, Sheet, SheetEntry
    from workflow.db import db
    from workflow.models import Campaign, Organizer, Participation, Unit

    org = Organizer(code=f"B{tag}", name="Bench")
    db.session.add(org)
    db.session.flush()
    campaign = Campaign(organizer_id=org.id, code=f"BENCH-{tag}", title="Bench", year=2019,
                        deadline=date(2019, 10, 25), grace_working_days=5, state="preliminary_review")
    db.session.add(campaign)
    db.session.flush()
    cs = CriteriaSet(campaign_id=campaign.id, code="S", title="S", groups=[])
    db.session.add(cs)
    db.session.flush()
    per = criteria // 6
    rows, pos, leaves = [], 0, []
    for s in range(1, 7):
        rows.append({"set_id": cs.id, "position": pos, "code": str(s), "parent_code": "", "title": f"Phần {s}", "maximum": per * 2,
                     "kind": "", "rule": {}, "guidance": "", "groups": [], "allow_na": False})
        pos += 1
        for i in range(1, per + 1):
            kind = ("ratio", "link", "yes_no")[i % 3]
            rule = {"bands": [{"min": "90", "points": "2"}, {"min": "50", "points": "1"}]} if kind == "ratio" else {}
            rows.append({"set_id": cs.id, "position": pos, "code": f"{s}.{i}", "parent_code": str(s), "title": f"Tiêu chí {s}.{i}",
                         "maximum": 2, "kind": kind, "rule": rule, "guidance": "", "groups": [],
                         "allow_na": kind == "yes_no"})
            leaves.append((f"{s}.{i}", kind))
            pos += 1
    db.session.execute(insert(Criterion), rows)
    crit_ids = dict(db.session.execute(text("SELECT code, id FROM criterion WHERE set_id = :s"), {"s": cs.id}).all())
    db.session.execute(insert(Unit), [{"organizer_id": org.id, "code": f"U{n}", "name": f"Đơn vị {n}",
                                       "group": "department", "emails": [], "language": "vi", "head_email": ""}
                                      for n in range(units)])
    unit_ids = [r[0] for r in db.session.execute(text("SELECT id FROM unit WHERE organizer_id = :o ORDER BY id"),
                                                 {"o": org.id})]
    db.session.execute(insert(Participation), [{"campaign_id": campaign.id, "unit_id": u, "status": "on_time",
                                                "late_working_days": 0, "reinstated_reason": "",
                                                "returned_reason": "", "nominated": False} for u in unit_ids])
    p_ids = [r[0] for r in db.session.execute(text("SELECT id FROM participation WHERE campaign_id = :c ORDER BY id"),
                                              {"c": campaign.id})]
    submitted = datetime(2019, 10, 24, 3, tzinfo=UTC)
    db.session.execute(insert(Sheet), [{"participation_id": p, "set_id": cs.id, "submitted_at": submitted,
                                        "saved_by": "bench"} for p in p_ids])
    sheet_ids = [r[0] for r in db.session.execute(
        text("SELECT s.id FROM sheet s JOIN participation p ON p.id = s.participation_id "
             "WHERE p.campaign_id = :c ORDER BY s.id"), {"c": campaign.id})]
    from workflow.criteria_rules import Entry, score_leaf, verified_leaf
    db.session.expire_all()
    nodes = db.session.get(CriteriaSet, cs.id).tree().by_code()
    rnd = random.Random(7)
    batch = []
    for sid in sheet_ids:
        for code, kind in leaves:
            if kind == "ratio":
                den = rnd.randint(1, 200)
                value = {"numerator": str(rnd.randint(0, den)), "denominator": str(den)}
            elif kind == "link":
                value = {"links": ["https://example.gov.vn/muc-tin"]}
            else:
                value = {"na": True, "explanation": "Không có nhiệm vụ"} if rnd.random() < 0.1 else {
                    "yes": rnd.random() < 0.8}
            row = {"sheet_id": sid, "criterion_id": crit_ids[code], "draft": value, "claimed": value,
                   "verified": None, "verified_points": None, "link_not_found": False, "verify_note": "",
                   "verify_stage": "", "verified_by": "", "response": "", "response_reason": ""}
            if rnd.random() < 0.1:
                if kind == "link":
                    row["link_not_found"] = True
                elif kind == "ratio":
                    row["verified"] = {"numerator": "0", "denominator": value["denominator"]}
                else:
                    row["verified_points"] = Decimal(1)
            node = nodes[code]
            row["claimed_score"] = score_leaf(node, value)
            row["verified_score"] = verified_leaf(node, Entry(value, row["verified"], row["verified_points"],
                                                              row["link_not_found"]))
            batch.append(row)
            if len(batch) >= 20000:
                db.session.execute(insert(SheetEntry), batch)
                batch = []
    if batch:
        db.session.execute(insert(SheetEntry), batch)
    db.session.commit()
    return campaign.id


def measure(campaign_id: int) -> tuple[float, int, float, int]:
    from workflow.db import db
    from workflow.models import Campaign
    from workflow.sheets import campaign_scores

    campaign = db.session.get(Campaign, campaign_id)
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    times, sql_times, n_units = [], [], 0
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(REPEAT):
            counter["n"] = 0
            t0 = time.perf_counter()
            scores = campaign_scores(campaign)
            times.append(time.perf_counter() - t0)
            statements = counter["n"]
            n_units = len(scores)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    query = text(
        "SELECT s.participation_id, SUM(e.claimed_score), SUM(e.verified_score), "
        "SUM(CASE WHEN c.code LIKE '1.%' THEN e.verified_score ELSE 0 END) "
        "FROM sheet_entry e JOIN sheet s ON s.id = e.sheet_id JOIN participation p ON p.id = s.participation_id "
        "JOIN criterion c ON c.id = e.criterion_id "
        "WHERE p.campaign_id = :c AND s.submitted_at IS NOT NULL GROUP BY s.participation_id")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        rows = db.session.execute(query, {"c": campaign_id}).all()
        sql_times.append(time.perf_counter() - t0)
    assert len(rows) == n_units
    db.session.rollback()
    return statistics.median(times), statements, statistics.median(sql_times), n_units


def main() -> None:
    tmp = tempfile.TemporaryDirectory()
    if PG:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        base = make_url(PG)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "hanchot_scores_bench"'))
            conn.execute(text('CREATE DATABASE "hanchot_scores_bench"'))
        url = base.set(database="hanchot_scores_bench").render_as_string(hide_password=False)
    else:
        url = "sqlite:///" + str(Path(tmp.name) / "scores.sqlite3")
    app = make_app(url)
    try:
        with app.app_context():
            from workflow.db import db
            print(f"database: {db.engine.dialect.name}; repeat {REPEAT}, medians")
            small = fill(max(UNITS // 10, 1), 12, "small")
            large = fill(UNITS, CRITERIA, "large")
            s_time, s_statements, _s_sql, s_units = measure(small)
            l_time, l_statements, l_sql, l_units = measure(large)
            print(f"scores  {s_units:>6} units × {12:>4} criteria: {s_time * 1000:9.1f} ms, {s_statements} SQL statements")
            print(f"scores  {l_units:>6} units × {CRITERIA:>4} criteria: {l_time * 1000:9.1f} ms, "
                  f"{l_statements} SQL statements")
            print(f"sql     one hand-written aggregate over the same {l_units * CRITERIA} rows: {l_sql * 1000:9.1f} ms")
            print(f"ratio   scores / sql = {l_time / l_sql:.2f} × (goal ≤ 3 ×); statements "
                  f"{'do not grow' if s_statements == l_statements else 'GROW'} "
                  f"({s_statements} → {l_statements})")
            db.session.remove()
            db.engine.dispose()
    finally:
        if PG:
            with admin.connect() as conn:
                conn.execute(text('DROP DATABASE IF EXISTS "hanchot_scores_bench" WITH (FORCE)'))
            admin.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
