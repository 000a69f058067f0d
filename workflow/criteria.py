"""What is stored of the evaluation itself: criteria sets, the units' sheets, the verified
figures and the figures-confirmation rounds (issue 12).  The rules are in
``criteria_rules`` (pure) and the write side in ``evaluation``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import revisions
from .criteria_rules import CriteriaTree, FlatNode, Rule, build_tree, rule_from_dict
from .db import Model, UTCDateTime, db, utcnow


class CriteriaSet(Model):
    """A campaign's bộ tiêu chí for some groups of units (empty groups: all of them)."""

    __tablename__ = "criteria_set"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    #: The groups (khối) whose units fill this set; empty: every group.
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)

    criteria: Mapped[list[Criterion]] = relationship(back_populates="criteria_set", cascade="all, delete-orphan",
                                                     order_by="Criterion.position")

    def tree(self) -> CriteriaTree:
        return build_tree([c.flat() for c in self.criteria])

    def applies_to(self, group: str) -> bool:
        return not self.groups or group in self.groups

    def revision_scopes(self) -> Iterator[revisions.Scope]:
        """A set added, changed or removed changes the campaign's pages (the agency page links its sheet)."""
        yield revisions.CAMPAIGN, self.campaign_id


class Criterion(Model):
    """A section, criterion or sub-criterion of a set, in the order of the published sheet."""

    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("set_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("criteria_set.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    #: The code of the parent ("" at the top): the campaign's totals are summed by parent in SQL.
    parent_code: Mapped[str] = mapped_column(String(32), default="")
    title: Mapped[str] = mapped_column(Text)
    maximum: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    #: Empty for a section or a criterion with sub-criteria; else a kind of criteria_rules.KINDS.
    kind: Mapped[str] = mapped_column(String(16), default="")
    rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    guidance: Mapped[str] = mapped_column(Text, default="")
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_na: Mapped[bool] = mapped_column(Boolean, default=False)

    criteria_set: Mapped[CriteriaSet] = relationship(back_populates="criteria")

    def flat(self) -> FlatNode:
        maximum = Decimal(self.maximum)
        return FlatNode(self.code, self.title, maximum, self.kind,
                        rule_from_dict(self.kind, self.rule, maximum) if self.kind else Rule(),
                        self.guidance, frozenset(self.groups or ()), self.allow_na)


class Sheet(Model):
    """A unit's sheet in a campaign: its working copy, what it submitted, and the totals."""

    __tablename__ = "sheet"

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), unique=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("criteria_set.id", ondelete="CASCADE"), index=True)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    saved_by: Mapped[str] = mapped_column(String(255), default="")
    #: The last submission of the sheet (= of the dossier) and its version.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id", ondelete="SET NULL"))
    #: Totals as last computed (the working copy's, the submitted one's, the verified one's).
    draft_total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    claimed_total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    verified_total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))

    entries: Mapped[list[SheetEntry]] = relationship(back_populates="sheet", cascade="all, delete-orphan")

    def revision_scopes(self) -> Iterator[revisions.Scope]:
        """A sheet's state shows on its unit's page and the dashboard."""
        yield revisions.PARTICIPATION, self.participation_id


class SheetEntry(Model):
    """One criterion of a unit's sheet: claimed (draft and submitted), verified, answered."""

    __tablename__ = "sheet_entry"
    __table_args__ = (UniqueConstraint("sheet_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("sheet.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criterion.id", ondelete="CASCADE"), index=True)
    #: The working copy the unit saves (criteria_rules value form).
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What the unit submitted (copied from the draft on submission): the claimed value.
    claimed: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: What the verifier found, when it differs from the claim (None: the claim stands).
    verified: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The verifier's points, overriding the rule (a finding of the field inspection).
    verified_points: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    link_not_found: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Points by the rule, stored when the claim is submitted and when it is verified, so that a
    #: campaign's totals are sums (``sheets.campaign_scores``); the set cannot change once sheets exist.
    claimed_score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    verified_score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    verify_note: Mapped[str] = mapped_column(Text, default="")
    #: preliminary_review | field_inspection
    verify_stage: Mapped[str] = mapped_column(String(24), default="")
    verified_by: Mapped[str] = mapped_column(String(255), default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The unit's answer in the open or last confirmation round: confirmed | disputed | not_disputed_in_time
    response: Mapped[str] = mapped_column(String(24), default="")
    response_reason: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sheet: Mapped[Sheet] = relationship(back_populates="entries")
    criterion: Mapped[Criterion] = relationship()


class SheetFile(Model):
    """An evidence file attached to one criterion of a unit's sheet (stored as dossier documents are:
    ``storage.store_document``, generated name, original name and SHA-256 kept)."""

    __tablename__ = "sheet_file"
    __table_args__ = (Index("ix_sheet_file_sheet_criterion", "sheet_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("sheet.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criterion.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(128), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128), default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(255), default="")


class ConfirmationRound(Model):
    """The verified figures sent back to a unit to confirm by a deadline (seed 004)."""

    __tablename__ = "confirmation_round"
    __table_args__ = (Index("ix_confirmation_round_open", "closed_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by: Mapped[str] = mapped_column(String(255))
    working_days: Mapped[int] = mapped_column(Integer, default=3)
    #: The last local day to answer; the round ends at 24:00 of it (``due_at``, UTC).
    deadline: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "" while open · answered (every criterion answered) · lapsed (the deadline passed)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    disputed: Mapped[int] = mapped_column(Integer, default=0)

    def revision_scopes(self) -> Iterator[revisions.Scope]:
        """An open round shows on its unit's page."""
        yield revisions.PARTICIPATION, self.participation_id


def sets_of(campaign_id: int) -> list[CriteriaSet]:
    return list(db.session.scalars(select(CriteriaSet).where(CriteriaSet.campaign_id == campaign_id)
                                   .order_by(CriteriaSet.position, CriteriaSet.id)))


def has_criteria(campaign_id: int) -> bool:
    """Whether scores of this campaign come from criteria (then no single number is typed)."""
    return db.session.scalar(_has_criteria_statement(), {"campaign_id": campaign_id}) is not None


@cache
def _has_criteria_statement():
    return select(CriteriaSet.id).where(CriteriaSet.campaign_id == bindparam("campaign_id", type_=Integer)).limit(1)


def set_for(campaign_id: int, group: str) -> CriteriaSet | None:
    """The set a unit of ``group`` fills: the first listing the group, else one for every group."""
    sets = sets_of(campaign_id)
    return (next((s for s in sets if group in (s.groups or [])), None)
            or next((s for s in sets if not s.groups), None))
