"""The campaign state machine: every state, every move, every guard, in one file.

draft → open → grace → preliminary_review → field_inspection → awards →
approval → approved; cancelled (with a reason) from any state before approved.

Time moves the first steps (the deadline passes, the grace period ends); people
move the rest.  A person's move that skips a step ("approval received" while the
field inspection is not finished) is refused with a message naming what is
missing, unless a reason is given, which the caller records.  The submission
window (open, grace) can never be closed early by a person: the deadline is
what the letter promised, so it is moved instead.

Free of Flask and of the database: ``CampaignMachine(start_value=state)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

#: The states in timeline order, with their Vietnamese and English names.
STATES: dict[str, tuple[str, str]] = {
    "draft": ("Dự thảo", "Draft"),
    "open": ("Đang nhận hồ sơ", "Accepting submissions"),
    "grace": ("Quá hạn, đang trong thời gian gia hạn", "Deadline passed, grace period"),
    "preliminary_review": ("Thẩm định sơ bộ", "Preliminary review"),
    "field_inspection": ("Kiểm tra thực tế", "Field inspection"),
    "awards": ("Đề nghị khen thưởng", "Awards"),
    "approval": ("Chờ UBND tỉnh phê duyệt", "Awaiting approval"),
    "approved": ("Đã phê duyệt, công bố kết quả", "Approved, results published"),
    "cancelled": ("Đã hủy", "Cancelled"),
}
ORDER = list(STATES)[:-1]  # cancelled is off the line

#: People's moves: event -> (from state, to state, the step it marks done in
#: Vietnamese and English).
MANUAL_STEPS: dict[str, tuple[str, str, str, str]] = {
    "review_done": ("preliminary_review", "field_inspection", "hoàn thành thẩm định sơ bộ", "preliminary review done"),
    "inspection_done": ("field_inspection", "awards", "hoàn thành kiểm tra thực tế", "field inspection done"),
    "awards_done": ("awards", "approval", "hoàn thành hồ sơ khen thưởng và trình UBND tỉnh",
                    "award dossiers collected and submitted"),
    "approval_received": ("approval", "approved", "UBND tỉnh đã phê duyệt kết quả", "approval received"),
}


class MoveRefused(Exception):
    """A move people may not make now; ``message_vi`` and ``message_en`` say why."""

    def __init__(self, message_vi: str, message_en: str, missing: list[str] | None = None):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.missing = missing or []


class CampaignMachine(StateMachine):
    """The life of a campaign."""

    draft = State("Dự thảo", initial=True, value="draft")
    open = State("Đang nhận hồ sơ", value="open")
    grace = State("Gia hạn", value="grace")
    preliminary_review = State("Thẩm định sơ bộ", value="preliminary_review")
    field_inspection = State("Kiểm tra thực tế", value="field_inspection")
    awards = State("Khen thưởng", value="awards")
    approval = State("Chờ phê duyệt", value="approval")
    approved = State("Đã phê duyệt", value="approved", final=True)
    cancelled = State("Đã hủy", value="cancelled", final=True)

    launch = draft.to(open)
    # Time: the deadline passes; grace ends (straight from open when grace is 0
    # or the tick catches up after downtime).
    deadline_passes = open.to(grace)
    grace_ends = grace.to(preliminary_review) | open.to(preliminary_review)
    # People: one step at a time, or several with a reason (cond checks it).
    review_done = preliminary_review.to(field_inspection)
    inspection_done = field_inspection.to(awards) | preliminary_review.to(awards, cond="forced")
    awards_done = awards.to(approval) | (preliminary_review.to(approval, cond="forced")
                                         | field_inspection.to(approval, cond="forced"))
    approval_received = approval.to(approved) | (
        preliminary_review.to(approved, cond="forced")
        | field_inspection.to(approved, cond="forced")
        | awards.to(approved, cond="forced")
    )
    cancel = (draft.to(cancelled, cond="has_reason") | open.to(cancelled, cond="has_reason")
              | grace.to(cancelled, cond="has_reason") | preliminary_review.to(cancelled, cond="has_reason")
              | field_inspection.to(cancelled, cond="has_reason") | awards.to(cancelled, cond="has_reason")
              | approval.to(cancelled, cond="has_reason"))

    def forced(self, reason: str = "", **kwargs) -> bool:
        return bool(reason and reason.strip())

    def has_reason(self, reason: str = "", **kwargs) -> bool:
        return bool(reason and reason.strip())


@dataclass(frozen=True)
class Move:
    """The outcome of a person's move: the new state, and the steps it skipped."""

    before: str
    after: str
    skipped: tuple[str, ...]


def state_name(state: str, lang: str = "vi") -> str:
    vi, en = STATES.get(state, (state, state))
    return vi if lang == "vi" else en


def _machine(state: str) -> CampaignMachine:
    return CampaignMachine(start_value=state)


def advance_by_time(state: str, *, deadline_passed: bool, grace_ended: bool) -> tuple[str, list[str]]:
    """Apply what time has done; returns the new state and the events applied."""
    after, events = _advanced(state, deadline_passed, grace_ended)
    return after, list(events)


@cache
def _advanced(state: str, deadline_passed: bool, grace_ended: bool) -> tuple[str, tuple[str, ...]]:
    """``advance_by_time`` as the machine computes it, once per (state, deadline passed, grace ended): every
    page asks for the campaign's state, and building a python-statemachine machine costs about 1 ms."""
    events = []
    sm = _machine(state)
    if deadline_passed and sm.current_state_value == "open" and not grace_ended:
        sm.send("deadline_passes")
        events.append("deadline_passes")
    if grace_ended and sm.current_state_value in ("open", "grace"):
        if sm.current_state_value == "open":
            events.append("deadline_passes")
        sm.send("grace_ends")
        events.append("grace_ends")
    return sm.current_state_value, tuple(events)


def _missing_steps(state: str, target: str) -> list[str]:
    """The manual steps between ``state`` and ``target``'s starting state."""
    missing = []
    for vi, (src, _dst, _label_vi, _label_en) in MANUAL_STEPS.items():
        if ORDER.index(state) <= ORDER.index(src) < ORDER.index(target) - 1:
            missing.append(vi)
    return missing


def move(state: str, event: str, reason: str = "") -> Move:
    """A person's move; raises MoveRefused with a message naming what is missing."""
    if event == "cancel":
        if state in ("approved", "cancelled"):
            raise MoveRefused(f"Không thể hủy đợt đánh giá ở trạng thái “{state_name(state)}”.",
                              f"A campaign that is {state_name(state, 'en').lower()} cannot be cancelled.")
        if not reason.strip():
            raise MoveRefused("Cần ghi rõ lý do hủy đợt đánh giá.", "A reason is required to cancel a campaign.")
        sm = _machine(state)
        sm.send("cancel", reason=reason)
        return Move(state, "cancelled", ())
    if event == "launch":
        if state != "draft":
            raise MoveRefused("Đợt đánh giá đã được phát động.", "The campaign has already been launched.")
        return Move(state, "open", ())
    if event not in MANUAL_STEPS:
        raise MoveRefused(f"Thao tác không hợp lệ: {event}.", f"Unknown action: {event}.")
    source, target, label_vi, label_en = MANUAL_STEPS[event]
    if state in ("draft", "open", "grace"):
        raise MoveRefused(
            f"Chưa thể ghi nhận “{label_vi}”: thời hạn nhận hồ sơ (kể cả thời gian gia hạn) chưa kết thúc. "
            "Nếu cần, hãy điều chỉnh hạn chót.",
            f"Cannot mark “{label_en}”: the submission period (grace included) has not ended. "
            "Move the deadline if needed.")
    if state in ("approved", "cancelled") or ORDER.index(state) >= ORDER.index(target):
        raise MoveRefused(f"Bước này đã qua (trạng thái hiện tại: {state_name(state)}).",
                          f"This step is already behind (current state: {state_name(state, 'en')}).")
    skipped = [MANUAL_STEPS[e] for e in _missing_steps(state, target)]
    if skipped and not reason.strip():
        names_vi = "; ".join(s[2] for s in skipped)
        names_en = "; ".join(s[3] for s in skipped)
        raise MoveRefused(
            f"Chưa thể ghi nhận “{label_vi}”: còn thiếu bước: {names_vi}. Ghi lý do nếu vẫn muốn chuyển.",
            f"Cannot mark “{label_en}” yet; missing: {names_en}. Give a reason to move anyway.",
            missing=[s[3] for s in skipped])
    sm = _machine(state)
    try:
        sm.send(event, reason=reason)
    except TransitionNotAllowed as exc:  # pragma: no cover - the checks above mirror the machine
        raise MoveRefused("Thao tác không được phép.", str(exc)) from exc
    return Move(state, sm.current_state_value, tuple(s[3] for s in skipped))
