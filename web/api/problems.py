"""Errors of the API: ``application/problem+json`` with ``detail`` (English), ``detail_vi`` and ``field``.

Shared with the pages' error handlers (``web/common.py``): any answer on an
``/api/`` path is a problem, whatever raised it.  A pydantic validation error
of the contract (``web/api/models.py``) is worded here, in both languages.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import Response, request
from pydantic import ValidationError


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem_body(status: int, detail_vi: str, detail_en: str, field: str | None = None, **extra) -> dict:
    """RFC 9457 members (the title is the status phrase), ``detail_vi``, and the field at fault."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = detail_en
    return {"type": "about:blank", "title": title, "status": status, "detail": detail_en, "detail_vi": detail_vi,
            **({"field": field} if field else {}), **extra}


def problem(status: int, detail_vi: str, detail_en: str, field: str | None = None, **extra) -> Response:
    """An ``application/problem+json`` answer with Vietnamese and English messages."""
    body = problem_body(status, detail_vi, detail_en, field, **extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


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


def not_found(what_vi: str = "Không tìm thấy", what_en: str = "Not found", field: str | None = None) -> ApiError:
    return ApiError(404, f"{what_vi}, hoặc token này không được xem.", f"{what_en}, or this token may not see it.",
                    field)


def invalid(field: str, vi: str, en: str, status: int = 422) -> ApiError:
    return ApiError(status, vi, en, field)


def safe(text: str, limit: int = 60) -> str:
    """User text fit to be echoed in a message: printable, valid UTF-8, short."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


# -- a validation error of the contract, in words -------------------------------------------------------------------

def field_of(loc: tuple[Any, ...]) -> str:
    """``("documents", 0, "sha256")`` → ``documents[0].sha256``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _words(error: dict[str, Any], field: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "hanchot":
        return ctx["vi"].replace("{field}", field), ctx["en"].replace("{field}", field)
    if kind == "extra_forbidden":
        if error.get("where") == "query":
            only_vi = f" (chỉ: {', '.join(allowed)})." if allowed else "."
            only_en = f" (only: {', '.join(allowed)})." if allowed else "."
            return (f"Tham số “{field}” không được hỗ trợ ở đây{only_vi}",
                    f"Parameter “{field}” is not accepted here{only_en}")
        return f"Trường “{field}” không được hỗ trợ ở đây.", f"Field “{field}” is not accepted here."
    if kind == "missing":
        return f"Thiếu “{field}”.", f"“{field}” is required."
    if kind == "string_type":
        return f"“{field}” phải là chuỗi ký tự.", f"“{field}” must be a string."
    if kind == "string_too_short":
        return f"“{field}” không được để trống.", f"“{field}” must not be blank."
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return f"“{field}” dài quá {n} ký tự.", f"“{field}” is longer than {n} characters."
    if kind == "string_pattern_mismatch":
        return (f"“{field}” không đúng dạng ({ctx.get('pattern')}).",
                f"“{field}” does not have the expected form ({ctx.get('pattern')}).")
    if kind in ("literal_error", "enum"):
        choices = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"“{field}” phải là một trong: {choices}.", f"“{field}” must be one of: {choices}."
    if kind in ("int_type", "int_parsing", "int_from_float", "greater_than_equal", "less_than_equal",
                "greater_than", "less_than"):
        low, high = ctx.get("ge"), ctx.get("le")
        bounds_vi = f" (≥ {low})" if low is not None else (f" (≤ {high})" if high is not None else "")
        bounds_en = bounds_vi
        return (f"“{field}” phải là số nguyên không âm{bounds_vi}." if low == 0 else
                f"“{field}” phải là số nguyên{bounds_vi}.",
                f"“{field}” must be a whole number, not negative{bounds_en}." if low == 0 else
                f"“{field}” must be a whole number{bounds_en}.")
    if kind in ("list_type", "too_long", "too_short"):
        n = ctx.get("max_length")
        return ((f"“{field}” phải là danh sách tối đa {n} mục.", f"“{field}” must be a list of at most {n} items.")
                if n is not None else (f"“{field}” phải là một danh sách.", f"“{field}” must be a list."))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"“{field}” phải là một đối tượng.", f"“{field}” must be an object."
    return f"“{field}” không hợp lệ.", f"“{field}” is invalid."


def from_validation_error(err: ValidationError, where: str, allowed: tuple[str, ...] = ()) -> ApiError:
    """The first error (an unknown field or parameter first, as it hides the others) as a 422 naming its field.

    ``where`` is ``query``, ``headers`` or ``body``; ``allowed`` the parameters a query accepts.
    An unknown field is named by itself (``owner``), as the documents of docs/api.md show."""
    errors = sorted(err.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    error = {**errors[0], "where": where}
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "extra_forbidden":
        field = safe(str(loc[-1])) if loc else "body"
    else:
        field = field_of(loc + ((ctx["at"],) if ctx.get("at") else ()))
    vi, en = _words(error, field, allowed)
    return ApiError(422, vi, en, field)
