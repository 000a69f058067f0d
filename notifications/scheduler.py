"""The scheduler: APScheduler 3 drives the tick and the dispatcher.

Production runs ``flask scheduler run`` as its own process (never inside web
workers).  Several may run, on several machines: exactly one acts at a time,
the one holding a PostgreSQL advisory lock on its own connection; when it
dies its connection closes, the lock is released and another takes over.  On
SQLite (one machine) an exclusive file lock plays the same part.  Under
``make run``, ``flask serve`` runs one scheduler in the serving process.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from workflow.db import affected, db, utcnow

from .jobs import dispatch_mail
from .models import OutboxMail

log = logging.getLogger(__name__)

#: An arbitrary 64-bit key: "hanchot1" in ASCII.
ADVISORY_KEY = 0x68616E63686F7431


class Leadership:
    """Who acts: the holder of the lock."""

    def __init__(self, app: Flask):
        self.app = app
        self.url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.is_postgres = self.url.startswith("postgresql")
        self._conn: Connection | None = None
        self._engine: Engine | None = None
        self._file: TextIO | None = None
        self.leader = False
        #: The tick and the dispatcher run in two threads: one of them checks at a time.
        self._lock = threading.Lock()
        self.worker_id = f"scheduler:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        """True while this process holds the lock (checked on every call)."""
        with self._lock:
            if self.is_postgres:
                return self._acquire_pg()
            return self._acquire_file()

    def _acquire_pg(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))  # still alive, still ours
                return True
            if self._engine is None:
                self._engine = create_engine(self.url, poolclass=NullPool)
            conn = self._engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return self._set(False)
            self._conn = conn
            return self._set(True)
        except Exception as exc:  # the database is away: nobody here acts
            log.warning("scheduler: lost the database (%s); standing by", exc.__class__.__name__)
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:
                    pass
            self._conn = None
            return self._set(False)

    def _acquire_file(self) -> bool:
        if self._file is not None:
            return True
        # One lock per database file: schedulers of other databases don't compete.
        database = make_url(self.url).database
        path = Path(f"{database}.scheduler-lock") if database and database != ":memory:" \
            else Path(self.app.instance_path) / "scheduler.lock"
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return self._set(False)
        self._file = handle
        return self._set(True)

    def _set(self, leader: bool) -> bool:
        if leader and not self.leader:
            log.info("scheduler %s: now acting (lock acquired)", self.worker_id)
            self._take_over()
        elif not leader and self.leader:
            log.info("scheduler %s: no longer acting", self.worker_id)
        self.leader = leader
        return leader

    def _take_over(self) -> None:
        """Rows a dead scheduler had claimed were never completed at the server: free them."""
        with self.app.app_context():
            result = db.session.execute(
                update(OutboxMail).where(OutboxMail.status == "sending", OutboxMail.claimed_by.like("scheduler:%"),
                                         OutboxMail.claimed_by != self.worker_id)
                .values(status="pending", claimed_by="", last_error="claim released: previous scheduler stopped")
                .execution_options(synchronize_session=False))
            db.session.commit()
            released = affected(result)
            if released:
                log.info("scheduler: %d unfinished mail(s) of the previous scheduler released", released)

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self.leader = False


#: A job body: ``(now, worker id) -> summary``; it commits itself (the boundary).
JobBody = Callable[[datetime, str], dict[str, int]]


@dataclass(frozen=True)
class Job:
    """A periodic job: its name, the setting holding its period in seconds, and its body.

    The bodies are handed in by the process that runs the scheduler (``cli.scheduler``):
    the tick is the domain's write side, which this package never calls itself."""

    name: str
    period_setting: str
    default_seconds: float
    body: JobBody
    #: Summary keys that make a run worth a log line.
    notable: tuple[str, ...] = ()


def dispatch_job(now: datetime, worker: str) -> dict[str, int]:
    """The mail job: send what is due in the outbox."""
    return dispatch_mail(now, worker=worker)


def _run(app: Flask, leadership: Leadership, job: Job) -> None:
    if not leadership.acquire():
        return
    with app.app_context():
        now = utcnow()
        try:
            summary = job.body(now, leadership.worker_id)
            if any(summary.get(key) for key in job.notable):
                log.info("%s: %s", job.name, summary)
        except Exception:
            log.exception("scheduler job %s failed; it runs again at its next turn", job.name)


def build(app: Flask, blocking: bool, jobs: Sequence[Job]) -> tuple[BlockingScheduler | BackgroundScheduler, Leadership]:
    leadership = Leadership(app)
    scheduler_cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_cls(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                            "misfire_grace_time": 30})
    for job in jobs:
        scheduler.add_job(_run, "interval", seconds=float(app.config.get(job.period_setting, job.default_seconds)),
                          args=(app, leadership, job), id=job.name, next_run_time=datetime.now(UTC))
    return scheduler, leadership


def run_forever(app: Flask, jobs: Sequence[Job]) -> None:
    """``flask scheduler run``: block until SIGTERM or SIGINT."""
    scheduler, leadership = build(app, blocking=True, jobs=jobs)

    def stop(signum, frame):
        log.info("scheduler: stopping (signal %s)", signum)
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s: started", leadership.worker_id)
    try:
        scheduler.start()
    finally:
        leadership.release()


def start_in_background(app: Flask, jobs: Sequence[Job]) -> BackgroundScheduler:
    """``flask serve``: one scheduler thread in the serving process."""
    scheduler, leadership = build(app, blocking=False, jobs=jobs)
    scheduler.start()

    def stop():
        scheduler.shutdown(wait=False)
        leadership.release()

    atexit.register(stop)  # Ctrl-C: stop the jobs before the interpreter goes away
    return scheduler
