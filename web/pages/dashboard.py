"""The organizer's pages: campaigns, a campaign's dashboard, its actions, the outbox, the calendar."""

from __future__ import annotations

import calendar as pycalendar
import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from urllib.parse import quote as url_quote

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
    send_from_directory,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound
from wtforms import DecimalField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from notifications import outbox as mail_reads
from notifications.queue import render_missing, rules_of
from notifications.rules import reminder_dates
from web import page_cache
from web.access import campaign_or_404, is_organizer_side, may_manage, require_roles, unit_or_404, visible_unit_ids
from web.common import gettext as _
from web.common import lang
from web.dayfield import DayTextField
from web.timeline_svg import axis_range, render_timeline_svg
from workflow import audit as audit_log
from workflow import calendar_dependence, milestone_docs, revisions, unit_files
from workflow import campaigns as reads
from workflow import dashboard as dq
from workflow import operations as ops
from workflow.calendars import OverrideError, calendar_for
from workflow.db import db, utcnow
from workflow.machine import MANUAL_STEPS, STATES, state_name
from workflow.models import CalendarOverride, Campaign, HolidayDecision, Participation, Unit
from workflow.received_chart import render_received_svg
from workflow.standing import STATUSES, status_name
from workflow.storage import DocumentRefused, StoredDocument, store_document
from workflow.tick_health import failures_of
from workflow.timeline import MILESTONES
from workflow.workdays import format_day, weekday_names

bp = Blueprint("dashboard", __name__)

# -- labels --------------------------------------------------------------------

#: Unit groups (khối), in Vietnamese; other group codes are shown as they are.
GROUPS = {
    "department": _l("Sở, ban, ngành"),
    "vertical": _l("Đơn vị ngành dọc"),
    "district": _l("UBND cấp huyện"),
    "commune": _l("UBND cấp xã"),
}

#: Bootstrap badge classes by unit status.
STATUS_BADGES = {
    "not_submitted": "text-bg-secondary",
    "on_time": "text-bg-success",
    "late": "text-bg-warning",
    "excluded": "text-bg-danger",
    "returned": "text-bg-info",
    "resubmitted": "text-bg-primary",
    "confirmed": "text-bg-primary",
    "verified": "text-bg-dark",
}

#: Audit actions, in words.
ACTIONS = {
    "campaign.created": _l("Tạo đợt đánh giá"),
    "campaign.updated": _l("Cập nhật đợt đánh giá"),
    "campaign.launch": _l("Phát động đợt đánh giá"),
    "campaign.deadline_passes": _l("Hết hạn nộp hồ sơ"),
    "campaign.grace_ends": _l("Hết thời gian gia hạn"),
    "campaign.review_done": _l("Hoàn thành thẩm định sơ bộ"),
    "campaign.inspection_done": _l("Hoàn thành kiểm tra thực tế"),
    "campaign.awards_done": _l("Hoàn thành hồ sơ khen thưởng"),
    "campaign.approval_received": _l("UBND tỉnh phê duyệt, công bố kết quả"),
    "campaign.cancel": _l("Hủy đợt đánh giá"),
    "milestone.moved": _l("Điều chỉnh mốc thời gian"),
    "milestone.removed": _l("Bỏ mốc thời gian"),
    "reminders.changed": _l("Thay đổi quy tắc nhắc hạn"),
    "scoring.changed": _l("Thay đổi cách chấm điểm"),
    "submission.received": _l("Nhận hồ sơ"),
    "submission.returned": _l("Trả lại hồ sơ để chỉnh sửa"),
    "unit.reminded": _l("Cơ quan tổ chức gửi thư nhắc nộp hồ sơ"),
    "bulk.reminded": _l("Gửi thư nhắc hàng loạt"),
    "bulk.returned": _l("Trả lại hồ sơ hàng loạt"),
    "unit.excluded": _l("Loại khỏi đánh giá"),
    "unit.reinstated": _l("Khôi phục đơn vị"),
    "unit.exclusion_reversed": _l("Hủy việc loại đơn vị"),
    "unit.reclassified": _l("Xếp lại đúng hạn/trễ hạn"),
    "unit.nominated": _l("Đề cử đơn vị cấp xã"),
    "figures.sent_for_confirmation": _l("Gửi số liệu để đơn vị xác nhận"),
    "figures.confirmed": _l("Đơn vị xác nhận số liệu"),
    "scores.entered": _l("Nhập điểm"),
    "calendar.override_added": _l("Thêm ngày nghỉ/ngày làm việc địa phương"),
    "calendar.override_removed": _l("Bỏ ngày nghỉ/ngày làm việc địa phương"),
    "calendar.holiday_confirmed": _l("Xác nhận ngày nghỉ chưa xác nhận"),
    "calendar.holiday_rejected": _l("Không công nhận ngày nghỉ chưa xác nhận"),
}

#: Outbox statuses and kinds, in words.
MAIL_STATUSES = {
    "pending": (_l("Chưa gửi"), "text-bg-secondary"),
    "sending": (_l("Đang gửi"), "text-bg-info"),
    "sent": (_l("Đã gửi"), "text-bg-success"),
    "failed": (_l("Gửi lỗi"), "text-bg-danger"),
    "dropped": (_l("Đã bỏ (không còn cần gửi)"), "text-bg-light"),
}
MAIL_KINDS = {
    "reminder": _l("Nhắc hạn"),
    "organizer_reminder": _l("Thư nhắc do cơ quan tổ chức gửi"),
    "escalation": _l("Nhắc hạn (báo thủ trưởng)"),
    "receipt": _l("Giấy biên nhận hồ sơ"),
    "excluded": _l("Thông báo bị loại"),
    "reinstated": _l("Thông báo khôi phục"),
    "returned": _l("Trả lại hồ sơ"),
    "confirmation": _l("Đề nghị xác nhận số liệu"),
    "results": _l("Kết quả đánh giá"),
    "digest": _l("Báo cáo tổng hợp hằng ngày"),
    "milestone": _l("Nhắc mốc thời gian"),
    "signin_link": _l("Liên kết đăng nhập"),
    "password_reset": _l("Đặt lại mật khẩu"),
}

#: The timeline drawing's texts.
SVG_LABELS = {
    "title": _l("Tiến độ đợt đánh giá"),
    "today": _l("Hôm nay"),
    "grace": _l("Thời gian gia hạn"),
    "overdue": _l("quá hạn"),
    "done": _l("đã xong"),
    "passed": _l("đã qua"),
    "ahead": _l("chưa đến"),
    "current": _l("đang diễn ra"),
    "day_off": _l("Ngày nghỉ"),
    "today_outside": _l("Hôm nay ({day}) nằm ngoài khoảng thời gian của đợt"),
    "summary": _l("{n} mốc thời gian, hạn nộp {deadline}, hết gia hạn {grace}"),
}

#: The chart of dossiers received per day.
RECEIVED_LABELS = {
    "title": _l("Hồ sơ nhận được theo ngày"),
    "deadline": _l("Hạn nộp"),
    "grace_end": _l("Hết gia hạn"),
    "today": _l("Hôm nay"),
    "bar": _l("{day}: {n} hồ sơ"),
    "summary": _l("{total} hồ sơ nhận được từ {first} đến {last}; nhiều nhất {max} hồ sơ một ngày."),
    "empty": _l("Chưa nhận được hồ sơ nào."),
}

#: Calendar cells: day status → Bootstrap classes.
DAY_CLASSES = {
    "working": "",
    "weekend": "bg-body-tertiary text-body-secondary",
    "holiday": "bg-danger-subtle text-danger-emphasis fw-semibold",
    "makeup_workday": "bg-primary-subtle text-primary-emphasis fw-semibold",
    "local_day_off": "bg-warning-subtle text-warning-emphasis fw-semibold",
    "local_working_day": "bg-success-subtle text-success-emphasis fw-semibold",
}
DAY_KINDS = {
    "weekend": _l("Ngày nghỉ cuối tuần"),
    "holiday": _l("Ngày lễ, Tết, ngày nghỉ bù"),
    "makeup_workday": _l("Ngày làm việc bù"),
    "local_day_off": _l("Ngày nghỉ theo quyết định của tỉnh"),
    "local_working_day": _l("Ngày làm việc theo quyết định của tỉnh"),
}
OVERRIDE_KINDS = {"day_off": _l("Ngày nghỉ"), "working_day": _l("Ngày làm việc")}
HOLIDAY_DECISIONS = {"confirmed": _l("Xác nhận là ngày nghỉ"), "rejected": _l("Không công nhận (đi làm bình thường)")}

PER_PAGE = 100


def group_name(group: str) -> str:
    return str(GROUPS[group]) if group in GROUPS else group


def value_label(value: str) -> str:
    """A state or status code in words; anything else as recorded."""
    if value in STATES:
        return state_name(value, lang())
    if value in STATUSES:
        return status_name(value, lang())
    return value


@bp.context_processor
def _helpers():
    return {
        "group_name": group_name,
        "status_name": lambda s: status_name(s, lang()),
        "status_badge": lambda s: STATUS_BADGES.get(s, "text-bg-secondary"),
        "action_label": lambda a: str(ACTIONS.get(a, a)),
        "value_label": value_label,
        "mail_status": lambda s: MAIL_STATUSES.get(s, (s, "text-bg-secondary")),
        "mail_kind": lambda k: str(MAIL_KINDS.get(k, k)),
        "may_manage": may_manage,
    }


def _organizer_only() -> None:
    if not is_organizer_side(current_user):
        abort(403)


def _int_arg(name: str, default: int = 1, minimum: int = 1, maximum: int = 1_000_000) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, minimum), maximum)


# -- home, campaigns -------------------------------------------------------------

@bp.get("/")
@login_required
def home():
    """Send each person to where they work: the campaigns, or their unit's page."""
    if is_organizer_side(current_user):
        return redirect(url_for("dashboard.campaigns"))
    ids = visible_unit_ids(current_user) or set()
    row = db.session.execute(
        select(Campaign.code, Participation.unit_id).join(Participation, Participation.campaign_id == Campaign.id)
        .where(Participation.unit_id.in_(ids), Campaign.organizer_id == current_user.organizer_id)
        .order_by(Campaign.deadline.desc()).limit(1)).first()
    if row is None:
        return render_template("dashboard/no_campaign.html")

    unit = db.session.get(Unit, current_user.unit_id or row.unit_id)
    return redirect(url_for("units.page", code=row.code, unit_code=unit.code))


@bp.get("/campaigns")
@login_required
def campaigns():
    """List the organizer's campaigns."""
    query = select(Campaign).where(Campaign.organizer_id == current_user.organizer_id)
    if not is_organizer_side(current_user):  # a unit's people: only the campaigns their units take part in
        query = query.where(Campaign.id.in_(select(Participation.campaign_id).where(
            Participation.unit_id.in_(visible_unit_ids(current_user) or set()))))
    rows = db.session.scalars(query.options(selectinload(Campaign.milestones), selectinload(Campaign.organizer))
                              .order_by(Campaign.deadline.desc())).all()
    return render_template("dashboard/campaigns.html", lines=dq.campaign_lines(rows, utcnow()), lang=lang())


# -- a campaign's dashboard --------------------------------------------------------

def _svg(campaign: Campaign, timeline, today: date, cal) -> str:
    first, last = axis_range(timeline, today)
    labels = {k: str(v) for k, v in SVG_LABELS.items()}
    return render_timeline_svg(timeline, today, dq.days_off(cal, first, last, lang()), lang=lang(), labels=labels,
                               element_id=f"timeline-{campaign.id}")


@cache
def _dashboard_scopes_query():
    c = revisions.counter
    return page_cache.page_query(c(revisions.CAMPAIGN, Campaign.id), c(revisions.CAMPAIGN_UNITS, Campaign.id),
                                 c(revisions.ORGANIZER, Campaign.organizer_id), c(revisions.GLOBAL, 0))


def _dashboard_scopes(code: str):
    """What a campaign's dashboard shows depends on: the campaign, all its units, the organizer, the calendar."""
    return _dashboard_scopes_query(), {"code": code}


@bp.get("/campaigns/<code>")
@page_cache.cached(_dashboard_scopes)
@login_required
def campaign(code: str):
    """The campaign's dashboard: where it stands, who has sent, what is overdue, what to do."""
    campaign = campaign_or_404(code)
    _organizer_only()
    bad = reads.out_of_range_dates(campaign)
    if bad:
        # Nothing can be computed with these dates: the repair page instead of the dashboard.
        return render_template("dashboard/repair.html", campaign=campaign, bad=bad, milestones=MILESTONES,
                               manage=may_manage(current_user), tick_failures=failures_of(campaign_id=campaign.id),
                               lang=lang())
    now = utcnow()
    tz = reads.tz_of(campaign)
    cal = reads.calendar_of(campaign)
    timeline = reads.timeline_of(campaign, now, cal)
    state = reads.state_at(campaign, now, timeline)
    today = now.astimezone(tz).date()

    grace_ended = now >= timeline.grace_ends_at
    counts = dq.status_counts(campaign, grace_ended)
    group = request.args.get("group", "")
    status = request.args.get("status", "")
    q = request.args.get("q", "")[:100]
    grace_open = state in ("open", "grace")
    # While units may still send, who must act comes first; afterwards, the code order.
    default_sort = "urgency" if grace_open else "code"
    sort = request.args.get("sort", default_sort)
    sort = sort if sort in dq.SORTS or sort == "urgency" else "code"
    descending = request.args.get("dir") == "desc"
    reminders = mail_reads.reminders_query if sort == "reminders" else None
    found = dq.unit_page(campaign, grace_ended, group=group, status=status, q=q, sort=sort, descending=descending,
                         page=_int_arg("page", 1, 1), per_page=PER_PAGE, reminders=reminders,
                         reminder_count=mail_reads.reminder_count, counts=counts)
    rows = found.rows

    manage = may_manage(current_user)
    preview = dq.unit_suggestions(campaign, grace_ended, "silent", limit=PREVIEW_LIMIT) if grace_open else []
    # The nomination form: for campaigns that nominate communes, or any whose units have a parent.
    nominate = manage and (campaign.commune_nomination or counts.with_parent > 0)
    failed_total, failed = mail_reads.failed_mail(campaign)
    audit = dq.recent_audit(campaign, 50)
    args = {k: v for k, v in (("group", group), ("status", status), ("q", q)) if v}
    left = dq.days_left(cal, today, timeline.deadline.last_day, timeline.grace_end, now, timeline.deadline_at,
                        timeline.grace_ends_at)
    base = url_for("dashboard.campaign", code=campaign.code)
    needs_action = []
    if grace_open and counts.silent:
        needs_action.append({"href": f"{base}?status=not_submitted#units",
                             "text": _("%(n)s đơn vị chưa nộp hồ sơ: xem danh sách", n=counts.silent)})
    if counts.by_status.get("returned"):
        needs_action.append({"href": f"{base}?status=returned#units",
                             "text": _("%(n)s hồ sơ trả lại chờ đơn vị nộp lại", n=counts.by_status["returned"])})
    if failed_total:
        needs_action.append({"href": "#failed-heading", "text": _("%(n)s thư gửi lỗi", n=failed_total)})
    received_svg = render_received_svg(dq.received_per_day(campaign), timeline.deadline.last_day,
                                       timeline.grace_end, today, labels={k: str(v) for k, v in RECEIVED_LABELS.items()},
                                       element_id=f"received-{campaign.id}")
    rules = rules_of(campaign)
    ends = {m.kind: m.end_date for m in campaign.milestones}
    unconfirmed = calendar_dependence.unconfirmed_dependence(
        campaign, cal, tz, extra=lambda c: reminder_dates(campaign.deadline, campaign.grace_working_days, ends, c, rules))
    # Labels looked up once per page, not once per row.
    group_labels = {g: group_name(g) for g in {*counts.groups, *GROUPS}}
    status_labels = {s: status_name(s, lang()) for s in STATUSES}
    unit_url = url_for("units.page", code=campaign.code, unit_code="__UNIT__") \
        if "units.page" in current_app.view_functions else ""
    rows_html = _rows_html(rows, unit_url, lambda g: group_labels.get(g) or group_name(g),
                           lambda s: status_labels.get(s) or status_name(s, lang()),
                           current_app.jinja_env.filters["local_time"], manage)
    return render_template(
        "dashboard/campaign.html", group_name=lambda g: group_labels.get(g) or group_name(g),
        rows_html=rows_html,
        page_links=_page_links(found.page, found.pages),
        status_name=lambda s: status_labels.get(s) or status_name(s, lang()),
        campaign=campaign, state=state, timeline=timeline, today=today,
        svg=_svg(campaign, timeline, today, cal), received_svg=received_svg, counts=counts.by_status, by_group=counts.by_group,
        total=counts.total, rows=rows, shown_total=found.total, page=found.page, pages=found.pages,
        groups=counts.groups, group=group, status=status, q=q, sort=sort, default_sort=default_sort,
        descending=descending, args=args, days_left=left, needs_action=needs_action, preview=preview,
        preview_total=counts.silent, failed=failed,
        failed_total=failed_total, audit=audit, units=dq.units_by_id(m.unit_id for m in failed), manage=manage,
        audit_rows=_audit_rows_html(audit, lambda e: (e.unit_code, e.unit_name)),
        pickers=PICKERS if manage else (), nominate=nominate,
        preview_items=_joined('<li class="col"><span class="mono">{code}</span> — {name}</li>', preview),
        statuses=STATUSES, manual_steps=MANUAL_STEPS, milestones=MILESTONES, lang=lang(),
        endpoints_has_unit_page="units.page" in current_app.view_functions, grace_open=grace_open,
        tick_failures=failures_of(campaign_id=campaign.id), milestone_docs=milestone_docs.documents_of(campaign),
        unconfirmed=unconfirmed, bulk_actions=BULK_ACTIONS)


#: One row of the units table (the template's ``rows_html``); the ``{pick}`` cell only for managers.
ROW_HTML = (
    '<tr data-unit="{code}">{pick}<td class="mono small unit-code">{code}</td>'
    '<td class="unit-name">{link}{nominated}</td>'
    '<td class="small" data-label="{t_group}">{group}</td>'
    '<td class="unit-status"><span class="badge {badge} status-badge">{status}</span></td>'
    '<td class="small text-nowrap" data-label="{t_received}">{received}</td>'
    '<td class="small" data-label="{t_late}">{late}</td>'
    '<td class="text-end" data-label="{t_reminded}">{reminders}</td>'
    '<td class="small" data-label="{t_rating}">{rating}</td></tr>\n')
PICK_HTML = ('<td class="bulk-cell"><input class="form-check-input bulk-unit" type="checkbox" name="units" '
             'value="{code}" form="bulk-form" id="pick-{n}" aria-label="{t_pick} {code} — {name}"></td>')


def _rows_html(rows, unit_url: str, group_label, status_label, local_time, manage: bool) -> Markup:
    """The units table's rows in Python: one loop over the page's rows, ``ROW_HTML`` each, every text
    escaped; no template macro per cell."""
    vi = lang() == "vi"
    dash = Markup('<span class="text-body-secondary">—</span>')
    t_self = escape(_("tự chấm"))
    labels = {k: escape(v) for k, v in (("t_group", _("Khối")), ("t_received", _("Thời điểm nhận")),
                                         ("t_late", _("Trễ")), ("t_reminded", _("Đã nhắc")),
                                         ("t_rating", _("Điểm, xếp loại")))}
    t_pick = escape(_("Chọn"))
    nominated = Markup(' <span class="badge text-bg-info">{}</span>').format(_("được đề cử"))
    out = []
    for n, row in enumerate(rows, 1):
        unit = row.unit
        code, name = escape(unit.code), escape(unit.name)
        link = Markup(f'<a href="{escape(unit_url.replace("__UNIT__", url_quote(unit.code, safe="/")))}">{name}</a>') \
            if unit_url else name
        received = escape(local_time(row.received_at)) if row.received_at else Markup("—")
        if row.participation.corrected_at:
            corrected = escape(_("bổ sung, sửa đổi %(when)s", when=local_time(row.participation.corrected_at)))
            received = Markup(f'{received}<br><span class="badge text-bg-light border" data-corrected>{corrected}</span>')
        if row.late_days:
            late = escape(_("%(n)s ngày làm việc", n=row.late_days))
        else:
            late = Markup("0") if row.received_at else dash
        if row.score is not None:
            score = f"{row.score:.2f}"
            parts = [f'<span class="fw-semibold">{score.replace(".", ",") if vi else score}</span>']
            if row.provisional:
                parts.append(f' <span class="text-body-secondary small">({t_self})</span>')
            if row.rating:
                parts.append(f'<br><span class="badge text-bg-light border">{escape(row.rating)}</span>')
            if row.rank:
                parts.append(f' <span class="small">{escape(_("hạng %(rank)s trong khối", rank=row.rank))}</span>')
            rating = Markup("".join(parts))
        else:
            rating = dash
        pick = PICK_HTML.format(code=code, n=n, t_pick=t_pick, name=name) if manage else ""
        out.append(ROW_HTML.format(
            code=code, pick=pick, link=link, nominated=nominated if row.participation.nominated else "",
            group=escape(group_label(unit.group)), badge=STATUS_BADGES.get(row.status, "text-bg-secondary"),
            status=escape(status_label(row.status)), received=received, late=late, reminders=row.reminders,
            rating=rating, **labels))
    return Markup("".join(out))


#: One line of an audit table (``_audit_rows_html``).
AUDIT_ROW_HTML = ('<tr data-action="{action}"><td class="text-nowrap">{at}</td><td>{actor}</td><td>{unit}</td>'
                  '<td class="audit-sentence">{sentence}</td><td>{reason}</td></tr>\n')


def _audit_rows_html(events, unit_of) -> Markup:
    """The rows of an audit table (``dashboard/_audit_table.html``), drawn in Python; ``unit_of(event)`` gives
    the entry's unit code and name, (None, None) for an entry without a unit."""
    vi, tz = lang(), current_app.config["TZ"]
    system = escape(_("hệ thống"))
    out = []
    for e in events:
        code, name = unit_of(e)
        unit = f'<span class="mono" title="{escape(name)}">{escape(code)}</span>' if code else "—"
        out.append(AUDIT_ROW_HTML.format(
            action=escape(e.action), at=escape(audit_log.local_text(e.at, tz)),
            actor=system if e.actor == "system" else escape(e.actor), unit=unit,
            sentence=escape(audit_log.describe(e, vi, tz)), reason=escape(audit_log.describe_reason(e.reason or "", vi))))
    return Markup("".join(out))


def _joined(template: str, units) -> Markup:
    """``template`` (with {code} and {name}) for each unit, escaped and joined: a list drawn in one loop."""
    return Markup("".join(template.format(code=escape(u.code), name=escape(u.name)) for u in units))


def _page_links(page: int, pages: int) -> list[int | None]:
    """The pages the pager links: the first, the last and two either side of this one; ``None`` for a gap."""
    out: list[int | None] = []
    for p in sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}):
        if out and out[-1] is not None and p - out[-1] > 1:
            out.append(None)
        out.append(p)
    return out


#: The exclusion preview lists at most this many units (its count is exact; the filter "Chưa nộp" lists
#: them all).
PREVIEW_LIMIT = 100
#: The action forms' suggestion lists (``dq.LISTS``), asked for as the officer types.
PICKERS = ("return", "confirm", "reinstate", "scores", "nominate")
#: Suggestions per answer: a datalist is read, not scrolled.
SUGGESTIONS = 20


@bp.get("/campaigns/<code>/suggest/<name>")
@login_required
def suggest(code: str, name: str):
    """The units an action form's field may take whose code or name contains ``q``: JSON for
    ``static/suggest.js``, which fills the field's datalist as the officer types.

    ``{"units": [{"code": …, "name": …, "folded": …}, …], "more": true|false}``: at most 20, in code
    order; ``folded`` is the name in lower case without diacritics (the browser filters the datalist by
    what is typed); ``more`` says that others match (type more of the code or name)."""
    campaign = campaign_or_404(code)
    _organizer_only()
    if not may_manage(current_user):
        abort(403)
    if name not in PICKERS:
        return jsonify({"error": _("Không có danh sách gợi ý này.")}), 404
    if reads.out_of_range_dates(campaign):  # the repair page instead of the dashboard: nothing to suggest
        return jsonify({"units": [], "more": False})
    now = utcnow()
    grace_ended = now >= reads.timeline_of(campaign, now).grace_ends_at
    found = dq.unit_suggestions(campaign, grace_ended, name, request.args.get("q", "")[:100], SUGGESTIONS + 1)
    return jsonify({"units": [{"code": u.code, "name": u.name, "folded": dq.fold(u.name)} for u in found[:SUGGESTIONS]],
                    "more": len(found) > SUGGESTIONS})


@bp.get("/campaigns/<code>/timeline.svg")
@login_required
def timeline_svg(code: str):
    """The timeline drawing alone (for a link, a print-out, another page)."""
    campaign = campaign_or_404(code)
    now = utcnow()
    cal = reads.calendar_of(campaign)
    timeline = reads.timeline_of(campaign, now, cal)
    today = now.astimezone(reads.tz_of(campaign)).date()
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + _svg(campaign, timeline, today, cal)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/campaigns/<code>/audit")
@login_required
def audit(code: str):
    """The campaign's full audit trail, newest first."""
    campaign = campaign_or_404(code)
    _organizer_only()
    pagination = dq.audit_page(campaign, _int_arg("page"))
    units = dq.units_by_id(e.unit_id for e in pagination.items)
    rows = _audit_rows_html(pagination.items, lambda e: (units[e.unit_id].code, units[e.unit_id].name)
                            if e.unit_id in units else (None, None))
    return render_template("dashboard/audit.html", campaign=campaign, pagination=pagination, audit_rows=rows,
                           default_sep=unit_files.default_separator(lang()))


#: The audit export's columns: the raw values as stored, then the sentence the pages show.
AUDIT_COLUMNS = (("Thời điểm (UTC)", 22), ("Thời điểm (giờ Việt Nam)", 20), ("Người thực hiện", 26),
                 ("Mã việc", 26), ("Mã đơn vị", 14), ("Giá trị cũ", 30), ("Giá trị mới", 40), ("Lý do", 40),
                 ("Nội dung", 70))


def _audit_rows(campaign: Campaign, *, as_text: bool) -> list[list]:
    tz = reads.tz_of(campaign)
    events = dq.all_audit(campaign)
    units = dq.units_by_id(e.unit_id for e in events)
    rows = []
    for e in events:
        local = e.at.astimezone(tz)
        unit = units[e.unit_id].code if e.unit_id in units else ""
        rows.append([e.at.isoformat() if as_text else e.at.replace(tzinfo=None),
                     local.strftime("%d/%m/%Y %H:%M:%S") if as_text else local.replace(tzinfo=None),
                     e.actor, e.action, unit, e.from_value, e.to_value, e.reason,
                     audit_log.describe(e, lang(), tz)])
    return rows


def _audit_download(body: bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/campaigns/<code>/audit.csv")
@login_required
def audit_csv(code: str):
    """The audit trail with its raw values, as CSV for Excel: ``?sep=;`` (default for Vietnamese) or ``,``,
    ``&sep_line=1`` for Excel's ``sep=`` first line."""
    campaign = campaign_or_404(code)
    _organizer_only()
    sep = request.args.get("sep") or unit_files.default_separator(lang())
    if sep == "tab":
        sep = "\t"
    if sep not in unit_files.CSV_SEPARATORS:
        abort(400)
    body = unit_files.table_csv([h for h, _ in AUDIT_COLUMNS], _audit_rows(campaign, as_text=True), sep=sep,
                                sep_line=request.args.get("sep_line") == "1")
    return _audit_download(body, f"{campaign.code}-nhat-ky.csv", "text/csv; charset=utf-8")


@bp.get("/campaigns/<code>/audit.xlsx")
@login_required
def audit_xlsx(code: str):
    """The audit trail with its raw values as an Excel workbook (dates as dd/mm/yyyy hh:mm:ss)."""
    campaign = campaign_or_404(code)
    _organizer_only()
    body = unit_files.table_xlsx("Nhật ký", AUDIT_COLUMNS, _audit_rows(campaign, as_text=False))
    return _audit_download(body, f"{campaign.code}-nhat-ky.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# -- the organizer's actions ---------------------------------------------------------

class CommaDecimalField(DecimalField):
    """A decimal that also accepts a Vietnamese decimal comma (97,5)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip().replace(" ", "").replace(",", ".")
        try:
            self.data = Decimal(text)
        except InvalidOperation:
            self.data = None
            raise ValueError(_("Điểm phải là một số, ví dụ 97,5.")) from None
        if not self.data.is_finite():
            self.data = None
            raise ValueError(_("Điểm phải là một số, ví dụ 97,5."))


class DayField(DayTextField):
    """A date typed as 25/10/2019 (the picker writes that too; 2019-10-25 is still read)."""

    def message_invalid(self) -> str:
        return _("Ngày không hợp lệ (ví dụ 25/10/2019).")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


REASON = {"filters": [_strip], "validators": [Optional(), Length(max=2000, message=_l("Lý do quá dài."))]}
UNIT = {"filters": [_strip], "validators": [DataRequired(_l("Vui lòng nhập mã đơn vị.")),
                                            Length(max=64, message=_l("Mã đơn vị quá dài."))]}


class StepForm(FlaskForm):
    step = SelectField(_l("Bước"), choices=list(MANUAL_STEPS), validate_choice=False,
                       validators=[AnyOf(list(MANUAL_STEPS), message=_l("Bước không hợp lệ."))])
    reason = TextAreaField(_l("Lý do"), **REASON)


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Lý do"), **REASON)


class MoveForm(FlaskForm):
    kind = SelectField(_l("Mốc thời gian"), validate_choice=False, choices=["deadline", *MILESTONES],
                       validators=[AnyOf(["deadline", *MILESTONES], message=_l("Mốc thời gian không hợp lệ."))])
    end = DayField(_l("Ngày (kết thúc)"), validators=[InputRequired(_l("Vui lòng nhập ngày mới."))])
    start = DayField(_l("Ngày bắt đầu"), validators=[Optional()])
    reason = TextAreaField(_l("Lý do"), **REASON)


class UnitForm(FlaskForm):
    unit = StringField(_l("Mã đơn vị"), **UNIT)


class UnitReasonForm(UnitForm):
    reason = TextAreaField(_l("Lý do"), **REASON)


class ScoresForm(UnitForm):
    self_score = CommaDecimalField(_l("Điểm tự chấm"), validators=[Optional()])
    verified_score = CommaDecimalField(_l("Điểm thẩm định"), validators=[Optional()])
    reason = TextAreaField(_l("Ghi chú"), **REASON)


def _find_unit(campaign: Campaign, code: str):
    try:
        return unit_or_404(campaign, code)
    except NotFound:
        raise ops.OperationError(f"Không có đơn vị mã “{code}”.", f"No unit with code {code!r}.",
                                 field="unit", status=404) from None


def _do_step(campaign, form, actor, now):
    move = ops.mark_step(campaign, form.step.data, actor=actor, now=now, reason=form.reason.data or "")
    return _("Đã ghi nhận: %(step)s. Trạng thái mới: %(state)s.", step=_step_label(form.step.data),
             state=state_name(move.after, lang()))


def _do_publish(campaign, form, actor, now):
    ops.mark_step(campaign, "approval_received", actor=actor, now=now, reason=form.reason.data or "")
    return _("Đã ghi nhận UBND tỉnh phê duyệt; kết quả được công bố, thư báo kết quả đã vào hộp thư đi.")


def _do_cancel(campaign, form, actor, now):
    ops.mark_step(campaign, "cancel", actor=actor, now=now, reason=form.reason.data or "")
    return _("Đã hủy đợt đánh giá.")


def _do_move(campaign, form, actor, now):
    ops.move_milestone(campaign, form.kind.data, end=form.end.data, start=form.start.data,
                       reason=form.reason.data or "", actor=actor, now=now)
    return _("Đã điều chỉnh “%(kind)s” sang %(day)s.", kind=_milestone_label(form.kind.data),
             day=format_day(form.end.data, lang()))


def _do_return(campaign, form, actor, now):
    unit = _find_unit(campaign, form.unit.data)
    ops.return_dossier(campaign, unit, reason=form.reason.data or "", actor=actor, now=now)
    return _("Đã trả lại hồ sơ của %(unit)s để chỉnh sửa.", unit=unit.name)


def _do_confirm(campaign, form, actor, now):
    unit = _find_unit(campaign, form.unit.data)
    ops.request_confirmation(campaign, unit, actor=actor, now=now, note=form.reason.data or "")
    return _("Đã gửi số liệu để %(unit)s xác nhận.", unit=unit.name)


def _do_reinstate(campaign, form, actor, now):
    unit = _find_unit(campaign, form.unit.data)
    ops.reinstate(campaign, unit, reason=form.reason.data or "", actor=actor, now=now)
    return _("Đã khôi phục %(unit)s; lý do được lưu trong nhật ký.", unit=unit.name)


def _do_scores(campaign, form, actor, now):
    if form.self_score.data is None and form.verified_score.data is None:
        raise ops.OperationError("Vui lòng nhập điểm tự chấm hoặc điểm thẩm định.",
                                 "Enter a self-assessed or a verified score.", field="self_score", status=422)
    unit = _find_unit(campaign, form.unit.data)
    ops.set_scores(campaign, unit, actor=actor, now=now, self_score=form.self_score.data,
                   verified_score=form.verified_score.data, reason=form.reason.data or "")
    return _("Đã lưu điểm của %(unit)s.", unit=unit.name)


def _do_nominate(campaign, form, actor, now):
    unit = _find_unit(campaign, form.unit.data)
    ops.nominate(campaign, unit, actor=actor, now=now)
    return _("Đã đề cử %(unit)s.", unit=unit.name)


#: action → (form, what it does).  Each calls one operation.
ACTION_HANDLERS: dict[str, tuple[type[FlaskForm], Callable]] = {
    "mark_step": (StepForm, _do_step),
    "publish": (ReasonForm, _do_publish),
    "cancel": (ReasonForm, _do_cancel),
    "move_milestone": (MoveForm, _do_move),
    "return_dossier": (UnitReasonForm, _do_return),
    "request_confirmation": (UnitReasonForm, _do_confirm),
    "reinstate": (UnitReasonForm, _do_reinstate),
    "set_scores": (ScoresForm, _do_scores),
    "nominate": (UnitForm, _do_nominate),
}


def _step_label(event: str) -> str:
    src, dst, vi, en = MANUAL_STEPS[event]
    return vi if lang() == "vi" else en


def _milestone_label(kind: str) -> str:
    if kind == "deadline":
        return _("Hạn nộp hồ sơ")
    vi, en, _state = MILESTONES[kind]
    return vi if lang() == "vi" else en


def _form_errors(form: FlaskForm) -> str:
    parts = []
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None and name != "csrf_token" else _("Phiên làm việc")
        parts.append(f"{label}: {' '.join(str(e) for e in errors)}")
    return _("Dữ liệu chưa hợp lệ, chưa có gì thay đổi. %(details)s", details="; ".join(parts))


@bp.post("/campaigns/<code>/actions/<action>")
@login_required
def act(code: str, action: str):
    """One of the organizer's actions: parse, call one operation, commit, say what happened."""
    campaign = campaign_or_404(code, manage=True)
    if action not in ACTION_HANDLERS:
        abort(404)
    form_class, handler = ACTION_HANDLERS[action]
    form = form_class()
    target = url_for("dashboard.campaign", code=campaign.code) + "#actions"
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(target)
    try:
        message = handler(campaign, form, current_user.email, utcnow())
    except ops.OperationError as exc:
        db.session.rollback()
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return redirect(target)
    db.session.commit()
    flash(message, "success")
    return redirect(target)


# -- bulk actions on the units table ---------------------------------------------------

#: The bulk bar's actions, in words.
BULK_ACTIONS = {
    "remind": _l("Gửi thư nhắc nộp hồ sơ ngay"),
    "export_xlsx": _l("Xuất danh sách (XLSX)"),
    "export_csv": _l("Xuất danh sách (CSV)"),
    "return": _l("Trả lại hồ sơ để chỉnh sửa"),
}
#: The confirmation step names at most this many units.
BULK_NAMES = 20


class BulkForm(FlaskForm):
    action = SelectField(_l("Thao tác"), choices=list(BULK_ACTIONS), validate_choice=False,
                         validators=[AnyOf(list(BULK_ACTIONS), message=_l("Thao tác không hợp lệ."))])
    scope = SelectField(_l("Áp dụng cho"), choices=["selected", "filter"], validate_choice=False,
                        validators=[AnyOf(["selected", "filter"], message=_l("Phạm vi không hợp lệ."))])
    group = StringField(_l("Khối"), filters=[_strip], validators=[Optional(), Length(max=64)])
    status = StringField(_l("Trạng thái"), filters=[_strip],
                         validators=[Optional(), AnyOf(list(STATUSES), message=_l("Trạng thái không hợp lệ."))])
    q = StringField(_l("Tìm theo mã hoặc tên"), filters=[_strip], validators=[Optional(), Length(max=100)])
    reason = TextAreaField(_l("Lý do"), **REASON)
    click = StringField(_l("Phiên thao tác"), filters=[_strip], validators=[Optional(), Length(max=64)])


def _bulk_selection(form: BulkForm) -> dq.UnitSelection:
    """The units chosen: the ticked codes (``units``), or the filter the table showed."""
    if form.scope.data == "filter":
        return dq.UnitSelection(group=form.group.data or "", status=form.status.data or "", q=form.q.data or "")
    codes = tuple(dict.fromkeys(c.strip() for c in request.form.getlist("units") if c.strip()))
    if not codes:
        raise ops.OperationError("Chưa chọn đơn vị nào: đánh dấu các đơn vị trong bảng, hoặc chọn “tất cả đơn vị "
                                 "khớp với bộ lọc”.", "No unit selected: tick units in the table, or choose "
                                 "“every unit matching the filter”.", field="units", status=422)
    if len(codes) > dq.MAX_SELECTED_CODES or any(len(c) > 64 for c in codes):
        raise ops.OperationError("Quá nhiều đơn vị được đánh dấu; hãy dùng “tất cả đơn vị khớp với bộ lọc”.",
                                 "Too many units ticked; use “every unit matching the filter”.", field="units",
                                 status=422)
    return dq.UnitSelection(codes=codes)


def _skip_lines(action: str, skipped: dict[str, int]) -> list[str]:
    """Why units were left out, one sentence each: "12 đơn vị “Đúng hạn”: bỏ qua (…)"."""
    lines = []
    for why, n in sorted(skipped.items(), key=lambda item: (-item[1], item[0])):
        if why == "no_address":
            lines.append(_("%(n)s đơn vị chưa có địa chỉ thư điện tử: bỏ qua.", n=n))
        elif why == "unknown":
            lines.append(_("%(n)s mã không phải đơn vị của đợt này: bỏ qua.", n=n))
        elif action == "remind":
            lines.append(_("%(n)s đơn vị “%(status)s”: bỏ qua (chỉ nhắc đơn vị chưa nộp hồ sơ).", n=n,
                           status=status_name(why, lang())))
        else:
            lines.append(_("%(n)s đơn vị “%(status)s”: bỏ qua (chưa có hồ sơ để trả lại).", n=n,
                           status=status_name(why, lang())))
    return lines


def _bulk_back(campaign: Campaign, form: BulkForm) -> str:
    args = {k: v for k, v in (("group", form.group.data), ("status", form.status.data), ("q", form.q.data)) if v}
    return url_for("dashboard.campaign", code=campaign.code, **args) + "#units"


@bp.post("/campaigns/<code>/bulk")
@login_required
def bulk(code: str):
    """The confirmation step of a bulk action: how many units, which (the first ones), which are skipped
    and why; nothing changes until it is confirmed."""
    campaign = campaign_or_404(code, manage=True)
    form = BulkForm()
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(_bulk_back(campaign, form))
    action = form.action.data
    try:
        selection = _bulk_selection(form)
        plan = ops.plan_bulk(campaign, "export" if action.startswith("export") else action, selection, utcnow())
    except ops.OperationError as exc:
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return redirect(_bulk_back(campaign, form))
    return render_template("dashboard/bulk_confirm.html", campaign=campaign, form=form, action=action,
                           action_label=str(BULK_ACTIONS[action]), plan=plan, names=plan.units[:BULK_NAMES],
                           skipped=_skip_lines(action, plan.skipped), codes=selection.codes or (),
                           click=secrets.token_urlsafe(16), back=_bulk_back(campaign, form))


@bp.post("/campaigns/<code>/bulk/confirm")
@login_required
def bulk_confirm(code: str):
    """Do the confirmed bulk action (one operation), commit, say what was done and what was skipped."""
    campaign = campaign_or_404(code, manage=True)
    form = BulkForm()
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(_bulk_back(campaign, form))
    action, now = form.action.data, utcnow()
    try:
        selection = _bulk_selection(form)
        if action.startswith("export"):
            return _bulk_export(campaign, action, selection, now)
        operation = ops.remind_units if action == "remind" else ops.return_dossiers
        result = operation(campaign, selection, reason=form.reason.data or "", actor=current_user.email, now=now,
                           click=form.click.data or "")
    except ops.OperationError as exc:
        db.session.rollback()
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return redirect(_bulk_back(campaign, form))
    db.session.commit()
    if result.already_done:
        flash(_("Thao tác này đã được thực hiện (%(n)s đơn vị); không thực hiện lại.", n=result.done), "info")
    elif action == "remind":
        flash(_("Đã gửi thư nhắc cho %(n)s đơn vị: %(mails)s thư vào hộp thư đi; nội dung được lưu trong nhật ký "
                "của từng đơn vị.", n=result.done, mails=result.queued), "success")
    else:
        flash(_("Đã trả lại hồ sơ của %(n)s đơn vị để chỉnh sửa: %(mails)s thư báo vào hộp thư đi; lý do được lưu "
                "trong nhật ký của từng đơn vị.", n=result.done, mails=result.queued), "success")
    lines = _skip_lines(action, result.skipped)
    if lines:
        flash(" ".join(lines), "secondary")
    return redirect(_bulk_back(campaign, form).removesuffix("#units"))


def _bulk_export(campaign: Campaign, action: str, selection: dq.UnitSelection, now) -> Response:
    """The selected units in the unit table's export format (the same writers as /export.xlsx, .csv)."""
    rows = dq.export_rows(campaign, now, selection)
    if action == "export_xlsx":
        body = unit_files.results_xlsx(rows, title=campaign.code)
        return _audit_download(body, f"{campaign.code}-don-vi-da-chon.xlsx",
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    sep = unit_files.default_separator(lang())
    return _audit_download(unit_files.results_csv(rows, sep=sep), f"{campaign.code}-don-vi-da-chon.csv",
                           "text/csv; charset=utf-8")


# -- the outbox ------------------------------------------------------------------------

def _mail_note() -> str | None:
    if current_app.config.get("MAIL_SERVER"):
        return None
    return _("Chưa cấu hình máy chủ thư: thư được giữ trong hộp thư đi, chưa gửi.")


@bp.get("/outbox")
@login_required
def outbox():
    """The organizer's outgoing mail, filtered by status."""
    user = require_roles("organizer_admin")
    status = request.args.get("status", "")
    status = status if status in mail_reads.OUTBOX_FILTERS else ""
    pagination = mail_reads.outbox_page(user.organizer_id, status, _int_arg("page"))

    if render_missing(pagination.items):  # notices queued in bulk get their text when first shown
        db.session.commit()
    codes = dq.campaign_codes(m.campaign_id for m in pagination.items)
    return render_template("dashboard/outbox.html", pagination=pagination, status=status, codes=codes,
                           counts=mail_reads.outbox_counts(user.organizer_id), filters=mail_reads.OUTBOX_FILTERS,
                           note=_mail_note())


_ACCOUNT_LINK = re.compile(r"(/(?:login/link/use#|password/reset#|login/link/|password/reset/))[A-Za-z0-9_-]+")


class _LinkHidden:
    """An outbox row as shown: the same, its single-use link cut (what is sent is unchanged)."""

    def __init__(self, mail):
        self._mail = mail
        self.body_text = _ACCOUNT_LINK.sub(r"\1…", mail.body_text or "")

    def __getattr__(self, name):
        return getattr(self._mail, name)


@bp.get("/outbox/<int:mail_id>")
@login_required
def outbox_mail(mail_id: int):
    """One mail as it would be sent."""
    user = require_roles("organizer_admin")
    mail = mail_reads.outbox_mail(user.organizer_id, mail_id)
    if mail is None:
        abort(404)

    if render_missing([mail]):
        db.session.commit()
    codes = dq.campaign_codes([mail.campaign_id])
    if mail.kind in mail_reads.ACCOUNT_KINDS and mail.recipient != user.email:
        mail = _LinkHidden(mail)  # another account's sign-in or reset link would open that account
    return render_template("dashboard/outbox_mail.html", mail=mail, campaign_code=codes.get(mail.campaign_id),
                           note=_mail_note(), sender=current_app.config.get("MAIL_DEFAULT_SENDER", ""))


# -- the calendar ----------------------------------------------------------------------

class OverrideForm(FlaskForm):
    day = DayField(_l("Ngày"), validators=[InputRequired(_l("Vui lòng nhập ngày."))])
    kind = SelectField(_l("Loại"), choices=list(OVERRIDE_KINDS), validate_choice=False,
                       validators=[AnyOf(list(OVERRIDE_KINDS), message=_l("Loại ngày không hợp lệ."))])
    reason = StringField(_l("Lý do"), filters=[_strip],
                         validators=[DataRequired(_l("Vui lòng ghi rõ lý do.")), Length(max=500)])
    document = StringField(_l("Văn bản quyết định"), filters=[_strip], validators=[Optional(), Length(max=255)])


class RemoveOverrideForm(FlaskForm):
    reason = StringField(_l("Lý do"), filters=[_strip], validators=[Optional(), Length(max=500)])


@bp.get("/calendar")
@login_required
def calendar():
    return calendar_year(utcnow().astimezone(current_app.config["TZ"]).year)


@bp.get("/calendar/<int:year>")
@login_required
def calendar_year(year: int):
    """The year's working-day calendar as the organizer counts it."""
    if not 1990 <= year <= 2100:
        abort(404)
    cal = calendar_for(current_user.organizer_id)
    today = utcnow().astimezone(current_app.config["TZ"]).date()
    months = []
    for month in range(1, 13):
        weeks = []
        for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                status = cal.day_status(day)
                cells.append({"day": day, "status": status, "classes": DAY_CLASSES.get(status.reason, ""),
                              "title": f"{format_day(day, lang())}: {status.describe(lang())}",
                              "today": day == today})
            weeks.append(cells)
        months.append((month, weeks))
    unconfirmed = cal.unconfirmed_days(date(year, 1, 1), date(year, 12, 31))
    holidays = [(day, cal.day_status(day)) for day, _name in cal.get_calendar_holidays(year)]
    return render_template(
        "dashboard/calendar.html", year=year, months=months, weekdays=weekday_names(lang()),
        holidays=holidays, makeup=cal.working_weekend_days(year),
        own=dq.own_overrides(current_user.organizer_id, year), shared=dq.shared_overrides(year),
        manage=may_manage(current_user), day_kinds=DAY_KINDS, day_classes=DAY_CLASSES,
        override_kinds=OVERRIDE_KINDS, today=today, unconfirmed=unconfirmed,
        decisions=dq.holiday_decisions(current_user.organizer_id, year), holiday_decisions=HOLIDAY_DECISIONS)


def _campaign_reasons() -> dict[str, str]:
    """The organizer's written reason per affected campaign: fields ``campaign_reason-<CODE>``."""
    prefix = "campaign_reason-"
    return {k[len(prefix):]: v.strip()[:2000] for k, v in request.form.items() if k.startswith(prefix) and v.strip()}


def _confirm_calendar_change(exc, reasons: dict[str, str], hidden: dict[str, str], action: str, back: str,
                             what: str):
    """The campaigns and units a calendar change affects, with a reason to write for each (status 409)."""
    return render_template("dashboard/calendar_confirm.html", impacts=exc.impacts, reasons=reasons, hidden=hidden,
                           action=action, back=back, what=what), 409


@bp.post("/calendar/overrides")
@login_required
def add_calendar_override():
    """Add a provincial day off or extra working day (a storm, a local decision)."""
    user = require_roles("organizer_admin")
    form = OverrideForm()
    year = utcnow().astimezone(current_app.config["TZ"]).year
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(url_for("dashboard.calendar_year", year=year))
    day = form.day.data
    target = url_for("dashboard.calendar_year", year=day.year) if 1990 <= day.year <= 2100 else \
        url_for("dashboard.calendar")
    existing = db.session.scalar(select(CalendarOverride).where(CalendarOverride.organizer_id == user.organizer_id,
                                                                CalendarOverride.day == day))
    if existing is not None:
        flash(_("Ngày %(day)s đã có quyết định riêng của tỉnh; hãy bỏ quyết định đó trước.",
                day=format_day(day, lang())), "danger")
        return redirect(target)
    reasons = _campaign_reasons()
    try:
        ops.add_calendar_override(day=day, kind=form.kind.data, reason=form.reason.data,
                                  document=form.document.data or "", organizer=user.organizer, actor=user.email,
                                  now=utcnow(), campaign_reasons=reasons)
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        hidden = {"day": day.isoformat(), "kind": form.kind.data, "reason": form.reason.data,
                  "document": form.document.data or ""}
        return _confirm_calendar_change(exc, reasons, hidden, url_for("dashboard.add_calendar_override"), target,
                                        f"{format_day(day, lang())}: {OVERRIDE_KINDS[form.kind.data]} — "
                                        f"{form.reason.data}")
    except (OverrideError, ops.OperationError) as exc:
        db.session.rollback()
        message = exc.message_vi if isinstance(exc, ops.OperationError) and lang() == "vi" else \
            getattr(exc, "message_en", str(exc))
        flash(_("Không thêm được: %(error)s", error=message), "danger")
        return redirect(target)
    db.session.commit()
    flash(_("Đã thêm %(kind)s %(day)s. Các thời hạn tính theo ngày làm việc được tính lại theo lịch mới.",
            kind=str(OVERRIDE_KINDS[form.kind.data]).lower(), day=format_day(day, lang())), "success")
    return redirect(target)


@bp.post("/calendar/overrides/<int:override_id>/remove")
@login_required
def remove_calendar_override(override_id: int):
    user = require_roles("organizer_admin")
    row = db.session.get(CalendarOverride, override_id)
    if row is None or row.organizer_id != user.organizer_id:
        abort(404)
    form = RemoveOverrideForm()
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(url_for("dashboard.calendar_year", year=row.day.year))
    day = row.day
    reasons = _campaign_reasons()
    try:
        ops.remove_calendar_override(override_id, actor=user.email, reason=form.reason.data or "", now=utcnow(),
                                     campaign_reasons=reasons)
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        return _confirm_calendar_change(exc, reasons, {"reason": form.reason.data or ""},
                                        url_for("dashboard.remove_calendar_override", override_id=override_id),
                                        url_for("dashboard.calendar_year", year=day.year),
                                        f"{format_day(day, lang())}: {_('bỏ quyết định riêng')} — {row.reason}")
    except OverrideError as exc:
        db.session.rollback()
        flash(_("Không bỏ được: %(error)s", error=str(exc)), "danger")
        return redirect(url_for("dashboard.calendar_year", year=day.year))
    db.session.commit()
    flash(_("Đã bỏ quyết định riêng cho ngày %(day)s.", day=format_day(day, lang())), "success")
    return redirect(url_for("dashboard.calendar_year", year=day.year))


# -- unconfirmed days off --------------------------------------------------------------

class HolidayDecisionForm(FlaskForm):
    day = DayField(_l("Ngày"), validators=[InputRequired(_l("Vui lòng nhập ngày."))])
    decision = SelectField(_l("Quyết định"), choices=list(HOLIDAY_DECISIONS), validate_choice=False,
                           validators=[AnyOf(list(HOLIDAY_DECISIONS), message=_l("Quyết định không hợp lệ."))])
    doc_number = StringField(_l("Số, ký hiệu văn bản"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập số, ký hiệu văn bản.")), Length(max=128)])
    doc_date = DayField(_l("Ngày ban hành"), validators=[InputRequired(_l("Vui lòng nhập ngày ban hành văn bản."))])
    doc_issuer = StringField(_l("Cơ quan ban hành"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập cơ quan ban hành văn bản.")), Length(max=255)])


def _stored_again(form) -> StoredDocument | None:
    """The file stored by the first post of a decision that then needed reasons per campaign (the
    confirmation page carries its name and SHA-256; both must match a file in the upload folder)."""
    name, digest = form.get("stored_name", ""), form.get("sha256", "")
    if not name or not re.fullmatch(r"[0-9a-f]{64}", digest) or Path(name).name != name:
        return None
    path = Path(current_app.config["UPLOAD_FOLDER"]) / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return StoredDocument(form.get("original_name", "")[:255], name, digest, len(data), "")


@bp.post("/calendar/holidays/decide")
@login_required
def decide_holiday():
    """Confirm or reject, for the province, a day off that no enacted source confirms (24/11/2026)."""
    user = require_roles("organizer_admin")
    form = HolidayDecisionForm()
    year = utcnow().astimezone(current_app.config["TZ"]).year
    if not form.validate():
        flash(_form_errors(form), "danger")
        return redirect(url_for("dashboard.calendar_year", year=year))
    day = form.day.data
    target = url_for("dashboard.calendar_year", year=day.year) if 1990 <= day.year <= 2100 else \
        url_for("dashboard.calendar")
    stored = _stored_again(request.form)
    upload = request.files.get("file")
    if stored is None and upload and upload.filename:
        try:
            stored = store_document(current_app.config["UPLOAD_FOLDER"], upload.filename, upload.read())
        except DocumentRefused as exc:
            flash(_("Không ghi nhận được: %(error)s", error=exc.message_vi if lang() == "vi" else exc.message_en),
                  "danger")
            return redirect(target)
    reasons = _campaign_reasons()
    try:
        ops.decide_unconfirmed_holiday(day=day, decision=form.decision.data, doc_number=form.doc_number.data,
                                       doc_date=form.doc_date.data, doc_issuer=form.doc_issuer.data,
                                       organizer=user.organizer, actor=user.email, now=utcnow(), stored=stored,
                                       campaign_reasons=reasons)
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        hidden = {"day": day.isoformat(), "decision": form.decision.data, "doc_number": form.doc_number.data,
                  "doc_date": form.doc_date.data.isoformat(), "doc_issuer": form.doc_issuer.data}
        if stored is not None:
            hidden |= {"stored_name": stored.stored_name, "sha256": stored.sha256,
                       "original_name": stored.original_name}
        return _confirm_calendar_change(exc, reasons, hidden, url_for("dashboard.decide_holiday"), target,
                                        f"{format_day(day, lang())}: {HOLIDAY_DECISIONS[form.decision.data]}")
    except ops.OperationError as exc:
        db.session.rollback()
        flash(_("Không ghi nhận được: %(error)s", error=exc.message_vi if lang() == "vi" else exc.message_en),
              "danger")
        return redirect(target)
    db.session.commit()
    if form.decision.data == "confirmed":
        flash(_("Đã xác nhận ngày %(day)s là ngày nghỉ.", day=format_day(day, lang())), "success")
    else:
        flash(_("Đã ghi nhận: ngày %(day)s là ngày làm việc; các thời hạn tính theo ngày làm việc được tính lại.",
                day=format_day(day, lang())), "success")
    return redirect(target)


@bp.get("/calendar/holidays/<int:decision_id>/file")
@login_required
def holiday_decision_file(decision_id: int):
    """The deciding document's file (a province's own decision, or one made for everyone)."""
    row = db.session.get(HolidayDecision, decision_id)
    if row is None or not row.stored_name or row.organizer_id not in (None, current_user.organizer_id) \
            or not is_organizer_side(current_user):
        abort(404)
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], row.stored_name, as_attachment=True,
                               download_name=row.original_name or row.stored_name)
