"""The tick at grace end over 100 campaigns × 5,000 units, beside hand-written set-based SQL.

    .venv/bin/python bench/tick_scale.py       # TICK_CAMPAIGNS=100 TICK_UNITS=5000 TICK_REPEAT=2

Data: a private PostgreSQL database ``hanchot_tick_base`` (migrated with
``flask db upgrade``), filled with COPY: TICK_CAMPAIGNS organizers (provinces),
each with TICK_UNITS units (25 departments, 5 vertical agencies, districts, and
communes under them, one focal-point address each) and one campaign of all its
units, deadline Friday 25/10/2019, grace 5 working days (ends 24:00 Friday
1/11/2019), state ``grace``; 60 % of the participations have a dossier (a
submission row; on time, or late inside grace), the rest sent nothing.

Each measured run starts from a fresh copy (``CREATE DATABASE … TEMPLATE``,
then the tables read once so both sides start warm) and times, as of one minute
after grace end:

* ``tick``: ``cli.jobs.tick(now)`` — ``workflow.operations.run_tick``
  and its commit: campaign moves, the exclusion (INSERT … SELECT of the audit
  entries, UPDATE), one notice mail per excluded unit's address (rendered in
  Python, inserted in one statement), reminder planning. SQL statements are
  counted with a ``before_cursor_execute`` listener; the time spent in
  ``queue_exclusion_notices`` (and in mail rendering inside it) is measured
  separately by wrapping those functions in this process (no code changed);
* ``sql update``: one hand-written UPDATE … FROM (VALUES (campaign, grace end) …)
  marking the silent units excluded — the bare minimum;
* ``sql update + audit``: the same UPDATE plus one INSERT … SELECT of the audit
  entries, which is the database work our exclusion does.

Prints time and statements for each, and the ratios (goal: tick ≤ 3 × SQL).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import app_env, database_exists, db_url, drop_database, flask, platform_line, recreate_database, say  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE = date(2019, 10, 25)
GRACE_END = datetime(2019, 11, 2, 0, 0, tzinfo=TZ)  # 5 working days after Friday 25/10/2019, at 24:00
NOW = GRACE_END + timedelta(minutes=1)
BASE = "hanchot_tick_base"
RUN = "hanchot_tick_run"


def _connect(name: str):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(db_url(name))
    return psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, dbname=u.database,
                           password=u.password or None)


def build_base(campaigns: int, units: int, submitted: float = 0.6, seed: int = 11) -> dict:
    """The base database, filled with COPY; returns the counts."""
    started = time.perf_counter()
    url = recreate_database(BASE)
    flask(["db", "upgrade"], app_env(url))
    rng = random.Random(seed)
    created = datetime(2019, 10, 1, tzinfo=UTC)
    with _connect(BASE) as conn, conn.cursor() as cur:
        org_ids = []
        for o in range(1, campaigns + 1):
            cur.execute("INSERT INTO organizer (code, name, province, email, timezone) VALUES (%s, %s, %s, %s, %s) "
                        "RETURNING id", (f"P{o:03d}", f"Sở Khoa học và Công nghệ tỉnh số {o}", f"Tỉnh số {o}",
                                         f"stttt{o}@tinh{o}.example.gov.vn", "Asia/Ho_Chi_Minh"))
            org_ids.append(cur.fetchone()[0])
        n_dept, n_vert = min(25, units // 10), 5
        n_dist = max(1, units // 40)
        with cur.copy('COPY unit (organizer_id, code, name, "group", parent_id, head_email, emails, language) '
                      "FROM STDIN") as copy:
            for o, oid in enumerate(org_ids, 1):
                for i in range(n_dept):
                    copy.write_row((oid, f"SO{i:03d}", f"Sở số {i + 1}", "department", None, "",
                                    f'["so{i}@tinh{o}.example.gov.vn"]', "vi"))
                for i in range(n_vert):
                    copy.write_row((oid, f"ND{i:03d}", f"Cơ quan ngành dọc số {i + 1}", "vertical", None, "",
                                    f'["nd{i}@tinh{o}.example.gov.vn"]', "vi"))
                for i in range(n_dist):
                    copy.write_row((oid, f"HUYEN{i:03d}", f"UBND huyện số {i + 1}", "district", None, "",
                                    f'["huyen{i}@tinh{o}.example.gov.vn"]', "vi"))
        districts: dict[int, list[int]] = {}
        for uid, oid in cur.execute("SELECT id, organizer_id FROM unit WHERE \"group\" = 'district' ORDER BY id"):
            districts.setdefault(oid, []).append(uid)
        communes = units - n_dept - n_vert - n_dist
        with cur.copy('COPY unit (organizer_id, code, name, "group", parent_id, head_email, emails, language) '
                      "FROM STDIN") as copy:
            for o, oid in enumerate(org_ids, 1):
                ds = districts[oid]
                for i in range(communes):
                    copy.write_row((oid, f"XA{i:05d}", f"UBND xã số {i + 1}", "commune", ds[i % len(ds)], "",
                                    f'["xa{i}@tinh{o}.example.gov.vn"]', "vi"))
        camp_ids = {}
        for o, oid in enumerate(org_ids, 1):
            cur.execute(
                "INSERT INTO campaign (organizer_id, code, title, year, document_number, deadline, grace_working_days, "
                "state, cancel_reason, tiers, required_documents, commune_nomination, council_emails, created_at) "
                "VALUES (%s, %s, %s, 2019, '1270/STTTT-CNTT', %s, 5, 'grace', '', '[]', '{}', false, '[]', %s) "
                "RETURNING id", (oid, f"P{o:03d}-UDCNTT-2019", f"Đánh giá ứng dụng CNTT năm 2019, tỉnh số {o}",
                                 DEADLINE, created))
            camp_ids[oid] = cur.fetchone()[0]
        units_of: dict[int, list[int]] = {}
        for uid, oid in cur.execute("SELECT id, organizer_id FROM unit ORDER BY id"):
            units_of.setdefault(oid, []).append(uid)
        on_time_at = datetime(2019, 10, 24, 9, 30, tzinfo=TZ)
        late_at = datetime(2019, 10, 29, 10, 0, tzinfo=TZ)
        with cur.copy("COPY participation (campaign_id, unit_id, status, received_at, late_working_days, "
                      "reinstated_reason, returned_reason, nominated) FROM STDIN") as copy:
            for oid, cid in camp_ids.items():
                for uid in units_of[oid]:
                    roll = rng.random()
                    if roll < submitted * 5 / 6:
                        copy.write_row((cid, uid, "on_time", on_time_at, 0, "", "", False))
                    elif roll < submitted:
                        copy.write_row((cid, uid, "late", late_at, 2, "", "", False))
                    else:
                        copy.write_row((cid, uid, "not_submitted", None, 0, "", "", False))
        parts = cur.execute("SELECT id, campaign_id, unit_id, status, received_at FROM participation "
                            "WHERE status <> 'not_submitted'").fetchall()
        with cur.copy("COPY submission (participation_id, version, received_at, channel, doc_number, recorded_by, "
                      "receipt_number, late_working_days, created_at) FROM STDIN") as copy:
            for pid, cid, uid, status, received in parts:
                copy.write_row((pid, 1, received, "eoffice", f"{1000 + pid % 9000}/VBĐ", "văn thư Sở",
                                f"C{cid}/U{uid}/1", 2 if status == "late" else 0, received))
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
        counts = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("organizer", "unit", "campaign", "participation", "submission")}
        counts["silent"] = cur.execute("SELECT count(*) FROM participation WHERE status = 'not_submitted'").fetchone()[0]
        counts["size"] = cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    counts["seconds"] = time.perf_counter() - started
    return counts


def fresh_copy() -> str:
    url = recreate_database(RUN, template=BASE)
    with _connect(RUN) as conn:  # read the tables once: both sides start with warm caches
        for t in ("participation", "unit", "campaign", "audit_event", "outbox_mail"):
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()
    return url


class Counter:
    """SQL statements, and how many of each shape (its first words, tables included)."""

    def __init__(self):
        self.n = 0
        self.shapes: dict[str, int] = {}

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.n += 1
        words = " ".join(statement.split())
        shape = words[:40] + (" … FROM " + words.split(" FROM ", 1)[1].split(" ")[0] if " FROM " in words else "")
        self.shapes[shape] = self.shapes.get(shape, 0) + 1


def run_tick_once(url: str) -> dict:
    """Our tick, in this process, with statements counted and the mail part timed apart."""
    from sqlalchemy import event, func, select

    import notifications.queue as queue
    from app import create_app
    from cli.jobs import tick
    from notifications.models import OutboxMail
    from workflow.db import db
    from workflow.models import AuditEvent, Participation

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    spent = {"notices": 0.0, "render": 0.0, "insert_mail": 0.0, "render_calls": 0}
    originals = (queue.queue_exclusion_notices, queue.render_mail, queue.insert_rows)

    def timed(key, fn, count=None):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t0
                if count:
                    spent[count] += 1
        return wrapper

    queue.queue_exclusion_notices = timed("notices", originals[0])
    queue.render_mail = timed("render", originals[1], "render_calls")
    queue.insert_rows = timed("insert_mail", originals[2])
    counter = Counter()
    try:
        with app.app_context():
            db.session.execute(select(1))  # connect before timing
            event.listen(db.engine, "before_cursor_execute", counter)
            t0 = time.perf_counter()
            summary = tick(NOW)
            elapsed = time.perf_counter() - t0
            event.remove(db.engine, "before_cursor_execute", counter)
            excluded = db.session.scalar(select(func.count()).select_from(Participation)
                                         .where(Participation.status == "excluded"))
            audits = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.action == "unit.excluded"))
            mails = db.session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "excluded"))
            db.session.remove()
            db.engine.dispose()
    finally:
        queue.queue_exclusion_notices, queue.render_mail, queue.insert_rows = originals
    return {"seconds": elapsed, "statements": counter.n, "shapes": counter.shapes, "excluded": excluded, "audit": audits, "mails": mails,
            "summary": summary, **spent}


def grace_ends(url: str) -> list[tuple[int, datetime]]:
    """Each campaign's grace end, computed by the app's calendar (not timed)."""
    from sqlalchemy import select

    from app import create_app
    from workflow import campaigns as reads
    from workflow.db import db
    from workflow.models import Campaign

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        out = [(c.id, reads.timeline_of(c).grace_ends_at) for c in
               db.session.scalars(select(Campaign).where(Campaign.state.in_(("open", "grace")))).all()]
        db.session.remove()
        db.engine.dispose()
    return out


def run_sql_once(with_audit: bool, ends: list[tuple[int, datetime]]) -> dict:
    values = ", ".join(f"({cid}, '{at.astimezone(UTC).isoformat()}'::timestamptz)" for cid, at in ends)
    silent = ("p.campaign_id = g.campaign_id AND p.status = 'not_submitted' AND p.reinstated_reason = '' "
              "AND g.grace_end <= %(now)s")
    statements = []
    if with_audit:
        statements.append(
            "INSERT INTO audit_event (at, actor, action, organizer_id, campaign_id, unit_id, from_value, to_value, "
            "reason) SELECT g.grace_end, 'system', 'unit.excluded', c.organizer_id, p.campaign_id, p.unit_id, "
            "'not_submitted', 'excluded', 'Không gửi hồ sơ trước khi hết thời gian gia hạn (5 ngày làm việc kể từ "
            f"hạn chót 25/10/2019)' FROM participation p JOIN campaign c ON c.id = p.campaign_id JOIN (VALUES {values}) "
            f"AS g(campaign_id, grace_end) ON TRUE WHERE {silent}")
    statements.append(
        f"UPDATE participation AS p SET status = 'excluded', excluded_at = g.grace_end FROM (VALUES {values}) "
        f"AS g(campaign_id, grace_end) WHERE {silent}")
    with _connect(RUN) as conn:
        conn.execute("SELECT 1")
        t0 = time.perf_counter()
        for sql in statements:
            conn.execute(sql, {"now": NOW})
        conn.commit()
        elapsed = time.perf_counter() - t0
        excluded = conn.execute("SELECT count(*) FROM participation WHERE status = 'excluded'").fetchone()[0]
        audits = conn.execute("SELECT count(*) FROM audit_event WHERE action = 'unit.excluded'").fetchone()[0]
    return {"seconds": elapsed, "statements": len(statements), "excluded": excluded, "audit": audits}


def main() -> int:
    campaigns = int(os.environ.get("TICK_CAMPAIGNS", "100"))
    units = int(os.environ.get("TICK_UNITS", "5000"))
    repeat = int(os.environ.get("TICK_REPEAT", "2"))
    say(f"tick at grace end: {campaigns} campaigns × {units:,} units, PostgreSQL (private database), "
        f"{repeat} run(s) of each, alternating, each on a fresh copy")
    say(f"machine: {os.cpu_count()} cores, {platform_line()}")
    if os.environ.get("TICK_REUSE_BASE") == "1" and database_exists(BASE):
        say(f"  reusing {BASE}")
    else:
        counts = build_base(campaigns, units)
        say(f"  built {BASE} in {counts.pop('seconds'):.1f} s: {counts}")
    url = db_url(RUN)
    runs: dict[str, list[dict]] = {"tick": [], "sql update": [], "sql update + audit": []}
    ends = None
    for r in range(1, repeat + 1):
        for kind in runs:
            fresh_copy()
            if ends is None:
                ends = grace_ends(url)
            if kind == "tick":
                res = run_tick_once(url)
                say(f"  run {r} tick: {res['seconds']:.2f} s, {res['statements']} statements; excluded "
                    f"{res['excluded']:,}, audit entries {res['audit']:,}, notice mails {res['mails']:,}; "
                    f"of which queue_exclusion_notices {res['notices']:.2f} s (rendering {res['render_calls']:,} "
                    f"mails {res['render']:.2f} s, inserting them {res['insert_mail']:.2f} s); {res['summary']}")
            else:
                res = run_sql_once(kind.endswith("audit"), ends)
                say(f"  run {r} {kind}: {res['seconds']:.2f} s, {res['statements']} statement(s); excluded "
                    f"{res['excluded']:,}, audit entries {res['audit']:,}")
            runs[kind].append(res)
    shapes = sorted(runs["tick"][0]["shapes"].items(), key=lambda kv: -kv[1])
    say("  the tick's statements by shape: " + "; ".join(f"{n}× {shape}" for shape, n in shapes[:8]))
    tick_s = statistics.median(x["seconds"] for x in runs["tick"])
    tick_wo_mail = statistics.median(x["seconds"] - x["notices"] for x in runs["tick"])
    notices = statistics.median(x["notices"] for x in runs["tick"])
    say("summary (medians):")
    say(f"  tick (run_tick + commit)            {tick_s:8.2f} s  {runs['tick'][0]['statements']} statements")
    say(f"    of which exclusion notice mails   {notices:8.2f} s  ({100 * notices / tick_s:.0f} % of the tick)")
    say(f"    the tick without the notice mails {tick_wo_mail:8.2f} s")
    for kind in ("sql update", "sql update + audit"):
        s = statistics.median(x["seconds"] for x in runs[kind])
        say(f"  {kind:35s} {s:8.2f} s  {runs[kind][0]['statements']} statement(s)   tick ÷ this: "
            f"{tick_s / s:.1f}×   (tick without notices ÷ this: {tick_wo_mail / s:.1f}×)")
    sql_audit = statistics.median(x["seconds"] for x in runs["sql update + audit"])
    say(f"goal: tick within 3× of the set-based SQL doing the same exclusion (update + audit): "
        f"{tick_s / sql_audit:.1f}× → {'met' if tick_s / sql_audit <= 3 else 'NOT met'}; without the notice mails "
        f"{tick_wo_mail / sql_audit:.1f}× → {'met' if tick_wo_mail / sql_audit <= 3 else 'NOT met'}")
    drop_database(RUN)
    if os.environ.get("TICK_KEEP_BASE") != "1":
        drop_database(BASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
