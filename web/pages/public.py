"""The public results pages (no sign-in): the published campaigns, and each one's decision and ranking.

Only what was published is shown: the figures frozen by ``awards.publish`` (the decision's
``published_results``), never the live scores, and no campaign whose results are not published."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from web.pages.dashboard import group_name
from workflow import awards
from workflow.db import db
from workflow.models import Campaign

bp = Blueprint("public", __name__)


@bp.get("/ket-qua")
def index():
    return render_template("public/index.html", rows=awards.published_campaigns())


@bp.get("/ket-qua/<code>")
def results(code: str):
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == code))
    decision = awards.decision_of(campaign) if campaign is not None else None
    if campaign is None or decision is None or decision.published_at is None or campaign.state != "approved":
        abort(404)
    groups: dict[str, list[dict]] = {}
    for row in decision.published_results or []:
        groups.setdefault(row["group"], []).append(row)
    for items in groups.values():
        items.sort(key=lambda r: (r["rank"], r["unit"]))
    return render_template("public/results.html", campaign=campaign, decision=decision, groups=groups,
                           group_name=group_name, tiers=campaign.tiers or [])
