"""The mail job's body: a plain function that ``flask mail dispatch``, the scheduler and tests call.

It runs inside an app context.  (The tick's body is the domain's write side, so it
lives with the interfaces: ``cli/jobs.py``.)
"""

from __future__ import annotations

from datetime import datetime

from workflow.db import db

from .dispatch import dispatch_all


def dispatch_mail(now: datetime | None = None, worker: str | None = None) -> dict[str, int]:
    """Send what is due in the outbox (nothing when MAIL_SERVER is not set)."""
    try:
        return dispatch_all(now, worker=worker).as_dict()
    except Exception:
        db.session.rollback()
        raise
