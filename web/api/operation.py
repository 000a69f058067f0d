"""How an API operation runs: its contract stated once (``@operation``), the token, answers, idempotent writes.

``@operation`` names the models of ``web/api/models.py`` that an operation
accepts and answers; it authenticates the bearer token, checks its scope,
validates the path, query string, headers and body against the models
(spectree), and registers the operation in the OpenAPI document
(``web/api/openapi.py``).  A failure is a bilingual problem
(``web/api/problems.py``); so is a refusal by the domain (``OperationError``).
Nothing here is written per operation: the views are in ``web/api/views.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from spectree import Response as Answers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from web.api import models as m
from web.api.openapi import PROBLEMS, describe, spec
from web.api.problems import ApiError, from_validation_error, invalid, not_found, problem, problem_body
from web.api.types import encode_cursor
from workflow import operations as ops
from workflow.api_tokens import SCOPES, authenticate, touch
from workflow.db import db, utcnow
from workflow.models import IdempotencyRecord
from workflow.periods import REPAIR_EN, REPAIR_VI, DateOutOfRange
from workflow.storage import remove_stored

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
                   "kind": ("Không có mốc thời gian này", "No such milestone"),
                   "criterion": ("Không có tiêu chí này", "No such criterion"),
                   "file_id": ("Không tìm thấy tệp minh chứng", "No such evidence file")}


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


def operation(operation_id: str, tag, *, scope: str | None, answer: type[BaseModel] | None, status: int = 200,
              query: type[BaseModel] = m.NoQuery, body: type[BaseModel] | None = None,
              path: type[BaseModel] | None = None, errors: tuple[int, ...] = (), organizer_only: bool = False,
              public: bool = False, binary: str | None = None) -> Callable:
    """The contract of one operation, stated once: it validates the request and documents the operation.

    The view is called as ``view(token, path, query, body)`` with the validated models (``path``, ``query``
    and ``body`` only when the operation has them).  Its docstring is the summary (first line) and the
    description of the operation.  ``scope`` is the one it needs (``None``: any valid token; ``public``:
    no token); ``errors`` the problem statuses it answers besides 401, 403 and 422.  ``binary``: the answer
    is a file of this media type (``answer`` is then None; the document states the type).
    """
    if (answer is None) != (binary is not None):
        raise TypeError(f"{operation_id}: an answer model, or a binary media type")
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
            except DateOutOfRange as exc:  # stored data out of range: say so, and how to repair it
                db.session.rollback()
                return problem(409, f"{exc.message_vi} {REPAIR_VI}", f"{exc.message_en} {REPAIR_EN}", exc.what)

        describe(operation_id, path_model=path, write=write, public=public, binary=binary)
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


def file_answer(data: bytes, mimetype: str, filename: str) -> Response:
    """A file to download, with an ETag (a hash of its bytes); 304 when the client already has it."""
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization",
               "Content-Disposition": f'attachment; filename="{filename}"'}
    if request.method in ("GET", "HEAD") and _etag_matches(etag):
        return Response(status=304, headers=headers)
    return Response(data, status=200, mimetype=mimetype, headers=headers)


def touch_and_commit(token) -> None:
    if token is not None and touch(token, utcnow()):
        db.session.commit()


# -- cursor pagination ---------------------------------------------------------------------------------------------

def paged(rows: list, limit: int, key: Callable[[Any], int], item: Callable[[Any], dict]) -> dict:
    """A page from rows fetched as ``limit + 1``: the items, and the cursor of the next page (None on the last)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [item(r) for r in rows], "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}


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
        except DateOutOfRange as exc:
            db.session.rollback()
            _remove_stored()
            status, payload = 409, problem_body(409, f"{exc.message_vi} {REPAIR_VI}", f"{exc.message_en} {REPAIR_EN}",
                                                exc.what)
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
