"""The calendar an organizer works with: national data plus local overrides."""

from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import Date, Integer, String, bindparam, cast, literal, null, or_, select, union_all

from .audit import record
from .db import db
from .models import CalendarOverride, HolidayDecision, Organizer
from .periods import DateOutOfRange, check_date
from .workdays import Override, VietnamCalendar, calendar_with, national_calendar


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


def cite(number: str, issued: date, issuer: str) -> str:
    """``45/2026/QH15 ngày 20/06/2026 của Quốc hội`` (how a decision's document is cited)."""
    return f"{number} ngày {issued:%d/%m/%Y} của {issuer}"


def cite_en(number: str, issued: date, issuer: str) -> str:
    return f"{number} of {issued:%d/%m/%Y} ({issuer})"


def in_force(organizer_id: int | None, *, every_scope: bool = False) -> list[Override]:
    """The calendar decisions in force for an organizer (its own and everyone's; with ``every_scope``, every
    organizer's), as :class:`Override` values: local days off and working days, and the decisions on
    unconfirmed national days off (``settles``).  One query.  For a day, everyone's decision comes first so
    that the organizer's own wins; a decision on an unconfirmed day comes after an override of its scope."""
    shape = "every" if every_scope else "shared" if organizer_id is None else "organizer"
    rows = sorted(db.session.execute(_in_force_statement(shape), {"organizer_id": organizer_id}).all(),
                  key=lambda r: (r[2], r[1] is not None, r[0]))
    out = []
    for src, org_id, day, kind, reason, document, number, issued, issuer in rows:
        scope = None if org_id is None else str(org_id)
        if not src:
            out.append(Override(day=day, kind=kind, reason=reason, document=document, scope=scope,
                                reason_en=reason))
            continue
        confirmed = kind == "confirmed"
        name_en = national_calendar().day_status(day).name_en
        out.append(Override(day=day, kind="day_off" if confirmed else "working_day", reason=reason,
                            document=cite(number, issued, issuer), scope=scope, reason_en=name_en, settles=kind,
                            document_en=cite_en(number, issued, issuer)))
    return out


@cache
def _in_force_statement(shape: str):
    """``in_force``'s union, built once per shape (every | shared | organizer; bound: organizer_id): building
    it cost more CPU than running it, on every page that shows a date."""
    o, d = CalendarOverride, HolidayDecision
    overrides = select(literal(0).label("src"), o.organizer_id, o.day, o.kind, o.reason, o.document,
                       cast(null(), String).label("number"), cast(null(), Date).label("issued"),
                       cast(null(), String).label("issuer"))
    decisions = select(literal(1).label("src"), d.organizer_id, d.day, d.decision, d.name, literal(""),
                       d.doc_number, d.doc_date, d.doc_issuer)
    if shape == "shared":
        overrides = overrides.where(o.organizer_id.is_(None))
        decisions = decisions.where(d.organizer_id.is_(None))
    elif shape == "organizer":
        organizer_id = bindparam("organizer_id", type_=Integer)
        overrides = overrides.where(or_(o.organizer_id.is_(None), o.organizer_id == organizer_id))
        decisions = decisions.where(or_(d.organizer_id.is_(None), d.organizer_id == organizer_id))
    return union_all(overrides, decisions)


def calendar_for(organizer_id: int | None = None) -> VietnamCalendar:
    """The shared calendar for an organizer, honouring its overrides and decisions at once."""
    return calendar_with(in_force(organizer_id))


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
