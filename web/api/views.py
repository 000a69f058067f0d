"""The JSON API for e-office systems and scripts: ``/api/v1/…`` (issue 6, docs/api.md).

Thin, like every view: each view states its contract in one ``@operation``
(the models of ``web/api/models.py``: query, headers, body, path, answer),
which authenticates the bearer token, checks its scope, validates the
request against the models and documents the operation in the OpenAPI
document (``web/api/openapi.py``, served at ``/api/v1/openapi.json`` and
rendered at ``/api/v1/docs``).  The view then checks what needs the database
or a file's content, calls the same domain operation as the web and the CLI
(``workflow.operations``), commits and answers.  The rules are never copied here.
How an operation runs (token, validation, answers, idempotency) is ``web/api/operation.py``.

- Tokens (``workflow.api_tokens``): looked up afresh on every request, so a
  revoked token is refused at once.  A unit's token sees only its own unit;
  anything else (another unit, another organizer) is reported missing (404).
- Errors are ``application/problem+json`` (``web/api/problems.py``).
- Writes accept an ``Idempotency-Key``: the first answer is stored with the
  change, in the same transaction, and replayed to a retry.
- Lists page with an opaque cursor; GET answers carry an ETag and honour
  ``If-None-Match`` (304).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import Blueprint, Response, current_app, g, render_template, request
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed

from web.api import models as m
from web.api.docs import docs_model
from web.api.openapi import document
from web.api.operation import json_answer, operation, paged, run_write, touch_and_commit
from web.api.problems import ApiError, invalid, is_api_request, not_found
from workflow import awards
from workflow import campaigns as reads
from workflow import operations as ops
from workflow.api_tokens import actor_of
from workflow.calendars import calendar_for
from workflow.campaigns import status_document
from workflow.db import db, utcnow
from workflow.machine import state_name
from workflow.models import Campaign, Participation, Unit
from workflow.periods import calendar_days_from, working_days_from
from workflow.standing import status_name
from workflow.storage import DocumentRefused, check_document, store_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

@bp.after_app_request
def _allow_header(response: Response) -> Response:
    """A 405 on an API path names the methods that are allowed (RFC 9110)."""
    exc = request.routing_exception
    if response.status_code == 405 and is_api_request() and isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


# -- what a token may see ------------------------------------------------------------------------------------------

def campaign_for(token, code: str):
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None or campaign.organizer_id != token.organizer_id:
        raise not_found("Không tìm thấy đợt đánh giá", "No such campaign", "code")
    if token.unit_id is not None:
        takes_part = db.session.scalar(select(Participation.id).where(
            Participation.campaign_id == campaign.id, Participation.unit_id == token.unit_id))
        if takes_part is None:
            raise not_found("Không tìm thấy đợt đánh giá", "No such campaign", "code")
    return campaign


def unit_for(token, campaign, unit_code: str):
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == unit_code))
    if unit is None or (token.unit_id is not None and unit.id != token.unit_id):
        raise not_found("Không tìm thấy đơn vị", "No such unit", "unit_code")
    takes_part = db.session.scalar(select(Participation.id).where(
        Participation.campaign_id == campaign.id, Participation.unit_id == unit.id))
    if takes_part is None:
        raise not_found(f"Đơn vị không tham gia đợt đánh giá {campaign.code}",
                        f"The unit does not take part in campaign {campaign.code}", "unit_code")
    return unit


# -- documents (the same shapes as ``flask campaign status --json``) --------------------------------------------

def campaign_item(doc: dict, *, with_counts: bool) -> dict:
    """The ``campaign`` part of the status document, with its computed instants and English names."""
    item = dict(doc["campaign"])
    item["state_name_en"] = state_name(item["state"], "en")
    ends = {m["kind"]: m["ends_at"] for m in doc["milestones"]}
    item["deadline_at"] = ends.get("deadline")
    item["grace_ends_at"] = ends.get("grace_end")
    item["counts"] = doc["counts"] if with_counts else None
    return item


def unit_item(unit_doc: dict) -> dict:
    return {**unit_doc, "status_name_en": status_name(unit_doc["status"], "en")}


def submission_dict(s, tz) -> dict:
    """A received dossier (evaluation or award) as the ``Submission`` answer."""
    return {
        "version": s.version, "receipt_number": s.receipt_number,
        "received_at": s.received_at.astimezone(tz).isoformat(), "channel": s.channel,
        "doc_number": s.doc_number, "recorded_by": s.recorded_by, "late_working_days": s.late_working_days,
        "documents": [{"name": d.original_name, "sha256": d.sha256, "size": d.size, "stored": bool(d.stored_name)}
                      for d in s.documents],
    }


def submissions_of(campaign, unit) -> list[dict]:
    tz = reads.tz_of(campaign)
    return [submission_dict(s, tz) for s in ops.participation_of(campaign, unit).submissions]


def unit_detail(campaign, unit, now: datetime) -> dict:
    doc = status_document(campaign, now)
    item = next(u for u in doc["units"] if u["code"] == unit.code)
    return {**unit_item(item), "campaign": campaign.code, "submissions": submissions_of(campaign, unit)}


def timeline_document(campaign, now: datetime) -> dict:
    doc = status_document(campaign, now)
    c = campaign_item(doc, with_counts=False)
    return {"campaign": campaign.code, "state": c["state"], "state_name": c["state_name"],
            "state_name_en": c["state_name_en"], "deadline_at": c["deadline_at"], "grace_ends_at": c["grace_ends_at"],
            "milestones": doc["milestones"]}


# -- reads ---------------------------------------------------------------------------------------------------------

@bp.get("/openapi.json")
@operation("getOpenApi", m.META, scope=None, public=True, answer=m.OpenApiDocument)
def openapi(_token):
    """This OpenAPI document (public)

    No token needed. Rendered for people at /api/v1/docs.
    """
    return json_answer(document(), cache="public, max-age=300")


@bp.get("/docs")
def docs():
    """The OpenAPI document rendered here, for people (public; nothing from elsewhere)."""
    return render_template("api/docs.html", doc=docs_model(document()))


@bp.get("/me")
@operation("getToken", m.TOKEN, scope=None, answer=m.Token)
def me(token):
    """The token in use: its organizer, unit and scopes

    Any valid token, whatever its scopes: check an integration's set-up with it.
    """
    touch_and_commit(token)
    return json_answer({
        "name": token.name, "prefix": token.prefix, "scopes": list(token.scopes or []),
        "organizer": {"code": token.organizer.code, "name": token.organizer.name},
        "unit": {"code": token.unit.code, "name": token.unit.name} if token.unit else None,
        "created_at": token.created_at.isoformat(),
    })


@bp.get("/campaigns")
@operation("listCampaigns", m.CAMPAIGNS, scope="read", query=m.PageQuery, answer=m.CampaignPage)
def campaigns(token, query: m.PageQuery):
    """Campaigns of the token's organizer

    Oldest first. A unit's token lists only the campaigns its unit takes part in, without the counts of other units.
    """
    after = query.cursor or 0
    select_ = select(Campaign).where(Campaign.organizer_id == token.organizer_id, Campaign.id > after)
    if token.unit_id is not None:
        select_ = select_.where(Campaign.id.in_(select(Participation.campaign_id)
                                                .where(Participation.unit_id == token.unit_id)))
    rows = db.session.scalars(select_.order_by(Campaign.id).limit(query.limit + 1)).all()
    now = utcnow()
    page = paged(rows, query.limit, key=lambda c: c.id,
                 item=lambda c: campaign_item(status_document(c, now), with_counts=token.unit_id is None))
    touch_and_commit(token)
    return json_answer(page)


@bp.get("/campaigns/<code>")
@operation("getCampaign", m.CAMPAIGNS, scope="read", path=m.CampaignPath, answer=m.Campaign, errors=(404,))
def campaign(token, path: m.CampaignPath):
    """A campaign: its state as of now and its computed instants"""
    c = campaign_for(token, path.code)
    item = campaign_item(status_document(c, utcnow()), with_counts=token.unit_id is None)
    touch_and_commit(token)
    return json_answer(item)


@bp.get("/campaigns/<code>/timeline")
@operation("getTimeline", m.CAMPAIGNS, scope="read", path=m.CampaignPath, answer=m.Timeline, errors=(404,))
def timeline(token, path: m.CampaignPath):
    """The timeline: each milestone's instant, and why

    The deadline and the grace end carry their explanation day by day (Civil Code 2015, articles 147–148): each day
    counted or skipped, and why.
    """
    doc = timeline_document(campaign_for(token, path.code), utcnow())
    touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/units")
@operation("listUnits", m.CAMPAIGNS, scope="read", path=m.CampaignPath, query=m.PageQuery, answer=m.UnitPage,
           errors=(404,))
def units(token, path: m.CampaignPath, query: m.PageQuery):
    """Units and their status

    A unit's token lists its own unit only.
    """
    c = campaign_for(token, path.code)
    select_ = (select(Participation.id, Unit.code).join(Unit, Unit.id == Participation.unit_id)
               .where(Participation.campaign_id == c.id, Participation.id > (query.cursor or 0)))
    if token.unit_id is not None:
        select_ = select_.where(Participation.unit_id == token.unit_id)
    rows = db.session.execute(select_.order_by(Participation.id).limit(query.limit + 1)).all()
    by_code = {u["code"]: u for u in status_document(c, utcnow())["units"]} if rows else {}
    page = paged(rows, query.limit, key=lambda row: row[0], item=lambda row: unit_item(by_code[row[1]]))
    touch_and_commit(token)
    return json_answer({"campaign": c.code, **page})


@bp.get("/campaigns/<code>/units/<unit_code>")
@operation("getUnit", m.CAMPAIGNS, scope="read", path=m.UnitPath, answer=m.UnitDetail, errors=(404,))
def unit(token, path: m.UnitPath):
    """A unit's status and the versions of its dossier"""
    c = campaign_for(token, path.code)
    doc = unit_detail(c, unit_for(token, c, path.unit_code), utcnow())
    touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/my-status")
@operation("getMyStatus", m.CAMPAIGNS, scope="read", path=m.CampaignPath, answer=m.UnitDetail, errors=(404,))
def my_status(token, path: m.CampaignPath):
    """The status of the token's own unit

    For a unit's token; an organizer's token gets 403.
    """
    if token.unit_id is None:
        raise ApiError(403, "Chỉ token của một đơn vị mới có “tình trạng của tôi”; hãy dùng /units/{unit_code}.",
                       "Only a unit's token has a status of its own; use /units/{unit_code}.", "Authorization")
    c = campaign_for(token, path.code)
    doc = unit_detail(c, token.unit, utcnow())
    touch_and_commit(token)
    return json_answer(doc)


@bp.get("/workdays/add")
@operation("addWorkdays", m.WORKDAYS, scope="read", query=m.WorkdaysAddQuery, answer=m.Period)
def workdays_add(token, query: m.WorkdaysAddQuery):
    """The end of a period of N (working) days counted from a date

    Working days by default; `calendar_days=true` counts calendar days and rolls a last day that is not a working
    day forward (Civil Code art. 148). The period starts the day after `date` and ends at 24:00 of its last day.
    Needs a `read` token: the answer uses the token's organizer's calendar, with its local days off.
    """
    count = calendar_days_from if query.calendar_days else working_days_from
    period = count(query.date, query.days, calendar_for(token.organizer_id), current_app.config["TZ"])
    touch_and_commit(token)
    return json_answer({**period.as_dict(), "calendar_days": query.calendar_days, "organizer": token.organizer.code})


@bp.get("/workdays/is-working")
@operation("isWorkingDay", m.WORKDAYS, scope="read", query=m.DayQuery, answer=m.DayStatus)
def workdays_is_working(token, query: m.DayQuery):
    """Whether a date is a working day, and why

    With the token's organizer's calendar (national holidays, make-up Saturdays, local days off).
    """
    status = calendar_for(token.organizer_id).day_status(query.date)
    touch_and_commit(token)
    return json_answer({"date": query.date.isoformat(), "working": status.working, "reason": status.reason,
                        "name": status.name_vi, "name_en": status.name_en, "document": status.document or None,
                        "explanation": {"vi": status.describe("vi"), "en": status.describe("en")},
                        "organizer": token.organizer.code})


# -- writes ----------------------------------------------------------------------------------------------------------

def _documents(documents: list[m.DocumentIn]) -> list[dict]:
    """What the contract cannot check: a document's content (its type, and that SHA-256 and size match it)."""
    out = []
    for i, doc in enumerate(documents):
        at = f"documents[{i}]"
        data = doc.content_base64 if "content_base64" in doc.model_fields_set else None
        if data is not None:
            try:
                check_document(doc.name, data)
            except DocumentRefused as exc:
                raise invalid(f"{at}.content_base64", exc.message_vi, exc.message_en) from None
            if doc.sha256 is not None and doc.sha256.lower() != hashlib.sha256(data).hexdigest():
                raise invalid(f"{at}.sha256", "SHA-256 không khớp với nội dung tài liệu.",
                              "The SHA-256 does not match the document's content.")
            if doc.size is not None and doc.size != len(data):
                raise invalid(f"{at}.size", "“size” không khớp với nội dung tài liệu.",
                              "“size” does not match the document's content.")
        out.append({"name": doc.name, "sha256": doc.sha256.lower() if doc.sha256 else None, "size": doc.size,
                    "data": data})
    return out


@bp.post("/campaigns/<code>/units/<unit_code>/submissions")
@operation("recordSubmission", m.SUBMISSIONS, scope="record", path=m.UnitPath, body=m.SubmissionIn,
           answer=m.Receipt, status=201, errors=(404, 413, 503))
def record_submission(token, path: m.UnitPath, body: m.SubmissionIn):
    """Record a dossier: received through e-office or e-mail (the organizer's tokens), or uploaded (a unit's)

    Classified by its received instant: on time, late within grace, or refused after grace (409). A new version
    replaces the dossier in force and keeps the old one. Send each document's SHA-256 (kept in e-office) or its
    content in base64 (stored here, checked by content). A unit's token records for its own unit only.
    With `kind: award`, the award dossier of a unit proposed for an award: the same channels, checks and receipts,
    classified against the award dossiers milestone and the grace period after it (refused after it, 409).
    """
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
    by_unit = token.unit_id is not None
    if by_unit:
        # A unit's own token uploads: the received instant is ours, the channel and the incoming number the
        # organizer's (ops.record_submission refuses them when given).
        channel = body.channel or "upload"
    else:
        if body.received_at is None:
            raise invalid("received_at", "Cần thời điểm nhận hồ sơ (ISO 8601, có múi giờ).",
                          "The received instant is required (ISO 8601 with its offset).")
        if not body.doc_number.strip():
            raise invalid("doc_number", "Cần số văn bản đến.", "The incoming document number is required.")
        if body.channel == "upload":
            raise invalid("channel", "Kênh gửi phải là eoffice hoặc email (hồ sơ nộp trực tuyến do đơn vị gửi).",
                          "The channel must be eoffice or email (an upload is the unit's own).")
        channel = body.channel or "eoffice"
    documents = _documents(body.documents)

    def action(now: datetime) -> tuple[int, dict]:
        inputs = []
        for d in documents:
            if d["data"] is None:
                inputs.append(ops.DocumentInput(d["name"], d["sha256"], size=d["size"]))
                continue
            try:
                stored = store_document(current_app.config["UPLOAD_FOLDER"], d["name"], d["data"])
            except DocumentRefused as exc:
                raise ApiError(503, exc.message_vi, exc.message_en, "documents") from None
            g.api_stored.append(stored.stored_name)
            inputs.append(ops.DocumentInput(stored.original_name, stored.sha256, stored))
        # A unit's own token cannot date its dossier: like an upload, it is received
        # when it reaches us.  Only the organizer's tokens record the instant at which
        # the organizer's e-office or mailbox received a dossier.
        at = now if by_unit or body.received_at is None else body.received_at
        if body.kind == "award":
            sub = awards.record_award_dossier(c, u, received_at=at, channel=channel, recorded_by=actor_of(token),
                                              now=now, doc_number=body.doc_number, documents=inputs,
                                              by_unit=by_unit)
            receipt = submission_dict(sub, reads.tz_of(c))
            detail = unit_detail(c, u, now)
        else:
            sub = ops.record_submission(c, u, received_at=at, channel=channel, recorded_by=actor_of(token),
                                        now=now, doc_number=body.doc_number, documents=inputs, by_unit=by_unit)
            detail = unit_detail(c, u, now)
            receipt = next(s for s in detail["submissions"] if s["version"] == sub.version)
        return 201, {**receipt, "kind": body.kind, "status": "late" if sub.late_working_days else "on_time",
                     "unit": detail}

    return run_write(token, action)


@bp.post("/campaigns/<code>/steps")
@operation("markStep", m.ORGANIZER, scope="manage", organizer_only=True, path=m.CampaignPath, body=m.StepIn,
           answer=m.StepResult, errors=(404,))
def mark_step(token, path: m.CampaignPath, body: m.StepIn):
    """Mark a step done, launch or cancel

    The state machine of the web: a step that skips another needs a reason; the submission period can never be
    closed early (move the deadline instead).
    """
    c = campaign_for(token, path.code)

    def action(now: datetime) -> tuple[int, dict]:
        if body.step == "launch":
            before = c.state
            ops.launch(c, actor=actor_of(token), now=now)
            moved = {"from": before, "to": c.state, "skipped": []}
        else:
            move = ops.mark_step(c, body.step, actor=actor_of(token), now=now, reason=body.reason)
            moved = {"from": move.before, "to": move.after, "skipped": list(move.skipped)}
        return 200, {"step": body.step, **moved, "campaign": campaign_item(status_document(c, now), with_counts=True)}

    return run_write(token, action)


@bp.post("/campaigns/<code>/milestones/<kind>/move")
@operation("moveMilestone", m.ORGANIZER, scope="manage", organizer_only=True, path=m.MilestonePath,
           body=m.MilestoneMoveIn, answer=m.Timeline, errors=(404,))
def move_milestone(token, path: m.MilestonePath, body: m.MilestoneMoveIn):
    """Move the deadline or a later milestone, with a reason

    Moving the deadline re-classifies the dossiers received (on time / late).
    """
    c = campaign_for(token, path.code)
    if path.kind == "deadline" and body.start is not None:
        raise invalid("start", "Hạn chót là một ngày, không có ngày bắt đầu.", "The deadline is one day: no start.")

    def action(now: datetime) -> tuple[int, dict]:
        ops.move_milestone(c, path.kind, end=body.end, start=body.start, reason=body.reason, actor=actor_of(token),
                           now=now)
        return 200, timeline_document(c, now)

    return run_write(token, action)


def _unit_action(token, path: m.UnitPath, reason: str, operation_) -> Response:
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)

    def action(now: datetime) -> tuple[int, dict]:
        operation_(c, u, reason=reason, actor=actor_of(token), now=now)
        return 200, unit_detail(c, u, now)

    return run_write(token, action)


@bp.post("/campaigns/<code>/units/<unit_code>/return")
@operation("returnDossier", m.ORGANIZER, scope="manage", organizer_only=True, path=m.UnitPath, body=m.ReasonIn,
           answer=m.UnitDetail, errors=(404,))
def return_dossier(token, path: m.UnitPath, body: m.ReasonIn):
    """Return a dossier for correction, with a reason"""
    return _unit_action(token, path, body.reason, ops.return_dossier)


@bp.post("/campaigns/<code>/units/<unit_code>/reinstate")
@operation("reinstateUnit", m.ORGANIZER, scope="manage", organizer_only=True, path=m.UnitPath, body=m.ReasonIn,
           answer=m.UnitDetail, errors=(404,))
def reinstate(token, path: m.UnitPath, body: m.ReasonIn):
    """Reinstate an excluded unit, with a written reason

    The reason stays on the unit's record.
    """
    return _unit_action(token, path, body.reason, ops.reinstate)
