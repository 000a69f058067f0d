"""Where a drawn page's CPU goes: the dashboard and an agency page rendered N times in-process.

Renders through the Flask test client with the page cache off (``PAGE_CACHE_MB=0``) against a
database made by ``bench/load.py``'s ``prepare_scales`` (kept with ``LOAD_KEEP_DB=1``, or made here
when ``PROFILE_DB`` is unset), and prints, per page, the process CPU per request split into SQL
(time in the DBAPI's ``execute`` plus fetching, measured by cursor events), template (Jinja's
``render``) and the rest (ORM, view code, Werkzeug), then the statements per request.  With
``PROFILE_PG=1`` it also prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every dashboard statement of the
largest campaign.  ``PROFILE_CPROFILE=1`` prints the top functions of one page (cumulative).

    PROFILE_DB=postgresql+psycopg://postgres@127.0.0.1:5432/hc_perf_prof .venv/bin/python bench/profile_pages.py
"""

from __future__ import annotations

import cProfile
import gc
import importlib
import json
import os
import pstats
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402

N = int(os.environ.get("PROFILE_N", "30"))


def explain(url: str, statements) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement one request made: its execution time and plan."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for statement, params in statements:
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall()
            lines = [r[0] for r in rows]
            took = next((line for line in lines if line.startswith("Execution Time")), "")
            print(f"  -- {took}: {' '.join(statement.split())[:160]}")
            if os.environ.get("PROFILE_PLANS") == "1":
                for line in lines:
                    print("       ", line)


def main() -> int:
    url = os.environ.get("PROFILE_DB")
    made_file = Path(os.environ.get("PROFILE_MADE", "/tmp/perfwork/made.json"))
    if url and made_file.exists():
        made = {int(k): v for k, v in json.loads(made_file.read_text())["made"].items()}
    else:
        url, made = load.prepare_scales("hc_profile")
        made_file.parent.mkdir(parents=True, exist_ok=True)
        made_file.write_text(json.dumps({"url": url, "made": {
            k: {kk: vv for kk, vv in v.items() if kk != "silent"} for k, v in made.items()}}))

    from flask import template_rendered  # noqa: F401
    from jinja2 import Template
    from sqlalchemy import event

    from app import create_app
    from workflow.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAGE_CACHE_MB": 0, "WTF_CSRF_ENABLED": True})
    clock = {"sql": 0.0, "tpl": 0.0, "stmts": 0, "sql_started": 0.0}
    statements: list[str] = []

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, many):
            clock["sql_started"] = time.process_time()
            clock["stmts"] += 1
            statements.append((statement, params))

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, many):
            clock["sql"] += time.process_time() - clock["sql_started"]

    original_render = Template.render

    def timed_render(self, *args, **kwargs):
        started = time.process_time()
        try:
            return original_render(self, *args, **kwargs)
        finally:
            clock["tpl"] += time.process_time() - started

    Template.render = timed_render  # type: ignore[method-assign]

    # Optional: CPU of named functions, e.g. PROFILE_PARTS=workflow.dashboard:unit_page,web.pages.dashboard:_svg
    parts: dict[str, float] = {}
    for spec in filter(None, os.environ.get("PROFILE_PARTS", "").split(",")):
        module_name, name = spec.split(":")
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def timed(*args, _original=original, _spec=spec, **kwargs):
            started = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                parts[_spec] = parts.get(_spec, 0.0) + time.process_time() - started

        setattr(module, name, timed)

    def session_for(email: str):
        client = app.test_client()
        page = client.get("/login")
        token = load.csrf_token(page.data)
        answer = client.post("/login", data={"email": email, "password": load.PASSWORD, "csrf_token": token})
        assert answer.status_code in (302, 303), answer.status_code
        return client

    pages = []
    for n, m in sorted(made.items()):
        pages.append((f"dashboard, {n:,} units", f"/campaigns/{m['campaign']}", m["admin"]))
    big = made[max(made)]
    pages.append((f"dashboard, {max(made):,} units, late by rating, page 3",
                  f"/campaigns/{big['campaign']}?status=late&sort=rating&page=3", big["admin"]))
    mid = made[5000] if 5000 in made else made[max(made)]
    pages.append(("agency page (5,000-unit campaign)", f"/campaigns/{mid['campaign']}/units/{mid['unit']}",
                  mid["focal"]))
    wanted = os.environ.get("PROFILE_ONLY", "")
    # As deploy/gunicorn.conf.py sets up each worker (WEB_GC_THRESHOLD's default).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50000, 20, 100)
    print(f"{N} requests each, in-process test client, page cache off [{load.load_line()}]")
    print(f"{'page':50s} {'bytes':>9s} {'CPU/req':>9s} {'SQL':>8s} {'template':>9s} {'rest':>8s} {'stmts':>6s}")
    for label, path, email in pages:
        if wanted and wanted not in label:
            continue
        client = session_for(email)
        for _ in range(3):
            body = client.get(path).data
        if os.environ.get("PROFILE_DUMP"):  # the page as drawn, to compare two versions of the code
            Path(os.environ["PROFILE_DUMP"]).mkdir(parents=True, exist_ok=True)
            (Path(os.environ["PROFILE_DUMP"]) / (label.replace(" ", "_").replace(",", "") + ".html")).write_bytes(
                re.sub(rb'name="csrf_token"[^>]*>|"csrf-token" content="[^"]*"', b"", body))
        clock.update(sql=0.0, tpl=0.0, stmts=0)
        parts.clear()
        statements.clear()
        started = time.process_time()
        for _ in range(N):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
        total = (time.process_time() - started) / N * 1000
        sql, tpl = clock["sql"] / N * 1000, clock["tpl"] / N * 1000
        print(f"{label:50s} {len(body):9,d} {total:7.1f}ms {sql:6.1f}ms {tpl:7.1f}ms {total - sql - tpl:6.1f}ms "
              f"{clock['stmts'] / N:6.1f}")
        for spec, spent in parts.items():
            print(f"    {spec:60s} {spent / N * 1000:6.1f} ms")
        if os.environ.get("PROFILE_SQL") == "1":
            for s, _params in statements[: int(clock["stmts"] / N)]:
                print("    ", " ".join(s.split())[:300])
        if os.environ.get("PROFILE_PG") == "1" and url.startswith("postgresql"):
            explain(url, statements[: int(clock["stmts"] / N)])
        if os.environ.get("PROFILE_CPROFILE") == "1":
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(10):
                client.get(path)
            profile.disable()
            stats = pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
            if os.environ.get("PROFILE_BYPKG") == "1":  # own time summed by package (or project directory)
                spent: dict[str, float] = {}
                for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
                    where = filename.split("site-packages/")[-1] if "site-packages/" in filename else \
                        filename.replace(str(ROOT) + "/", "")
                    spent[where.split("/")[0]] = spent.get(where.split("/")[0], 0.0) + tottime
                for where, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:20]:
                    print(f"    {where:40s} {seconds / 10 * 1000:6.1f} ms per request (profiled)")
            elif os.environ.get("PROFILE_CALLERS"):  # who calls the functions matching it
                stats.print_callers(os.environ["PROFILE_CALLERS"], 20)
            elif os.environ.get("PROFILE_CALLEES"):  # what the functions matching it call
                stats.print_callees(os.environ["PROFILE_CALLEES"], 20)
            else:
                stats.print_stats(os.environ.get("PROFILE_FILTER", ""), 40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
