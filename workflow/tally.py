"""The standing tally's upkeep (``models.StandingTally``): the database's triggers append its rows; this
folds them back to one row per cell, in the tick and after bulk writes (an import, ``flask demo generate``)."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from .db import db
from .models import StandingTally

#: A campaign's standing tally is folded once it holds more rows than this (the dashboard sums them all:
#: a few hundred rows cost it well under a millisecond; a deadline minute of uploads adds about 600).
TALLY_ROWS = 256


def compact_tallies(above: int = TALLY_ROWS) -> int:
    """Fold the standing tally (``models.StandingTally``) of each campaign holding more than ``above`` rows
    back to one row per cell; the rows removed less the rows written.

    Each campaign's rows are deleted and given back (``DELETE … RETURNING``), summed here and written again
    as one row per non-zero cell, in the same transaction: rows another transaction appends meanwhile are
    not among those deleted, so no delta is lost or counted twice, on either database."""
    T = StandingTally
    crowded = db.session.scalars(select(T.campaign_id).group_by(T.campaign_id)
                                 .having(func.count() > above).order_by(T.campaign_id)).all()
    folded = 0
    for campaign_id in crowded:
        gone = db.session.execute(delete(T).where(T.campaign_id == campaign_id).returning(
            T.grp, T.status, T.silent, T.late_days, T.parented, T.n)).all()
        sums: dict[tuple, int] = {}
        for grp, status, silent, late, parented, n in gone:
            key = (grp, status, bool(silent), late, bool(parented))
            sums[key] = sums.get(key, 0) + n
        cells = [{"campaign_id": campaign_id, "grp": grp, "status": status, "silent": silent, "late_days": late,
                  "parented": parented, "n": n} for (grp, status, silent, late, parented), n in sums.items() if n]
        if cells:
            db.session.execute(insert(T), cells)
        folded += len(gone) - len(cells)
    return folded
