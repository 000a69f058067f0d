"""The evaluation pages (issue 12): a unit's sheet (fill, save, submit), the verifier's view
(claimed vs verified, logic flags, a finding per criterion), the confirmation round
(send, confirm or dispute, settle), the printable sheet and the results by group
with section subtotals (HTML and XLSX).

Thin: each view parses the form, calls one ``workflow.evaluation`` operation,
commits and redirects; the running score is the server's rule answering
(``/sheet/score``, the same ``criteria_rules`` code that scores on submit).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

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
from flask_login import current_user, login_required
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select

from web.access import campaign_or_404, is_organizer_side, known_criteria, may_manage, unit_or_404
from web.common import gettext as _
from web.common import lang
from web.pages.unit import file_size, may_act_for
from workflow import campaigns as reads
from workflow import criteria_xlsx
from workflow import evaluation as ev
from workflow.campaign_files import KNOWN_GROUPS
from workflow.criteria import has_criteria, sets_of
from workflow.criteria_rules import KINDS, Entry, Node, RuleError, clean_value, score_leaf, score_sheet
from workflow.db import db, utcnow
from workflow.models import Campaign, Participation, Unit
from workflow.operations import OperationError, participation_of
from workflow.sheets import SheetView, campaign_scores, entries_as_rule_input, sheet_view
from workflow.standing import status_name
from workflow.storage import ALLOWED, DocumentRefused, remove_stored, store_document
from workflow.unit_files import UnitFileError

bp = Blueprint("evaluation", __name__)


@bp.app_template_global("has_criteria")
def _has_criteria(campaign_id: int) -> bool:
    """For the links from the agency page and the dashboard (small edits in their templates): read with the
    campaign (``web.access.campaign_or_404``) on a page that only reads, else asked."""
    known = known_criteria(campaign_id)
    return has_criteria(campaign_id) if known is None else known


def _message(exc: OperationError | RuleError) -> str:
    return exc.message_vi if lang() == "vi" else exc.message_en


def _load(code: str, unit_code: str) -> tuple[Campaign, Unit, Participation, SheetView]:
    campaign = campaign_or_404(code)
    unit = unit_or_404(campaign, unit_code)
    try:
        p = participation_of(campaign, unit)
    except OperationError:
        abort(404)
    view = sheet_view(campaign, p, unit)
    if view is None:
        abort(404)
    return campaign, unit, p, view


def _back(campaign: Campaign, unit: Unit, anchor: str = "") -> Response:
    return redirect(url_for("evaluation.sheet", code=campaign.code, unit_code=unit.code) + anchor, 303)


def may_verify(user) -> bool:
    return may_manage(user) or user.role == "council"


# -- the form ------------------------------------------------------------------

def values_from_form(nodes: list[Node], form: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The sheet form's fields (``v-<code>-<part>``) → criteria_rules values; unchecked here."""
    out: dict[str, dict[str, Any]] = {}
    for n in nodes:
        if not n.is_leaf:
            continue
        f = lambda part, n=n: (form.get(f"v-{n.code}-{part}") or "").strip()  # noqa: E731
        if n.allow_na and f("na"):
            out[n.code] = {"na": True, "explanation": f("explanation")}
            continue
        if n.kind == "yes_no":
            out[n.code] = {"yes": {"1": True, "0": False}.get(f("yes"))} if f("yes") else {}
        elif n.kind == "number":
            out[n.code] = {"number": f("number")}
        elif n.kind == "ratio":
            out[n.code] = {"numerator": f("numerator"), "denominator": f("denominator")}
        elif n.kind == "link":
            out[n.code] = {"links": f("links").split()}
        elif n.kind == "choice":
            out[n.code] = {"level": f("level")}
        elif n.kind == "text":
            out[n.code] = {"text": f("text")}
        elif n.kind == "points":
            out[n.code] = {"points": f("points")}
        # evidence files are kept as saved (uploading them from this form is a later step)
    return out


def _context(campaign: Campaign, unit: Unit, p: Participation, view: SheetView, **extra) -> dict[str, Any]:
    now = utcnow()
    tl = reads.timeline_of(campaign)
    status = reads.unit_status_at(p, now >= tl.grace_ends_at)
    group_vi, group_en = KNOWN_GROUPS.get(unit.group, (unit.group, unit.group))
    organizer_side = is_organizer_side(current_user)
    may_act = may_act_for(current_user, unit)
    rnd = view.round
    round_open = rnd is not None and rnd.closed_at is None and now < rnd.due_at
    may_respond = round_open and may_act and not organizer_side
    try:
        ev.unit_may_change(campaign, p, now)
        # The organizer's people read the unit's sheet and verify it; during a confirmation round
        # the unit answers the figures instead of editing them.
        can_edit = may_act and not organizer_side and not may_respond
    except OperationError as exc:
        can_edit = False
        extra.setdefault("closed_message", _message(exc))
    return {
        "campaign": campaign, "unit": unit, "p": p, "view": view, "nodes": view.nodes(),
        "status": status, "status_name": status_name(status, lang()),
        "group_name": group_vi if lang() == "vi" else group_en,
        "kinds": {k: (vi if lang() == "vi" else en) for k, (vi, en) in KINDS.items()},
        "can_edit": can_edit, "may_act": may_act, "organizer_side": organizer_side,
        "may_verify": may_verify(current_user) and view.submitted, "may_manage": may_manage(current_user),
        "round": rnd, "round_open": round_open, "may_respond": may_respond,
        "stages": {k: (vi if lang() == "vi" else en) for k, (vi, en) in ev.STAGES.items()},
        "responses": {k: (vi if lang() == "vi" else en) for k, (vi, en) in ev.RESPONSES.items()},
        "fmt": _fmt, "posted": {}, "errors": {}, "file_size": file_size, "accept": ",".join(sorted(ALLOWED)),
        "may_change_evidence": can_edit and (not view.submitted or p.status == "returned"), **extra,
    }


def _fmt(d: Decimal | None) -> str:
    if d is None:
        return "—"
    text = f"{Decimal(d):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang() == "vi" else text


# -- the sheet ---------------------------------------------------------------------

@bp.get("/campaigns/<code>/units/<unit_code>/sheet")
@login_required
def sheet(code: str, unit_code: str):
    """The sheet by section: maximum, guidance, inputs by kind, score per criterion, the total."""
    campaign, unit, p, view = _load(code, unit_code)
    return render_template("evaluation/sheet.html", **_context(campaign, unit, p, view))


@bp.post("/campaigns/<code>/units/<unit_code>/sheet")
@login_required
def save(code: str, unit_code: str):
    """Save the draft; with action=submit, save and submit (= send the dossier)."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    values = values_from_form(view.nodes(), request.form)
    now = utcnow()
    try:
        ev.save_draft(campaign, unit, values, actor=current_user.email, now=now)
        if request.form.get("action") == "submit":
            ev.submit_sheet(campaign, unit, actor=current_user.email, now=now)
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        campaign, unit, p, view = _load(code, unit_code)
        flash(_message(exc), "danger")
        errors = {e["code"]: e["message_vi"] if lang() == "vi" else e["message_en"]
                  for e in getattr(exc, "errors", [])} or {(exc.field or "").split(".")[0]: _message(exc)}
        ctx = _context(campaign, unit, p, view, posted=request.form, errors=errors)
        return render_template("evaluation/sheet.html", **ctx), 422
    if request.form.get("action") == "submit":
        flash(_("Đã nộp phiếu đánh giá (và hồ sơ). Biên nhận đã được gửi qua thư điện tử."), "success")
    else:
        flash(_("Đã lưu bản nháp phiếu đánh giá."), "success")
    return _back(campaign, unit)


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/score")
@login_required
def score(code: str, unit_code: str):
    """The running score as the unit types: the server's rules on the form as it is (nothing saved)."""
    campaign, unit, p, view = _load(code, unit_code)
    nodes = view.nodes()
    values = values_from_form(nodes, request.form)
    leaves = {n.code: n for n in nodes if n.is_leaf}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for c, value in values.items():
        try:
            cleaned[c] = clean_value(leaves[c], value)
        except RuleError as exc:
            errors[c] = _message(exc)
            cleaned[c] = {}
    entries = entries_as_rule_input(view.entries, draft=True)
    for c, value in cleaned.items():
        entries[c] = Entry(claimed=value)
    s = score_sheet(view.tree, unit.group, entries)
    return jsonify({"points": {c: _fmt(v) for c, v in s.claimed.items()}, "total": _fmt(s.claimed_total),
                    "maximum": _fmt(s.maximum), "errors": errors,
                    "points_of": {c: _fmt(score_leaf(leaves[c], cleaned.get(c))) for c in leaves}})


# -- evidence files ----------------------------------------------------------------

@bp.post("/campaigns/<code>/units/<unit_code>/sheet/evidence/<criterion>")
@login_required
def attach_evidence(code: str, unit_code: str, criterion: str):
    """Store evidence files (as dossier documents: type, name, SHA-256) and attach them to a criterion."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if not files:
        flash(_("Chưa chọn tệp minh chứng."), "warning")
        return _back(campaign, unit, f"#c-{criterion}")
    folder = current_app.config["UPLOAD_FOLDER"]
    written: list[str] = []
    try:
        now = utcnow()
        for f in files:
            stored = store_document(folder, f.filename, f.read())
            written.append(stored.stored_name)
            ev.attach_evidence(campaign, unit, criterion, stored, actor=current_user.email, now=now)
        db.session.commit()
    except (DocumentRefused, OperationError) as exc:
        db.session.rollback()
        remove_stored(folder, written)
        flash(_message(exc) + " " + _("Không có tệp nào được lưu."), "danger")
        return _back(campaign, unit, f"#c-{criterion}")
    except Exception:
        db.session.rollback()
        remove_stored(folder, written)
        raise
    flash(_("Đã đính kèm %(n)s tệp minh chứng cho tiêu chí %(code)s.", n=len(files), code=criterion), "success")
    return _back(campaign, unit, f"#c-{criterion}")


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/evidence/<int:file_id>/remove")
@login_required
def remove_evidence(code: str, unit_code: str, file_id: int):
    """Remove an evidence file while the sheet is a draft; the file leaves the disk once that is recorded."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    try:
        stored_name = ev.remove_evidence(campaign, unit, file_id, actor=current_user.email, now=utcnow())
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_message(exc), "danger")
        return _back(campaign, unit)
    remove_stored(current_app.config["UPLOAD_FOLDER"], [stored_name])
    flash(_("Đã gỡ tệp minh chứng."), "success")
    return _back(campaign, unit)


@bp.get("/campaigns/<code>/units/<unit_code>/sheet/evidence/<int:file_id>")
@login_required
def evidence(code: str, unit_code: str, file_id: int):
    """Download an evidence file under its original name."""
    campaign, unit, p, view = _load(code, unit_code)
    found = ev.evidence_file(view, file_id)
    if found is None:
        abort(404)
    f = found[1]
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], f.stored_name, as_attachment=True,
                               download_name=f.original_name, mimetype=f.content_type or None, max_age=0)


# -- the verifier ------------------------------------------------------------------

def _decimal(text: str) -> Decimal | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal("NaN")


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/verify/<criterion>")
@login_required
def verify(code: str, unit_code: str, criterion: str):
    """A finding on one criterion: the verified value (by the rule) or points, and a note."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_verify(current_user):
        abort(403)
    node = {n.code: n for n in view.nodes() if n.is_leaf}.get(criterion)
    if node is None:
        abort(404)
    form = request.form
    value = None
    if form.get("change_value"):
        value = values_from_form([node], form).get(criterion, {})
    points = _decimal(form.get("points", ""))
    if points is not None and not points.is_finite():
        flash(_("Điểm thẩm định phải là một số."), "danger")
        return _back(campaign, unit, f"#c-{criterion}")
    try:
        ev.verify(campaign, unit, criterion, actor=current_user.email, now=utcnow(),
                  stage=form.get("stage", "preliminary_review"), value=value, points=points,
                  link_not_found=bool(form.get("link_not_found")), note=form.get("note", ""))
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã ghi kết quả thẩm định tiêu chí %(code)s.", code=criterion), "success")
    return _back(campaign, unit, f"#c-{criterion}")


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/send")
@login_required
def send(code: str, unit_code: str):
    """Send the verified figures to the unit to confirm within N working days."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_manage(current_user):
        abort(403)
    days_text = (request.form.get("working_days") or "").strip()
    if days_text and not days_text.isdigit():
        flash(_("Số ngày làm việc phải là số nguyên."), "danger")
        return _back(campaign, unit)
    try:
        rnd = ev.send_figures(campaign, unit, actor=current_user.email, now=utcnow(),
                              working_days=int(days_text) if days_text else None, note=request.form.get("note", ""))
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã gửi số liệu cho đơn vị xác nhận; hạn xác nhận 24:00 ngày %(day)s.",
                day=rnd.deadline.strftime("%d/%m/%Y")), "success")
    return _back(campaign, unit)


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/respond")
@login_required
def respond(code: str, unit_code: str):
    """The unit confirms or disputes each criterion (a dispute with its reason)."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    answers = {}
    for n in view.nodes():
        answer = request.form.get(f"r-{n.code}")
        if n.is_leaf and answer:
            answers[n.code] = (answer, request.form.get(f"r-{n.code}-reason", ""))
    if not answers:
        flash(_("Chưa chọn Đồng ý hoặc Không đồng ý cho tiêu chí nào."), "warning")
        return _back(campaign, unit, "#xac-nhan")
    try:
        ev.respond(campaign, unit, answers, actor=current_user.email, now=utcnow())
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã ghi ý kiến của đơn vị về số liệu."), "success")
    return _back(campaign, unit, "#xac-nhan")


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/settle")
@login_required
def settle(code: str, unit_code: str):
    campaign, unit, p, view = _load(code, unit_code)
    if not may_manage(current_user):
        abort(403)
    try:
        ev.settle(campaign, unit, actor=current_user.email, now=utcnow(), reason=request.form.get("reason", ""))
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã kết luận ý kiến của đơn vị; số liệu sau thẩm định được dùng để xếp hạng."), "success")
    return _back(campaign, unit)


@bp.get("/campaigns/<code>/units/<unit_code>/sheet/print")
@login_required
def printable(code: str, unit_code: str):
    """The printable sheet: claimed, verified and note per criterion."""
    campaign, unit, p, view = _load(code, unit_code)
    return render_template("evaluation/print.html", **_context(campaign, unit, p, view))


@bp.get("/campaigns/<code>/units/<unit_code>/sheet.xlsx")
@login_required
def sheet_xlsx(code: str, unit_code: str):
    """The sheet to fill offline (the unit's saved draft in it)."""
    campaign, unit, p, view = _load(code, unit_code)
    data = criteria_xlsx.export_sheet(view.criteria_set.title or view.criteria_set.code, unit.name, view.tree,
                                      unit.group, {c: e.draft or {} for c, e in view.entries.items()})
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{campaign.code}-{unit.code}-phieu.xlsx"'})


@bp.post("/campaigns/<code>/units/<unit_code>/sheet.xlsx")
@login_required
def sheet_upload(code: str, unit_code: str):
    """A filled sheet (XLSX) becomes the draft, checked by the same rules as the form."""
    campaign, unit, p, view = _load(code, unit_code)
    if not may_act_for(current_user, unit):
        abort(403)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Chưa chọn tệp phiếu đánh giá (.xlsx)."), "warning")
        return _back(campaign, unit)
    try:
        read = criteria_xlsx.read_filled_sheet(upload.read(), view.tree, unit.group)
    except UnitFileError as exc:
        flash(exc.message, "danger")
        return _back(campaign, unit)
    if read.issues:
        flash("; ".join(str(i) for i in read.issues[:10]), "danger")
        return _back(campaign, unit)
    try:
        ev.save_draft(campaign, unit, read.values, actor=current_user.email, now=utcnow())
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Đã nhập phiếu đánh giá từ tệp vào bản nháp; kiểm tra rồi bấm Nộp phiếu."), "success")
    return _back(campaign, unit)


# -- results -------------------------------------------------------------------------

def _results(campaign: Campaign):
    """Rows per group: unit, status, section subtotals (claimed, verified), totals, rating, rank."""
    now = utcnow()
    scores = {s.participation_id: s for s in campaign_scores(campaign)}
    ranked = {r.participation.id: r for r in reads.results(campaign, now)}
    sets = sets_of(campaign.id)
    sections_of: dict[str, list[tuple[str, str, Decimal]]] = {}
    for cs in sets:
        tree = cs.tree()
        for group in ({r.participation.unit.group for r in ranked.values()}):
            if cs.applies_to(group) and group not in sections_of:
                sections_of[group] = [(n.code, n.title, n.maximum) for n in tree.nodes if n.applies_to(group)]
    groups: dict[str, list] = {}
    for pid, r in ranked.items():
        groups.setdefault(r.participation.unit.group, []).append((r, scores.get(pid)))
    for rows in groups.values():
        rows.sort(key=lambda x: (x[0].rank is None, x[0].rank or 0, x[0].participation.unit.code))
    return groups, sections_of


@bp.get("/campaigns/<code>/evaluation")
@login_required
def results(code: str):
    """Results per group with each section's subtotal; XLSX with ?format=xlsx."""
    campaign = campaign_or_404(code)
    if not is_organizer_side(current_user):
        abort(403)
    groups, sections_of = _results(campaign)
    if request.args.get("format") == "xlsx":
        return _results_xlsx(campaign, groups, sections_of)
    previous = _previous_scores(campaign)
    return render_template("evaluation/results.html", campaign=campaign, groups=groups, sections_of=sections_of,
                           fmt=_fmt, previous=previous,
                           group_name=lambda g: KNOWN_GROUPS.get(g, (g, g))[0 if lang() == "vi" else 1],
                           status_name=lambda s: status_name(s, lang()))


def _previous_scores(campaign: Campaign) -> dict[str, tuple[str, Decimal | None]]:
    """The unit's score (verified, else self-assessed) in the latest earlier campaign of the same organizer."""
    earlier = db.session.scalar(select(Campaign).where(Campaign.organizer_id == campaign.organizer_id,
                                                       Campaign.year < campaign.year)
                                .order_by(Campaign.year.desc(), Campaign.id.desc()).limit(1))
    if earlier is None:
        return {}
    rows = db.session.execute(select(Unit.code, Participation.verified_score, Participation.self_score)
                              .join(Participation, Participation.unit_id == Unit.id)
                              .where(Participation.campaign_id == earlier.id)).all()
    return {c: (earlier.code, v if v is not None else s) for c, v, s in rows}


def _results_xlsx(campaign: Campaign, groups, sections_of) -> Response:
    """The table annexed to the People's Committee decision: one sheet per group (khối), STT, unit,
    each section's points, total, rating, rank."""
    wb = Workbook()
    wb.remove(wb.active)
    for group, rows in sorted(groups.items()):
        ws = wb.create_sheet(("".join(ch for ch in KNOWN_GROUPS.get(group, (group,))[0] if ch not in "[]:*?/\\"))[:31])
        sections = sections_of.get(group, [])
        ws.append([f"KẾT QUẢ ĐÁNH GIÁ, XẾP HẠNG MỨC ĐỘ ỨNG DỤNG CNTT NĂM {campaign.year}"])
        ws.append([f"(Kèm theo Quyết định số ……/QĐ-UBND ngày …… của UBND tỉnh) — {campaign.title}"])
        ws.append([f"Khối: {KNOWN_GROUPS.get(group, (group,))[0]}"])
        header = ["STT", "Tên cơ quan, đơn vị"] + [f"{c}. {t} ({_plain(m)} điểm)" for c, t, m in sections] + [
            "Tổng điểm", "Xếp loại", "Xếp hạng", "Ghi chú"]
        ws.append(header)
        for cell in ws[4]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws["A1"].font = Font(bold=True)
        for i, (r, s) in enumerate(rows, start=1):
            note = "" if r.rank is not None else status_name(r.status)
            subtotals = [float(s.sections[c][1]) if s and c in s.sections else None for c, _t, _m in sections]
            ws.append([i, r.participation.unit.name, *subtotals,
                       float(s.verified_total) if s else (float(r.score) if r.score is not None else None),
                       r.rating, r.rank, note])
        ws.column_dimensions["B"].width = 45
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{campaign.code}-ket-qua.xlsx"'})


def _plain(d: Decimal) -> str:
    return f"{Decimal(d):f}".rstrip("0").rstrip(".") if "." in f"{Decimal(d):f}" else f"{Decimal(d):f}"
