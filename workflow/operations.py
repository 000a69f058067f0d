"""Domain operations: change state, flush, write the audit entry, queue mail.

Views, CLI commands and scheduler jobs call one of these and commit; the pure
rules live in ``machine``, ``timeline``, ``standing`` and ``periods``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import and_, insert, literal, select, update

from notifications.queue import plan_reminders, queue_exclusion_notices, queue_receipt, queue_results, queue_unit_notice, replan_reminders

from . import machine, revisions, standing
from .audit import SYSTEM, record
from .campaign_files import CampaignFileError, apply, spec_of
from .campaigns import CHANNELS, calendar_of, timeline_of, tz_of, unit_status_at
from .db import db
from .models import AuditEvent, Campaign, Milestone, Participation, Submission, SubmissionDocument, Unit
from .storage import StoredDocument
from .timeline import MILESTONES
from .workdays import VietnamCalendar

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
    count = result.rowcount or 0
    if count:  # every unit's page of the campaign, and its dashboard, may show another status now
        revisions.touch(db.session, (revisions.CAMPAIGN, campaign.id))
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
    if start and start > end:
        raise OperationError("Ngày bắt đầu sau ngày kết thúc.", "The start date is after the end date.",
                             field="start", status=422)
    advance_campaign(campaign, now)  # what time has done first: the state must not be stale
    if kind == "deadline":
        if campaign.state not in ("draft", "open", "grace"):
            raise OperationError("Đã hết thời gian nhận hồ sơ; không thể dời hạn chót.",
                                 "Submissions are closed; the deadline can no longer move.", field="kind")
        old = campaign.deadline
        campaign.deadline = end
        # A deadline moved later can reopen submissions: the stored state follows.
        if campaign.state == "grace" and now < timeline_of(campaign).deadline_at:
            campaign.state = "open"
        record(actor=actor, action="milestone.moved", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               from_value=f"deadline {old.isoformat()}", to_value=f"deadline {end.isoformat()}", reason=reason, at=now)
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
    before = spec_of(campaign)
    after = replace(before, title=edit.title.strip(), year=edit.year, document_number=edit.document_number.strip(),
                    document_date=edit.document_date, data_period=edit.data_period,
                    commune_nomination=edit.commune_nomination, tiers=edit.tiers, council_emails=edit.council_emails)
    if after != before:
        try:
            apply(after, actor=actor, now=now, source=source)
        except CampaignFileError as exc:
            raise OperationError(exc.message, str(exc), field="title", status=422) from None
        done.append("fields")
    return done


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
                      now: datetime, doc_number: str = "", documents: Sequence[DocumentInput] = ()) -> Submission:
    """Record a dossier received through any channel; classify it by its received instant.

    Uploads use this server's clock (``received_at`` is ``now``); e-office and
    e-mail dossiers carry the instant the organizer's staff record and the
    incoming document number.
    """
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
    if status_now == "returned":
        new_status, late_days = "resubmitted", p.late_working_days
    else:
        new_status, late_days = c.status, c.late_working_days
    sub = new_submission(version=version, received_at=received_at, channel=channel, doc_number=doc_number,
                         recorded_by=recorded_by, late_working_days=late_days,
                         receipt_number=f"{campaign.code}/{unit.code}/{version}", documents=documents)
    p.submissions.append(sub)
    p.status, p.late_working_days, p.received_at = new_status, late_days, received_at
    p.returned_reason = "" if new_status == "resubmitted" else p.returned_reason
    record(actor=recorded_by, action="submission.received", organizer_id=campaign.organizer_id,
           campaign_id=campaign.id, unit_id=unit.id, from_value=before,
           to_value=f"{new_status} v{version} {received_at.isoformat()} via {channel}"
                    + (f" #{doc_number}" if doc_number else ""), at=now)
    if reversed_exclusion:
        record(actor=recorded_by, action="unit.exclusion_reversed", organizer_id=campaign.organizer_id,
               campaign_id=campaign.id, unit_id=unit.id, from_value="excluded", to_value=new_status,
               reason=f"dossier received {received_at.isoformat()} before grace end"
                      + (f", incoming document #{doc_number}" if doc_number else ""), at=now)
        p.excluded_at = None
    db.session.flush()

    queue_receipt(campaign, unit, sub, now)
    return sub


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


def return_dossier(campaign: Campaign, unit: Unit, *, reason: str, actor: str, now: datetime) -> Participation:
    reason = _require_reason(reason, "trả lại hồ sơ", "return a dossier")
    p = participation_of(campaign, unit)
    if p.status not in ("on_time", "late", "resubmitted", "confirmed"):
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


def set_scores(campaign: Campaign, unit: Unit, *, actor: str, now: datetime, self_score: Decimal | None = None,
               verified_score: Decimal | None = None, reason: str = "") -> Participation:
    """Enter the self-assessed and/or verified score; a verified score marks the unit verified."""
    p = participation_of(campaign, unit)
    status = unit_status_at(p, now >= timeline_of(campaign).grace_ends_at)
    if status in ("excluded", "not_submitted"):
        raise OperationError(f"Đơn vị {unit.code} không được đánh giá, xếp hạng ({standing.status_name(status)}).",
                             f"Unit {unit.code} is not evaluated ({standing.status_name(status, 'en')}).",
                             field="unit")
    for name, value in (("self_score", self_score), ("verified_score", verified_score)):
        if value is not None and not (Decimal(0) <= value <= Decimal(1000)):
            raise OperationError("Điểm phải từ 0 đến 1000.", "A score must be between 0 and 1000.", field=name,
                                 status=422)
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


def nominate(campaign: Campaign, unit: Unit, *, actor: str, now: datetime) -> Participation:
    """A district nominates its leading commune (seed 000); one per district."""
    p = participation_of(campaign, unit)
    if unit.parent_id is None:
        raise OperationError("Chỉ đơn vị cấp xã (có huyện quản lý) mới được đề cử.",
                             "Only a commune under a district can be nominated.", field="unit")
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


def run_tick(now: datetime) -> dict[str, int]:
    """The time-driven work as of ``now``: campaign moves, exclusions, reminder planning.

    Idempotent: running it twice, or after downtime, does each thing once.
    """
    now = now.astimezone(UTC)
    query = select(Campaign).where(Campaign.state.in_(("open", "grace"))).order_by(Campaign.id)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two ticks at once (two schedulers, a scheduler and `flask tick`):
        # each campaign is moved by one of them only.
        query = query.with_for_update(skip_locked=True, of=Campaign)
    campaigns = db.session.scalars(query).all()
    moved = 0
    calendars: dict[int, VietnamCalendar] = {}
    for campaign in campaigns:
        cal = calendars.get(campaign.organizer_id)
        if cal is None:
            cal = calendars[campaign.organizer_id] = calendar_of(campaign)
        if advance_campaign(campaign, now, cal):
            moved += 1

    planned = plan_reminders(now)
    db.session.flush()
    return {"campaigns_checked": len(campaigns), "campaigns_moved": moved, "reminders_queued": planned}
