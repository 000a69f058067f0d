"""The calendar an organizer works with: national data plus local overrides."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select

from .audit import record
from .db import db
from .models import CalendarOverride, Organizer
from .periods import DateOutOfRange, check_date
from .workdays import Override, VietnamCalendar, calendar_with


class OverrideError(ValueError):
    """An override that cannot be added or removed, with a message for people."""


def _as_override(row: CalendarOverride, scope: str | None) -> Override:
    return Override(day=row.day, kind=row.kind, reason=row.reason, document=row.document,  # type: ignore[arg-type]
                    scope=scope, reason_en=row.reason)


def overrides_for(organizer_id: int | None) -> list[CalendarOverride]:
    """Overrides that apply to an organizer: its own and everyone's.

    An organizer's own decision wins over one made for everyone on the same day.
    """
    query = select(CalendarOverride).order_by(CalendarOverride.day)
    if organizer_id is None:
        query = query.where(CalendarOverride.organizer_id.is_(None))
    else:
        query = query.where(or_(CalendarOverride.organizer_id.is_(None),
                                CalendarOverride.organizer_id == organizer_id))
    rows = list(db.session.scalars(query))
    rows.sort(key=lambda r: (r.day, r.organizer_id is not None))
    return rows


def calendar_for(organizer_id: int | None = None) -> VietnamCalendar:
    """The shared calendar for an organizer, honouring its overrides at once."""
    rows = overrides_for(organizer_id)
    return calendar_with([_as_override(r, None if r.organizer_id is None else str(r.organizer_id)) for r in rows])


def add_override(*, day: date, kind: str, reason: str, document: str, organizer: Organizer | None,
                 actor: str) -> CalendarOverride:
    """Add a local day off or extra working day; audited."""
    if kind not in ("day_off", "working_day"):
        raise OverrideError(f"unknown kind {kind!r}: use day_off or working_day")
    if not reason.strip():
        raise OverrideError("a reason is required")
    try:
        check_date(day, "day")
    except DateOutOfRange as exc:
        raise OverrideError(exc.message_en) from None
    organizer_id = organizer.id if organizer else None
    existing = db.session.scalar(
        select(CalendarOverride).where(CalendarOverride.day == day,
                                       CalendarOverride.organizer_id.is_(None) if organizer_id is None
                                       else CalendarOverride.organizer_id == organizer_id))
    if existing is not None:
        raise OverrideError(f"{day.isoformat()} already has an override (#{existing.id}); remove it first")
    row = CalendarOverride(day=day, kind=kind, reason=reason.strip(), document=document.strip(),
                           organizer_id=organizer_id, created_by=actor)
    db.session.add(row)
    db.session.flush()
    record(actor=actor, action="calendar.override_added", organizer_id=organizer_id,
           to_value=f"{day.isoformat()} {kind}: {reason} ({document})", reason=reason)
    return row


def remove_override(override_id: int, *, actor: str, reason: str = "") -> CalendarOverride:
    row = db.session.get(CalendarOverride, override_id)
    if row is None:
        raise OverrideError(f"no override #{override_id}")
    record(actor=actor, action="calendar.override_removed", organizer_id=row.organizer_id,
           from_value=f"{row.day.isoformat()} {row.kind}: {row.reason} ({row.document})", reason=reason)
    db.session.delete(row)
    db.session.flush()
    return row
