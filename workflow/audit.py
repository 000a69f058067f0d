"""The audit trail: one entry for every change that matters."""

from __future__ import annotations

from datetime import datetime

from .db import db, utcnow
from .models import AuditEvent

SYSTEM = "system"


def record(*, actor: str, action: str, organizer_id: int | None = None, campaign_id: int | None = None,
           unit_id: int | None = None, from_value: object = "", to_value: object = "", reason: str = "",
           at: datetime | None = None) -> AuditEvent:
    """Add an audit entry to the session; the boundary commits it with the change."""
    event = AuditEvent(actor=actor or SYSTEM, action=action, organizer_id=organizer_id, campaign_id=campaign_id,
                       unit_id=unit_id, from_value=str(from_value or ""), to_value=str(to_value or ""),
                       reason=reason or "", at=at or utcnow())
    db.session.add(event)
    return event
