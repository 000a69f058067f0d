"""The JSON API for e-office systems and scripts: ``/api/v1/…`` (issue 6, docs/api.md).

Thin, like every view: authenticate the bearer token, check its scope and
what it may see, validate the request field by field, call the same domain
operation as the web and the CLI (``workflow.operations``), commit, answer.
The rules are never copied here.

- Tokens (``workflow.api_tokens``): looked up afresh on every request, so a
  revoked token is refused at once.  A unit's token sees only its own unit;
  anything else (another unit, another organizer) is reported missing (404).
- Errors are ``application/problem+json`` with ``detail`` (English),
  ``detail_vi`` (Vietnamese) and ``field`` (the field at fault).
- Writes accept an ``Idempotency-Key``: the first answer is stored with the
  change, in the same transaction, and replayed to a retry.
- Lists page with an opaque cursor; GET answers carry an ETag and honour
  ``If-None-Match`` (304).
- The OpenAPI 3.1 document is written here by hand (:func:`spec`), served at
  ``/api/v1/openapi.json`` and rendered locally at ``/api/v1/docs``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import wraps
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import MethodNotAllowed

from workflow import campaigns as reads
from workflow import operations as ops
from workflow.api_tokens import SCOPES, actor_of, authenticate, touch
from workflow.calendars import calendar_for
from workflow.campaigns import status_document
from workflow.db import db, utcnow
from workflow.machine import STATES, state_name
from workflow.models import Campaign, IdempotencyRecord, Participation, Unit
from workflow.periods import calendar_days_from, working_days_from
from workflow.standing import STATUSES, status_name
from workflow.storage import DocumentRefused, check_document, clean_name, remove_stored, store_document
from workflow.timeline import MILESTONES

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, detail_vi: str, detail_en: str, field: str | None = None, **extra) -> Response:
    """An ``application/problem+json`` answer with Vietnamese and English messages."""
    body = problem_body(status, detail_vi, detail_en, field, **extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


def problem_body(status: int, detail_vi: str, detail_en: str, field: str | None = None, **extra) -> dict:
    """RFC 9457 members (the title is the status phrase), ``detail_vi``, and the field at fault."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = detail_en
    return {"type": "about:blank", "title": title, "status": status, "detail": detail_en, "detail_vi": detail_vi,
            **({"field": field} if field else {}), **extra}


# -- errors ------------------------------------------------------------------------------------------------------

class ApiError(Exception):
    """A request refused before or outside a domain operation."""

    def __init__(self, status: int, detail_vi: str, detail_en: str, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail_en)
        self.status, self.detail_vi, self.detail_en, self.field = status, detail_vi, detail_en, field
        self.headers = headers or {}

    def response(self) -> Response:
        response = problem(self.status, self.detail_vi, self.detail_en, self.field)
        response.headers.update(self.headers)
        return response


def _not_found(what_vi: str = "Không tìm thấy", what_en: str = "Not found", field: str | None = None) -> ApiError:
    return ApiError(404, f"{what_vi}, hoặc token này không được xem.", f"{what_en}, or this token may not see it.",
                    field)


def _invalid(field: str, vi: str, en: str, status: int = 422) -> ApiError:
    return ApiError(status, vi, en, field)


def _safe(text: str, limit: int = 60) -> str:
    """User text fit to be echoed in a message: printable, valid UTF-8, short."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


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


def _known_query(allowed: tuple[str, ...]) -> None:
    """Refuse an unknown query parameter: a typo (calendar_day=true) must not be ignored silently."""
    for name in request.args:
        if name not in allowed:
            shown = _safe(name)
            raise _invalid(shown, f"Tham số “{shown}” không được hỗ trợ ở đây"
                                  + (f" (chỉ: {', '.join(allowed)})." if allowed else "."),
                           f"Parameter “{shown}” is not accepted here"
                           + (f" (only: {', '.join(allowed)})." if allowed else "."))


def api_view(scope: str | None, query: tuple[str, ...] = ()) -> Callable:
    """Authenticate, check the scope and the query parameters, run the view; errors become problems."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs):
            try:
                token = _token()
                if scope:
                    _require(token, scope)
                _known_query(query)
                g.api_token = token
                return view(token, **kwargs)
            except ApiError as exc:
                db_rollback()
                return exc.response()
            except ops.OperationError as exc:
                db_rollback()
                return problem(exc.status, exc.message_vi, exc.message_en, exc.field)
        return wrapper
    return decorator


def db_rollback() -> None:
    db.session.rollback()


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
    if touch(token, utcnow()):
        db.session.commit()


# -- parameters ----------------------------------------------------------------------------------------------------

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INSTANT_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_YEAR, MAX_YEAR = 1900, 2199
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
MAX_DAYS = 366


def parse_day(value: Any, field: str) -> date:
    """A calendar date, YYYY-MM-DD, between 1900 and 2199."""
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise _invalid(field, f"“{field}” phải là một ngày dạng YYYY-MM-DD, ví dụ 2019-10-25.",
                       f"“{field}” must be a date as YYYY-MM-DD, e.g. 2019-10-25.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, f"“{field}”: ngày không tồn tại.", f"“{field}”: no such date.") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise _invalid(field, f"“{field}” phải trong khoảng năm {MIN_YEAR}–{MAX_YEAR}.",
                       f"“{field}” must fall between the years {MIN_YEAR} and {MAX_YEAR}.")
    return day


def parse_instant(value: Any, field: str) -> datetime:
    """An ISO 8601 / RFC 3339 instant WITH its offset, e.g. 2019-10-25T16:30:00+07:00."""
    message = (f"“{field}” phải là thời điểm ISO 8601 có múi giờ, ví dụ 2019-10-25T16:30:00+07:00.",
               f"“{field}” must be an ISO 8601 instant with its offset, e.g. 2019-10-25T16:30:00+07:00.")
    match = INSTANT_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise _invalid(field, *message)
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # at most microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
    except ValueError:
        raise _invalid(field, *message) from None
    if not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise _invalid(field, f"“{field}” phải trong khoảng năm {MIN_YEAR}–{MAX_YEAR}.",
                       f"“{field}” must fall between the years {MIN_YEAR} and {MAX_YEAR}.")
    return instant.astimezone(UTC)


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not low <= int(raw) <= high:
        raise _invalid(name, f"“{name}” phải là số nguyên từ {low} đến {high}.",
                       f"“{name}” must be a whole number from {low} to {high}.")
    return int(raw)


def _query_bool(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise _invalid(name, f"“{name}” phải là true hoặc false.", f"“{name}” must be true or false.")
    return raw == "true"


def _code(value: str, field: str, vi: str, en: str) -> str:
    if not CODE_RE.match(value):
        raise _not_found(vi, en, field)
    return value


# -- cursor pagination ---------------------------------------------------------------------------------------------

def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{after_id}".encode()).decode().rstrip("=")


def _page() -> tuple[int, int]:
    """(limit, the id to continue after) from ``limit`` and ``cursor``."""
    limit = _query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    raw = request.args.get("cursor")
    if raw is None:
        return limit, 0
    bad = _invalid("cursor", "“cursor” không hợp lệ: dùng đúng giá trị next_cursor của trang trước.",
                   "“cursor” is invalid: pass next_cursor from the previous page as it is.")
    if not CURSOR_RE.match(raw):
        raise bad
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad from None
    match = re.fullmatch(r"v1:([0-9]{1,18})", text)
    if not match:
        raise bad
    return limit, int(match.group(1))


def paged(rows: list, limit: int, key: Callable[[Any], int], item: Callable[[Any], dict]) -> dict:
    """A page from rows fetched as ``limit + 1``: the items, and the cursor of the next page (None on the last)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [item(r) for r in rows], "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}


# -- what a token may see ------------------------------------------------------------------------------------------

def campaign_for(token, code: str):
    _code(code, "code", "Không tìm thấy đợt đánh giá", "No such campaign")
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None or campaign.organizer_id != token.organizer_id:
        raise _not_found("Không tìm thấy đợt đánh giá", "No such campaign", "code")
    if token.unit_id is not None:
        takes_part = db.session.scalar(select(Participation.id).where(
            Participation.campaign_id == campaign.id, Participation.unit_id == token.unit_id))
        if takes_part is None:
            raise _not_found("Không tìm thấy đợt đánh giá", "No such campaign", "code")
    return campaign


def unit_for(token, campaign, unit_code: str):
    _code(unit_code, "unit_code", "Không tìm thấy đơn vị", "No such unit")
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == unit_code))
    if unit is None or (token.unit_id is not None and unit.id != token.unit_id):
        raise _not_found("Không tìm thấy đơn vị", "No such unit", "unit_code")
    takes_part = db.session.scalar(select(Participation.id).where(
        Participation.campaign_id == campaign.id, Participation.unit_id == unit.id))
    if takes_part is None:
        raise _not_found(f"Đơn vị không tham gia đợt đánh giá {campaign.code}",
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
def openapi():
    """The OpenAPI document (public)."""
    return json_answer(spec(), cache="public, max-age=300")


@bp.get("/docs")
def docs():
    """The OpenAPI document rendered here, for people (public; nothing from elsewhere)."""
    return render_template("api/docs.html", doc=docs_model(spec()))


@bp.get("/me")
@api_view(None)
def me(token):
    _touch_and_commit(token)
    return json_answer({
        "name": token.name, "prefix": token.prefix, "scopes": list(token.scopes or []),
        "organizer": {"code": token.organizer.code, "name": token.organizer.name},
        "unit": {"code": token.unit.code, "name": token.unit.name} if token.unit else None,
        "created_at": token.created_at.isoformat(),
    })


@bp.get("/campaigns")
@api_view("read", query=("limit", "cursor"))
def campaigns(token):
    limit, after = _page()
    query = select(Campaign).where(Campaign.organizer_id == token.organizer_id, Campaign.id > after)
    if token.unit_id is not None:
        query = query.where(Campaign.id.in_(select(Participation.campaign_id)
                                            .where(Participation.unit_id == token.unit_id)))
    rows = db.session.scalars(query.order_by(Campaign.id).limit(limit + 1)).all()
    now = utcnow()
    page = paged(rows, limit, key=lambda c: c.id,
                 item=lambda c: campaign_item(status_document(c, now), with_counts=token.unit_id is None))
    _touch_and_commit(token)
    return json_answer(page)


@bp.get("/campaigns/<code>")
@api_view("read")
def campaign(token, code):
    c = campaign_for(token, code)
    item = campaign_item(status_document(c, utcnow()), with_counts=token.unit_id is None)
    _touch_and_commit(token)
    return json_answer(item)


@bp.get("/campaigns/<code>/timeline")
@api_view("read")
def timeline(token, code):
    doc = timeline_document(campaign_for(token, code), utcnow())
    _touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/units")
@api_view("read", query=("limit", "cursor"))
def units(token, code):
    c = campaign_for(token, code)
    limit, after = _page()
    query = (select(Participation.id, Unit.code).join(Unit, Unit.id == Participation.unit_id)
             .where(Participation.campaign_id == c.id, Participation.id > after))
    if token.unit_id is not None:
        query = query.where(Participation.unit_id == token.unit_id)
    rows = db.session.execute(query.order_by(Participation.id).limit(limit + 1)).all()
    by_code = {u["code"]: u for u in status_document(c, utcnow())["units"]} if rows else {}
    page = paged(rows, limit, key=lambda row: row[0], item=lambda row: unit_item(by_code[row[1]]))
    _touch_and_commit(token)
    return json_answer({"campaign": c.code, **page})


@bp.get("/campaigns/<code>/units/<unit_code>")
@api_view("read")
def unit(token, code, unit_code):
    c = campaign_for(token, code)
    doc = unit_detail(c, unit_for(token, c, unit_code), utcnow())
    _touch_and_commit(token)
    return json_answer(doc)


@bp.get("/campaigns/<code>/my-status")
@api_view("read")
def my_status(token, code):
    if token.unit_id is None:
        raise ApiError(403, "Chỉ token của một đơn vị mới có “tình trạng của tôi”; hãy dùng /units/{unit_code}.",
                       "Only a unit's token has a status of its own; use /units/{unit_code}.", "Authorization")
    c = campaign_for(token, code)
    doc = unit_detail(c, token.unit, utcnow())
    _touch_and_commit(token)
    return json_answer(doc)


@bp.get("/workdays/add")
@api_view("read", query=("date", "days", "calendar_days"))
def workdays_add(token):
    start = parse_day(request.args.get("date"), "date")
    if request.args.get("days") is None:
        raise _invalid("days", "Thiếu “days” (số ngày).", "“days” (the number of days) is required.")
    days = _query_int("days", 0, 0, MAX_DAYS)
    calendar_days = _query_bool("calendar_days")
    count = calendar_days_from if calendar_days else working_days_from
    period = count(start, days, calendar_for(token.organizer_id), current_app.config["TZ"])
    _touch_and_commit(token)
    return json_answer({**period.as_dict(), "calendar_days": calendar_days, "organizer": token.organizer.code})


@bp.get("/workdays/is-working")
@api_view("read", query=("date",))
def workdays_is_working(token):
    day = parse_day(request.args.get("date"), "date")
    status = calendar_for(token.organizer_id).day_status(day)
    _touch_and_commit(token)
    return json_answer({"date": day.isoformat(), "working": status.working, "reason": status.reason,
                        "name": status.name_vi, "name_en": status.name_en, "document": status.document or None,
                        "explanation": {"vi": status.describe("vi"), "en": status.describe("en")},
                        "organizer": token.organizer.code})


# -- writes: body, idempotency ------------------------------------------------------------------------------------

#: A field that was not sent (null is sent, and refused where the document does not allow it).
MISSING: Any = object()


def check_text(value: Any, field: str, *, required: bool = False, max_length: int = 2000) -> str:
    """A string field: valid UTF-8, no control characters but tab and line breaks, not too long."""
    if value is MISSING:
        if required:
            raise _invalid(field, f"Thiếu “{field}”.", f"“{field}” is required.")
        return ""
    if not isinstance(value, str):
        raise _invalid(field, f"“{field}” phải là chuỗi ký tự.", f"“{field}” must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(field, f"“{field}” chứa ký tự không hợp lệ.", f"“{field}” holds invalid characters.") from None
    if any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in value):
        raise _invalid(field, f"“{field}” chứa ký tự điều khiển.", f"“{field}” holds control characters.")
    if len(value) > max_length:
        raise _invalid(field, f"“{field}” dài quá {max_length} ký tự.",
                       f"“{field}” is longer than {max_length} characters.")
    if required and not value.strip():
        raise _invalid(field, f"“{field}” không được để trống.", f"“{field}” must not be blank.")
    return value


class Body:
    """The JSON object of a write, checked field by field."""

    def __init__(self, data: dict, allowed: tuple[str, ...]):
        self.data = data
        for key in data:
            if key not in allowed:
                raise _invalid(str(_safe(key)), f"Trường “{_safe(key)}” không được hỗ trợ ở đây.",
                               f"Field “{_safe(key)}” is not accepted here.")

    def text(self, key: str, *, required: bool = False, max_length: int = 2000) -> str:
        return check_text(self.data.get(key, MISSING), key, required=required, max_length=max_length)

    def choice(self, key: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.data.get(key, MISSING)
        if value is MISSING:
            if default is None:
                raise _invalid(key, f"Thiếu “{key}”.", f"“{key}” is required.")
            value = default
        if not isinstance(value, str) or value not in choices:
            raise _invalid(key, f"“{key}” phải là một trong: {', '.join(choices)}.",
                           f"“{key}” must be one of: {', '.join(choices)}.")
        return value


def read_body(allowed: tuple[str, ...]) -> Body:
    if not request.is_json:
        raise ApiError(415, "Nội dung phải là JSON (Content-Type: application/json).",
                       "The body must be JSON (Content-Type: application/json).", "Content-Type")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "Nội dung không phải JSON hợp lệ (UTF-8).", "The body is not valid JSON (UTF-8).",
                       "body") from None
    if not isinstance(data, dict):
        raise _invalid("body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return Body(data, allowed)


def _request_hash(body: Body) -> str:
    canonical = json.dumps({"method": request.method, "path": request.path, "body": body.data},
                           sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not KEY_RE.match(key):
        raise _invalid("Idempotency-Key", "Idempotency-Key phải gồm 1–255 ký tự ASCII in được, ví dụ một UUID.",
                       "Idempotency-Key must be 1–255 printable ASCII characters, e.g. a UUID.")
    return key


def _find_record(token_id: int, key: str):
    return db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.token_id == token_id,
                                                             IdempotencyRecord.key == key))


def _replay(record, digest: str) -> Response:
    if record.request_hash != digest:
        raise _invalid("Idempotency-Key", "Idempotency-Key này đã được dùng cho một yêu cầu khác; hãy dùng khóa mới.",
                       "This Idempotency-Key was used for another request; use a new key.")
    mimetype = "application/problem+json" if record.status_code >= 400 else "application/json"
    return Response(record.response_body, status=record.status_code, mimetype=mimetype,
                    headers={"Idempotency-Replayed": "true"})


def run_write(token, body: Body, action: Callable[[datetime], tuple[int, dict]]) -> Response:
    """Run a write once per Idempotency-Key: the answer is stored with the change, in one transaction.

    What is stored and replayed: the success, and a refusal by the rules
    (OperationError).  A malformed request, a refused token and a server
    error are not stored: the same key can be sent again once it is fixed.
    """
    key = _idempotency_key()
    digest = _request_hash(body)
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

SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_DOCUMENTS = 50
STEPS = ("launch", "review_done", "inspection_done", "awards_done", "approval_received", "cancel")


def _documents(body: Body) -> list[dict]:
    """The documents of a dossier: a name, and the SHA-256 and/or the content in base64."""
    value = body.data.get("documents", MISSING)
    if value is MISSING:
        return []
    if not isinstance(value, list) or len(value) > MAX_DOCUMENTS:
        raise _invalid("documents", f"“documents” phải là danh sách tối đa {MAX_DOCUMENTS} tài liệu.",
                       f"“documents” must be a list of at most {MAX_DOCUMENTS} documents.")
    out = []
    for i, doc in enumerate(value):
        at = f"documents[{i}]"
        if not isinstance(doc, dict):
            raise _invalid(at, f"“{at}” phải là một đối tượng.", f"“{at}” must be an object.")
        Body(doc, ("name", "sha256", "size", "content_base64"))
        name = check_text(doc.get("name", MISSING), f"{at}.name", required=True, max_length=255)
        try:
            name = clean_name(name)
        except DocumentRefused as exc:
            raise _invalid(f"{at}.name", exc.message_vi, exc.message_en) from None
        sha = doc.get("sha256", MISSING)
        if sha is not MISSING and (not isinstance(sha, str) or not SHA256_RE.match(sha)):
            raise _invalid(f"{at}.sha256", "SHA-256 phải gồm 64 chữ số thập lục phân.",
                           "The SHA-256 must be 64 hexadecimal digits.")
        size = doc.get("size", MISSING)
        if size is not MISSING and (not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 2**31 - 1):
            raise _invalid(f"{at}.size", "“size” phải là số byte (số nguyên không âm).",
                           "“size” must be a number of bytes (a whole number, not negative).")
        content = doc.get("content_base64", MISSING)
        data = None
        if content is not MISSING:
            if not isinstance(content, str):
                raise _invalid(f"{at}.content_base64", "Nội dung phải là chuỗi base64.",
                               "The content must be a base64 string.")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise _invalid(f"{at}.content_base64", "Nội dung không phải base64 hợp lệ.",
                               "The content is not valid base64.") from None
            try:
                check_document(name, data)
            except DocumentRefused as exc:
                raise _invalid(f"{at}.content_base64", exc.message_vi, exc.message_en) from None
            actual = hashlib.sha256(data).hexdigest()
            if sha is not MISSING and sha.lower() != actual:
                raise _invalid(f"{at}.sha256", "SHA-256 không khớp với nội dung tài liệu.",
                               "The SHA-256 does not match the document's content.")
            if size is not MISSING and size != len(data):
                raise _invalid(f"{at}.size", "“size” không khớp với nội dung tài liệu.",
                               "“size” does not match the document's content.")
        elif sha is MISSING:
            raise _invalid(f"{at}.sha256", "Mỗi tài liệu cần SHA-256 hoặc nội dung (content_base64).",
                           "Each document needs its SHA-256 or its content (content_base64).")
        out.append({"name": name, "sha256": None if sha is MISSING else sha.lower(),
                    "size": None if size is MISSING else size, "data": data})
    return out


@bp.post("/campaigns/<code>/units/<unit_code>/submissions")
@api_view("record")
def record_submission(token, code, unit_code):
    body = read_body(("received_at", "doc_number", "channel", "documents"))
    c = campaign_for(token, code)
    u = unit_for(token, c, unit_code)
    by_unit = token.unit_id is not None
    if by_unit:
        # A unit's own token uploads: the received instant is ours, channel and number the organizer's
        # (refused by ops.record_submission when given).
        received_at = None
        doc_number = body.text("doc_number", max_length=128)
        channel = body.choice("channel", ("upload", "eoffice", "email"), default="upload")
    else:
        received_at = parse_instant(body.data.get("received_at"), "received_at")
        doc_number = body.text("doc_number", required=True, max_length=128)
        channel = body.choice("channel", ("eoffice", "email"), default="eoffice")
    documents = _documents(body)

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
        at = now if by_unit or received_at is None else received_at
        sub = ops.record_submission(c, u, received_at=at, channel=channel, recorded_by=actor_of(token),
                                    now=now, doc_number=doc_number, documents=inputs, by_unit=by_unit)
        detail = unit_detail(c, u, now)
        receipt = next(s for s in detail["submissions"] if s["version"] == sub.version)
        return 201, {**receipt, "unit": detail}

    return run_write(token, body, action)


@bp.post("/campaigns/<code>/steps")
@api_view("manage")
def mark_step(token, code):
    _require(token, "manage", organizer_only=True)
    body = read_body(("step", "reason"))
    c = campaign_for(token, code)
    step = body.choice("step", STEPS)
    reason = body.text("reason", max_length=2000)

    def action(now: datetime) -> tuple[int, dict]:
        if step == "launch":
            before = c.state
            ops.launch(c, actor=actor_of(token), now=now)
            moved = {"from": before, "to": c.state, "skipped": []}
        else:
            move = ops.mark_step(c, step, actor=actor_of(token), now=now, reason=reason)
            moved = {"from": move.before, "to": move.after, "skipped": list(move.skipped)}
        return 200, {"step": step, **moved, "campaign": campaign_item(status_document(c, now), with_counts=True)}

    return run_write(token, body, action)


@bp.post("/campaigns/<code>/milestones/<kind>/move")
@api_view("manage")
def move_milestone(token, code, kind):
    _require(token, "manage", organizer_only=True)
    body = read_body(("end", "start", "reason"))
    c = campaign_for(token, code)
    if kind != "deadline" and kind not in MILESTONES:
        raise _not_found("Không có mốc thời gian này", "No such milestone", "kind")
    end = parse_day(body.data.get("end"), "end")
    start = parse_day(body.data["start"], "start") if body.data.get("start") is not None else None
    if kind == "deadline" and start is not None:
        raise _invalid("start", "Hạn chót là một ngày, không có ngày bắt đầu.", "The deadline is one day: no start.")
    reason = body.text("reason", required=True, max_length=2000)

    def action(now: datetime) -> tuple[int, dict]:
        ops.move_milestone(c, kind, end=end, start=start, reason=reason, actor=actor_of(token), now=now)
        return 200, timeline_document(c, now)

    return run_write(token, body, action)


def _unit_action(token, code: str, unit_code: str, operation) -> Response:
    _require(token, "manage", organizer_only=True)
    body = read_body(("reason",))
    c = campaign_for(token, code)
    u = unit_for(token, c, unit_code)
    reason = body.text("reason", required=True, max_length=2000)

    def action(now: datetime) -> tuple[int, dict]:
        operation(c, u, reason=reason, actor=actor_of(token), now=now)
        return 200, unit_detail(c, u, now)

    return run_write(token, body, action)


@bp.post("/campaigns/<code>/units/<unit_code>/return")
@api_view("manage")
def return_dossier(token, code, unit_code):
    return _unit_action(token, code, unit_code, ops.return_dossier)


@bp.post("/campaigns/<code>/units/<unit_code>/reinstate")
@api_view("manage")
def reinstate(token, code, unit_code):
    return _unit_action(token, code, unit_code, ops.reinstate)


# -- the OpenAPI document ------------------------------------------------------------------------------------------
#
# Hand-written: every operation, parameter, body and answer.  tests/test_api_schemathesis.py
# runs schemathesis against it, so it cannot drift from the code.

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
NAME_PATTERN = r"^[^/\\\u0000-\u001f\u007f]+$"
_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"
_PARAMETERS = "#/components/parameters/"


def _ref(name: str) -> dict:
    return {"$ref": _SCHEMAS + name}


def _null(schema: dict) -> dict:
    """The schema, or null (OpenAPI 3.1: a JSON Schema type list)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    return out


def _object(properties: dict, required: list[str] | None = None, *, closed: bool = False, **extra) -> dict:
    """An object; answers are open (new fields may be added), request bodies closed."""
    schema: dict = {"type": "object", "properties": properties,
                    "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
INSTANT = {"type": "string", "format": "date-time"}


def _enum(values, description: str = "") -> dict:
    schema: dict = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def _schemas() -> dict:
    explanation = _object({"vi": {"type": "array", "items": STR}, "en": {"type": "array", "items": STR}},
                          description="The summary, then one line per day counted or skipped (Vietnamese, English).")
    campaign = _object({
        "code": STR, "title": STR, "year": INT, "organizer": {**STR, "description": "The organizer's code."},
        "state": _enum(STATES, "The state as of now: the recorded state moved on by the clock."),
        "state_name": STR, "state_name_en": STR,
        "recorded_state": _enum(STATES, "The state last recorded (time-driven moves are recorded by the tick)."),
        "deadline": {**DATE, "description": "The submission deadline: a local date that ends at 24:00."},
        "grace_working_days": {**INT, "minimum": 0},
        "deadline_at": {**INSTANT, "description": "When the deadline ends (24:00 local time, exclusive)."},
        "grace_ends_at": {**INSTANT, "description": "When the grace period ends: later dossiers are refused."},
        "document": _object({"number": STR, "date": _null(DATE)}, description="The launching letter."),
        "cancel_reason": _null(STR),
        "counts": {"type": ["object", "null"], "additionalProperties": {**INT, "minimum": 0},
                   "description": "Units by status; null for a unit's token."},
    }, example={
        "code": "TGG-2019", "title": "Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019", "year": 2019,
        "organizer": "TGG", "state": "open", "state_name": "Đang nhận hồ sơ", "state_name_en": "Accepting submissions",
        "recorded_state": "open", "deadline": "2019-10-25", "grace_working_days": 5,
        "deadline_at": "2019-10-26T00:00:00+07:00", "grace_ends_at": "2019-11-02T00:00:00+07:00",
        "document": {"number": "1270/STTTT-CNTT&BCVT", "date": "2019-10-07"}, "cancel_reason": None,
        "counts": {"not_submitted": 4, "on_time": 2, "late": 0, "excluded": 0}})
    milestone = _object({
        "kind": _enum(["deadline", "grace_end", *MILESTONES]), "name": STR, "name_en": STR,
        "start": _null(DATE), "end": DATE, "ends_at": {**INSTANT, "description": "24:00 local time of the end date."},
        "computed": {**BOOL, "description": "Computed from other dates (the grace end), not set by hand."},
        "reached": BOOL, "overdue": BOOL,
        "explanation": _null(_ref("Explanation")),
    })
    unit_status = {
        "code": STR, "name": STR, "group": {**STR, "description": "The khối: department, district, vertical, commune…"},
        "parent": {**_null(STR), "description": "The district over a commune."},
        "status": _enum(STATUSES, "As of now: a unit that sent nothing is excluded once grace has ended."),
        "status_name": STR, "status_name_en": STR,
        "received_at": {**_null(INSTANT), "description": "The received instant of the dossier in force."},
        "late_working_days": {**INT, "minimum": 0}, "versions": {**INT, "minimum": 0},
        "reinstated_reason": _null(STR), "returned_reason": _null(STR),
        "self_score": _null({"type": "number"}), "verified_score": _null({"type": "number"}),
        "score": _null({"type": "number"}), "provisional": BOOL, "rating": _null(STR),
        "rank": _null({**INT, "minimum": 1}), "nominated": BOOL,
    }
    unit_example = {
        "code": "STC", "name": "Sở Tài chính", "group": "department", "parent": None, "status": "on_time",
        "status_name": "Nộp đúng hạn", "status_name_en": "On time", "received_at": "2019-10-24T15:30:00+07:00",
        "late_working_days": 0, "versions": 1, "reinstated_reason": None, "returned_reason": None,
        "self_score": None, "verified_score": None, "score": None, "provisional": True, "rating": None, "rank": None,
        "nominated": False}
    document_out = _object({"name": STR, "sha256": {**STR, "pattern": "^[0-9a-f]{64}$"}, "size": _null(INT),
                            "stored": {**BOOL, "description": "Stored here (sent as content), or only its SHA-256."}})
    submission = {
        "version": {**INT, "minimum": 1}, "receipt_number": STR, "received_at": INSTANT,
        "channel": _enum(("upload", "eoffice", "email")), "doc_number": STR,
        "recorded_by": {**STR, "description": "api:<token name> for dossiers recorded through the API."},
        "late_working_days": {**INT, "minimum": 0}, "documents": {"type": "array", "items": _ref("DocumentOut")},
    }
    submission_example = {
        "version": 1, "receipt_number": "TGG-2019/STC/1", "received_at": "2019-10-24T15:30:00+07:00",
        "channel": "eoffice", "doc_number": "2345/VBĐ", "recorded_by": "api:VNPT iOffice", "late_working_days": 0,
        "documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf", "sha256": "9f2c" + "0" * 60, "size": 183422,
                       "stored": False}]}
    unit_detail = _object({**unit_status, "campaign": STR,
                           "submissions": {"type": "array", "items": {"$ref": _SCHEMAS + "Submission"}}},
                          example={**unit_example, "campaign": "TGG-2019", "submissions": [submission_example]})
    page = {"next_cursor": {**_null(STR), "description": "Pass it as `cursor` for the next page; null on the last."}}
    return {
        "Problem": _object({
            "type": STR, "title": {**STR, "description": "The HTTP status phrase."},
            "status": {**INT, "minimum": 400, "maximum": 599},
            "detail": {**STR, "description": "What is wrong, in English."},
            "detail_vi": {**STR, "description": "What is wrong, in Vietnamese."},
            "field": {**STR, "description": "The field at fault: a body field (documents[0].sha256), a parameter "
                                             "(limit, code) or a header (Authorization, Idempotency-Key)."},
        }, ["type", "title", "status", "detail", "detail_vi"], example={
            "type": "about:blank", "title": "Unprocessable Content", "status": 422,
            "detail": "A dossier received through e-office or e-mail needs its incoming document number.",
            "detail_vi": "Hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử phải có số văn bản đến.",
            "field": "doc_number"}),
        "Explanation": explanation,
        "Token": _object({
            "name": STR, "prefix": STR, "scopes": {"type": "array", "items": _enum(SCOPES)},
            "organizer": _object({"code": STR, "name": STR}),
            "unit": _null(_object({"code": STR, "name": STR})), "created_at": INSTANT,
        }, example={"name": "VNPT iOffice", "prefix": "3f9a61c2", "scopes": ["read", "record"],
                    "organizer": {"code": "TGG", "name": "Sở Thông tin và Truyền thông tỉnh Tiền Giang"},
                    "unit": None, "created_at": "2019-10-07T01:00:00+00:00"}),
        "Campaign": campaign,
        "CampaignPage": _object({"items": {"type": "array", "items": _ref("Campaign")}, **page}),
        "Milestone": milestone,
        "Timeline": _object({
            "campaign": STR, "state": _enum(STATES), "state_name": STR, "state_name_en": STR,
            "deadline_at": INSTANT, "grace_ends_at": INSTANT,
            "milestones": {"type": "array", "items": _ref("Milestone")},
        }, example={"campaign": "TGG-2019", "state": "open", "state_name": "Đang nhận hồ sơ",
                    "state_name_en": "Accepting submissions", "deadline_at": "2019-10-26T00:00:00+07:00",
                    "grace_ends_at": "2019-11-02T00:00:00+07:00", "milestones": [{
                        "kind": "grace_end", "name": "Hết thời gian gia hạn (5 ngày làm việc)",
                        "name_en": "Grace period ends (5 working days)", "start": None, "end": "2019-11-01",
                        "ends_at": "2019-11-02T00:00:00+07:00", "computed": True, "reached": False,
                        "overdue": False, "explanation": {
                            "vi": ["5 ngày làm việc kể từ Thứ Sáu 25/10/2019: kết thúc lúc 24:00 Thứ Sáu 01/11/2019",
                                   "Thứ Bảy 26/10/2019: không tính — Thứ Bảy", "…"],
                            "en": ["5 working days counted from Friday 25/10/2019: ends at 24:00 on Friday "
                                   "01/11/2019", "Saturday 26/10/2019: skipped — Saturday", "…"]}}]}),
        "UnitStatus": _object(unit_status, example=unit_example),
        "UnitPage": _object({"campaign": STR, "items": {"type": "array", "items": _ref("UnitStatus")}, **page}),
        "DocumentOut": document_out,
        "Submission": _object(submission, example=submission_example),
        "UnitDetail": unit_detail,
        "Receipt": _object({**submission, "unit": _ref("UnitDetail")},
                           example={**submission_example, "unit": {**unit_example, "campaign": "TGG-2019"}}),
        "StepResult": _object({
            "step": _enum(STEPS), "from": _enum(STATES), "to": _enum(STATES),
            "skipped": {"type": "array", "items": STR, "description": "Steps skipped (a reason was given)."},
            "campaign": _ref("Campaign"),
        }),
        "Period": _object({
            "kind": _enum(("working_days", "calendar_days")), "start": DATE, "length": {**INT, "minimum": 0},
            "last_day": DATE, "ends_at": {**INSTANT, "description": "24:00 local time of the last day."},
            "rolled_from": {**_null(DATE), "description": "Calendar days: the nominal last day, when it was not a "
                                                          "working day and the period ran on (Civil Code art. 148)."},
            "explanation": _ref("Explanation"), "calendar_days": BOOL, "organizer": STR,
        }, example={"kind": "working_days", "start": "2019-10-25", "length": 5, "last_day": "2019-11-01",
                    "ends_at": "2019-11-02T00:00:00+07:00", "rolled_from": None, "calendar_days": False,
                    "organizer": "TGG", "explanation": {
                        "vi": ["5 ngày làm việc kể từ Thứ Sáu 25/10/2019: kết thúc lúc 24:00 Thứ Sáu 01/11/2019",
                               "…"], "en": ["5 working days counted from Friday 25/10/2019: ends at 24:00 on "
                                            "Friday 01/11/2019", "…"]}}),
        "DayStatus": _object({
            "date": DATE, "working": BOOL,
            "reason": _enum(("working", "weekend", "holiday", "makeup_workday", "local_day_off",
                             "local_working_day")),
            "name": STR, "name_en": STR, "document": {**_null(STR), "description": "The decision, for local days."},
            "explanation": _object({"vi": STR, "en": STR}), "organizer": STR,
        }, example={"date": "2019-09-02", "working": False, "reason": "holiday", "name": "Quốc khánh",
                    "name_en": "National Day", "document": None,
                    "explanation": {"vi": "Quốc khánh", "en": "National Day"}, "organizer": "TGG"}),
        # Request bodies: closed, every field checked.
        "DocumentIn": _object({
            "name": {**STR, "minLength": 1, "maxLength": 255, "pattern": NAME_PATTERN,
                     "description": "The file name, without a path."},
            "sha256": {**STR, "pattern": "^[0-9a-fA-F]{64}$",
                       "description": "The document's SHA-256, when it stays in the e-office system."},
            "size": {**INT, "minimum": 0, "maximum": 2**31 - 1, "description": "Its size in bytes."},
            "content_base64": {**STR, "contentEncoding": "base64",
                               "description": "The document itself (PDF, DOC, DOCX, XLS, XLSX; checked by content), "
                                              "to be stored here."},
        }, ["name"], closed=True, anyOf=[{"required": ["sha256"]}, {"required": ["content_base64"]}]),
        "SubmissionIn": _object({
            "received_at": {**INSTANT, "description": "When the dossier was received, ISO 8601 WITH its offset; "
                                                      "not in the future. Recorded as given for the organizer's "
                                                      "tokens; with a unit's own token the server's clock is the "
                                                      "received instant (a unit cannot date its own dossier).",
                            "example": "2019-10-24T15:30:00+07:00"},
            "doc_number": {**STR, "minLength": 1, "maxLength": 128,
                           "description": "The incoming document number (số đến).", "example": "2345/VBĐ"},
            "channel": {**_enum(("eoffice", "email")), "default": "eoffice"},
            "documents": {"type": "array", "maxItems": MAX_DOCUMENTS, "items": _ref("DocumentIn")},
        }, ["received_at", "doc_number"], closed=True, example={
            "received_at": "2019-10-24T15:30:00+07:00", "doc_number": "2345/VBĐ", "channel": "eoffice",
            "documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf",
                           "sha256": "9f2c4e1b7a3d5f60c8e2a4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5",
                           "size": 183422}]}),
        "StepIn": _object({
            "step": _enum(STEPS, "launch, a step done (review_done, inspection_done, awards_done, "
                                 "approval_received), or cancel."),
            "reason": {**STR, "maxLength": 2000, "description": "Required to cancel or to skip a step; on record."},
        }, ["step"], closed=True, example={"step": "review_done", "reason": ""}),
        "MilestoneMoveIn": _object({
            "end": {**DATE, "description": "The new date, or the range's end."},
            "start": {**_null(DATE), "description": "The range's start (field inspection); not for the deadline."},
            "reason": {**STR, "minLength": 1, "maxLength": 2000, "description": "Why it moves; on record."},
        }, ["end", "reason"], closed=True, example={
            "end": "2019-11-08", "reason": "Công văn 1400/STTTT-CNTT: gia hạn do bão số 5"}),
        "ReasonIn": _object({
            "reason": {**STR, "minLength": 1, "maxLength": 2000, "description": "The written reason; on record."},
        }, closed=True, example={"reason": "Thiếu bảng điểm tự chấm (Phụ lục II)"}),
    }


def _problem_response(description: str, headers: dict | None = None) -> dict:
    out: dict = {"description": description,
                 "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    if headers:
        out["headers"] = headers
    return out


def _responses() -> dict:
    return {
        "BadRequest": _problem_response("The body is not valid JSON."),
        "Unauthorized": _problem_response(
            "No token, a malformed token, an unknown one or a revoked one.",
            {"WWW-Authenticate": {"schema": STR, "required": True}}),
        "Forbidden": _problem_response("The token lacks the scope, or is a unit's token for an organizer's action."),
        "NotFound": _problem_response(
            "Unknown, another organizer's, or (for a unit's token) another unit's: never told apart."),
        "Conflict": _problem_response("Refused by the rules as things stand (e.g. the campaign is not accepting "
                                      "dossiers, the unit is excluded, the step is not due)."),
        "Unprocessable": _problem_response("A field, parameter or header is invalid; `field` names it."),
        "UnsupportedMediaType": _problem_response("The body is not sent as application/json."),
        "PayloadTooLarge": _problem_response("The request is larger than the server accepts (MAX_UPLOAD_MB)."),
        "Unavailable": _problem_response("A document could not be stored (disk full); nothing was recorded."),
        "NotModified": {"description": "Unchanged since the ETag given in If-None-Match.",
                        "headers": {"ETag": {"schema": STR, "required": True}}},
    }


def _parameters() -> dict:
    return {
        "code": {"name": "code", "in": "path", "required": True, "description": "The campaign's code.",
                 "schema": {**STR, "pattern": CODE_PATTERN}, "example": "TGG-2019"},
        "unit_code": {"name": "unit_code", "in": "path", "required": True,
                      "description": "The unit's code (within the organizer).",
                      "schema": {**STR, "pattern": CODE_PATTERN}, "example": "STC"},
        "limit": {"name": "limit", "in": "query", "required": False, "description": "Items per page.",
                  "schema": {**INT, "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "cursor": {"name": "cursor", "in": "query", "required": False,
                   "description": "Opaque: `next_cursor` of the previous page.",
                   "schema": {**STR, "pattern": "^[A-Za-z0-9_-]{1,64}$"}},
        "If-None-Match": {"name": "If-None-Match", "in": "header", "required": False,
                          "description": "The ETag of the copy you hold: 304 when nothing changed.",
                          "schema": STR},
        "Idempotency-Key": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "A key of your choosing (a UUID): a retry with the same key and body returns the first "
                           "answer (with `Idempotency-Replayed: true`) and records nothing twice; the same key with "
                           "another body is refused (422).",
            "schema": {**STR, "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            "example": "eoffice-2345-VBD-2019"},
    }


def _p(name: str) -> dict:
    return {"$ref": _PARAMETERS + name}


def _r(name: str) -> dict:
    return {"$ref": _RESPONSES + name}


_ETAG = {"ETag": {"schema": STR, "required": True, "description": "Send it back in If-None-Match to poll."}}
_REPLAYED = {"Idempotency-Replayed": {"schema": _enum(["true"]), "required": False,
                                      "description": "Present when the answer is the stored one of a retry."}}


def _read(op_id: str, tag: str, summary: str, schema: str, *, params: tuple[str, ...] = (),
          scope: str | None = "read", description: str = "", errors: tuple[str, ...] = ()) -> dict:
    responses = {"200": {"description": "OK", "headers": _ETAG,
                         "content": {"application/json": {"schema": _ref(schema)}}},
                 "304": _r("NotModified")}
    for code, name in (("401", "Unauthorized"), ("403", "Forbidden"), ("404", "NotFound"),
                       ("422", "Unprocessable")):
        if name in errors or (name == "Unauthorized" and scope is not False):
            responses[code] = _r(name)
    op = {"operationId": op_id, "tags": [tag], "summary": summary, "description": description,
          "parameters": [_p(p) for p in params] + [_p("If-None-Match")], "responses": responses}
    if scope:
        op["security"] = [{"bearerAuth": [scope]}]
    elif scope is None:
        op["security"] = [{"bearerAuth": []}]
    return op


def _write(op_id: str, tag: str, summary: str, body: str, result: str, scope: str, *, params: tuple[str, ...],
           status: str = "200", description: str = "", extra: tuple[str, ...] = ()) -> dict:
    responses = {status: {"description": "Done" if status == "200" else "Recorded", "headers": _REPLAYED,
                          "content": {"application/json": {"schema": _ref(result)}}}}
    for code, name in (("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden"), ("404", "NotFound"),
                       ("409", "Conflict"), ("415", "UnsupportedMediaType"), ("422", "Unprocessable"),
                       *[(c, n) for c, n in (("413", "PayloadTooLarge"), ("503", "Unavailable")) if n in extra]):
        responses[code] = _r(name)
    return {"operationId": op_id, "tags": [tag], "summary": summary, "description": description,
            "security": [{"bearerAuth": [scope]}],
            "parameters": [_p(p) for p in params] + [_p("Idempotency-Key")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
            "responses": responses}


API_DESCRIPTION = """\
The e-office systems of the province and the organizer's own scripts read and write evaluation campaigns here,
with the same operations, checks and audit trail as the web pages and the command line.

**Tokens.** Send `Authorization: Bearer hc_<prefix>_<secret>`. The organizer creates tokens with
`flask token create --organizer TGG [--unit STC] --scope read --scope record --name "VNPT iOffice"`; a token is
shown once, stored hashed (SHA-256), and refused from the next request on once revoked (`flask token revoke`).
Scopes: `read` (campaigns, timelines, statuses, working days), `record` (record a dossier received through e-office
or e-mail), `manage` (mark a step done, move a milestone, return a dossier, reinstate a unit). A unit's token sees
and writes only its own unit, and cannot `manage`; anything else answers 404, as if it did not exist.

**Errors** are `application/problem+json` with `detail` (English), `detail_vi` (Vietnamese) and `field`, the field
at fault. Bad input is a 4xx: 400 (not JSON), 401, 403, 404, 409 (refused by the rules), 415, 422 (invalid field).

**Idempotency.** Every write accepts an `Idempotency-Key` header: a retry with the same key and body returns the
first answer (header `Idempotency-Replayed: true`) and records nothing twice.

**Polling.** Lists page with `limit` and an opaque `cursor` (`next_cursor`, null on the last page). Every GET
answer carries an `ETag`; send it back in `If-None-Match` and an unchanged answer is a bodiless 304.

**Time.** Instants are ISO 8601 with their offset (`2019-10-25T16:30:00+07:00`); answers use the organizer's time
zone (Asia/Ho_Chi_Minh). A deadline date ends at 24:00 local time; working days follow the Vietnamese calendar plus
the organizer's local days off.
"""


def _build_spec() -> dict:
    unit_params = ("code", "unit_code")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hạn Chót API", "version": "1.0.0", "description": API_DESCRIPTION,
                 "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}},
        "tags": [
            {"name": "token", "description": "The token in use."},
            {"name": "campaigns", "description": "Campaigns, their timeline and their units (read)."},
            {"name": "submissions", "description": "Dossiers received through e-office or e-mail (record)."},
            {"name": "organizer", "description": "The organizer's actions (manage)."},
            {"name": "workdays", "description": "Working-day arithmetic with the organizer's calendar (read)."},
            {"name": "meta", "description": "This document."},
        ],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {
                **_read("getOpenApi", "meta", "This OpenAPI document (public)", "OpenApiDocument", scope=False,
                        description="No token needed. Rendered for people at /api/v1/docs."),
                "security": [],
            }},
            "/api/v1/me": {"get": _read(
                "getToken", "token", "The token in use: its organizer, unit and scopes", "Token", scope=None,
                description="Any valid token, whatever its scopes: check an integration's set-up with it.")},
            "/api/v1/campaigns": {"get": _read(
                "listCampaigns", "campaigns", "Campaigns of the token's organizer", "CampaignPage",
                params=("limit", "cursor"), errors=("Forbidden", "Unprocessable"),
                description="Oldest first. A unit's token lists only the campaigns its unit takes part in, "
                            "without the counts of other units.")},
            "/api/v1/campaigns/{code}": {"get": _read(
                "getCampaign", "campaigns", "A campaign: its state as of now and its computed instants", "Campaign",
                params=("code",), errors=("Forbidden", "NotFound"))},
            "/api/v1/campaigns/{code}/timeline": {"get": _read(
                "getTimeline", "campaigns", "The timeline: each milestone's instant, and why", "Timeline",
                params=("code",), errors=("Forbidden", "NotFound"),
                description="The deadline and the grace end carry their explanation day by day (Civil Code "
                            "2015, articles 147–148): each day counted or skipped, and why.")},
            "/api/v1/campaigns/{code}/units": {"get": _read(
                "listUnits", "campaigns", "Units and their status", "UnitPage",
                params=("code", "limit", "cursor"), errors=("Forbidden", "NotFound", "Unprocessable"),
                description="A unit's token lists its own unit only.")},
            "/api/v1/campaigns/{code}/units/{unit_code}": {"get": _read(
                "getUnit", "campaigns", "A unit's status and the versions of its dossier", "UnitDetail",
                params=unit_params, errors=("Forbidden", "NotFound"))},
            "/api/v1/campaigns/{code}/my-status": {"get": _read(
                "getMyStatus", "campaigns", "The status of the token's own unit", "UnitDetail",
                params=("code",), errors=("Forbidden", "NotFound"),
                description="For a unit's token; an organizer's token gets 403.")},
            "/api/v1/campaigns/{code}/units/{unit_code}/submissions": {"post": _write(
                "recordSubmission", "submissions", "Record a dossier received through e-office or e-mail",
                "SubmissionIn", "Receipt", "record", params=unit_params, status="201",
                extra=("PayloadTooLarge", "Unavailable"),
                description="Classified by its received instant: on time, late within grace, or refused after "
                            "grace (409). A new version replaces the dossier in force and keeps the old one. "
                            "Send each document's SHA-256 (kept in e-office) or its content in base64 (stored "
                            "here, checked by content). A unit's token records for its own unit only.")},
            "/api/v1/campaigns/{code}/steps": {"post": _write(
                "markStep", "organizer", "Mark a step done, launch or cancel", "StepIn", "StepResult", "manage",
                params=("code",),
                description="The state machine of the web: a step that skips another needs a reason; the "
                            "submission period can never be closed early (move the deadline instead).")},
            "/api/v1/campaigns/{code}/milestones/{kind}/move": {"post": _write(
                "moveMilestone", "organizer", "Move the deadline or a later milestone, with a reason",
                "MilestoneMoveIn", "Timeline", "manage",
                params=("code", "kind"),
                description="Moving the deadline re-classifies the dossiers received (on time / late).")},
            "/api/v1/campaigns/{code}/units/{unit_code}/return": {"post": _write(
                "returnDossier", "organizer", "Return a dossier for correction, with a reason", "ReasonIn",
                "UnitDetail", "manage", params=unit_params)},
            "/api/v1/campaigns/{code}/units/{unit_code}/reinstate": {"post": _write(
                "reinstateUnit", "organizer", "Reinstate an excluded unit, with a written reason", "ReasonIn",
                "UnitDetail", "manage", params=unit_params,
                description="The reason stays on the unit's record.")},
            "/api/v1/workdays/add": {"get": _read(
                "addWorkdays", "workdays", "The end of a period of N (working) days counted from a date", "Period",
                params=("date", "days", "calendar_days"), errors=("Forbidden", "Unprocessable"),
                description="Working days by default; `calendar_days=true` counts calendar days and rolls a last "
                            "day that is not a working day forward (Civil Code art. 148). The period starts the "
                            "day after `date` and ends at 24:00 of its last day. Needs a `read` token: the "
                            "answer uses the token's organizer's calendar, with its local days off.")},
            "/api/v1/workdays/is-working": {"get": _read(
                "isWorkingDay", "workdays", "Whether a date is a working day, and why", "DayStatus",
                params=("day",), errors=("Forbidden", "Unprocessable"),
                description="With the token's organizer's calendar (national holidays, make-up Saturdays, "
                            "local days off).")},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "hc_<prefix>_<secret>",
                "description": "Scopes (named in each operation's security requirement): "
                               + "; ".join(f"`{k}`: {en}" for k, (vi, en) in SCOPES.items()) + "."}},
            "schemas": {**_schemas(), "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]}},
            "responses": _responses(),
            "parameters": {
                **_parameters(),
                "kind": {"name": "kind", "in": "path", "required": True, "description": "The milestone.",
                         "schema": _enum(["deadline", *MILESTONES]), "example": "deadline"},
                "date": {"name": "date", "in": "query", "required": True,
                         "description": "The date the period is counted from (YYYY-MM-DD, years 1900–2199).",
                         "schema": DATE, "example": "2019-10-25"},
                "day": {"name": "date", "in": "query", "required": True,
                        "description": "The date to ask about (YYYY-MM-DD, years 1900–2199).",
                        "schema": DATE, "example": "2019-09-02"},
                "days": {"name": "days", "in": "query", "required": True, "description": "How many days.",
                         "schema": {**INT, "minimum": 0, "maximum": MAX_DAYS}, "example": 5},
                "calendar_days": {"name": "calendar_days", "in": "query", "required": False,
                                  "description": "Count calendar days instead of working days.",
                                  "schema": {**BOOL, "default": False}},
            },
        },
    }


_SPEC: dict | None = None


def spec() -> dict:
    """The OpenAPI document (built once)."""
    global _SPEC
    if _SPEC is None:
        _SPEC = _build_spec()
    return _SPEC


# -- the rendered documentation ------------------------------------------------------------------------------------

def _resolve(doc: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _ref_name(node: dict) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    return ref.rsplit("/", 1)[-1] if ref else None


def describe_schema(doc: dict, node: dict):
    """A schema in a few words, as safe HTML: ``string (date-time) or null``, ``integer, 1–200, default 50``;
    a named schema is a link to its description."""
    name = _ref_name(node)
    if name:
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "anyOf" in node and any(n.get("type") == "null" for n in node["anyOf"]):
        others = [describe_schema(doc, n) for n in node["anyOf"] if n.get("type") != "null"]
        return Markup(" or ").join(others) + " or null"
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    main = [k for k in kinds if k != "null"]
    text = escape(" or ".join(main) or "null")
    if "array" in main and "items" in node:
        text = Markup("array of ") + describe_schema(doc, node["items"])
    if node.get("format"):
        text += f" ({node['format']})"
    if node.get("contentEncoding"):
        text += f" ({node['contentEncoding']})"
    notes = []
    if "enum" in node:
        notes.append("one of: " + ", ".join(str(v) for v in node["enum"]))
    if "minimum" in node and "maximum" in node:
        notes.append(f"{node['minimum']}–{node['maximum']}")
    elif "minimum" in node:
        notes.append(f"≥ {node['minimum']}")
    elif "maximum" in node:
        notes.append(f"≤ {node['maximum']}")
    if "minLength" in node or "maxLength" in node:
        notes.append(f"{node.get('minLength', 0)}–{node.get('maxLength', '…')} characters")
    if "maxItems" in node:
        notes.append(f"at most {node['maxItems']} items")
    if "pattern" in node:
        notes.append(f"pattern {node['pattern']}")
    if "default" in node:
        notes.append(f"default {json.dumps(node['default'])}")
    if "null" in kinds:
        notes.append("or null")
    return Markup(", ").join([text, *notes])


def schema_rows(doc: dict, node: dict, prefix: str = "", expand: bool = False, depth: int = 0) -> list[dict]:
    """One row per field of an object schema; nested objects (and, with ``expand``, references) flattened."""
    node = _resolve(doc, node)
    rows = []
    required = set(node.get("required", []))
    for key, prop in node.get("properties", {}).items():
        name = f"{prefix}{key}"
        target = _resolve(doc, prop)
        text = target.get("description", "") if "$ref" in prop else prop.get("description", "")
        rows.append({"name": name, "type": describe_schema(doc, prop), "required": key in required,
                     "description": inline_markdown(text)})
        if depth > 3:
            continue
        if target.get("type") == "object" and target.get("properties") and (expand or "$ref" not in prop):
            rows += schema_rows(doc, target, f"{name}.", expand, depth + 1)
        items = target.get("items")
        if target.get("type") == "array" and isinstance(items, dict):
            inner = _resolve(doc, items)
            if inner.get("properties") and (expand or "$ref" not in items):
                rows += schema_rows(doc, inner, f"{name}[].", expand, depth + 1)
    return rows


def _curl(method: str, path: str, op: dict, doc: dict, body_example: Any) -> str:
    url = path
    query = []
    for param in (_resolve(doc, p) for p in op.get("parameters", [])):
        example = param.get("example")
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(example if example is not None else "…"))
        elif param["in"] == "query" and param.get("required"):
            query.append(f"{param['name']}={example}")
    if query:
        url += "?" + "&".join(query)
    lines = ["curl -sS" + (f" -X {method.upper()}" if method != "get" else "")]
    if op.get("security", doc.get("security")):
        lines.append('  -H "Authorization: Bearer $HANCHOT_TOKEN"')
    if body_example is not None:
        lines.append('  -H "Content-Type: application/json"')
        lines.append('  -H "Idempotency-Key: $(uuidgen)"')
        payload = json.dumps(body_example, ensure_ascii=False, indent=2).replace("'", "'\\''")
        lines.append(f"  --data '{payload}'")
    lines.append(f'  "$HANCHOT_URL{url}"')
    return " \\\n".join(lines)


def inline_markdown(text: str):
    """``code`` and **bold** of a description, as safe HTML; everything else escaped."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def docs_model(doc: dict) -> dict:
    """What templates/api/docs.html shows, read from the OpenAPI document itself."""
    schemes = doc["components"]["securitySchemes"]
    sections = []
    for tag in doc["tags"]:
        operations = []
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                if tag["name"] not in op.get("tags", []):
                    continue
                security = op.get("security", doc.get("security", []))
                scopes = sorted({s for req in security for scheme in req for s in req[scheme]})
                params = []
                for p in op.get("parameters", []):
                    param = _resolve(doc, p)
                    params.append({"name": param["name"], "in": param["in"], "required": param.get("required", False),
                                   "type": describe_schema(doc, param.get("schema", {})),
                                   "description": inline_markdown(param.get("description", "")),
                                   "example": param.get("example")})
                body = None
                body_example = None
                if "requestBody" in op:
                    media = op["requestBody"]["content"]["application/json"]["schema"]
                    body_schema = _resolve(doc, media)
                    body_example = body_schema.get("example")
                    body = {"schema": _ref_name(media), "rows": schema_rows(doc, media, expand=True),
                            "example": json.dumps(body_example, ensure_ascii=False, indent=2)
                            if body_example is not None else None,
                            "notes": inline_markdown("Each document needs `sha256` or `content_base64` (or both).")
                            if _ref_name(media) == "SubmissionIn" else ""}
                responses = []
                for code, resp in sorted(op["responses"].items()):
                    resp_ref = _ref_name(resp)
                    resp = _resolve(doc, resp)
                    content = resp.get("content", {})
                    media_type = next(iter(content), None)
                    schema = content[media_type]["schema"] if media_type else None
                    responses.append({"code": code, "description": inline_markdown(resp.get("description", "")),
                                      "media_type": media_type, "schema": _ref_name(schema) if schema else None,
                                      "headers": list(resp.get("headers", {})), "ref": resp_ref})
                operations.append({
                    "id": op["operationId"], "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                    "description": inline_markdown(op.get("description", "")), "public": not security,
                    "scopes": scopes,
                    "parameters": params, "body": body, "responses": responses,
                    "curl": _curl(method, path, op, doc, body_example),
                })
        sections.append({"name": tag["name"], "description": tag.get("description", ""), "operations": operations})
    schemas = []
    for name, schema in doc["components"]["schemas"].items():
        if name == "OpenApiDocument":
            continue
        example = schema.get("example")
        schemas.append({"name": name, "description": schema.get("description", ""),
                        "rows": schema_rows(doc, schema),
                        "example": json.dumps(example, ensure_ascii=False, indent=2) if example is not None else None})
    return {"title": doc["info"]["title"], "version": doc["info"]["version"], "openapi": doc["openapi"],
            "intro": [inline_markdown(p.replace("\n", " ")) for p in doc["info"]["description"].strip().split("\n\n")],
            "security": {**schemes["bearerAuth"], "description": inline_markdown(schemes["bearerAuth"]["description"])},
            "sections": sections, "schemas": schemas}
