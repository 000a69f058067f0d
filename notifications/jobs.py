"""Scheduler job bodies: plain functions that ``flask tick``, the scheduler and tests call.

Each runs inside an app context and commits once at the end (the boundary).
"""

from __future__ import annotations

from datetime import datetime

from workflow.db import db


def tick(now: datetime) -> dict[str, int]:
    """Time-driven campaign moves, exclusions and reminder planning, as of ``now``."""
    from workflow.operations import run_tick

    try:
        summary = run_tick(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def dispatch_mail(now: datetime | None = None, worker: str | None = None) -> dict[str, int]:
    """Send what is due in the outbox (nothing when MAIL_SERVER is not set)."""
    from .dispatch import dispatch_all

    try:
        return dispatch_all(now, worker=worker).as_dict()
    except Exception:
        db.session.rollback()
        raise
