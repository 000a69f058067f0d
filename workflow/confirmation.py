"""The end of a figures-confirmation round: answered, or the deadline passed (seed 004).

Apart from ``evaluation`` (which uses ``operations``) so that the tick in
``operations.run_tick`` can close rounds without an import cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from .audit import SYSTEM, record
from .criteria import ConfirmationRound, Sheet, SheetEntry
from .db import db
from .models import Participation


def figures_stand(p: Participation, sheet: Sheet, *, actor: str, why: str, now: datetime) -> None:
    """The verified figures become the unit's verified score; tiers and ranks follow from it."""
    before = f"status={p.status} verified={p.verified_score}"
    p.verified_score = Decimal(sheet.verified_total or 0)
    p.status = "verified" if why != "confirmed by the unit" else "confirmed"
    record(actor=actor, action="figures.stand", organizer_id=p.campaign.organizer_id, campaign_id=p.campaign_id,
           unit_id=p.unit_id, from_value=before, to_value=f"status={p.status} verified={p.verified_score}",
           reason=why, at=now)


def lapse_rounds(now: datetime) -> int:
    """Close every round whose deadline has passed: criteria left unanswered are recorded
    "not disputed in time"; when nothing is disputed, the figures stand as verified.

    Idempotent (a closed round is left alone); audited with the deadline as the instant.
    """
    now = now.astimezone(UTC)
    rounds = db.session.scalars(select(ConfirmationRound).where(ConfirmationRound.closed_at.is_(None),
                                                                ConfirmationRound.due_at <= now)
                                .order_by(ConfirmationRound.id)).all()
    for rnd in rounds:
        p = db.session.get(Participation, rnd.participation_id)
        if p is None:  # pragma: no cover - cascade
            continue
        sheet = db.session.scalar(select(Sheet).where(Sheet.participation_id == p.id))
        entries = db.session.scalars(select(SheetEntry).where(SheetEntry.sheet_id == sheet.id)).all() if sheet else []
        lapsed = [e for e in entries if e.claimed is not None and not e.response]
        for e in lapsed:
            e.response, e.responded_at = "not_disputed_in_time", rnd.due_at
        disputed = sum(1 for e in entries if e.response == "disputed")
        rnd.closed_at, rnd.outcome, rnd.disputed = rnd.due_at, "lapsed", disputed
        record(actor=SYSTEM, action="figures.not_disputed_in_time", organizer_id=p.campaign.organizer_id,
               campaign_id=p.campaign_id, unit_id=p.unit_id, from_value=f"round {rnd.id}",
               to_value=f"{len(lapsed)} criteria not answered; {disputed} disputed",
               reason=f"confirmation deadline {rnd.deadline.isoformat()} passed", at=rnd.due_at)
        if sheet is not None and disputed == 0:
            figures_stand(p, sheet, actor=SYSTEM, why="not disputed in time", now=rnd.due_at)
    db.session.flush()
    return len(rounds)
