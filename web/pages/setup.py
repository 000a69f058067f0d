"""Setting up a campaign: forms, units import from XLSX/CSV, exports.

- ``/campaigns/new`` and ``/campaigns/<code>/edit``: the campaign's letter,
  deadline, grace period, later milestones and rating tiers.  A campaign is
  created (and its plain fields updated) through ``campaign_files.apply``, the
  same code as the YAML import, so the rules and the audit trail are the same.
  An edit goes through ``operations.edit_campaign``: moving the deadline or a
  milestone needs a written reason, each move is audited.  A date that is not a working day is a
  warning, never an error.
- ``/campaigns/<code>/units/import``: a province's XLSX or CSV list of units,
  previewed (new / changed / unchanged, every bad row with its row number)
  before anything is saved; the file waits in the instance folder under a
  random name held in the signed session, never in the page.
- ``/campaigns/<code>/export.xlsx|.csv``: status and results, one row per unit.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from markupsafe import escape
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from notifications.queue import reminder_plan, rules_of
from notifications.rules import ReminderRules, RulesError
from web.access import campaign_or_404, is_organizer_side, require_roles
from web.common import gettext as _
from web.common import lang  # noqa: E402
from web.dayfield import DayTextField
from workflow import dashboard as dq
from workflow import operations as ops
from workflow import unit_files
from workflow.addresses import is_email
from workflow.calendars import calendar_for
from workflow.campaign_files import (
    CODE_RE,
    CampaignFileError,
    CampaignSpec,
    apply,
    checked_reminder_rules,
    organizer_dict,
    spec_of,
    stored_units,
    unit_spec,
)
from workflow.campaigns import calendar_of, state_at, tz_of
from workflow.db import db, utcnow
from workflow.models import Campaign, Participation, Unit
from workflow.operations import CampaignEdit, MilestoneRefused, OperationError
from workflow.standing import (
    DEFAULT_TIERS,
    POINTS_MAX,
    POINTS_MIN,
    PointsRefused,
    ScoringRefused,
    checked_points,
    checked_scoring,
    stored_points,
)
from workflow.timeline import MILESTONES, RANGED_MILESTONES, MilestoneDates, grace_period, milestone_warnings
from workflow.workdays import VietnamCalendar, format_day

bp = Blueprint("setup", __name__)

#: The ``source`` given to ``apply`` for changes made in these forms (its audit reads "import from web-form").
WEB_SOURCE = "web-form"
MAX_GRACE = 60
MIN_YEAR, MAX_YEAR = 1990, 2100
TIER_ROWS = 6
#: Rows for the "N working days before the deadline" reminders (a blank row is no reminder).
REMINDER_ROWS = 6


# -- fields with Vietnamese messages -------------------------------------------

class DayField(DayTextField):
    """A date typed as 25/10/2019 (the picker writes that too; 2019-10-25 is still read)."""

    def message_invalid(self) -> str:
        return _("Ngày không hợp lệ; nhập theo dạng ngày/tháng/năm, ví dụ 25/10/2019.")

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not MIN_YEAR <= self.data.year <= MAX_YEAR:
            self.data = None
            raise ValueError(_("Năm phải từ %(first)d đến %(last)d.", first=MIN_YEAR, last=MAX_YEAR))


class WholeField(IntegerField):
    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            self.data = None
            return
        try:
            self.data = int(text)
        except ValueError:
            self.data = None
            raise ValueError(_("Nhập một số nguyên.")) from None
        # Far out of any range, and kept small enough for NumberRange (whose NaN check makes a float of it):
        # "9" * 400 gets the field's own range message, not a server error.
        self.data = max(-10 ** 9, min(self.data, 10 ** 9))


class ScoreField(DecimalField):
    """A number of points; 92,5 is read as 92.5."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, places=None, **kwargs)

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip().replace(",", ".")
        if not text:
            self.data = None
            return
        try:
            self.data = Decimal(text)
            if not self.data.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.data = None
            raise ValueError(_("Nhập một số điểm, ví dụ 95 hoặc 92,5.")) from None
        try:
            self.data = checked_points(self.data)
        except PointsRefused:
            self.data = None
            raise ValueError(_("Số điểm phải từ %(low)s đến %(high)s, tối đa hai chữ số thập phân.",
                               low=POINTS_MIN, high=POINTS_MAX)) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format(Decimal(str(self.data)).normalize(), "f")


def _required(message: str):
    # InputRequired, not DataRequired: a date that cannot be read keeps its own message.  And a date of blanks
    # only (" "), which InputRequired lets through and DayField reads as no date, is missing too.
    def filled(form, field):
        if field.data is None and not field.errors:
            raise StopValidation(message)

    return [InputRequired(message), filled]


# -- the campaign forms --------------------------------------------------------

class TierForm(Form):
    name = StringField(_l("Mức xếp loại"), validators=[Optional(), Length(max=64, message=_l("Tối đa 64 ký tự."))])
    min = ScoreField(_l("Từ (điểm)"), validators=[Optional()])


#: Later milestones: kind -> (start field or None, end field), derived from the one definition of the
#: milestones (workflow/timeline.py): a ranged milestone has ``<kind>_start`` and ``<kind>_end``.
MILESTONE_FIELDS: dict[str, tuple[str | None, str]] = {
    kind: ((f"{kind}_start", f"{kind}_end") if kind in RANGED_MILESTONES else (None, kind)) for kind in MILESTONES}
#: The form's milestone fields, in timeline order.
MILESTONE_FIELD_NAMES = tuple(name for start, end in MILESTONE_FIELDS.values() for name in (start, end) if name)
#: Date fields that are checked against the working-day calendar.
CHECKED_DATES = ("document_date", "deadline", *MILESTONE_FIELD_NAMES)
#: Fields whose change moves the timeline and needs a reason.
TIMELINE_FIELDS = ("deadline", "grace_working_days", *MILESTONE_FIELD_NAMES)


class MilestoneLabel:
    """A milestone field's label in the page's language, from the milestone's own two names."""

    def __init__(self, vi: str, en: str, part: str = ""):
        self.vi, self.en, self.part = vi, en, part

    def __str__(self) -> str:
        vi = lang() == "vi"
        name = self.vi if vi else self.en
        if self.part == "start":
            return f"{name}: {'từ ngày' if vi else 'from'}"
        if self.part == "end":
            return f"{name}: {'đến ngày' if vi else 'to'}"
        return name

    def __html__(self) -> str:
        return str(escape(str(self)))


def _emails(text: str) -> list[str]:
    return list(dict.fromkeys(v for v in re.split(r"[;,\s]+", text or "") if v))


CORRECTION_CHOICES = [
    SelectChoice("keep_on_time", _l("Giữ đúng hạn: hồ sơ đã nhận đúng hạn, sửa trong thời gian gia hạn vẫn tính đúng "
                                    "hạn (ghi “đã sửa” với thời điểm sửa) — mặc định")),
    SelectChoice("reclassify", _l("Xếp lại theo lần sửa: tính theo thời điểm nhận bản sửa (trễ hạn bao nhiêu ngày "
                                  "làm việc)"))]


class CampaignFields(FlaskForm):
    title = TextAreaField(_l("Tên đợt đánh giá"), validators=[
        DataRequired(_l("Vui lòng nhập tên đợt đánh giá.")), Length(max=500, message=_l("Tối đa 500 ký tự."))])
    year = WholeField(_l("Năm đánh giá"), validators=[
        InputRequired(_l("Vui lòng nhập năm đánh giá.")),
        NumberRange(MIN_YEAR, MAX_YEAR, message=_l("Năm phải từ 1990 đến 2100."))])
    document_number = StringField(_l("Số văn bản phát động"), validators=[
        Optional(), Length(max=128, message=_l("Tối đa 128 ký tự."))])
    document_date = DayField(_l("Ngày ban hành văn bản"), validators=[Optional()])
    data_period_start = DayField(_l("Số liệu tính từ ngày"), validators=[Optional()])
    data_period_end = DayField(_l("đến ngày"), validators=[Optional()])
    deadline = DayField(_l("Hạn nộp hồ sơ (hết 24:00 ngày này)"),
                        validators=_required(_l("Vui lòng nhập hạn nộp hồ sơ.")))
    grace_working_days = WholeField(_l("Số ngày làm việc được nộp trễ (gia hạn)"), validators=[
        InputRequired(_l("Vui lòng nhập số ngày gia hạn (0 nếu không gia hạn).")),
        NumberRange(0, MAX_GRACE, message=_l("Số ngày gia hạn phải từ 0 đến 60."))])
    tiers = FieldList(FormField(TierForm), min_entries=TIER_ROWS, max_entries=12)
    council_emails = TextAreaField(_l("Thư điện tử của Hội đồng thẩm định"), validators=[Optional()])
    commune_nomination = BooleanField(_l("Cấp huyện chọn 01 đơn vị cấp xã dẫn đầu gửi hồ sơ về Sở"))
    # -- scores (``scoring`` and ``corrections`` of the campaign file); a post without them leaves them as they are
    score_maximum = ScoreField(_l("Điểm tối đa"), validators=[Optional()])
    score_bonus = ScoreField(_l("Điểm thưởng tối đa (cộng thêm)"), validators=[Optional()])
    corrections = RadioField(_l("Hồ sơ đúng hạn được sửa trong thời gian gia hạn"), choices=CORRECTION_CHOICES,
                             default="keep_on_time", validators=[Optional()])
    # -- reminders (``reminders`` of the campaign file): every value is checked by notifications.rules
    before_deadline = FieldList(WholeField(_l("Nhắc trước hạn (ngày làm việc)"), validators=[Optional()]),
                                min_entries=REMINDER_ROWS, max_entries=20)
    on_deadline_day = BooleanField(_l("Nhắc vào ngày hết hạn (nếu là ngày làm việc)"))
    grace_days = BooleanField(_l("Nhắc mỗi ngày làm việc trong thời gian gia hạn"))
    escalate = BooleanField(_l("Lần nhắc cuối trước hạn gửi cả thủ trưởng đơn vị (và đầu mối cấp huyện của đơn vị "
                               "cấp xã)"))
    digest = BooleanField(_l("Gửi bản tin hằng ngày cho cơ quan tổ chức"))
    milestone_lead_days = WholeField(_l("Nhắc cơ quan tổ chức và Hội đồng trước mỗi mốc (ngày làm việc; 0: không nhắc)"),
                                     validators=[Optional()])
    office_start = StringField(_l("Gửi thư từ (giờ:phút)"), validators=[Optional()])
    office_end = StringField(_l("đến (giờ:phút)"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: Reminder settings refused by the rules' parser, by setting (shown next to the setting).
        self.rule_errors: dict[str, str] = {}

    def reminder_settings(self) -> dict:
        """The reminder settings as a campaign file writes them, for the one parser to check."""
        days = [entry.data for entry in self.before_deadline.entries if entry.data is not None]
        return {"before_deadline": days, "on_deadline_day": bool(self.on_deadline_day.data),
                "grace_days": bool(self.grace_days.data), "escalate": bool(self.escalate.data),
                "digest": bool(self.digest.data), "milestone_lead_days": self.milestone_lead_days.data,
                "office_hours": f"{(self.office_start.data or '').strip()}-{(self.office_end.data or '').strip()}"}

    def scoring(self, maximum: Decimal, bonus: Decimal) -> tuple[Decimal, Decimal]:
        """The maximum and bonus typed (a post without them keeps ``maximum`` and ``bonus``; a blank bonus is 0)."""
        return (self.score_maximum.data if self.score_maximum.data is not None else maximum,
                (self.score_bonus.data or Decimal(0)) if self.score_bonus.raw_data else bonus)

    def reminders_posted(self) -> bool:
        """Whether this post carries the reminder settings (a browser always sends the hours' fields)."""
        return bool(self.office_start.raw_data or self.office_end.raw_data)

    def checked_rules(self) -> dict | None:
        """The reminder settings checked by notifications.rules; None when not posted, or refused (then
        ``rule_errors`` and the fields say why)."""
        self.rule_errors = {}
        if not self.reminders_posted():
            return None
        if any(self.before_deadline.errors) or self.milestone_lead_days.errors:
            self.rule_errors["fields"] = "1"
            return None
        try:
            return checked_reminder_rules(self.reminder_settings())
        except RulesError as exc:
            key = exc.key or "before_deadline"
            message = exc.message_vi if lang() == "vi" else str(exc)
            self.rule_errors[key] = message
            if key == "milestone_lead_days":
                self.milestone_lead_days.errors.append(message)
            elif key == "office_hours":
                self.office_end.errors.append(message)
            return None

    def correction_keeps_on_time(self) -> bool | None:
        if not self.corrections.raw_data:
            return None
        return self.corrections.data != "reclassify"

    def validate_council_emails(self, field):
        bad = [v for v in _emails(field.data) if not is_email(v)]
        if bad:
            raise ValidationError(_("Địa chỉ thư điện tử không hợp lệ: %(bad)s.", bad=", ".join(bad)))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        start, end = self.data_period_start.data, self.data_period_end.data
        if start and end and start > end:
            self.data_period_end.errors.append(_("Ngày kết thúc trước ngày bắt đầu."))
            ok = False
        start, end = self.field_inspection_start.data, self.field_inspection_end.data
        if start and not end and not self.field_inspection_end.errors:
            self.field_inspection_end.errors.append(_("Nhập ngày kết thúc kiểm tra thực tế."))
            ok = False
        if start and end and start > end:
            self.field_inspection_end.errors.append(_("Ngày kết thúc trước ngày bắt đầu."))
            ok = False
        if self.score_maximum.raw_data and self.score_maximum.data is None and not self.score_maximum.errors:
            self.score_maximum.errors.append(_("Vui lòng nhập điểm tối đa (ví dụ 100)."))
            ok = False
        if not self.score_maximum.errors and not self.score_bonus.errors:
            try:  # the campaign file's own check (standing.checked_scoring)
                checked_scoring(*self.scoring(Decimal(100), Decimal(0)))
            except (PointsRefused, ScoringRefused) as exc:
                self.score_bonus.errors.append(exc.message_vi if lang() == "vi" else exc.message_en)
                ok = False
        self.checked_rules()
        if self.rule_errors:
            ok = False
        return self._validate_tiers() and ok

    def _validate_tiers(self) -> bool:
        rows = [entry.form for entry in self.tiers.entries
                if (entry.form.name.data or "").strip() or entry.form.min.data is not None or entry.form.min.errors]
        if any(r.min.errors or r.name.errors for r in rows):
            return False
        ok = True
        previous = None
        for index, r in enumerate(rows):
            if not (r.name.data or "").strip():
                r.name.errors.append(_("Nhập tên mức xếp loại."))
                ok = False
            if r.min.data is None and index != len(rows) - 1:
                r.min.errors.append(_("Chỉ mức cuối cùng được để trống số điểm tối thiểu."))
                ok = False
            if r.min.data is not None and previous is not None and r.min.data >= previous:
                r.min.errors.append(_("Các mức xếp từ cao xuống thấp: điểm tối thiểu phải giảm dần."))
                ok = False
            previous = r.min.data if r.min.data is not None else previous
        if not rows:
            self.tiers.entries[0].form.name.errors.append(_("Cần ít nhất một mức xếp loại."))
            ok = False
        return ok

    def tier_list(self, old: list[dict] | None = None) -> list[dict]:
        """The tiers as stored: best first, English names kept from before (or Tiền Giang's)."""
        english = {t["name"]: t.get("name_en") or t["name"] for t in [*DEFAULT_TIERS, *(old or [])]}
        out = []
        for entry in self.tiers.entries:
            name = (entry.form.name.data or "").strip()
            if not name:
                continue
            minimum = entry.form.min.data
            out.append({"name": name, "name_en": english.get(name, name),
                        "min": stored_points(minimum) if minimum is not None else None})
        return out

    def milestone_field_names(self) -> tuple[str, ...]:
        return MILESTONE_FIELD_NAMES

    def milestones(self) -> dict[str, tuple[date | None, date]]:
        out = {}
        for kind, (start_field, end_field) in MILESTONE_FIELDS.items():
            end = getattr(self, end_field).data
            if end:
                out[kind] = (getattr(self, start_field).data if start_field else None, end)
        return out


for _kind, (_vi, _en, _reached) in MILESTONES.items():
    _start, _end = MILESTONE_FIELDS[_kind]
    if _start:
        setattr(CampaignFields, _start, DayField(MilestoneLabel(_vi, _en, "start"), validators=[Optional()]))
    setattr(CampaignFields, _end, DayField(MilestoneLabel(_vi, _en, "end" if _start else ""), validators=[Optional()]))


STATE_CHOICES = [SelectChoice("draft", _l("Bản nháp: chưa mở nhận hồ sơ (mở sau khi nhập danh sách đơn vị)")),
                 SelectChoice("open", _l("Mở nhận hồ sơ ngay"))]


class NewCampaignForm(CampaignFields):
    code = StringField(_l("Mã đợt đánh giá"), validators=[
        DataRequired(_l("Vui lòng nhập mã đợt đánh giá.")), Length(max=64, message=_l("Tối đa 64 ký tự."))])
    state = RadioField(_l("Trạng thái"), choices=STATE_CHOICES, default="draft",
                       validators=[InputRequired(_l("Vui lòng chọn trạng thái."))])

    def validate_code(self, field):
        value = (field.data or "").strip()
        if not CODE_RE.match(value):
            raise ValidationError(_("Mã chỉ gồm chữ cái không dấu, chữ số và các dấu . _ - (ví dụ TGG-2020)."))
        field.data = value


class EditCampaignForm(CampaignFields):
    reason = TextAreaField(_l("Lý do điều chỉnh mốc thời gian"), validators=[
        Optional(), Length(max=1000, message=_l("Tối đa 1000 ký tự."))])


def _tier_rows(tiers: list[dict]) -> list[dict]:
    return [{"name": t["name"], "min": Decimal(str(t["min"])) if t.get("min") is not None else None}
            for t in tiers]


def _new_defaults() -> dict:
    today = datetime.now(current_app.config["TZ"]).date()
    return {"year": today.year, "grace_working_days": 5, "state": "draft", "tiers": _tier_rows(DEFAULT_TIERS),
            "score_maximum": Decimal(100), "score_bonus": Decimal(0), "corrections": "keep_on_time",
            **_rule_data(ReminderRules())}


def _rule_data(rules: ReminderRules) -> dict:
    days = list(rules.before_deadline)
    return {"before_deadline": days + [None] * max(0, REMINDER_ROWS - len(days)),
            "on_deadline_day": rules.on_deadline_day, "grace_days": rules.grace_days, "escalate": rules.escalate,
            "digest": rules.digest, "milestone_lead_days": rules.milestone_lead_days,
            "office_start": f"{rules.office_start:%H:%M}", "office_end": f"{rules.office_end:%H:%M}"}


def _campaign_data(campaign: Campaign) -> dict:
    data = {"title": campaign.title, "year": campaign.year, "document_number": campaign.document_number,
            "document_date": campaign.document_date, "data_period_start": campaign.data_period_start,
            "data_period_end": campaign.data_period_end, "deadline": campaign.deadline,
            "grace_working_days": campaign.grace_working_days, "commune_nomination": campaign.commune_nomination,
            "council_emails": "\n".join(campaign.council_emails or []),
            "tiers": _tier_rows(campaign.tiers or DEFAULT_TIERS),
            "score_maximum": Decimal(campaign.score_maximum if campaign.score_maximum is not None else 100),
            "score_bonus": Decimal(campaign.score_bonus or 0),
            "corrections": "reclassify" if campaign.correction_keeps_on_time is False else "keep_on_time",
            **_rule_data(rules_of(campaign))}
    for m in campaign.milestones:
        start_field, end_field = MILESTONE_FIELDS.get(m.kind, (None, None))
        if end_field:
            data[end_field] = m.end_date
        if start_field:
            data[start_field] = m.start_date
    return data


# -- working-day warnings and the grace preview ---------------------------------

def not_working_day(day: date, cal: VietnamCalendar) -> str | None:
    """Why a day is not a working day, as a sentence; None for a working day."""
    status = cal.day_status(day)
    if status.working:
        return None
    return _("%(day)s không phải ngày làm việc (%(why)s).", day=format_day(day, lang()), why=status.describe(lang()))


def deadline_warning(day: date, cal: VietnamCalendar) -> str | None:
    why = not_working_day(day, cal)
    if why is None:
        return None
    return why + " " + _("Hạn vẫn tính đến hết 24:00 ngày này; các ngày gia hạn được đếm từ ngày làm việc tiếp theo.")


def date_warnings(form: CampaignFields, cal: VietnamCalendar) -> dict[str, str]:
    """Field name -> warning for each date that is not a working day (or comes before the deadline)."""
    out: dict[str, str] = {}
    deadline = form.deadline.data if not form.deadline.errors else None
    for name in CHECKED_DATES:
        field = getattr(form, name)
        if field.errors or not isinstance(field.data, date):
            continue
        messages = [deadline_warning(field.data, cal) if name == "deadline" else not_working_day(field.data, cal)]
        if name not in ("document_date", "deadline") and deadline is not None and field.data <= deadline:
            messages.append(_("Ngày này không sau hạn nộp hồ sơ (%(deadline)s).", deadline=format_day(deadline, lang())))
        if any(messages):
            out[name] = " ".join(m for m in messages if m)
    grace = form.grace_working_days.data if not form.grace_working_days.errors else None
    if deadline is not None and isinstance(grace, int) and 0 <= grace <= 60:
        ends = {kind: MilestoneDates(start, end) for kind, (start, end) in _form_milestones(form).items()}
        for w in milestone_warnings(deadline, grace, ends, cal):  # one rule, shared with files and status
            name = MILESTONE_FIELDS[w.kind][1]
            out[name] = " ".join(m for m in (out.get(name), w.message(lang())) if m)
    return out


def _form_milestones(form: CampaignFields) -> dict[str, tuple[date | None, date]]:
    out = {}
    for kind, (start_name, end_name) in MILESTONE_FIELDS.items():
        end = getattr(form, end_name)
        if end.errors or not isinstance(end.data, date):
            continue
        start = getattr(form, start_name) if start_name else None
        out[kind] = (start.data if start is not None and isinstance(start.data, date) else None, end.data)
    return out


def grace_preview_of(deadline: date, grace: int, cal: VietnamCalendar, tz) -> dict:
    period = grace_period(deadline, grace, cal, tz)
    return {"deadline": deadline.isoformat(), "deadline_text": format_day(deadline, lang()), "grace": grace,
            "grace_end": period.last_day.isoformat(), "grace_end_text": format_day(period.last_day, lang()),
            "grace_ends_at": period.ends_at.isoformat(), "deadline_warning": deadline_warning(deadline, cal),
            "explanation": period.explain(lang())}


def _form_preview(form: CampaignFields, cal: VietnamCalendar, tz) -> dict | None:
    deadline, grace = form.deadline.data, form.grace_working_days.data
    if (not isinstance(deadline, date) or form.deadline.errors or not isinstance(grace, int)
            or form.grace_working_days.errors or not 0 <= grace <= MAX_GRACE):
        return None
    return grace_preview_of(deadline, grace, cal, tz)


def _organizer_tz():
    return ZoneInfo(current_user.organizer.timezone or "Asia/Ho_Chi_Minh")


def _bad_request(message: str):
    return jsonify({"error": message}), 400


def _query_day(name: str) -> date | None:
    try:
        day = date.fromisoformat((request.args.get(name) or "").strip())
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


@bp.get("/campaigns/grace-preview")
@login_required
def grace_preview():
    """When the grace period ends for a deadline and a number of working days (JSON, for the forms)."""
    deadline = _query_day("deadline")
    if deadline is None:
        return _bad_request(_("Hạn nộp hồ sơ không hợp lệ: cần một ngày dạng YYYY-MM-DD, từ năm 1990 đến 2100."))
    try:
        grace = int((request.args.get("grace") or "").strip())
    except ValueError:
        grace = -1
    if not 0 <= grace <= MAX_GRACE:
        return _bad_request(_("Số ngày gia hạn phải là số nguyên từ 0 đến 60."))
    return jsonify(grace_preview_of(deadline, grace, calendar_for(current_user.organizer_id), _organizer_tz()))


@bp.get("/campaigns/day-status")
@login_required
def day_status():
    """Whether a day is a working day for the signed-in user's organizer (JSON, for the forms)."""
    day = _query_day("day")
    if day is None:
        return _bad_request(_("Ngày không hợp lệ: cần một ngày dạng YYYY-MM-DD, từ năm 1990 đến 2100."))
    cal = calendar_for(current_user.organizer_id)
    status = cal.day_status(day)
    return jsonify({"day": day.isoformat(), "day_text": format_day(day, lang()), "working": status.working,
                    "reason": status.reason, "why": status.describe(lang()), "warning": not_working_day(day, cal)})


# -- new campaign --------------------------------------------------------------

def _flash_saved_dates(form: CampaignFields, cal: VietnamCalendar, tz, warnings: dict[str, str]) -> None:
    preview = _form_preview(form, cal, tz)
    if preview:
        flash(_("Hạn nộp hồ sơ: hết 24:00 %(deadline)s; hết thời gian gia hạn (%(n)d ngày làm việc): 24:00 %(end)s.",
                deadline=preview["deadline_text"], n=preview["grace"], end=preview["grace_end_text"]), "info")
    for name, message in warnings.items():
        flash(_("Lưu ý — %(field)s: %(message)s", field=getattr(form, name).label.text, message=message), "warning")


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
def new_campaign():
    """Create a campaign from its launching letter; saved through the same code as the YAML import."""
    user = require_roles("organizer_admin")
    cal, tz = calendar_for(user.organizer_id), _organizer_tz()
    form = NewCampaignForm() if request.method == "POST" else NewCampaignForm(data=_new_defaults())
    if form.validate_on_submit():
        if db.session.scalar(select(Campaign.id).where(Campaign.code == form.code.data)) is not None:
            form.code.errors.append(_("Mã này đã được dùng cho một đợt đánh giá khác; vui lòng chọn mã khác."))
        else:
            maximum, bonus = form.scoring(Decimal(100), Decimal(0))
            spec = CampaignSpec(
                organizer=organizer_dict(user.organizer), code=form.code.data, title=form.title.data.strip(),
                year=form.year.data, deadline=form.deadline.data, grace_working_days=form.grace_working_days.data,
                document_number=(form.document_number.data or "").strip(), document_date=form.document_date.data,
                data_period=(form.data_period_start.data, form.data_period_end.data), state=form.state.data,
                commune_nomination=bool(form.commune_nomination.data), milestones=form.milestones(),
                tiers=form.tier_list(), council_emails=_emails(form.council_emails.data), units=[],
                score_maximum=maximum, score_bonus=bonus, correction_keeps_on_time=form.correction_keeps_on_time() is not False,
                reminder_rules=_rules_to_store(form))
            try:
                result = apply(spec, actor=user.email, now=utcnow(), source=WEB_SOURCE)
            except CampaignFileError as exc:
                db.session.rollback()
                form.code.errors.append(exc.message)
            else:
                db.session.commit()
                flash(_("Đã tạo đợt đánh giá %(code)s. Bước tiếp theo: nhập danh sách đơn vị.",
                        code=result.campaign.code), "success")
                _flash_saved_dates(form, cal, tz, date_warnings(form, cal))
                return redirect(url_for("setup.edit_campaign", code=result.campaign.code))
    status = 422 if request.method == "POST" else 200
    return render_template("setup/campaign_form.html", form=form, campaign=None,
                           preview=_form_preview(form, cal, tz), warnings=date_warnings(form, cal),
                           timeline_fields=TIMELINE_FIELDS), status


def _rules_to_store(form: CampaignFields) -> dict | None:
    """A new campaign keeps no rules of its own when they are the defaults (its file export stays short)."""
    rules = form.checked_rules()
    return None if rules == ReminderRules().as_dict() else rules


# -- edit ----------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _field_of(kind: str, error_field: str | None) -> str:
    if error_field == "reason":
        return "reason"
    if kind == "deadline":
        return "deadline"
    start_field, end_field = MILESTONE_FIELDS[kind]
    return start_field if error_field == "start" and start_field else end_field


def _save_edit(campaign: Campaign, form: EditCampaignForm) -> list[str]:
    """Write the edit through the one operation that holds its rules."""
    edit = CampaignEdit(
        deadline=form.deadline.data, grace_working_days=form.grace_working_days.data, milestones=form.milestones(),
        title=form.title.data, year=form.year.data, document_number=form.document_number.data or "",
        document_date=form.document_date.data, data_period=(form.data_period_start.data, form.data_period_end.data),
        commune_nomination=bool(form.commune_nomination.data), tiers=form.tier_list(campaign.tiers),
        council_emails=_emails(form.council_emails.data), score_maximum=form.score_maximum.data,
        score_bonus=(form.score_bonus.data or Decimal(0)) if form.score_bonus.raw_data else None,
        correction_keeps_on_time=form.correction_keeps_on_time(), reminder_rules=form.checked_rules())
    try:
        return ops.edit_campaign(campaign, edit, reason=form.reason.data or "", actor=current_user.email, now=utcnow(),
                             source=WEB_SOURCE)
    except MilestoneRefused as exc:
        raise _Refused(_field_of(exc.kind, exc.field), exc.message_vi) from None
    except OperationError as exc:
        field = (exc.field or "title").removeprefix("reminders.")
        field = {"office_hours": "office_end", "before_deadline": "title", "reminders": "title"}.get(field, field)
        raise _Refused(field if field in form else "title", exc.message_vi) from None


@bp.route("/campaigns/<code>/edit", methods=["GET", "POST"])
@login_required
def edit_campaign(code: str):
    """Edit a campaign; moving the deadline or a milestone needs a reason and is audited."""
    campaign = campaign_or_404(code, manage=True)
    cal, tz = calendar_of(campaign), tz_of(campaign)
    form = EditCampaignForm() if request.method == "POST" else EditCampaignForm(data=_campaign_data(campaign))
    status = 200
    if request.method == "POST" and request.form.get("preview_reminders"):
        # "Xem trước": the planned reminders under the rules as typed, nothing saved.
        form.validate_on_submit()
        rules = form.checked_rules() if "csrf_token" not in form.errors else None
        return _render_edit(campaign, form, cal, tz, ReminderRules.from_dict(rules) if rules else None,
                            previewed=True), 200 if rules else 422
    if form.validate_on_submit():
        try:
            done = _save_edit(campaign, form)
        except _Refused as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(exc.message)
            flash(_("Chưa lưu: %(message)s", message=exc.message), "danger")
            status = 422
        else:
            db.session.commit()
            if done:
                flash(_("Đã lưu các thay đổi của đợt đánh giá."), "success")
                if "reminders" in done:
                    flash(_("Đã lưu quy tắc nhắc hạn; các lần nhắc được lên lịch lại (thư đã gửi không gửi lại)."),
                          "info")
                if any(kind not in ("fields", "reminders") for kind in done):
                    _flash_saved_dates(form, cal, tz, date_warnings(form, cal))
            else:
                flash(_("Không có thay đổi nào."), "info")
            return redirect(url_for("setup.edit_campaign", code=campaign.code))
    elif request.method == "POST":
        status = 422
    return _render_edit(campaign, form, cal, tz, None if request.method == "POST" else rules_of(campaign)), status


def _render_edit(campaign: Campaign, form: EditCampaignForm, cal, tz, rules: ReminderRules | None,
                 previewed: bool = False) -> str:
    plan = reminder_plan(campaign, rules, utcnow()) if rules is not None else None
    return render_template("setup/campaign_form.html", form=form, campaign=campaign,
                           preview=_form_preview(form, cal, tz), warnings=date_warnings(form, cal),
                           timeline_fields=TIMELINE_FIELDS, plan=plan, plan_previewed=previewed,
                           rule_text=reminder_rule_text, recipients_shown=RECIPIENTS_SHOWN)


#: The preview lists this many addresses; the rest is a count.
RECIPIENTS_SHOWN = 50


def reminder_rule_text(item) -> str:
    """A planned reminder in words: which rule plans it."""
    if item.kind == "milestone":
        vi, en, _reached = MILESTONES[item.rule]
        return _("%(n)d ngày làm việc trước mốc “%(name)s”", n=item.days_left, name=vi if lang() == "vi" else en)
    if item.rule == "before_deadline":
        return _("%(n)d ngày làm việc trước hạn nộp", n=item.days_left)
    if item.rule == "deadline_day":
        return _("Ngày hết hạn nộp")
    return _("Trong thời gian gia hạn: còn %(n)d ngày làm việc", n=item.days_left)


# -- units import --------------------------------------------------------------

class UploadForm(FlaskForm):
    file = FileField(_l("Tệp danh sách đơn vị (.xlsx hoặc .csv)"), validators=[
        FileRequired(_l("Vui lòng chọn tệp danh sách đơn vị.")),
        FileAllowed(["xlsx", "xls", "ods", "csv"], _l("Chỉ nhận tệp Excel .xlsx, .xls, OpenDocument .ods hoặc .csv."))])


class ConfirmForm(FlaskForm):
    digest = HiddenField()


_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
PENDING_KEY = "unit_import"
PENDING_MAX_AGE = 24 * 3600


def _pending_dir() -> Path:
    folder = Path(current_app.config.get("UNIT_IMPORT_FOLDER") or os.path.join(current_app.instance_path,
                                                                               "unit-imports"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pending_path(token: str) -> Path | None:
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        return None
    return _pending_dir() / f"{token}.upload"


def _discard_pending() -> None:
    pending = session.pop(PENDING_KEY, None)
    path = _pending_path(pending.get("token")) if isinstance(pending, dict) else None
    if path is not None:
        path.unlink(missing_ok=True)


def _sweep_pending() -> None:
    """Remove files left by previews that were never confirmed."""
    limit = time.time() - PENDING_MAX_AGE
    for path in _pending_dir().glob("*.upload"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _store_pending(campaign: Campaign, data: bytes, filename: str) -> str:
    _sweep_pending()
    token = secrets.token_urlsafe(32)
    path = _pending_path(token)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    session[PENDING_KEY] = {"campaign": campaign.code, "token": token, "filename": filename, "digest": digest,
                            "user": current_user.id}
    return digest


def _load_pending(campaign: Campaign) -> tuple[bytes, dict] | None:
    pending = session.get(PENDING_KEY)
    if (not isinstance(pending, dict) or pending.get("campaign") != campaign.code
            or pending.get("user") != current_user.id):
        return None
    path = _pending_path(pending.get("token"))
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != pending.get("digest"):
        return None
    return data, pending


def _clean_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:120] or "tep-don-vi"


def _read_units(campaign: Campaign, data: bytes, filename: str, units: dict[int, Unit]):
    groups = {u.group for u in units.values()}
    existing = {u.code: u.name for u in units.values()}
    return unit_files.read_units(data, filename, groups=groups, existing=existing)


def _preview(campaign: Campaign, parsed, units: dict[int, Unit]) -> list[unit_files.UnitChange]:
    stored = {u.code: unit_spec(u, units) for u in units.values()}
    in_campaign_ids = set(db.session.scalars(select(Participation.unit_id)
                                             .where(Participation.campaign_id == campaign.id)))
    in_campaign = {units[i].code for i in in_campaign_ids if i in units}
    return unit_files.compare(parsed.units, stored, in_campaign)


def _render_preview(campaign: Campaign, parsed, changes, filename: str, digest: str | None, status: int = 200):
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("new", "changed", "unchanged")}
    closed = state_at(campaign, utcnow()) not in ("draft", "open", "grace")
    confirm = ConfirmForm(digest=digest) if digest and parsed.ok else None
    return render_template("setup/units_import.html", campaign=campaign, form=UploadForm(), parsed=parsed,
                           changes=changes, counts=counts, filename=filename, confirm=confirm,
                           closed=closed and counts["new"] > 0, group_label=unit_files.group_label), status


@bp.route("/campaigns/<code>/units/import", methods=["GET", "POST"])
@login_required
def import_units(code: str):
    """Upload a unit list; show what would change and every bad row before anything is saved."""
    campaign = campaign_or_404(code, manage=True)
    form = UploadForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("setup/units_import.html", campaign=campaign, form=form, parsed=None), 422
        data = form.file.data.read()
        filename = _clean_filename(form.file.data.filename)
        _discard_pending()
        units = stored_units(campaign.organizer_id)
        try:
            parsed = _read_units(campaign, data, filename, units)
        except unit_files.UnitFileError as exc:
            form.file.errors.append(exc.message)
            return render_template("setup/units_import.html", campaign=campaign, form=form, parsed=None), 422
        changes = _preview(campaign, parsed, units)
        digest = _store_pending(campaign, data, filename) if parsed.ok else None
        return _render_preview(campaign, parsed, changes, filename, digest, 200 if parsed.ok else 422)
    return render_template("setup/units_import.html", campaign=campaign, form=form, parsed=None)


@bp.post("/campaigns/<code>/units/import/confirm")
@login_required
def confirm_units_import(code: str):
    """Save the previewed file: read again from the server's copy, checked again, saved whole or not at all."""
    campaign = campaign_or_404(code, manage=True)
    form = ConfirmForm()
    loaded = _load_pending(campaign) if form.validate_on_submit() else None
    if loaded is None or loaded[1].get("digest") != form.digest.data:
        flash(_("Không tìm thấy tệp đang chờ xác nhận (đã lưu, đã hủy hoặc đã quá hạn). Vui lòng tải tệp lên lại."),
              "warning")
        return redirect(url_for("setup.import_units", code=campaign.code))
    data, pending = loaded
    units = stored_units(campaign.organizer_id)
    try:
        parsed = _read_units(campaign, data, pending["filename"], units)
    except unit_files.UnitFileError as exc:  # pragma: no cover - read once already
        _discard_pending()
        flash(exc.message, "danger")
        return redirect(url_for("setup.import_units", code=campaign.code))
    changes = _preview(campaign, parsed, units)
    if not parsed.ok:
        return _render_preview(campaign, parsed, changes, pending["filename"], None, 422)
    spec = spec_of(campaign, units)
    from_file = {u.code: u for u in parsed.units}
    stored_lang = {u.code: u.language for u in units.values()}
    merged = [from_file.pop(u.code, u) for u in spec.units]
    merged += list(from_file.values())
    for u in merged:
        u.language = stored_lang.get(u.code, u.language)
    try:
        apply(replace(spec, units=merged), actor=current_user.email, now=utcnow(), source=pending["filename"])
    except CampaignFileError as exc:
        db.session.rollback()
        flash(_("Chưa lưu gì: %(message)s", message=exc.message), "danger")
        return _render_preview(campaign, parsed, changes, pending["filename"], None, 409)
    db.session.commit()
    _discard_pending()
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("new", "changed", "unchanged")}
    flash(_("Đã lưu danh sách đơn vị từ tệp %(name)s: %(new)d đơn vị mới, %(changed)d đơn vị cập nhật, "
            "%(same)d không đổi.", name=pending["filename"], new=counts["new"], changed=counts["changed"],
            same=counts["unchanged"]), "success")
    return redirect(url_for("setup.import_units", code=campaign.code))


@bp.post("/campaigns/<code>/units/import/cancel")
@login_required
def cancel_units_import(code: str):
    campaign = campaign_or_404(code, manage=True)
    if ConfirmForm().validate_on_submit():
        _discard_pending()
        flash(_("Đã hủy; không có gì được lưu."), "info")
    return redirect(url_for("setup.import_units", code=campaign.code))


@bp.get("/campaigns/<code>/units/template.xlsx")
@login_required
def units_template(code: str):
    """The import template, filled with the campaign's current units (edit and upload it back)."""
    campaign = campaign_or_404(code, manage=True)
    body = unit_files.units_xlsx(spec_of(campaign).units)
    return _download(body, f"{campaign.code}-don-vi.xlsx", XLSX_TYPE)


# -- export --------------------------------------------------------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


#: The export's rows, read from SQL as they are written (workflow/dashboard.py).
export_rows = dq.export_rows


def _export_campaign(code: str) -> Campaign:
    campaign = campaign_or_404(code)
    if not is_organizer_side(current_user):
        abort(403)
    return campaign


@bp.get("/campaigns/<code>/export.xlsx")
@login_required
def export_xlsx(code: str):
    """Status and results as an Excel workbook."""
    campaign = _export_campaign(code)
    body = unit_files.results_xlsx(export_rows(campaign, utcnow()), title=campaign.code)
    return _download(body, f"{campaign.code}-ket-qua.xlsx", XLSX_TYPE)


@bp.get("/campaigns/<code>/export.csv")
@login_required
def export_csv(code: str):
    """Status and results as CSV (UTF-8 with BOM): ``?sep=;`` (the default in Vietnamese, the list separator of
    Vietnamese Windows) or ``,`` (the default in English) or ``tab``; ``&sep_line=1`` adds Excel's ``sep=`` line."""
    campaign = _export_campaign(code)
    sep = request.args.get("sep") or unit_files.default_separator(lang())
    sep = "\t" if sep == "tab" else sep
    if sep not in unit_files.CSV_SEPARATORS:
        abort(400)
    # Streamed: written while the rows are read, never the whole file in memory.
    body = stream_with_context(unit_files.results_csv_chunks(export_rows(campaign, utcnow()), sep=sep,
                                                             sep_line=request.args.get("sep_line") == "1"))
    return _download(body, f"{campaign.code}-ket-qua.csv", "text/csv")  # werkzeug adds "; charset=utf-8" to text/*
