"""Pages under load on gunicorn + PostgreSQL, beside a trivial route of the same app.

    .venv/bin/python bench/load.py            # make load
    LOAD_SECONDS=15 LOAD_ROUNDS=2 LOAD_CLIENTS=50 LOAD_RESTART_PG=private|1 …

What it does, every step real:

1. a private database ``hanchot_load`` on the local PostgreSQL (dropped and made
   anew), ``flask db upgrade``, ``flask demo generate --organizers 1 --units 5000
   --campaigns 1`` (campaign ``GEN01-001``, 5,000 units, 60 % with a dossier);
2. an organizer admin and a unit's focal point (``workflow.accounts.create_user``);
3. gunicorn with ``deploy/gunicorn.conf.py`` (4 sync workers) on a free loopback
   port, ``APP_ENV=production``; both people sign in with a real POST to /login
   (the CSRF token parsed from the form) and keep their session cookies;
4. for each round, each route for a fixed duration with 50 concurrent clients:
   ``/healthz`` (trivial, no database), the agency's page (as its focal point)
   and the 5,000-unit dashboard (as the organizer admin); p50, p95, requests per
   second, and the ratios to /healthz of the same round. The client is ``wrk``
   (a Lua script sets the Cookie header and prints p50/p95) when installed,
   else a Python client (processes × threads, http.client); the CPU the client
   used is printed beside the server's, to show it was not the bottleneck;
5. PostgreSQL restarted during load (``LOAD_RESTART_PG``): ``1`` restarts the
   shared local server (``pg_ctlcluster … main restart``: other people's tests
   use it, so only on purpose); ``private`` starts a throwaway PostgreSQL cluster
   of its own on a free port, serves the app from it, and restarts that one;
   unset: skipped, and said so. Clients hit /readyz and the agency page and
   upload dossiers meanwhile; printed: responses by status, whether the 503s
   carry the Vietnamese page, the time until 200s again (gunicorn is never
   restarted), and that no submission is half-written (every stored document
   has its file and its SHA-256; every answered upload is stored).

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.
This module's helpers (private databases, gunicorn, sign-in, clients) are also
used by bench/burst.py and bench/memory.py.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

#: The server the private databases are made on (trust auth on loopback).
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-password-" + "x" * 8
HOST = "127.0.0.1"


def say(*parts) -> None:
    print(*parts, flush=True)


# -- databases -----------------------------------------------------------------------

def db_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin_connect(admin_url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)
    kwargs = dict(host=u.host or HOST, port=u.port or 5432, user=u.username or "postgres", dbname=u.database,
                  autocommit=True, connect_timeout=10)
    if u.password:
        kwargs["password"] = u.password
    return psycopg.connect(**kwargs)


def recreate_database(name: str, admin_url: str = PG_ADMIN_URL, template: str | None = None) -> str:
    """Drop and create a private database; returns its URL."""
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    with _admin_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return db_url(name, admin_url)


def drop_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    with _admin_connect(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(name: str, admin_url: str = PG_ADMIN_URL) -> bool:
    with _admin_connect(admin_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a flask / gunicorn process of the bench."""
    env = {k: v for k, v in os.environ.items() if k not in ("HANCHOT_CLOCK_OFFSET_SECONDS",)}
    env.update(FLASK_APP="app", DATABASE_URL=database_url, PYTHONDONTWRITEBYTECODE="1", MAIL_SERVER="")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def flask(args: list[str], env: dict[str, str], timeout: float = 900) -> str:
    out = subprocess.run([str(BIN / "flask"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip()


def prepare_generated(name: str, units: int = 5000, campaigns: int = 1, env_extra: dict | None = None,
                      admin_url: str = PG_ADMIN_URL, now: str | None = None, submitted: float = 0.6) -> str:
    """A private database with the schema and ``flask demo generate`` data; returns its URL."""
    url = recreate_database(name, admin_url)
    env = app_env(url, **(env_extra or {}))
    started = time.perf_counter()
    flask(["db", "upgrade"], env)
    args = ["demo", "generate", "--organizers", "1", "--units", str(units), "--campaigns", str(campaigns),
            "--submitted", str(submitted)]
    if now:
        args += ["--now", now]
    generated = flask(args, env)
    say(f"  database {name}: migrated and generated in {time.perf_counter() - started:.1f} s ({generated})")
    return url


def in_app(database_url: str, fn, **config):
    """Run ``fn()`` inside an app context of ``database_url``; returns its result."""
    from app import create_app
    from workflow.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()
            db.engine.dispose()


def make_accounts(database_url: str, campaign_code: str = "GEN01-001", unit_code: str | None = None) -> dict:
    """An organizer admin and the focal point of a unit that has sent its dossier."""

    def work():
        from sqlalchemy import select

        from workflow.accounts import create_user
        from workflow.db import db
        from workflow.models import Campaign, Participation, Unit, User

        campaign = db.session.scalar(select(Campaign).where(Campaign.code == campaign_code))
        org = campaign.organizer
        if unit_code:
            unit = db.session.scalar(select(Unit).where(Unit.organizer_id == org.id, Unit.code == unit_code))
        else:  # a commune with a dossier: the page shows its receipt and history
            unit = db.session.scalar(select(Unit).join(Participation, Participation.unit_id == Unit.id).where(
                Participation.campaign_id == campaign.id, Participation.status == "on_time",
                Unit.group == "commune").order_by(Unit.code).limit(1))
        made = {"campaign": campaign.code, "unit": unit.code}
        for role, email, u in (("organizer_admin", "admin@bench.example", None),
                               ("focal_point", f"{unit.code.lower()}@bench.example", unit)):
            if db.session.scalar(select(User.id).where(User.email == email)) is None:
                create_user(email=email, role=role, organizer=org, unit=u, name=role, password=PASSWORD,
                            actor="bench")
            made[role] = email
        db.session.commit()
        return made

    return in_app(database_url, work)


# -- gunicorn ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py on a free loopback port."""

    def __init__(self, env: dict[str, str], workers: int = 4, log_path: str | Path | None = None):
        self.port = free_port()
        self.env = dict(env, BIND=f"{HOST}:{self.port}", WEB_WORKERS=str(workers))
        self.workers = workers
        self.log_path = Path(log_path or tempfile.mktemp(prefix="hanchot-gunicorn-", suffix=".log"))
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 90) -> Gunicorn:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                      "app:create_app()"], env=self.env, cwd=ROOT, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); log: {self.log_path}")
            try:
                if get(self.port, "/healthz", timeout=2)[0] == 200 and len(self.worker_pids()) >= self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {ready_timeout} s; log: {self.log_path}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        return children(self.proc.pid)

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        self.cache_lines = [line.split("page cache: ", 1)[1] for line in
                            self.log_path.read_text(errors="replace").splitlines() if "page cache: " in line]
        # Keep the log only when something went wrong in it (its path is printed then).
        if os.environ.get("LOAD_KEEP_LOGS") != "1" and "ERROR" not in self.log_path.read_text(errors="replace"):
            self.log_path.unlink(missing_ok=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(x) for x in text]
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# -- HTTP ----------------------------------------------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
            timeout: float = 60) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def get(port: int, path: str, cookie: str = "", timeout: float = 60):
    return request(port, "GET", path, {"Cookie": cookie} if cookie else {}, timeout=timeout)


def _cookies(headers: http.client.HTTPMessage) -> dict[str, str]:
    from http.cookies import SimpleCookie

    jar = {}
    for value in headers.get_all("Set-Cookie") or []:
        c = SimpleCookie()
        c.load(value)
        jar.update({k: m.value for k, m in c.items()})
    return jar


CSRF_RE = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: bytes) -> str:
    m = CSRF_RE.search(html)
    if not m:
        raise RuntimeError("no csrf_token field in the form")
    return (m.group(1) or m.group(2)).decode()


def login(port: int, email: str, password: str = PASSWORD) -> str:
    """Sign in through the login form (GET for the CSRF token, POST); returns the Cookie header."""
    status, headers, body = get(port, "/login")
    if status != 200:
        raise RuntimeError(f"GET /login answered {status}")
    jar = _cookies(headers)
    form = {"email": email, "password": password}
    try:
        form["csrf_token"] = csrf_token(body)
    except RuntimeError:
        pass  # CSRF off
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, headers, body = request(port, "POST", "/login", {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(form).encode())
    if status not in (302, 303):
        raise RuntimeError(f"POST /login answered {status} for {email}")
    jar.update(_cookies(headers))
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body: (body, content type)."""
    boundary = "----hanchot" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data, ctype in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def small_pdf(text: str) -> bytes:
    """A real, minimal one-page PDF (valid xref) carrying ``text`` (ASCII)."""
    text = re.sub(r"[^A-Za-z0-9 .:/_-]", "", text)
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- load: wrk, or a Python client ---------------------------------------------------------

WRK_LUA = """
wrk.headers["Cookie"] = %s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"max_us\\": %%d, \\"non_2xx_3xx\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"timeout\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(port: int, path: str, cookie: str, clients: int, seconds: float, threads: int = 2) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_LUA % _lua_string(cookie))
        script = fh.name
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{int(seconds)}s",
                              "--timeout", "60s", "-s", script, f"http://{HOST}:{port}{path}"],
                             capture_output=True, text=True, timeout=seconds + 120)
    finally:
        os.unlink(script)
    line = next((line for line in out.stdout.splitlines() if line.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    errors = r["non_2xx_3xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"requests": r["requests"], "seconds": r["duration_us"] / 1e6, "p50_ms": r["p50_us"] / 1000,
            "p95_ms": r["p95_us"] / 1000, "p99_ms": r["p99_us"] / 1000, "rps": r["requests"] / (r["duration_us"] / 1e6),
            "errors": errors, "non_2xx_3xx": r["non_2xx_3xx"], "socket_errors": errors - r["non_2xx_3xx"]}


def _py_worker(args) -> dict:
    """One client process: ``threads`` keep-alive clients until the end time (bounded)."""
    port, path, cookie, threads, end_at = args
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        mine, codes = [], Counter()
        for _ in range(10_000_000):  # bounded; the clock ends it
            if time.time() >= end_at:
                break
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                resp = conn.getresponse()
                resp.read()
                codes[resp.status] += 1
                mine.append(time.perf_counter() - t0)
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                codes["error"] += 1
                conn.close()
                time.sleep(0.01)
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    pool = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=max(1.0, end_at - time.time() + 70))
    return {"latencies": latencies, "statuses": dict(statuses)}


def run_python(port: int, path: str, cookie: str, clients: int, seconds: float, processes: int = 2) -> dict:
    processes = max(1, min(processes, clients))
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    started = time.time()
    end_at = started + seconds
    with ProcessPoolExecutor(processes) as pool:
        results = list(pool.map(_py_worker, [(port, path, cookie, n, end_at) for n in per]))
    elapsed = time.time() - started
    lat = sorted(x for r in results for x in r["latencies"])
    statuses = Counter()
    for r in results:
        statuses.update(r["statuses"])
    bad = sum(n for s, n in statuses.items() if s == "error" or int(s) >= 400)
    return {"requests": len(lat), "seconds": elapsed, "p50_ms": 1000 * percentile(lat, 50),
            "p95_ms": 1000 * percentile(lat, 95), "p99_ms": 1000 * percentile(lat, 99), "rps": len(lat) / elapsed,
            "errors": bad, "non_2xx_3xx": bad, "socket_errors": statuses.get("error", 0)}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def client_kind() -> str:
    forced = os.environ.get("LOAD_CLIENT", "")
    if forced in ("wrk", "python"):
        return forced
    return "wrk" if shutil.which("wrk") else "python"


def backend_pids(database: str, admin_url: str = PG_ADMIN_URL) -> list[int]:
    """PostgreSQL backends serving one database (their CPU is the database's share of a request)."""
    with _admin_connect(admin_url) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]


def measure(server: Gunicorn, path: str, cookie: str, clients: int, seconds: float, kind: str,
            database: str | None = None) -> dict:
    """Load one route; adds the CPU the client, the server and its database backends used (in cores)."""
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_server = cpu_seconds(server.pids())
    backends = backend_pids(database) if database else []
    before_db = {pid: cpu_seconds([pid]) for pid in backends}
    busy0, total0 = machine_busy()
    t0 = time.perf_counter()
    if kind == "wrk":
        result = run_wrk(server.port, path, cookie, clients, seconds)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (after.ru_utime - before_children.ru_utime) + (after.ru_stime - before_children.ru_stime)
    else:
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        result = run_python(server.port, path, cookie, clients, seconds)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = sum(getattr(after, f) - getattr(before_children, f) + getattr(self1, f) - getattr(self0, f)
                         for f in ("ru_utime", "ru_stime"))
    wall = time.perf_counter() - t0
    busy1, total1 = machine_busy()
    result["client_cores"] = client_cpu / wall
    result["server_cores"] = (cpu_seconds(server.pids()) - before_server) / wall
    after_db = {pid: cpu_seconds([pid]) for pid in (backend_pids(database) if database else [])}
    result["db_cores"] = sum(after_db[p] - before_db.get(p, 0) for p in after_db) / wall
    result["machine_busy"] = (busy1 - busy0) / max(1, total1 - total0)
    #: Server CPU per request: independent of the queueing 50 clients cause.
    result["cpu_ms_per_req"] = 1000 * result["server_cores"] * wall / max(1, result["requests"])
    return result


def drain(server: Gunicorn, limit: float = 180) -> float:
    """Wait until requests left queued by a finished run are served (gunicorn keeps serving the
    backlog after the client has gone): /healthz answers fast three times in a row. Returns seconds."""
    t_start = time.monotonic()
    fast = 0
    while time.monotonic() - t_start < limit and fast < 3:
        t0 = time.perf_counter()
        try:
            get(server.port, "/healthz", timeout=limit)
            fast = fast + 1 if time.perf_counter() - t0 < 0.05 else 0
        except OSError:
            fast = 0
        time.sleep(0.2)
    return time.monotonic() - t_start


def fmt(r: dict) -> str:
    return (f"p50 {r['p50_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms  {r['rps']:8.1f} req/s  "
            f"{r['cpu_ms_per_req']:7.1f} ms CPU/req ({r['requests']} req, {r['errors']} errors, backlog drained in "
            f"{r.get('drain_s', 0):.0f} s; CPU: client {r['client_cores']:.2f} cores, "
            f"server {r['server_cores']:.2f}, its PostgreSQL backends {r.get('db_cores', 0):.2f}, "
            f"machine busy {100 * r['machine_busy']:.0f} %)")


# -- PostgreSQL restarted during load ---------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql")


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, owned by the postgres user."""

    def __init__(self):
        versions = sorted(PG_BIN.iterdir(), key=lambda p: p.name) if PG_BIN.exists() else []
        if not versions:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql")
        self.bin = versions[-1] / "bin"
        self.dir = Path(tempfile.mkdtemp(prefix="hanchot-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.admin_url = f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _as_postgres(self, args: list[str], timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + args, check=True, capture_output=True, timeout=timeout)

    def start(self) -> PrivateCluster:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--no-sync"])
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, extra: list[str] = ()) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c fsync=on"
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                           str(self.dir / "log"), "-w", "-t", "60", action, *extra])

    def restart(self) -> None:
        self._pg_ctl("restart", ["-m", "fast"])

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", ["-m", "fast"])
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def restart_shared_server() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   timeout=120, capture_output=True)


VIETNAMESE_503 = "Hệ thống tạm thời không truy cập được cơ sở dữ liệu".encode()


def outage_run(server: Gunicorn, focal_cookie: str, admin_cookie: str, campaign: str, unit: str,
               upload_units: list[str], restart, seconds_before: float = 4, seconds_after: float = 12) -> dict:
    """Clients on /readyz, the agency page and uploads; ``restart()`` in the middle."""
    events: list[tuple[float, str, int | str, bool]] = []  # (t, route, status, vietnamese 503 page)
    uploads: list[tuple[str, int | str]] = []
    lock = threading.Lock()
    stop_at = [time.monotonic() + 600]  # replaced once the restart is done; bounded anyway
    t_start = time.monotonic()
    status, _, page = get(server.port, f"/campaigns/{campaign}/units/{unit}", admin_cookie)
    token = csrf_token(page)
    pending = list(upload_units)

    def reader(path: str, cookie: str, route: str):
        conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
        for _ in range(1_000_000):
            if time.monotonic() >= stop_at[0]:
                break
            t = time.monotonic() - t_start
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                resp = conn.getresponse()
                body = resp.read()
                code: int | str = resp.status
                viet = VIETNAMESE_503 in body
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                code, viet = f"error:{exc.__class__.__name__}", False
                conn.close()
            with lock:
                events.append((t, route, code, viet))
            time.sleep(0.02)

    def uploader():
        for _ in range(len(upload_units)):
            if time.monotonic() >= stop_at[0]:
                break
            with lock:
                if not pending:
                    break
                code_u = pending.pop()
            body, ctype = multipart({"csrf_token": token},
                                    [("documents", f"ho-so-{code_u}.pdf", small_pdf(f"outage {code_u}"), "application/pdf")])
            t = time.monotonic() - t_start
            try:
                st, _, resp_body = request(server.port, "POST", f"/campaigns/{campaign}/units/{code_u}/upload",
                                           {"Cookie": admin_cookie, "Content-Type": ctype}, body, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                st, resp_body = f"error:{exc.__class__.__name__}", b""
            with lock:
                uploads.append((code_u, st))
                events.append((t, "upload", st, VIETNAMESE_503 in resp_body))
            time.sleep(0.05)

    threads = [threading.Thread(target=reader, args=("/readyz", "", "readyz"), daemon=True) for _ in range(3)]
    threads += [threading.Thread(target=reader, args=(f"/campaigns/{campaign}/units/{unit}", focal_cookie, "agency"),
                                 daemon=True) for _ in range(3)]
    threads += [threading.Thread(target=uploader, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(seconds_before)
    r0 = time.monotonic() - t_start
    restart()
    r1 = time.monotonic() - t_start
    stop_at[0] = time.monotonic() + seconds_after
    for t in threads:
        t.join(timeout=seconds_after + 60)
    return {"events": events, "uploads": uploads, "restart_began": r0, "restart_done": r1,
            "gunicorn_master_pid": server.proc.pid}


def summarize_outage(result: dict, server: Gunicorn, master_before: int, database_url: str, campaign: str,
                     upload_folder: str) -> None:
    ev = result["events"]
    r0, r1 = result["restart_began"], result["restart_done"]
    say(f"  restart command: began at t={r0:.2f} s, PostgreSQL accepting again at t={r1:.2f} s "
        f"(restart took {r1 - r0:.2f} s)")
    for route in ("readyz", "agency", "upload"):
        phases = {"before": Counter(), "during": Counter(), "after": Counter()}
        viet = Counter()
        for t, r, code, v in ev:
            if r != route:
                continue
            phase = "before" if t < r0 else "during" if t < r1 else "after"
            phases[phase][code] += 1
            if code == 503:
                viet[v] += 1
        say(f"  {route:7s} " + "  ".join(f"{p}: {dict(sorted(c.items(), key=str))}" for p, c in phases.items())
            + (f"  (503 with the Vietnamese message: {viet[True]}/{viet[True] + viet[False]})" if viet else ""))
    fails = sorted(t for t, r, code, v in ev if r != "upload" and code != 200 and t >= r0)
    first_ok = [t for t, r, code, v in ev if r != "upload" and code == 200 and t >= (fails[-1] if fails else r0)]
    if fails:
        say(f"  first failure at t={fails[0]:.2f} s, last at t={fails[-1]:.2f} s; 200 again from "
            f"t={min(first_ok) if first_ok else float('nan'):.2f} s: recovery {(min(first_ok) - r1) if first_ok else float('nan'):.2f} s "
            f"after PostgreSQL was back ({(min(first_ok) - r0) if first_ok else float('nan'):.2f} s after the restart began)")
    else:
        say("  no failed request at all during the restart")
    n500 = sum(1 for t, r, code, v in ev if code == 500)
    log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    in_handler = log.count("During handling of the above exception, another exception occurred")
    teardown = log.count("[ERROR] Error handling request")
    say(f"  500 responses: {n500}; gunicorn master pid {server.proc.pid} (before: {master_before}), "
        f"still running: {server.proc.poll() is None}; the server's log ({server.log_path}) has "
        f"{log.count('ERROR in app: Exception on')} exception(s) raised again while the 503 page was being "
        f"rendered (the error page loads the signed-in user from the database; {in_handler} chained) and "
        f"{teardown} error(s) in the session teardown after the view")

    answered = {u: s for u, s in result["uploads"]}

    def check():
        from sqlalchemy import select

        from workflow.db import db
        from workflow.models import Campaign, Participation, Submission, SubmissionDocument, Unit

        rows = db.session.execute(
            select(Unit.code, Submission.id, SubmissionDocument.stored_name, SubmissionDocument.sha256)
            .join(Participation, Participation.unit_id == Unit.id)
            .join(Campaign, Campaign.id == Participation.campaign_id)
            .join(Submission, Submission.participation_id == Participation.id)
            .outerjoin(SubmissionDocument, SubmissionDocument.submission_id == Submission.id)
            .where(Campaign.code == campaign, Submission.channel == "upload")).all()
        return [tuple(r) for r in rows]

    rows = in_app(database_url, check)
    stored_units = {r[0] for r in rows}
    no_doc = [r for r in rows if not r[2]]
    bad_file = []
    for code, sid, stored, sha in rows:
        if stored:
            p = Path(upload_folder) / stored
            if not p.exists() or hashlib.sha256(p.read_bytes()).hexdigest() != sha:
                bad_file.append(code)
    referenced = {r[2] for r in rows if r[2]}
    on_disk = {p.name for p in Path(upload_folder).iterdir() if p.is_file()} if Path(upload_folder).exists() else set()
    orphans = on_disk - referenced
    ok_answers = {u for u, s in answered.items() if s == 303}
    lost = ok_answers - stored_units
    said_failed_but_stored = {u for u, s in answered.items() if s != 303} & stored_units
    say(f"  uploads during the run: {len(answered)} answered ({dict(Counter(answered.values()))}); stored: "
        f"{len(stored_units)}; answered 303 but not stored: {len(lost)}; refused but stored: "
        f"{len(said_failed_but_stored)}; submissions without document: {len(no_doc)}; document file missing or "
        f"SHA-256 wrong: {len(bad_file)}; files on disk of no submission: {len(orphans)}")


# -- main --------------------------------------------------------------------------------

# -- issue 14: what a page costs (cache off) at 500, 5,000 and 50,000 units; the deadline hour ------------

SCALES = (500, 5000, 50000)


def load_line() -> str:
    """The machine's load now: uptime's averages and, over one second, how busy its cores are (mpstat)."""
    avg = Path("/proc/loadavg").read_text().split()[:3]
    busy0, total0 = machine_busy()
    time.sleep(1)
    busy1, total1 = machine_busy()
    return f"load average {' '.join(avg)}, cores busy {100 * (busy1 - busy0) / max(1, total1 - total0):.0f} % (1 s)"


def prepare_scales(name: str, scales=SCALES, now: str | None = None) -> tuple[str, dict[int, dict]]:
    """One database, one organizer per size (GEN01 = 500 units, GEN02 = 5,000, GEN03 = 50,000): each with one
    campaign, 60 % of its units with a dossier; an organizer admin per organizer, a focal point in the 5,000."""
    url = recreate_database(name)
    env = app_env(url)
    flask(["db", "upgrade"], env)
    for i, units in enumerate(scales, start=1):
        started = time.perf_counter()
        args = ["demo", "generate", "--organizers", str(i), "--units", str(units), "--campaigns", "1"]
        if now:
            args += ["--now", now]
        out = flask(args, env, timeout=3600)
        say(f"  GEN{i:02d}: {units:,} units generated in {time.perf_counter() - started:.1f} s ({out})")

    def work():
        from sqlalchemy import select

        from workflow.accounts import create_user
        from workflow.db import db
        from workflow.models import Campaign, Participation, Unit

        made = {}
        for i, units in enumerate(scales, start=1):
            campaign = db.session.scalar(select(Campaign).where(Campaign.code == f"GEN{i:02d}-001"))
            org = campaign.organizer
            unit = db.session.scalar(select(Unit).join(Participation, Participation.unit_id == Unit.id).where(
                Participation.campaign_id == campaign.id, Participation.status == "on_time",
                Unit.group == "commune").order_by(Unit.code).limit(1))
            silent = db.session.scalars(select(Unit.code).join(Participation, Participation.unit_id == Unit.id).where(
                Participation.campaign_id == campaign.id, Participation.status == "not_submitted")
                .order_by(Unit.code)).all()
            admin = f"admin-gen{i:02d}@bench.example"
            focal = f"{unit.code.lower()}-gen{i:02d}@bench.example"
            create_user(email=admin, role="organizer_admin", organizer=org, name="admin", password=PASSWORD,
                        actor="bench")
            create_user(email=focal, role="focal_point", organizer=org, unit=unit, name="focal", password=PASSWORD,
                        actor="bench")
            made[units] = {"campaign": campaign.code, "unit": unit.code, "admin": admin, "focal": focal,
                           "silent": list(silent)}
        db.session.commit()
        return made

    made = in_app(url, work)
    # Fresh tables have no statistics yet (autovacuum would gather them within a minute in service).
    with _admin_connect(url) as conn:
        conn.execute("ANALYZE")
    return url, made


def cpu_scale_phase(env: dict, workers: int, made: dict[int, dict], seconds: float, database: str) -> dict:
    """Cache off: CPU per request of /healthz, the agency page and the dashboard at each size, one client
    per worker (no queue: the CPU a request costs, not the wait)."""
    say(f"what a page costs, page cache off (PAGE_CACHE_MB=0), {workers} clients = workers, {seconds:g} s each "
        f"[{load_line()}]:")
    out = {}
    with Gunicorn(dict(env, PAGE_CACHE_MB="0"), workers) as server:
        mid = made[5000] if 5000 in made else made[max(made)]
        admin = {n: login(server.port, m["admin"]) for n, m in made.items()}
        focal = login(server.port, mid["focal"])
        routes = [("/healthz", "/healthz", ""),
                  (f"agency page ({mid['unit']}, {len(mid['silent']) and mid['campaign']})",
                   f"/campaigns/{mid['campaign']}/units/{mid['unit']}", focal)]
        routes += [(f"dashboard, {n:,} units", f"/campaigns/{m['campaign']}", admin[n]) for n, m in made.items()]
        routes += [(f"dashboard, {n:,} units, late units by rating, page 3",
                    f"/campaigns/{m['campaign']}?status=late&sort=rating&page=3", admin[n])
                   for n, m in made.items() if n == max(made)]
        base = None
        for label, path, cookie in routes:
            status, _, body = get(server.port, path, cookie)
            for _ in range(2 * workers):
                get(server.port, path, cookie)
            r = measure(server, path, cookie, workers, seconds, "python", database=database)
            r["db_ms_per_req"] = 1000 * r["db_cores"] * r["seconds"] / max(1, r["requests"])
            base = base or r
            out[label] = r
            say(f"  {label:58s} {status} {len(body):>9,} B  {r['cpu_ms_per_req']:6.1f} ms CPU/req "
                f"(×{r['cpu_ms_per_req'] / base['cpu_ms_per_req']:.1f} of /healthz) + PostgreSQL "
                f"{r['db_ms_per_req']:5.1f} ms/req; p50 {r['p50_ms']:6.1f} ms p95 {r['p95_ms']:6.1f} ms "
                f"(×{r['p95_ms'] / base['p95_ms']:.1f}); {r['requests']} req, {r['errors']} errors "
                f"[{load_line()}]")
    return out


def sized_pdf(text: str, size: int) -> bytes:
    """A valid one-page PDF of about ``size`` bytes: its content stream carries random text drawn off the page."""
    text = re.sub(r"[^A-Za-z0-9 .:/_-]", "", text)
    filler = []
    total = 0
    while total < size:
        line = f"BT /F1 1 Tf -500 -500 Td ({secrets.token_hex(60)}) Tj ET\n"
        filler.append(line)
        total += len(line)
    stream = (f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET\n" + "".join(filler)).encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def deadline_hour(env: dict, workers: int, m: dict, clients: int, seconds: float, rate: float, label: str,
                  database_url: str, upload_folder: str) -> dict:
    """``clients`` readers (half on the dashboard, half on agency pages) and 2 on /healthz, while uploads of a
    200 KiB PDF arrive at ``rate`` per second to silent units for the whole run; then every upload is
    checked: one submission, one document, its SHA-256, its file on disk."""
    say(f"the deadline hour, {label}: {clients} readers (dashboard and agency page, half each) + 2 on /healthz, "
        f"uploads of a 200 KiB PDF at {rate:g}/s, {seconds:g} s [{load_line()}]")
    results: dict[str, dict] = {}
    uploads: list[tuple[str, int | str, float, str]] = []
    lock = threading.Lock()
    with Gunicorn(env, workers) as server:
        admin = login(server.port, m["admin"])
        focal = login(server.port, m["focal"])
        dash, agency = f"/campaigns/{m['campaign']}", f"/campaigns/{m['campaign']}/units/{m['unit']}"
        for path, cookie in ((dash, admin), (agency, focal)):
            for _ in range(2 * workers):
                get(server.port, path, cookie)
        status, _, page = get(server.port, f"{dash}/units/{m['silent'][0]}", admin)
        token = csrf_token(page)
        pending = list(m["silent"])
        n_uploads = min(len(pending), int(rate * seconds))
        cpu0 = cpu_seconds(server.pids())

        def upload(code: str):
            data = sized_pdf(f"deadline hour {code}", 200 * 1024)
            body, ctype = multipart({"csrf_token": token}, [("documents", f"ho-so-{code}.pdf", data, "application/pdf")])
            t0 = time.perf_counter()
            try:
                st, _, _ = request(server.port, "POST", f"{dash}/units/{code}/upload",
                                   {"Cookie": admin, "Content-Type": ctype}, body, timeout=120)
            except (OSError, http.client.HTTPException) as exc:
                st = f"error:{exc.__class__.__name__}"
            with lock:
                uploads.append((code, st, time.perf_counter() - t0, hashlib.sha256(data).hexdigest()))

        def uploader():
            started = time.monotonic()
            threads = []
            for i in range(n_uploads):  # on a fixed schedule, whatever the answers' latency
                wait = started + i / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                t = threading.Thread(target=upload, args=(pending[i],), daemon=True)
                t.start()
                threads.append(t)
            for t in threads:
                t.join(timeout=180)

        def reader(key: str, path: str, cookie: str, n: int):
            results[key] = run_python(server.port, path, cookie, n, seconds, processes=2 if n > 4 else 1)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=reader, args=("healthz", "/healthz", "", 2)),
                   threading.Thread(target=reader, args=("dashboard", dash, admin, clients // 2)),
                   threading.Thread(target=reader, args=("agency", agency, focal, clients - clients // 2)),
                   threading.Thread(target=uploader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 300)
        wall = time.perf_counter() - t0
        server_cores = (cpu_seconds(server.pids()) - cpu0) / wall
    lat = sorted(d for _, st, d, _ in uploads if st in (200, 303))
    up_errors = [(c, st) for c, st, _, _ in uploads if st not in (200, 303)]
    results["uploads"] = {"requests": len(uploads), "p50_ms": 1000 * percentile(lat, 50),
                          "p95_ms": 1000 * percentile(lat, 95), "errors": len(up_errors),
                          "rps": len(uploads) / wall}
    base = results["healthz"]["p95_ms"]
    for key in ("healthz", "agency", "dashboard", "uploads"):
        r = results[key]
        say(f"  {key:10s} p50 {r['p50_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms (×{r['p95_ms'] / base:5.1f} of /healthz)"
            f"  {r['rps']:6.1f} req/s  {r['requests']} req, {r['errors']} errors")
    say(f"  server CPU {server_cores:.2f} cores over {wall:.0f} s; first failed uploads: {up_errors[:5]}")
    stored = verify_uploads(database_url, m["campaign"], uploads, upload_folder)
    results["stored"] = stored
    goals = {"agency": 3, "dashboard": 5, "uploads": 10}
    verdict = "; ".join(f"{k} p95 ×{results[k]['p95_ms'] / base:.1f} (goal ≤ {g}×) "
                        f"{'met' if results[k]['p95_ms'] / base <= g else 'NOT met'}" for k, g in goals.items())
    errors = sum(results[k]["errors"] for k in ("healthz", "agency", "dashboard", "uploads"))
    say(f"  goals: {verdict}; errors {errors} (goal 0); uploads stored once with their SHA-256: "
        f"{stored['ok']}/{len(uploads)} [{load_line()}]")
    return results


def verify_uploads(database_url: str, campaign: str, uploads: list, upload_folder: str) -> dict:
    """Every answered upload: exactly one submission of its unit, one document, the SHA-256 sent, the file."""

    def work():
        from sqlalchemy import select

        from workflow.db import db
        from workflow.models import Campaign, Participation, Submission, SubmissionDocument, Unit

        cid = db.session.scalar(select(Campaign.id).where(Campaign.code == campaign))
        rows = db.session.execute(
            select(Unit.code, Submission.id, SubmissionDocument.sha256, SubmissionDocument.stored_name)
            .join(Participation, Participation.unit_id == Unit.id)
            .join(Submission, Submission.participation_id == Participation.id)
            .join(SubmissionDocument, SubmissionDocument.submission_id == Submission.id)
            .where(Participation.campaign_id == cid, Unit.code.in_([u[0] for u in uploads]))).all()
        return [tuple(r) for r in rows]

    rows = in_app(database_url, work)
    by_unit: dict[str, list] = {}
    for code, sub_id, sha, stored_name in rows:
        by_unit.setdefault(code, []).append((sub_id, sha, stored_name))
    ok, problems = 0, []
    for code, st, _, sha in uploads:
        got = by_unit.get(code, [])
        files = [p for p in Path(upload_folder).rglob("*") if p.is_file() and p.name in {g[2] for g in got}]
        on_disk = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        if st in (200, 303) and len(got) == 1 and got[0][1] == sha and on_disk == {sha}:
            ok += 1
        else:
            problems.append((code, st, len(got), len(files)))
    if problems:
        say(f"  upload problems (unit, status, submissions, files): {problems[:10]}")
    return {"ok": ok, "problems": len(problems)}


def issue14_main() -> int:
    """``make load``: the figures of issue 14 (then, with LOAD_FULL=1, the earlier rounds)."""
    workers = int(os.environ.get("LOAD_WORKERS", "4"))
    seconds = float(os.environ.get("LOAD_SECONDS", "15"))
    clients = int(os.environ.get("LOAD_CLIENTS", "50"))
    hour_seconds = float(os.environ.get("LOAD_HOUR_SECONDS", "60"))
    rate = float(os.environ.get("LOAD_UPLOAD_RATE", "5"))
    scales = tuple(int(x) for x in os.environ.get("LOAD_SCALES", ",".join(map(str, SCALES))).split(","))
    say(f"machine: {os.cpu_count()} cores, {platform_line()}; client: Python (processes × threads, http.client); "
        f"gunicorn {workers} sync workers [{load_line()}]")
    name = "hanchot_load"
    url, made = prepare_scales(name, scales)
    uploads = tempfile.mkdtemp(prefix="hanchot-load-uploads-")
    env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=uploads)
    try:
        cpu_scale_phase(env, workers, made, seconds, name)
        mid = made[5000] if 5000 in made else made[max(made)]
        half = len(mid["silent"]) // 2
        for label, extra, silent in (("page cache off", {"PAGE_CACHE_MB": "0"}, mid["silent"][:half]),
                                     ("page cache on (default size)", {}, mid["silent"][half:])):
            if label.startswith("page cache on") and os.environ.get("LOAD_HOUR_CACHED", "1") != "1":
                continue
            deadline_hour(dict(env, **extra), workers, dict(mid, silent=silent), clients, hour_seconds, rate, label,
                          url, uploads)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)
        if os.environ.get("LOAD_KEEP_DB") != "1":
            drop_database(name)
    return 0


def main() -> int:
    clients = int(os.environ.get("LOAD_CLIENTS", "50"))
    seconds = float(os.environ.get("LOAD_SECONDS", "15"))
    rounds = int(os.environ.get("LOAD_ROUNDS", "2"))
    workers = int(os.environ.get("LOAD_WORKERS", "4"))
    dash_seconds = float(os.environ.get("LOAD_DASHBOARD_SECONDS", "60"))
    kind = client_kind()
    say(f"load: {clients} concurrent clients, {seconds:g} s per route, {rounds} round(s), gunicorn {workers} "
        f"sync workers; client: {kind}" + (" (wrk 4.1, Lua script for the Cookie header and p95)" if kind == "wrk"
                                          else " (Python: 2 processes × threads, http.client)"))
    say(f"machine: {os.cpu_count()} cores, {platform_line()}")
    name = "hanchot_load"
    if os.environ.get("LOAD_ONLY") == "restart":
        pg_restart_phase(os.environ.get("LOAD_RESTART_PG", ""))
        return 0
    if os.environ.get("LOAD_ONLY") == "disk":
        url = prepare_generated(name)
        disk_full_phase(url, make_accounts(url))
        drop_database(name)
        return 0
    url = prepare_generated(name)
    accounts = make_accounts(url)
    campaign, unit = accounts["campaign"], accounts["unit"]
    uploads = tempfile.mkdtemp(prefix="hanchot-load-uploads-")
    env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=uploads)
    routes = [("/healthz (trivial)", "/healthz", "admin"),
              (f"agency page /campaigns/{campaign}/units/{unit}", f"/campaigns/{campaign}/units/{unit}", "focal"),
              (f"dashboard /campaigns/{campaign} (5,000 units)", f"/campaigns/{campaign}", "admin")]
    results: dict[str, dict[int, dict]] = {label: {} for label, _, _ in routes}
    with Gunicorn(env, workers) as server:
        cookies = {"admin": login(server.port, accounts["organizer_admin"]),
                   "focal": login(server.port, accounts["focal_point"])}
        for label, path, who in routes:
            status, _, body = get(server.port, path, cookies[who])
            for _ in range(2 * workers):  # every worker warm (templates compiled, calendars built)
                get(server.port, path, cookies[who])
            alone = []
            for _ in range(5):
                t0 = time.perf_counter()
                get(server.port, path, cookies[who])
                alone.append((time.perf_counter() - t0) * 1000)
            say(f"  {label}: {status}, {len(body):,} bytes, {statistics.median(alone):.1f} ms alone "
                f"(one client, warm workers, median of 5)")
            if status == 404:
                say(f"  ROUTE MISSING: {path} answered 404")
        for rnd in range(1, rounds + 1):
            say(f"round {rnd}:")
            for label, path, who in routes:
                # The dashboard is slow enough that 50 clients queue for tens of seconds: run it longer.
                duration = max(seconds, dash_seconds) if path == f"/campaigns/{campaign}" else seconds
                r = measure(server, path, cookies[who], clients, duration, kind, database=name)
                r["drain_s"] = drain(server)
                if r["requests"] == 0:
                    say(f"  {label:58s} no request completed in {duration:g} s: round not counted")
                    continue
                results[label][rnd] = r
                say(f"  {label:58s} {fmt(r)}")
        say("summary (median over rounds; ratios to /healthz of the same round):")
        base = results[routes[0][0]]

        def ratios(label: str, key: str, invert: bool = False) -> float:
            pairs = [(results[label][k][key], base[k][key]) for k in results[label] if k in base]
            values = [(b / r) if invert else (r / b) for r, b in pairs if r and b]
            return statistics.median(values) if values else float("nan")

        for label, _, _ in routes:
            rs = list(results[label].values())
            if not rs:
                say(f"  {label:58s} no complete round")
                continue
            p50 = statistics.median(r["p50_ms"] for r in rs)
            p95 = statistics.median(r["p95_ms"] for r in rs)
            rps = statistics.median(r["rps"] for r in rs)
            cpu = statistics.median(r["cpu_ms_per_req"] for r in rs)
            say(f"  {label:58s} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  {rps:8.1f} req/s  {cpu:6.1f} ms CPU/req   "
                f"ratios: p50 ×{ratios(label, 'p50_ms'):.1f}  p95 ×{ratios(label, 'p95_ms'):.1f}  "
                f"req/s ÷{ratios(label, 'rps', invert=True):.1f}  CPU/req ×{ratios(label, 'cpu_ms_per_req'):.1f}")
        gc_compare(server, env, workers, accounts, routes[2][1])
        a95 = ratios(routes[1][0], "p95_ms")
        d95 = ratios(routes[2][0], "p95_ms")
        say(f"goals: agency page within 2× of the trivial route: p95 ratio {a95:.1f} → "
            f"{'met' if a95 <= 2 else 'NOT met'}; dashboard p95 under 5×: {d95:.1f} → {'met' if d95 < 5 else 'NOT met'}")
        if os.environ.get("LOAD_UNCACHED", "1") == "1":
            uncached_round(env, workers, accounts, routes, clients, seconds, kind, name,
                           base={k: v for k, v in results[routes[0][0]].items()})
    cache_stats(server)  # after the workers stopped
    shutil.rmtree(uploads, ignore_errors=True)
    disk_full_phase(url, accounts)

    restart_mode = os.environ.get("LOAD_RESTART_PG", "")
    if restart_mode not in ("1", "private"):
        say("PostgreSQL restart during load: SKIPPED (set LOAD_RESTART_PG=private for a throwaway cluster of its "
            "own, or LOAD_RESTART_PG=1 to restart the shared local server)")
    else:
        pg_restart_phase(restart_mode)
    if os.environ.get("LOAD_KEEP_DB") != "1":
        drop_database(name)
    return 0


def cache_stats(server: Gunicorn) -> None:
    """How the page cache fared in each worker: the lines deploy/gunicorn.conf.py logs at worker exit."""
    for line in getattr(server, "cache_lines", []):
        say(f"  page cache, {line}")


def uncached_round(env: dict, workers: int, accounts: dict, routes: list, clients: int, seconds: float, kind: str,
                   database: str, base: dict) -> None:
    """The same pages drawn for every request (PAGE_CACHE_MB=0): what a page costs when what it shows has
    just changed, e.g. the dashboard while units keep uploading.  The dashboard is slow enough that 50
    clients would only measure the queue: it gets 4 (one per worker)."""
    say("without the page cache (PAGE_CACHE_MB=0: every request draws its page; the cost of a cache miss):")
    with Gunicorn(dict(env, PAGE_CACHE_MB="0"), workers) as server:
        cookies = {"admin": login(server.port, accounts["organizer_admin"]),
                   "focal": login(server.port, accounts["focal_point"])}
        healthz = None
        for label, path, who in routes:
            for _ in range(2 * workers):
                get(server.port, path, cookies[who])
            n = clients if "dashboard" not in label else workers
            r = measure(server, path, cookies[who], n, seconds, kind, database=database)
            r["drain_s"] = drain(server)
            healthz = healthz or r
            say(f"  {label:58s} {n:2d} clients: {fmt(r)}  p95 ×{r['p95_ms'] / healthz['p95_ms']:.1f} of /healthz")


def gc_compare(server: Gunicorn, env: dict, workers: int, accounts: dict, path: str, n: int = 9) -> None:
    """The dashboard alone, one client, on this server (deploy/gunicorn.conf.py's garbage-collector
    settings) and on a second one with Python's defaults (WEB_GC_THRESHOLD=default), alternating."""
    if env.get("WEB_GC_THRESHOLD", "") == "default":
        return
    with Gunicorn(dict(env, WEB_GC_THRESHOLD="default"), workers) as plain:
        cookies = {s: login(s.port, accounts["organizer_admin"]) for s in (server, plain)}
        times: dict[int, list[float]] = {server.port: [], plain.port: []}
        for s in (server, plain):
            for _ in range(2 * workers):
                get(s.port, path, cookies[s])
        for _ in range(n):
            for s in (server, plain):
                t0 = time.perf_counter()
                get(s.port, path, cookies[s])
                times[s.port].append(1000 * (time.perf_counter() - t0))
        tuned, default = statistics.median(times[server.port]), statistics.median(times[plain.port])
        say(f"  dashboard alone, one client, median of {n} alternating: {tuned:.0f} ms with gc.freeze() and "
            f"thresholds {env.get('WEB_GC_THRESHOLD') or '50000,20,100'} (deploy/gunicorn.conf.py), {default:.0f} ms "
            f"with Python's defaults: ×{default / tuned:.2f}")


DISK_FULL_VI = "máy chủ hết dung lượng lưu trữ".encode()


def disk_full_phase(url: str, accounts: dict) -> None:
    """The upload folder's disk full: refused with a clear message, nothing recorded; then space again."""
    if os.geteuid() != 0 or os.environ.get("LOAD_DISK_FULL", "1") != "1":
        say("upload disk full: SKIPPED (needs root to mount a small tmpfs; LOAD_DISK_FULL=0 skips it)")
        return
    folder = Path(tempfile.mkdtemp(prefix="hanchot-full-"))
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True,
                       capture_output=True, timeout=30)
    except (subprocess.SubprocessError, OSError) as exc:
        say(f"upload disk full: SKIPPED (could not mount a small tmpfs: {exc})")
        folder.rmdir()
        return
    try:
        filler = folder / "filler.bin"
        with open(filler, "wb", buffering=0) as fh:  # fill it up: bounded by the 256 KiB size
            for _ in range(1024):
                try:
                    fh.write(b"\0" * 4096)
                    fh.flush()
                except OSError:
                    break

        def silent_unit():
            from sqlalchemy import select

            from workflow.db import db
            from workflow.models import Campaign, Participation, Unit

            return db.session.scalar(select(Unit.code).join(Participation, Participation.unit_id == Unit.id)
                                     .join(Campaign, Campaign.id == Participation.campaign_id)
                                     .where(Campaign.code == accounts["campaign"],
                                            Participation.status == "not_submitted").order_by(Unit.code).limit(1))

        def recorded(unit_code: str):
            from sqlalchemy import func, select

            from notifications.models import OutboxMail
            from workflow.db import db
            from workflow.models import AuditEvent, Campaign, Participation, Submission, Unit

            c = db.session.scalar(select(Campaign).where(Campaign.code == accounts["campaign"]))
            u = db.session.scalar(select(Unit).where(Unit.organizer_id == c.organizer_id, Unit.code == unit_code))
            subs = db.session.scalar(select(func.count()).select_from(Submission).join(Participation).where(
                Participation.campaign_id == c.id, Participation.unit_id == u.id))
            status = db.session.scalar(select(Participation.status).where(Participation.campaign_id == c.id,
                                                                          Participation.unit_id == u.id))
            audits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.campaign_id == c.id, AuditEvent.unit_id == u.id, AuditEvent.action == "submission.received"))
            mails = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
                OutboxMail.campaign_id == c.id, OutboxMail.unit_id == u.id, OutboxMail.kind == "receipt"))
            return subs, status, audits, mails

        unit_code = in_app(url, silent_unit)
        env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=str(folder),
                      WEB_ACCESS_LOG="")
        with Gunicorn(env, 2) as server:
            cookie = login(server.port, accounts["organizer_admin"])
            page = get(server.port, f"/campaigns/{accounts['campaign']}/units/{unit_code}", cookie)[2]
            body, ctype = multipart({"csrf_token": csrf_token(page)}, [
                ("documents", "bao-cao.pdf", small_pdf("disk full " + "x" * 40) + b"%" + b"0" * 20000, "application/pdf")])
            path = f"/campaigns/{accounts['campaign']}/units/{unit_code}/upload"
            st, _, answer = request(server.port, "POST", path, {"Cookie": cookie, "Content-Type": ctype}, body)
            left = sorted(p.name for p in folder.iterdir() if p.name != "filler.bin")
            subs, status, audits, mails = in_app(url, lambda: recorded(unit_code))
            say(f"upload disk full (a 256 KiB tmpfs, filled): answer {st}, the Vietnamese message "
                f"{'shown' if DISK_FULL_VI in answer else 'NOT shown'}; recorded: {subs} submission(s), status "
                f"{status}, {audits} audit entr(ies), {mails} receipt(s); files left in the folder: {len(left)}")
            filler.unlink()
            st2, _, _ = request(server.port, "POST", path, {"Cookie": cookie, "Content-Type": ctype}, body)
            subs, status, audits, mails = in_app(url, lambda: recorded(unit_code))
            say(f"  space freed, same upload again (no restart): answer {st2}; recorded: {subs} submission(s), "
                f"status {status}, {audits} audit entr(ies), {mails} receipt(s)")
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def pg_restart_phase(mode: str) -> None:
    cluster = None
    name = "hanchot_load_restart"
    try:
        if mode == "private":
            cluster = PrivateCluster().start()
            admin, restart = cluster.admin_url, cluster.restart
            say(f"PostgreSQL restart during load: a throwaway cluster on 127.0.0.1:{cluster.port} ({cluster.bin.parent.name})")
        else:
            admin, restart = PG_ADMIN_URL, restart_shared_server
            say("PostgreSQL restart during load: the SHARED local server (LOAD_RESTART_PG=1)")
        url = prepare_generated(name, units=5000, admin_url=admin)
        accounts = make_accounts(url)
        campaign, unit = accounts["campaign"], accounts["unit"]

        def silent_units():
            from sqlalchemy import select

            from workflow.db import db
            from workflow.models import Campaign, Participation, Unit

            return list(db.session.scalars(select(Unit.code).join(Participation, Participation.unit_id == Unit.id)
                                           .join(Campaign, Campaign.id == Participation.campaign_id)
                                           .where(Campaign.code == campaign, Participation.status == "not_submitted")
                                           .order_by(Unit.code).limit(400)))

        targets = in_app(url, silent_units)
        uploads = tempfile.mkdtemp(prefix="hanchot-restart-uploads-")
        env = app_env(url, APP_ENV="production", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=uploads)
        with Gunicorn(env, 4) as server:
            master = server.proc.pid
            focal = login(server.port, accounts["focal_point"])
            admin_cookie = login(server.port, accounts["organizer_admin"])
            result = outage_run(server, focal, admin_cookie, campaign, unit, targets, restart)
            summarize_outage(result, server, master, url, campaign, uploads)
        shutil.rmtree(uploads, ignore_errors=True)
        drop_database(name, admin)
    finally:
        if cluster is not None:
            cluster.stop()


def platform_line() -> str:
    import platform

    model = ""
    try:
        model = next(row.split(":", 1)[1].strip() for row in Path("/proc/cpuinfo").read_text().splitlines()
                     if row.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model or platform.processor()}, {mem:.0f} GiB RAM, Python {platform.python_version()}, " \
           f"{time.strftime('%Y-%m-%d %H:%M %Z')}"


if __name__ == "__main__":
    sys.exit(main() if os.environ.get("LOAD_FULL") == "1" else issue14_main())
