"""What the organizer's pages read, in a number of queries that does not grow with the units.

Every function here issues a fixed number of statements: the units of a
campaign are loaded once (and kept referenced, so that ``Participation.unit``
is answered from the session's identity map), counts come from grouped
queries, lists are limited or paginated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import load_only

from . import standing
from .campaigns import Result
from .db import db
from .models import AuditEvent, CalendarOverride, Campaign, Participation, Unit
from .workdays import VietnamCalendar

#: Groups in the order the letters list them; others follow alphabetically.
GROUP_ORDER = ("department", "vertical", "district", "commune")
#: Sort keys of the units table.
SORTS = ("code", "name", "group", "status", "received", "late", "reminders", "rating")
STATUS_ORDER = {s: i for i, s in enumerate(standing.STATUSES)}


def fold(text: str) -> str:
    """Lower case without diacritics: "Sở Tài chính" → "so tai chinh"."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def group_key(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group), "") if group in GROUP_ORDER else (len(GROUP_ORDER), group)


# -- the units of a campaign -------------------------------------------------

def campaign_units(campaign: Campaign) -> dict[int, Unit]:
    """Every unit taking part, by id, in one query.

    The caller keeps the returned mapping alive while it reads
    ``Participation.unit``: the session's identity map answers it then.
    """
    # Only what the dashboard shows: the e-mail lists (JSON, one decode per unit) stay unread.
    rows = db.session.scalars(select(Unit).join(Participation, Participation.unit_id == Unit.id)
                              .where(Participation.campaign_id == campaign.id)
                              .options(load_only(Unit.organizer_id, Unit.code, Unit.name, Unit.group,
                                                 Unit.parent_id))).all()
    return {u.id: u for u in rows}


@dataclass(frozen=True)
class UnitRow:
    """One line of the units table."""

    unit: Unit
    participation: Participation
    status: str
    reminders: int
    score: Decimal | None
    provisional: bool
    rating: str | None
    rank: int | None

    @property
    def received_at(self) -> datetime | None:
        return self.participation.received_at

    @property
    def late_days(self) -> int:
        return self.participation.late_working_days or 0


def unit_rows(results: Sequence[Result], units: dict[int, Unit], reminders: dict[int, int]) -> list[UnitRow]:
    rows = []
    for r in results:
        p = r.participation
        unit = units.get(p.unit_id) or p.unit
        rows.append(UnitRow(unit, p, r.status, reminders.get(p.unit_id, 0), r.score, r.provisional, r.rating,
                            r.rank))
    return rows


def filter_rows(rows: Iterable[UnitRow], *, group: str = "", status: str = "", q: str = "") -> list[UnitRow]:
    needle = fold(q.strip())
    out = []
    for row in rows:
        if group and row.unit.group != group:
            continue
        if status and row.status != status:
            continue
        if needle and needle not in fold(row.unit.code) and needle not in fold(row.unit.name):
            continue
        out.append(row)
    return out


def sort_rows(rows: Sequence[UnitRow], sort: str, descending: bool, tiers: Sequence[dict]) -> list[UnitRow]:
    """Sort by one key; rows without a value (not received, not rated) always come last."""
    tier_index = {t["name"]: i for i, t in enumerate(tiers)}

    def key(row: UnitRow):
        if sort == "name":
            return (fold(row.unit.name), row.unit.name)
        if sort == "group":
            return group_key(row.unit.group)
        if sort == "status":
            return STATUS_ORDER.get(row.status, len(STATUS_ORDER))
        if sort == "received":
            return row.received_at
        if sort == "late":
            return row.late_days
        if sort == "reminders":
            return row.reminders
        if sort == "rating":
            if row.rating is None:
                return None
            return (tier_index.get(row.rating, len(tier_index)), row.rank or 0)
        return None  # code: the tie-breaker below is the key

    by_code = sorted(rows, key=lambda r: r.unit.code)
    if sort not in SORTS or sort == "code":
        return list(reversed(by_code)) if descending else by_code
    present = [r for r in by_code if key(r) is not None]
    missing = [r for r in by_code if key(r) is None]
    # Python's sort is stable: equal keys stay in code order.
    present.sort(key=key, reverse=descending)
    return present + missing


# -- the audit trail --------------------------------------------------

def recent_audit(campaign: Campaign, limit: int = 50) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
                                   .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def audit_page(campaign: Campaign, page: int, per_page: int = 100):
    return db.paginate(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
                       .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                       page=page, per_page=per_page, error_out=False)


def units_by_id(ids: Iterable[int | None]) -> dict[int, Unit]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


def campaign_codes(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Campaign.id, Campaign.code).where(Campaign.id.in_(wanted))).all())


# -- the calendar ------------------------------------------------------------

def days_off(cal: VietnamCalendar, first: date, last: date, lang: str = "vi") -> dict[date, str]:
    """Every non-working day in [first, last] with why."""
    out = {}
    day = first
    while day <= last:
        status = cal.day_status(day)
        if not status.working:
            out[day] = status.describe(lang)
        day += timedelta(days=1)
    return out


def own_overrides(organizer_id: int, year: int) -> list[CalendarOverride]:
    return list(db.session.scalars(
        select(CalendarOverride).where(CalendarOverride.organizer_id == organizer_id,
                                       CalendarOverride.day >= date(year, 1, 1),
                                       CalendarOverride.day <= date(year, 12, 31))
        .order_by(CalendarOverride.day)))


def shared_overrides(year: int) -> list[CalendarOverride]:
    """Decisions made for every organizer (read-only here)."""
    return list(db.session.scalars(
        select(CalendarOverride).where(CalendarOverride.organizer_id.is_(None),
                                       CalendarOverride.day >= date(year, 1, 1),
                                       CalendarOverride.day <= date(year, 12, 31))
        .order_by(CalendarOverride.day)))


def all_audit(campaign: Campaign) -> list[AuditEvent]:
    """The whole audit trail of a campaign, oldest first (the export)."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
                                   .order_by(AuditEvent.at, AuditEvent.id)))
