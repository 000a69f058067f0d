"""Next year's campaign from this one: the plan (every date moved, warnings, units) and the clone.

Every date of the campaign is moved to the same place in the new year:

* the deadline: the one given, or by default the same day and month in the new year, moved to
  the next working day when that is a day off (Civil Code 2015, art. 148);
* a date after the old deadline (the milestones): the same number of working days after the new
  deadline, counted with the organizer's calendar; a date that was itself a day off keeps its
  distance in calendar days from the last working day before it.  So a preliminary review five
  working days after the deadline stays five working days after it, across Tết and the new
  year's swapped days;
* a date before the old deadline (the launching letter's date): the same number of working days
  before the new deadline;
* the data period: the same calendar days, one year per year later (it is a reporting period,
  "từ ngày 01/01 đến ngày 01/10"; 29 February becomes 28 February).

:func:`plan_clone` works this out and reads nothing but the calendar and which codes exist; the
preview (web, CLI ``--dry-run``) shows it before anything is saved.  :func:`clone_campaign` writes
it, through ``campaign_files.apply`` like an import, as a new draft linked to the old campaign.

The criteria sets are copied with the rest (definitions only, no unit's values): the plan's spec
carries them, so ``apply`` writes them as an import would, and the preview counts them
(:attr:`ClonePlan.criteria_count`).  A hook for what other modules copy: append a callable
``hook(old, new, *, actor, now)`` to :data:`CLONE_HOOKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select

from .audit import record
from .campaign_files import CampaignFileError, CampaignSpec, UnitSpec, apply, criteria_specs_of, spec_of
from .campaigns import calendar_of, results
from .db import db
from .models import Campaign
from .timeline import MILESTONES, grace_period
from .workdays import VietnamCalendar

#: The district level was abolished on 1 July 2025 (Resolution 202/2025/QH15): a campaign whose
#: deadline is on or after this day has no district committees.
DISTRICTS_ABOLISHED = date(2025, 7, 1)
#: Groups whose units no longer exist after :data:`DISTRICTS_ABOLISHED`.
ABOLISHED_GROUPS = frozenset({"district"})

#: Called after a clone is written: ``hook(old, new, actor=..., now=...)``, for what the campaign's spec
#: does not carry (the criteria sets are in the spec: :func:`plan_clone`).
CLONE_HOOKS: list[Callable[..., None]] = []


class CloneRefused(Exception):
    """A clone that cannot be made; Vietnamese and English messages and the field at fault."""

    def __init__(self, message_vi: str, message_en: str, field: str | None = None):
        super().__init__(message_en)
        self.message_vi, self.message_en, self.field = message_vi, message_en, field


@dataclass(frozen=True)
class DateMove:
    """One date of the campaign, where it was and where it goes."""

    #: deadline | document_date | data_period_start | data_period_end | <milestone kind> | <kind>.start
    what: str
    old: date
    new: date
    #: How it was moved: ("working_days_after", n), ("working_days_before", n), ("year", n), ("given", 0)…
    rule: str
    n: int
    #: Extra calendar days after the n-th working day (a date that was a day off).
    extra_days: int = 0


@dataclass(frozen=True)
class Warning:
    what: str
    day: date
    #: day_off | before_grace_end
    kind: str
    message_vi: str
    message_en: str


@dataclass
class ClonePlan:
    source: Campaign
    code: str
    year: int
    deadline: date
    deadline_given: bool
    moves: list[DateMove]
    warnings: list[Warning]
    #: Unit codes of the old campaign that probably no longer exist (districts after 1/7/2025).
    abolished_units: list[str]
    spec: CampaignSpec
    left_out: list[str] = field(default_factory=list)
    #: Every unit of the old campaign (the preview lists them to leave some out).
    source_units: list[UnitSpec] = field(default_factory=list)

    def move(self, what: str) -> DateMove | None:
        return next((m for m in self.moves if m.what == what), None)

    @property
    def criteria_sets(self) -> int:
        """The criteria sets copied into the new campaign."""
        return len(self.spec.criteria or [])

    @property
    def criteria_count(self) -> int:
        """The criteria copied (scored rows: sub-criteria, and criteria without any), over every set."""
        return sum(1 for s in self.spec.criteria or [] for n in s.nodes if n.kind)


def same_day_in(day: date, year: int) -> date:
    """The same day and month in ``year`` (29 February becomes 28 February)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def default_deadline(old: date, year_delta: int, cal: VietnamCalendar) -> date:
    """The same day and month ``year_delta`` years later, or the next working day if that is a day off."""
    day = same_day_in(old, old.year + year_delta)
    return day if cal.is_working_day(day) else cal.find_following_working_day(day)


def working_days_between(first: date, last: date, cal: VietnamCalendar) -> int:
    """Working days in (first, last]: the day after ``first`` counts, ``first`` does not."""
    return cal.get_working_days_delta(first, last) if last > first else 0


def shift_after(day: date, old_deadline: date, new_deadline: date, cal: VietnamCalendar) -> DateMove:
    """A date after the old deadline: the same working days after the new deadline.

    A date that was a day off (a "trước ngày 02/12" kept as Sunday 01/12) is anchored on the
    next working day: that one moves by working days and the date stays the same number of
    calendar days before it."""
    anchor = day if cal.is_working_day(day) else cal.find_following_working_day(day)
    extra = (anchor - day).days
    n = working_days_between(old_deadline, anchor, cal)
    new = cal.add_working_days(new_deadline, n) - timedelta(days=extra)
    return DateMove("", day, new, "working_days_after", n, -extra)


def shift_before(day: date, old_deadline: date, new_deadline: date, cal: VietnamCalendar) -> DateMove:
    """A date before the old deadline: the same working days before the new deadline (a day off
    anchored on the next working day, as above)."""
    anchor = day if cal.is_working_day(day) else cal.find_following_working_day(day)
    if anchor >= old_deadline:
        return DateMove("", day, new_deadline - (old_deadline - day), "calendar_days_before", (old_deadline - day).days)
    extra = (anchor - day).days
    n = working_days_between(anchor, old_deadline, cal)
    new = cal.add_working_days(new_deadline, -n) - timedelta(days=extra)
    return DateMove("", day, new, "working_days_before", n, -extra)


def shift_day(day: date, old_deadline: date, new_deadline: date, cal: VietnamCalendar) -> DateMove:
    if day > old_deadline:
        return shift_after(day, old_deadline, new_deadline, cal)
    if day < old_deadline:
        return shift_before(day, old_deadline, new_deadline, cal)
    return DateMove("", day, new_deadline, "working_days_after", 0)


def _new_text(text: str, old_year: int, new_year: int) -> str:
    """``năm 2019`` becomes ``năm 2027``; other dates (a 2019 letter cited) are left alone."""
    return text.replace(f"năm {old_year}", f"năm {new_year}")


def plan_clone(source: Campaign, *, code: str, year: int, deadline: date | None = None,
               leave_out: tuple[str, ...] | list[str] = (), leave_out_abolished: bool = False,
               cal: VietnamCalendar | None = None) -> ClonePlan:
    """Work out next year's campaign without saving anything; refused if it cannot be made.

    ``leave_out_abolished``: leave out the units that no longer exist too (:data:`ABOLISHED_GROUPS`)."""
    code = (code or "").strip()
    if not code:
        raise CloneRefused("Cần mã của đợt đánh giá mới.", "The new campaign needs a code.", "code")
    if db.session.scalar(select(Campaign.id).where(Campaign.code == code)) is not None:
        raise CloneRefused(f"Đã có đợt đánh giá mã “{code}”; hãy chọn mã khác.",
                           f"A campaign with code {code!r} already exists; choose another code.", "code")
    successor = db.session.scalar(select(Campaign).where(Campaign.previous_id == source.id))
    if successor is not None:
        raise CloneRefused(
            f"Đợt đánh giá {source.code} đã được sao chép sang năm sau: {successor.code} (năm {successor.year}).",
            f"Campaign {source.code} has already been cloned into the next year: {successor.code} "
            f"({successor.year}).", "code")
    if year <= source.year:
        raise CloneRefused(f"Năm của đợt mới phải sau năm {source.year}.",
                           f"The new campaign's year must be after {source.year}.", "year")
    if year > source.year + 50:
        raise CloneRefused(f"Năm {year} quá xa năm {source.year}.", f"The year {year} is too far from {source.year}.",
                           "year")
    if deadline is not None and not year - 1 <= deadline.year <= year + 1:
        raise CloneRefused(f"Hạn nộp {deadline:%d/%m/%Y} không thuộc năm {year}.",
                           f"The deadline {deadline:%d/%m/%Y} is not in {year}.", "deadline")
    cal = cal or calendar_of(source)
    delta = year - source.year
    given = deadline is not None
    new_deadline = deadline if deadline is not None else default_deadline(source.deadline, delta, cal)
    old_dl = source.deadline
    moves = [DateMove("deadline", old_dl, new_deadline, "given" if given else "same_day_next_working_day", delta)]
    if source.document_date:
        moves.append(replace(shift_day(source.document_date, old_dl, new_deadline, cal), what="document_date"))
    for what, day in (("data_period_start", source.data_period_start), ("data_period_end", source.data_period_end)):
        if day:
            moves.append(DateMove(what, day, same_day_in(day, day.year + delta), "year", delta))
    milestones: dict[str, tuple[date | None, date]] = {}
    order = list(MILESTONES)
    for m in sorted(source.milestones, key=lambda m: order.index(m.kind) if m.kind in order else 99):
        start = None
        if m.start_date:
            sm = replace(shift_day(m.start_date, old_dl, new_deadline, cal), what=f"{m.kind}.start")
            moves.append(sm)
            start = sm.new
        em = replace(shift_day(m.end_date, old_dl, new_deadline, cal), what=m.kind)
        moves.append(em)
        milestones[m.kind] = (start, em.new)
    grace_end = grace_period(new_deadline, source.grace_working_days, cal).last_day
    warnings: list[Warning] = []
    for mv in moves:
        if mv.what.startswith("data_period"):
            continue
        if not cal.is_working_day(mv.new):
            status = cal.day_status(mv.new)
            warnings.append(Warning(mv.what, mv.new, "day_off",
                                    f"{label(mv.what)}: {mv.new:%d/%m/%Y} là ngày nghỉ ({status.describe('vi')}).",
                                    f"{label(mv.what, 'en')}: {mv.new:%d/%m/%Y} is a day off "
                                    f"({status.describe('en')})."))
        if mv.what in MILESTONES or mv.what.endswith(".start"):
            if mv.new <= grace_end:
                warnings.append(Warning(
                    mv.what, mv.new, "before_grace_end",
                    f"{label(mv.what)}: {mv.new:%d/%m/%Y} không sau ngày hết thời gian gia hạn "
                    f"({grace_end:%d/%m/%Y}).",
                    f"{label(mv.what, 'en')}: {mv.new:%d/%m/%Y} is not after the end of the grace period "
                    f"({grace_end:%d/%m/%Y})."))
    spec = spec_of(source)
    abolished = ([u.code for u in spec.units if u.group in ABOLISHED_GROUPS]
                 if new_deadline >= DISTRICTS_ABOLISHED and source.deadline < DISTRICTS_ABOLISHED else [])
    known = {u.code for u in spec.units}
    unknown = [c for c in leave_out if c not in known]
    if unknown:
        raise CloneRefused(f"Không có đơn vị mã {', '.join(unknown)} trong đợt {source.code}.",
                           f"No unit {', '.join(unknown)} in campaign {source.code}.", "leave_out")
    dropped = set(leave_out) | (set(abolished) if leave_out_abolished else set())
    dm = {m.what: m.new for m in moves}
    criteria = criteria_specs_of(source)
    new_spec = replace(
        spec, code=code, year=year, title=_new_text(source.title, source.year, year), deadline=new_deadline,
        document_number="", document_date=dm.get("document_date"),
        data_period=(dm.get("data_period_start"), dm.get("data_period_end")), state="draft",
        milestones=milestones, criteria=criteria or None,
        required_documents={g: [_new_text(d, source.year, year) for d in docs]
                            for g, docs in spec.required_documents.items()})
    # A commune whose district is left out loses only its parent link, not its place.
    new_spec.units = [u for u in spec.units if u.code not in dropped]
    new_spec.units = [replace(u, parent=None) if u.parent in dropped else u for u in new_spec.units]
    return ClonePlan(source, code, year, new_deadline, given, moves, warnings, abolished, new_spec,
                     sorted(dropped), sorted(spec.units, key=lambda u: (u.group, u.code)))


def label(what: str, lang: str = "vi") -> str:
    """The name of a date of the campaign."""
    names = {"deadline": ("Hạn nộp hồ sơ", "Submission deadline"),
             "document_date": ("Ngày văn bản triển khai", "Launching letter's date"),
             "data_period_start": ("Số liệu tính từ ngày", "Data period start"),
             "data_period_end": ("Số liệu tính đến ngày", "Data period end")}
    kind, _, part = what.partition(".")
    if kind in MILESTONES:
        vi, en, _state = MILESTONES[kind]
        if part == "start":
            vi, en = f"{vi} (bắt đầu)", f"{en} (start)"
    else:
        vi, en = names.get(what, (what, what))
    return vi if lang == "vi" else en


def clone_campaign(plan: ClonePlan, *, actor: str, now: datetime) -> Campaign:
    """Write the planned campaign as a new draft linked to the old one (the caller commits)."""
    # Checked again at write time: another clone may have been saved since the preview.
    again = plan_clone(plan.source, code=plan.code, year=plan.year, deadline=plan.deadline,
                       leave_out=plan.left_out)
    try:
        result = apply(again.spec, actor=actor, now=now, source=f"clone of {plan.source.code}")
    except CampaignFileError as exc:  # pragma: no cover - the spec comes from a stored campaign
        raise CloneRefused(exc.message, str(exc)) from None
    new = result.campaign
    new.previous_id = plan.source.id
    new.state = "draft"
    record(actor=actor, action="campaign.cloned", organizer_id=new.organizer_id, campaign_id=new.id,
           from_value=plan.source.code, to_value=f"{new.code} {new.year}, deadline {new.deadline}",
           reason="; ".join(f"left out {c}" for c in plan.left_out), at=now)
    db.session.flush()
    for hook in CLONE_HOOKS:
        hook(plan.source, new, actor=actor, now=now)
    return new


@dataclass(frozen=True)
class PreviousResult:
    score: object
    rank: int | None
    rating: str | None
    status: str


def previous_results(campaign: Campaign, now: datetime) -> dict[str, PreviousResult]:
    """The year before's score, rank and rating of each unit (by unit code); empty without a previous campaign."""
    if campaign.previous_id is None:
        return {}
    prev = db.session.get(Campaign, campaign.previous_id)
    if prev is None:
        return {}
    return {r.participation.unit.code: PreviousResult(r.score, r.rank, r.rating, r.status)
            for r in results(prev, now)}
