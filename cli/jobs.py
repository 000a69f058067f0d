"""The scheduler's jobs (``flask scheduler run``, ``flask serve``) and the tick's body, which
``flask tick``, the scheduler and tests call.  Each commits once at the end: the boundary."""

from __future__ import annotations

from datetime import datetime

from notifications.scheduler import Job, dispatch_job
from workflow.awards import run_award_reminders
from workflow.db import db
from workflow.operations import run_tick


def tick(now: datetime) -> dict[str, int]:
    """Time-driven campaign moves, exclusions and reminder planning, as of ``now``."""
    try:
        summary = run_tick(now)
        summary["award_reminders_queued"] = run_award_reminders(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def tick_job(now: datetime, worker: str) -> dict[str, int]:
    return tick(now)


JOBS = (Job("tick", "TICK_SECONDS", 60, tick_job, notable=("campaigns_moved", "reminders_queued")),
        Job("dispatch", "DISPATCH_SECONDS", 10, dispatch_job, notable=("claimed",)))
