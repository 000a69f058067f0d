"""What is stored: organizers, units, campaigns, submissions, the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Model, UTCDateTime, utcnow


class Organizer(Model):
    """A provincial department that runs campaigns (one province's DIC)."""

    __tablename__ = "organizer"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code used in files and the CLI, e.g. ``TGG`` for Tiền Giang.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    province: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")

    units: Mapped[list[Unit]] = relationship(back_populates="organizer")
    campaigns: Mapped[list[Campaign]] = relationship(back_populates="organizer")


class Unit(Model):
    """An agency taking part in campaigns."""

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("organizer_id", "code"),
        # The organizer's units in code order as the pages sort them (migration e3a7c5d90b14): PostgreSQL only,
        # SQLite's default order is bytewise already.
        Index("ix_unit_organizer_code_bytewise", "organizer_id", text('code COLLATE "C"')).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    #: The khối: department, district, vertical, commune, ...
    group: Mapped[str] = mapped_column(String(64), index=True)
    #: A district over its communes.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    #: The head's address, copied on escalations.
    head_email: Mapped[str] = mapped_column(String(255), default="")
    #: Focal-point addresses, one or more.
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Language of the mail sent to this unit: vi or en.
    language: Mapped[str] = mapped_column(String(8), default="vi")

    organizer: Mapped[Organizer] = relationship(back_populates="units")
    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Campaign(Model):
    """A yearly evaluation campaign with its deadline and timeline."""

    __tablename__ = "campaign"
    __table_args__ = (CheckConstraint("grace_working_days >= 0", name="grace_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    #: The launching letter, e.g. ``1270/STTTT-CNTT&BCVT``.
    document_number: Mapped[str] = mapped_column(String(128), default="")
    document_date: Mapped[date | None] = mapped_column(Date)
    data_period_start: Mapped[date | None] = mapped_column(Date)
    data_period_end: Mapped[date | None] = mapped_column(Date)
    #: The submission deadline: a local date that ends at 24:00.
    deadline: Mapped[date] = mapped_column(Date)
    grace_working_days: Mapped[int] = mapped_column(Integer, default=0)
    #: The state last recorded; the state shown is derived from it and the clock.
    state: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    #: Rating tiers, best first: [{"name": "Tốt", "min": 100}, ...].
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: Documents each group must send: {"department": ["Báo cáo ...", ...]}.
    required_documents: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    #: Whether communes are nominated by their district (seed 000).
    commune_nomination: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Reminder rules (notifications/rules.py); None: the defaults.
    reminder_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The appraisal council's addresses, reminded of later milestones.
    council_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Without criteria: the highest score a unit can have is score_maximum + score_bonus.
    score_maximum: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(100), server_default="100")
    score_bonus: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0), server_default="0")
    #: A correction (a new version) of a dossier received on time keeps its on-time standing.
    correction_keeps_on_time: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The campaign of the year before this one was cloned from (workflow/yearly.py).
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"), index=True)

    organizer: Mapped[Organizer] = relationship(back_populates="campaigns")
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="Milestone.id"
    )
    participations: Mapped[list[Participation]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan"
    )


class Milestone(Model):
    """A later step of a campaign's timeline: a date or a date range."""

    __tablename__ = "milestone"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    #: preliminary_review | field_inspection | award_notice | award_dossiers |
    #: approval | publication
    kind: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)

    campaign: Mapped[Campaign] = relationship(back_populates="milestones")


class Participation(Model):
    """A unit's place in a campaign: its status, scores and nomination."""

    __tablename__ = "participation"
    __table_args__ = (
        UniqueConstraint("campaign_id", "unit_id"),
        Index("ix_participation_campaign_status", "campaign_id", "status"),
        # The score that counts (dashboard.py ranks by it): the index gives the planner its statistics, so
        # that ranking a campaign whose units have no score yet is not a scan of all its participations.
        Index("ix_participation_campaign_score", "campaign_id", text("coalesce(verified_score, self_score)")),
        # The days late of a piece of the late order (dashboard._cell_pieces): a few units 3 days late are
        # read by the index, not found by walking every unit.
        Index("ix_participation_campaign_late", "campaign_id", "late_working_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    #: not_submitted | on_time | late | excluded | returned | resubmitted |
    #: confirmed | verified
    status: Mapped[str] = mapped_column(String(32), default="not_submitted")
    #: The received instant of the dossier in force.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Working days late (0 when on time).
    late_working_days: Mapped[int] = mapped_column(Integer, default=0)
    #: When an on-time dossier was last corrected (a new version that kept its on-time standing).
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    excluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The written reason a unit was reinstated after exclusion.
    reinstated_reason: Mapped[str] = mapped_column(Text, default="")
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why the dossier was returned for correction (kept while it is).
    returned_reason: Mapped[str] = mapped_column(Text, default="")
    #: When the figures were sent back to the unit to confirm (seed 004).
    confirmation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    self_score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    verified_score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    #: For communes: nominated by its district to go on to the province.
    nominated: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign: Mapped[Campaign] = relationship(back_populates="participations")
    unit: Mapped[Unit] = relationship()
    #: The evaluation dossier's versions; award dossiers (kind ``award``) are read by workflow/awards.py.
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="participation", cascade="all, delete-orphan", order_by="Submission.version",
        primaryjoin="and_(Participation.id == Submission.participation_id, Submission.kind == 'evaluation')"
    )


class Submission(Model):
    """One version of a unit's dossier, as received."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("participation_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), index=True)
    #: evaluation (the self-assessment dossier) | award (hồ sơ đề nghị khen thưởng)
    kind: Mapped[str] = mapped_column(String(16), default="evaluation", server_default="evaluation")
    version: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: upload | eoffice | email
    channel: Mapped[str] = mapped_column(String(16))
    #: The incoming document number (số đến) for e-office and e-mail.
    doc_number: Mapped[str] = mapped_column(String(128), default="")
    recorded_by: Mapped[str] = mapped_column(String(255))
    receipt_number: Mapped[str] = mapped_column(String(64), unique=True)
    late_working_days: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participation: Mapped[Participation] = relationship(back_populates="submissions")
    documents: Mapped[list[SubmissionDocument]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )


class SubmissionDocument(Model):
    """A file of a dossier: stored under a generated name, original name kept."""

    __tablename__ = "submission_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    #: Empty when only the SHA-256 was recorded (documents kept in e-office).
    stored_name: Mapped[str] = mapped_column(String(128), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128), default="")

    submission: Mapped[Submission] = relationship(back_populates="documents")


class AuditEvent(Model):
    """Who did what, when, from what to what, and why."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A user's e-mail or name, or ``system``.
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("organizer.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    from_value: Mapped[str] = mapped_column(Text, default="")
    to_value: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class CalendarOverride(Model):
    """A local day off (a storm) or an extra working day, with its decision."""

    __tablename__ = "calendar_override"
    __table_args__ = (
        UniqueConstraint("organizer_id", "day"),
        CheckConstraint("kind IN ('day_off', 'working_day')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None: applies to every organizer.
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("organizer.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    #: The document that decided it, e.g. ``Quyết định 123/QĐ-UBND``.
    document: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(255), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organizer: Mapped[Organizer | None] = relationship()


class HolidayDecision(Model):
    """An organizer admin's (or the operator's, for everyone) decision on a day off the holidays package
    lists but no enacted source confirms (24/11/2026 "Ngày Văn hóa Việt Nam"): confirmed (it stays a day
    off, citing the document) or rejected (a working day in that scope), with the document that decided it."""

    __tablename__ = "holiday_decision"
    __table_args__ = (
        UniqueConstraint("organizer_id", "day"),
        CheckConstraint("decision IN ('confirmed', 'rejected')", name="decision_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None: decided for every organizer.
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("organizer.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    decision: Mapped[str] = mapped_column(String(16))
    #: The package's name of the day, as it was decided (``Ngày Văn hóa Việt Nam``).
    name: Mapped[str] = mapped_column(String(255))
    doc_number: Mapped[str] = mapped_column(String(128))
    doc_date: Mapped[date] = mapped_column(Date)
    doc_issuer: Mapped[str] = mapped_column(String(255))
    #: The document's file, when one was given (stored like milestone documents).
    original_name: Mapped[str] = mapped_column(String(255), default="")
    stored_name: Mapped[str] = mapped_column(String(128), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organizer: Mapped[Organizer | None] = relationship()

    @property
    def confirmed(self) -> bool:
        return self.decision == "confirmed"


#: Roles: what each may do is decided in web/access.py.
ROLES = {
    "organizer_admin": ("Quản trị đợt đánh giá (Sở)", "Organizer admin"),
    "council": ("Thành viên Hội đồng thẩm định", "Council member"),
    "district_coordinator": ("Điều phối cấp huyện", "District coordinator"),
    "focal_point": ("Đầu mối đơn vị", "Agency focal point"),
    "viewer": ("Người xem", "Viewer"),
}


class User(Model):
    """A person who signs in; belongs to one organizer, and for some roles to one unit."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(
        "role IN ('organizer_admin', 'council', 'district_coordinator', 'focal_point', 'viewer')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    #: Empty for people who only sign in through links sent by mail.
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(32))
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    #: The unit of a focal point; the district of a district coordinator.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Raised by a sign-out, a password change or a disabled account: every session signed in under an
    #: older value is refused at its next request (web/common.py, web/page_cache.py).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organizer: Mapped[Organizer] = relationship()
    unit: Mapped[Unit | None] = relationship()

    # Flask-Login
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class LoginToken(Model):
    """A single-use, expiring link sent by mail: sign in, or reset a password."""

    __tablename__ = "login_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    #: magic | reset
    purpose: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the token; the token itself is only in the mail.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginAttempt(Model):
    """Sign-in attempts, for rate limiting across every web worker."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email_at", "email", "at"), Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Model):
    """A token for the JSON API: an organizer's service account, or one unit's."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)
    #: Set for a unit's token: it sees and writes only that unit.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    #: SHA-256 of the token; shown once at creation, never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Short prefix shown in lists, to tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: read | record | manage
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organizer: Mapped[Organizer] = relationship()
    unit: Mapped[Unit | None] = relationship()


class IdempotencyRecord(Model):
    """The first answer to a write sent with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    #: SHA-256 of the request body: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Revision(Model):
    """A change counter of one scope (a campaign, a unit's dossier, an organizer…).

    Bumped in the same transaction as the change it counts (``workflow.revisions``);
    a cached page is served only while the counters it was drawn under are unchanged.
    """

    __tablename__ = "revision"

    #: c campaign · cu any unit of the campaign · p a participation · o organizer · u user · g everyone
    kind: Mapped[str] = mapped_column(String(2), primary_key=True)
    #: The scope's id (0 for ``g``).
    ref_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class StandingTally(Model):
    """How many of a campaign's units stand in each cell (group, recorded status, silent, days late, has
    a parent): signed deltas written by the database itself, summed when read.

    Triggers (migration ``f4b2d6e81a37``, both databases) add a +1 row for a participation's new cell and a
    −1 row for its old one on every insert, update and delete of a participation, and move a unit's rows
    when its group or parent changes; no code path of the application can forget them.  Appending, not
    updating a counter row, so that two uploads of the same minute never wait on each other's lock.  The
    tick folds each campaign's rows back to one per cell (``tally.compact_tallies``).  So the
    dashboard counts a campaign's units by reading a few dozen rows, not by grouping every participation
    (``dashboard.status_counts``).

    On SQLite, Alembic's batch mode recreates a table to alter it, which drops its triggers: a migration
    that alters ``participation``, ``unit`` or ``campaign`` there must create them again
    (tests/test_standing_tally.py checks that they exist at the head).
    """

    __tablename__ = "standing_tally"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: No foreign key: rows are written while a campaign's participations are deleted with it; a trigger
    #: on campaign deletes its rows.
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    grp: Mapped[str] = mapped_column(String(64))
    #: The recorded status (the effective one follows from it and ``silent`` once grace has ended).
    status: Mapped[str] = mapped_column(String(32))
    #: Not submitted and not reinstated: excluded once grace ends.
    silent: Mapped[bool] = mapped_column(Boolean)
    late_days: Mapped[int] = mapped_column(Integer)
    parented: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)
