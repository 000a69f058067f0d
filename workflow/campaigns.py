"""The read side of campaigns: their zone, calendar, timeline, state, counts,
results and status document, computed from the stored rows as of ``now``.

Nothing here writes; ``operations`` is the write side and ``notifications``
reads from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from . import milestone_docs, standing
from .calendars import calendar_for
from .db import db
from .machine import state_name
from .models import AuditEvent, Campaign, Participation, Unit
from .periods import in_range
from .standing import status_name
from .timeline import (
    MILESTONES,
    MilestoneDates,
    MilestoneWarning,
    Timeline,
    compute,
    effective_state,
    milestone_warnings,
)
from .workdays import VietnamCalendar

CHANNELS = {"upload": ("Nộp trực tuyến", "Uploaded here"),
            "eoffice": ("Phần mềm quản lý văn bản và điều hành", "E-office system"),
            "email": ("Hộp thư điện tử công vụ", "Official e-mail")}


def data_period_text(campaign: Campaign, lang: str = "vi") -> str:
    """The period the reported figures cover ("Số liệu tính từ ngày 01/01/2019 đến ngày 01/10/2019"), or ""."""
    start, end = campaign.data_period_start, campaign.data_period_end
    first, last = (d.strftime("%d/%m/%Y") if d else "" for d in (start, end))
    if lang == "vi":
        if start and end:
            return f"Số liệu tính từ ngày {first} đến ngày {last}"
        return f"Số liệu tính từ ngày {first}" if start else (f"Số liệu tính đến ngày {last}" if end else "")
    if start and end:
        return f"Figures for the period {first} to {last}"
    return f"Figures from {first}" if start else (f"Figures up to {last}" if end else "")


def data_period_document(campaign: Campaign) -> dict | None:
    """The data period in the status document (``null`` when the campaign declares none)."""
    start, end = campaign.data_period_start, campaign.data_period_end
    if start is None and end is None:
        return None
    return {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None,
            "text": {"vi": data_period_text(campaign, "vi"), "en": data_period_text(campaign, "en")}}


def tz_of(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.organizer.timezone or "Asia/Ho_Chi_Minh")


def calendar_of(campaign: Campaign) -> VietnamCalendar:
    return calendar_for(campaign.organizer_id)


def out_of_range_dates(campaign: Campaign) -> list[tuple[str, date]]:
    """The campaign's stored dates outside the accepted range (what a repair must fix), in timeline order.

    Each item is (``deadline`` | a milestone kind | ``document_date`` | ``data_period``, the date)."""
    found = []
    if campaign.deadline is not None and not in_range(campaign.deadline):
        found.append(("deadline", campaign.deadline))
    for m in sorted(campaign.milestones, key=lambda m: list(MILESTONES).index(m.kind) if m.kind in MILESTONES else 99):
        for day in (m.start_date, m.end_date):
            if day is not None and not in_range(day):
                found.append((m.kind, day))
                break
    for what, day in (("document_date", campaign.document_date), ("data_period", campaign.data_period_start),
                      ("data_period", campaign.data_period_end)):
        if day is not None and not in_range(day):
            found.append((what, day))
    return found


def warnings_of(campaign: Campaign, cal: VietnamCalendar | None = None) -> list[MilestoneWarning]:
    """What the organizer should look at in the campaign's dates (timeline.milestone_warnings)."""
    if out_of_range_dates(campaign):
        return []
    return milestone_warnings(campaign.deadline, campaign.grace_working_days, milestone_dates(campaign),
                              cal or calendar_of(campaign))


def milestone_dates(campaign: Campaign) -> dict[str, MilestoneDates]:
    return {m.kind: MilestoneDates(m.start_date, m.end_date) for m in campaign.milestones}


def timeline_of(campaign: Campaign, now: datetime | None = None, cal: VietnamCalendar | None = None) -> Timeline:
    return compute(campaign.deadline, campaign.grace_working_days, milestone_dates(campaign),
                   cal or calendar_of(campaign), state=campaign.state, now=now, tz=tz_of(campaign))


def state_at(campaign: Campaign, now: datetime, timeline: Timeline | None = None) -> str:
    """The campaign's state as of ``now``, whether or not the tick has run."""
    tl = timeline or timeline_of(campaign)
    return effective_state(campaign.state, tl.deadline_at, tl.grace_ends_at, now)


def unit_status_at(p: Participation, grace_ended: bool) -> str:
    return standing.effective_status(p.status, reinstated=bool(p.reinstated_reason), grace_ended=grace_ended)


def exclusion_preview(campaign: Campaign) -> list[Participation]:
    """Who would be excluded if grace ended now."""
    return list(db.session.scalars(
        select(Participation).join(Unit).where(
            Participation.campaign_id == campaign.id, Participation.status == "not_submitted",
            Participation.reinstated_reason == "").order_by(Unit.group, Unit.code)))


@dataclass(frozen=True)
class Result:
    participation: Participation
    status: str
    score: Decimal | None
    provisional: bool
    rating: str | None
    rank: int | None


def results(campaign: Campaign, now: datetime) -> list[Result]:
    """Rating and rank within each group; excluded units are neither rated nor ranked.

    The verified score counts when there is one; otherwise the self-assessed
    score, marked provisional.  With commune nomination, only the nominee of
    each district is ranked at the province.
    """
    tl = timeline_of(campaign)
    grace_ended = now >= tl.grace_ends_at
    tiers = campaign.tiers or standing.DEFAULT_TIERS
    rows = db.session.scalars(select(Participation).join(Unit).where(Participation.campaign_id == campaign.id)
                              .order_by(Unit.group, Unit.code)).all()
    info = []
    for p in rows:
        status = unit_status_at(p, grace_ended)
        score = p.verified_score if p.verified_score is not None else p.self_score
        eligible = status not in ("excluded", "not_submitted") and score is not None
        if campaign.commune_nomination and p.unit.parent_id is not None and not p.nominated:
            eligible = False
        info.append((p, status, score, eligible))
    ranked = {r.key: r for r in standing.rank_within_groups(
        ((p.id, p.unit.group, score) for p, status, score, eligible in info if eligible), tiers)}
    out = []
    for p, status, score, _eligible in info:
        r = ranked.get(p.id)
        out.append(Result(p, status, score if status != "excluded" else None, p.verified_score is None,
                          r.rating if r else None, r.rank if r else None))
    return out


def count_by_status(campaign: Campaign, now: datetime) -> dict[str, int]:
    """Counters by (effective) status with one grouped query."""
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    reinstated = func.sum(case((Participation.reinstated_reason != "", 1), else_=0))
    rows = db.session.execute(
        select(Participation.status, func.count(), reinstated)
        .where(Participation.campaign_id == campaign.id).group_by(Participation.status)).all()
    counts: dict[str, int] = {s: 0 for s in standing.STATUSES}
    for status, n, n_reinstated in rows:
        n_reinstated = int(n_reinstated or 0)
        counts[standing.effective_status(status, reinstated=False, grace_ended=grace_ended)] += n - n_reinstated
        counts[standing.effective_status(status, reinstated=True, grace_ended=grace_ended)] += n_reinstated
    return counts


def status_document(campaign: Campaign, now: datetime) -> dict:
    """The campaign's state, milestones and units as of ``now`` (the --json format)."""
    tz = tz_of(campaign)
    tl = timeline_of(campaign, now)
    state = state_at(campaign, now, tl)
    rows = results(campaign, now)
    docs = milestone_docs.documents_of(campaign)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {
        "campaign": {
            "code": campaign.code, "title": campaign.title, "year": campaign.year,
            "organizer": campaign.organizer.code, "state": state, "state_name": state_name(state),
            "recorded_state": campaign.state, "deadline": campaign.deadline.isoformat(),
            "grace_working_days": campaign.grace_working_days,
            "data_period": data_period_document(campaign),
            "document": {"number": campaign.document_number,
                         "date": campaign.document_date.isoformat() if campaign.document_date else None},
            "cancel_reason": campaign.cancel_reason or None,
        },
        "now": now.astimezone(tz).isoformat(),
        "milestones": [{
            "kind": i.kind, "name": i.name_vi, "name_en": i.name_en,
            "start": i.start.isoformat() if i.start else None, "end": i.end.isoformat(),
            "ends_at": i.ends_at.isoformat(), "computed": i.computed, "reached": i.reached, "overdue": i.overdue,
            "explanation": {"vi": i.period.explain("vi"), "en": i.period.explain("en")} if i.period else None,
            "document": milestone_docs.as_dict(docs[i.kind]) if i.kind in docs else None,
        } for i in tl.items],
        "warnings": [{"kind": w.kind, "end": w.end.isoformat(), "grace_end": w.grace_end.isoformat(),
                      "message": w.message("vi"), "message_en": w.message("en")} for w in warnings_of(campaign)],
        "counts": counts,
        "units": [{
            "code": r.participation.unit.code, "name": r.participation.unit.name,
            "group": r.participation.unit.group,
            "parent": r.participation.unit.parent.code if r.participation.unit.parent else None,
            "status": r.status, "status_name": status_name(r.status),
            "received_at": r.participation.received_at.astimezone(tz).isoformat()
            if r.participation.received_at else None,
            "late_working_days": r.participation.late_working_days,
            "corrected_at": r.participation.corrected_at.astimezone(tz).isoformat()
            if r.participation.corrected_at else None,
            "versions": len(r.participation.submissions),
            "reinstated_reason": r.participation.reinstated_reason or None,
            "returned_reason": r.participation.returned_reason or None,
            "self_score": float(r.participation.self_score) if r.participation.self_score is not None else None,
            "verified_score": float(r.participation.verified_score)
            if r.participation.verified_score is not None else None,
            "score": float(r.score) if r.score is not None else None, "provisional": r.provisional,
            "rating": r.rating, "rank": r.rank, "nominated": r.participation.nominated,
        } for r in rows],
    }


@dataclass(frozen=True)
class Revision:
    """How many times a milestone's dates changed, and when last (for the ICS SEQUENCE)."""

    sequence: int
    modified: datetime


#: The stored values a milestone's event depends on: the grace end moves with the deadline
#: and with the number of grace days.
EVENT_SOURCES = {"deadline": ("deadline",), "grace_end": ("deadline", "grace_working_days")}


def milestone_revisions(campaign: Campaign) -> dict[str, Revision]:
    """Per event kind (deadline, grace_end, each milestone): its revision, read from the audit trail
    (``milestone.moved`` / ``milestone.removed`` events name the kind first in their values)."""
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.from_value, AuditEvent.to_value, AuditEvent.at)
        .where(AuditEvent.campaign_id == campaign.id,
               AuditEvent.action.in_(("campaign.created", "milestone.moved", "milestone.removed")))
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    moves: dict[str, list[datetime]] = {}
    base = campaign.created_at
    for action, from_value, to_value, at in rows:
        if action == "campaign.created":
            base = min(base, at)
            continue
        kind = (to_value or from_value or "").split(" ", 1)[0]
        moves.setdefault(kind, []).append(at)
    kinds = {m.kind for m in campaign.milestones} | set(EVENT_SOURCES) | set(moves)
    out: dict[str, Revision] = {}
    for kind in kinds:
        stamps = sorted(at for source in EVENT_SOURCES.get(kind, (kind,)) for at in moves.get(source, []))
        out[kind] = Revision(len(stamps), stamps[-1] if stamps else base)
    return out
