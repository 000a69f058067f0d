"""What the award step stores: the units proposed for an award, and the People's Committee decision.

Award dossiers themselves are ``Submission`` rows of kind ``award`` (workflow/awards.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Model, UTCDateTime, utcnow
from .models import Participation


class AwardProposal(Model):
    """A unit proposed for an award (từ kết quả xếp hạng, or changed by hand with a reason)."""

    __tablename__ = "award_proposal"
    __table_args__ = (UniqueConstraint("campaign_id", "participation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"))
    #: True when the ranking proposed it; False when added by hand (``reason`` says why).
    from_ranking: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    proposed_by: Mapped[str] = mapped_column(String(255))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: not_submitted | on_time | late
    dossier_status: Mapped[str] = mapped_column(String(32), default="not_submitted")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_working_days: Mapped[int] = mapped_column(Integer, default=0)

    participation: Mapped[Participation] = relationship()


class CampaignDecision(Model):
    """The People's Committee decision approving the results, and when they were published."""

    __tablename__ = "campaign_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), unique=True)
    #: e.g. ``2950/QĐ-UBND``
    number: Mapped[str] = mapped_column(String(128))
    decided_on: Mapped[date] = mapped_column(Date)
    #: The signer's title and name, e.g. ``KT. CHỦ TỊCH, PHÓ CHỦ TỊCH Nguyễn Văn Vĩnh``.
    signer: Mapped[str] = mapped_column(String(255))
    original_name: Mapped[str] = mapped_column(String(255), default="")
    stored_name: Mapped[str] = mapped_column(String(128), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The figures as published (the public page shows these and nothing else).
    published_results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
