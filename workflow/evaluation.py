"""The write side of the evaluation (issue 12): a unit's sheet, its verification and the
figures-confirmation round.  Every rule here; web pages and CLI commands call one
function and commit.

- ``save_draft``: the unit's working copy, checked by the criteria rules, any
  time the unit may still send its dossier;
- ``submit_sheet``: submitting the sheet is submitting the dossier — through
  ``operations.record_submission`` (same received instant, lateness, grace,
  exclusion, receipt and mail); the draft becomes the claimed values and the
  self-assessed total the unit's self score;
- ``verify``: the verifier's value or points per criterion, with a note, at the
  preliminary review or the field inspection;
- ``send_figures``: the verified figures go back to the unit with a deadline in
  working days (default 3, the campaign's calendar decides);
- ``respond``: the unit confirms or disputes each criterion (a dispute needs a
  reason); when all are answered without dispute the figures stand;
- ``settle``: the organizer closes the disputes with a written decision; the
  figures stand;
- ``attach_evidence`` / ``remove_evidence``: the unit's evidence files of a
  criterion of kind "file", stored as dossier documents are
  (``storage.store_document``), while the sheet is a draft;
- the tick closes rounds whose deadline passed (``confirmation.lapse_rounds``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from notifications.queue import queue_unit_notice

from . import operations
from .audit import record
from .campaigns import calendar_of, timeline_of, tz_of, unit_status_at
from .confirmation import figures_stand
from .criteria import ConfirmationRound, Sheet, SheetEntry, SheetFile
from .criteria_rules import Node, RuleError, clean_value, score_leaf, score_sheet, verified_leaf
from .db import db
from .models import Campaign, Participation, Unit
from .operations import OperationError, participation_of
from .periods import working_days_from
from .sheets import SheetView, entries_as_rule_input, sheet_view
from .standing import may_submit
from .storage import StoredDocument

#: Working days a unit has to confirm its figures unless the organizer says otherwise.
DEFAULT_CONFIRMATION_DAYS = 3
STAGES = {"preliminary_review": ("Rà soát sơ bộ", "Preliminary review"),
          "field_inspection": ("Thẩm định thực tế", "Field inspection")}
RESPONSES = {"confirmed": ("Đồng ý", "Confirmed"), "disputed": ("Không đồng ý", "Disputed"),
             "not_disputed_in_time": ("Không phản hồi đúng hạn (số liệu giữ nguyên)", "Not disputed in time")}


class SheetRefused(OperationError):
    """Values refused by their criteria's rules: every one of them, not only the first (``errors``:
    criterion code, field at fault, messages); the message and field are the first's."""

    def __init__(self, errors: list[dict[str, str]]):
        first = errors[0]
        super().__init__(first["message_vi"], first["message_en"], field=first["field"], status=422)
        self.errors = errors


def _rule_error_item(exc: RuleError, code: str) -> dict[str, str]:
    return {"code": code, "field": f"{code}.{exc.field}" if exc.field else code,
            "message_vi": exc.message_vi, "message_en": exc.message_en}


def _rule_error(exc: RuleError, code: str) -> OperationError:
    return SheetRefused([_rule_error_item(exc, code)])


def view_of(campaign: Campaign, unit: Unit) -> tuple[Participation, SheetView]:
    p = participation_of(campaign, unit)
    view = sheet_view(campaign, p, unit)
    if view is None:
        raise OperationError(f"Đợt đánh giá {campaign.code} không có bộ tiêu chí cho khối của đơn vị {unit.code}.",
                             f"Campaign {campaign.code} has no criteria set for unit {unit.code}'s group.",
                             field="unit", status=404)
    return p, view


def _ensure_sheet(p: Participation, view: SheetView) -> Sheet:
    if view.sheet is None:
        view.sheet = Sheet(participation_id=p.id, set_id=view.criteria_set.id)
        db.session.add(view.sheet)
        db.session.flush()
    return view.sheet


def _entry(sheet: Sheet, view: SheetView, code: str) -> SheetEntry:
    e = view.entries.get(code)
    if e is None:
        e = SheetEntry(sheet_id=sheet.id, criterion_id=view.criterion_ids[code], draft={})
        db.session.add(e)
        view.entries[code] = e
    return e


#: Rows of one multi-row INSERT (a bound parameter per column and row: well under SQLite's limit).
_INSERT_CHUNK = 500


def _add_entries(sheet: Sheet, view: SheetView, drafts: Mapping[str, Mapping[str, Any]]) -> None:
    """The entries of criteria not yet in the sheet, in one ``INSERT … VALUES (…), (…)`` and one SELECT
    back whatever their number (the ORM would insert them row by row on SQLite)."""
    codes = [c for c in drafts if c not in view.entries]
    if not codes:
        return
    ids = {view.criterion_ids[c]: c for c in codes}
    rows = [{"sheet_id": sheet.id, "criterion_id": view.criterion_ids[c], "draft": dict(drafts[c])} for c in codes]
    for i in range(0, len(rows), _INSERT_CHUNK):
        db.session.execute(insert(SheetEntry).values(rows[i:i + _INSERT_CHUNK]))
    for e in db.session.scalars(select(SheetEntry).where(SheetEntry.sheet_id == sheet.id)):
        if e.criterion_id in ids:
            view.entries[ids[e.criterion_id]] = e


def unit_may_change(campaign: Campaign, p: Participation, now: datetime) -> None:
    """As for dossiers: after grace end nothing changes from the unit side (unless returned or reinstated)."""
    if campaign.state in ("draft", "cancelled"):
        raise OperationError("Đợt đánh giá chưa mở nhận hồ sơ hoặc đã hủy.",
                             "The campaign is not accepting submissions.", field="campaign")
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    status = unit_status_at(p, grace_ended)
    if not may_submit(status, reinstated=bool(p.reinstated_reason), grace_ended=grace_ended):
        raise OperationError(
            "Đã hết thời gian nhận hồ sơ (kể cả thời gian gia hạn): phiếu đánh giá không thể thay đổi."
            if status != "excluded" else
            "Đơn vị đã bị loại khỏi đánh giá; phiếu đánh giá không thể thay đổi.",
            "The submission period (grace included) has ended: the sheet can no longer change."
            if status != "excluded" else "The unit is excluded; its sheet can no longer change.", field="sheet")


def save_draft(campaign: Campaign, unit: Unit, values: Mapping[str, Mapping[str, Any]], *, actor: str,
               now: datetime) -> SheetView:
    """Save the unit's working copy of the criteria given (others are left as they are).

    Every value is checked by its criterion's rule first; one refused value
    refuses the whole save (nothing half-saved) and names the criterion.
    """
    p, view = view_of(campaign, unit)
    unit_may_change(campaign, p, now)
    leaves = {n.code: n for n in view.tree.leaves(unit.group)}
    cleaned: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, str]] = []
    for code, value in values.items():
        node = leaves.get(code)
        if node is None:
            errors.append({"code": code, "field": code, "message_vi": f"Không có tiêu chí {code} trong phiếu của đơn vị.",
                           "message_en": f"No criterion {code} in the unit's sheet."})
            continue
        if node.kind == "file" and not (value or {}).get("na"):
            # The files of an evidence criterion are those attached (attach_evidence), never typed.
            value = {**(value or {}), "files": [f.stored_name for f in view.files.get(code, [])]}
        try:
            cleaned[code] = clean_value(node, value)
        except RuleError as exc:
            errors.append(_rule_error_item(exc, code))
    if errors:
        raise SheetRefused(errors)
    sheet = _ensure_sheet(p, view)
    _add_entries(sheet, view, {c: {} for c in cleaned})
    changed = 0
    for code, value in cleaned.items():
        e = _entry(sheet, view, code)
        if (e.draft or {}) != value:
            e.draft = value
            changed += 1
    sheet.saved_at, sheet.saved_by = now, actor
    view.draft_score = score_sheet(view.tree, unit.group, entries_as_rule_input(view.entries, draft=True))
    sheet.draft_total = view.draft_score.claimed_total
    record(actor=actor, action="sheet.saved", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, to_value=f"{changed} criteria changed, draft total {sheet.draft_total}", at=now)
    db.session.flush()
    return view


def submit_sheet(campaign: Campaign, unit: Unit, *, actor: str, now: datetime) -> SheetView:
    """Submit the sheet = submit the dossier, received now, through ``operations.record_submission``."""
    p, view = view_of(campaign, unit)
    leaves = {n.code: n for n in view.tree.leaves(unit.group)}
    errors = []
    for code, e in view.entries.items():  # drafts saved under an older rule are checked again
        if code in leaves and e.draft:
            try:
                clean_value(leaves[code], e.draft)
            except RuleError as exc:
                errors.append(_rule_error_item(exc, code))
    if errors:
        raise SheetRefused(errors)
    submission = operations.record_submission(campaign, unit, received_at=now, channel="upload", recorded_by=actor,
                                              now=now)
    sheet = _ensure_sheet(p, view)
    _add_entries(sheet, view, {c: {} for c in leaves})
    for code, node in leaves.items():
        e = _entry(sheet, view, code)
        e.claimed = dict(e.draft or {})
        _store_points(node, e)
    sheet.submitted_at, sheet.submission_id = now, submission.id
    view.score = score_sheet(view.tree, unit.group, entries_as_rule_input(view.entries))
    view.draft_score = score_sheet(view.tree, unit.group, entries_as_rule_input(view.entries, draft=True))
    sheet.claimed_total = sheet.draft_total = view.score.claimed_total
    sheet.verified_total = view.score.verified_total
    p.self_score = sheet.claimed_total
    record(actor=actor, action="sheet.submitted", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, to_value=f"v{submission.version} self-assessed total {sheet.claimed_total} / "
                                     f"{view.score.maximum}", at=now)
    db.session.flush()
    return view


def _store_points(node: Node, e: SheetEntry) -> Decimal:
    """Keep the rule's points beside the values (the campaign's totals add them up)."""
    e.claimed_score = score_leaf(node, e.claimed)
    e.verified_score = verified_leaf(node, entries_as_rule_input({node.code: e})[node.code])
    return e.verified_score


def _open_round(p: Participation) -> ConfirmationRound | None:
    return db.session.scalar(select(ConfirmationRound).where(ConfirmationRound.participation_id == p.id,
                                                            ConfirmationRound.closed_at.is_(None)))


def verify(campaign: Campaign, unit: Unit, code: str, *, actor: str, now: datetime, stage: str,
           value: Mapping[str, Any] | None = None, points: Decimal | None = None, link_not_found: bool = False,
           note: str = "") -> SheetEntry:
    """The verifier's finding on one criterion: a value scored by the rule, or points, and a note.

    A finding that lowers or changes the claim needs a note (the unit will see
    why).  Refused while the figures are out for confirmation.
    """
    if stage not in STAGES:
        raise OperationError(f"Bước thẩm định không hợp lệ: {stage}.", f"Unknown stage {stage!r}.", field="stage",
                             status=422)
    p, view = view_of(campaign, unit)
    if not view.submitted:
        raise OperationError("Đơn vị chưa nộp phiếu đánh giá; chưa thể thẩm định.",
                             "The unit has not submitted its sheet; nothing to verify yet.", field="unit")
    if unit_status_at(p, now >= timeline_of(campaign).grace_ends_at) in ("excluded", "not_submitted", "returned"):
        raise OperationError(f"Đơn vị {unit.code} không được đánh giá ở trạng thái hiện tại.",
                             f"Unit {unit.code} cannot be evaluated in its current status.", field="unit")
    if _open_round(p) is not None:
        raise OperationError("Số liệu đang được gửi để đơn vị xác nhận; chờ đơn vị phản hồi hoặc hết hạn xác nhận.",
                             "The figures are out for confirmation; wait for the unit's answer or the deadline.",
                             field="unit")
    node = {n.code: n for n in view.tree.leaves(unit.group)}.get(code)
    if node is None:
        raise OperationError(f"Không có tiêu chí {code} trong phiếu của đơn vị.",
                             f"No criterion {code} in the unit's sheet.", field="code", status=422)
    cleaned = None
    if value is not None:
        try:
            cleaned = clean_value(node, value)
        except RuleError as exc:
            raise _rule_error(exc, code) from exc
    if points is not None and not (Decimal(0) <= points <= node.maximum):
        raise OperationError(f"Tiêu chí {code}: điểm thẩm định phải từ 0 đến {node.maximum}.",
                             f"Criterion {code}: verified points must be within 0..{node.maximum}.", field="points",
                             status=422)
    sheet = _ensure_sheet(p, view)
    e = _entry(sheet, view, code)
    claimed_points = score_leaf(node, e.claimed)
    before = f"{code}: {e.claimed or {}} = {claimed_points}"
    e.verified = cleaned if cleaned is not None and cleaned != (e.claimed or {}) else None
    e.verified_points = points
    e.link_not_found = bool(link_not_found) and node.kind == "link"
    e.verify_stage, e.verified_by, e.verified_at = stage, actor, now
    e.verify_note = note.strip()
    verified_points = _store_points(node, e)
    if verified_points != claimed_points or e.verified is not None or e.link_not_found:
        if not e.verify_note:
            raise OperationError(f"Tiêu chí {code}: cần ghi chú lý do điều chỉnh số liệu/điểm.",
                                 f"Criterion {code}: a note is required when the verified figure differs.",
                                 field="note", status=422)
    view.score = score_sheet(view.tree, unit.group, entries_as_rule_input(view.entries))
    sheet.verified_total = view.score.verified_total
    record(actor=actor, action="criterion.verified", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value=before,
           to_value=f"{code}: {e.verified or e.claimed or {}}{' [link not found]' if e.link_not_found else ''}"
                    f"{f' points={points}' if points is not None else ''} = {verified_points}; "
                    f"verified total {sheet.verified_total}",
           reason=f"{stage}: {e.verify_note}" if e.verify_note else stage, at=now)
    db.session.flush()
    return e


def send_figures(campaign: Campaign, unit: Unit, *, actor: str, now: datetime,
                 working_days: int | None = None, note: str = "") -> ConfirmationRound:
    """Send the verified figures to the unit to confirm within N working days (default 3)."""
    days = DEFAULT_CONFIRMATION_DAYS if working_days is None else working_days
    if not 1 <= days <= 30:
        raise OperationError("Thời hạn xác nhận phải từ 1 đến 30 ngày làm việc.",
                             "The confirmation period must be 1 to 30 working days.", field="working_days", status=422)
    p, view = view_of(campaign, unit)
    if not view.submitted or view.sheet is None:
        raise OperationError("Đơn vị chưa nộp phiếu đánh giá; chưa có số liệu để xác nhận.",
                             "The unit has not submitted its sheet; there are no figures to confirm.", field="unit")
    if p.status not in ("on_time", "late", "resubmitted", "confirmed", "verified"):
        raise OperationError("Chỉ gửi xác nhận số liệu cho đơn vị đã nộp hồ sơ hợp lệ.",
                             "Figures can be sent for confirmation only to a unit with an accepted dossier.",
                             field="unit")
    if _open_round(p) is not None:
        raise OperationError("Đã gửi số liệu cho đơn vị xác nhận và chưa hết hạn.",
                             "The figures are already out for confirmation.", field="unit")
    tz = tz_of(campaign)
    period = working_days_from(now.astimezone(tz).date(), days, calendar_of(campaign), tz, explain=False)
    rnd = ConfirmationRound(participation_id=p.id, sent_at=now, sent_by=actor, working_days=days,
                            deadline=period.last_day, due_at=period.ends_at, note=note.strip())
    db.session.add(rnd)
    for e in view.entries.values():
        e.response, e.response_reason, e.responded_at = "", "", None
    p.confirmation_requested_at = now
    db.session.flush()
    changed = [c for c in view.tree.leaves(unit.group)
               if score_leaf(c, view.claimed_of(c.code)) != view.score.verified[c.code]]
    summary = (f"Hạn xác nhận: 24:00 ngày {period.last_day:%d/%m/%Y} ({days} ngày làm việc). "
               f"Tổng điểm tự chấm {view.score.claimed_total}, sau thẩm định {view.score.verified_total}"
               + (f"; tiêu chí điều chỉnh: {', '.join(c.code for c in changed)}" if changed else "")
               + (f". {note.strip()}" if note.strip() else "."))
    record(actor=actor, action="figures.sent_for_confirmation", organizer_id=campaign.organizer_id,
           campaign_id=campaign.id, unit_id=unit.id, to_value=f"round {rnd.id} due {period.last_day.isoformat()}",
           reason=summary, at=now)
    queue_unit_notice(campaign, unit, "confirmation", reason=summary, occurrence=f"round{rnd.id}", now=now)
    return rnd


def respond(campaign: Campaign, unit: Unit, answers: Mapping[str, tuple[str, str]], *, actor: str,
            now: datetime) -> ConfirmationRound:
    """The unit confirms or disputes criteria of the open round: {code: ("confirmed"|"disputed", reason)}."""
    p, view = view_of(campaign, unit)
    rnd = _open_round(p)
    if rnd is None:
        raise OperationError("Không có số liệu nào đang chờ đơn vị xác nhận.",
                             "No figures are waiting for the unit's confirmation.", field="unit")
    if now >= rnd.due_at:
        raise OperationError(f"Đã hết hạn xác nhận (24:00 ngày {rnd.deadline:%d/%m/%Y}); số liệu giữ nguyên "
                             "như đã thẩm định.",
                             f"The confirmation deadline ({rnd.deadline:%d/%m/%Y}) has passed; the figures stand "
                             "as verified.", field="unit")
    leaves = {n.code for n in view.tree.leaves(unit.group)}
    for code, (answer, reason) in answers.items():
        if code not in leaves:
            raise OperationError(f"Không có tiêu chí {code} trong phiếu của đơn vị.",
                                 f"No criterion {code} in the unit's sheet.", field=code, status=422)
        if answer not in ("confirmed", "disputed"):
            raise OperationError("Chọn Đồng ý hoặc Không đồng ý.", "Answer confirmed or disputed.", field=code,
                                 status=422)
        if answer == "disputed" and not (reason or "").strip():
            raise OperationError(f"Tiêu chí {code}: không đồng ý phải ghi rõ lý do.",
                                 f"Criterion {code}: a dispute needs a reason.", field=f"{code}.reason", status=422)
    sheet = _ensure_sheet(p, view)
    for code, (answer, reason) in answers.items():
        e = _entry(sheet, view, code)
        e.response, e.response_reason, e.responded_at = answer, (reason or "").strip(), now
        record(actor=actor, action=f"figures.{answer}", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               unit_id=unit.id, from_value=f"{code}: {view.score.verified.get(code)}", to_value=answer,
               reason=(reason or "").strip(), at=now)
    answered = {c for c, e in view.entries.items() if e.response and c in leaves}
    if leaves <= answered:
        disputed = sum(1 for c in leaves if view.entries[c].response == "disputed")
        rnd.closed_at, rnd.outcome, rnd.disputed = now, "answered", disputed
        record(actor=actor, action="figures.answered", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
               unit_id=unit.id, from_value=f"round {rnd.id}", to_value=f"{disputed} disputed", at=now)
        if disputed == 0:
            figures_stand(p, sheet, actor=actor, why="confirmed by the unit", now=now)
    db.session.flush()
    return rnd


def settle(campaign: Campaign, unit: Unit, *, actor: str, now: datetime, reason: str) -> Participation:
    """The organizer closes the disputes of a round with a written decision; the figures (as
    verified, after any re-verification) stand."""
    if not reason.strip():
        raise OperationError("Cần ghi rõ kết luận xử lý ý kiến của đơn vị.",
                             "A written decision is required to settle the disputes.", field="reason", status=422)
    p, view = view_of(campaign, unit)
    if _open_round(p) is not None:
        raise OperationError("Số liệu đang chờ đơn vị xác nhận.", "The figures are still out for confirmation.",
                             field="unit")
    if view.sheet is None or not any(e.response == "disputed" for e in view.entries.values()):
        raise OperationError("Không có ý kiến không đồng ý nào cần xử lý.", "There is no dispute to settle.",
                             field="unit")
    figures_stand(p, view.sheet, actor=actor, why=f"disputes settled: {reason.strip()}", now=now)
    db.session.flush()
    return p


# -- evidence files ----------------------------------------------------------------

#: The most evidence files one criterion keeps.
MAX_FILES_PER_CRITERION = 20


def _evidence_may_change(campaign: Campaign, p: Participation, view: SheetView, now: datetime) -> None:
    """Evidence changes from the unit side while the sheet is a draft: not once it is submitted (unless
    the dossier was returned for correction), never after grace end (as dossiers)."""
    unit_may_change(campaign, p, now)
    if view.submitted and p.status != "returned":
        raise OperationError("Phiếu đánh giá đã nộp: không thể thêm hoặc gỡ tệp minh chứng.",
                             "The sheet has been submitted: evidence files can no longer be added or removed.",
                             field="sheet")


def _file_node(view: SheetView, group: str, code: str) -> Node:
    node = {n.code: n for n in view.tree.leaves(group)}.get(code)
    if node is None:
        raise OperationError(f"Không có tiêu chí {code} trong phiếu của đơn vị.",
                             f"No criterion {code} in the unit's sheet.", field="code", status=404)
    if node.kind != "file":
        raise OperationError(f"Tiêu chí {code} không nhận tệp minh chứng (chỉ tiêu chí loại “Tệp minh chứng”).",
                             f"Criterion {code} takes no evidence file (only criteria of kind “file” do).",
                             field="code", status=422)
    return node


def _sync_files(view: SheetView, sheet: Sheet, code: str, group: str, *, actor: str, now: datetime) -> None:
    """The criterion's draft value lists its files (it scores by its rule only with one); totals follow."""
    e = _entry(sheet, view, code)
    names = [f.stored_name for f in view.files.get(code, [])]
    draft = dict(e.draft or {})
    if not draft.get("na"):
        e.draft = {"files": names} if names else {}
    sheet.saved_at, sheet.saved_by = now, actor
    view.draft_score = score_sheet(view.tree, group, entries_as_rule_input(view.entries, draft=True))
    sheet.draft_total = view.draft_score.claimed_total


def attach_evidence(campaign: Campaign, unit: Unit, code: str, stored: StoredDocument, *, actor: str,
                    now: datetime) -> SheetFile:
    """Attach a stored evidence file (``storage.store_document``: name, type and content checked, SHA-256)
    to criterion ``code`` of the unit's draft sheet.  The caller removes the stored file if this refuses."""
    p, view = view_of(campaign, unit)
    _file_node(view, unit.group, code)
    _evidence_may_change(campaign, p, view, now)
    if len(view.files.get(code, [])) >= MAX_FILES_PER_CRITERION:
        raise OperationError(f"Tiêu chí {code} đã có {MAX_FILES_PER_CRITERION} tệp minh chứng (tối đa).",
                             f"Criterion {code} already has {MAX_FILES_PER_CRITERION} evidence files (the most).",
                             field="code", status=422)
    sheet = _ensure_sheet(p, view)
    f = SheetFile(sheet_id=sheet.id, criterion_id=view.criterion_ids[code], original_name=stored.original_name,
                  stored_name=stored.stored_name, sha256=stored.sha256, size=stored.size,
                  content_type=stored.content_type, uploaded_at=now, uploaded_by=actor)
    db.session.add(f)
    view.files.setdefault(code, []).append(f)
    _sync_files(view, sheet, code, unit.group, actor=actor, now=now)
    record(actor=actor, action="evidence.attached", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, to_value=f"{code}: {stored.original_name} ({stored.size} bytes, sha256 {stored.sha256})",
           at=now)
    db.session.flush()
    return f


def evidence_file(view: SheetView, file_id: int) -> tuple[str, SheetFile] | None:
    """The criterion code and the file ``file_id`` of this sheet, or None."""
    for code, files in view.files.items():
        for f in files:
            if f.id == file_id:
                return code, f
    return None


def remove_evidence(campaign: Campaign, unit: Unit, file_id: int, *, actor: str, now: datetime) -> str:
    """Remove an evidence file of the unit's draft sheet; returns its stored name, for the caller to
    delete from the disk once the change is committed (before, a failed commit would lose the file)."""
    p, view = view_of(campaign, unit)
    found = evidence_file(view, file_id)
    if found is None:
        raise OperationError("Không tìm thấy tệp minh chứng.", "No such evidence file.", field="file", status=404)
    code, f = found
    _evidence_may_change(campaign, p, view, now)
    assert view.sheet is not None  # a file belongs to a sheet
    view.files[code] = [x for x in view.files[code] if x.id != file_id]
    db.session.delete(f)
    _sync_files(view, view.sheet, code, unit.group, actor=actor, now=now)
    record(actor=actor, action="evidence.removed", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           unit_id=unit.id, from_value=f"{code}: {f.original_name} (sha256 {f.sha256})", at=now)
    db.session.flush()
    return f.stored_name


def submitted_sheet_units(campaign: Campaign) -> list[Unit]:
    """The units whose sheet is submitted, by code: whom "send the figures to all" is for."""
    return list(db.session.scalars(select(Unit).join(Participation, Participation.unit_id == Unit.id)
                                   .join(Sheet, Sheet.participation_id == Participation.id)
                                   .where(Participation.campaign_id == campaign.id, Sheet.submitted_at.is_not(None))
                                   .order_by(Unit.code)))
