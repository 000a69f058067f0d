"""A unit's page in a campaign: status, countdown, upload, receipt, history, ICS.

The same page serves the unit's focal point and the organizer's people who open
the unit.  Every route asks ``access`` first; the ICS feed, fetched by calendar
clients without cookies, is opened by a signed token instead of a sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Integer, and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from web import page_cache
from web.access import campaign_or_404, can_see_unit, is_organizer_side, may_manage, unit_or_404
from web.common import gettext as _
from web.common import lang, request_received_at
from web.ics import AllDayEvent, calendar_bytes
from workflow import campaigns as reads
from workflow import operations as ops
from workflow import revisions, standing
from workflow.campaign_files import KNOWN_GROUPS
from workflow.db import db, utcnow
from workflow.models import Campaign, Participation, Submission, SubmissionDocument, Unit, User
from workflow.storage import ALLOWED, DocumentRefused, remove_stored, store_document
from workflow.timeline import Timeline
from workflow.workdays import VietnamCalendar, format_day

bp = Blueprint("units", __name__)

#: Bootstrap colours of the status line.
STATUS_STYLE = {
    "not_submitted": "secondary", "on_time": "success", "late": "warning", "excluded": "danger",
    "returned": "warning", "resubmitted": "info", "confirmed": "success", "verified": "success",
}


# -- who and what ----------------------------------------------------------------

def _load(code: str, unit_code: str) -> tuple[Campaign, Unit, Participation]:
    """The campaign, the unit and its participation, or 404 for anyone who may not see them."""
    campaign = campaign_or_404(code)
    row = db.session.execute(_unit_statement(), {"campaign_id": campaign.id, "organizer_id": campaign.organizer_id,
                                                 "unit_code": unit_code}).unique().first()
    if row is None or not can_see_unit(current_user, row[0]):
        abort(404)
    return campaign, row[0], row[1]


@cache
def _unit_statement():
    """The unit, its participation and the dossier's versions with their documents (which the page shows):
    one statement, built once (bound: campaign_id, organizer_id, unit_code)."""
    return (select(Unit, Participation)
            .join(Participation, and_(Participation.unit_id == Unit.id,
                                      Participation.campaign_id == bindparam("campaign_id", type_=Integer)))
            .where(Unit.organizer_id == bindparam("organizer_id", type_=Integer), Unit.code == bindparam("unit_code"))
            .options(joinedload(Participation.submissions).joinedload(Submission.documents)))


def may_act_for(user: User, unit: Unit) -> bool:
    """Send a dossier or confirm figures: the unit's own focal point, or the organizer's admin."""
    if not user.is_authenticated or user.organizer_id != unit.organizer_id:
        return False
    return may_manage(user) or (user.role == "focal_point" and user.unit_id == unit.id)


def _message(exc) -> str:
    return exc.message_vi if lang() == "vi" else exc.message_en


# -- the countdown ---------------------------------------------------------------

@dataclass(frozen=True)
class Countdown:
    """Where the unit stands against the clock: before the deadline, in grace, or closed."""

    #: open | grace | closed | draft | cancelled
    phase: str
    #: Working days left, today included when it is a working day.
    days_left: int
    #: Whether today is the period's last day.
    last_day_today: bool
    today_is_working: bool
    last_day: date
    #: Share of the period's working days gone, 0-100.
    percent: int

    @property
    def width_class(self) -> str:
        """A Bootstrap width class (w-25 … w-100) close to the share gone."""
        bucket = int(round(self.percent / 25.0)) * 25
        return f"w-{bucket}" if bucket else ""


def working_days_left(cal: VietnamCalendar, today: date, last_day: date) -> int:
    """Working days from ``today`` to ``last_day``, both included."""
    if today > last_day:
        return 0
    return cal.get_working_days_delta(today - timedelta(days=1), last_day)


def countdown(campaign: Campaign, tl: Timeline, cal: VietnamCalendar, now: datetime, state: str,
              tz: ZoneInfo) -> Countdown:
    today = now.astimezone(tz).date()
    working = cal.is_working_day(today)
    if state in ("draft", "cancelled"):
        return Countdown(state, 0, False, working, campaign.deadline, 0)
    if now < tl.deadline_at:
        start = campaign.document_date or campaign.created_at.astimezone(tz).date()
        start = min(start, today)
        total = working_days_left(cal, start, campaign.deadline)
        left = working_days_left(cal, today, campaign.deadline)
        percent = round(100 * (total - left) / total) if total else 100
        return Countdown("open", left, today == campaign.deadline, working, campaign.deadline, percent)
    if now < tl.grace_ends_at:
        total = campaign.grace_working_days
        left = working_days_left(cal, today, tl.grace_end)
        percent = round(100 * (total - left) / total) if total else 100
        return Countdown("grace", left, today == tl.grace_end, working, tl.grace_end, max(0, min(100, percent)))
    return Countdown("closed", 0, False, working, tl.grace_end, 100)


# -- formatting ------------------------------------------------------------------

def _when(instant: datetime | None, tz: ZoneInfo, seconds: bool = False) -> str:
    if instant is None:
        return "—"
    local = instant.astimezone(tz)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{clock}, {format_day(local.date(), lang())}"


def file_size(size: int | None) -> str:
    """``12,3 KB``: Vietnamese decimal comma."""
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        text = f"{size / 1024:.1f} KB"
    else:
        text = f"{size / (1024 * 1024):.1f} MB"
    return text.replace(".", ",") if lang() == "vi" else text


def _max_upload_mb() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    mb = limit / (1024 * 1024)
    return f"{mb:g}".replace(".", ",")


# -- the ICS token ------------------------------------------------------------------

def _ics_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="ics")


def ics_token(campaign: Campaign, unit: Unit) -> str:
    """A token that opens this unit's calendar feed of this campaign, and nothing else."""
    return _ics_serializer().dumps([campaign.id, unit.id])


# -- the page ----------------------------------------------------------------------

def _closed_message(campaign_state: str, status: str, grace_ended: bool, tl: Timeline) -> str:
    """Why no dossier can be sent now, in the page's language."""
    if campaign_state == "draft":
        return _("Đợt đánh giá chưa mở nhận hồ sơ.")
    if campaign_state == "cancelled":
        return _("Đợt đánh giá đã bị hủy; không nhận hồ sơ.")
    if status == "excluded":
        return _("Đơn vị đã bị loại khỏi đánh giá (không gửi hồ sơ trước khi hết thời gian gia hạn); không tiếp "
                 "nhận hồ sơ mới. Chỉ cơ quan tổ chức có thể khôi phục, kèm lý do bằng văn bản.")
    return _("Đã hết thời gian nhận hồ sơ (kể cả thời gian gia hạn, đến 24:00 %(day)s): không tiếp nhận hồ sơ "
             "mới hoặc hồ sơ thay thế.", day=format_day(tl.grace_end, lang()))


def _status_sentence(status: str, p: Participation, tz: ZoneInfo) -> str:
    if status == "not_submitted" and lang() == "vi":
        return _("Chưa nộp hồ sơ")
    return standing.status_sentence(status, p.received_at, p.late_working_days, tz, lang(), p.corrected_at)


def _page_context(campaign: Campaign, unit: Unit, p: Participation) -> dict:
    now = utcnow()
    tz = reads.tz_of(campaign)
    cal = reads.calendar_of(campaign)
    tl = reads.timeline_of(campaign, now=now, cal=cal)
    campaign_state = reads.state_at(campaign, now, tl)
    grace_ended = now >= tl.grace_ends_at
    status = reads.unit_status_at(p, grace_ended)
    reinstated = bool(p.reinstated_reason)
    can_submit = campaign_state not in ("draft", "cancelled") and standing.may_submit(
        status, reinstated=reinstated, grace_ended=grace_ended)
    submissions = list(p.submissions)
    in_force = submissions[-1] if submissions else None
    group_vi, group_en = KNOWN_GROUPS.get(unit.group, (unit.group, unit.group))
    confirm_pending = (p.confirmation_requested_at is not None and status in ("on_time", "late", "resubmitted"))
    return {
        "campaign": campaign, "unit": unit, "p": p, "tz": tz, "now": now,
        "timeline": tl, "campaign_state": campaign_state, "status": status,
        "status_style": STATUS_STYLE.get(status, "secondary"),
        "sentence": _status_sentence(status, p, tz),
        "reinstated": reinstated, "grace_ended": grace_ended,
        "countdown": countdown(campaign, tl, cal, now, campaign_state, tz),
        "group_name": group_vi if lang() == "vi" else group_en,
        "data_period": reads.data_period_text(campaign, lang()),
        "required": (campaign.required_documents or {}).get(unit.group) or [],
        "milestones": [item for item in tl.items if item.kind not in ("deadline", "grace_end")],
        "may_act": may_act_for(current_user, unit), "can_submit": can_submit,
        "closed_message": "" if can_submit else _closed_message(campaign_state, status, grace_ended, tl),
        "in_force": in_force, "history": list(reversed(submissions)),
        "channel_name": lambda channel: reads.CHANNELS.get(channel, (channel, channel))[0 if lang() == "vi" else 1],
        "when": lambda instant, seconds=False: _when(instant, tz, seconds),
        "day": lambda value: format_day(value, lang()),
        "file_size": file_size, "max_mb": _max_upload_mb(),
        "accept": ",".join(sorted(ALLOWED)),
        "confirm_pending": confirm_pending,
        "organizer_side": is_organizer_side(current_user),
        "ics_url": url_for("units.calendar", code=campaign.code, unit_code=unit.code,
                           token=ics_token(campaign, unit), _external=True),
    }


def _render(campaign: Campaign, unit: Unit, p: Participation, status: int = 200):
    return render_template("unit/page.html", **_page_context(campaign, unit, p)), status


@cache
def _page_scopes_query():
    c = revisions.counter
    return (page_cache.page_query(Participation.id, c(revisions.CAMPAIGN, Campaign.id),
                                  c(revisions.PARTICIPATION, Participation.id),
                                  c(revisions.ORGANIZER, Campaign.organizer_id), c(revisions.GLOBAL, 0))
            .join(Unit, and_(Unit.organizer_id == Campaign.organizer_id, Unit.code == bindparam("unit_code")))
            .join(Participation, and_(Participation.campaign_id == Campaign.id, Participation.unit_id == Unit.id)))


def _page_scopes(code: str, unit_code: str):
    """What a unit's page shows depends on: its campaign, its dossier, the organizer, the shared calendar."""
    return _page_scopes_query(), {"code": code, "unit_code": unit_code}


@bp.get("/campaigns/<code>/units/<unit_code>")
@page_cache.cached(_page_scopes)
@login_required
def page(code: str, unit_code: str):
    """Show a unit's status, countdown, required documents, upload form, receipt and history."""
    campaign, unit, p = _load(code, unit_code)
    return _render(campaign, unit, p)


@bp.get("/campaigns/<code>/units/<unit_code>/receipt")
@login_required
def receipt(code: str, unit_code: str):
    """The receipt of the dossier in force as a page that prints on one A4 sheet (print CSS in app.css):
    the focal point files it with the dossier.  ``?v=N`` prints an earlier version's receipt."""
    campaign, unit, p = _load(code, unit_code)
    context = _page_context(campaign, unit, p)
    submissions = list(p.submissions)
    version = request.args.get("v", type=int)
    chosen = next((s for s in submissions if s.version == version), None) if version else context["in_force"]
    if chosen is None:
        abort(404)
    context["receipt"] = chosen
    context["printed_at"] = _when(utcnow(), context["tz"], False)
    return render_template("unit/receipt.html", **context)


def _standing_note(status: str, late_days: int) -> str:
    """How the dossier just received counts, in one sentence."""
    if status == "on_time":
        return _("Hồ sơ được ghi nhận là nộp đúng hạn.")
    if status == "late":
        return _("Hồ sơ được ghi nhận là nộp trễ %(n)s ngày làm việc (trong thời gian gia hạn).", n=late_days)
    return ""


def _passed_during_upload(received_at: datetime, finished: datetime, tl: Timeline, tz: ZoneInfo) -> str:
    """The deadline or the grace end fell between the start of the upload (the received instant) and its
    end: say so, and why the dossier still counts as it does."""
    when = _when(received_at, tz, seconds=True)
    if received_at < tl.grace_ends_at <= finished:
        return _("Thời gian gia hạn (đến 24:00 %(day)s) đã hết trong lúc tải lên. Hồ sơ vẫn được tiếp nhận vì "
                 "thời điểm nhận là lúc máy chủ bắt đầu nhận (%(when)s), trước khi hết gia hạn.",
                 day=format_day(tl.grace_end, lang()), when=when)
    if received_at < tl.deadline_at <= finished:
        return _("Hạn chót (24:00 %(day)s) đã qua trong lúc tải lên. Hồ sơ vẫn đúng hạn vì thời điểm nhận là lúc "
                 "máy chủ bắt đầu nhận (%(when)s), trước hạn chót.", day=format_day(tl.deadline.last_day, lang()),
                 when=when)
    return ""


@bp.post("/campaigns/<code>/units/<unit_code>/upload")
@login_required
def upload(code: str, unit_code: str):
    """Store the uploaded documents and record them as the unit's dossier, all or nothing."""
    now = request_received_at()  # before anything else: the dossier's received instant
    campaign, unit, p = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    tl = reads.timeline_of(campaign, now=now)
    state = reads.state_at(campaign, now, tl)
    grace_ended = now >= tl.grace_ends_at
    status = reads.unit_status_at(p, grace_ended)
    if state in ("draft", "cancelled") or not standing.may_submit(
            status, reinstated=bool(p.reinstated_reason), grace_ended=grace_ended):
        if grace_ended and state not in ("draft", "cancelled"):
            # Sent from a page shown before grace end (or while an upload ran): say when it arrived.
            flash(_("Hồ sơ không được tiếp nhận: máy chủ bắt đầu nhận lúc %(when)s, sau khi hết thời gian gia hạn "
                    "(24:00 %(day)s).", when=_when(now, reads.tz_of(campaign), seconds=True),
                    day=format_day(tl.grace_end, lang())), "danger")
        flash(_closed_message(state, status, grace_ended, tl), "danger")
        return _render(campaign, unit, p, 409)
    files = [f for f in request.files.getlist("documents") if f and f.filename]
    if not files:
        flash(_("Vui lòng chọn ít nhất một tệp để nộp."), "danger")
        return _render(campaign, unit, p, 422)
    folder = current_app.config["UPLOAD_FOLDER"]
    written: list[str] = []
    documents: list[ops.DocumentInput] = []
    try:
        for f in files:
            stored = store_document(folder, f.filename, f.read())
            written.append(stored.stored_name)
            documents.append(ops.DocumentInput(stored.original_name, stored.sha256, stored))
    except DocumentRefused as exc:
        remove_stored(folder, written)
        flash(_message(exc) + " " + _("Không có tệp nào được lưu; hồ sơ chưa được ghi nhận."), "danger")
        return _render(campaign, unit, p, 422)
    try:
        sub = ops.record_submission(campaign, unit, received_at=now, channel="upload",
                                    recorded_by=current_user.email, now=now, documents=documents, by_unit=True)
        # Read before the commit: afterwards they would be fetched again, and a
        # database that went away just then would turn a stored dossier into an error.
        receipt_number, received_at = sub.receipt_number, sub.received_at
        recorded, late_days = p.status, p.late_working_days
        db.session.commit()
    except ops.OperationError as exc:
        db.session.rollback()
        remove_stored(folder, written)
        flash(_message(exc), "danger")
        return _render(campaign, unit, p, exc.status)
    except IntegrityError:
        # Two uploads at the same moment: the other one took this version number.
        db.session.rollback()
        remove_stored(folder, written)
        flash(_("Hồ sơ vừa được nộp từ một phiên làm việc khác. Vui lòng xem lại biên nhận rồi nộp lại nếu cần."),
              "warning")
        return redirect(url_for("units.page", code=code, unit_code=unit_code), 303)
    except Exception:
        db.session.rollback()
        remove_stored(folder, written)
        raise
    tz = reads.tz_of(campaign)
    flash(_("Đã nhận hồ sơ: biên nhận số %(number)s, lúc %(when)s.", number=receipt_number,
            when=_when(received_at, tz, seconds=True)) + " " + _standing_note(recorded, late_days),
          "success")
    passed = _passed_during_upload(received_at, utcnow(), tl, tz)
    if passed:
        flash(passed, "warning")
    return redirect(url_for("units.page", code=code, unit_code=unit_code, _anchor="bien-nhan"), 303)


@bp.errorhandler(413)
def too_large(exc):
    """A file over the size limit: say so in Vietnamese, on the unit's page when possible."""
    message = _("Tệp quá lớn: tổng dung lượng mỗi lần nộp tối đa %(mb)s MB. Không có tệp nào được lưu; vui lòng "
                "nén hoặc chia nhỏ tệp rồi nộp lại.", mb=_max_upload_mb())
    args = request.view_args or {}
    if current_user.is_authenticated and "code" in args and "unit_code" in args:
        try:
            campaign, unit, p = _load(args["code"], args["unit_code"])
        except HTTPException as denied:
            code = denied.code or 404
            return render_template("error.html", code=code, title=_("Không tìm thấy"),
                                   message=_("Trang hoặc hồ sơ bạn tìm không có, hoặc bạn không có quyền xem.")), code
        flash(message, "danger")
        return _render(campaign, unit, p, 413)
    return render_template("error.html", code=413, title=_("Tệp quá lớn"), message=message), 413


@bp.get("/campaigns/<code>/units/<unit_code>/documents/<int:doc_id>")
@login_required
def document(code: str, unit_code: str, doc_id: int):
    """Download a stored document of the unit's dossier under its original name."""
    campaign, unit, p = _load(code, unit_code)
    doc: SubmissionDocument | None = next(
        (d for s in p.submissions for d in s.documents if d.id == doc_id), None)
    if doc is None or not doc.stored_name:
        abort(404)
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], doc.stored_name, as_attachment=True,
                               download_name=doc.original_name, mimetype=doc.content_type or None, max_age=0)


@bp.post("/campaigns/<code>/units/<unit_code>/confirm")
@login_required
def confirm(code: str, unit_code: str):
    """The unit confirms the figures the organizer sent back to it."""
    campaign, unit, p = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    if p.confirmation_requested_at is None or p.status not in ("on_time", "late", "resubmitted"):
        flash(_("Không có số liệu nào đang chờ đơn vị xác nhận."), "warning")
        return redirect(url_for("units.page", code=code, unit_code=unit_code), 303)
    try:
        ops.confirm_figures(campaign, unit, actor=current_user.email, now=utcnow())
        db.session.commit()
    except ops.OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã xác nhận số liệu. Cơ quan tổ chức sẽ dùng số liệu này để chấm điểm, xếp hạng."), "success")
    return redirect(url_for("units.page", code=code, unit_code=unit_code), 303)


# -- a district's nomination of its leading commune (seed 000) ------------------------------

def _district_or_404(code: str, district_code: str) -> tuple[Campaign, Unit]:
    campaign = campaign_or_404(code)
    district = unit_or_404(campaign, district_code)
    user = current_user
    if not (user.role == "organizer_admin" or (user.role == "district_coordinator" and user.unit_id == district.id)):
        abort(404)
    if not campaign.commune_nomination:
        abort(404)
    return campaign, district


@bp.get("/campaigns/<code>/districts/<district_code>/nomination")
@login_required
def nomination(code: str, district_code: str):
    """The district's communes in the campaign, with status and score, and which one it nominates."""
    campaign, district = _district_or_404(code, district_code)
    now = utcnow()
    rows = [r for r in reads.results(campaign, now) if r.participation.unit.parent_id == district.id]
    return render_template("unit/nomination.html", campaign=campaign, district=district, rows=rows, lang=lang(),
                           status_name=standing.status_name)


@bp.post("/campaigns/<code>/districts/<district_code>/nomination")
@login_required
def nominate(code: str, district_code: str):
    campaign, district = _district_or_404(code, district_code)
    commune = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id,
                                                   Unit.code == (request.form.get("unit") or "").strip()[:64]))
    target = url_for("units.nomination", code=code, district_code=district_code)
    if commune is None:
        flash(_("Không tìm thấy đơn vị."), "danger")
        return redirect(target, 303)
    by = district if current_user.role == "district_coordinator" else None
    try:
        ops.nominate(campaign, commune, actor=current_user.email, now=utcnow(), by_district=by)
        if by is None and commune.parent_id != district.id:
            raise ops.OperationError("Đơn vị không thuộc huyện này.", "Not a commune of this district.", field="unit")
        db.session.commit()
    except ops.OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã đề cử %(name)s là xã dẫn đầu của %(district)s.", name=commune.name, district=district.name),
              "success")
    return redirect(target, 303)


# -- the calendar feed ----------------------------------------------------------------

def calendar_events(campaign: Campaign, unit: Unit, tl: Timeline, page_url: str) -> list[AllDayEvent]:
    """The deadline (with alarms), the grace end and the later milestones, in Vietnamese."""
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "han-chot.local"
    uid = f"{campaign.id}-{unit.id}-{{}}@{domain}"
    revisions = reads.milestone_revisions(campaign)

    def revision(kind: str) -> dict:
        rev = revisions.get(kind)
        return {"sequence": rev.sequence, "modified": rev.modified} if rev else {}

    deadline_day = format_day(tl.deadline.last_day)
    about = f"{campaign.title}\nĐơn vị: {unit.name} ({unit.code})\n{page_url}"
    events = [AllDayEvent(
        uid.format("deadline"), tl.deadline.last_day, tl.deadline.last_day,
        f"Hạn chót nộp hồ sơ {campaign.code}, đến hết 24:00",
        f"Hạn chót nộp hồ sơ: hết ngày {deadline_day} (24:00 giờ Việt Nam).\n" + about,
        alarms=(("-PT15H", f"Ngày mai ({deadline_day}) là hạn chót nộp hồ sơ {campaign.code}."),
                ("PT8H", f"Hôm nay ({deadline_day}) là hạn chót nộp hồ sơ {campaign.code}, đến hết 24:00.")),
        **revision("deadline"))]
    if campaign.grace_working_days:
        grace_day = format_day(tl.grace_end)
        events.append(AllDayEvent(
            uid.format("grace_end"), tl.grace_end, tl.grace_end,
            f"Hết thời gian gia hạn {campaign.code}: sau 24:00 chưa nộp sẽ bị loại khỏi đánh giá",
            f"Hồ sơ nộp sau hạn chót, trong {campaign.grace_working_days} ngày làm việc kể từ hạn chót, vẫn được "
            f"tiếp nhận nhưng bị ghi nhận là nộp trễ. Sau 24:00 {grace_day}, đơn vị chưa nộp hồ sơ không được "
            "đánh giá, xếp hạng.\n" + about,
            alarms=(("-PT15H", f"Ngày mai ({grace_day}) hết thời gian gia hạn nộp hồ sơ {campaign.code}."),),
            **revision("grace_end")))
    for item in tl.items:
        if item.kind in ("deadline", "grace_end"):
            continue
        events.append(AllDayEvent(uid.format(item.kind), item.start or item.end, item.end,
                                  f"{item.name_vi} ({campaign.code})", f"{item.name_vi}: {item.when('vi')}.\n" + about,
                                  **revision(item.kind)))
    return events


@bp.get("/campaigns/<code>/units/<unit_code>/calendar.ics")
def calendar(code: str, unit_code: str):
    """The unit's deadlines as an iCalendar feed; the signed token in the URL stands in for a sign-in."""
    try:
        payload = _ics_serializer().loads(request.args.get("token", ""))
    except BadSignature:
        abort(404)
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        abort(404)
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == unit_code))
    if unit is None or payload != [campaign.id, unit.id]:
        abort(404)
    try:
        ops.participation_of(campaign, unit)
    except ops.OperationError:
        abort(404)
    now = utcnow()
    tl = reads.timeline_of(campaign, now=now)
    page_url = url_for("units.page", code=code, unit_code=unit_code, _external=True)
    text = calendar_bytes(calendar_events(campaign, unit, tl, page_url), now=now,
                         name=f"{campaign.code} — {unit.name}")
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{campaign.code}-{unit.code}.ics"'
    response.headers["Cache-Control"] = "private, max-age=900"
    return response
