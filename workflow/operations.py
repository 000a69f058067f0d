"""Domain operations: change state, flush, write the audit entry, queue mail.

Views, CLI commands and scheduler jobs call one of these and commit; the pure
rules live in ``machine``, ``timeline``, ``standing`` and ``periods``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

from sqlalchemy import Table, and_, insert, literal, select, text, update

from notifications.queue import (
    PLANNED_NOT,
    drop_unplanned_reminders,
    plan_campaign_reminders,
    queue_confirmation_reminders,
    queue_exclusion_notices,
    queue_organizer_reminders,
    queue_receipt,
    queue_results,
    queue_tick_failure_notice,
    queue_unit_notice,
    queue_unit_notices,
    replan_reminders,
    rules_of,
)

from . import calendars, machine, revisions, standing, tally, tick_health
from .audit import SYSTEM, record
from .campaign_files import CampaignFileError, RulesError, apply, checked_reminder_rules, spec_of
from .campaigns import CHANNELS, calendar_of, out_of_range_dates, state_at, timeline_of, tz_of, unit_status_at
from .confirmation import lapse_rounds
from .criteria import has_criteria
from .dashboard import SelectedUnit, UnitSelection, selected_units
from .db import affected, db
from .models import (
    AuditEvent,
    CalendarOverride,
    Campaign,
    HolidayDecision,
    Milestone,
    Organizer,
    Participation,
    Submission,
    SubmissionDocument,
    Unit,
)
from .periods import DateOutOfRange, check_date, deadline_on
from .storage import StoredDocument, find_orphans
from .timeline import MILESTONES, grace_period
from .workdays import Override, VietnamCalendar, calendar_with, national_calendar

log = logging.getLogger(__name__)

class OperationError(Exception):
    """A refused operation; messages in Vietnamese and English, and the field at fault."""

    def __init__(self, message_vi: str, message_en: str, field: str | None = None, status: int = 409):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field
        self.status = status


# -- the campaign ------------------------------------------------------------

def launch(campaign: Campaign, *, actor: str, now: datetime) -> None:
    _apply_move(campaign, "launch", actor=actor, reason="", now=now)


def mark_step(campaign: Campaign, event: str, *, actor: str, now: datetime, reason: str = "") -> machine.Move:
    """A person marks a step done (review, inspection, awards, approval) or cancels."""
    advance_campaign(campaign, now)
    return _apply_move(campaign, event, actor=actor, reason=reason, now=now)


def _apply_move(campaign: Campaign, event: str, *, actor: str, reason: str, now: datetime) -> machine.Move:
    try:
        result = machine.move(campaign.state, event, reason)
    except machine.MoveRefused as exc:
        raise OperationError(exc.message_vi, exc.message_en, field="state") from exc
    campaign.state = result.after
    if event == "cancel":
        campaign.cancel_reason = reason
    note = reason
    if result.skipped:
        note = f"{reason} [skipped: {', '.join(result.skipped)}]"
    record(actor=actor, action=f"campaign.{event}", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           from_value=result.before, to_value=result.after, reason=note, at=now)
    db.session.flush()
    if result.after == "approved":
        queue_results(campaign, now)
    return result


def advance_campaign(campaign: Campaign, now: datetime, cal: VietnamCalendar | None = None) -> list[str]:
    """Record what time has done to a campaign (open → grace → review); audited."""
    if campaign.state not in ("open", "grace"):
        return []
    tl = timeline_of(campaign, cal=cal)
    new_state, events = machine.advance_by_time(
        campaign.state, deadline_passed=now >= tl.deadline_at, grace_ended=now >= tl.grace_ends_at)
    if not events:
        return []
    if "grace_ends" in events:
        exclude_silent_units(campaign, tl.grace_ends_at, now)
    for event in events:
        at = tl.deadline_at if event == "deadline_passes" else tl.grace_ends_at
        target = "grace" if event == "deadline_passes" else "preliminary_review"
        record(actor=SYSTEM, action=f"campaign.{event}", organizer_id=campaign.organizer_id,
               campaign_id=campaign.id, from_value=campaign.state, to_value=target, at=at)
        campaign.state = target
    campaign.state = new_state
    db.session.flush()
    return events


def exclude_silent_units(campaign: Campaign, grace_ends_at: datetime, now: datetime | None = None) -> int:
    """Exclude every unit that has sent nothing by grace end: set-based, idempotent.

    Two statements whatever the number of units: one INSERT … SELECT writes an
    audit entry per excluded unit, one UPDATE marks them.  Units reinstated
    with a reason are left alone.
    """
    silent = and_(Participation.campaign_id == campaign.id, Participation.status == "not_submitted",
                  Participation.reinstated_reason == "")
    reason = (f"Không gửi hồ sơ trước khi hết thời gian gia hạn ({campaign.grace_working_days} ngày làm việc "
              f"kể từ hạn chót {campaign.deadline:%d/%m/%Y})")
    audit_rows = select(
        literal(grace_ends_at, type_=AuditEvent.__table__.c.at.type), literal(SYSTEM), literal("unit.excluded"),
        literal(campaign.organizer_id), Participation.campaign_id, Participation.unit_id,
        literal("not_submitted"), literal("excluded"), literal(reason),
    ).where(silent)
    db.session.execute(insert(AuditEvent).from_select(
        ["at", "actor", "action", "organizer_id", "campaign_id", "unit_id", "from_value", "to_value", "reason"],
        audit_rows))

    queue_exclusion_notices(campaign, silent, now or grace_ends_at)
    result = db.session.execute(
        update(Participation).where(silent).values(status="excluded", excluded_at=grace_ends_at)
        .execution_options(synchronize_session=False))
    count = affected(result)
    if count:  # every unit's page of the campaign, and its dashboard, may show another status now
        revisions.touch(db.session(), (revisions.CAMPAIGN, campaign.id))
    # Participations already loaded in this session must not show the old status.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Participation) and obj.campaign_id == campaign.id:
            db.session.expire(obj)
    if count:
        log.info("campaign %s: %d unit(s) excluded at grace end", campaign.code, count)
    return count


def move_milestone(campaign: Campaign, kind: str, *, end: date, start: date | None = None, reason: str,
                   actor: str, now: datetime) -> None:
    """Move the deadline or a later milestone; needs a reason, audited."""
    if not reason.strip():
        raise OperationError("Cần ghi rõ lý do điều chỉnh mốc thời gian.", "A reason is required to move a milestone.",
                             field="reason", status=422)
    checked_dates(end=end, start=start)
    if start and start > end:
        raise OperationError("Ngày bắt đầu sau ngày kết thúc.", "The start date is after the end date.",
                             field="start", status=422)
    if out_of_range_dates(campaign):
        _repair_date(campaign, kind, end=end, start=start, reason=reason, actor=actor, now=now)
        return
    advance_campaign(campaign, now)  # what time has done first: the state must not be stale
    if kind == "deadline":
        if campaign.state not in ("draft", "open", "grace"):
            raise OperationError("Đã hết thời gian nhận hồ sơ; không thể dời hạn chót.",
                                 "Submissions are closed; the deadline can no longer move.", field="kind")
        old_deadline = campaign.deadline
        campaign.deadline = end
        # A deadline moved later can reopen submissions: the stored state follows.
        if campaign.state == "grace" and now < timeline_of(campaign).deadline_at:
            campaign.state = "open"
        record(actor=actor, action="milestone.moved", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=f"deadline {old_deadline.isoformat()}", to_value=f"deadline {end.isoformat()}", reason=reason, at=now)
        _reclassify(campaign)
    elif kind in MILESTONES:
        current = next((m for m in campaign.milestones if m.kind == kind), None)
        old = f"{kind} {current.start_date or ''}..{current.end_date}" if current else f"{kind} (none)"
        if current is None:
            campaign.milestones.append(Milestone(kind=kind, start_date=start, end_date=end))
        else:
            current.start_date, current.end_date = start, end
        record(actor=actor, action="milestone.moved", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=old, to_value=f"{kind} {start or ''}..{end}", reason=reason, at=now)
    else:
        raise OperationError(f"Không có mốc thời gian “{kind}”.", f"No milestone called {kind!r}.", field="kind",
                             status=422)
    db.session.flush()

    replan_reminders(campaign, now)


def checked_dates(**dates: date | None) -> None:
    """Refuse any date outside the one accepted range (periods.FIRST_DATE..LAST_DATE), naming the field.

    Every write of a date goes through here or ``periods.check_date``: the dashboard's forms, the API,
    the CLI, campaign files and calendar overrides."""
    for field, day in dates.items():
        if day is None:
            continue
        try:
            check_date(day, field)
        except DateOutOfRange as exc:
            raise OperationError(exc.message_vi, exc.message_en, field=field, status=422) from None


def _repair_date(campaign: Campaign, kind: str, *, end: date, start: date | None, reason: str, actor: str,
                 now: datetime) -> None:
    """The repair path: the campaign holds a stored date outside the range (nothing can be computed with it),
    so the date is written first, audited as ``milestone.repaired``; once every date is in range, what time has
    done is recorded as usual."""
    bad = out_of_range_dates(campaign)
    kinds = {k for k, _ in bad}
    if kind not in kinds:
        names = ", ".join(f"{k} {d.isoformat()}" for k, d in bad)
        raise OperationError(f"Đợt đánh giá có ngày nằm ngoài khoảng cho phép ({names}); hãy sửa ngày đó trước.",
                             f"The campaign holds dates outside the accepted range ({names}); repair those first.",
                             field="kind", status=409)
    if kind == "deadline":
        old = f"deadline {campaign.deadline.isoformat()}"
        campaign.deadline = end
    elif kind in MILESTONES:
        current = next(m for m in campaign.milestones if m.kind == kind)
        old = f"{kind} {current.start_date or ''}..{current.end_date}"
        current.start_date, current.end_date = start, end
    else:
        raise OperationError(f"Không thể sửa “{kind}” bằng lệnh này.", f"{kind!r} cannot be repaired here.",
                             field="kind", status=422)
    record(actor=actor, action="milestone.repaired", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           from_value=old, to_value=f"{kind} {start or ''}..{end}" if kind != "deadline" else f"deadline {end}",
           reason=reason, at=now)
    db.session.flush()
    if not out_of_range_dates(campaign):
        advance_campaign(campaign, now)
        replan_reminders(campaign, now)
        tick_health.clear_failure(campaign.id)


class MilestoneRefused(OperationError):
    """A milestone of an edit refused; ``kind`` says which (``deadline`` or a milestone kind)."""

    def __init__(self, kind: str, error: OperationError):
        super().__init__(error.message_vi, error.message_en, field=error.field, status=error.status)
        self.kind = kind


@dataclass(frozen=True)
class CampaignEdit:
    """What the campaign form changes: the timeline (which needs a reason) and the plain fields."""

    deadline: date
    grace_working_days: int
    #: kind -> (start or None, end); a kind left out is removed.
    milestones: dict[str, tuple[date | None, date]]
    title: str
    year: int
    document_number: str
    document_date: date | None
    data_period: tuple[date | None, date | None]
    commune_nomination: bool
    tiers: list[dict]
    council_emails: list[str]
    #: The score settings (``scoring`` and ``corrections`` of the campaign file); None leaves each as it is.
    score_maximum: Decimal | None = None
    score_bonus: Decimal | None = None
    correction_keeps_on_time: bool | None = None
    #: The reminder settings (``reminders`` of the campaign file), read by the one parser; None leaves them.
    reminder_rules: dict | None = None


def _scoring_text(maximum: Decimal, bonus: Decimal, keeps_on_time: bool) -> str:
    return (f"maximum={standing.stored_points(Decimal(maximum))} bonus={standing.stored_points(Decimal(bonus))} "
            f"corrections={'keep_on_time' if keeps_on_time else 'reclassify'}")


def _edit_scoring(campaign: Campaign, edit: CampaignEdit, *, actor: str, reason: str,
                  now: datetime) -> tuple[Decimal, Decimal, bool]:
    """The score settings of an edit, checked by the file import's own check and audited as one entry:
    (maximum, bonus, keeps on time)."""
    old_max = Decimal(campaign.score_maximum if campaign.score_maximum is not None else 100)
    old_bonus = Decimal(campaign.score_bonus or 0)
    old_keeps = campaign.correction_keeps_on_time is not False
    new_max = edit.score_maximum if edit.score_maximum is not None else old_max
    new_bonus = edit.score_bonus if edit.score_bonus is not None else old_bonus
    new_keeps = edit.correction_keeps_on_time if edit.correction_keeps_on_time is not None else old_keeps
    try:
        new_max, new_bonus = standing.checked_scoring(new_max, new_bonus)
    except standing.PointsRefused as exc:
        raise OperationError(exc.message_vi, exc.message_en, field="score_maximum", status=422) from None
    except standing.ScoringRefused as exc:
        raise OperationError(exc.message_vi, exc.message_en, field="score_bonus", status=422) from None
    if (new_max, new_bonus, new_keeps) != (old_max, old_bonus, old_keeps):
        record(actor=actor, action="scoring.changed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=_scoring_text(old_max, old_bonus, old_keeps),
               to_value=_scoring_text(new_max, new_bonus, new_keeps), reason=reason, at=now)
    return new_max, new_bonus, new_keeps


def set_reminder_rules(campaign: Campaign, data: dict | None, *, actor: str, now: datetime, reason: str = "") -> bool:
    """Replace the campaign's reminder rules (the form's, the CLI's), read by the campaign file's parser and
    audited as one ``reminders.changed`` entry.  Queued reminders the new rules no longer plan are dropped;
    what was sent stays sent, and a reminder still planned keeps its outbox key (never queued twice).
    Returns whether the rules changed."""
    wanted = checked_rules_or_refused(data)
    current = checked_rules_or_refused(campaign.reminder_rules)
    if wanted == current:
        return False
    record(actor=actor, action="reminders.changed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           from_value=json.dumps(current), to_value=json.dumps(wanted), reason=reason, at=now)
    campaign.reminder_rules = wanted
    db.session.flush()
    drop_unplanned_reminders(campaign, rules_of(campaign))
    return True


def edit_campaign(campaign: Campaign, edit: CampaignEdit, *, reason: str, actor: str, now: datetime,
                  source: str) -> list[str]:
    """Write an edit of the campaign: timeline moves with the reason (each audited), the grace period,
    milestones removed, then the plain fields through ``campaign_files.apply``.  Returns what changed
    (milestone kinds, ``grace_working_days``, ``fields``)."""
    reason = (reason or "").strip()
    moves: list[tuple[str, date | None, date]] = []
    removals: list[str] = []
    if edit.deadline != campaign.deadline:
        moves.append(("deadline", None, edit.deadline))
    current = {m.kind: (m.start_date, m.end_date) for m in campaign.milestones}
    for kind in MILESTONES:
        if kind in edit.milestones and edit.milestones[kind] != current.get(kind):
            moves.append((kind, *edit.milestones[kind]))
        elif kind not in edit.milestones and kind in current:
            removals.append(kind)
    grace_changed = edit.grace_working_days != campaign.grace_working_days
    done: list[str] = []
    if moves or removals or grace_changed:
        _require_reason(reason, "điều chỉnh mốc thời gian (được ghi vào nhật ký)", "change the timeline")
        # What time has already done (the deadline passed, grace ended) is recorded first.
        advance_campaign(campaign, now)
    for kind, start, end in moves:
        try:
            move_milestone(campaign, kind, start=start, end=end, reason=reason, actor=actor, now=now)
        except OperationError as exc:
            raise MilestoneRefused(kind, exc) from None
        done.append(kind)
    if grace_changed:
        if campaign.state not in ("draft", "open", "grace"):
            raise OperationError("Đã hết thời gian nhận hồ sơ; không thể đổi số ngày gia hạn.",
                                 "Submissions are closed; the grace period can no longer change.",
                                 field="grace_working_days")
        record(actor=actor, action="milestone.moved", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=f"grace_working_days {campaign.grace_working_days}",
               to_value=f"grace_working_days {edit.grace_working_days}", reason=reason, at=now)
        campaign.grace_working_days = edit.grace_working_days
        done.append("grace_working_days")
    for kind in removals:
        m = next(m for m in campaign.milestones if m.kind == kind)
        record(actor=actor, action="milestone.removed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=f"{kind} {m.start_date or ''}..{m.end_date}", reason=reason, at=now)
        campaign.milestones.remove(m)
        done.append(kind)
    if grace_changed or removals:
        db.session.flush()
        replan_reminders(campaign, now)
    if edit.reminder_rules is not None:
        checked = checked_rules_or_refused(edit.reminder_rules)  # refused before anything is written
    maximum, bonus, keeps_on_time = _edit_scoring(campaign, edit, actor=actor, reason=reason, now=now)
    before = spec_of(campaign)
    after = replace(before, title=edit.title.strip(), year=edit.year, document_number=edit.document_number.strip(),
                    document_date=edit.document_date, data_period=edit.data_period,
                    commune_nomination=edit.commune_nomination, tiers=edit.tiers, council_emails=edit.council_emails,
                    score_maximum=maximum, score_bonus=bonus, correction_keeps_on_time=keeps_on_time)
    if after != before:
        try:
            apply(after, actor=actor, now=now, source=source)
        except CampaignFileError as exc:
            raise OperationError(exc.message, str(exc), field="title", status=422) from None
        done.append("fields")
    if edit.reminder_rules is not None and set_reminder_rules(campaign, checked, actor=actor, now=now,
                                                              reason=reason):
        done.append("reminders")
    return done


def checked_rules_or_refused(data: dict | None) -> dict:
    """Reminder settings read by the campaign file's parser, or an OperationError naming the setting."""
    try:
        return checked_reminder_rules(data)
    except RulesError as exc:
        raise OperationError(exc.message_vi, str(exc), field=f"reminders.{exc.key}" if exc.key else "reminders",
                             status=422) from None


def _reclassify(campaign: Campaign) -> None:
    """After the deadline moved: on time and late follow the new dates."""
    tl = timeline_of(campaign)
    cal = calendar_of(campaign)
    for p in campaign.participations:
        if p.received_at is None or p.status not in ("on_time", "late"):
            continue
        c = standing.classify(p.received_at, campaign.deadline, tl.grace_ends_at, cal, tz_of(campaign),
                              allow_after_grace=True)
        if (c.status, c.late_working_days) != (p.status, p.late_working_days):
            record(actor=SYSTEM, action="unit.reclassified", organizer_id=campaign.organizer_id,
                   campaign_id=campaign.id, unit_id=p.unit_id, from_value=p.status, to_value=c.status,
                   reason="deadline moved")
            p.status, p.late_working_days = c.status, c.late_working_days


# -- submissions ---------------------------------------------------------------

@dataclass(frozen=True)
class DocumentInput:
    """A document of a dossier: stored here, or only its SHA-256 (kept in e-office)."""

    original_name: str
    sha256: str
    stored: StoredDocument | None = None
    size: int | None = None


def participation_of(campaign: Campaign, unit: Unit) -> Participation:
    p = db.session.scalar(select(Participation).where(Participation.campaign_id == campaign.id,
                                                      Participation.unit_id == unit.id))
    if p is None:
        raise OperationError(f"Đơn vị {unit.code} không tham gia đợt đánh giá {campaign.code}.",
                             f"Unit {unit.code} does not take part in campaign {campaign.code}.", field="unit",
                             status=404)
    return p


def check_received(channel: str, received_at: datetime, doc_number: str, now: datetime) -> None:
    """The rules every received dossier follows, whatever its kind (evaluation or award): a known channel,
    an aware instant not in the future, an incoming document number for e-office and e-mail."""
    if channel not in CHANNELS:
        raise OperationError(f"Kênh gửi không hợp lệ: {channel}.", f"Unknown channel {channel!r}.", field="channel",
                             status=422)
    if received_at.tzinfo is None:
        raise OperationError("Thời điểm nhận phải có múi giờ.", "The received instant needs a time zone.",
                             field="received_at", status=422)
    if channel in ("eoffice", "email") and not doc_number.strip():
        raise OperationError("Hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử phải có số văn bản đến.",
                             "A dossier received through e-office or e-mail needs its incoming document number.",
                             field="doc_number", status=422)
    if received_at > now:
        raise OperationError("Thời điểm nhận hồ sơ ở tương lai.", "The received instant is in the future.",
                             field="received_at", status=422)


def check_filed_by_unit(channel: str, received_at: datetime, doc_number: str, documents: Sequence[DocumentInput],
                        now: datetime) -> None:
    """The unit files its own dossier (its focal point's upload, its API token).  A unit sends documents,
    here, now: its dossier holds at least one document whose content is stored here (a dossier without
    documents would replace the version that had them), and the channels and incoming document numbers
    of the organizer's e-office and mailbox are the organizer's staff's to record, not the unit's to claim."""
    if channel != "upload":
        raise OperationError(
            "Chỉ cán bộ của cơ quan tổ chức ghi nhận hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử; "
            "đơn vị nộp hồ sơ trực tuyến.",
            "Only the organizer's staff record dossiers received through e-office or e-mail; a unit uploads.",
            field="channel", status=403)
    if doc_number.strip():
        raise OperationError("Số văn bản đến do văn thư của cơ quan tổ chức ghi; đơn vị không tự ghi.",
                             "The incoming document number is the organizer's registry's to record, not the unit's.",
                             field="doc_number", status=403)
    if received_at != now:
        raise OperationError("Hồ sơ của đơn vị được nhận vào lúc gửi tới; đơn vị không tự ghi thời điểm nhận.",
                             "A unit's dossier is received when it arrives; the unit does not date it.",
                             field="received_at", status=403)
    if not documents or any(doc.stored is None for doc in documents):
        raise OperationError("Hồ sơ cần ít nhất một tài liệu, gửi kèm nội dung tệp.",
                             "A dossier needs at least one document, sent with its content.",
                             field="documents", status=422)


def new_submission(*, version: int, received_at: datetime, channel: str, doc_number: str, recorded_by: str,
                   late_working_days: int, receipt_number: str, documents: Sequence[DocumentInput],
                   kind: str = "evaluation") -> Submission:
    """A received dossier's row with its documents (not yet added to the session)."""
    sub = Submission(kind=kind, version=version, received_at=received_at, channel=channel,
                     doc_number=doc_number.strip(), recorded_by=recorded_by, late_working_days=late_working_days,
                     receipt_number=receipt_number)
    for doc in documents:
        s = doc.stored
        sub.documents.append(SubmissionDocument(
            original_name=doc.original_name, stored_name=s.stored_name if s else "", sha256=doc.sha256,
            size=s.size if s else doc.size, content_type=s.content_type if s else ""))
    return sub


def record_submission(campaign: Campaign, unit: Unit, *, received_at: datetime, channel: str, recorded_by: str,
                      now: datetime, doc_number: str = "", documents: Sequence[DocumentInput] = (),
                      by_unit: bool = False) -> Submission:
    """Record a dossier received through any channel; classify it by its received instant.

    Uploads use this server's clock (``received_at`` is ``now``); e-office and
    e-mail dossiers carry the instant the organizer's staff record and the
    incoming document number.  ``by_unit``: the unit files it itself
    (:func:`check_filed_by_unit`).
    """
    if by_unit and channel in CHANNELS:  # (an unknown channel: check_received's 422)
        check_filed_by_unit(channel, received_at, doc_number, documents, now)
    check_received(channel, received_at, doc_number, now)
    if campaign.state in ("draft", "cancelled"):
        raise OperationError("Đợt đánh giá chưa mở nhận hồ sơ hoặc đã hủy.",
                             "The campaign is not accepting submissions.", field="campaign")
    p = participation_of(campaign, unit)
    tl = timeline_of(campaign)
    reinstated = bool(p.reinstated_reason)
    in_time = received_at < tl.grace_ends_at
    reversed_exclusion = False
    if in_time:
        # A dossier that arrived in time counts, even when staff record it after
        # the tick excluded the unit: the exclusion is reversed, on record.
        reversed_exclusion = p.status == "excluded"
    elif p.status == "returned" or (reinstated and p.status == "not_submitted"):
        pass  # answering a return for correction, or reinstated by the organizer
    elif unit_status_at(p, True) == "excluded":
        raise OperationError(
            f"Đơn vị {unit.code} đã bị loại khỏi đánh giá (không gửi hồ sơ trước khi hết thời gian gia hạn); "
            "không tiếp nhận hồ sơ mới. Chỉ cơ quan tổ chức có thể khôi phục, kèm lý do bằng văn bản.",
            f"Unit {unit.code} has been excluded (nothing sent before the grace period ended); no new dossier is "
            "accepted. Only the organizer can reinstate it, with a written reason.", field="unit")
    else:
        raise OperationError(
            "Đã hết thời gian nhận hồ sơ (kể cả thời gian gia hạn): không tiếp nhận hồ sơ thay thế.",
            "The submission period (grace included) has ended: no replacement dossier is accepted.",
            field="received_at")
    status_now = p.status
    try:
        c = standing.classify(received_at, campaign.deadline, tl.grace_ends_at, calendar_of(campaign), tz_of(campaign),
                              allow_after_grace=not in_time)
    except standing.SubmissionRefused as exc:  # pragma: no cover - refused above
        raise OperationError(exc.message_vi, exc.message_en, field="received_at") from exc
    version = len(p.submissions) + 1
    before = p.status
    # A correction of a dossier received on time keeps its on-time standing (the campaign's setting, on by
    # default): the unit stays on time with its first instant, and the correction is marked with its own.
    keeps_on_time = (campaign.correction_keeps_on_time is not False and in_time and c.status == "late"
                     and p.status in ("on_time", "resubmitted") and p.late_working_days == 0
                     and p.received_at is not None and p.received_at < tl.deadline_at)
    first_received = p.received_at
    if status_now == "returned":
        new_status, late_days = "resubmitted", p.late_working_days
    elif keeps_on_time:
        new_status, late_days = p.status, 0
    else:
        new_status, late_days = c.status, c.late_working_days
    sub = new_submission(version=version, received_at=received_at, channel=channel, doc_number=doc_number,
                         recorded_by=recorded_by, late_working_days=late_days,
                         receipt_number=f"{campaign.code}/{unit.code}/{version}", documents=documents)
    p.submissions.append(sub)
    p.status, p.late_working_days, p.received_at = new_status, late_days, received_at
    if keeps_on_time:
        p.received_at, p.corrected_at = first_received, received_at
    elif status_now != "returned":
        p.corrected_at = None
    p.returned_reason = "" if new_status == "resubmitted" else p.returned_reason
    record(actor=recorded_by, action="submission.received", organizer_id=campaign.organizer_id,
           campaign_id=campaign.id, unit_id=unit.id, from_value=before,
           to_value=f"{new_status} v{version} {received_at.isoformat()} via {channel}"
                    + (f" #{doc_number}" if doc_number else "")
                    + (f" corrected (on time since {first_received.isoformat()})" if keeps_on_time and first_received
                       else ""), at=now)
    if reversed_exclusion:
        record(actor=recorded_by, action="unit.exclusion_reversed", organizer_id=campaign.organizer_id,
               campaign_id=campaign.id, unit_id=unit.id, from_value="excluded", to_value=new_status,
               reason=f"dossier received {received_at.isoformat()} before grace end"
                      + (f", incoming document #{doc_number}" if doc_number else ""), at=now)
        p.excluded_at = None
    db.session.flush()

    queue_receipt(campaign, unit, sub, now)
    return sub


#: How old a file must be before it may be taken for an orphan: far above the longest request (WEB_TIMEOUT
#: 60 s), so a dossier being recorded now (files written, rows not yet committed) is never touched.
ORPHAN_MIN_AGE = timedelta(hours=1)


def referenced_files() -> set[str]:
    """Every stored file name a row refers to: any table with a ``stored_name`` column counts (dossier
    documents, evidence files, milestone documents, the People's Committee decision, and whatever table is
    added later), so that the orphan cleaner can never delete a file a page still offers for download."""
    names: set[str] = set()
    for table in db.metadata.tables.values():
        column = table.c.get("stored_name")
        if column is not None:
            names.update(n for n in db.session.scalars(select(column).where(column != "")) if n)
    return names


def clean_orphan_files(folder: str | Path, now: datetime, *, delete: bool = True,
                       min_age: timedelta = ORPHAN_MIN_AGE) -> dict[str, int]:
    """Find (and unless ``delete`` is False, remove) the upload folder's orphans: ``.part`` files of
    uploads killed while writing, and stored files no dossier refers to (the request died between
    writing its files and committing its rows).  Run at the scheduler's start and every
    FILES_CLEAN_SECONDS (cli/jobs.py), and by ``flask files orphans``; reads, never writes, the database."""
    referenced = referenced_files()
    found = find_orphans(folder, referenced, older_than=(now - min_age).timestamp())
    summary = {"partial": len(found.partial), "unreferenced": len(found.unreferenced), "bytes": found.size,
               "removed": 0}
    if delete:
        for path in [*found.partial, *found.unreferenced]:
            try:
                path.unlink(missing_ok=True)
                summary["removed"] += 1
            except OSError as exc:
                log.warning("could not remove orphan %s: %s", path, exc)
        if summary["removed"]:
            log.info("removed %d orphan upload file(s) (%d bytes)", summary["removed"], summary["bytes"])
    return summary


def _require_reason(reason: str, what_vi: str, what_en: str) -> str:
    if not (reason or "").strip():
        raise OperationError(f"Cần ghi rõ lý do {what_vi}.", f"A written reason is required to {what_en}.",
                             field="reason", status=422)
    return reason.strip()


def reinstate(campaign: Campaign, unit: Unit, *, reason: str, actor: str, now: datetime) -> Participation:
    """Reverse an exclusion with a written reason that stays on the unit's record."""
    reason = _require_reason(reason, "khôi phục đơn vị", "reinstate a unit")
    advance_campaign(campaign, now)
    p = participation_of(campaign, unit)
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    if unit_status_at(p, grace_ended) != "excluded":
        raise OperationError(f"Đơn vị {unit.code} không bị loại, không cần khôi phục.",
                             f"Unit {unit.code} is not excluded.", field="unit")
    p.status = "not_submitted"
    p.reinstated_reason, p.reinstated_at, p.excluded_at = reason, now, None
    record(actor=actor, action="unit.reinstated", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value="excluded", to_value="not_submitted", reason=reason, at=now)
    db.session.flush()

    queue_unit_notice(campaign, unit, "reinstated", reason=reason, occurrence=now.isoformat(), now=now)
    return p


#: Recorded statuses of a unit whose dossier can be returned for correction.
RETURNABLE = ("on_time", "late", "resubmitted", "confirmed")


def return_dossier(campaign: Campaign, unit: Unit, *, reason: str, actor: str, now: datetime) -> Participation:
    reason = _require_reason(reason, "trả lại hồ sơ", "return a dossier")
    p = participation_of(campaign, unit)
    if p.status not in RETURNABLE:
        raise OperationError("Đơn vị chưa có hồ sơ để trả lại.", "The unit has no dossier to return.", field="unit")
    before = p.status
    p.status, p.returned_reason = "returned", reason
    record(actor=actor, action="submission.returned", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value=before, to_value="returned", reason=reason, at=now)
    db.session.flush()

    queue_unit_notice(campaign, unit, "returned", reason=reason, occurrence=now.isoformat(), now=now)
    return p


def request_confirmation(campaign: Campaign, unit: Unit, *, actor: str, now: datetime, note: str = "") -> Participation:
    """Send the aggregated figures back to the unit to confirm (seed 004)."""
    _no_criteria(campaign)
    p = participation_of(campaign, unit)
    if p.status not in ("on_time", "late", "resubmitted"):
        raise OperationError("Chỉ gửi xác nhận số liệu cho đơn vị đã nộp hồ sơ hợp lệ.",
                             "Figures can be sent for confirmation only to a unit with an accepted dossier.",
                             field="unit")
    p.confirmation_requested_at = now
    record(actor=actor, action="figures.sent_for_confirmation", organizer_id=campaign.organizer_id,
           campaign_id=campaign.id, unit_id=unit.id, reason=note, at=now)
    db.session.flush()

    queue_unit_notice(campaign, unit, "confirmation", reason=note, occurrence=now.isoformat(), now=now)
    return p


def confirm_figures(campaign: Campaign, unit: Unit, *, actor: str, now: datetime) -> Participation:
    _no_criteria(campaign)
    p = participation_of(campaign, unit)
    if p.confirmation_requested_at is None:
        raise OperationError("Chưa có số liệu nào được gửi để xác nhận.", "No figures were sent for confirmation.",
                             field="unit")
    if p.status not in ("on_time", "late", "resubmitted", "confirmed"):
        raise OperationError(f"Không thể xác nhận số liệu khi hồ sơ ở trạng thái “{standing.status_name(p.status)}”.",
                             f"Figures cannot be confirmed while the dossier is {standing.status_name(p.status, 'en')}.",
                             field="unit")
    before = p.status
    p.status = "confirmed"
    record(actor=actor, action="figures.confirmed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value=before, to_value="confirmed", at=now)
    db.session.flush()
    return p


def score_ceiling(campaign: Campaign) -> Decimal:
    """The highest score a unit can have: the campaign's declared maximum plus its declared bonus."""
    maximum = Decimal(campaign.score_maximum if campaign.score_maximum is not None else 100)
    return maximum + Decimal(campaign.score_bonus or 0)


def _no_criteria(campaign: Campaign) -> None:
    """With a criteria set, scores and the confirmation round come from the criteria (workflow.evaluation)."""
    if has_criteria(campaign.id):
        raise OperationError(
            "Đợt đánh giá có bộ tiêu chí: điểm được tính từ phiếu đánh giá theo từng tiêu chí và số liệu được "
            "xác nhận theo từng tiêu chí, không nhập một con số.",
            "This campaign has a criteria set: scores come from the sheets, criterion by criterion, and figures "
            "are confirmed per criterion; a single number cannot be entered.", field="campaign")


def set_scores(campaign: Campaign, unit: Unit, *, actor: str, now: datetime, self_score: Decimal | None = None,
               verified_score: Decimal | None = None, reason: str = "") -> Participation:
    """Enter the self-assessed and/or verified score; a verified score marks the unit verified."""
    _no_criteria(campaign)
    p = participation_of(campaign, unit)
    status = unit_status_at(p, now >= timeline_of(campaign).grace_ends_at)
    if status in ("excluded", "not_submitted"):
        raise OperationError(f"Đơn vị {unit.code} không được đánh giá, xếp hạng ({standing.status_name(status)}).",
                             f"Unit {unit.code} is not evaluated ({standing.status_name(status, 'en')}).",
                             field="unit")
    highest = score_ceiling(campaign)
    for name, value in (("self_score", self_score), ("verified_score", verified_score)):
        if value is None:
            continue
        if not value.is_finite() or not (Decimal(0) <= value <= Decimal(1000)):
            raise OperationError("Điểm phải từ 0 đến 1000.", "A score must be between 0 and 1000.", field=name,
                                 status=422)
        if value > highest or value != value.quantize(Decimal("0.01")):
            raise OperationError(
                f"Điểm phải từ 0 đến {highest} (điểm tối đa {campaign.score_maximum}, điểm thưởng "
                f"{campaign.score_bonus}), tối đa hai chữ số thập phân; nhận được {value}.",
                f"A score must be between 0 and {highest} (maximum {campaign.score_maximum}, bonus "
                f"{campaign.score_bonus}) with at most two decimals; got {value}.", field=name, status=422)
    before = f"self={p.self_score} verified={p.verified_score}"
    if self_score is not None:
        p.self_score = self_score
    if verified_score is not None:
        p.verified_score = verified_score
        p.status = "verified"
    record(actor=actor, action="scores.entered", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value=before, to_value=f"self={p.self_score} verified={p.verified_score}",
           reason=reason, at=now)
    db.session.flush()
    return p


def nominate(campaign: Campaign, unit: Unit, *, actor: str, now: datetime,
             by_district: Unit | None = None) -> Participation:
    """A district nominates its leading commune (seed 000); one per district.  The organizer may nominate for
    any district; a district coordinator (``by_district``: their district) only among its own communes."""
    p = participation_of(campaign, unit)
    if unit.parent_id is None:
        raise OperationError("Chỉ đơn vị cấp xã (có huyện quản lý) mới được đề cử.",
                             "Only a commune under a district can be nominated.", field="unit")
    if by_district is not None and unit.parent_id != by_district.id:
        raise OperationError(f"Đơn vị {unit.code} không thuộc {by_district.name}; chỉ đề cử xã của huyện mình.",
                             f"Unit {unit.code} is not under {by_district.code}; a district nominates only its own "
                             "communes.", field="unit", status=403)
    siblings = db.session.scalars(
        select(Participation).join(Unit).where(Participation.campaign_id == campaign.id,
                                               Unit.parent_id == unit.parent_id, Participation.nominated)).all()
    for other in siblings:
        if other.id != p.id:
            other.nominated = False
    p.nominated = True
    record(actor=actor, action="unit.nominated", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, to_value="nominated", at=now)
    db.session.flush()
    return p


def _notify_failure(campaign_id: int, now: datetime) -> None:
    """Tell the organizer's mailbox, once a day, that this campaign's work fails (in its own savepoint:
    a notice that cannot be queued stops nothing)."""
    savepoint = db.session.begin_nested()
    try:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is not None:
            queue_tick_failure_notice(campaign, now)
        db.session.flush()
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        log.exception("tick: the failure notice of campaign #%s could not be queued", campaign_id)


def run_tick(now: datetime) -> dict[str, int]:
    """The time-driven work as of ``now``: campaign moves, exclusions, reminder planning.

    Idempotent: running it twice, or after downtime, does each thing once.
    Each campaign's work runs in its own savepoint: a campaign that fails (data
    out of range, a bug) is rolled back, logged, recorded in ``tick_failure``
    (shown on its dashboard and in the organizer's digest) and retried on the
    next tick, while every other campaign proceeds.
    """
    now = now.astimezone(UTC)
    ids = db.session.scalars(select(Campaign.id).where(Campaign.state.notin_(PLANNED_NOT))
                             .order_by(Campaign.id)).all()
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if not postgres:
        # SQLite: take the write lock first (a no-op write, waiting on busy_timeout).  A savepoint opened
        # outside a transaction starts a deferred one whose later upgrade to writing fails at once with
        # "database is locked" when another process writes; this way a second tick waits its turn.
        db.session.execute(text("UPDATE campaign SET id = id WHERE 0 = 1"))
    checked = moved = planned = failed = 0
    calendars: dict[int, VietnamCalendar] = {}
    for campaign_id in ids:
        savepoint = db.session.begin_nested()
        organizer_id = None
        try:
            query = select(Campaign).where(Campaign.id == campaign_id)
            if postgres:
                # Two ticks at once (two schedulers, a scheduler and `flask tick`):
                # each campaign is moved by one of them only.
                query = query.with_for_update(skip_locked=True, of=Campaign)
            campaign = db.session.scalar(query)
            if campaign is None or campaign.state in PLANNED_NOT:
                savepoint.commit()
                continue
            organizer_id = campaign.organizer_id
            running = campaign.state in ("open", "grace")
            bad = [(k, d) for k, d in out_of_range_dates(campaign) if k == "deadline" or k in MILESTONES]
            if bad:
                raise DateOutOfRange(bad[0][1], bad[0][0])
            cal = calendars.get(campaign.organizer_id)
            if cal is None:
                cal = calendars[campaign.organizer_id] = calendar_of(campaign)
            was_moved = bool(advance_campaign(campaign, now, cal))
            queued = plan_campaign_reminders(campaign, now)
            tick_health.clear_failure(campaign_id)
            db.session.flush()
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            failed += 1
            log.exception("tick: campaign #%s failed; the others go on, it is retried next tick", campaign_id)
            if organizer_id is None:
                organizer_id = db.session.scalar(select(Campaign.organizer_id).where(Campaign.id == campaign_id))
            tick_health.record_failure(campaign_id, cast(int, organizer_id), exc, now)
            _notify_failure(campaign_id, now)
            continue
        checked += running
        moved += was_moved
        planned += queued
    # Figures-confirmation rounds past their deadline close (not disputed in time), and their reminders
    # go out: in a savepoint of their own, so that a failure there stops no campaign's work above.
    rounds_closed = 0
    savepoint = db.session.begin_nested()
    try:
        rounds_closed = lapse_rounds(now)
        planned += queue_confirmation_reminders(now)
        db.session.flush()
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        failed += 1
        log.exception("tick: the figures-confirmation rounds failed; retried next tick")
    folded = 0
    savepoint = db.session.begin_nested()
    try:
        folded = tally.compact_tallies()
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        failed += 1
        log.exception("tick: folding the standing tally failed; retried next tick")
    db.session.flush()
    return {"campaigns_checked": checked, "campaigns_moved": moved, "reminders_queued": planned,
            "campaigns_failed": failed, "confirmation_rounds_closed": rounds_closed, "tally_rows_folded": folded}


# -- calendar changes after the fact -------------------------------------------------

@dataclass(frozen=True)
class CalendarImpact:
    """What a calendar change does to a campaign whose deadline or grace end has passed (or would)."""

    campaign: Campaign
    #: (``deadline`` | ``grace_end``, the instant before, the instant after)
    moves: tuple[tuple[str, datetime, datetime], ...]
    #: Codes of the units whose standing the change touches: excluded units a later grace end would reopen,
    #: dossiers received between the old and the new instant.
    units: tuple[str, ...]


class CalendarChangeNeedsReasons(OperationError):
    """The change moves a passed deadline or grace end: the organizer's written reason is needed per campaign."""

    def __init__(self, impacts: list[CalendarImpact], missing: list[str]):
        codes = ", ".join(missing)
        super().__init__(
            f"Thay đổi lịch này dời hạn chót hoặc thời hạn gia hạn đã qua của đợt {codes}; cần ghi lý do bằng văn "
            "bản cho từng đợt.",
            f"This calendar change moves a passed deadline or grace end of {codes}; a written reason is required "
            "for each of these campaigns.", field="campaign_reasons", status=409)
        self.impacts = impacts
        self.missing = missing


def calendar_change_impact(overrides_after: Sequence[Override], organizer_id: int | None,
                           now: datetime) -> list[CalendarImpact]:
    """The campaigns (of the organizer, or of every organizer for a nationwide change) whose passed deadline or
    grace end the calendar ``overrides_after`` would move (or move into the past), with the units touched."""
    query = select(Campaign).where(Campaign.state.notin_(("draft", "cancelled"))).order_by(Campaign.code)
    if organizer_id is not None:
        query = query.where(Campaign.organizer_id == organizer_id)
    impacts = []
    for campaign in db.session.scalars(query):
        if out_of_range_dates(campaign):
            continue
        before_cal = calendar_of(campaign)
        after_cal = calendar_with([o for o in overrides_after
                                   if o.scope is None or o.scope == str(campaign.organizer_id)])
        tz = tz_of(campaign)
        old_dl, new_dl = deadline_on(campaign.deadline, before_cal, tz), deadline_on(campaign.deadline, after_cal, tz)
        old_gr = grace_period(campaign.deadline, campaign.grace_working_days, before_cal, tz)
        new_gr = grace_period(campaign.deadline, campaign.grace_working_days, after_cal, tz)
        moves = tuple((what, old.ends_at, new.ends_at)
                      for what, old, new in (("deadline", old_dl, new_dl), ("grace_end", old_gr, new_gr))
                      if old.ends_at != new.ends_at and min(old.ends_at, new.ends_at) <= now)
        if not moves:
            continue
        touched = set()
        for p in campaign.participations:
            for what, old, new in moves:
                lo, hi = min(old, new), max(old, new)
                if what == "grace_end" and p.status == "excluded" and new > old:
                    touched.add(p.unit.code)
                if p.received_at is not None and lo <= p.received_at < hi:
                    touched.add(p.unit.code)
        impacts.append(CalendarImpact(campaign, moves, tuple(sorted(touched))))
    return impacts


def _overrides_now(organizer_id: int | None) -> list[Override]:
    """Every override and decision in force for the organizer's campaigns (its own and everyone's), or all of
    them (every organizer's, each with its scope) for a change made for everyone."""
    return calendars.in_force(organizer_id, every_scope=organizer_id is None)


def _apply_calendar_change(impacts: list[CalendarImpact], campaign_reasons: dict[str, str], *, what: str,
                           actor: str, now: datetime) -> None:
    reasons = {code: (text or "").strip() for code, text in (campaign_reasons or {}).items()}
    missing = [i.campaign.code for i in impacts if not reasons.get(i.campaign.code)]
    if missing:
        raise CalendarChangeNeedsReasons(impacts, missing)
    for impact in impacts:
        c = impact.campaign
        moved = "; ".join(f"{kind} {old.astimezone(tz_of(c)).isoformat()} -> {new.astimezone(tz_of(c)).isoformat()}"
                          for kind, old, new in impact.moves)
        record(actor=actor, action="calendar.change_after_the_fact", organizer_id=c.organizer_id, campaign_id=c.id,
               from_value=what, to_value=moved + (f"; units: {', '.join(impact.units)}" if impact.units else ""),
               reason=reasons[c.code], at=now)


def add_calendar_override(*, day: date, kind: str, reason: str, document: str, organizer: Organizer | None,
                          actor: str, now: datetime, campaign_reasons: dict[str, str] | None = None
                          ) -> CalendarOverride:
    """Add a local day off or working day.  When it would move a deadline or grace end that has passed (or
    bring one into the past), every affected campaign needs the organizer's written reason
    (``campaign_reasons``: campaign code -> reason), else :class:`CalendarChangeNeedsReasons` lists them and
    nothing changes; with them, each affected campaign's audit records the person, the moves and the reason."""
    checked_dates(day=day)
    organizer_id = organizer.id if organizer else None
    new = Override(day=day, kind=kind, reason=reason, document=document,  # type: ignore[arg-type]
                   scope=None if organizer_id is None else str(organizer_id))
    after = _in_order([o for o in _overrides_now(organizer_id) if not (o.day == day and o.scope == new.scope
                                                                          and o.settles is None)] + [new])
    impacts = calendar_change_impact(after, organizer_id, now)
    _apply_calendar_change(impacts, campaign_reasons or {}, what=f"{day.isoformat()} {kind} added: {reason}",
                           actor=actor, now=now)
    return calendars.add_override(day=day, kind=kind, reason=reason, document=document, organizer=organizer,
                                  actor=actor)


def remove_calendar_override(override_id: int, *, actor: str, now: datetime, reason: str = "",
                             campaign_reasons: dict[str, str] | None = None) -> CalendarOverride:
    """Remove an override, by the same rule as :func:`add_calendar_override`."""
    row = db.session.get(CalendarOverride, override_id)
    if row is None:
        raise OperationError(f"Không có quyết định #{override_id}.", f"No override #{override_id}.", field="id",
                             status=404)
    after = [o for o in _overrides_now(row.organizer_id)
             if not (o.day == row.day and o.scope == (None if row.organizer_id is None else str(row.organizer_id)))]
    impacts = calendar_change_impact(after, row.organizer_id, now)
    _apply_calendar_change(impacts, campaign_reasons or {}, what=f"{row.day.isoformat()} {row.kind} removed",
                           actor=actor, now=now)
    return calendars.remove_override(override_id, actor=actor, reason=reason)


# -- unconfirmed days off ------------------------------------------------------------

DECISIONS = {"confirmed": ("xác nhận là ngày nghỉ", "confirmed as a day off"),
             "rejected": ("không công nhận là ngày nghỉ (ngày làm việc)", "rejected (a working day)")}


def _in_order(overrides: Sequence[Override]) -> list[Override]:
    """As :func:`calendars.in_force` orders them: by day, everyone's first, a decision after an override."""
    return sorted(overrides, key=lambda o: (o.day, o.scope is not None, o.settles is not None))


def decide_unconfirmed_holiday(*, day: date, decision: str, doc_number: str, doc_date: date | None,
                               doc_issuer: str, organizer: Organizer | None, actor: str, now: datetime,
                               stored: StoredDocument | None = None,
                               campaign_reasons: dict[str, str] | None = None) -> HolidayDecision:
    """Confirm or reject, with the document that decides it, a day off the holidays package lists but no
    enacted source confirms (24/11/2026 "Ngày Văn hóa Việt Nam"), for one organizer (``organizer``) or for
    everyone (``None``: the operator's CLI, ``flask workdays confirm-holiday --scope all``).  Once per scope:
    a second decision is refused, as is a province's when one was made for everyone.  Confirmed: it stays a
    day off, explained with the document.  Rejected: a working day in that scope; when that moves a passed
    deadline or grace end, each affected campaign needs a written reason (:class:`CalendarChangeNeedsReasons`),
    exactly as for a local day off added after the fact.  Audited."""
    if decision not in DECISIONS:
        raise OperationError("Quyết định phải là xác nhận hoặc không công nhận.",
                             "The decision must be confirmed or rejected.", field="decision", status=422)
    checked_dates(day=day, doc_date=doc_date)
    number, issuer = (doc_number or "").strip(), (doc_issuer or "").strip()
    if not number or doc_date is None or not issuer:
        raise OperationError("Cần số, ngày và cơ quan ban hành của văn bản quyết định.",
                             "The deciding document's number, date and issuer are required.", field="doc_number",
                             status=422)
    if len(number) > 128 or len(issuer) > 255:
        raise OperationError("Số văn bản (tối đa 128 ký tự) hoặc cơ quan ban hành (tối đa 255 ký tự) quá dài.",
                             "The document number (at most 128 characters) or issuer (at most 255) is too long.",
                             field="doc_number", status=422)
    national = national_calendar().day_status(day)
    if not national.unconfirmed:
        raise OperationError(f"Ngày {day:%d/%m/%Y} không phải ngày nghỉ chưa xác nhận.",
                             f"{day:%d/%m/%Y} is not an unconfirmed day off.", field="day", status=422)
    organizer_id = organizer.id if organizer else None
    earlier = db.session.scalars(select(HolidayDecision).where(HolidayDecision.day == day)).all()
    for row in earlier:
        if row.organizer_id is None or row.organizer_id == organizer_id:
            who_vi = "cho mọi tỉnh" if row.organizer_id is None else "cho tỉnh này"
            who_en = "for everyone" if row.organizer_id is None else "for this organizer"
            raise OperationError(
                f"Ngày {day:%d/%m/%Y} đã được quyết định {who_vi} ({DECISIONS[row.decision][0]}, theo "
                f"{calendars.cite(row.doc_number, row.doc_date, row.doc_issuer)}).",
                f"{day:%d/%m/%Y} was already decided {who_en} ({DECISIONS[row.decision][1]}, per "
                f"{calendars.cite_en(row.doc_number, row.doc_date, row.doc_issuer)}).", field="day", status=409)
    scope = None if organizer_id is None else str(organizer_id)
    confirmed = decision == "confirmed"
    new = Override(day=day, kind="day_off" if confirmed else "working_day", reason=national.name_vi,
                   document=calendars.cite(number, doc_date, issuer), scope=scope, reason_en=national.name_en,
                   settles=decision, document_en=calendars.cite_en(number, doc_date, issuer))
    after = _in_order([*_overrides_now(organizer_id), new])
    impacts = calendar_change_impact(after, organizer_id, now)
    _apply_calendar_change(impacts, campaign_reasons or {}, actor=actor, now=now,
                           what=f"{day.isoformat()} {national.name_vi} {decision} ({new.document})")
    row = HolidayDecision(organizer_id=organizer_id, day=day, decision=decision, name=national.name_vi,
                          doc_number=number, doc_date=doc_date, doc_issuer=issuer,
                          original_name=stored.original_name if stored else "",
                          stored_name=stored.stored_name if stored else "", sha256=stored.sha256 if stored else "",
                          decided_by=actor, decided_at=now)
    db.session.add(row)
    db.session.flush()
    record(actor=actor, action=f"calendar.holiday_{decision}", organizer_id=organizer_id,
           to_value=f"{day.isoformat()} {decision}: {national.name_vi} ({new.document})"
           + (f" [{stored.original_name} sha256 {stored.sha256}]" if stored else ""), at=now)
    return row


# -- bulk actions on the units table ------------------------------------------------

#: The bulk actions and the audit action that marks each click as done (its ``to_value`` names the click).
BULK_ACTIONS = {"remind": "bulk.reminded", "return": "bulk.returned", "export": ""}
_CLICK = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class BulkPlan:
    """What a bulk action would do: the units it applies to (code order) and, by reason, how many it skips.

    Reasons: an effective status (the unit's standing does not allow the action), ``no_address`` (no
    focal-point address to remind), ``unknown`` (a code that is not a unit of the campaign)."""

    action: str
    units: list[SelectedUnit]
    skipped: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.units) + sum(self.skipped.values())


@dataclass(frozen=True)
class BulkResult:
    action: str
    done: int  # units acted on
    skipped: dict[str, int]
    queued: int = 0  # mails queued
    already_done: bool = False  # the same click was sent again: nothing done twice


def _skip_reason(action: str, row: SelectedUnit) -> str | None:
    if action == "remind":
        if row.status != "not_submitted":
            return row.status
        if not [e for e in (row.unit.emails or []) if e]:
            return "no_address"
    elif action == "return" and row.recorded not in RETURNABLE:
        return row.status
    return None


def plan_bulk(campaign: Campaign, action: str, selection: UnitSelection, now: datetime) -> BulkPlan:
    """Resolve a selection for an action (the confirmation step shows it; the action does it): one
    statement for the units, whatever their number."""
    if action not in BULK_ACTIONS:
        raise OperationError("Thao tác không hợp lệ.", "Unknown bulk action.", field="action", status=422)
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    rows = selected_units(campaign, grace_ended, selection)
    units: list[SelectedUnit] = []
    skipped: dict[str, int] = {}
    for row in rows:
        why = _skip_reason(action, row)
        if why is None:
            units.append(row)
        else:
            skipped[why] = skipped.get(why, 0) + 1
    if selection.codes is not None:
        unknown = len(set(selection.codes)) - len(rows)
        if unknown > 0:
            skipped["unknown"] = unknown
    return BulkPlan(action, units, skipped)


def _click_done(campaign: Campaign, action: str, click: str) -> BulkResult | None:
    """The click was acted on already (a form sent twice): its result as recorded, else None.  The
    campaign's row is locked first (PostgreSQL), so two copies of one click wait for each other."""
    if not _CLICK.match(click or ""):
        raise OperationError("Phiên thao tác không hợp lệ; vui lòng chọn lại các đơn vị.",
                             "Invalid action token; please select the units again.", field="click", status=422)
    db.session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    marker = db.session.execute(select(AuditEvent.from_value).where(
        AuditEvent.campaign_id == campaign.id, AuditEvent.action == BULK_ACTIONS[action],
        AuditEvent.to_value == click).limit(1)).first()
    if marker is None:
        return None
    done = int(marker[0].split()[0]) if marker[0][:1].isdigit() else 0
    return BulkResult(action, done, {}, already_done=True)


def _bulk_audit(campaign: Campaign, plan: BulkPlan, *, unit_action: str, from_value: str | None, to_value: str,
                reason: str, actor: str, click: str, now: datetime) -> None:
    """An audit entry per unit acted on, and one for the click (its summary): one statement."""
    rows = [{"at": now, "actor": actor, "action": unit_action, "organizer_id": campaign.organizer_id,
             "campaign_id": campaign.id, "unit_id": r.unit.id,
             "from_value": r.recorded if from_value is None else from_value, "to_value": to_value,
             "reason": reason} for r in plan.units]
    skipped = sum(plan.skipped.values())
    rows.append({"at": now, "actor": actor, "action": BULK_ACTIONS[plan.action],
                 "organizer_id": campaign.organizer_id, "campaign_id": campaign.id, "unit_id": None,
                 "from_value": f"{len(plan.units)} units, {skipped} skipped", "to_value": click, "reason": reason})
    db.session.execute(insert(cast(Table, AuditEvent.__table__)), rows)
    revisions.touch(db.session(), (revisions.CAMPAIGN, campaign.id))


def remind_units(campaign: Campaign, selection: UnitSelection, *, reason: str, actor: str, now: datetime,
                 click: str) -> BulkResult:
    """The organizer reminds the selected units now (those not submitted, with an address), with a
    message: queued like the scheduled reminders, its own kind; audited per unit.  ``click`` names the
    confirmation (a form sent twice queues and records once).  A bounded number of statements."""
    reason = _require_reason(reason, "(nội dung thư nhắc)", "send a reminder (the message)")
    tl = timeline_of(campaign)
    if state_at(campaign, now, tl) not in ("open", "grace"):
        raise OperationError("Đợt đánh giá không còn nhận hồ sơ: không gửi thư nhắc.",
                             "The campaign no longer accepts dossiers: no reminder is sent.", field="action")
    done = _click_done(campaign, "remind", click)
    if done is not None:
        return done
    plan = plan_bulk(campaign, "remind", selection, now)
    queued = queue_organizer_reminders(campaign, [r.unit for r in plan.units], reason=reason,
                                       occurrence=f"bulk-{click}", in_grace=now >= tl.deadline_at, now=now)
    _bulk_audit(campaign, plan, unit_action="unit.reminded", from_value="", to_value="", reason=reason,
                actor=actor, click=click, now=now)
    return BulkResult("remind", len(plan.units), plan.skipped, queued)


def return_dossiers(campaign: Campaign, selection: UnitSelection, *, reason: str, actor: str, now: datetime,
                    click: str) -> BulkResult:
    """Return the selected units' dossiers for correction: ``return_dossier``'s rules (a reason; only a
    unit with a dossier), set-based (one UPDATE, one audit INSERT, one outbox INSERT)."""
    reason = _require_reason(reason, "trả lại hồ sơ", "return a dossier")
    done = _click_done(campaign, "return", click)
    if done is not None:
        return done
    plan = plan_bulk(campaign, "return", selection, now)
    if plan.units:
        db.session.execute(
            update(Participation).where(Participation.id.in_([r.participation_id for r in plan.units]),
                                        Participation.status.in_(RETURNABLE))
            .values(status="returned", returned_reason=reason).execution_options(synchronize_session=False))
    _bulk_audit(campaign, plan, unit_action="submission.returned", from_value=None, to_value="returned",
                reason=reason, actor=actor, click=click, now=now)
    queued = queue_unit_notices(campaign, [r.unit for r in plan.units], "returned", reason=reason,
                                occurrence=f"bulk-{click}", now=now)
    # Participations already loaded in this session must not show the old status.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Participation) and obj.campaign_id == campaign.id:
            db.session.expire(obj)
    return BulkResult("return", len(plan.units), plan.skipped, queued)
