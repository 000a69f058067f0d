"""Rate-limit counters shared by every web worker, counted atomically in the database.

A counter is one row per key (``pw:<address>|<ip>``, ``ip:<ip>``, ``mail:<address>``…): the number of
hits since its window began.  ``hit`` adds one and returns the new count in a single statement
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``), on a connection of its own that commits at once,
so that twelve parallel requests see twelve different counts and a limit of five lets exactly five
through, whatever the request's own transaction does afterwards (like a sequence, a hit is never
rolled back).  A window begins at the first hit after the previous one ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from .db import db


class RateCounter(db.Model):  # type: ignore[name-defined]  # (as in models.py)
    """Hits on one rate-limited key since ``window_start`` (epoch seconds)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer)


def hit(key: str, *, window: timedelta, now: datetime) -> int:
    """Count one hit on ``key``; the number of hits in its current window, this one included."""
    key = key[:320]
    start = int(now.timestamp())
    expired = RateCounter.window_start <= start - int(window.total_seconds())
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    table = RateCounter.__table__
    statement = insert(table).values(key=key, window_start=start, hits=1).on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"hits": case((expired, 1), else_=table.c.hits + 1),
              "window_start": case((expired, start), else_=table.c.window_start)},
    ).returning(table.c.hits)
    with db.engine.begin() as conn:
        return int(conn.execute(statement).scalar_one())


def undo(key: str) -> None:
    """Take back one hit (a request that turned out not to count, e.g. a right password)."""
    with db.engine.begin() as conn:
        conn.execute(update(RateCounter).where(RateCounter.key == key[:320], RateCounter.hits > 0)
                     .values(hits=RateCounter.hits - 1))


def clear(key: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(RateCounter).where(RateCounter.key == key[:320]))
