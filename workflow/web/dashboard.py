"""The organizer's pages: campaigns, a campaign's dashboard, its actions, the outbox, the calendar."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..db import db
from ..models import Campaign, Participation
from .access import is_organizer_side, visible_unit_ids

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def home():
    """Send each person to where they work: the campaigns, or their unit's page."""
    if is_organizer_side(current_user):
        return redirect(url_for("dashboard.campaigns"))
    ids = visible_unit_ids(current_user) or set()
    row = db.session.execute(
        select(Campaign.code, Participation.unit_id).join(Participation, Participation.campaign_id == Campaign.id)
        .where(Participation.unit_id.in_(ids), Campaign.organizer_id == current_user.organizer_id)
        .order_by(Campaign.deadline.desc()).limit(1)).first()
    if row is None:
        return render_template("dashboard/no_campaign.html")
    from ..models import Unit

    unit = db.session.get(Unit, current_user.unit_id or row.unit_id)
    return redirect(url_for("units.page", code=row.code, unit_code=unit.code))


@bp.get("/campaigns")
@login_required
def campaigns():
    """List the organizer's campaigns."""
    rows = db.session.scalars(select(Campaign).where(Campaign.organizer_id == current_user.organizer_id)
                              .order_by(Campaign.deadline.desc())).all()
    return render_template("dashboard/campaigns.html", campaigns=rows)
