"""Where the links in mail go: each mail points at its recipient's own page on ``APP_URL``.

- a unit's mail (reminder, receipt, returned, …): the agency's page for the campaign, at the
  section the mail is about (the ids in templates/unit/page.html);
- the organizer's and the council's mail (digest, milestone): the campaign's dashboard, filtered
  as the list in the mail is (``?status=not_submitted``);
- sign-in and reset links: their own single-use address (web/pages/auth.py).

The paths repeat the routes of web/pages/unit.py and web/pages/dashboard.py (notifications may not
import web); tests/test_mail_links.py opens them in a browser as their recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from flask import current_app

from workflow.models import Campaign, Unit


def app_url_from(environ: Mapping[str, object]) -> str:
    """``APP_URL`` when set; otherwise the address ``make run`` serves on, from ``HOST`` and ``PORT``
    (default http://127.0.0.1:5000).  A wildcard host (0.0.0.0, ::) names no machine: links then
    use 127.0.0.1, and an installation reached from elsewhere sets APP_URL."""
    if environ.get("APP_URL"):
        return str(environ["APP_URL"]).rstrip("/")
    host = str(environ.get("HOST") or "127.0.0.1")
    if host in ("0.0.0.0", "::", "[::]", "*"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{environ.get('PORT') or 5000}"


def app_link(path: str) -> str:
    """``APP_URL`` + a path of the app (the routes of web/pages), or "" when APP_URL is not set."""
    base = (current_app.config.get("APP_URL") or "").rstrip("/")
    return base + path if base else ""


def unit_page_link(campaign: Campaign, unit: Unit, anchor: str = "") -> str:
    """The agency's page for the campaign (its dossier, receipt, upload form: web/pages/unit.py)."""
    path = f"/campaigns/{quote(campaign.code, safe='')}/units/{quote(unit.code, safe='')}"
    return app_link(path + (f"#{anchor}" if anchor else ""))


def dashboard_link(campaign: Campaign, anchor: str = "", **filters: str) -> str:
    """The campaign's dashboard (web/pages/dashboard.py), filtered as given."""
    query = f"?{urlencode(filters)}" if filters else ""
    return app_link(f"/campaigns/{quote(campaign.code, safe='')}{query}" + (f"#{anchor}" if anchor else ""))


#: The part of the agency's page each mail to a unit points at (ids in templates/unit/page.html).
UNIT_ANCHORS = {"reminder": "nop-ho-so", "organizer_reminder": "nop-ho-so", "escalation": "trang-thai", "receipt": "bien-nhan",
                "returned": "nop-ho-so", "confirmation": "xac-nhan", "reinstated": "trang-thai",
                "excluded": "trang-thai", "results": "trang-thai"}
