"""The award step (seed 000): units proposed for an award, their award dossiers, the People's Committee
decision and the publication of the results.

* :func:`propose` — once the field inspection is done (state ``awards``), the units the ranking proposes
  (:func:`proposed_by_ranking`: the best tier of each group, or rank 1 when the campaign has a single
  tier) plus or minus the organizer's changes, each change with a written reason; each proposed unit is
  sent a notice (mail ``award_notice``) naming the ``award_dossiers`` milestone.
* :func:`record_award_dossier` — an award dossier received by upload, e-office or e-mail: the same
  checks and receipts as the evaluation dossier (``operations.check_received``, ``new_submission``,
  ``standing.classify``), with the ``award_dossiers`` milestone as the deadline and the campaign's grace
  period after it: on time, late (within the grace) or refused (after it).
* :func:`queue_award_reminders` — proposed units with no award dossier, reminded once a day from three
  working days before the milestone until the grace ends.
* :func:`record_decision` and :func:`publish` — the decision (number, date, signer, file), then the
  approval step (``approval_received``: results mailed to each unit as before) and the figures frozen
  for the public page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from notifications.queue import build_row, insert_rows

from . import operations as ops
from . import standing
from .audit import record
from .award_models import AwardProposal, CampaignDecision
from .campaigns import CHANNELS, calendar_of, results, state_at, tz_of
from .db import db
from .models import Campaign, Participation, Submission, Unit
from .periods import deadline_on, end_of_day
from .standing import DEFAULT_TIERS
from .storage import StoredDocument
from .timeline import grace_period
from .workdays import format_day

AWARD_STATES = ("awards", "approval")


def _refuse(vi: str, en: str, field: str | None = None, status: int = 409) -> ops.OperationError:
    return ops.OperationError(vi, en, field=field, status=status)


def award_deadline(campaign: Campaign) -> date:
    m = next((m for m in campaign.milestones if m.kind == "award_dossiers"), None)
    if m is None:
        raise _refuse("Đợt đánh giá chưa có mốc “Hạn nộp hồ sơ đề nghị khen thưởng”.",
                      "The campaign has no award dossiers milestone.", "award_dossiers", 422)
    return m.end_date


def award_grace_ends_at(campaign: Campaign) -> datetime:
    return grace_period(award_deadline(campaign), campaign.grace_working_days, calendar_of(campaign),
                        tz_of(campaign)).ends_at


def proposed_by_ranking(campaign: Campaign, now: datetime) -> list[Participation]:
    """The best tier of each group; rank 1 of each group when the campaign has a single tier."""
    tiers = campaign.tiers or DEFAULT_TIERS
    single = len(tiers) == 1
    best = tiers[0]["name"]
    return [r.participation for r in results(campaign, now)
            if r.rank is not None and (r.rank == 1 if single else r.rating == best)]


def proposals(campaign: Campaign) -> list[AwardProposal]:
    return list(db.session.scalars(
        select(AwardProposal).join(Participation).join(Unit).where(AwardProposal.campaign_id == campaign.id)
        .order_by(Unit.group, Unit.code)))


def _unit(campaign: Campaign, code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == code))
    if unit is None:
        raise _refuse(f"Không có đơn vị mã “{code}”.", f"No unit with code {code!r}.", "unit", 404)
    return unit


def propose(campaign: Campaign, *, actor: str, now: datetime, add: Sequence[str] = (),
            remove: Sequence[str] = (), reason: str = "") -> list[AwardProposal]:
    """Mark the units proposed for an award and notify each new one; a change to the ranking's list needs
    a reason.  Run again, it only adds or removes what changed."""
    state = state_at(campaign, now)
    if state not in AWARD_STATES:
        raise _refuse("Chỉ đề nghị khen thưởng sau khi hoàn thành kiểm tra thực tế (bước “Đề nghị khen thưởng”).",
                      "Units are proposed for awards once the field inspection is done (the awards step).",
                      "state")
    if (add or remove) and not reason.strip():
        raise _refuse("Cần ghi rõ lý do khi thay đổi danh sách đề nghị khen thưởng so với kết quả xếp hạng.",
                      "A reason is required to change the ranking's list of units proposed for awards.",
                      "reason", 422)
    award_deadline(campaign)
    current = {p.participation_id: p for p in proposals(campaign)}
    ranking = {p.id: p for p in proposed_by_ranking(campaign, now)}
    wanted: dict[int, tuple[Participation, bool]] = {pid: (p, True) for pid, p in ranking.items()}
    for code in add:
        p = ops.participation_of(campaign, _unit(campaign, code))
        if standing.effective_status(p.status, reinstated=bool(p.reinstated_reason), grace_ended=True) in (
                "excluded", "not_submitted"):
            raise _refuse(f"Đơn vị {code} không được đánh giá, xếp hạng nên không thể đề nghị khen thưởng.",
                          f"Unit {code} is not evaluated and cannot be proposed for an award.", "unit")
        wanted.setdefault(p.id, (p, False))
    for code in remove:
        p = ops.participation_of(campaign, _unit(campaign, code))
        wanted.pop(p.id, None)
    for pid, proposal in current.items():
        if pid not in wanted:
            record(actor=actor, action="award.withdrawn", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
                   unit_id=proposal.participation.unit_id, reason=reason, at=now)
            db.session.delete(proposal)
    created = []
    for pid, (p, from_ranking) in wanted.items():
        if pid in current:
            continue
        proposal = AwardProposal(campaign_id=campaign.id, participation_id=pid, from_ranking=from_ranking,
                                 reason="" if from_ranking else reason.strip(), proposed_by=actor, proposed_at=now)
        db.session.add(proposal)
        proposal.participation = p
        created.append(proposal)
        record(actor=actor, action="award.proposed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               unit_id=p.unit_id, to_value="ranking" if from_ranking else "manual",
               reason="" if from_ranking else reason, at=now)
    db.session.flush()
    for proposal in created:
        _queue(campaign, proposal.participation.unit, "award_notice", occurrence="proposed", now=now)
        proposal.notified_at = now
    db.session.flush()
    return proposals(campaign)


def _context(campaign: Campaign, lang: str) -> dict[str, Any]:
    deadline = award_deadline(campaign)
    grace = grace_period(deadline, campaign.grace_working_days, calendar_of(campaign), tz_of(campaign))
    return {"campaign": campaign, "organizer": campaign.organizer, "lang": lang,
            "award_deadline_text": format_day(deadline, lang), "grace_days": campaign.grace_working_days,
            "grace_end_text": format_day(grace.last_day, lang),
            "channels": [CHANNELS[c][0 if lang == "vi" else 1] for c in CHANNELS]}


def _queue(campaign: Campaign, unit: Unit, kind: str, *, occurrence: str, now: datetime,
           extra: dict[str, Any] | None = None) -> int:
    lang = unit.language or "vi"
    ctx = _context(campaign, lang) | {"unit": unit} | (extra or {})
    rows = [build_row(kind=kind, campaign=campaign, unit_id=unit.id, occurrence=occurrence, recipient=email,
                      language=lang, context=ctx, now=now) for email in (unit.emails or []) if email]
    return insert_rows(rows)


def award_submissions(proposal: AwardProposal) -> list[Submission]:
    return list(db.session.scalars(select(Submission).where(
        Submission.participation_id == proposal.participation_id, Submission.kind == "award")
        .order_by(Submission.version)))


def record_award_dossier(campaign: Campaign, unit: Unit, *, received_at: datetime, channel: str, recorded_by: str,
                         now: datetime, doc_number: str = "", documents: Sequence[ops.DocumentInput] = (),
                         by_unit: bool = False) -> Submission:
    """An award dossier received through any channel, classified against the award dossiers milestone.

    ``by_unit``: the unit files it itself (its API token), under the same rules as its evaluation dossier
    (``operations.check_filed_by_unit``: an upload, now, with documents stored here)."""
    if by_unit and channel in CHANNELS:
        ops.check_filed_by_unit(channel, received_at, doc_number, documents, now)
    ops.check_received(channel, received_at, doc_number, now)
    p = ops.participation_of(campaign, unit)
    proposal = db.session.scalar(select(AwardProposal).where(AwardProposal.campaign_id == campaign.id,
                                                             AwardProposal.participation_id == p.id))
    if proposal is None:
        raise _refuse(f"Đơn vị {unit.code} không có trong danh sách đề nghị khen thưởng.",
                      f"Unit {unit.code} is not proposed for an award.", "unit")
    if state_at(campaign, now) not in AWARD_STATES:
        raise _refuse("Đợt đánh giá không còn nhận hồ sơ đề nghị khen thưởng.",
                      "The campaign no longer takes award dossiers.", "campaign")
    deadline = award_deadline(campaign)
    grace_ends = award_grace_ends_at(campaign)
    try:
        c = standing.classify(received_at, deadline, grace_ends, calendar_of(campaign), tz_of(campaign))
    except standing.SubmissionRefused:
        raise _refuse(
            f"Hồ sơ đề nghị khen thưởng của {unit.code} nhận sau khi hết thời gian gia hạn "
            f"({campaign.grace_working_days} ngày làm việc sau hạn {format_day(deadline)}): không tiếp nhận.",
            f"The award dossier of {unit.code} arrived after the grace period ({campaign.grace_working_days} "
            f"working days after {deadline:%d/%m/%Y}): refused.", "received_at") from None
    version = len(award_submissions(proposal)) + 1
    sub = ops.new_submission(kind="award", version=version, received_at=received_at, channel=channel,
                             doc_number=doc_number, recorded_by=recorded_by, late_working_days=c.late_working_days,
                             receipt_number=f"{campaign.code}/{unit.code}/KT{version}", documents=documents)
    sub.participation_id = p.id
    db.session.add(sub)
    if proposal.received_at is None or version == 1:
        proposal.dossier_status, proposal.late_working_days = c.status, c.late_working_days
    proposal.received_at = received_at
    record(actor=recorded_by, action="award_dossier.received", organizer_id=campaign.organizer_id,
           campaign_id=campaign.id, unit_id=unit.id,
           to_value=f"{c.status} v{version} {received_at.isoformat()} via {channel}"
                    + (f" #{doc_number}" if doc_number else ""), at=now)
    db.session.flush()
    local = received_at.astimezone(tz_of(campaign))
    _queue(campaign, unit, "award_receipt", occurrence=sub.receipt_number, now=now, extra={
        "submission": sub, "status": c.status, "late_days": c.late_working_days,
        "received_text": f"{local:%H:%M:%S} {format_day(local.date())}",
        "channel_name": CHANNELS[channel][0 if (unit.language or "vi") == "vi" else 1],
        "documents": list(sub.documents)})
    return sub


def queue_award_reminders(campaign: Campaign, now: datetime, days_before: int = 3) -> int:
    """Remind each proposed unit without an award dossier, once a working day, from ``days_before`` working
    days before the milestone until its grace ends; returns the mails queued."""
    if state_at(campaign, now) not in AWARD_STATES:
        return 0
    cal = calendar_of(campaign)
    tz = tz_of(campaign)
    deadline = award_deadline(campaign)
    today = now.astimezone(tz).date()
    first = cal.add_working_days(deadline, -days_before) if days_before else deadline
    if today < first or now >= award_grace_ends_at(campaign) or not cal.is_working_day(today):
        return 0
    n = 0
    overdue = now >= deadline_on(deadline, cal, tz).ends_at
    for proposal in proposals(campaign):
        if proposal.dossier_status != "not_submitted":
            continue
        n += _queue(campaign, proposal.participation.unit, "award_reminder", occurrence=today.isoformat(), now=now,
                    extra={"overdue": overdue})
    return n


@dataclass(frozen=True)
class DecisionInput:
    number: str
    decided_on: date
    signer: str
    original_name: str = ""
    stored: StoredDocument | None = None
    sha256: str = ""


def record_decision(campaign: Campaign, decision: DecisionInput, *, actor: str, now: datetime) -> CampaignDecision:
    """The People's Committee decision approving the results: number, date, signer and the signed file."""
    if not decision.number.strip() or not decision.signer.strip():
        raise _refuse("Cần số quyết định và người ký.", "The decision's number and signer are required.", "number",
                      422)
    if len(decision.number.strip()) > 128 or len(decision.signer.strip()) > 255:
        raise _refuse("Số quyết định tối đa 128 ký tự; người ký tối đa 255 ký tự.",
                      "The decision's number is at most 128 characters, its signer at most 255.",
                      "number" if len(decision.number.strip()) > 128 else "signer", 422)
    if decision.decided_on > now.astimezone(tz_of(campaign)).date():
        raise _refuse("Ngày quyết định ở tương lai.", "The decision's date is in the future.", "decided_on", 422)
    row = db.session.scalar(select(CampaignDecision).where(CampaignDecision.campaign_id == campaign.id))
    if row is not None and row.published_at is not None:
        raise _refuse("Kết quả đã công bố; không thể thay quyết định.",
                      "The results are published; the decision can no longer change.", "number")
    if row is None:
        row = CampaignDecision(campaign_id=campaign.id)
        db.session.add(row)
    row.number, row.decided_on, row.signer = decision.number.strip(), decision.decided_on, decision.signer.strip()
    if decision.stored is not None:
        row.original_name, row.stored_name = decision.original_name, decision.stored.stored_name
        row.sha256 = decision.stored.sha256
    row.recorded_by, row.recorded_at = actor, now
    record(actor=actor, action="decision.recorded", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           to_value=f"{row.number} {row.decided_on.isoformat()} {row.signer}", at=now)
    db.session.flush()
    return row


def decision_of(campaign: Campaign) -> CampaignDecision | None:
    return db.session.scalar(select(CampaignDecision).where(CampaignDecision.campaign_id == campaign.id))


def publish(campaign: Campaign, *, actor: str, now: datetime, reason: str = "") -> CampaignDecision:
    """Approval received and results published: needs the decision; mails each unit its result (as the
    ``approval_received`` step does) and freezes the figures the public page shows."""
    decision = decision_of(campaign)
    if decision is None:
        raise _refuse("Cần ghi nhận quyết định phê duyệt của UBND tỉnh (số, ngày, người ký) trước khi công bố.",
                      "Record the People's Committee decision (number, date, signer) before publishing.", "decision")
    if decision.published_at is not None:
        raise _refuse("Kết quả đã được công bố.", "The results are already published.", "decision")
    if campaign.state != "approved":
        ops.mark_step(campaign, "approval_received", actor=actor, now=now,
                      reason=reason or f"Quyết định {decision.number}")
    decision.published_at = now
    decision.published_results = [
        {"unit": r.participation.unit.code, "name": r.participation.unit.name, "group": r.participation.unit.group,
         "rank": r.rank, "rating": r.rating, "score": str(r.score) if r.score is not None else None}
        for r in results(campaign, now) if r.rank is not None]
    record(actor=actor, action="results.published", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           to_value=decision.number, at=now)
    db.session.flush()
    return decision


def published_campaigns() -> list[tuple[Campaign, CampaignDecision]]:
    rows = db.session.execute(select(Campaign, CampaignDecision).join(
        CampaignDecision, CampaignDecision.campaign_id == Campaign.id).where(
        CampaignDecision.published_at.is_not(None), Campaign.state == "approved")
        .order_by(Campaign.year.desc(), Campaign.code)).all()
    return [(c, d) for c, d in rows]


def end_of(day: date, campaign: Campaign) -> datetime:
    return end_of_day(day, tz_of(campaign))


def run_award_reminders(now: datetime) -> int:
    """The tick's part of the award step: today's reminders of every campaign in the award step."""
    n = 0
    for campaign in db.session.scalars(select(Campaign).where(Campaign.state.in_(AWARD_STATES))):
        if any(m.kind == "award_dossiers" for m in campaign.milestones):
            n += queue_award_reminders(campaign, now)
    return n
