"""Memory (VmRSS, and the peak VmHWM, from /proc/<pid>/status) of a web worker and of the scheduler.

    .venv/bin/python bench/memory.py

* A web worker: gunicorn (deploy/gunicorn.conf.py, one worker so that every
  request lands on the same process) on a private database with ``flask demo
  generate`` (one campaign of 5,000 units); RSS after start, after /healthz,
  after the 5,000-unit dashboard once and five times, and after the agency page.
* The scheduler: ``flask scheduler run`` (its own process, as in production) on
  a copy of the tick-scale database (100 campaigns × 5,000 units, see
  bench/tick_scale.py; reused when ``hanchot_tick_base`` exists, else built),
  its clock shifted (``HANCHOT_CLOCK_OFFSET_SECONDS``) to one minute after the
  campaigns' grace end, so its first tick excludes 200,000 units and queues
  their notices; RSS sampled every 0.5 s until the tick has committed, then the
  peak (VmHWM) and the RSS after it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import (  # noqa: E402
    BIN,
    ROOT,
    Gunicorn,
    _admin_connect,
    app_env,
    database_exists,
    drop_database,
    get,
    login,
    make_accounts,
    platform_line,
    prepare_generated,
    recreate_database,
    rss_kib,
    say,
)


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def web_worker() -> None:
    name = "hanchot_mem_web"
    url = prepare_generated(name)
    accounts = make_accounts(url)
    campaign, unit = accounts["campaign"], accounts["unit"]
    uploads = tempfile.mkdtemp(prefix="hanchot-mem-uploads-")
    env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=uploads,
                  WEB_ACCESS_LOG="")
    with Gunicorn(env, workers=1) as server:
        worker = server.worker_pids()[0]
        master_rss = rss_kib(server.proc.pid)[0]
        steps = [("after start (no request yet but /healthz polls)", None, 0)]
        admin = login(server.port, accounts["organizer_admin"])
        focal = login(server.port, accounts["focal_point"])
        steps += [("after sign-in and /healthz ×20", "/healthz", 20),
                  ("after the 5,000-unit dashboard ×1", f"/campaigns/{campaign}", 1),
                  ("after the dashboard ×5", f"/campaigns/{campaign}", 4),
                  ("after the dashboard ×10", f"/campaigns/{campaign}", 5),
                  ("after the agency page ×20", f"/campaigns/{campaign}/units/{unit}", 20)]
        say(f"web worker (gunicorn, 1 sync worker, pid {worker}; master {mib(master_rss)}):")
        for label, path, n in steps:
            cookie = focal if path and "/units/" in path else admin
            for _ in range(n):
                status = get(server.port, path, cookie)[0]
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
            rss, hwm = rss_kib(worker)
            say(f"  {label:50s} RSS {mib(rss):>8s}   peak {mib(hwm):>8s}")
    # The scheduler idle on the same database, for comparison: its first tick finds nothing due.
    env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), TICK_SECONDS="3600",
                  DISPATCH_SECONDS="3600")
    proc = subprocess.Popen([str(BIN / "flask"), "scheduler", "run"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(8)
        rss, hwm = rss_kib(proc.pid)
        say(f"scheduler idle (`flask scheduler run` on the same database, first tick done, nothing due): "
            f"RSS {mib(rss)}, peak {mib(hwm)}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    shutil.rmtree(uploads, ignore_errors=True)
    drop_database(name)


def scheduler() -> None:
    from tick_scale import BASE, NOW, build_base

    name = "hanchot_mem_sched"
    if not database_exists(BASE):
        counts = build_base(int(os.environ.get("TICK_CAMPAIGNS", "100")), int(os.environ.get("TICK_UNITS", "5000")))
        say(f"  built {BASE} in {counts.pop('seconds'):.1f} s: {counts}")
        built = True
    else:
        built = False
    url = recreate_database(name, template=BASE)
    with _admin_connect(url) as conn:
        n_units, n_silent = conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 'not_submitted') "
                                         "FROM participation").fetchone()
        n_campaigns = conn.execute("SELECT count(*) FROM campaign").fetchone()[0]
    offset = NOW.timestamp() - time.time() + 5  # its clock: one minute after grace end (+5 s of start-up)
    env = app_env(url, APP_ENV="development", HANCHOT_CLOCK_OFFSET_SECONDS=f"{offset:.3f}", TICK_SECONDS="3600",
                  DISPATCH_SECONDS="3600")
    log = open(tempfile.mktemp(prefix="hanchot-scheduler-", suffix=".log"), "w")
    proc = subprocess.Popen([str(BIN / "flask"), "scheduler", "run"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    say(f"scheduler (`flask scheduler run`, pid {proc.pid}) on a copy of {BASE}: {n_campaigns} campaigns, "
        f"{n_units:,} participations, {n_silent:,} to exclude:")
    started = time.monotonic()
    samples = []
    done_at = None
    first_rss = None
    try:
        for _ in range(3600):  # 0.5 s each: at most 30 minutes
            if proc.poll() is not None:
                raise RuntimeError(f"the scheduler exited ({proc.returncode}); log: {log.name}")
            rss, hwm = rss_kib(proc.pid)
            if first_rss is None and time.monotonic() - started >= 3:
                first_rss = rss  # the app loaded, the tick under way
            samples.append(rss)
            with _admin_connect(url) as conn:
                left = conn.execute("SELECT count(*) FROM campaign WHERE state IN ('open', 'grace')").fetchone()[0]
            if left == 0:
                done_at = time.monotonic() - started
                break
            time.sleep(0.5)
        time.sleep(1.0)
        rss, hwm = rss_kib(proc.pid)
        say(f"  3 s after start (app loaded, tick under way): RSS {mib(first_rss or 0)}")
        say(f"  tick committed after {done_at:.0f} s; highest sampled RSS {mib(max(samples))}; peak (VmHWM) {mib(hwm)}; "
            f"RSS after the tick {mib(rss)}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        Path(log.name).unlink(missing_ok=True)
    with _admin_connect(url) as conn:
        excluded, mails = conn.execute(
            "SELECT (SELECT count(*) FROM participation WHERE status = 'excluded'), "
            "(SELECT count(*) FROM outbox_mail WHERE kind = 'excluded')").fetchone()
    say(f"  excluded {excluded:,}, notice mails queued {mails:,}")
    drop_database(name)
    if built or os.environ.get("MEMORY_DROP_BASE") == "1":
        drop_database(BASE)


def main() -> int:
    say(f"memory: machine {os.cpu_count()} cores, {platform_line()}")
    web_worker()
    scheduler()
    return 0


if __name__ == "__main__":
    sys.exit(main())
