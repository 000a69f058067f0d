"""Gunicorn settings for Hạn Chót (``gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'``).

Every value comes from the environment, with defaults for one machine behind a
local TLS proxy (nginx, Caddy) on the same host:

| variable | default | meaning |
| --- | --- | --- |
| ``BIND`` (or ``WEB_BIND``) | ``127.0.0.1:8000`` | address(es) to listen on, comma-separated |
| ``WEB_WORKERS`` | ``4`` | worker processes (about 2 per core; each holds a pool of database connections) |
| ``WEB_THREADS`` | ``1`` | threads per worker; above 1 the ``gthread`` worker class is used |
| ``WEB_TIMEOUT`` | ``60`` | seconds a worker may spend on one request before it is killed and restarted |
| ``WEB_GRACEFUL_TIMEOUT`` | ``30`` | seconds a worker may finish its requests after SIGTERM / HUP |
| ``WEB_KEEPALIVE`` | ``5`` | seconds a keep-alive connection waits (gthread only; sync workers close) |
| ``WEB_MAX_REQUESTS`` | ``0`` | recycle a worker after N requests (0: never); jittered by 10 % |
| ``FORWARDED_ALLOW_IPS`` | ``127.0.0.1,::1`` | proxies trusted for ``X-Forwarded-Proto`` / ``-For`` |
| ``WEB_ACCESS_LOG`` | ``-`` | access log (``-``: stdout; empty: none) |
| ``WEB_GC_THRESHOLD`` | ``50000,20,100`` | the workers' garbage-collector thresholds; ``default`` leaves Python's |

The scheduler is never started here: ``flask scheduler run`` is its own process.
"""

import gc
import multiprocessing
import os

_bind = os.environ.get("BIND") or os.environ.get("WEB_BIND") or "127.0.0.1:8000"
bind = [b.strip() for b in _bind.split(",") if b.strip()]

workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
if workers < 1:
    workers = max(2, multiprocessing.cpu_count() * 2)

timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# Uploads are bounded by MAX_UPLOAD_MB inside the app; request lines and headers here.
limit_request_line = 8190
limit_request_fields = 100

# The proxy in front terminates TLS and sets X-Forwarded-Proto: trust it only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

_access = os.environ.get("WEB_ACCESS_LOG", "-")
accesslog = _access or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# %(m)s %(U)s, not %(r)s: the query string is left out of the log, because calendar (ICS)
# links carry their signed token there. Sign-in and reset tokens are in no request line: they
# travel after "#" in the mailed link and in the POST body (docs/operations.md).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms "%(a)s"'

# The heartbeat file of each worker: on a RAM file system, so a slow or full
# disk never makes the arbiter think a worker hangs.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# Load the app in each worker, after fork: every worker opens its own database
# connections (a connection pool must not cross a fork).
preload_app = False
proc_name = "hanchot-web"


def post_worker_init(worker):
    """Once the app is loaded in a worker: move what it loaded out of the garbage collector's way
    (``gc.freeze``) and collect less often. A page that loads thousands of rows (the 5,000-unit
    dashboard) otherwise spends about a third of its time in collections of the young
    generations (docs/operations.md, "Measurements")."""
    setting = os.environ.get("WEB_GC_THRESHOLD", "50000,20,100").strip()
    if setting in ("", "default"):
        return
    thresholds = tuple(int(x) for x in setting.split(","))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def worker_exit(server, worker):
    """How the worker's page cache fared (web/page_cache.py): one line in the error log."""
    app = getattr(worker, "wsgi", None)
    cache = getattr(app, "extensions", {}).get("page_cache") if app is not None else None
    if cache is not None:
        served = cache.hits + cache.misses
        server.log.info("page cache: worker %s: %d hit(s), %d miss(es) (%.0f %% kept), %d page(s) held",
                        worker.pid, cache.hits, cache.misses, 100 * cache.hits / served if served else 0, len(cache))
