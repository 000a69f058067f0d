"""The mail outbox: every mail is a row first, written with the change that caused it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, inspect
from sqlalchemy.orm import Mapped, mapped_column

from workflow import revisions
from workflow.db import Model, UTCDateTime, utcnow

#: pending → sending → sent; pending → failed (5xx, or out of attempts);
#: pending → dropped (a reminder that stopped being true).  With no
#: MAIL_SERVER, rows stay pending: not sent, readable in the app.
STATUSES = ("pending", "sending", "sent", "failed", "dropped")


class OutboxMail(Model):
    """One message to one recipient."""

    __tablename__ = "outbox_mail"
    __table_args__ = (
        Index("ix_outbox_mail_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_mail_campaign_kind", "campaign_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: campaign:unit:rule:occurrence:recipient — unique, so whatever runs twice
    #: cannot queue the same mail twice.
    key: Mapped[str] = mapped_column(String(400), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    #: The rule: reminder, escalation, receipt, excluded, reinstated, returned,
    #: confirmation, results, digest, milestone.
    kind: Mapped[str] = mapped_column(String(32))
    occurrence: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    #: Stable across retries, so a receiving server can tell a message again.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    #: (The old value is kept when it changes: leaving "sent" or "failed" changes the dashboard,
    #: workflow/revisions.py.)
    status: Mapped[str] = mapped_column(String(16), default="pending", active_history=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A reminder is worth sending only until then (end of office hours).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The deadline a reminder was planned for; moved deadline → dropped.
    planned_deadline: Mapped[date | None] = mapped_column(Date)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The server's answer on failure, or why a row was dropped.
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def revision_scopes(self) -> Iterator[revisions.Scope]:
        """What a changed row changes on the pages (workflow/revisions.py): the dashboard shows mail sent
        (reminders) and failed; leaving either state counts too."""
        if self.campaign_id is not None:
            history = inspect(self).attrs.status.history
            if {self.status, *history.deleted} & {"sent", "failed"}:
                yield revisions.CAMPAIGN_UNITS, self.campaign_id
