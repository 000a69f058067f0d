"""``flask campaign``, ``flask submission``, ``flask tick``: campaigns from the command line.

Thin: parse, call one operation, commit, report.  Formats are documented in
README.md ("CLI").  Malformed input exits with status 2, a refused operation
with status 1; both print what is wrong.
"""

from __future__ import annotations

import json
import secrets
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from cli.jobs import tick
from cli.workdays import fail, parse_date, parse_instant
from workflow import campaigns as reads
from workflow import milestone_docs
from workflow import operations as ops
from workflow.campaign_files import CampaignFileError, export, import_file
from workflow.dashboard import UnitSelection
from workflow.db import db, utcnow
from workflow.machine import MANUAL_STEPS, state_name
from workflow.models import Campaign, Unit
from workflow.periods import REPAIR_EN, DateOutOfRange
from workflow.standing import STATUSES, status_name
from workflow.storage import DocumentRefused, remove_stored, store_document

campaign_cli = AppGroup("campaign", help="Evaluation campaigns: import, export, status, the organizer's actions.")
submission_cli = AppGroup("submission", help="Dossiers received from units.")


def refused(exc: ops.OperationError) -> None:
    click.echo(f"Lỗi: {exc.message_vi}", err=True)
    click.echo(f"Error: {exc.message_en}", err=True)
    db.session.rollback()
    sys.exit(1)


def get_campaign(code: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        fail(f"no campaign with code {code!r}")
    return campaign


def get_unit(campaign: Campaign, code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == code))
    if unit is None:
        fail(f"no unit with code {code!r} at organizer {campaign.organizer.code}")
    return unit


@campaign_cli.command("import")
@click.argument("path", metavar="FILE")
@click.option("--actor", default="cli", show_default=True, help="Who imports (for the audit trail).")
@click.option("--now", "now_text", help="The instant of the import (default: the clock).")
def import_command(path: str, actor: str, now_text: str | None) -> None:
    """Load or update a campaign from a YAML file; all or nothing."""
    now = parse_instant(now_text)
    try:
        result = import_file(path, actor=actor, now=now)
        db.session.commit()
    except CampaignFileError as exc:
        db.session.rollback()
        fail(str(exc))
    c = result.campaign
    verb = "created" if result.created else "updated"
    click.echo(f"{verb} {c.code}: {len(c.participations)} units ({result.units_added} new), deadline "
               f"{c.deadline.isoformat()}, grace {c.grace_working_days} working days, state {c.state}")
    for w in reads.warnings_of(c):
        click.echo(f"warning: {w.message('en')}", err=True)


@campaign_cli.command("export")
@click.argument("code", metavar="CODE")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def export_command(code: str, output: str | None) -> None:
    """Write a campaign back as YAML."""
    text = export(get_campaign(code))
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@campaign_cli.command("list")
def list_command() -> None:
    """List campaigns: code, organizer, year, state, deadline, title."""
    for c in db.session.scalars(select(Campaign).order_by(Campaign.code)):
        click.echo(f"{c.code}\t{c.organizer.code}\t{c.year}\t{c.state}\t{c.deadline.isoformat()}\t{c.title}")


@campaign_cli.command("status")
@click.argument("code", metavar="CODE")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (format in README).")
def status_command(code: str, now_text: str | None, as_json: bool) -> None:
    """Print the campaign's state, each milestone's computed instant, each unit's status."""
    now = parse_instant(now_text)
    campaign = get_campaign(code)
    try:
        doc = reads.status_document(campaign, now)
    except DateOutOfRange as exc:
        fail(f"{exc.message_en} {REPAIR_EN}")
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    c = doc["campaign"]
    click.echo(f"{c['code']}\t{c['title']}")
    click.echo(f"state\t{c['state']}\t{c['state_name']}")
    if c["data_period"]:
        period = c["data_period"]
        click.echo(f"data_period\t{period['start'] or ''}..{period['end'] or ''}\t{period['text']['vi']}")
    for m in doc["milestones"]:
        flag = " OVERDUE" if m["overdue"] else (" done" if m["reached"] else "")
        span = f"{m['start']}..{m['end']}" if m["start"] else m["end"]
        click.echo(f"milestone\t{m['kind']}\t{span}\t{m['ends_at']}{flag}")
    for w in doc["warnings"]:
        click.echo(f"warning\t{w['kind']}\t{w['end']}\tgrace ends {w['grace_end']}\t{w['message_en']}")
    click.echo("counts\t" + " ".join(f"{k}={v}" for k, v in sorted(doc["counts"].items())))
    for u in doc["units"]:
        extra = []
        if u["late_working_days"]:
            extra.append(f"late {u['late_working_days']} wd")
        if u["rating"]:
            extra.append(f"{u['rating']} #{u['rank']}")
        if u["reinstated_reason"]:
            extra.append(f"reinstated: {u['reinstated_reason']}")
        click.echo(f"unit\t{u['code']}\t{u['group']}\t{u['status']}\t{u['received_at'] or '-'}\t{'; '.join(extra)}")


def _run(operation, *args, **kwargs):
    try:
        result = operation(*args, **kwargs)
        db.session.commit()
        return result
    except ops.OperationError as exc:
        refused(exc)


@campaign_cli.command("step")
@click.argument("code", metavar="CODE")
@click.argument("event", type=click.Choice(["launch", *MANUAL_STEPS, "cancel"]))
@click.option("--reason", default="", help="Required to cancel or to skip a step; stays on record.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def step_command(code: str, event: str, reason: str, actor: str, now_text: str | None) -> None:
    """Mark a step done (review_done, inspection_done, awards_done, approval_received), launch or cancel."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    if event == "launch":
        _run(ops.launch, campaign, actor=actor, now=now)
    else:
        _run(ops.mark_step, campaign, event, actor=actor, now=now, reason=reason)
    click.echo(f"{campaign.code}\t{campaign.state}\t{state_name(campaign.state)}")


@campaign_cli.command("move")
@click.argument("code", metavar="CODE")
@click.argument("kind", metavar="MILESTONE")
@click.option("--end", "end_text", required=True, help="The new date (or the range's end).")
@click.option("--start", "start_text", help="The range's start (field inspection).")
@click.option("--reason", required=True, help="Why it moves; stays on record.")
@click.option("--doc-number", default="", help="The document that moves it (number and symbol), cited on the timeline.")
@click.option("--doc-date", default="", help="That document's date.")
@click.option("--doc-issuer", default="", help="Who issued it.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def move_command(code, kind, end_text, start_text, reason, doc_number, doc_date, doc_issuer, actor, now_text) -> None:
    """Move the deadline or a later milestone, with a reason (and the document that moves it)."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    end = parse_date(end_text, "--end")
    start = parse_date(start_text, "--start") if start_text else None
    cited = (milestone_docs.DocumentInput(doc_number, parse_date(doc_date, "--doc-date") if doc_date else None,
                                          doc_issuer) if doc_number else None)
    try:
        ops.move_milestone(campaign, kind, end=end, start=start, reason=reason, actor=actor, now=now)
        if cited:
            milestone_docs.attach(campaign, kind, cited, actor=actor, now=now)
        db.session.commit()
    except ops.OperationError as exc:
        refused(exc)
    click.echo(f"{campaign.code}\t{kind}\t{start.isoformat() + '..' if start else ''}{end.isoformat()}")


@campaign_cli.command("preview-exclusion")
@click.argument("code", metavar="CODE")
def preview_command(code: str) -> None:
    """Who would be excluded if grace ended now: code, group, name."""
    for p in reads.exclusion_preview(get_campaign(code)):
        click.echo(f"{p.unit.code}\t{p.unit.group}\t{p.unit.name}")


def _unit_action(name: str, help_text: str, operation, needs_reason: bool):
    @click.argument("code", metavar="CODE")
    @click.argument("unit_code", metavar="UNIT")
    @click.option("--reason", required=needs_reason, default="", help="Written reason; stays on record.")
    @click.option("--actor", default="cli", show_default=True)
    @click.option("--now", "now_text")
    def command(code, unit_code, reason, actor, now_text):
        campaign, now = get_campaign(code), parse_instant(now_text)
        unit = get_unit(campaign, unit_code)
        kwargs = {"reason": reason} if needs_reason else {}
        p = _run(operation, campaign, unit, actor=actor, now=now, **kwargs)
        click.echo(f"{unit.code}\t{p.status}\t{status_name(p.status)}")

    command.__doc__ = help_text
    campaign_cli.command(name)(command)


_unit_action("reinstate", "Reinstate an excluded unit, with a written reason.", ops.reinstate, True)
_unit_action("return", "Return a unit's dossier for correction, with a reason.", ops.return_dossier, True)
_unit_action("confirm-request", "Send the figures back to a unit to confirm.", ops.request_confirmation, False)
_unit_action("confirm", "Record that a unit confirmed its figures.", ops.confirm_figures, False)
_unit_action("nominate", "Nominate a commune as its district's leading commune.", ops.nominate, False)


@campaign_cli.command("remind")
@click.argument("code", metavar="CODE")
@click.option("--status", default="", type=click.Choice(["", *STATUSES]),
              help="Only units of this (effective) status, e.g. not_submitted.")
@click.option("--group", default="", help="Only units of this group (department, district, …).")
@click.option("--search", "q", default="", help="Only units whose code or name contains this.")
@click.option("--units", "units_text", default="", help="Only these unit codes, comma-separated (instead of a filter).")
@click.option("--reason", required=True, help="The organizer's message: sent in the mail, kept in each unit's audit.")
@click.option("--request-id", default="", help="Names this reminder: run again with the same id, nothing is sent twice.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def remind_command(code, status, group, q, units_text, reason, request_id, actor, now_text) -> None:
    """Send a reminder now to the selected units that have not submitted (the dashboard's bulk reminder).

    Prints ``CODE<TAB>reminded<TAB>N<TAB>M mails`` then one ``skipped<TAB>WHY<TAB>N`` line per reason
    (a status, no_address, unknown); ``already<TAB>N`` when the request id was used before."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    codes = tuple(dict.fromkeys(c.strip() for c in units_text.split(",") if c.strip())) if units_text else None
    selection = UnitSelection(group=group, status=status, q=q, codes=codes)
    click_id = request_id or secrets.token_urlsafe(16)
    result = _run(ops.remind_units, campaign, selection, reason=reason, actor=actor, now=now, click=click_id)
    if result.already_done:
        click.echo(f"{campaign.code}\talready\t{result.done}")
        return
    click.echo(f"{campaign.code}\treminded\t{result.done}\t{result.queued} mails")
    for why, n in sorted(result.skipped.items()):
        click.echo(f"skipped\t{why}\t{n}")


def _decimal(value: str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        fail(f"{what} {value!r} is not a number")
    return None


@campaign_cli.command("score")
@click.argument("code", metavar="CODE")
@click.argument("unit_code", metavar="UNIT")
@click.option("--self", "self_text", help="The self-assessed score.")
@click.option("--verified", "verified_text", help="The verified score (marks the unit verified).")
@click.option("--reason", default="")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def score_command(code, unit_code, self_text, verified_text, reason, actor, now_text) -> None:
    """Enter a unit's self-assessed and/or verified score."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    unit = get_unit(campaign, unit_code)
    if self_text is None and verified_text is None:
        fail("give --self and/or --verified")
    p = _run(ops.set_scores, campaign, unit, actor=actor, now=now, self_score=_decimal(self_text, "--self"),
             verified_score=_decimal(verified_text, "--verified"), reason=reason)
    click.echo(f"{unit.code}\tself={p.self_score}\tverified={p.verified_score}\t{p.status}")


@campaign_cli.command("results")
@click.argument("code", metavar="CODE")
@click.option("--now", "now_text")
def results_command(code: str, now_text: str | None) -> None:
    """Ratings and ranks within each group: group, rank, unit, score, rating."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    rows = [r for r in reads.results(campaign, now) if r.rank is not None]
    rows.sort(key=lambda r: (r.participation.unit.group, r.rank, r.participation.unit.code))
    for r in rows:
        mark = " (provisional)" if r.provisional else ""
        click.echo(f"{r.participation.unit.group}\t{r.rank}\t{r.participation.unit.code}\t{r.score}\t{r.rating}{mark}")


@submission_cli.command("record")
@click.option("--campaign", "campaign_code", required=True)
@click.option("--unit", "unit_code", required=True)
@click.option("--at", "at_text", required=True, help="The received instant (ISO; local time without an offset).")
@click.option("--channel", type=click.Choice(list(reads.CHANNELS)), default="eoffice", show_default=True)
@click.option("--doc-number", default="", help="The incoming document number (required for eoffice and email).")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A document to store with the dossier (repeatable).")
@click.option("--sha256", "hashes", multiple=True, help="NAME=HEX of a document kept elsewhere (repeatable).")
@click.option("--by", "recorded_by", default="cli", show_default=True, help="Who records it.")
@click.option("--now", "now_text", help="The instant of recording (default: the clock).")
def record_command(campaign_code, unit_code, at_text, channel, doc_number, files, hashes, recorded_by, now_text):
    """Record a dossier received from a unit; prints status, receipt number, lateness."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    at = parse_instant(at_text, "--at")
    now = parse_instant(now_text) if now_text else max(at, utcnow())
    documents, written = [], []
    for item in hashes:
        name, _, digest = item.partition("=")
        if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest.lower()):
            fail(f"--sha256 {item!r}: use NAME=<64 hex digits>")
        documents.append(ops.DocumentInput(name.strip(), digest.lower()))
    folder = current_app.config["UPLOAD_FOLDER"]
    try:
        for path in files:
            stored = store_document(folder, Path(path).name, Path(path).read_bytes())
            written.append(stored.stored_name)
            documents.append(ops.DocumentInput(stored.original_name, stored.sha256, stored))
    except DocumentRefused as exc:
        remove_stored(folder, written)
        fail(exc.message_en)
    try:
        sub = ops.record_submission(campaign, unit, received_at=at, channel=channel, recorded_by=recorded_by, now=now,
                                    doc_number=doc_number, documents=documents)
        db.session.commit()
    except ops.OperationError as exc:
        remove_stored(folder, written)
        refused(exc)
    p = sub.participation
    late = f"\tlate {p.late_working_days} working day(s)" if p.late_working_days else ""
    click.echo(f"{unit.code}\t{p.status}\t{sub.receipt_number}\t{sub.received_at.astimezone(reads.tz_of(campaign)).isoformat()}{late}")


def tick_command_factory():
    @click.command("tick")
    @click.option("--now", "now_text", help="Run as of this instant (default: the clock).")
    def tick_command(now_text: str | None) -> None:
        """Run the time-driven work: campaign moves, exclusions, reminders."""
        now = parse_instant(now_text)
        summary = tick(now)
        click.echo(" ".join(f"{k}={v}" for k, v in summary.items()))

    return tick_command
