"""The audit trail: one entry for every change that matters."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from .db import db, utcnow
from .machine import STATES, state_name
from .models import AuditEvent
from .standing import STATUSES, status_name
from .timeline import MILESTONES

SYSTEM = "system"


def record(*, actor: str, action: str, organizer_id: int | None = None, campaign_id: int | None = None,
           unit_id: int | None = None, from_value: object = "", to_value: object = "", reason: str = "",
           at: datetime | None = None) -> AuditEvent:
    """Add an audit entry to the session; the boundary commits it with the change."""
    event = AuditEvent(actor=actor or SYSTEM, action=action, organizer_id=organizer_id, campaign_id=campaign_id,
                       unit_id=unit_id, from_value=str(from_value or ""), to_value=str(to_value or ""),
                       reason=reason or "", at=at or utcnow())
    db.session.add(event)
    return event


# -- the read side: audit events as sentences -----------------------------------

_CHANNELS = {"upload": ("nộp trực tuyến", "uploaded here"),
             "eoffice": ("qua phần mềm quản lý văn bản và điều hành", "through the e-office system"),
             "email": ("qua hộp thư điện tử công vụ", "by official e-mail")}
_SUBMISSION = re.compile(r"^(?P<status>\w+) v(?P<version>\d+) (?P<at>\S+) via (?P<channel>\w+)(?: #(?P<doc>.+))?$")
_MILESTONE = re.compile(r"^(?P<kind>\w+) (?:(?P<start>\d{4}-\d\d-\d\d)?\.\.(?P<end>\d{4}-\d\d-\d\d)|(?P<value>.+))$")
_CREATED = re.compile(r"^(?P<n>\d+) units(?:, deadline (?P<deadline>\d{4}-\d\d-\d\d))?$")
_OVERRIDE = re.compile(r"^(?P<day>\d{4}-\d\d-\d\d) (?P<kind>\w+): (?P<rest>.*)$")
_BULK = re.compile(r"^(?P<done>\d+) units, (?P<skipped>\d+) skipped$")
_SCORES = re.compile(r"^self=(?P<self>\S+) verified=(?P<verified>\S+)$")

#: What happened, per action, when the values add nothing (vi, en).
ACTION_SENTENCES = {
    "campaign.created": ("Tạo đợt đánh giá", "Campaign created"),
    "campaign.updated": ("Cập nhật đợt đánh giá", "Campaign updated"),
    "campaign.launch": ("Phát động đợt đánh giá", "Campaign launched"),
    "campaign.deadline_passes": ("Hết hạn nộp hồ sơ", "The deadline passed"),
    "campaign.grace_ends": ("Hết thời gian gia hạn", "The grace period ended"),
    "campaign.review_done": ("Hoàn thành thẩm định sơ bộ", "Preliminary review done"),
    "campaign.inspection_done": ("Hoàn thành kiểm tra thực tế", "Field inspection done"),
    "campaign.awards_done": ("Hoàn thành hồ sơ khen thưởng", "Award dossiers done"),
    "campaign.approval_received": ("UBND tỉnh phê duyệt, công bố kết quả", "Approved and published"),
    "campaign.cancel": ("Hủy đợt đánh giá", "Campaign cancelled"),
    "milestone.moved": ("Điều chỉnh mốc thời gian", "Milestone moved"),
    "milestone.removed": ("Bỏ mốc thời gian", "Milestone removed"),
    "reminders.changed": ("Thay đổi quy tắc nhắc hạn", "Reminder rules changed"),
    "scoring.changed": ("Thay đổi cách chấm điểm", "Score settings changed"),
    "submission.received": ("Nhận hồ sơ", "Dossier received"),
    "submission.returned": ("Trả lại hồ sơ để chỉnh sửa", "Dossier returned for correction"),
    "unit.reminded": ("Cơ quan tổ chức gửi thư nhắc nộp hồ sơ", "The organizer sent a reminder to submit"),
    "bulk.reminded": ("Gửi thư nhắc hàng loạt", "Bulk reminder sent"),
    "bulk.returned": ("Trả lại hồ sơ hàng loạt", "Dossiers returned in bulk"),
    "unit.excluded": ("Loại khỏi đánh giá", "Excluded from the evaluation"),
    "unit.reinstated": ("Khôi phục đơn vị", "Unit reinstated"),
    "unit.exclusion_reversed": ("Hủy việc loại đơn vị", "Exclusion reversed"),
    "unit.reclassified": ("Xếp lại đúng hạn/trễ hạn", "Reclassified on time/late"),
    "unit.nominated": ("Đề cử đơn vị cấp xã", "Commune nominated"),
    "figures.sent_for_confirmation": ("Gửi số liệu để đơn vị xác nhận", "Figures sent for confirmation"),
    "figures.confirmed": ("Đơn vị xác nhận số liệu", "Figures confirmed by the unit"),
    "scores.entered": ("Nhập điểm", "Scores entered"),
    "calendar.override_added": ("Thêm ngày nghỉ/ngày làm việc địa phương", "Local day off/working day added"),
    "calendar.override_removed": ("Bỏ ngày nghỉ/ngày làm việc địa phương", "Local day off/working day removed"),
    "calendar.holiday_confirmed": ("Xác nhận ngày nghỉ chưa xác nhận", "Unconfirmed day off confirmed"),
    "calendar.holiday_rejected": ("Không công nhận ngày nghỉ chưa xác nhận", "Unconfirmed day off rejected"),
    "user.created": ("Tạo tài khoản", "Account created"),
    "user.password_set": ("Đặt mật khẩu", "Password set"),
    "api_token.created": ("Tạo khóa API", "API token created"),
    "api_token.revoked": ("Thu hồi khóa API", "API token revoked"),
}


def _pick(lang: str, vi: str, en: str) -> str:
    return vi if lang == "vi" else en


def local_text(at: datetime, tz: tzinfo) -> str:
    """An instant as officials read it: ``01/12/2026 21:41`` in the campaign's zone."""
    return at.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def _day(text: str | None) -> str:
    return date.fromisoformat(text).strftime("%d/%m/%Y") if text else ""


def _word(value: str, lang: str) -> str:
    """A state or a unit status in words; anything else as recorded."""
    if value in STATES:
        return state_name(value, lang)
    if value in STATUSES:
        return status_name(value, lang)
    return value


def _milestone_name(kind: str, lang: str) -> str:
    if kind == "deadline":
        return _pick(lang, "hạn nộp hồ sơ", "the deadline")
    if kind == "grace_working_days":
        return _pick(lang, "số ngày làm việc gia hạn", "the grace working days")
    if kind in MILESTONES:
        vi, en, _ = MILESTONES[kind]
        return _pick(lang, f"mốc “{vi}”", f"milestone “{en}”")
    return kind


def _milestone_value(text: str, lang: str) -> str:
    m = _MILESTONE.match(text or "")
    if not m:
        return text
    if m["value"] is not None:
        if m["value"] == "(none)":
            return _pick(lang, "chưa có", "none")
        return _day(m["value"]) if re.fullmatch(r"\d{4}-\d\d-\d\d", m["value"]) else m["value"]
    return f"{_day(m['start'])} – {_day(m['end'])}" if m["start"] else _day(m["end"])


def _submission(event: AuditEvent, lang: str, tz: tzinfo) -> str:
    m = _SUBMISSION.match(event.to_value)
    if not m:
        return _pick(lang, "Nhận hồ sơ", "Dossier received")
    at = local_text(datetime.fromisoformat(m["at"]), tz)
    channel = _CHANNELS.get(m["channel"], (m["channel"], m["channel"]))
    doc = m["doc"]
    status = _word(m["status"], lang)
    before = _word(event.from_value, lang) if event.from_value else ""
    if lang == "vi":
        text = f"Nhận hồ sơ lần {m['version']} lúc {at}, {channel[0]}"
        if doc:
            text += f", văn bản số {doc}"
        text += f": {status}"
        return text + (f" (trước đó: {before})." if before and before != status else ".")
    text = f"Dossier version {m['version']} received at {at}, {channel[1]}"
    if doc:
        text += f", document no. {doc}"
    text += f": {status}"
    return text + (f" (was: {before})." if before and before != status else ".")


_SCORING = re.compile(r"^maximum=(?P<max>\S+) bonus=(?P<bonus>\S+) corrections=(?P<corrections>\w+)$")
_CORRECTIONS = {"keep_on_time": ("giữ đúng hạn", "keeps on time"),
                "reclassify": ("xếp lại theo lần sửa", "reclassified by the correction")}


def _scoring(before: str, after: str, lang: str) -> str | None:
    old, new = _SCORING.match(before), _SCORING.match(after)
    if not (old and new):
        return None
    parts = []
    for key, vi, en in (("max", "điểm tối đa", "maximum"), ("bonus", "điểm thưởng", "bonus")):
        if old[key] != new[key]:
            parts.append(_pick(lang, f"{vi} từ {old[key]} thành {new[key]}", f"{en} from {old[key]} to {new[key]}"))
    if old["corrections"] != new["corrections"]:
        was, now = (_CORRECTIONS.get(v, (v, v)) for v in (old["corrections"], new["corrections"]))
        parts.append(_pick(lang, f"hồ sơ đúng hạn sửa trong thời gian gia hạn: từ “{was[0]}” thành “{now[0]}”",
                           f"an on-time dossier corrected during grace: from “{was[1]}” to “{now[1]}”"))
    return _pick(lang, "Thay đổi cách chấm điểm: ", "Score settings changed: ") + "; ".join(parts) + "."


def _yes(value: object, lang: str) -> str:
    return _pick(lang, "có", "yes") if value else _pick(lang, "không", "no")


def _days(values: object, lang: str) -> str:
    days = ", ".join(str(v) for v in values) if isinstance(values, list) and values else ""
    return _pick(lang, f"{days} ngày làm việc" if days else "không nhắc", f"{days} working days" if days else "none")


#: The reminder settings in words (vi, en), and how each value is read out.
_REMINDER_SETTINGS = {
    "before_deadline": ("nhắc trước hạn", "reminders before the deadline", _days),
    "on_deadline_day": ("nhắc vào ngày hết hạn", "reminder on the deadline day", _yes),
    "grace_days": ("nhắc mỗi ngày gia hạn", "reminder on each grace day", _yes),
    "escalate": ("báo thủ trưởng đơn vị (và cấp huyện) ngày cuối", "copy to the head (and district) on the last day",
                 _yes),
    "digest": ("bản tin hằng ngày cho cơ quan tổ chức", "daily digest to the organizer", _yes),
    "milestone_lead_days": ("nhắc trước các mốc (ngày làm việc)", "milestone reminders (working days before)",
                            lambda v, lang: str(v)),
    "office_hours": ("giờ gửi thư", "sending hours", lambda v, lang: str(v)),
}


def _reminders(before: str, after: str, lang: str) -> str | None:
    try:
        old, new = json.loads(before or "null") or {}, json.loads(after or "null") or {}
    except ValueError:
        return None
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None
    parts = []
    for key, (vi, en, show) in _REMINDER_SETTINGS.items():
        if key in new and old.get(key) != new[key]:
            was = show(old[key], lang) if key in old else "—"
            parts.append(_pick(lang, f"{vi} từ {was} thành {show(new[key], lang)}",
                               f"{en} from {was} to {show(new[key], lang)}"))
    if not parts:
        return None
    return _pick(lang, "Thay đổi quy tắc nhắc hạn: ", "Reminder rules changed: ") + "; ".join(parts) + "."


def describe(event: AuditEvent, lang: str = "vi", tz: tzinfo | None = None) -> str:
    """One audit event as a sentence in Vietnamese (``lang="vi"``) or English, with local dates.

    The one renderer of audit lines: the campaign page, the audit page and the export's
    "sentence" column use it; the raw values stay in the export's other columns.
    """
    zone = tz or ZoneInfo("Asia/Ho_Chi_Minh")
    action, before, after = event.action, event.from_value or "", event.to_value or ""
    base = _pick(lang, *ACTION_SENTENCES.get(action, (action, action)))
    if action == "submission.received":
        return _submission(event, lang, zone)
    if action == "campaign.created" and (m := _CREATED.match(after)):
        if m["deadline"]:
            return _pick(lang, f"Tạo đợt đánh giá với {m['n']} đơn vị, hạn nộp hồ sơ {_day(m['deadline'])}.",
                         f"Campaign created with {m['n']} units, deadline {_day(m['deadline'])}.")
        return _pick(lang, f"Tạo đợt đánh giá với {m['n']} đơn vị.", f"Campaign created with {m['n']} units.")
    if action == "campaign.updated" and (m := _CREATED.match(after)):
        return _pick(lang, f"Cập nhật đợt đánh giá ({m['n']} đơn vị).", f"Campaign updated ({m['n']} units).")
    if action in ("milestone.moved", "milestone.removed"):
        m = _MILESTONE.match(after or before)
        name = _milestone_name(m["kind"], lang) if m else ""
        if action == "milestone.removed":
            return _pick(lang, f"Bỏ {name} ({_milestone_value(before, lang)}).",
                         f"Removed {name} ({_milestone_value(before, lang)}).")
        old, new = _milestone_value(before, lang), _milestone_value(after, lang)
        return _pick(lang, f"Điều chỉnh {name} từ {old} thành {new}.", f"Moved {name} from {old} to {new}.")
    if action.startswith("calendar.override") and (m := _OVERRIDE.match(after or before)):
        kind = {"day_off": ("ngày nghỉ", "day off"), "working_day": ("ngày làm việc", "working day")}.get(
            m["kind"], (m["kind"], m["kind"]))
        verb = _pick(lang, "Thêm", "Added") if action.endswith("added") else _pick(lang, "Bỏ", "Removed")
        return _pick(lang, f"{verb} {kind[0]} {_day(m['day'])}: {m['rest']}.",
                     f"{verb} {kind[1]} {_day(m['day'])}: {m['rest']}.")
    if action in ("bulk.reminded", "bulk.returned") and (m := _BULK.match(before)):
        done, skipped = int(m["done"]), int(m["skipped"])
        if action == "bulk.reminded":
            vi, en = f"Gửi thư nhắc nộp hồ sơ cho {done} đơn vị", f"Reminder sent to {done} unit{'s' if done != 1 else ''}"
        else:
            vi, en = f"Trả lại hồ sơ của {done} đơn vị để chỉnh sửa", \
                f"Dossiers of {done} unit{'s' if done != 1 else ''} returned for correction"
        return _pick(lang, f"{vi} (thao tác hàng loạt; bỏ qua {skipped} đơn vị).",
                     f"{en} (bulk action; {skipped} skipped).")
    if action == "scoring.changed" and (text := _scoring(before, after, lang)):
        return text
    if action == "reminders.changed" and (text := _reminders(before, after, lang)):
        return text
    if action == "scores.entered" and (m := _SCORES.match(after)):
        return _pick(lang, f"Nhập điểm: tự chấm {m['self']}, thẩm định {m['verified']}.",
                     f"Scores entered: self-assessed {m['self']}, verified {m['verified']}.")
    if before or after:
        old = _word(before, lang) if before else "—"
        new = _word(after, lang) if after else "—"
        return _pick(lang, f"{base}: từ “{old}” thành “{new}”.", f"{base}: from “{old}” to “{new}”.")
    return base + "."


def describe_reason(reason: str, lang: str = "vi") -> str:
    """The reason as recorded, except the importer's own words (``import from X.yaml``)."""
    if reason == "import":
        return _pick(lang, "Nhập từ tệp", "Imported from a file")
    if reason == "import from web-form":
        return _pick(lang, "Sửa trên biểu mẫu", "Edited in the form")
    if reason.startswith("import from "):
        name = reason.removeprefix("import from ")
        return _pick(lang, f"Nhập từ tệp {name}", f"Imported from the file {name}")
    return reason
