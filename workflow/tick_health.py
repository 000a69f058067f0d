"""The tick's failures, one row per campaign whose time-driven work failed.

The tick (``operations.run_tick``) runs each campaign in its own savepoint; a
campaign whose work raises is rolled back, logged and recorded here (first and
last time seen, how many ticks in a row, the error), and retried on the next
tick.  A tick that succeeds for the campaign deletes its row.  The organizer's
dashboard and digest read :func:`failures_of` (the digest's template can render
``campaign_code``, ``error``, ``first_seen``, ``last_seen``, ``count``).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import revisions
from .db import Model, UTCDateTime, db
from .models import Campaign


class TickFailure(Model):
    """The last failure of a campaign's time-driven work, kept until a tick succeeds."""

    __tablename__ = "tick_failure"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    #: The error as people can read it (``DateOutOfRange: 9999-12-31 (approval) is outside …``).
    error: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Ticks in a row that failed.
    count: Mapped[int] = mapped_column(Integer, default=1)

    campaign: Mapped[Campaign] = relationship()

    @property
    def campaign_code(self) -> str:
        return self.campaign.code


def _session() -> Session:
    return cast(Session, db.session)


def describe(exc: BaseException) -> str:
    message = getattr(exc, "message_en", None) or str(exc) or repr(exc)
    return f"{type(exc).__name__}: {message}"[:2000]


def record_failure(campaign_id: int, organizer_id: int, exc: BaseException, now: datetime) -> TickFailure:
    row = db.session.get(TickFailure, campaign_id)
    if row is None:
        row = TickFailure(campaign_id=campaign_id, organizer_id=organizer_id, error=describe(exc), first_seen=now,
                          last_seen=now, count=1)
        db.session.add(row)
    else:
        row.error, row.last_seen, row.count = describe(exc), now, (row.count or 0) + 1
    db.session.flush()
    revisions.touch(_session(), (revisions.CAMPAIGN, campaign_id))  # its dashboard shows the failure
    return row


def clear_failure(campaign_id: int) -> None:
    result = db.session.execute(delete(TickFailure).where(TickFailure.campaign_id == campaign_id)
                                .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0):
        revisions.touch(_session(), (revisions.CAMPAIGN, campaign_id))


def failures_of(organizer_id: int | None = None, campaign_id: int | None = None) -> list[TickFailure]:
    """The campaigns whose time-driven work is failing, oldest failure first."""
    query = select(TickFailure).order_by(TickFailure.first_seen, TickFailure.campaign_id)
    if organizer_id is not None:
        query = query.where(TickFailure.organizer_id == organizer_id)
    if campaign_id is not None:
        query = query.where(TickFailure.campaign_id == campaign_id)
    return list(db.session.scalars(query))
