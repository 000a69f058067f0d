"""``flask mail`` (the outbox) and ``flask reminders`` (a campaign's reminder rules)."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from cli.campaign import get_campaign, parse_instant
from notifications.dispatch import message_of
from notifications.jobs import dispatch_mail
from notifications.models import OutboxMail
from notifications.queue import render_missing, rules_of
from notifications.rules import ReminderRules, unit_reminders
from workflow.campaigns import calendar_of
from workflow.db import db, utcnow
from workflow.models import Campaign
from workflow.operations import OperationError, set_reminder_rules

mail_cli = AppGroup("mail", help="The mail outbox.")
reminders_cli = AppGroup("reminders", help="A campaign's reminder rules.")



@mail_cli.command("dispatch")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
def dispatch_command(now_text: str | None) -> None:
    """Send what is due in the outbox; prints claimed, sent, retried, failed, dropped."""
    if not current_app.config.get("MAIL_SERVER"):
        click.echo("MAIL_SERVER is not set: mail stays in the outbox (flask mail outbox).")
        return
    result = dispatch_mail(parse_instant(now_text) if now_text else None)
    click.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@mail_cli.command("outbox")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "dropped"]))
@click.option("--campaign", "campaign_code")
@click.option("--limit", default=50, show_default=True)
def outbox_command(status: str | None, campaign_code: str | None, limit: int) -> None:
    """List outbox rows: id, status, kind, recipient, subject, last error."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    counts = select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
    if status:
        query = query.where(OutboxMail.status == status)
    if campaign_code:
        campaign = db.session.scalar(select(Campaign).where(Campaign.code == campaign_code))
        if campaign is None:
            click.echo(f"Error: no campaign with code {campaign_code!r}", err=True)
            sys.exit(2)
        query = query.where(OutboxMail.campaign_id == campaign.id)
        counts = counts.where(OutboxMail.campaign_id == campaign.id)
    click.echo("counts\t" + " ".join(f"{s}={n}" for s, n in db.session.execute(counts)))
    rows = list(db.session.scalars(query))
    if render_missing(rows):
        db.session.commit()
    for row in rows:
        click.echo(f"{row.id}\t{row.status}\t{row.kind}\t{row.recipient}\t{row.subject}\t{row.last_error}")


@mail_cli.command("show")
@click.argument("mail_id", type=int)
@click.option("--raw", is_flag=True, help="Print the message's bytes as the dispatcher sends them (MIME, encoded).")
def show_command(mail_id: int, raw: bool) -> None:
    """Print one mail as it will be (or was) sent."""
    row = db.session.get(OutboxMail, mail_id)
    if row is None:
        click.echo(f"Error: no mail #{mail_id}", err=True)
        sys.exit(2)
    if render_missing([row]):
        db.session.commit()
    if raw:  # the Date header is the moment of printing; everything else is what goes out
        click.echo(message_of(row).as_bytes().decode("ascii"), nl=False)
        return
    click.echo(f"To: {row.recipient}\nSubject: {row.subject}\nMessage-ID: {row.message_id}\nStatus: {row.status}"
               f"{' (' + row.last_error + ')' if row.last_error else ''}\n\n{row.body_text}")


@reminders_cli.command("show")
@click.argument("code", metavar="CAMPAIGN")
def reminders_show(code: str) -> None:
    """Print the campaign's reminder rules and planned reminder days (JSON)."""
    campaign = get_campaign(code)
    rules = rules_of(campaign)
    plan = unit_reminders(campaign.deadline, campaign.grace_working_days, calendar_of(campaign), rules)
    click.echo(json.dumps({"rules": rules.as_dict(), "unit_reminders": [
        {"day": o.day.isoformat(), "rule": o.rule, "days_left": o.days_left, "escalate": o.escalate} for o in plan]},
        ensure_ascii=False, indent=2))


@reminders_cli.command("set")
@click.argument("code", metavar="CAMPAIGN")
@click.argument("rules_json", metavar="JSON")
@click.option("--actor", default="cli", show_default=True)
def reminders_set(code: str, rules_json: str, actor: str) -> None:
    """Replace the campaign's reminder rules, e.g. '{"before_deadline": [5, 1], "office_hours": "08:00-17:00"}'."""

    campaign = get_campaign(code)
    try:
        data = json.loads(rules_json)
        set_reminder_rules(campaign, data, actor=actor, now=utcnow())
    except (json.JSONDecodeError, OperationError) as exc:
        db.session.rollback()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(json.dumps(campaign.reminder_rules or ReminderRules().as_dict(), ensure_ascii=False))


def register_cli(app: Flask) -> None:
    app.cli.add_command(mail_cli)
    app.cli.add_command(reminders_cli)
