"""The JSON API for e-office systems and scripts: ``/api/v1/…`` (issue 6, docs/api.md).

Thin, like every view: each view states its contract in one ``@operation``
(the models of ``web/api/models.py``: query, headers, body, path, answer),
which authenticates the bearer token, checks its scope, validates the
request against the models and documents the operation in the OpenAPI
document (``web/api/openapi.py``, served at ``/api/v1/openapi.json`` and
rendered at ``/api/v1/docs``).  The view then checks what needs the database
or a file's content, calls the same domain operation as the web and the CLI
(``workflow.operations``), commits and answers.  The rules are never copied here.

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
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from pydantic import BaseModel, ValidationError
from spectree import Response as Answers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import MethodNotAllowed

from web.api import models as m
from web.api.docs import docs_model
from web.api.openapi import PROBLEMS, describe, document, spec
from web.api.problems import ApiError, from_validation_error, invalid, is_api_request, not_found, problem, problem_body
from web.api.types import encode_cursor
from workflow import campaigns as reads
from workflow import operations as ops
from workflow.api_tokens import SCOPES, actor_of, authenticate, touch
from workflow.calendars import calendar_for
from workflow.campaigns import status_document
from workflow.db import db, utcnow
from workflow.machine import state_name
from workflow.models import Campaign, IdempotencyRecord, Participation, Unit
from workflow.periods import calendar_days_from, working_days_from
from workflow.standing import status_name
from workflow.storage import DocumentRefused, check_document, remove_stored, store_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

__all__ = ["bp", "is_api_request", "problem"]


@bp.after_app_request
def _allow_header(response: Response) -> Response:
    """A 405 on an API path names the methods that are allowed (RFC 9110)."""
    exc = request.routing_exception
    if response.status_code == 405 and is_api_request() and isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


# -- tokens and scopes -------------------------------------------------------------------------------------------

REALM = 'Bearer realm="han-chot"'
AUTH_RE = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)


def _token():
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise ApiError(401, "Cần token API: gửi tiêu đề Authorization: Bearer hc_….",
                       "An API token is required: send Authorization: Bearer hc_….", "Authorization",
                       {"WWW-Authenticate": REALM})
    match = AUTH_RE.match(header)
    token = authenticate(match.group(1)) if match else None
    if token is None:
        raise ApiError(401, "Token API không hợp lệ hoặc đã bị thu hồi.", "The API token is invalid or revoked.",
                       "Authorization", {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    return token


def _require(token, scope: str, organizer_only: bool = False) -> None:
    if scope not in (token.scopes or []):
        vi, en = SCOPES[scope]
        raise ApiError(403, f"Token này không có quyền “{scope}” ({vi.lower()}).",
                       f"This token lacks the “{scope}” scope ({en.lower()}).", "Authorization")
    if organizer_only and token.unit_id is not None:
        raise ApiError(403, "Token của một đơn vị không được thực hiện thao tác của cơ quan tổ chức.",
                       "A unit's token cannot perform the organizer's actions.", "Authorization")


# -- the contract of an operation ----------------------------------------------------------------------------------

#: What a path value that does not fit its pattern is reported as (404: it cannot exist).
MISSING_BY_PATH = {"code": ("Không tìm thấy đợt đánh giá", "No such campaign"),
                   "unit_code": ("Không tìm thấy đơn vị", "No such unit"),
                   "kind": ("Không có mốc thời gian này", "No such milestone")}


def _path(model: type[BaseModel] | None, values: dict[str, Any]) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        raise not_found(*MISSING_BY_PATH.get(name, ("Không tìm thấy", "Not found")), name) from None


def _json_body() -> None:
    """A write's body is a JSON object sent as such (415, 400, 422 ``body``), before its fields are checked."""
    if not request.is_json:
        raise ApiError(415, "Nội dung phải là JSON (Content-Type: application/json).",
                       "The body must be JSON (Content-Type: application/json).", "Content-Type")
    try:
        data = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "Nội dung không phải JSON hợp lệ (UTF-8).", "The body is not valid JSON (UTF-8).",
                       "body") from None
    if not isinstance(data, dict):
        raise invalid("body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    g.api_body = data


def _refusal(query: type[BaseModel], body: type[BaseModel] | None, headers: type[BaseModel]) -> Callable:
    """spectree's hook after validating a request: a failure becomes a bilingual problem naming its field."""
    where_of = {query.__name__: "query", headers.__name__: "headers", **({body.__name__: "body"} if body else {})}

    def before(_req, _resp, error, _instance, _adapter) -> None:
        if error is not None:
            raise from_validation_error(error, where_of.get(error.title, "body"), tuple(query.model_fields))
    return before


def _answer_broke_the_contract(_req, response, error, _instance, _adapter) -> None:
    """spectree's hook after checking an answer against its model: a mismatch is our bug, logged, and a 500 problem."""
    if error is None:
        return
    current_app.logger.error("API answer off its contract (%s %s): %s", request.method, request.path, error)
    body = problem_body(500, "Đã có lỗi xảy ra. Không có dữ liệu nào bị mất; vui lòng thử lại sau.", "Server error")
    response.set_data(json.dumps(body, ensure_ascii=False))
    response.mimetype = "application/problem+json"


def operation(operation_id: str, tag, *, scope: str | None, answer: type[BaseModel], status: int = 200,
              query: type[BaseModel] = m.NoQuery, body: type[BaseModel] | None = None,
              path: type[BaseModel] | None = None, errors: tuple[int, ...] = (), organizer_only: bool = False,
              public: bool = False) -> Callable:
    """The contract of one operation, stated once: it validates the request and documents the operation.

    The view is called as ``view(token, path, query, body)`` with the validated models (``path``, ``query``
    and ``body`` only when the operation has them).  Its docstring is the summary (first line) and the
    description of the operation.  ``scope`` is the one it needs (``None``: any valid token; ``public``:
    no token); ``errors`` the problem statuses it answers besides 401, 403 and 422.
    """
    write = body is not None
    headers = m.WriteHeaders if write else m.ReadHeaders
    codes = {*errors, 422, *((403,) if scope else ()), *((400, 415, 409) if write else ())}
    answers = Answers(**{f"HTTP_{status}": answer}, **{f"HTTP_{code}": (m.Problem, PROBLEMS[code][1])
                                                         for code in sorted(codes)})
    security = {} if public else {"bearerAuth": [scope] if scope else []}

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def call(token, where):
            context = request.context
            kwargs = {"query": context.query} if query.model_fields else {}
            if write:
                kwargs["body"] = context.json
            return view(token, *((where,) if path else ()), **kwargs)

        validated = spec.validate(query=query, json=body, headers=headers, resp=answers, tags=[tag],
                                  security=security, operation_id=operation_id,
                                  before=_refusal(query, body, headers), after=_answer_broke_the_contract)(call)

        @wraps(validated)
        def wrapper(**values):
            try:
                token = None if public else _token()
                if scope:
                    _require(token, scope, organizer_only)
                where = _path(path, values)
                if write:
                    _json_body()
                return validated(token, where)
            except ApiError as exc:
                db.session.rollback()
                return exc.response()
            except ops.OperationError as exc:
                db.session.rollback()
                return problem(exc.status, exc.message_vi, exc.message_en, exc.field)

        describe(operation_id, path_model=path, write=write, public=public)
        return wrapper
    return decorator


# -- answers: ETag, 304 ------------------------------------------------------------------------------------------

def _etag_matches(etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def json_answer(payload: Any, status: int = 200, *, cache: str = "private, no-cache") -> Response:
    """A JSON answer with an ETag (a hash of the body); 304 when the client already has it."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache, "Vary": "Authorization"}
    if status == 200 and request.method in ("GET", "HEAD") and _etag_matches(etag):
        return Response(status=304, headers=headers)
    return Response(body, status=status, mimetype="application/json", headers=headers)


def _touch_and_commit(token) -> None:
    if token is not None and touch(token, utcnow()):
        db.session.commit()


# -- cursor pagination ---------------------------------------------------------------------------------------------

def paged(rows: list, limit: int, key: Callable[[Any], int], item: Callable[[Any], dict]) -> dict:
    """A page from rows fetched as ``limit + 1``: the items, and the cursor of the next page (None on the last)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [item(r) for r in rows], "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}


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


def submissions_of(campaign, unit) -> list[dict]:
    tz = reads.tz_of(campaign)
    return [{
        "version": s.version, "receipt_number": s.receipt_number,
        "received_at": s.received_at.astimezone(tz).isoformat(), "channel": s.channel,
        "doc_number": s.doc_number, "recorded_by": s.recorded_by, "late_working_days": s.late_working_days,
        "documents": [{"name": d.original_name, "sha256": d.sha256, "size": d.size, "stored": bool(d.stored_name)}
                      for d in s.documents],
    } for s in ops.participation_of(campaign, unit).submissions]


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
    _touch_and_commit(token)
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
    _touch_and_commit(token)
    return json_answer(page)


@bp.get("/campaigns/<code>")
@operation("getCampaign", m.CAMPAIGNS, scope="read", path=m.CampaignPath, answer=m.Campaign, errors=(404,))
def campaign(token, path: m.CampaignPath):
    """A campaign: its state as of now and its computed instants"""
    c = campaign_for(token, path.code)
    item = campaign_item(status_document(c, utcnow()), with_counts=token.unit_id is None)
    _touch_and_commit(token)
    return json_answer(item)


@bp.get("/campaigns/<code>/timeline")
@operation("getTimeline", m.CAMPAIGNS, scope="read", path=m.CampaignPath, answer=m.Timeline, errors=(404,))
def timeline(token, path: m.CampaignPath):
    """The timeline: each milestone's instant, and why

    The deadline and the grace end carry their explanation day by day (Civil Code 2015, articles 147–148): each day
    counted or skipped, and why.
    """
    doc = timeline_document(campaign_for(token, path.code), utcnow())
    _touch_and_commit(token)
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
    _touch_and_commit(token)
    return json_answer({"campaign": c.code, **page})


@bp.get("/campaigns/<code>/units/<unit_code>")
@operation("getUnit", m.CAMPAIGNS, scope="read", path=m.UnitPath, answer=m.UnitDetail, errors=(404,))
def unit(token, path: m.UnitPath):
    """A unit's status and the versions of its dossier"""
    c = campaign_for(token, path.code)
    doc = unit_detail(c, unit_for(token, c, path.unit_code), utcnow())
    _touch_and_commit(token)
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
    _touch_and_commit(token)
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
    _touch_and_commit(token)
    return json_answer({**period.as_dict(), "calendar_days": query.calendar_days, "organizer": token.organizer.code})


@bp.get("/workdays/is-working")
@operation("isWorkingDay", m.WORKDAYS, scope="read", query=m.DayQuery, answer=m.DayStatus)
def workdays_is_working(token, query: m.DayQuery):
    """Whether a date is a working day, and why

    With the token's organizer's calendar (national holidays, make-up Saturdays, local days off).
    """
    status = calendar_for(token.organizer_id).day_status(query.date)
    _touch_and_commit(token)
    return json_answer({"date": query.date.isoformat(), "working": status.working, "reason": status.reason,
                        "name": status.name_vi, "name_en": status.name_en, "document": status.document or None,
                        "explanation": {"vi": status.describe("vi"), "en": status.describe("en")},
                        "organizer": token.organizer.code})


# -- writes: idempotency ----------------------------------------------------------------------------------------------

def _request_hash() -> str:
    canonical = json.dumps({"method": request.method, "path": request.path, "body": g.api_body},
                           sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _find_record(token_id: int, key: str):
    return db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.token_id == token_id,
                                                             IdempotencyRecord.key == key))


def _replay(record, digest: str) -> Response:
    if record.request_hash != digest:
        raise invalid("Idempotency-Key", "Idempotency-Key này đã được dùng cho một yêu cầu khác; hãy dùng khóa mới.",
                      "This Idempotency-Key was used for another request; use a new key.")
    mimetype = "application/problem+json" if record.status_code >= 400 else "application/json"
    return Response(record.response_body, status=record.status_code, mimetype=mimetype,
                    headers={"Idempotency-Replayed": "true"})


def run_write(token, action: Callable[[datetime], tuple[int, dict]]) -> Response:
    """Run a write once per Idempotency-Key: the answer is stored with the change, in one transaction.

    What is stored and replayed: the success, and a refusal by the rules
    (OperationError).  A malformed request, a refused token and a server
    error are not stored: the same key can be sent again once it is fixed.
    """
    key = request.headers.get("Idempotency-Key")  # its form is checked by the contract (WriteHeaders)
    digest = _request_hash()
    if key is not None:
        existing = _find_record(token.id, key)
        if existing is not None:
            return _replay(existing, digest)
    now = utcnow()
    g.api_stored = []
    try:
        try:
            status, payload = action(now)
        except ops.OperationError as exc:
            db.session.rollback()
            _remove_stored()
            status, payload = exc.status, problem_body(exc.status, exc.message_vi, exc.message_en, exc.field)
        text = json.dumps(payload, ensure_ascii=False)
        touch(token, now)
        if key is not None:
            db.session.add(IdempotencyRecord(token_id=token.id, key=key, method=request.method,
                                             path=request.path[:512], request_hash=digest, status_code=status,
                                             response_body=text, created_at=now))
        db.session.commit()
    except IntegrityError:
        # Sent twice at once (a retry while the first was still running): the
        # first one's transaction won, this one's is undone whole.
        db.session.rollback()
        _remove_stored()
        if key is not None:
            existing = _find_record(token.id, key)
            if existing is not None:
                return _replay(existing, digest)
        raise ApiError(409, "Yêu cầu trùng với một yêu cầu khác được xử lý cùng lúc; vui lòng gửi lại.",
                       "The request clashed with another one handled at the same time; please send it again.") from None
    except BaseException:
        _remove_stored()
        raise
    mimetype = "application/problem+json" if status >= 400 else "application/json"
    return Response(text, status=status, mimetype=mimetype)


def _remove_stored() -> None:
    written = getattr(g, "api_stored", [])
    if written:
        remove_stored(current_app.config["UPLOAD_FOLDER"], written)
        g.api_stored = []


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
    """Record a dossier received through e-office or e-mail

    Classified by its received instant: on time, late within grace, or refused after grace (409). A new version
    replaces the dossier in force and keeps the old one. Send each document's SHA-256 (kept in e-office) or its
    content in base64 (stored here, checked by content). A unit's token records for its own unit only.
    """
    c = campaign_for(token, path.code)
    u = unit_for(token, c, path.unit_code)
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
        at = now if token.unit_id is not None else body.received_at
        sub = ops.record_submission(c, u, received_at=at, channel=body.channel, recorded_by=actor_of(token),
                                    now=now, doc_number=body.doc_number, documents=inputs)
        detail = unit_detail(c, u, now)
        receipt = next(s for s in detail["submissions"] if s["version"] == sub.version)
        return 201, {**receipt, "unit": detail}

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
