"""What the pages read of the outbox: reminders sent per unit, failed mail,
the organizer's outbox listing, all scoped to one organizer or campaign."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from workflow.db import db
from workflow.models import Campaign, User

from .models import OutboxMail

#: Outbox mail kinds that count as reminders sent to a unit.
REMINDER_KINDS = ("reminder", "escalation", "organizer_reminder")

def _sent_reminders(campaign_id) -> list:
    return [OutboxMail.campaign_id == campaign_id, OutboxMail.kind.in_(REMINDER_KINDS), OutboxMail.status == "sent"]


def reminders_query(campaign_id):
    """(unit_id, n): reminders and escalations sent, per unit, of the campaign ``campaign_id`` (a value or a
    bound parameter), as a statement to join (``workflow.dashboard.unit_page``'s sort by them)."""
    return select(OutboxMail.unit_id.label("unit_id"), func.count().label("n")).where(
        *_sent_reminders(campaign_id), OutboxMail.unit_id.is_not(None)).group_by(OutboxMail.unit_id)


def reminder_count(campaign_id, unit_id):
    """The reminders and escalations of the campaign ``campaign_id`` sent to the unit ``unit_id`` (a column),
    as a correlated count (``workflow.dashboard.unit_page`` asks it for the page's rows only)."""
    return (select(func.count()).select_from(OutboxMail)
            .where(*_sent_reminders(campaign_id), OutboxMail.unit_id == unit_id).scalar_subquery())


def failed_mail(campaign: Campaign, limit: int = 50) -> tuple[int, list[OutboxMail]]:
    """Mail of the campaign that failed for good: how many, and the latest."""
    where = and_(OutboxMail.campaign_id == campaign.id, OutboxMail.status == "failed")
    total = db.session.scalar(select(func.count()).select_from(OutboxMail).where(where)) or 0
    if not total:
        return 0, []
    rows = db.session.scalars(select(OutboxMail).where(where)
                              .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()).limit(limit)).all()
    return total, list(rows)


#: Sign-in mail: not tied to a campaign, shown to the admins of the recipient's organizer.
ACCOUNT_KINDS = ("signin_link", "password_reset")
#: The outbox filter: a name → the statuses it covers.
OUTBOX_FILTERS = {"pending": ("pending", "sending"), "sent": ("sent",), "failed": ("failed",),
                  "dropped": ("dropped",)}


def _outbox_scope(organizer_id: int):
    own_users = select(User.email).where(User.organizer_id == organizer_id)
    own_campaigns = select(Campaign.id).where(Campaign.organizer_id == organizer_id)
    return or_(OutboxMail.campaign_id.in_(own_campaigns),
               and_(OutboxMail.campaign_id.is_(None), OutboxMail.kind.in_(ACCOUNT_KINDS),
                    OutboxMail.recipient.in_(own_users)))


def outbox_counts(organizer_id: int) -> dict[str, int]:
    rows = db.session.execute(select(OutboxMail.status, func.count()).where(_outbox_scope(organizer_id))
                              .group_by(OutboxMail.status)).all()
    by_status = dict(rows)
    return {name: sum(by_status.get(s, 0) for s in statuses) for name, statuses in OUTBOX_FILTERS.items()}


def outbox_page(organizer_id: int, status: str, page: int, per_page: int = 50):
    query = select(OutboxMail).where(_outbox_scope(organizer_id))
    if status in OUTBOX_FILTERS:
        query = query.where(OutboxMail.status.in_(OUTBOX_FILTERS[status]))
    return db.paginate(query.order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()),
                       page=page, per_page=per_page, error_out=False)


def outbox_mail(organizer_id: int, mail_id: int) -> OutboxMail | None:
    return db.session.scalar(select(OutboxMail).where(OutboxMail.id == mail_id, _outbox_scope(organizer_id)))
