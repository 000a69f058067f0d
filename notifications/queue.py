"""Queue mail in the outbox, in the same transaction as the change that caused it.

Every function here renders the message now (so the outbox is readable in the
app even when nothing is sent) and inserts one row per recipient with an
idempotency key ``campaign:unit:rule:occurrence:recipient`` under a unique
constraint; inserts skip keys that exist, so whatever runs twice queues once.
Bulk inserts are one executemany statement, whatever the number of rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import make_msgid
from typing import Any

from flask import current_app
from sqlalchemy import String, case, cast, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from workflow import standing, tick_health
from workflow.campaign_files import KNOWN_GROUPS
from workflow.campaigns import (
    CHANNELS,
    calendar_of,
    count_by_status,
    data_period_text,
    results,
    timeline_of,
    tz_of,
)
from workflow.criteria import ConfirmationRound, Sheet, SheetEntry
from workflow.dashboard import received_per_day
from workflow.db import UTCDateTime, affected, db, utcnow
from workflow.models import Campaign, Participation, Submission, Unit
from workflow.received_chart import LABELS_EN, LABELS_VI, render_received_html, render_received_text
from workflow.timeline import MILESTONES
from workflow.workdays import format_day

from . import rules as reminder_rules
from .links import UNIT_ANCHORS, app_link, dashboard_link, unit_page_link
from .models import OutboxMail
from .render import render_mail

log = logging.getLogger(__name__)

#: Kinds that remind a unit to send its dossier: dropped when no longer true, counted as "reminded".
REMINDER_KINDS = ("reminder", "escalation", "organizer_reminder")
#: The reminders the rules plan (an organizer's "remind now" is not: a change of the rules never drops it).
PLANNED_REMINDER_KINDS = ("reminder", "escalation")


def _key(campaign_id: int | None, unit_id: int | None, kind: str, occurrence: str, recipient: str) -> str:
    return f"c{campaign_id or '-'}:u{unit_id or '-'}:{kind}:{occurrence}:{recipient.lower()}"


def _message_id() -> str:
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "han-chot.local"
    return make_msgid(idstring="hanchot", domain=domain)


def build_row(*, kind: str, campaign: Campaign | None, unit_id: int | None, occurrence: str, recipient: str,
              language: str, context: dict[str, Any], expires_at: datetime | None = None,
              planned_deadline=None, now: datetime | None = None) -> dict[str, Any]:
    subject, text, html = render_mail(kind, language, **context)
    now = now or utcnow()
    return {
        "key": _key(campaign.id if campaign else None, unit_id, kind, occurrence, recipient),
        "campaign_id": campaign.id if campaign else None, "unit_id": unit_id, "kind": kind,
        "occurrence": occurrence, "recipient": recipient, "language": language, "subject": subject,
        "body_text": text, "body_html": html, "message_id": _message_id(), "status": "pending", "attempts": 0,
        "next_attempt_at": now, "expires_at": expires_at, "planned_deadline": planned_deadline, "claimed_by": "",
        "last_error": "", "created_at": now,
    }


def insert_rows(rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping keys already queued; one statement."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert: Callable[..., Any] = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(OutboxMail).on_conflict_do_nothing(index_elements=["key"])
    db.session.execute(stmt, rows)
    return len(rows)


def unit_context(campaign: Campaign, unit: Unit, kind: str) -> dict[str, Any]:
    return {"unit": unit, "link": unit_page_link(campaign, unit, UNIT_ANCHORS.get(kind, ""))}


def _campaign_context(campaign: Campaign, lang: str) -> dict[str, Any]:
    tl = timeline_of(campaign)
    return {
        "campaign": campaign, "organizer": campaign.organizer, "lang": lang,
        "data_period_text": data_period_text(campaign, lang),
        "deadline_text": format_day(campaign.deadline, lang),
        "deadline_explanation": tl.deadline.explain(lang),
        "grace_days": campaign.grace_working_days,
        "grace_end_text": format_day(tl.grace_end, lang),
        "grace_explanation": tl.grace.explain(lang),
        "app_url": current_app.config.get("APP_URL", ""),
    }


def _local(instant: datetime, campaign: Campaign) -> str:
    local = instant.astimezone(tz_of(campaign))
    return f"{local:%H:%M:%S} {format_day(local.date())}"


def _recipients(unit: Unit) -> list[str]:
    return [e for e in (unit.emails or []) if e]


# -- to one unit ---------------------------------------------------------------------

def queue_receipt(campaign: Campaign, unit: Unit, submission: Submission, now: datetime | None = None) -> int:
    """A receipt for every submission: instant, channel, receipt number, SHA-256s."""
    rows = []
    for email in _recipients(unit):
        lang = unit.language or "vi"
        ctx = _campaign_context(campaign, lang) | unit_context(campaign, unit, "receipt") | {
            "submission": submission, "received_text": _local(submission.received_at, campaign),
            "channel_name": CHANNELS[submission.channel][0 if lang == "vi" else 1],
            "status": submission.participation.status, "documents": list(submission.documents),
        }
        rows.append(build_row(kind="receipt", campaign=campaign, unit_id=unit.id, occurrence=submission.receipt_number,
                              recipient=email, language=lang, context=ctx, now=now))
    return insert_rows(rows)


def queue_unit_notice(campaign: Campaign, unit: Unit, kind: str, *, reason: str = "", occurrence: str = "",
                      now: datetime | None = None) -> int:
    """Reinstated, returned for correction, figures sent for confirmation."""
    rows = []
    for email in _recipients(unit):
        lang = unit.language or "vi"
        ctx = _campaign_context(campaign, lang) | unit_context(campaign, unit, kind) | {"reason": reason}
        rows.append(build_row(kind=kind, campaign=campaign, unit_id=unit.id, occurrence=occurrence, recipient=email,
                              language=lang, context=ctx, now=now))
    return insert_rows(rows)


def queue_unit_notices(campaign: Campaign, units: Iterable[Unit], kind: str, *, reason: str = "",
                       occurrence: str = "", now: datetime | None = None) -> int:
    """``queue_unit_notice`` for many units (a bulk return for correction): one statement."""
    rows = []
    contexts: dict[str, dict] = {}
    for unit in units:
        lang = unit.language or "vi"
        if lang not in contexts:
            contexts[lang] = _campaign_context(campaign, lang)
        ctx = contexts[lang] | unit_context(campaign, unit, kind) | {"reason": reason}
        for email in _recipients(unit):
            rows.append(build_row(kind=kind, campaign=campaign, unit_id=unit.id, occurrence=occurrence,
                                  recipient=email, language=lang, context=ctx, now=now))
    return insert_rows(rows)


def queue_organizer_reminders(campaign: Campaign, units: Iterable[Unit], *, reason: str, occurrence: str,
                              in_grace: bool, now: datetime) -> int:
    """A reminder the organizer sends now to the units chosen on the dashboard, with its message: like the
    scheduled reminders (same queue, dropped when the unit has sent meanwhile, counted as reminded), its own
    kind and text ("sent by the organizer").  ``occurrence`` names the click: queued once per click and
    recipient, however often the form is sent again.  One statement."""
    rows = []
    contexts: dict[str, dict] = {}
    for unit in units:
        lang = unit.language or "vi"
        if lang not in contexts:
            contexts[lang] = _campaign_context(campaign, lang) | {"in_grace": in_grace}
        ctx = contexts[lang] | unit_context(campaign, unit, "organizer_reminder") | {"reason": reason}
        for email in _recipients(unit):
            rows.append(build_row(kind="organizer_reminder", campaign=campaign, unit_id=unit.id,
                                  occurrence=occurrence, recipient=email, language=lang, context=ctx,
                                  planned_deadline=campaign.deadline, now=now))
    return insert_rows(rows)


def queue_exclusion_notices(campaign: Campaign, silent_clause, now: datetime | None = None) -> int:
    """Tell each unit excluded at grace end: one INSERT … SELECT, whatever the number of units.

    A row per focal-point address (the JSON list of each unit is expanded in
    SQL); subject and body are rendered when the row is sent or shown
    (``render_missing``), so that the tick at grace end stays set-based even for
    thousands of units.
    """
    now = now or utcnow()
    bind = db.session.get_bind()
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "han-chot.local"
    occurrence = campaign.deadline.isoformat()
    insert: Callable[..., Any]
    if bind.dialect.name == "postgresql":
        emails = func.json_array_elements_text(Unit.emails).table_valued("value").lateral("recipient_list")
        message_id = literal("<") + cast(func.gen_random_uuid(), String) + literal(f".hanchot@{domain}>")
        insert = pg_insert
    else:
        emails = func.json_each(Unit.emails).table_valued("value").alias("recipient_list")
        message_id = literal("<") + func.lower(func.hex(func.randomblob(16))) + literal(f".hanchot@{domain}>")
        insert = sqlite_insert
    recipient = emails.c.value
    key = (literal(f"c{campaign.id}:u") + cast(Unit.id, String) + literal(f":excluded:{occurrence}:")
           + func.lower(recipient))
    instant = literal(now, type_=UTCDateTime())
    rows = (select(key, literal(campaign.id), Unit.id, literal("excluded"), literal(occurrence), recipient,
                   Unit.language, literal(""), literal(""), literal(""), message_id, literal("pending"), literal(0),
                   instant, literal(""), literal(""), instant)
            .select_from(Participation).join(Unit, Unit.id == Participation.unit_id).join(emails, true())
            .where(silent_clause, recipient != ""))
    columns = ["key", "campaign_id", "unit_id", "kind", "occurrence", "recipient", "language", "subject",
               "body_text", "body_html", "message_id", "status", "attempts", "next_attempt_at", "claimed_by",
               "last_error", "created_at"]
    stmt = insert(OutboxMail).from_select(columns, rows).on_conflict_do_nothing(index_elements=["key"])
    return affected(db.session.execute(stmt))


#: Kinds queued in bulk without their text, rendered when sent or shown.
LAZY_KINDS = {"excluded"}


def render_missing(rows: Iterable[OutboxMail]) -> int:
    """Render the subject and body of rows queued without them (two queries for any number)."""
    todo = [r for r in rows if not r.subject and r.kind in LAZY_KINDS]
    if not todo:
        return 0
    campaigns = {c.id: c for c in db.session.scalars(select(Campaign).where(
        Campaign.id.in_({r.campaign_id for r in todo})))}
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_({r.unit_id for r in todo})))}
    contexts: dict[tuple[int, str], dict] = {}
    for row in todo:
        campaign = campaigns.get(row.campaign_id) if row.campaign_id is not None else None
        unit = units.get(row.unit_id) if row.unit_id is not None else None
        if campaign is None or unit is None:
            continue
        lang = row.language or "vi"
        if (campaign.id, lang) not in contexts:
            contexts[(campaign.id, lang)] = _campaign_context(campaign, lang)
        row.subject, row.body_text, row.body_html = render_mail(row.kind, lang,
                                                                **(contexts[(campaign.id, lang)]
                                                                   | unit_context(campaign, unit, row.kind)))
    return len(todo)


def queue_results(campaign: Campaign, now: datetime) -> int:
    """The published results, to every unit: its own status, score, rating, rank."""
    rows = []
    contexts: dict[str, dict] = {}
    for r in results(campaign, now):
        unit = r.participation.unit
        lang = unit.language or "vi"
        if lang not in contexts:
            contexts[lang] = _campaign_context(campaign, lang)
        for email in _recipients(unit):
            ctx = contexts[lang] | unit_context(campaign, unit, "results") | {"result": r}
            rows.append(build_row(kind="results", campaign=campaign, unit_id=unit.id, occurrence="published",
                                  recipient=email, language=lang, context=ctx, now=now))
    return insert_rows(rows)


# -- reminders -------------------------------------------------------------------------

def rules_of(campaign: Campaign) -> reminder_rules.ReminderRules:
    try:
        return reminder_rules.ReminderRules.from_dict(campaign.reminder_rules)
    except reminder_rules.RulesError:
        log.warning("campaign %s: invalid reminder rules, using defaults", campaign.code)
        return reminder_rules.ReminderRules()


def replan_reminders(campaign: Campaign, now: datetime) -> int:
    """The deadline moved: drop reminders planned for the old one; the tick plans anew."""
    result = db.session.execute(
        update(OutboxMail).where(OutboxMail.campaign_id == campaign.id, OutboxMail.kind.in_(REMINDER_KINDS),
                                 OutboxMail.status == "pending", OutboxMail.planned_deadline != campaign.deadline)
        .values(status="dropped", last_error="deadline moved")
        .execution_options(synchronize_session=False))
    return affected(result)


def reminder_recipients(campaign: Campaign, escalate: bool) -> list[tuple[Unit, Unit | None, str, str]]:
    """Who a unit reminder goes to now: ``(unit, parent, address, kind)`` for every unit that has not
    submitted, ``kind`` "reminder" for its focal points and, on the escalated day, "escalation" for its head
    and (a commune) its district's focal points.  The one list the queue writes and the form's preview counts."""
    parent = aliased(Unit)
    rows_db = db.session.execute(
        select(Unit, parent).join(Participation, Participation.unit_id == Unit.id)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(Participation.campaign_id == campaign.id, Participation.status == "not_submitted")
        .order_by(Unit.code)).all()
    out: list[tuple[Unit, Unit | None, str, str]] = []
    for unit, parent_unit in rows_db:
        own = _recipients(unit)
        out += [(unit, parent_unit, email, "reminder") for email in own]
        if escalate:
            copies = [unit.head_email] if unit.head_email else []
            if parent_unit is not None and unit.group == "commune":
                copies += _recipients(parent_unit)
            out += [(unit, parent_unit, email, "escalation")
                    for email in dict.fromkeys(e for e in copies if e and e not in own)]
    return out


def milestone_recipients(campaign: Campaign) -> list[str]:
    """The organizer's mailbox and the council, reminded of the later milestones."""
    return list(dict.fromkeys(e for e in [campaign.organizer.email, *(campaign.council_emails or [])] if e))


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder the rules plan from today on, with who it goes to as things stand now."""

    day: date
    #: reminder (to the units that have not submitted) | milestone (to the organizer and the council)
    kind: str
    #: before_deadline | deadline_day | grace_day | a milestone kind
    rule: str
    days_left: int
    escalate: bool
    units: int
    addresses: int
    copies: int
    #: Already queued or sent (never queued twice: the key is the same).
    queued: bool


@dataclass(frozen=True)
class ReminderPlan:
    reminders: list[PlannedReminder]
    #: The focal points' addresses (reminder) and the heads' and districts' (escalation), in unit order.
    recipients: list[tuple[str, str, str]]
    #: The daily digest: to the organizer's mailbox on each working day in office hours while submissions are open.
    digest_to: str | None
    milestone_to: list[str]


def reminder_plan(campaign: Campaign, rules: reminder_rules.ReminderRules, now: datetime) -> ReminderPlan:
    """What ``plan_campaign_reminders`` will queue from today on under ``rules``: the days come from the same
    ``unit_reminders`` and ``sub_working_days``, the recipients from the same ``reminder_recipients`` and
    ``milestone_recipients`` (counted now: a unit that submits before the day is no longer reminded)."""
    cal, tz = calendar_of(campaign), tz_of(campaign)
    today = now.astimezone(tz).date()
    recipients = reminder_recipients(campaign, escalate=True)
    units = len({unit.id for unit, _parent, _email, kind in recipients if kind == "reminder"})
    addresses = sum(1 for row in recipients if row[3] == "reminder")
    copies = sum(1 for row in recipients if row[3] == "escalation")
    queued = set(db.session.scalars(select(OutboxMail.occurrence).where(
        OutboxMail.campaign_id == campaign.id, OutboxMail.kind.in_((*REMINDER_KINDS, "milestone")),
        OutboxMail.status != "dropped")))
    closed = campaign.state not in ("draft", "open", "grace")
    out = []
    if not closed:
        for o in reminder_rules.unit_reminders(campaign.deadline, campaign.grace_working_days, cal, rules):
            if o.day >= today:
                out.append(PlannedReminder(o.day, "reminder", o.rule, o.days_left, o.escalate, units, addresses,
                                           copies if o.escalate else 0, o.key in queued))
    to_council = milestone_recipients(campaign)
    if rules.milestone_lead_days and campaign.state not in ("approved", "cancelled"):
        for m in campaign.milestones:
            day = cal.sub_working_days(m.end_date, rules.milestone_lead_days)
            if day >= today:
                out.append(PlannedReminder(day, "milestone", m.kind, rules.milestone_lead_days, False, 0,
                                           len(to_council), 0, f"{m.kind}-{m.end_date.isoformat()}" in queued))
    out.sort(key=lambda r: (r.day, r.kind))
    return ReminderPlan(out, [(unit.code, email, kind) for unit, _parent, email, kind in recipients],
                        campaign.organizer.email or None if rules.digest and not closed else None, to_council)


def drop_unplanned_reminders(campaign: Campaign, rules: reminder_rules.ReminderRules) -> int:
    """The reminder rules changed: reminders queued but not yet sent that the new rules no longer plan are
    dropped; what was sent stays sent, and what is still planned keeps its key (never queued twice)."""
    planned = [o.key for o in reminder_rules.unit_reminders(campaign.deadline, campaign.grace_working_days,
                                                             calendar_of(campaign), rules)]
    pending = (OutboxMail.campaign_id == campaign.id, OutboxMail.status == "pending")
    dropped = affected(db.session.execute(
        update(OutboxMail).where(*pending, OutboxMail.kind.in_(PLANNED_REMINDER_KINDS),
                                 OutboxMail.occurrence.notin_(planned))
        .values(status="dropped", last_error="reminder rules changed").execution_options(synchronize_session=False)))
    off = [kind for kind, on in (("digest", rules.digest), ("milestone", rules.milestone_lead_days)) if not on]
    if off:
        dropped += affected(db.session.execute(
            update(OutboxMail).where(*pending, OutboxMail.kind.in_(off))
            .values(status="dropped", last_error="reminder rules changed")
            .execution_options(synchronize_session=False)))
    return dropped


def _queue_unit_reminders(campaign: Campaign, occurrence: reminder_rules.Occurrence, now: datetime,
                          rules: reminder_rules.ReminderRules) -> int:
    expires = reminder_rules.office_closes_at(occurrence.day, rules, tz_of(campaign))
    rows = []
    contexts: dict[str, dict] = {}
    for unit, parent_unit, email, kind in reminder_recipients(campaign, occurrence.escalate):
        lang = unit.language or "vi"
        if lang not in contexts:
            contexts[lang] = _campaign_context(campaign, lang)
        ctx = contexts[lang] | unit_context(campaign, unit, "reminder") | {"occurrence": occurrence}
        if kind == "escalation":
            ctx = ctx | unit_context(campaign, unit, "escalation") | {
                "copy_to_parent": parent_unit is not None and email in _recipients(parent_unit), "parent": parent_unit}
        rows.append(build_row(kind=kind, campaign=campaign, unit_id=unit.id, occurrence=occurrence.key,
                              recipient=email, language=lang, context=ctx, expires_at=expires,
                              planned_deadline=campaign.deadline, now=now))
    return insert_rows(rows)


#: The digest lists at most this many units (or failed mails) in each list; the rest is a link
#: to the dashboard filtered the same way.
DIGEST_LIST_LIMIT = 30


def digest_context(campaign: Campaign, now: datetime, lang: str = "vi") -> dict[str, Any]:
    """What the organizer's daily digest shows, at any size: counts by status and by group, the units
    that need action (not submitted) first, then the undelivered mail and the late dossiers, each list
    capped at DIGEST_LIST_LIMIT with its total and a link to the filtered dashboard."""
    today = now.astimezone(tz_of(campaign)).date()
    limit = DIGEST_LIST_LIMIT
    counts = count_by_status(campaign, now)
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    by_group: dict[str, dict[str, int]] = {}
    reinstated = Participation.reinstated_reason != ""
    for group, status, is_reinstated, n in db.session.execute(
            select(Unit.group, Participation.status, reinstated, func.count())
            .join(Participation, Participation.unit_id == Unit.id).where(Participation.campaign_id == campaign.id)
            .group_by(Unit.group, Participation.status, reinstated)):
        effective = standing.effective_status(status, reinstated=bool(is_reinstated), grace_ended=grace_ended)
        by_group.setdefault(group, {})[effective] = by_group.get(group, {}).get(effective, 0) + n
    # Departments first, then districts, vertical agencies, communes (campaign_files.KNOWN_GROUPS).
    group_order = case({g: i for i, g in enumerate(KNOWN_GROUPS)}, value=Unit.group, else_=len(KNOWN_GROUPS))
    silent = db.session.scalars(select(Unit).join(Participation, Participation.unit_id == Unit.id).where(
        Participation.campaign_id == campaign.id, Participation.status == "not_submitted")
        .order_by(group_order, Unit.code).limit(limit)).all()
    late = db.session.execute(select(Unit, Participation).join(Participation, Participation.unit_id == Unit.id).where(
        Participation.campaign_id == campaign.id, Participation.status == "late")
        .order_by(Participation.late_working_days.desc(), Unit.code).limit(limit)).all()
    failed = (OutboxMail.campaign_id == campaign.id, OutboxMail.status == "failed")
    bounced = db.session.scalars(select(OutboxMail).where(*failed).order_by(OutboxMail.id.desc()).limit(limit)).all()
    bounced_total = db.session.scalar(select(func.count()).select_from(OutboxMail).where(*failed)) or 0
    order = list(KNOWN_GROUPS)
    groups = [(group, sum(by_group[group].values()), by_group[group])
              for group in sorted(by_group, key=lambda g: (order.index(g) if g in order else len(order), g))]
    tl = timeline_of(campaign)
    per_day = received_per_day(campaign)
    chart_labels = LABELS_VI if lang == "vi" else LABELS_EN
    chart = (per_day, tl.deadline.last_day, tl.grace_end, today)
    return _campaign_context(campaign, lang) | {
        "tick_failures": tick_failures_context(campaign.organizer_id, lang),
        "received_html": render_received_html(*chart, labels=chart_labels),
        "received_text": render_received_text(*chart, labels=chart_labels),
        "today_text": format_day(today, lang), "counts": counts, "total": sum(counts.values()),
        "groups": groups, "list_limit": limit,
        "silent": silent, "silent_total": counts.get("not_submitted", 0),
        "silent_link": dashboard_link(campaign, "units", status="not_submitted"),
        "late": late, "late_total": counts.get("late", 0),
        "late_link": dashboard_link(campaign, "units", status="late"),
        "bounced": bounced, "bounced_total": bounced_total,
        "outbox_link": app_link("/outbox?status=failed"),
        "link": dashboard_link(campaign),
    }


def tick_failures_context(organizer_id: int, lang: str = "vi") -> list[dict[str, Any]]:
    """The organizer's campaigns whose time-driven work is failing (workflow.tick_health), for the top of
    every digest: code, title, the error, since when, how many ticks in a row, the link to its repair page
    (its dashboard shows the repair form while its dates are out of range).  Gone once a tick succeeds."""
    out = []
    for f in tick_health.failures_of(organizer_id):
        c = f.campaign
        out.append({"code": c.code, "title": c.title, "error": f.error, "count": f.count,
                    "since": _local(f.first_seen, c), "last": _local(f.last_seen, c),
                    "link": dashboard_link(c)})
    return out


def queue_tick_failure_notice(campaign: Campaign, now: datetime) -> int:
    """The failing campaign's own notice to the organizer's mailbox, once a local day while it fails: its
    digest cannot go out (its work, the digest included, was rolled back), so an organizer whose only
    running campaign fails would otherwise learn of it only from the dashboard.  Lists every failing
    campaign of the organizer, as the digest's block does.  Reads only what a broken campaign still has
    (code, title, organizer); the tick calls it in a savepoint of its own."""
    recipient = campaign.organizer.email
    if not recipient:
        return 0
    today = now.astimezone(tz_of(campaign)).date()
    if db.session.scalar(select(OutboxMail.id).where(  # told today already: render nothing at every tick
            OutboxMail.campaign_id == campaign.id, OutboxMail.kind == "tick_failure",
            OutboxMail.occurrence == today.isoformat()).limit(1)) is not None:
        return 0
    failures = tick_failures_context(campaign.organizer_id, "vi")
    if not failures:
        return 0
    return insert_rows([build_row(kind="tick_failure", campaign=campaign, unit_id=None,
                                  occurrence=today.isoformat(), recipient=recipient, language="vi",
                                  context={"campaign": campaign, "organizer": campaign.organizer,
                                           "tick_failures": failures}, now=now)])


def _queue_digest(campaign: Campaign, now: datetime) -> int:
    recipient = campaign.organizer.email
    if not recipient:
        return 0
    today = now.astimezone(tz_of(campaign)).date()
    rows = [build_row(kind="digest", campaign=campaign, unit_id=None, occurrence=today.isoformat(),
                      recipient=recipient, language="vi", context=digest_context(campaign, now, "vi"), now=now)]
    return insert_rows(rows)


def _queue_milestone_reminders(campaign: Campaign, due: Iterable[reminder_rules.MilestoneReminder],
                               now: datetime) -> int:
    recipients = milestone_recipients(campaign)
    rows = []
    for item in due:
        ctx = _campaign_context(campaign, "vi") | {
            "milestone_name": MILESTONES[item.kind][0], "milestone_end_text": format_day(item.milestone_end),
            "lead_days": rules_of(campaign).milestone_lead_days, "link": dashboard_link(campaign)}
        for email in recipients:
            rows.append(build_row(kind="milestone", campaign=campaign, unit_id=None,
                                  occurrence=f"{item.kind}-{item.milestone_end.isoformat()}", recipient=email,
                                  language="vi", context=ctx, now=now))
    return insert_rows(rows)


def plan_reminders(now: datetime) -> int:
    """Queue what is due at ``now`` for every running campaign (the tick's part)."""
    now = now.astimezone(UTC)
    queued = 0
    campaigns = db.session.scalars(select(Campaign).where(Campaign.state.notin_(PLANNED_NOT)))
    for campaign in campaigns:
        queued += plan_campaign_reminders(campaign, now)
    return queued


#: States of campaigns for which nothing is planned.
PLANNED_NOT = ("draft", "approved", "cancelled")


def plan_campaign_reminders(campaign: Campaign, now: datetime) -> int:
    """Queue what is due at ``now`` for one campaign (the tick calls it campaign by campaign)."""
    if campaign.state in PLANNED_NOT:
        return 0
    now = now.astimezone(UTC)
    queued = 0
    cal, tz, rules = calendar_of(campaign), tz_of(campaign), rules_of(campaign)
    if campaign.state in ("open", "grace"):
        occurrences = reminder_rules.unit_reminders(campaign.deadline, campaign.grace_working_days, cal, rules)
        occurrence = reminder_rules.due_unit_reminder(occurrences, now, cal, rules, tz)
        if occurrence is not None:
            queued += _queue_unit_reminders(campaign, occurrence, now, rules)
        if reminder_rules.digest_due(now, cal, rules, tz):
            queued += _queue_digest(campaign, now)
    due = reminder_rules.due_milestone_reminders({m.kind: m.end_date for m in campaign.milestones}, now, cal,
                                                 rules, tz)
    if due:
        queued += _queue_milestone_reminders(campaign, due, now)
    return queued


def queue_confirmation_reminders(now: datetime) -> int:
    """On the last day of a figures-confirmation round (a working day: the round is counted in
    working days), in office hours, remind each unit that still has criteria unanswered.
    Once per round and recipient (the key names the round)."""
    now = now.astimezone(UTC)
    open_rounds = db.session.execute(
        select(ConfirmationRound, Participation).join(Participation,
                                                      Participation.id == ConfirmationRound.participation_id)
        .where(ConfirmationRound.closed_at.is_(None), ConfirmationRound.due_at > now)).all()
    rows = []
    for rnd, p in open_rounds:
        campaign = p.campaign
        cal, tz = calendar_of(campaign), tz_of(campaign)
        if now.astimezone(tz).date() != rnd.deadline:
            continue
        if not reminder_rules.in_office_hours(now, cal, rules_of(campaign), tz):
            continue
        unanswered = db.session.scalar(
            select(func.count()).select_from(SheetEntry).join(Sheet, Sheet.id == SheetEntry.sheet_id)
            .where(Sheet.participation_id == p.id, SheetEntry.claimed.is_not(None), SheetEntry.response == ""))
        if not unanswered:
            continue
        unit = p.unit
        for email in _recipients(unit):
            lang = unit.language or "vi"
            ctx = _campaign_context(campaign, lang) | {"unit": unit, "unanswered": unanswered,
                                                       "confirm_deadline_text": format_day(rnd.deadline, lang)}
            rows.append(build_row(kind="confirmation_reminder", campaign=campaign, unit_id=unit.id,
                                  occurrence=f"round{rnd.id}", recipient=email, language=lang, context=ctx,
                                  expires_at=rnd.due_at, now=now))
    return insert_rows(rows)


def still_true(row: OutboxMail, campaign: Campaign | None, participation_status: str | None,
               now: datetime) -> str | None:
    """Why a reminder is no longer worth sending, or None if it still is."""
    if row.kind not in REMINDER_KINDS:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return "office hours of its day are over"
    if campaign is None or campaign.state not in ("open", "grace"):
        return "submissions are closed"
    if row.planned_deadline is not None and row.planned_deadline != campaign.deadline:
        return "deadline moved"

    if now >= timeline_of(campaign).grace_ends_at:
        return "grace period ended"
    if participation_status != "not_submitted":
        return f"unit is {participation_status}"
    return None
