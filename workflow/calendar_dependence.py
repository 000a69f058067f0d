"""Which of a campaign's computed dates rest on an unconfirmed day off (issue 13).

24/11/2026 "Ngày Văn hóa Việt Nam" is a day off in the holidays package that no enacted source confirms.
A campaign whose grace end, award-dossier grace end, reminder days, open figures-confirmation deadlines or
milestone reminders are counted in working days across such a day gets a warning on its dashboard: the day,
and each date that would move, from what to what, if the day were a working day.

Cheap: nothing is computed unless an unconfirmed day lies in the campaign's window (a calendar of the
campaign's organizer answers that from its cached year data); then each date is worked out once with the
calendar as it is and once with the day made a working day (a cached calendar), plus one query for the
distinct open confirmation rounds.  No per-unit query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from .criteria import ConfirmationRound
from .db import db
from .models import Campaign, Participation
from .periods import working_days_from
from .timeline import MILESTONES, grace_period
from .workdays import Override, VietnamCalendar, calendar_with, format_day

#: A computed date: key -> (label vi, label en, the date).
Dates = dict[str, tuple[str, str, date]]
#: How far before the deadline and after the last milestone an unconfirmed day can still matter.
_BEFORE, _AFTER = timedelta(days=60), timedelta(days=45)


@dataclass(frozen=True)
class DateMove:
    label_vi: str
    label_en: str
    now: date
    if_working: date


@dataclass(frozen=True)
class UnconfirmedDependence:
    """An unconfirmed day off the campaign's dates are counted across, and what would move."""

    day: date
    name_vi: str
    name_en: str
    moves: tuple[DateMove, ...]

    def message(self, lang: str = "vi") -> str:
        if lang == "vi":
            moves = "; ".join(f"{m.label_vi}: {format_day(m.now)} → {format_day(m.if_working)}" for m in self.moves)
            return (f"Các ngày của đợt này tính {format_day(self.day)} (“{self.name_vi}”) là ngày nghỉ, nhưng ngày này "
                    f"chưa được văn bản pháp lý đã ban hành xác nhận. Nếu đó là ngày làm việc: {moves}.")
        moves = "; ".join(f"{m.label_en}: {format_day(m.now, 'en')} → {format_day(m.if_working, 'en')}"
                          for m in self.moves)
        return (f"This campaign's dates count {format_day(self.day, 'en')} (“{self.name_en}”) as a day off, but no "
                f"enacted legal source confirms it. If it were a working day: {moves}.")


def _open_rounds(campaign: Campaign, tz: ZoneInfo) -> list[tuple[date, int]]:
    """The distinct (local day sent, working days) of the campaign's open confirmation rounds (one query)."""
    rows = db.session.execute(
        select(ConfirmationRound.sent_at, ConfirmationRound.working_days).distinct()
        .join(Participation, Participation.id == ConfirmationRound.participation_id)
        .where(Participation.campaign_id == campaign.id, ConfirmationRound.closed_at.is_(None))).all()
    return sorted({(sent.astimezone(tz).date(), days) for sent, days in rows})


def _dates(campaign: Campaign, cal: VietnamCalendar, rounds: list[tuple[date, int]], tz: ZoneInfo,
           extra: Callable[[VietnamCalendar], Dates] | None) -> Dates:
    out: Dates = {}
    grace = campaign.grace_working_days
    if grace:
        out["grace_end"] = ("Hết thời gian gia hạn", "Grace period ends",
                            grace_period(campaign.deadline, grace, cal).last_day)
        award = next((m for m in campaign.milestones if m.kind == "award_dossiers"), None)
        if award is not None:
            out["award_grace_end"] = ("Hết gia hạn nộp hồ sơ khen thưởng", "Award dossiers' grace ends",
                                      grace_period(award.end_date, grace, cal).last_day)
    for sent, days in rounds:
        out[f"confirmation-{sent.isoformat()}-{days}"] = (
            f"Hạn xác nhận số liệu (gửi {format_day(sent)}, {days} ngày làm việc)",
            f"Figures confirmation deadline (sent {format_day(sent, 'en')}, {days} working days)",
            working_days_from(sent, days, cal, tz, explain=False).last_day)
    if extra is not None:
        out.update(extra(cal))
    return out


def unconfirmed_dependence(campaign: Campaign, cal: VietnamCalendar, tz: ZoneInfo,
                           extra: Callable[[VietnamCalendar], Dates] | None = None) -> list[UnconfirmedDependence]:
    """The unconfirmed days off the campaign's computed dates depend on, each with the dates that would move.

    ``extra`` adds dates computed above the domain (the reminder days of notifications.rules), given a
    calendar."""
    ends = [campaign.deadline, *(m.end_date for m in campaign.milestones if m.kind in MILESTONES)]
    candidates = cal.unconfirmed_days(min(ends) - _BEFORE, max(ends) + _AFTER)
    if not candidates:
        return []
    rounds = _open_rounds(campaign, tz)
    now = _dates(campaign, cal, rounds, tz, extra)
    found = []
    local = [o for o in cal.overrides if not o.national]
    for status in candidates:
        working = calendar_with([*local, Override(status.day, "working_day", status.name_vi, scope=None,
                                                  reason_en=status.name_en)])
        moved = _dates(campaign, working, rounds, tz, extra)
        moves = tuple(DateMove(vi, en, day, moved[key][2]) for key, (vi, en, day) in now.items()
                      if key in moved and moved[key][2] != day)
        if moves:
            found.append(UnconfirmedDependence(status.day, status.name_vi, status.name_en, moves))
    return found
