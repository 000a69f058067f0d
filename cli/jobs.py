"""The scheduler's jobs (``flask scheduler run``, ``flask serve``) and the tick's body, which
``flask tick``, the scheduler and tests call.  Each commits once at the end: the boundary."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from notifications.scheduler import Job, dispatch_job
from workflow.awards import run_award_reminders
from workflow.db import db
from workflow.operations import clean_orphan_files, run_tick


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


def files_job(now: datetime, worker: str) -> dict[str, int]:
    """Remove the upload folder's orphans (half-written ``.part`` files, files no dossier refers to).
    It runs when the scheduler starts, then every FILES_CLEAN_SECONDS (default one hour)."""
    try:
        return clean_orphan_files(current_app.config["UPLOAD_FOLDER"], now)
    finally:
        db.session.rollback()  # it only read


JOBS = (Job("tick", "TICK_SECONDS", 60, tick_job, notable=("campaigns_moved", "reminders_queued")),
        Job("dispatch", "DISPATCH_SECONDS", 10, dispatch_job, notable=("claimed",)),
        Job("files", "FILES_CLEAN_SECONDS", 3600, files_job, notable=("removed",)))
