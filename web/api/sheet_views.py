"""The evaluation through the JSON API (issue 12, docs/api.md "Sheets"): criteria sets, a unit's sheet,
its draft and submission, evidence files, verification, the figures-confirmation round, results.

Thin, as ``web/api/views.py``: each view states its contract in one ``@operation`` (the models of
``web/api/sheet_models.py``), finds what the token may see (``campaign_for``, ``unit_for``: a unit's
token sees and writes only its own unit), calls ONE operation of ``workflow.evaluation`` — the same as
the sheet pages and ``flask sheet`` — and answers.  Writes go through ``run_write`` (Idempotency-Key),
reads through ``json_answer`` (ETag).  Registered on the API's blueprint (imported by ``web/__init__``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app, g, url_for
from sqlalchemy import select

from web.api import models as m
from web.api import sheet_models as sm
from web.api.operation import json_answer, operation, run_write, touch_and_commit
from web.api.problems import ApiError, problem_body
from web.api.views import bp, campaign_for, submissions_of, unit_for
from workflow import campaigns as reads
from workflow import evaluation as ev
from workflow.api_tokens import actor_of
from workflow.campaign_files import KNOWN_GROUPS
from workflow.criteria import SheetFile, sets_of
from workflow.criteria_rules import KINDS, changed_codes, parent_code, rule_text
from workflow.db import db, utcnow
from workflow.models import Campaign, Participation, Submission, Unit
from workflow.operations import OperationError
from workflow.sheets import SheetView, campaign_scores, entries_as_rule_input
from workflow.storage import DocumentRefused, remove_stored, store_document

UNIT_ONLY = ApiError(403, "Chỉ token của chính đơn vị mới điền, nộp phiếu và trả lời về số liệu.",
                     "Only the unit's own token fills and submits its sheet and answers about its figures.",
                     "Authorization")
ORGANIZER_ONLY = ApiError(403, "Chỉ token của cơ quan tổ chức mới xem được kết quả của đợt đánh giá.",
                          "Only the organizer's tokens read the campaign's results.", "Authorization")


def _unit_token(token) -> None:
    if token.unit_id is None:
        raise UNIT_ONLY


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _at(instant: datetime | None, tz) -> str | None:
    return instant.astimezone(tz).isoformat() if instant is not None else None


def _shown(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored value as answered: the stored names of evidence files are the server's (see ``files``)."""
    if value is None:
        return None
    return {k: v for k, v in value.items() if k != "files"}


# -- documents -------------------------------------------------------------------------------------------------

def criteria_document(campaign: Campaign) -> dict:
    sets = []
    for cs in sets_of(campaign.id):
        tree = cs.tree()
        nodes = [{
            "code": n.code, "parent": parent_code(n.code) or None, "depth": n.depth, "title": n.title,
            "maximum": float(n.maximum), "leaf": n.is_leaf, "kind": n.kind or None,
            "kind_name": KINDS[n.kind][0] if n.kind else None, "kind_name_en": KINDS[n.kind][1] if n.kind else None,
            "rule": n.rule.as_dict() if n.kind else {}, "rule_text": rule_text(n.kind, n.rule) if n.kind else "",
            "guidance": n.guidance, "allow_na": n.allow_na, "groups": sorted(n.groups),
        } for n in tree.walk()]
        sets.append({"code": cs.code, "title": cs.title or "", "groups": list(cs.groups or []),
                     "maximum": float(tree.maximum()), "nodes": nodes})
    return {"campaign": campaign.code, "sets": sets}


def _evidence(campaign: Campaign, unit: Unit, f: SheetFile, tz) -> dict:
    return {"id": f.id, "name": f.original_name, "size": f.size, "sha256": f.sha256, "content_type": f.content_type,
            "uploaded_at": _at(f.uploaded_at, tz), "uploaded_by": f.uploaded_by,
            "download": url_for("evaluation.evidence", code=campaign.code, unit_code=unit.code, file_id=f.id,
                                _external=True)}


def _confirmation(view: SheetView, now: datetime, tz) -> dict | None:
    rnd = view.round
    if rnd is None:
        return None
    state = rnd.outcome if rnd.closed_at is not None else ("open" if now < rnd.due_at else "lapsed")
    return {"id": rnd.id, "state": state or "open", "sent_at": _at(rnd.sent_at, tz), "sent_by": rnd.sent_by,
            "working_days": rnd.working_days, "deadline": rnd.deadline.isoformat(), "due_at": _at(rnd.due_at, tz),
            "note": rnd.note, "disputed": rnd.disputed,
            "changed": changed_codes(view.tree, view.group, entries_as_rule_input(view.entries))}


def sheet_document(campaign: Campaign, unit: Unit, p: Participation, view: SheetView, now: datetime, *,
                   organizer: bool) -> dict:
    """The unit's sheet as the sheet page shows it; the logic flags for the organizer's tokens only."""
    tz = reads.tz_of(campaign)
    grace_ended = now >= reads.timeline_of(campaign).grace_ends_at
    try:
        ev.unit_may_change(campaign, p, now)
        may_change = True
    except OperationError:
        may_change = False
    sheet = view.sheet
    receipt = None
    if sheet is not None and sheet.submission_id is not None:
        sub = db.session.get(Submission, sheet.submission_id)
        receipt = sub.receipt_number if sub is not None else None
    draft, score = view.draft_score, view.score
    criteria = []
    for n in view.nodes():
        e = view.entries.get(n.code)
        verified = None
        if e is not None and e.verified_at is not None:
            verified = {"value": _shown(e.verified), "points": _f(e.verified_points),
                        "link_not_found": e.link_not_found, "note": e.verify_note,
                        "stage": e.verify_stage or None, "by": e.verified_by, "at": _at(e.verified_at, tz)}
        criteria.append({
            "code": n.code, "parent": parent_code(n.code) or None, "title": n.title, "maximum": float(n.maximum),
            "leaf": n.is_leaf, "kind": n.kind or None,
            "draft": _shown(dict(e.draft or {})) if n.is_leaf and e is not None else ({} if n.is_leaf else None),
            "claimed": _shown(e.claimed) if n.is_leaf and e is not None else None,
            "draft_points": float(draft.claimed[n.code]), "claimed_points": float(score.claimed[n.code]),
            "verified_points": float(score.verified[n.code]), "verified": verified,
            "flags": [f.kind for f in view.flags_by_code.get(n.code, [])] if organizer else [],
            "response": ({"answer": e.response, "reason": e.response_reason, "at": _at(e.responded_at, tz)}
                         if e is not None and e.response else None),
            "files": [_evidence(campaign, unit, f, tz) for f in view.files.get(n.code, [])],
        })
    submitted = view.submitted
    sections = [{"code": n.code, "title": n.title, "maximum": float(n.maximum),
                 "draft": float(draft.claimed[n.code]), "claimed": float(score.claimed[n.code]),
                 "verified": float(score.verified[n.code])}
                for n in view.tree.nodes if n.applies_to(view.group)]
    return {
        "campaign": campaign.code, "unit": unit.code, "unit_name": unit.name, "group": unit.group,
        "set": view.criteria_set.code, "set_title": view.criteria_set.title or "",
        "state": "submitted" if submitted else ("draft" if sheet is not None and sheet.saved_at else "not_started"),
        "dossier_status": reads.unit_status_at(p, grace_ended), "may_change": may_change,
        "saved_at": _at(sheet.saved_at if sheet else None, tz), "saved_by": sheet.saved_by if sheet else "",
        "submitted_at": _at(sheet.submitted_at if sheet else None, tz), "receipt_number": receipt,
        "maximum": float(draft.maximum), "draft_total": float(draft.claimed_total),
        "claimed_total": float(score.claimed_total) if submitted else None,
        "verified_total": float(score.verified_total) if submitted else None,
        "sections": sections, "criteria": criteria,
        "flags": [{"code": f.code, "kind": f.kind, "message": f.message_en, "message_vi": f.message_vi}
                  for f in view.flags] if organizer else [],
        "confirmation": _confirmation(view, now, tz),
    }


def _sheet_of(token, campaign: Campaign, unit: Unit, now: datetime) -> dict:
    p, view = ev.view_of(campaign, unit)
    return sheet_document(campaign, unit, p, view, now, organizer=token.unit_id is None)


def _values(values: dict[str, sm.ValueIn]) -> dict[str, dict[str, Any]]:
    return {code: v.as_value() for code, v in values.items()}


def _refused_values(exc: ev.SheetRefused, prefix: str = "values.") -> tuple[int, dict]:
    """Every value refused by its rule, by criterion, in one problem (nothing was saved)."""
    db.session.rollback()
    return 422, problem_body(422, exc.message_vi, exc.message_en, prefix + (exc.field or ""),
                             errors=[{"code": e["code"], "field": prefix + e["field"], "detail": e["message_en"],
                                      "detail_vi": e["message_vi"]} for e in exc.errors])


# -- reads -----------------------------------------------------------------------------------------------------

@bp.get("/campaigns/<code>/criteria")
@operation("getCriteria", m.SHEETS, scope="read", path=m.CampaignPath, answer=sm.CriteriaSets, errors=(404,))
def criteria(token, path: m.CampaignPath):
    """The campaign's criteria sets: sections, criteria, sub-criteria

    Each node with its code, title, maximum, guidance, kind, declared rule, whether "not applicable" is allowed,
    and the groups it applies to; a set lists the groups (khối) that fill it. Empty `sets`: the campaign keeps
    single-number scores.
    """
    doc = criteria_document(campaign_for(token, path.code))
    touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/units/<unit_code>/sheet")
@operation("getSheet", m.SHEETS, scope="read", path=m.UnitPath, answer=sm.SheetOut, errors=(404,))
def sheet(token, path: m.UnitPath):
    """A unit's sheet: values, points, subtotals, verification, confirmation

    The draft and the submitted (claimed) values with their points by the rule, each section's subtotal and the
    totals, the verified values, points and notes, the unit's answers in the confirmation round, the evidence
    files. The logic-check flags are in the organizer's tokens' answers only. 404 when the campaign has no
    criteria set for the unit's group.
    """
    c = campaign_for(token, path.code)
    doc = _sheet_of(token, c, unit_for(token, c, path.unit_code), utcnow())
    touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/results")
@operation("getResults", m.SHEETS, scope="read", path=m.CampaignPath, answer=sm.Results, errors=(404,))
def results(token, path: m.CampaignPath):
    """Results per group: section subtotals, totals, tier and rank

    From the verified totals (the self-assessed one, marked provisional, until verified). The organizer's tokens
    only.
    """
    if token.unit_id is not None:
        raise ORGANIZER_ONLY
    c = campaign_for(token, path.code)
    now = utcnow()
    scores = {s.participation_id: s for s in campaign_scores(c)}
    sections_of: dict[str, list[dict]] = {}
    groups: dict[str, list[dict]] = {}
    sets = [(cs, cs.tree()) for cs in sets_of(c.id)]
    for r in reads.results(c, now):
        unit = r.participation.unit
        if unit.group not in sections_of:
            cs_tree = next(((cs, t) for cs, t in sets if unit.group in (cs.groups or [])), None) or next(
                ((cs, t) for cs, t in sets if not cs.groups), None)
            sections_of[unit.group] = [] if cs_tree is None else [
                {"code": n.code, "title": n.title, "maximum": float(n.maximum)}
                for n in cs_tree[1].nodes if n.applies_to(unit.group)]
        s = scores.get(r.participation.id)
        groups.setdefault(unit.group, []).append({
            "code": unit.code, "name": unit.name, "status": r.status,
            "sections": {k: {"claimed": float(cl), "verified": float(vf)} for k, (cl, vf) in s.sections.items()}
            if s else {},
            "claimed_total": _f(s.claimed_total) if s else None, "verified_total": _f(s.verified_total) if s else None,
            "score": _f(r.score), "provisional": r.provisional, "rating": r.rating, "rank": r.rank})
    out = []
    for group in sorted(groups):
        rows = sorted(groups[group], key=lambda u: (u["rank"] is None, u["rank"] or 0, u["code"]))
        vi, en = KNOWN_GROUPS.get(group, (group, group))
        out.append({"group": group, "group_name": vi, "group_name_en": en, "sections": sections_of[group],
                    "units": rows})
    touch_and_commit(token)
    return json_answer({"campaign": c.code, "groups": out})


# -- the unit's writes -------------------------------------------------------------------------------------------

@bp.put("/campaigns/<code>/units/<unit_code>/sheet/draft")
@operation("saveSheetDraft", m.SHEETS, scope="record", path=m.UnitPath, body=sm.DraftIn, answer=sm.SheetOut,
           errors=(404,))
def save_draft(token, path: m.UnitPath, body: sm.DraftIn):
    """Save the sheet's draft (the unit's token)

    Values by criterion code, each checked by its criterion's rule; when any is refused nothing is saved and the
    problem lists every refused value in `errors` (`field`: `values.<code>.<part>`). Refused after grace end, as
    dossiers are. The criteria left out keep their saved value.
    """
    _unit_token(token)
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    values = _values(body.values)

    def action(now: datetime) -> tuple[int, dict]:
        try:
            ev.save_draft(c, u, values, actor=actor_of(token), now=now)
        except ev.SheetRefused as exc:
            return _refused_values(exc)
        return 200, _sheet_of(token, c, u, now)

    return run_write(token, action)


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/submit")
@operation("submitSheet", m.SHEETS, scope="record", path=m.UnitPath, body=sm.SubmitIn, answer=sm.SheetSubmitted,
           status=201, errors=(404,))
def submit(token, path: m.UnitPath, body: sm.SubmitIn):
    """Submit the sheet: this is submitting the dossier (the unit's token)

    Received now, as an upload: on time, late within grace (counted in working days), or refused after grace end
    (409), with the receipt and its mail, exactly as `recordSubmission`. The values sent are saved into the draft
    first; the draft becomes the claimed values and the self-assessed total the unit's self score.
    """
    _unit_token(token)
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    values = _values(body.values)

    def action(now: datetime) -> tuple[int, dict]:
        try:
            if values:
                ev.save_draft(c, u, values, actor=actor_of(token), now=now)
            view = ev.submit_sheet(c, u, actor=actor_of(token), now=now)
        except ev.SheetRefused as exc:
            return _refused_values(exc, "values." if values else "")
        assert view.sheet is not None
        receipt = next(s for s in submissions_of(c, u) if s["receipt_number"] == _receipt_number(view))
        return 201, {"receipt": receipt, "sheet": _sheet_of(token, c, u, now)}

    return run_write(token, action)


def _receipt_number(view: SheetView) -> str:
    assert view.sheet is not None
    return db.session.scalar(select(Submission.receipt_number).where(Submission.id == view.sheet.submission_id))


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/criteria/<criterion>/evidence")
@operation("attachEvidence", m.SHEETS, scope="record", path=sm.CriterionPath, body=sm.EvidenceIn,
           answer=sm.EvidenceAttached, status=201, errors=(404, 413, 503))
def attach_evidence(token, path: sm.CriterionPath, body: sm.EvidenceIn):
    """Attach an evidence file to a criterion of kind "file" (the unit's token)

    Stored as dossier documents are (PDF, DOC, DOCX, XLS, XLSX checked by content, file name checked, SHA-256
    kept, at most MAX_UPLOAD_MB a request). While the sheet is a draft: refused once submitted or after grace end
    (409). The criterion then scores by its rule when submitted.
    """
    _unit_token(token)
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)

    def action(now: datetime) -> tuple[int, dict]:
        try:
            stored = store_document(current_app.config["UPLOAD_FOLDER"], body.name, body.content_base64)
        except DocumentRefused as exc:
            raise ApiError(422, exc.message_vi, exc.message_en, "content_base64") from None
        g.api_stored.append(stored.stored_name)
        f = ev.attach_evidence(c, u, path.criterion, stored, actor=actor_of(token), now=now)
        return 201, {"file": _evidence(c, u, f, reads.tz_of(c)), "sheet": _sheet_of(token, c, u, now)}

    return run_write(token, action)  # a refusal removes the file stored (run_write)


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/evidence/<int:file_id>/remove")
@operation("removeEvidence", m.SHEETS, scope="record", path=sm.EvidencePath, body=sm.EmptyIn, answer=sm.SheetOut,
           errors=(404,))
def remove_evidence(token, path: sm.EvidencePath, body: sm.EmptyIn):
    """Remove an evidence file (the unit's token)

    While the sheet is a draft, as attaching one. The file is deleted from the disk once the change is recorded.
    """
    _unit_token(token)
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    removed: list[str] = []

    def action(now: datetime) -> tuple[int, dict]:
        removed.append(ev.remove_evidence(c, u, path.file_id, actor=actor_of(token), now=now))
        return 200, _sheet_of(token, c, u, now)

    response = run_write(token, action)
    if response.status_code == 200 and removed:
        remove_stored(current_app.config["UPLOAD_FOLDER"], removed)
    return response


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/responses")
@operation("answerFigures", m.SHEETS, scope="record", path=m.UnitPath, body=sm.FigureAnswersIn, answer=sm.SheetOut,
           errors=(404,))
def answer_figures(token, path: m.UnitPath, body: sm.FigureAnswersIn):
    """Confirm or dispute the verified figures, criterion by criterion (the unit's token)

    During the confirmation round, until 24:00 of its deadline (409 after: the figures stand as verified). A
    dispute needs a reason. When every criterion is answered and none disputed, the figures stand.
    """
    _unit_token(token)
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    answers = {code: (a.answer, a.reason) for code, a in body.answers.items()}

    def action(now: datetime) -> tuple[int, dict]:
        ev.respond(c, u, answers, actor=actor_of(token), now=now)
        return 200, _sheet_of(token, c, u, now)

    return run_write(token, action)


# -- the organizer's writes --------------------------------------------------------------------------------------

@bp.post("/campaigns/<code>/units/<unit_code>/sheet/criteria/<criterion>/verify")
@operation("verifyCriterion", m.SHEETS, scope="manage", organizer_only=True, path=sm.CriterionPath,
           body=sm.VerifyIn, answer=sm.SheetOut, errors=(404,))
def verify(token, path: sm.CriterionPath, body: sm.VerifyIn):
    """Verify one criterion: the verified value or points, with a note

    At the preliminary review or the field inspection. A finding that changes the points needs a note (the unit
    sees it). Refused while the figures are out for confirmation (409).
    """
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    value = body.value.as_value() if body.value is not None else None
    points = Decimal(str(body.points)).quantize(Decimal("0.01")) if body.points is not None else None

    def action(now: datetime) -> tuple[int, dict]:
        try:
            ev.verify(c, u, path.criterion, actor=actor_of(token), now=now, stage=body.stage, value=value,
                      points=points, link_not_found=body.link_not_found, note=body.note)
        except ev.SheetRefused as exc:
            return _refused_values(exc, "value.")
        return 200, _sheet_of(token, c, u, now)

    return run_write(token, action)


@bp.post("/campaigns/<code>/units/<unit_code>/sheet/confirmation")
@operation("sendFigures", m.SHEETS, scope="manage", organizer_only=True, path=m.UnitPath, body=sm.ConfirmationIn,
           answer=sm.SheetOut, errors=(404,))
def send_figures(token, path: m.UnitPath, body: sm.ConfirmationIn):
    """Send the verified figures to the unit to confirm within N working days

    Default 3 working days; the organizer's calendar decides the deadline (24:00 of its last day). The unit is
    mailed; reminders follow as for the submission deadline.
    """
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)

    def action(now: datetime) -> tuple[int, dict]:
        ev.send_figures(c, u, actor=actor_of(token), now=now, working_days=body.working_days, note=body.note)
        return 200, _sheet_of(token, c, u, now)

    return run_write(token, action)


@bp.post("/campaigns/<code>/confirmation")
@operation("sendFiguresToAll", m.SHEETS, scope="manage", organizer_only=True, path=m.CampaignPath,
           body=sm.ConfirmationIn, answer=sm.ConfirmationsSent, errors=(404,))
def send_figures_to_all(token, path: m.CampaignPath, body: sm.ConfirmationIn):
    """Send the verified figures to every unit with a submitted sheet

    As `flask sheet send --all`: each unit is sent or refused on its own (already out for confirmation, excluded
    …); `refused` says why.
    """
    c = campaign_for(token, path.code)

    def action(now: datetime) -> tuple[int, dict]:
        sent, refused = [], []
        tz = reads.tz_of(c)
        for unit in ev.submitted_sheet_units(c):
            try:
                with db.session.begin_nested():
                    rnd = ev.send_figures(c, unit, actor=actor_of(token), now=now, working_days=body.working_days,
                                          note=body.note)
            except OperationError as exc:
                refused.append({"unit": unit.code, "detail": exc.message_en, "detail_vi": exc.message_vi})
                continue
            sent.append({"unit": unit.code, "round": rnd.id, "deadline": rnd.deadline.isoformat(),
                         "due_at": _at(rnd.due_at, tz)})
        return 200, {"campaign": c.code, "sent": sent, "refused": refused}

    return run_write(token, action)

