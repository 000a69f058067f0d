"""Next year's campaign from the dashboard (a preview before anything is saved) and the results page
with the year before's score and rank.  Thin: the plan, the clone and the results are
``workflow.yearly``'s and ``workflow.campaigns``'s, shared with ``flask campaign clone``."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from web.access import campaign_or_404, may_manage
from web.common import gettext as _
from web.common import lang
from web.pages.dashboard import group_name
from workflow import awards, letters, yearly
from workflow import campaigns as reads
from workflow import operations as ops
from workflow.campaigns import CHANNELS
from workflow.db import db, utcnow
from workflow.models import Unit
from workflow.standing import DEFAULT_TIERS, status_name
from workflow.storage import DocumentRefused, store_document

bp = Blueprint("yearly", __name__)


@bp.context_processor
def _helpers():
    return {"group_name": group_name, "status_name": lambda s: status_name(s, lang())}


class FormError(Exception):
    pass


def _form_plan(source):
    """The plan the form asks for; a bad field raises FormError with a Vietnamese/English message."""
    code = request.form.get("code", "").strip()[:64]
    try:
        year = int(request.form.get("year", "").strip())
    except ValueError:
        raise FormError(_("Năm phải là một số, ví dụ 2027.")) from None
    if not 2000 <= year <= 2100:
        raise FormError(_("Năm phải là một số, ví dụ 2027."))
    text = request.form.get("deadline", "").strip()
    deadline: date | None = None
    if text:
        try:
            deadline = date.fromisoformat(text)
        except ValueError:
            raise FormError(_("Hạn nộp không phải là ngày hợp lệ (năm-tháng-ngày).")) from None
    leave_out = [c for c in request.form.getlist("leave_out") if c]
    try:
        return yearly.plan_clone(source, code=code, year=year, deadline=deadline, leave_out=leave_out)
    except yearly.CloneRefused as exc:
        raise FormError(exc.message_vi if lang() == "vi" else exc.message_en) from None


def _defaults(source) -> dict:
    year = source.year + 1
    suffix = str(source.year)
    code = source.code[: -len(suffix)] + str(year) if source.code.endswith(suffix) else f"{source.code}-{year}"
    return {"code": code, "year": year, "deadline": ""}


@bp.route("/campaigns/<code>/clone", methods=["GET", "POST"])
@login_required
def clone(code: str):
    """GET: the form; POST without ``confirm``: the preview (nothing saved); POST with it: the new draft."""
    source = campaign_or_404(code, manage=True)
    if request.method == "GET":
        return render_template("yearly/clone.html", campaign=source, values=_defaults(source), plan=None,
                               lang=lang(), label=yearly.label)
    values = {k: request.form.get(k, "") for k in ("code", "year", "deadline")}
    try:
        plan = _form_plan(source)
    except FormError as exc:
        flash(_("Chưa có gì được lưu. %(error)s", error=str(exc)), "danger")
        return render_template("yearly/clone.html", campaign=source, values=values, plan=None, lang=lang(),
                               label=yearly.label), 422
    if request.form.get("confirm") != "1":
        if not request.form.get("previewed"):
            # First preview: the units that no longer exist are proposed for leaving out.
            plan = yearly.plan_clone(source, code=plan.code, year=plan.year,
                                     deadline=plan.deadline if plan.deadline_given else None,
                                     leave_out=plan.abolished_units)
        return render_template("yearly/clone.html", campaign=source, values=values, plan=plan, lang=lang(),
                               label=yearly.label)
    try:
        new = yearly.clone_campaign(plan, actor=current_user.email, now=utcnow())
    except yearly.CloneRefused as exc:
        db.session.rollback()
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return render_template("yearly/clone.html", campaign=source, values=values, plan=None, lang=lang(),
                               label=yearly.label), 409
    db.session.commit()
    flash(_("Đã tạo đợt đánh giá %(code)s (dự thảo) từ %(source)s.", code=new.code, source=source.code), "success")
    return redirect(url_for("dashboard.campaign", code=new.code))


@bp.get("/campaigns/<code>/results")
@login_required
def results(code: str):
    """Each group's ranking with tiers, and each unit's score and rank of the year before."""
    campaign = campaign_or_404(code)
    now = utcnow()
    rows = reads.results(campaign, now)
    previous = yearly.previous_results(campaign, now)
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.participation.unit.group, []).append(r)
    for items in groups.values():
        items.sort(key=lambda r: (r.rank is None, r.rank or 0, r.participation.unit.code))
    prev_campaign = db.session.get(type(campaign), campaign.previous_id) if campaign.previous_id else None
    return render_template("yearly/results.html", campaign=campaign, groups=groups, previous=previous,
                           prev_campaign=prev_campaign, tiers=campaign.tiers or DEFAULT_TIERS, lang=lang())


# -- the award step ---------------------------------------------------------------------

def _codes(text: str) -> list[str]:
    return [c for c in (part.strip() for part in text.replace(",", " ").split()) if c]


def _award_page(campaign, status: int = 200):
    rows = []
    for proposal in awards.proposals(campaign):
        rows.append((proposal, awards.award_submissions(proposal)))
    try:
        deadline = awards.award_deadline(campaign)
    except ops.OperationError:
        deadline = None
    return render_template("yearly/awards.html", campaign=campaign, rows=rows, deadline=deadline,
                           decision=awards.decision_of(campaign), channels=CHANNELS, lang=lang(),
                           manage=may_manage(current_user)), status


@bp.get("/campaigns/<code>/awards")
@login_required
def award_step(code: str):
    """The units proposed for an award, their award dossiers, the decision and publication."""
    return _award_page(campaign_or_404(code))


def _parse_instant(text: str, tz) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
        if not 2000 <= value.year <= 2100:
            raise ValueError(text)
    except ValueError:
        raise ops.OperationError("Thời điểm nhận không hợp lệ.", "The received instant is not valid.",
                                 field="received_at", status=422) from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


@bp.post("/campaigns/<code>/awards/<action>")
@login_required
def award_action(code: str, action: str):
    campaign = campaign_or_404(code, manage=True)
    now = utcnow()
    actor = current_user.email
    f = request.form
    try:
        if action == "propose":
            awards.propose(campaign, actor=actor, now=now, add=_codes(f.get("add", "")),
                           remove=_codes(f.get("remove", "")), reason=f.get("reason", ""))
            message = _("Đã ghi nhận danh sách đề nghị khen thưởng; thông báo đã vào hộp thư đi.")
        elif action == "dossier":
            unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id,
                                                        Unit.code == f.get("unit", "").strip()))
            if unit is None:
                raise ops.OperationError("Không có đơn vị này.", "No such unit.", field="unit", status=404)
            text = f.get("received_at", "").strip()
            received = _parse_instant(text, reads.tz_of(campaign)) if text else now
            sub = awards.record_award_dossier(campaign, unit, received_at=received, channel=f.get("channel", ""),
                                              recorded_by=actor, now=now, doc_number=f.get("doc_number", ""))
            message = _("Đã nhận hồ sơ đề nghị khen thưởng, số biên nhận %(n)s.", n=sub.receipt_number)
        elif action == "decision":
            try:
                decided_on = date.fromisoformat(f.get("decided_on", "").strip())
            except ValueError:
                raise ops.OperationError("Ngày quyết định không hợp lệ.", "The decision's date is not valid.",
                                         field="decided_on", status=422) from None
            upload = request.files.get("file")
            stored = None
            if upload and upload.filename:
                try:
                    stored = store_document(current_app.config["UPLOAD_FOLDER"], upload.filename, upload.read())
                except DocumentRefused as exc:
                    raise ops.OperationError(str(exc), str(exc), field="file", status=422) from None
            awards.record_decision(campaign, awards.DecisionInput(
                f.get("number", ""), decided_on, f.get("signer", ""), upload.filename if stored else "", stored),
                actor=actor, now=now)
            message = _("Đã ghi nhận quyết định phê duyệt.")
        elif action == "publish":
            awards.publish(campaign, actor=actor, now=now)
            message = _("Đã công bố kết quả; thư báo kết quả đã vào hộp thư đi.")
        else:
            abort(404)
    except ops.OperationError as exc:
        db.session.rollback()
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return _award_page(campaign, exc.status if exc.status in (404, 409, 422) else 409)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("yearly.award_step", code=campaign.code))


# -- official letters --------------------------------------------------------------------

@bp.route("/campaigns/<code>/letters", methods=["GET", "POST"])
@login_required
def letter(code: str):
    """The organizer fills number, date and signer; the DOCX downloads (workflow/letters.py)."""
    campaign = campaign_or_404(code, manage=True)
    if request.method == "GET":
        return render_template("yearly/letters.html", campaign=campaign, kinds=letters.KINDS, values={})
    f = request.form
    values = {k: f.get(k, "") for k in ("kind", "number", "day", "authority", "title", "signer")}
    error = None
    try:
        day = date.fromisoformat(values["day"].strip())
    except ValueError:
        error = _("Ngày văn bản không hợp lệ.")
    if values["kind"] not in letters.KINDS:
        error = _("Loại văn bản không hợp lệ.")
    elif not values["title"].strip() or not values["signer"].strip():
        error = _("Cần chức vụ và họ tên người ký.")
    if error:
        flash(_("Chưa tạo văn bản. %(error)s", error=error), "danger")
        return render_template("yearly/letters.html", campaign=campaign, kinds=letters.KINDS, values=values), 422
    head = letters.LetterHead(values["number"].strip(), day, values["authority"].strip(), values["title"].strip(),
                              values["signer"].strip())
    try:
        data = letters.build(campaign, values["kind"], head, utcnow())
    except letters.LetterRefused:
        flash(_("Chưa tạo văn bản. %(error)s", error=_("Số, chức vụ hoặc người ký chứa ký tự không hợp lệ.")),
              "danger")
        return render_template("yearly/letters.html", campaign=campaign, kinds=letters.KINDS, values=values), 422
    name = f"{campaign.code}-{values['kind']}-{day.isoformat()}.docx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
