"""``flask campaign clone``: next year's campaign from this one (workflow/yearly.py).

Output (one tab-separated line each, documented in README "Next year's campaign"):
``date  WHAT  OLD  NEW  RULE``, then ``warning  WHAT  DAY  KIND  message``, ``abolished  UNIT``
for units that probably no longer exist, ``criteria  N sets  M criteria`` (copied), and last ``created  CODE  YEAR  DEADLINE  N units`` (or
``dry-run  …`` with ``--dry-run``).  A refused clone exits with status 1 and says why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from cli.campaign import campaign_cli, get_campaign, get_unit, parse_instant
from cli.workdays import fail, parse_date
from workflow import awards, letters, milestone_docs, yearly
from workflow import operations as ops
from workflow.db import db
from workflow.storage import DocumentRefused, store_document


def print_plan(plan: yearly.ClonePlan) -> None:
    for m in plan.moves:
        rule = f"{m.rule} {m.n}" + (f" {m.extra_days:+d}d" if m.extra_days else "")
        click.echo(f"date\t{m.what}\t{m.old.isoformat()}\t{m.new.isoformat()}\t{rule}")
    for w in plan.warnings:
        click.echo(f"warning\t{w.what}\t{w.day.isoformat()}\t{w.kind}\t{w.message_en}")
    for code in plan.abolished_units:
        left = "left out" if code in plan.left_out else "kept"
        click.echo(f"abolished\t{code}\t{left}")
    click.echo(f"criteria\t{plan.criteria_sets} sets\t{plan.criteria_count} criteria")


@campaign_cli.command("clone")
@click.argument("code", metavar="CODE")
@click.option("--code", "new_code", required=True, help="The new campaign's code.")
@click.option("--year", type=int, required=True, help="The new campaign's year.")
@click.option("--deadline", "deadline_text",
              help="The new deadline (default: the same day and month, moved to the next working day).")
@click.option("--leave-out", multiple=True, metavar="UNIT", help="A unit not to take into the new campaign.")
@click.option("--leave-out-abolished", is_flag=True,
              help="Leave out the units that no longer exist (district committees after 1 July 2025).")
@click.option("--dry-run", is_flag=True, help="Print the plan and warnings; save nothing.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def clone_command(code, new_code, year, deadline_text, leave_out, leave_out_abolished, dry_run, actor,
                  now_text) -> None:
    """A draft of next year's campaign: same units, groups, documents, rules, tiers, reminders; dates moved."""
    source, now = get_campaign(code), parse_instant(now_text)
    deadline = parse_date(deadline_text, "--deadline") if deadline_text else None
    try:
        plan = yearly.plan_clone(source, code=new_code, year=year, deadline=deadline, leave_out=list(leave_out),
                                 leave_out_abolished=leave_out_abolished)
        print_plan(plan)
        if dry_run:
            click.echo(f"dry-run\t{plan.code}\t{plan.year}\t{plan.deadline.isoformat()}\t{len(plan.spec.units)} units")
            return
        new = yearly.clone_campaign(plan, actor=actor, now=now)
        db.session.commit()
    except yearly.CloneRefused as exc:
        db.session.rollback()
        click.echo(f"Lỗi: {exc.message_vi}", err=True)
        click.echo(f"Error: {exc.message_en}", err=True)
        sys.exit(1)
    click.echo(f"created\t{new.code}\t{new.year}\t{new.deadline.isoformat()}\t{len(new.participations)} units")


# -- the award step (workflow/awards.py) -------------------------------------------------

awards_cli = AppGroup("awards", help="The award step: proposed units, award dossiers, reminders.")


def _refused(exc: ops.OperationError) -> None:
    db.session.rollback()
    click.echo(f"Lỗi: {exc.message_vi}", err=True)
    click.echo(f"Error: {exc.message_en}", err=True)
    sys.exit(1)


@awards_cli.command("propose")
@click.argument("code", metavar="CODE")
@click.option("--add", multiple=True, metavar="UNIT", help="A unit proposed by hand (needs --reason).")
@click.option("--remove", multiple=True, metavar="UNIT", help="A unit of the ranking not proposed (needs --reason).")
@click.option("--reason", default="", help="Why the list differs from the ranking; stays on record.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def propose_command(code, add, remove, reason, actor, now_text) -> None:
    """Mark the units proposed for an award (the ranking's best tier, changed by hand with a reason); notify each."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    try:
        rows = awards.propose(campaign, actor=actor, now=now, add=add, remove=remove, reason=reason)
        db.session.commit()
    except ops.OperationError as exc:
        _refused(exc)
    for p in rows:
        u = p.participation.unit
        click.echo(f"proposed\t{u.code}\t{u.group}\t{'ranking' if p.from_ranking else 'manual'}\t{p.dossier_status}")


@awards_cli.command("dossier")
@click.argument("code", metavar="CODE")
@click.argument("unit_code", metavar="UNIT")
@click.option("--channel", type=click.Choice(["upload", "eoffice", "email"]), required=True)
@click.option("--received-at", "received_text", help="When it was received (default: now).")
@click.option("--doc-number", default="", help="The incoming document number (e-office, e-mail).")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def dossier_command(code, unit_code, channel, received_text, doc_number, actor, now_text) -> None:
    """Record a unit's award dossier: on time, late within the grace, or refused after it."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    received = parse_instant(received_text, "--received-at") if received_text else now
    try:
        sub = awards.record_award_dossier(campaign, get_unit(campaign, unit_code), received_at=received,
                                          channel=channel, recorded_by=actor, now=now, doc_number=doc_number)
        db.session.commit()
    except ops.OperationError as exc:
        _refused(exc)
    status = "late" if sub.late_working_days else "on_time"
    click.echo(f"{sub.receipt_number}\t{status}\t{sub.late_working_days}")


@awards_cli.command("remind")
@click.argument("code", metavar="CODE")
@click.option("--now", "now_text")
def remind_command(code, now_text) -> None:
    """Queue today's reminders to proposed units without an award dossier (the tick does it too)."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    try:
        n = awards.queue_award_reminders(campaign, now)
        db.session.commit()
    except ops.OperationError as exc:
        _refused(exc)
    click.echo(f"queued\t{n}")


@campaign_cli.command("decision")
@click.argument("code", metavar="CODE")
@click.option("--number", required=True, help="e.g. 2950/QĐ-UBND")
@click.option("--date", "date_text", required=True)
@click.option("--signer", required=True, help="Title and name of the signer.")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False), help="The signed decision.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def decision_command(code, number, date_text, signer, file_path, actor, now_text) -> None:
    """Record the People's Committee decision approving the results."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    stored = None
    name = ""
    if file_path:
        name = Path(file_path).name
        try:
            stored = store_document(current_app.config["UPLOAD_FOLDER"], name, Path(file_path).read_bytes())
        except DocumentRefused as exc:
            fail(str(exc))
    try:
        d = awards.record_decision(campaign, awards.DecisionInput(number, parse_date(date_text, "--date"), signer,
                                                                  name, stored), actor=actor, now=now)
        db.session.commit()
    except ops.OperationError as exc:
        _refused(exc)
    click.echo(f"decision\t{d.number}\t{d.decided_on.isoformat()}\t{d.signer}\t{d.sha256 or '-'}")


@campaign_cli.command("publish")
@click.argument("code", metavar="CODE")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def publish_command(code, actor, now_text) -> None:
    """Approval received: publish the results (public page) and mail each unit its result."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    try:
        d = awards.publish(campaign, actor=actor, now=now)
        db.session.commit()
    except ops.OperationError as exc:
        _refused(exc)
    click.echo(f"published\t{campaign.code}\t{d.number}\t{len(d.published_results or [])} ranked units")


@campaign_cli.command("letter")
@click.argument("code", metavar="CODE")
@click.argument("kind", type=click.Choice(list(letters.KINDS)))
@click.option("--number", default="", help="Number and symbol, e.g. 1270/STTTT-CNTT&BCVT (empty: dots).")
@click.option("--date", "date_text", required=True, help="The letter's date.")
@click.option("--authority", default="", help="e.g. KT. GIÁM ĐỐC (empty when the head signs).")
@click.option("--title", "signer_title", required=True, help="e.g. GIÁM ĐỐC, PHÓ GIÁM ĐỐC")
@click.option("--signer", required=True, help="The signer's name.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False))
@click.option("--now", "now_text", help="As of this instant (who has sent, the results).")
def letter_command(code, kind, number, date_text, authority, signer_title, signer, output, now_text) -> None:
    """Write an official letter as DOCX (NĐ 30/2020 format): launch, reminder, exclusion or results."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    head = letters.LetterHead(number.strip(), parse_date(date_text, "--date"), authority.strip(),
                              signer_title.strip(), signer.strip())
    try:
        data = letters.build(campaign, kind, head, now)
    except letters.LetterRefused as exc:
        fail(str(exc))
    Path(output).write_bytes(data)
    click.echo(f"letter\t{kind}\t{output}\t{len(data)} bytes")


@campaign_cli.command("attach")
@click.argument("code", metavar="CODE")
@click.argument("kind", metavar="MILESTONE", type=click.Choice(list(milestone_docs.KINDS)))
@click.option("--number", required=True, help="The document's number and symbol.")
@click.option("--date", "date_text", help="Its date.")
@click.option("--issuer", default="", help="Who issued it.")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False), help="The signed file.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def attach_command(code, kind, number, date_text, issuer, file_path, actor, now_text) -> None:
    """Cite the document that set or moved a milestone (e.g. a generated letter, signed), with its file."""
    campaign, now = get_campaign(code), parse_instant(now_text)
    stored, name = None, ""
    if file_path:
        name = Path(file_path).name
        try:
            stored = store_document(current_app.config["UPLOAD_FOLDER"], name, Path(file_path).read_bytes())
        except DocumentRefused as exc:
            fail(str(exc))
    try:
        row = milestone_docs.attach(campaign, kind, milestone_docs.DocumentInput(
            number, parse_date(date_text, "--date") if date_text else None, issuer, name, stored),
            actor=actor, now=now)
        db.session.commit()
    except milestone_docs.DocumentRefused as exc:
        db.session.rollback()
        click.echo(f"Lỗi: {exc.message_vi}", err=True)
        sys.exit(1)
    click.echo(f"document\t{kind}\t{row.number}\t{row.issued_on or '-'}\t{row.sha256 or '-'}")
