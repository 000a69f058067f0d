"""Who may see and do what.  Every page and API call asks here.

An object of another organizer is reported as missing (404), never as
forbidden: a URL must not tell whether something exists elsewhere.
"""

from __future__ import annotations

from functools import cache

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import Integer, bindparam, exists, or_, select
from sqlalchemy.orm import joinedload

from workflow.criteria import CriteriaSet
from workflow.db import db
from workflow.models import Campaign, Participation, Unit, User

ORGANIZER_ROLES = ("organizer_admin", "council", "viewer")


def _user() -> User:
    if not current_user.is_authenticated:
        abort(401)
    return current_user  # type: ignore[return-value]


def visible_unit_ids(user: User) -> set[int] | None:
    """Units a user may see; None means every unit of the user's organizer."""
    if user.role in ORGANIZER_ROLES:
        return None
    if user.unit_id is None:
        return set()
    if user.role == "district_coordinator":
        ids = set(db.session.scalars(select(Unit.id).where(Unit.parent_id == user.unit_id)))
        return ids | {user.unit_id}
    return {user.unit_id}


def can_see_unit(user: User, unit: Unit) -> bool:
    if unit.organizer_id != user.organizer_id:
        return False
    ids = visible_unit_ids(user)
    return ids is None or unit.id in ids


def campaign_or_404(code: str, *, manage: bool = False) -> Campaign:
    """The campaign if the signed-in user may see it (manage: change it)."""
    user = _user()
    unit_side = user.role not in ORGANIZER_ROLES
    if unit_side and user.unit_id is None:
        abort(404)
    shape = ("district" if user.role == "district_coordinator" else "unit") if unit_side else "organizer"
    row = db.session.execute(_campaign_statement(shape), {"code": code, "unit_id": user.unit_id}).unique().first()
    campaign = row[0] if row else None
    if campaign is None or campaign.organizer_id != user.organizer_id or (unit_side and not row.takes_part):
        abort(404)
    if request.method in ("GET", "HEAD"):  # a page that only reads: known_criteria answers its has_criteria
        g.setdefault("known_criteria", {})[campaign.id] = bool(row.has_criteria)
    if manage and user.role != "organizer_admin":
        abort(403)
    return campaign


@cache
def _campaign_statement(shape: str):
    """The campaign by its code, with its organizer (time zone) and milestones (timeline), which every campaign
    page reads, whether its scores come from criteria (the pages' links), and for a unit's people (``shape``
    unit or district) whether one of their units takes part: one statement, built once per shape (bound: code,
    unit_id)."""
    query = select(Campaign, exists().where(CriteriaSet.campaign_id == Campaign.id).label("has_criteria")).where(
        Campaign.code == bindparam("code")).options(joinedload(Campaign.organizer), joinedload(Campaign.milestones))
    if shape == "organizer":
        return query
    unit_id = bindparam("unit_id", type_=Integer)
    units = select(Unit.id).where(or_(Unit.id == unit_id, Unit.parent_id == unit_id)) \
        if shape == "district" else [unit_id]
    return query.add_columns(exists().where(Participation.campaign_id == Campaign.id,
                                            Participation.unit_id.in_(units)).label("takes_part"))


def known_criteria(campaign_id: int) -> bool | None:
    """Whether the campaign's scores come from criteria, as read with the campaign on this GET request."""
    return g.get("known_criteria", {}).get(campaign_id)


def unit_or_404(campaign: Campaign, unit_code: str) -> Unit:
    user = _user()
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == unit_code))
    if unit is None or not can_see_unit(user, unit):
        abort(404)
    return unit


def require_roles(*roles: str) -> User:
    user = _user()
    if user.role not in roles:
        abort(403)
    return user


def is_organizer_side(user: User) -> bool:
    return user.role in ORGANIZER_ROLES


def may_manage(user: User) -> bool:
    return user.role == "organizer_admin"
