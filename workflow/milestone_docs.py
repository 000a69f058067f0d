"""The documents that set or moved a milestone: the launching letter for the deadline, the council's
decision for the inspection schedule, the approval decision… (number, date, issuer, the file).

A milestone keeps every document cited for it, newest last; the timeline shows the newest.  A letter
generated here (workflow/letters.py), signed outside, is attached back the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from . import revisions
from .audit import record
from .db import Model, UTCDateTime, db, utcnow
from .models import Campaign
from .storage import StoredDocument
from .timeline import MILESTONES

KINDS = ("deadline", *MILESTONES)


class MilestoneDocument(Model):
    """One document cited for a milestone of a campaign."""

    __tablename__ = "milestone_document"
    __table_args__ = (Index("ix_milestone_document_campaign_kind", "campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    #: deadline | a milestone kind
    kind: Mapped[str] = mapped_column(String(32))
    #: e.g. ``1270/STTTT-CNTT&BCVT``
    number: Mapped[str] = mapped_column(String(128))
    issued_on: Mapped[date | None] = mapped_column()
    #: e.g. ``Sở Thông tin và Truyền thông``, ``Hội đồng thẩm định``
    issuer: Mapped[str] = mapped_column(String(255), default="")
    original_name: Mapped[str] = mapped_column(String(255), default="")
    stored_name: Mapped[str] = mapped_column(String(128), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentRefused(ValueError):
    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi, self.message_en = message_vi, message_en


@dataclass(frozen=True)
class DocumentInput:
    number: str
    issued_on: date | None
    issuer: str = ""
    original_name: str = ""
    stored: StoredDocument | None = None


def attach(campaign: Campaign, kind: str, doc: DocumentInput, *, actor: str, now: datetime) -> MilestoneDocument:
    """Cite a document for a milestone (the caller commits)."""
    if kind not in KINDS:
        raise DocumentRefused(f"Không có mốc thời gian “{kind}”.", f"No milestone called {kind!r}.")
    if kind != "deadline" and kind not in {m.kind for m in campaign.milestones}:
        raise DocumentRefused(f"Đợt đánh giá {campaign.code} không có mốc “{MILESTONES[kind][0]}”.",
                              f"Campaign {campaign.code} has no milestone {kind!r}.")
    if not doc.number.strip():
        raise DocumentRefused("Cần số, ký hiệu của văn bản.", "The document's number is required.")
    row = MilestoneDocument(campaign_id=campaign.id, kind=kind, number=doc.number.strip(), issued_on=doc.issued_on,
                            issuer=doc.issuer.strip(), original_name=doc.original_name if doc.stored else "",
                            stored_name=doc.stored.stored_name if doc.stored else "",
                            sha256=doc.stored.sha256 if doc.stored else "", recorded_by=actor, recorded_at=now)
    db.session.add(row)
    record(actor=actor, action="milestone.document", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           to_value=f"{kind} {row.number} {row.issued_on or ''} {row.issuer}".strip(), at=now)
    revisions.touch(db.session(), (revisions.CAMPAIGN, campaign.id))
    db.session.flush()
    return row


def documents_of(campaign: Campaign) -> dict[str, MilestoneDocument]:
    """The newest document of each milestone."""
    out: dict[str, MilestoneDocument] = {}
    for row in db.session.scalars(select(MilestoneDocument).where(MilestoneDocument.campaign_id == campaign.id)
                                  .order_by(MilestoneDocument.id)):
        out[row.kind] = row
    return out


def history_of(campaign: Campaign, kind: str) -> list[MilestoneDocument]:
    """Every document cited for one milestone, oldest first."""
    return list(db.session.scalars(select(MilestoneDocument).where(
        MilestoneDocument.campaign_id == campaign.id, MilestoneDocument.kind == kind).order_by(MilestoneDocument.id)))


def describe(row: MilestoneDocument) -> str:
    """``Văn bản 1270/STTTT-CNTT&BCVT ngày 07/10/2019 của Sở …``"""
    text = f"Văn bản {row.number}"
    if row.issued_on:
        text += f" ngày {row.issued_on:%d/%m/%Y}"
    if row.issuer:
        text += f" của {row.issuer}"
    return text


def as_dict(row: MilestoneDocument) -> dict[str, str | None]:
    """The ``status --json`` form: number, date, issuer, the file's SHA-256."""
    return {"number": row.number, "date": row.issued_on.isoformat() if row.issued_on else None,
            "issuer": row.issuer, "sha256": row.sha256 or None}
