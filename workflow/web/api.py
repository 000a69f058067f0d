"""The JSON API for e-office systems and scripts: ``/api/v1/…`` (issue 6)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, detail_vi: str, detail_en: str, field: str | None = None, **extra) -> Response:
    """An ``application/problem+json`` answer with Vietnamese and English messages."""
    body = {"type": "about:blank", "title": detail_en, "status": status, "detail": detail_en,
            "detail_vi": detail_vi, **({"field": field} if field else {}), **extra}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")
